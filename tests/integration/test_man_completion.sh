#!/usr/bin/env bash
# Man pages and shell completions agree with the program: every command and
# usage line of `certsync help` is in certsync(1) as written, every flag of a
# usage line is completed by bash and zsh, and both shells complete the host
# and certificate names of the config for --target.
. "$(dirname "$0")/lib.sh"

root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
build=$(dirname "$CERTSYNC")
man1=$root/docs/man/certsync.1.scd
bash_comp=$root/completions/certsync.bash
zsh_dir=$root/completions

# --- man pages ---------------------------------------------------------------
for page in certsync.1 certsync.yaml.5; do
	if [[ -s $build/$page ]] && grep -q '^\.TH' "$build/$page"; then
		ok "meson built $page"
	else
		not_ok "meson built $page" "missing or not a man page: $build/$page"
	fi
done

commands=$("$CERTSYNC" help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}')
[[ -n $commands ]] && ok "help lists commands" || not_ok "help lists commands"
for cmd in $commands; do
	[[ $cmd == help || $cmd == version ]] && continue
	usage=$("$CERTSYNC" help "$cmd" | sed -n 's/^usage: certsync [a-z]* //p')
	if grep -qxF "*$cmd* $usage" "$man1"; then
		ok "certsync(1) has \`$cmd $usage\`"
	else
		not_ok "certsync(1) has \`$cmd $usage\`" "$(grep -n "^\*$cmd\*" "$man1")"
	fi
done
# ... and the man page documents no command that does not exist.
for cmd in $(sed -n '/^# COMMANDS/,/^# OPTIONS/ s/^\*\([a-z]*\)\*.*/\1/p' "$man1" | sort -u); do
	if grep -qx "$cmd" <<<"$commands"$'\nhelp\nversion'; then
		ok "certsync(1) command $cmd exists"
	else
		not_ok "certsync(1) command $cmd exists"
	fi
done
# The exit statuses the program uses are documented.
for code in 0 1 2 3; do
	grep -qx "\*$code\*" "$man1" && ok "certsync(1) documents exit $code" || not_ok "certsync(1) documents exit $code"
done

# --- a config to complete from ---------------------------------------------------
cd "$TEST_TMP" || exit 1
cat >site.yaml <<'YAML'
version: 1
issuers:
  lab:
    ca: { cert: pki/ca.crt, key: { file: pki/ca.key } }
hosts:
  web1: { platform: linux, local: {} }
  mail-2: { platform: linux, local: {} }
certificates:
  www:
    common_name: www.example.org
    issuer: lab
    bindings:
      - { host: web1, files: { cert: out/www.crt } }
YAML
expect_exit 0 "$CERTSYNC" validate -c site.yaml --list-targets
[[ $OUT == $'host=web1\nhost=mail-2\ncert=www' ]] && ok "--list-targets lists hosts then certificates" ||
	not_ok "--list-targets lists hosts then certificates" "$OUT"

# --- bash ------------------------------------------------------------------------
bin_dir=$TEST_TMP/bin
mkdir -p "$bin_dir" && ln -sf "$CERTSYNC" "$bin_dir/certsync"

# bash_complete WORD...: the candidates bash offers for the last word.
bash_complete() {
	PATH=$bin_dir:$PATH bash -c '
		shopt -s extglob
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_certsync
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$bash_comp" "$@"
}
got=$(bash_complete certsync pl)
[[ $got == plan ]] && ok "bash: pl → plan" || not_ok "bash: pl → plan" "$got"
got=$(bash_complete certsync plan -c site.yaml --target "")
[[ $got == $'cert=www\nhost=mail-2\nhost=web1' ]] && ok "bash: --target from -c site.yaml" ||
	not_ok "bash: --target from -c site.yaml" "$got"
got=$(CERTSYNC_CONFIG=site.yaml bash_complete certsync apply --target h)
[[ $got == $'host=mail-2\nhost=web1' ]] && ok "bash: --target h from \$CERTSYNC_CONFIG" ||
	not_ok "bash: --target h from \$CERTSYNC_CONFIG" "$got"
got=$(bash_complete certsync calendar --config=site.yaml --target "")
[[ $got == cert=www ]] && ok "bash: calendar targets certificates only" || not_ok "bash: calendar targets certificates only" "$got"
got=$(bash_complete certsync plan --det)
[[ $got == --detailed-exitcode ]] && ok "bash: plan --det" || not_ok "bash: plan --det" "$got"
# Every flag of every usage line is offered after "-".
for cmd in $commands; do
	[[ $cmd == help || $cmd == version ]] && continue
	usage=$("$CERTSYNC" help "$cmd" | sed -n 's/^usage: certsync [a-z]* //p')
	offered=$(bash_complete certsync "$cmd" -)
	for flag in $(grep -oE -- '--?[a-z][a-z-]*' <<<"$usage" | sort -u); do
		grep -qx -- "$flag" <<<"$offered" && ok "bash completes $cmd $flag" ||
			not_ok "bash completes $cmd $flag" "$offered"
	done
done
got=$(bash_complete certsync plan -c missing.yaml --target "")
[[ -z $got ]] && ok "bash: an unreadable config offers nothing, quietly" || not_ok "bash: an unreadable config offers nothing" "$got"

# --- zsh, typed into a real interactive shell -------------------------------------
zsh_complete() {
	COMPDIR=$zsh_dir WORKDIR=$TEST_TMP LINE=$1 PATH=$bin_dir:$PATH \
		timeout 30 zsh -f "$root/tests/tools/zsh_complete.zsh" 2>&1 | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'
}
if ! command -v zsh >/dev/null; then
	not_ok "zsh is installed (scripts/install-deps.sh)"
else
	for cmd in $commands; do
		[[ $cmd == help || $cmd == version ]] && continue
		usage=$("$CERTSYNC" help "$cmd" | sed -n 's/^usage: certsync [a-z]* //p')
		screen=$(zsh_complete "certsync $cmd -")
		for flag in $(grep -oE -- '--?[a-z][a-z-]*' <<<"$usage" | sort -u); do
			grep -qE -- "(^|[ ])$flag( |$)" <<<"$screen" && ok "zsh completes $cmd $flag" ||
				not_ok "zsh completes $cmd $flag" "$screen"
		done
	done
	screen=$(zsh_complete "certsync pl")
	grep -q 'certsync plan ' <<<"$screen" && ok "zsh: pl → plan" || not_ok "zsh: pl → plan" "$screen"
	screen=$(zsh_complete "certsync plan -c site.yaml --target ")
	grep -q 'cert=www' <<<"$screen" && grep -q 'host=web1' <<<"$screen" && grep -q 'host=mail-2' <<<"$screen" &&
		ok "zsh: --target lists the config's names" || not_ok "zsh: --target lists the config's names" "$screen"
	screen=$(zsh_complete "certsync calendar -c site.yaml --target ")
	grep -q 'certsync calendar -c site.yaml --target cert=www' <<<"$screen" &&
		ok "zsh: calendar --target completes the only certificate" ||
		not_ok "zsh: calendar --target completes the only certificate" "$screen"
fi

done_testing
