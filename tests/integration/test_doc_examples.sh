#!/usr/bin/env bash
# The config examples in the documentation validate as written.
#
# Convention: a ```yaml block that is a complete config is preceded by a line
# `<!-- validate -->` (invisible when the Markdown is rendered).  Every such
# block in README.md and docs/*.md is saved as certsync.yaml in a folder of
# its own, next to what a user would create for it (the local files it names
# — scripts, hooks, CA files, secret files — as dummies, and its {env: ...}
# variables), and `certsync validate` must accept it.  A ```yaml block that
# starts with `version:` without the marker fails too, so a new complete
# example cannot slip past unchecked; README.md and docs/config.md must keep
# at least one marked block.  The runnable configs under examples/ are
# validated in place.
. "$(dirname "$0")/lib.sh"

root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}

# extract FILE OUTDIR: write each marked block to OUTDIR/N/certsync.yaml and
# its first line number to OUTDIR/N/line; report misuse on stderr, exit 1.
extract() {
	awk -v out="$2" '
		function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1 }
		inblock && /^```/ { inblock = 0; if (cur != "") close(cur); cur = ""; next }
		inblock {
			if (!seen && $0 !~ /^[[:space:]]*(#.*)?$/) {
				seen = 1
				if (isyaml && !blockmarked && $0 ~ /^version:/)
					fail("a complete config (version: ...) without <!-- validate --> before it")
			}
			if (cur != "") print > cur
			next
		}
		/^```/ {
			inblock = 1; seen = 0; cur = ""
			isyaml = $0 ~ /^```yaml/; blockmarked = marked
			if (marked && $0 !~ /^```yaml[[:space:]]*$/)
				fail("<!-- validate --> must be followed by a ```yaml block")
			if ($0 ~ /^```yaml/ && marked) {
				n++
				dir = out "/" n
				system("mkdir -p \"" dir "\"")
				print FNR + 1 > (dir "/line"); close(dir "/line")
				cur = dir "/certsync.yaml"
				printf "" > cur
			}
			marked = 0
			next
		}
		/^<!-- validate -->[[:space:]]*$/ {
			if (marked) fail("two <!-- validate --> markers in a row")
			marked = 1; next
		}
		marked && !/^[[:space:]]*$/ { fail("<!-- validate --> must be followed by a ```yaml block"); marked = 0 }
		END { if (inblock) fail("unterminated code block"); exit bad }
	' "$1"
}

# prepare DIR: create the local files the config in DIR names (relative
# paths of script, hook, CA and secret files, trust bundles, identities) and
# export its {env: NAME} variables, the way a user would before running it.
prepare() {
	local dir=$1 p name
	while read -r p; do
		[[ -z $p || $p == /* || $p == '~'* || $p == *://* ]] && continue
		mkdir -p "$dir/$(dirname "$p")"
		[[ -e $dir/$p ]] || (umask 077 && printf '#!/bin/sh\n' >"$dir/$p")
		chmod 700 "$dir/$p"
	done < <(sed 's/#.*//' "$dir/certsync.yaml" |
		grep -oE '(^|[{, ])(path|hook|file|cert|ca_bundle|identity): *[^,}[:space:]]+' |
		sed -E 's/^[{, ]?[a-z_]+: *//; s/^["'\'']//; s/["'\'']$//' | sort -u)
	while read -r name; do
		[[ -n $name ]] && export "$name=doc-example-secret"
	done < <(grep -oE 'env: *[A-Za-z_][A-Za-z0-9_]*' "$dir/certsync.yaml" | sed -E 's/env: *//' | sort -u)
}

docs=("$root/README.md" "$root"/docs/*.md)
for doc in "${docs[@]}"; do
	rel=${doc#"$root"/}
	out="$TEST_TMP/${rel//\//_}"
	mkdir -p "$out"
	if err=$(extract "$doc" "$out" 2>&1); then
		ok "$rel: markers and complete configs"
	else
		not_ok "$rel: markers and complete configs" "$err"
	fi
	count=0
	for d in "$out"/*/; do
		[[ -f $d/certsync.yaml ]] || continue
		count=$((count + 1))
		line=$(cat "$d/line")
		(
			prepare "$d"
			cd "$d" && "$CERTSYNC" validate -c certsync.yaml
		) >"$d/out" 2>&1
		rc=$?
		if ((rc == 0)) && grep -q 'certsync.yaml: valid' "$d/out"; then
			ok "$rel:$line validates"
		else
			# certsync.yaml:L:C: ... → README.md:LINE:C: ..., a line of the document
			not_ok "$rel:$line validates" "exit $rc" "$(awk -v rel="$rel" -v first="$line" '
				match($0, /^certsync\.yaml:[0-9]+:/) {
					split($0, f, ":"); $0 = rel ":" (first + f[2] - 1) substr($0, RLENGTH)
				} { print }' "$d/out")"
		fi
	done
	case $rel in
	README.md | docs/config.md)
		((count > 0)) && ok "$rel has marked examples ($count)" || not_ok "$rel has marked examples" "no <!-- validate --> block found"
		;;
	esac
done

for ex in "$root"/examples/*/certsync.yaml; do
	expect_exit 0 "$CERTSYNC" validate -c "$ex"
done

# The design's config sketch (the contract) as written, with the files it
# names made up.
mkdir -p "$TEST_TMP/design/pki"
cp "$root/tests/fixtures/design-sketch/certsync.yaml" "$TEST_TMP/design/"
touch "$TEST_TMP/design/tmg-listener.ps1" "$TEST_TMP/design/pki/acme-server-ca.pem" "$TEST_TMP/design/pki/corp-root.pem"
expect_exit 0 "$CERTSYNC" validate -c "$TEST_TMP/design/certsync.yaml"

done_testing
