#!/usr/bin/env bash
# plan --format: text is the default rendering, json is --json byte for
# byte, markdown is deterministic and escapes what comes from the config
# (a path or command cannot become HTML, a table cell, a mention or an
# issue link); with -o the Markdown stays alone on stdout; a wrong or
# contradictory --format is refused before anything is observed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
export NO_COLOR=1
unset CERTSYNC_CONFIG

site=$TEST_TMP/site
make_ca "$site" lab
# A reload command and a file name full of Markdown and HTML.
local_config "$site" '{ ca: { cert: pki/lab.crt, key: { file: pki/lab.key }, days: 90 } }' \
	"echo '<img src=x onerror=alert(1)> @admins #12 | tee \`id\` *bold* [l](u)' >> out/reload.log"
sed -i 's%cert: out/web.crt%cert: "out/a|b<i>_c_@d#5`e`.crt"%' "$site/certsync.yaml"
cd "$site" || exit 1
expect_exit 0 "$CERTSYNC" validate

# has_text TEXT LITERAL: TEXT contains LITERAL as written (no pattern).
has_text() {
	grep -qF -- "$2" <<<"$1" && ok "contains: $2" || not_ok "contains: $2" "in:" "$1"
}

expect_exit 0 "$CERTSYNC" plan
text=$OUT
expect_exit 0 "$CERTSYNC" plan --format text
[[ $OUT == "$text" ]] && ok "--format text is the default plan" || not_ok "--format text is the default plan"
expect_exit 0 "$CERTSYNC" plan --json
json=$OUT
expect_exit 0 "$CERTSYNC" plan --format json
[[ $OUT == "$json" ]] && ok "--format json is --json" || not_ok "--format json is --json"
expect_exit 0 "$CERTSYNC" plan --json --format json

expect_exit 0 "$CERTSYNC" plan --format markdown
md=$OUT
expect_exit 0 "$CERTSYNC" plan --format markdown
[[ $OUT == "$md" ]] && ok "markdown: the same plan gives the same bytes" || not_ok "markdown: the same plan gives the same bytes"
expect_contains "$md" '^<!-- certsync plan -->$'
expect_contains "$md" '^\*\*3 actions\*\*: 1 to renew, 1 to bind, 1 to reload, 0 to verify\.$'
expect_contains "$md" '^| count | 1 | 0 | 1 | 1 | 0 | 0 | 3 | 0 |$'
expect_contains "$md" '^| here | 0 | 1 | 1 | 0 | 0 | 2 |$'
expect_contains "$md" '^#### \\#3 reload$'
expect_contains "$md" '^because files changed by \\#2 \(web\)$'
expect_contains "$md" '^<details><summary>details</summary>$'
expect_contains "$md" '^- after \\#1: renew web: new ecdsa p256 key'
expect_contains "$md" '^- then \\#3: reload on here'
# Escaped: no raw tag, backtick, pipe, mention or issue reference from the config.
has_text "$md" "echo '&lt;img src=x onerror=alert(1)&gt; \\@admins \\#12 \\| tee \\\`id\\\` \\*bold\\* \\[l\\](u)' &gt;&gt; out/reload.log"
has_text "$md" '/out/a\|b&lt;i&gt;\_c\_\@d\#5\`e\`.crt</code>'
bad=$(grep -n -e '<img' -e '<i>' -e '[^\\]@admins' -e '[^\\]#12' -e '[^\\]`id' <<<"$md")
[[ -z $bad ]] && ok "markdown: nothing from the config unescaped" || not_ok "markdown: nothing from the config unescaped" "$bad"
# Every table row has as many cells as its header.
rows=$(awk -F'|' '/^\|/ { print NF }' <<<"$md" | sort -nu | tr '\n' ' ')
[[ $rows == "9 11 " ]] && ok "markdown: table rows keep their cells" || not_ok "markdown: table rows keep their cells" "$rows"

# -o: the Markdown alone on stdout, the note on stderr; the saved plan applies.
"$CERTSYNC" plan -o plan.bin --format markdown >md.out 2>md.err
[[ $(cat md.out) == "$md" ]] && ok "-o: stdout is the Markdown plan only" || not_ok "-o: stdout is the Markdown plan only" "$(diff md.out <(printf '%s\n' "$md"))"
expect_contains "$(cat md.err)" '^Saved the plan to plan.bin'
expect_exit 0 "$CERTSYNC" apply plan.bin --yes
expect_exit 0 "$CERTSYNC" plan --format markdown
expect_contains "$OUT" '^\*\*No changes\.\*\* Everything selected is as declared\.$'
[[ $OUT != *'| count |'* ]] && ok "markdown: no table when nothing changes" || not_ok "markdown: no table when nothing changes"
expect_exit 0 "$CERTSYNC" plan --format markdown --target host=here
expect_contains "$OUT" '^Selected with --target: host=here$'

# Refused before observing anything.
expect_exit 1 "$CERTSYNC" plan --format yaml
expect_contains "$OUT" '^certsync: --format yaml: expected text, json or markdown$'
expect_exit 1 "$CERTSYNC" plan --json --format markdown
expect_contains "$OUT" '^certsync: --json and --format markdown contradict each other'
expect_exit 1 "$CERTSYNC" plan --format

# Completion offers the formats after --format (bash; zsh lists the same
# words in completions/_certsync).
got=$(bash -c '
	. "$1"
	COMP_WORDS=(certsync plan --format ""); COMP_CWORD=3
	_certsync
	printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "${CERTSYNC_SOURCE_ROOT:-$_lib_root}/completions/certsync.bash")
[[ $got == "json markdown text " ]] && ok "bash completes the values of plan --format" ||
	not_ok "bash completes the values of plan --format" "$got"
grep -q "'(--json)--format\[print the plan as\]:format:(text json markdown)'" \
	"${CERTSYNC_SOURCE_ROOT:-$_lib_root}/completions/_certsync" && ok "zsh knows the values of plan --format" ||
	not_ok "zsh knows the values of plan --format"
done_testing
