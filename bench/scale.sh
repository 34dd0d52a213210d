#!/usr/bin/env bash
# bench/scale.sh — what an estate of N certificates costs: one local ECDSA
# CA, N certificates spread over 10 `local` hosts, one `files` binding each
# (certificate and key), all in a temporary folder.  Per size it runs, in
# order:
#
#   validate, plan (first: nothing issued yet), apply --yes,
#   plan --detailed-exitcode (all in sync), status, metrics, plan --json
#
# and prints wall, CPU (user+sys) and peak RSS per step, the median of RUNS
# (each run starts from an empty state folder), then the growth from each
# size to the next.
#
#   bench/scale.sh [--runs R] [--keep DIR] N...     (e.g. 1000 10000 100000)
#   bench/scale.sh --tiny [--keep DIR]               (N=20, one run: the smoke test)
#   bench/scale.sh --validate-only N...              (validate alone, e.g. for 100000)
#   bench/scale.sh --hosts H N...                    (the many-hosts variant: H hosts, e.g. 1000)
#
# CERTSYNC_BIN picks the binary (default build-release/certsync, built with
# `meson setup build-release --buildtype=release` when missing).  A step that
# fails, or an in-sync plan that does not say "No changes", stops the script
# with exit 1 and the step's output.  --keep DIR leaves each size's folder
# (config, state, outputs of the last run's steps as STEP.out) under DIR,
# and the CA in DIR/pki.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=3
hosts=10
keep=
validate_only=0
sizes=()
while (($#)); do
	case $1 in
	--tiny) sizes+=(20); runs=1 ;;
	--runs) runs=$2; shift ;;
	--keep) keep=$2; shift ;;
	--validate-only) validate_only=1 ;;
	--hosts)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "bench: --hosts wants a positive number, not ${2:-nothing}" >&2; exit 1; }
		hosts=$2
		shift
		;;
	-h | --help) sed -n '2,23p' "$0"; exit 0 ;;
	*[!0-9]* | '') echo "bench: not a size: $1" >&2; exit 1 ;;
	*) sizes+=("$1") ;;
	esac
	shift
done
((${#sizes[@]})) || { echo "usage: bench/scale.sh [--runs R] [--keep DIR] N... | --tiny" >&2; exit 1; }

if [[ -z ${CERTSYNC_BIN:-} ]]; then
	CERTSYNC_BIN=$root/build-release/certsync
	if [[ ! -x $CERTSYNC_BIN ]]; then
		(cd "$root" && { [[ -f build-release/build.ninja ]] ||
			meson setup build-release --buildtype=release >/dev/null; } &&
			ninja -C build-release >&2) || exit 1
	fi
fi
command -v /usr/bin/time >/dev/null || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/certsync-scale.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Hosts worked on at once: all of them, up to the default of 32.
parallelism=$((hosts < 32 ? hosts : 32))

# The CA, shared by every size and run; with --keep it is kept too (in
# DIR/pki), so that certsync can be run again in a kept folder.
pki=$work/pki
if [[ -n $keep ]]; then
	mkdir -p "$keep" && pki=$(cd "$keep" && pwd)/pki || exit 1
fi
mkdir -p "$pki"
(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=certsync scale CA" \
	-days 3650 2>/dev/null) || { echo "bench: openssl cannot make the CA" >&2; exit 1; }

# gen N DIR: the config for N certificates in DIR/certsync.yaml.
gen() {
	local n=$1 dir=$2
	mkdir -p "$dir"
	{
		printf 'version: 1\n\nsettings:\n  state_dir: state\n  parallelism: %d\n\n' "$parallelism"
		printf 'issuers:\n  ca:\n    ca:\n      cert: %s\n      key: { file: %s }\n      days: 90\n\n' \
			"$pki/ca.crt" "$pki/ca.key"
		printf 'hosts:\n'
		for ((h = 0; h < hosts; h++)); do
			printf '  h%d:\n    platform: linux\n    local: {}\n' "$h"
		done
		printf '\ncertificates:\n'
		awk -v n="$n" -v hosts="$hosts" 'BEGIN {
			for (i = 0; i < n; i++) {
				h = i % hosts
				printf "  c%d:\n    common_name: c%d.scale.test\n    key: { type: ecdsa, curve: p256 }\n", i, i
				printf "    issuer: ca\n    bindings:\n      - host: h%d\n        files:\n", h
				printf "          cert: out/h%d/c%d.crt\n          key: out/h%d/c%d.key\n", h, i, h, i
			}
		}'
	} >"$dir/certsync.yaml"
	for ((h = 0; h < hosts; h++)); do mkdir -p "$dir/out/h$h"; done
}

# step DIR NAME EXPECTED_EXIT ARGS...: one timed run of certsync ARGS in DIR;
# appends "wall cpu rss_mb" to $work/res.N.NAME.
step() {
	local dir=$1 name=$2 want=$3
	shift 3
	(cd "$dir" && /usr/bin/time -f '%e %U %S %M' -o "$dir/$name.time" \
		"$CERTSYNC_BIN" "$@" -c certsync.yaml >"$dir/$name.out" 2>&1)
	local rc=$?
	if [[ $rc != "$want" ]]; then
		echo "bench: N=$n run $r: $name (certsync $*) exited $rc, expected $want:" >&2
		tail -20 "$dir/$name.out" >&2
		exit 1
	fi
	# time(1) puts "Command exited with non-zero status N" first when so
	tail -1 "$dir/$name.time" | awk '{ printf "%s %.2f %.1f\n", $1, $2 + $3, $4 / 1024 }' >>"$work/res.$n.$name"
}

steps=(validate plan-first apply plan-insync status metrics plan-json)
((validate_only)) && steps=(validate)
for n in "${sizes[@]}"; do
	for ((r = 1; r <= runs; r++)); do
		dir=$work/n$n
		rm -rf "$dir"
		gen "$n" "$dir"
		echo "bench: N=$n run $r/$runs" >&2
		step "$dir" validate 0 validate
		((validate_only)) && continue
		step "$dir" plan-first 2 plan --detailed-exitcode
		step "$dir" apply 0 apply --yes
		step "$dir" plan-insync 0 plan --detailed-exitcode
		grep -q 'No changes' "$dir/plan-insync.out" || {
			echo "bench: N=$n: the plan after apply does not say \"No changes\":" >&2
			tail -20 "$dir/plan-insync.out" >&2
			exit 1
		}
		step "$dir" status 0 status
		step "$dir" metrics 0 metrics
		step "$dir" plan-json 0 plan --json
	done
	if [[ -n $keep ]]; then
		mkdir -p "$keep" && rm -rf "$keep/n$n" && cp -a "$dir" "$keep/n$n"
	fi
	rm -rf "$dir"
done

# median FILE COLUMN
median() { cut -d' ' -f"$2" "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "$("$CERTSYNC_BIN" version 2>/dev/null | head -1) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)), $hosts local hosts, median of $runs, $(nproc) CPUs"
echo
echo "| N | step | wall s | CPU s | peak RSS MB |"
echo "| ---: | --- | ---: | ---: | ---: |"
for n in "${sizes[@]}"; do
	for s in "${steps[@]}"; do
		f=$work/res.$n.$s
		echo "| $n | $s | $(median "$f" 1) | $(median "$f" 2) | $(median "$f" 3) |"
	done
done
if ((${#sizes[@]} > 1)); then
	echo
	echo "| growth | step | wall | CPU | peak RSS |"
	echo "| --- | --- | ---: | ---: | ---: |"
	for ((i = 1; i < ${#sizes[@]}; i++)); do
		a=${sizes[i - 1]} b=${sizes[i]}
		for s in "${steps[@]}"; do
			row="| $a → $b | $s"
			for c in 1 2 3; do
				row+=" | $(awk -v x="$(median "$work/res.$a.$s" $c)" -v y="$(median "$work/res.$b.$s" $c)" \
					'BEGIN { if (x > 0) printf "%.1f×", y / x; else print "–" }')"
			done
			echo "$row |"
		done
	done
fi
