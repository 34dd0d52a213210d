#!/usr/bin/env bash
# Hostile names never become code, checked by parsers that are not certsync's:
#  - tests/tools/hostile_scripts makes every script certsync sends (Windows
#    platform scripts, the WinRM/SSH PowerShell file scripts and the stdin
#    frame, the Linux batch, script bindings, the account check, the SSH
#    transport's helper commands and the become: sudo wrapper) with each
#    value of tests/parsers/hostile-values.json in every slot a config or a
#    host fills (quotes of all kinds, $(...), backticks, newlines, ;|&#, here-
#    string openers, ...);
#  - tests/parsers/check-powershell.mjs parses them and the golden files with
#    tree-sitter-powershell: no ERROR/MISSING node, the same syntax tree as
#    with a harmless value, each value one string literal decoding to it;
#  - tests/parsers/check-sh.mjs: bash -n, dash -n, quoted values come back
#    byte for byte from printf, and each script runs against stub commands
#    with the exact arguments and nothing injected run;
#  - a NUL, which no C string can carry, is refused by validate.
# The npm packages come from scripts/install-deps.sh (npm ci in tests/parsers).
# Minutes on a loaded machine (it parses and runs thousands of scripts):
# timeout: 900
# Not repeated by the sanitizer pass: its C part only prints scripts (the
# builders run under ASan in the unit tests and every integration test);
# the minutes go to the parsers and shells.
# sanitize: no
. "$(dirname "$0")/lib.sh"

root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
GEN=${HOSTILE_SCRIPTS:-$(dirname "$CERTSYNC")/tests/hostile_scripts}
parsers="$root/tests/parsers"

# tap_merge NAME CMD...: run a TAP-printing command, renumber its lines into
# ours; a non-zero exit without any "not ok" is one failure.
tap_merge() {
	local name=$1 line rc bad=0
	shift
	"$@" >"$TEST_TMP/tap" 2>"$TEST_TMP/tap.err"
	rc=$?
	while IFS= read -r line; do
		case $line in
		'ok '*) ok "${line#ok * - }" ;;
		'not ok '*)
			bad=1
			not_ok "${line#not ok * - }"
			;;
		'#   '*) echo "# ${line#'#   '}" ;;
		'# '*) echo "$line" ;;
		esac
	done <"$TEST_TMP/tap"
	if ((rc != 0 && bad == 0)); then
		not_ok "$name exited with status $rc" "$(tail -n 20 "$TEST_TMP/tap.err")"
	fi
}

if [[ ! -d $parsers/node_modules/web-tree-sitter || ! -d $parsers/node_modules/tree-sitter-powershell ]]; then
	not_ok "tests/parsers/node_modules is missing: run scripts/install-deps.sh (npm ci there)"
	done_testing
fi

out="$TEST_TMP/scripts"
mkdir -p "$out" "$TEST_TMP/sh-work"
if "$GEN" "$parsers/hostile-values.json" "$out" 2>"$TEST_TMP/gen.err"; then
	ok "hostile_scripts made $(find "$out" -name '*.ps1' | wc -l) PowerShell and $(find "$out" -name '*.sh' | wc -l) sh scripts"
else
	not_ok "hostile_scripts failed" "$(cat "$TEST_TMP/gen.err")"
	done_testing
fi

tap_merge check-powershell node "$parsers/check-powershell.mjs" "$out" \
	"$root/tests/golden/powershell" "$root/tests/golden/windows"
tap_merge check-sh node "$parsers/check-sh.mjs" "$out" "$TEST_TMP/sh-work"

# A NUL in a name: the config refuses it (the builders never see one).
cp -r "$root/examples/iis-exchange-isa" "$TEST_TMP/nul"
sed -i 's/site: Default Web Site/site: "Default\\0Web Site"/' "$TEST_TMP/nul/certsync.yaml"
if grep -q 'Default\\0Web' "$TEST_TMP/nul/certsync.yaml"; then
	expect_exit 1 "$CERTSYNC" validate -c "$TEST_TMP/nul/certsync.yaml"
	expect_contains "$OUT" '"site" .*contains a NUL character'
else
	not_ok "the example no longer has the site line this test edits"
fi

done_testing
