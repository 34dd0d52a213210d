// Checks every sh script certsync sends to Linux hosts, made with hostile
// values (hostile_scripts' output), with shells that are not certsync:
//
//  - every quoted value: `sh -c 'printf %s QUOTED'` prints the value back
//    byte for byte, under dash and under bash;
//  - every script: `bash -n` and `dash -n` accept it;
//  - every script runs (under dash or bash, in turn) with PATH holding only
//    stubs: each records its name and arguments, sudo runs `sh -c` the way
//    sudo would, stat says "no such file"; cat, mktemp, sh and touch are
//    the real ones.  The calls the manifest lists must be among the
//    recorded ones with exactly those arguments, the output must be the one
//    listed, the exit status 0, and the folder it ran in must stay empty
//    (a value like `$(touch pwned)` that ran would leave a file there).
//
//   node check-sh.mjs OUTDIR WORKDIR      (prints TAP)
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [outdir, work] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
const values = manifest.values;
// Absolute: the runs below have a PATH of stubs only.
const SHELLS = ['dash', 'bash'].map((name) => {
	const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
	if (r.status !== 0) {
		console.log(`Bail out! ${name} is not installed`);
		process.exit(1);
	}
	return r.stdout.trim();
});

let n = 0, failed = 0, scripts = 0, runs = 0, callsChecked = 0;
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
const show = (s) => JSON.stringify(s.length > 60 ? s.slice(0, 60) + '...' : s);

// ---- stubs ----
const stubs = join(work, 'stubs');
mkdirSync(stubs, { recursive: true });
const record = `{ printf '%s\\0' "$#" "\${0##*/}"; for a in "$@"; do printf '%s\\0' "$a"; done; } >>"$CS_HOSTILE_LOG"\n`;
const stubText = {
	sudo: `#!/bin/sh\n${record}[ "$1" = -n ] && shift\n[ "$1" = sh ] && exec "$@"\nexit 0\n`,
	stat: `#!/bin/sh\n${record}echo "stat: cannot statx: No such file or directory" >&2\nexit 1\n`,
};
for (const name of ['base64', 'chmod', 'chown', 'cut', 'getent', 'grep', 'id', 'install', 'mkdir', 'mv', 'rm', 'sync'])
	stubText[name] = `#!/bin/sh\n${record}exit 0\n`;
for (const [name, text] of Object.entries(stubText))
	writeFileSync(join(stubs, name), text, { mode: 0o755 });
for (const name of ['cat', 'mktemp', 'sh', 'touch']) {
	const real = ['/usr/bin/' + name, '/bin/' + name].find((p) => existsSync(p));
	if (!existsSync(join(stubs, name)))
		symlinkSync(real, join(stubs, name));
}

// The calls a log holds: N\0NAME\0ARG1\0...ARGN\0, one after another.
function parseLog(buf) {
	const parts = buf.toString('utf8').split('\0');
	const calls = [];
	let i = 0;
	while (i + 1 < parts.length) {
		const count = Number(parts[i]);
		calls.push({ name: parts[i + 1], args: parts.slice(i + 2, i + 2 + count) });
		i += 2 + count;
	}
	return calls;
}
const same = (a, b) => a.name === b.name && a.args.length === b.args.length && a.args.every((x, k) => x === b.args[k]);

// spawnSync's answer, without waiting: the scripts run a few at a time.
function run(cmd, args, opts = {}) {
	return new Promise((resolve) => {
		const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
		const out = [], err = [];
		let error = null;
		const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
		child.stdout.on('data', (d) => out.push(d));
		child.stderr.on('data', (d) => err.push(d));
		child.on('error', (e) => { error = e; });
		child.on('close', (status, signal) => {
			clearTimeout(timer);
			resolve({ status, signal, error, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
		});
		child.stdin.on('error', () => {});
		child.stdin.end(opts.input ?? '');
	});
}

// ---- quoting ----
// In an empty folder of its own with the stubs' PATH, like the runs below:
// were the quoting broken, what the value carries runs there, not here.
const qdir = join(work, 'quoted');
mkdirSync(qdir, { recursive: true });
for (const q of manifest.quoted) {
	const want = Buffer.from(values[q.value], 'utf8');
	const why = [];
	for (const shell of SHELLS) {
		const env = { PATH: stubs, CS_HOSTILE_LOG: join(work, 'quoted.log'), HOME: qdir, LC_ALL: 'C' };
		const r = spawnSync(shell, ['-c', 'printf %s ' + q.quoted], { cwd: qdir, env, timeout: 20000 });
		if (r.status !== 0 || !r.stdout.equals(want))
			why.push(`${shell}: printf %s ${show(q.quoted)} printed ${show(r.stdout.toString('utf8'))} (exit ${r.status})`);
		const left = readdirSync(qdir);
		if (left.length) {
			why.push(`${shell}: a command the value carried ran: it left ${JSON.stringify(left)}`);
			for (const f of left)
				rmSync(join(qdir, f), { recursive: true, force: true });
		}
	}
	report(why.length === 0, `cs_sh_quote: value ${q.value} ${show(values[q.value])} comes back byte for byte`, why.join('\n'));
}

// ---- scripts ----
async function check(e, k) {
	const file = join(outdir, e.file);
	const why = [];
	for (const shell of SHELLS) {
		const r = await run(shell, ['-n', file]);
		if (r.status !== 0 || r.stderr.length)
			why.push(`${shell} -n: exit ${r.status}: ${r.stderr.toString('utf8').trim()}`);
	}
	// One run per script, under dash and bash in turn: every builder
	// meets every kind of value under one of them, at half the processes.
	const shell = SHELLS[k % 2];
	runs++;
	const dir = join(work, `run-${k}`);
	const cwd = join(dir, 'cwd'), tmp = join(dir, 'tmp'), log = join(dir, 'log');
	mkdirSync(cwd, { recursive: true });
	mkdirSync(tmp);
	writeFileSync(log, '');
	const env = { PATH: stubs, CS_HOSTILE_LOG: log, TMPDIR: tmp, HOME: tmp, LC_ALL: 'C' };
	const r = e.run === 'stdin'
		? await run(shell, ['-s'], { cwd, env, input: readFileSync(file) })
		: await run(shell, [file], { cwd, env });
	if (r.error)
		return [...why, `${shell}: ${r.error.message}`];
	if (r.status !== 0)
		why.push(`${shell}: exit ${r.status}${r.signal ? ' ' + r.signal : ''}: ${r.stderr.toString('utf8').trim().slice(0, 300)}`);
	if (e.stdout !== undefined && r.stdout.toString('utf8') !== e.stdout)
		why.push(`${shell}: printed ${show(r.stdout.toString('utf8'))}, want ${show(e.stdout)}`);
	const left = readdirSync(cwd);
	if (left.length)
		why.push(`${shell}: a command the value carried ran: it left ${JSON.stringify(left)}`);
	const calls = parseLog(readFileSync(log));
	for (const want of e.calls ?? []) {
		callsChecked++;
		if (!calls.some((c) => same(c, want)))
			why.push(`${shell}: no call ${want.name} ${JSON.stringify(want.args).slice(0, 200)}; ` +
				`calls were ${JSON.stringify(calls).slice(0, 400)}`);
	}
	rmSync(dir, { recursive: true, force: true });
	return why;
}

const jobs = manifest.scripts.filter((e) => e.lang === 'sh');
const results = new Array(jobs.length);
let next = 0;
async function worker() {
	while (next < jobs.length) {
		const i = next++;
		results[i] = jobs[i].builder.endsWith('_arg_name') ? null : await check(jobs[i], i);
	}
}
await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, worker));
jobs.forEach((e, i) => {
	const label = `value ${e.value} ${show(values[e.value] ?? '')}`;
	if (results[i] === null) {
		report(e.refused === true, `${e.builder}: ${label} refused as an argument name`, 'the builder took it');
		return;
	}
	scripts++;
	report(results[i].length === 0, `${e.file}: ${e.builder}, ${label}`, results[i].join('\n'));
});

console.log(`# sh: ${scripts} scripts checked with bash -n and dash -n and run (dash or bash) ${runs} times, ` +
	`${manifest.quoted.length} quoted values, ${callsChecked} calls checked`);
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
