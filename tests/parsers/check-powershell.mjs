// Parses every PowerShell script certsync sends with an independent parser
// (tree-sitter-powershell, its wasm build under web-tree-sitter) and prints
// TAP.  Used by tests/integration/test_hostile_scripts.sh.
//
//   node check-powershell.mjs OUTDIR GOLDEN_DIR...
//
// OUTDIR holds hostile_scripts' output (manifest.json and the scripts).
// Each golden file and each script must parse with no ERROR or MISSING
// node.  A script made with a hostile value must also have the same syntax
// tree as the one made with a harmless value (the value changed no code),
// and each literal the manifest lists must be there as exactly one string
// literal whose decoded value is the listed one.
//
// tree-sitter-powershell ends a '...' literal only at the ASCII quote;
// PowerShell's tokenizer also at U+2018, U+2019, U+201A and U+201B (and
// takes a pair of any two of them for one).  So every verbatim literal's
// body is decoded here the way PowerShell does, and a quote character in it
// that is not part of a pair fails the check: PowerShell would end the
// string there, and the rest would be code.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Parser, Language } from 'web-tree-sitter';

const require = createRequire(import.meta.url);
const SINGLE_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201a', '\u201b']);
const LITERALS = new Set(['verbatim_string_characters', 'verbatim_here_string_characters',
	'expandable_string_literal', 'expandable_here_string_literal']);

await Parser.init();
const language = await Language.load(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
const parser = new Parser();
parser.setLanguage(language);

let n = 0, failed = 0, parsed = 0, literalsChecked = 0;
function report(ok, name, why) {
	n++;
	if (ok) {
		console.log(`ok ${n} - ${name}`);
	} else {
		failed++;
		console.log(`not ok ${n} - ${name}`);
		for (const line of String(why).split('\n'))
			console.log(`#   ${line}`);
	}
}

// A verbatim literal's value as PowerShell reads it, or an error.
function decodeVerbatim(text) {
	const chars = [...text];
	if (chars.length < 2 || chars[0] !== "'" || chars[chars.length - 1] !== "'")
		return { error: `not a '...' literal: ${JSON.stringify(text)}` };
	let out = '';
	for (let i = 1; i < chars.length - 1; i++) {
		const c = chars[i];
		if (SINGLE_QUOTES.has(c)) {
			if (i + 1 < chars.length - 1 && SINGLE_QUOTES.has(chars[i + 1])) {
				out += chars[i + 1];
				i++;
				continue;
			}
			return { error: `unpaired quote U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')} ` +
				`at character ${i}: PowerShell ends the string there` };
		}
		out += c;
	}
	return { value: out };
}

// Parse; the errors, the shape (node types only) and the literals.
function analyse(text) {
	parsed++;
	const tree = parser.parse(text);
	const errors = [];
	const literals = [];
	const walk = (node) => {
		if (node.isError || node.type === 'ERROR')
			errors.push(`ERROR at ${node.startPosition.row + 1}:${node.startPosition.column + 1}: ` +
				JSON.stringify(node.text.slice(0, 80)));
		else if (node.isMissing)
			errors.push(`MISSING ${node.type} at ${node.startPosition.row + 1}:${node.startPosition.column + 1}`);
		if (LITERALS.has(node.type))
			literals.push(node);
		for (let i = 0; i < node.childCount; i++)
			walk(node.child(i));
	};
	walk(tree.rootNode);
	const shape = tree.rootNode.toString();
	const decoded = [];
	for (const node of literals) {
		if (node.type !== 'verbatim_string_characters') {
			decoded.push({ type: node.type, raw: node.text });
			continue;
		}
		const d = decodeVerbatim(node.text);
		if (d.error)
			errors.push(`literal at ${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${d.error}`);
		else
			decoded.push({ type: node.type, value: d.value });
	}
	tree.delete();
	return { errors, shape, decoded };
}

function count(decoded, value) {
	return decoded.filter((d) => d.value === value).length;
}

function show(s) {
	return JSON.stringify(s.length > 60 ? s.slice(0, 60) + '...' : s);
}

const outdir = process.argv[2];
const goldenDirs = process.argv.slice(3);

for (const dir of goldenDirs) {
	for (const f of readdirSync(dir).filter((x) => x.endsWith('.ps1')).sort()) {
		const a = analyse(readFileSync(join(dir, f), 'utf8'));
		report(a.errors.length === 0, `golden ${dir.split('/').slice(-1)[0]}/${f} parses`, a.errors.join('\n'));
	}
}

const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
const values = manifest.values;
const cache = new Map();
const load = (file) => {
	if (!cache.has(file))
		cache.set(file, analyse(readFileSync(join(outdir, file), 'utf8')));
	return cache.get(file);
};
const hostile = new Set();

for (const e of manifest.scripts) {
	if (e.lang !== 'powershell')
		continue;
	const label = e.value < 0 ? 'harmless value' : `value ${e.value} ${show(values[e.value])}`;
	if (e.builder.endsWith('_arg_name')) {
		report(e.refused === true, `${e.builder}: ${label} refused as an argument name`, 'the builder took it');
		continue;
	}
	if (e.value >= 0)
		hostile.add(e.value);
	const a = load(e.file);
	const why = [...a.errors];
	if (e.baseline) {
		const b = load(e.baseline);
		if (b.shape !== a.shape)
			why.push(`syntax tree differs from ${e.baseline} (made with a harmless value)`);
		for (const want of new Set(e.literals)) {
			literalsChecked++;
			const expected = e.literals.filter((x) => x === want).length + count(b.decoded, want);
			const got = count(a.decoded, want);
			if (got !== expected)
				why.push(`literal ${show(want)}: ${got} string literals decode to it, want ${expected}`);
		}
		if (e.builder === 'ps_frame' && why.length === 0) {
			// The script inside the frame, decoded as powershell.exe does.
			const inner = Buffer.from(e.literals[0], 'base64').toString('utf8');
			const i = analyse(inner);
			why.push(...i.errors.map((x) => `framed script: ${x}`));
			if (count(i.decoded, values[e.value]) !== 1)
				why.push('framed script: the value is not one string literal');
		}
	}
	report(why.length === 0, `${e.file}: ${e.builder}, ${label}`, why.join('\n'));
}

console.log(`# powershell: ${parsed} scripts parsed, ${hostile.size} hostile values, ${literalsChecked} literals checked`);
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
