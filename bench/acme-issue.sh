#!/usr/bin/env bash
# bench/acme-issue.sh — wall and CPU time of one ACME issuance (two names,
# ECDSA P-256, http-01 standalone, a fresh account each time) from the same
# Pebble in the same run, for certsync, lego and certbot.
#
#   bench/acme-issue.sh [RUNS]        (default 5; prints a Markdown table)
#
# Installs lego and certbot (Debian packages) when missing — here only, not
# in CI.  Pebble runs as in the tests (tests/integration/pebble_lib.sh):
# loopback, PEBBLE_VA_NOSLEEP=1, really validating through
# pebble-challtestsrv.  Each client's run is timed around the whole command
# (process start to exit): wall clock and user+system CPU of the process
# and its children.  The median of RUNS is reported.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}
CERTSYNC_BIN=${CERTSYNC_BIN:-$root/build/certsync}

missing=()
for p in lego certbot; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
	echo "bench: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 || exit 1
fi
[[ -x $CERTSYNC_BIN ]] || { (cd "$root" && meson setup build >/dev/null 2>&1; ninja -C build >&2) || exit 1; }

. "$root/tests/integration/lib.sh"
. "$root/tests/integration/pebble_lib.sh"
pebble_start >&2 || { echo "bench: pebble does not start" >&2; exit 1; }
port=$PEBBLE_HTTP_PORT

# measure NAME CMD...: one timed run; appends "wall cpu" to $TEST_TMP/NAME.
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$TEST_TMP/time" "$@" >"$TEST_TMP/last.log" 2>&1
	local rc=$?
	if ((rc != 0)); then
		echo "bench: $name failed (exit $rc):" >&2
		tail -20 "$TEST_TMP/last.log" >&2
		return 1
	fi
	awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$TEST_TMP/time" >>"$TEST_TMP/$name"
}

run_certsync() {
	local d=$TEST_TMP/cs-$1
	acme_config "$d" "{ http-01: { standalone: \"127.0.0.1:$port\" } }" >/dev/null
	(cd "$d" && measure certsync "$CERTSYNC_BIN" apply --yes)
}

run_lego() {
	local d=$TEST_TMP/lego-$1
	mkdir -p "$d"
	LEGO_CA_CERTIFICATES=$PEBBLE_TLS_CA measure lego lego --server "$PEBBLE_DIR" --accept-tos \
		--email ops@web.test --key-type ec256 --domains web.test --domains www.web.test \
		--http --http.port "127.0.0.1:$port" --path "$d" run
}

run_certbot() {
	local d=$TEST_TMP/certbot-$1
	mkdir -p "$d"
	REQUESTS_CA_BUNDLE=$PEBBLE_TLS_CA measure certbot certbot certonly --non-interactive --agree-tos \
		-m ops@web.test --server "$PEBBLE_DIR" --standalone --http-01-address 127.0.0.1 \
		--http-01-port "$port" --key-type ecdsa --elliptic-curve secp256r1 -d web.test -d www.web.test \
		--config-dir "$d/config" --work-dir "$d/work" --logs-dir "$d/logs" --no-random-sleep-on-renew
}

# Interleaved, so a slow moment of the machine hits every client alike.
for ((i = 1; i <= runs; i++)); do
	run_certsync "$i" || exit 1
	run_lego "$i" || exit 1
	run_certbot "$i" || exit 1
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "| client | version | wall s (median of $runs) | CPU s (user+sys, median) |"
echo "| --- | --- | --- | --- |"
for c in certsync lego certbot; do
	case $c in
	certsync) v=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?") ;;
	lego) v=$(dpkg-query -W -f='${Version}' lego 2>/dev/null) ;;
	certbot) v=$(dpkg-query -W -f='${Version}' certbot 2>/dev/null) ;;
	esac
	wall=$(awk '{print $1}' "$TEST_TMP/$c" | median)
	cpu=$(awk '{print $2}' "$TEST_TMP/$c" | median)
	echo "| $c | $v | $wall | $cpu |"
done
echo
echo "pebble $(dpkg-query -W -f='${Version}' pebble 2>/dev/null), $(nproc) cores, $(date -u +%Y-%m-%d)"
