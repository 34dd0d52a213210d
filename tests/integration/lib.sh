# tests/integration/lib.sh — shared helpers for integration scripts.
#
#   . "$(dirname "$0")/lib.sh"
#
# Gives a script: TAP output (ok, not_ok, done_testing), checks (expect_exit,
# expect_contains), a private temporary folder $TEST_TMP removed at exit, and
# cleanup_add to register commands (stopping servers) that run at exit even
# when the script fails halfway.  CERTSYNC_KEEP_TMP=1 keeps $TEST_TMP (server
# logs, state files) for a look after a failure.  $CERTSYNC is the binary under test
# (CERTSYNC_BIN from tests/run, else build/certsync).
# shellcheck shell=bash

set -uo pipefail

_lib_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CERTSYNC=$(realpath -m "${CERTSYNC_BIN:-$_lib_root/build/certsync}")

_tap_count=0
_tap_failed=0
_cleanups=()

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/certsync-it.XXXXXX") || exit 1

# Run registered cleanups newest first (servers stop before their files go),
# then remove the temporary folder; keep the script's exit status.
_lib_exit() {
	local rc=$?
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" >/dev/null 2>&1 || true
	done
	if [[ ${CERTSYNC_KEEP_TMP:-0} == 1 ]]; then
		echo "# kept $TEST_TMP" >&2
	else
		rm -rf "$TEST_TMP"
	fi
	exit "$rc"
}
trap _lib_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# cleanup_add CMD: run CMD (a shell string) at exit, e.g. cleanup_add "kill $pid".
cleanup_add() {
	_cleanups+=("$1")
}

# ok NAME / not_ok NAME [DETAIL...]: one TAP line; details become comments.
ok() {
	_tap_count=$((_tap_count + 1))
	echo "ok $_tap_count - $*"
}

not_ok() {
	_tap_count=$((_tap_count + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_count - $1"
	shift
	local line
	for line in "$@"; do
		[[ -n $line ]] && printf '%s\n' "$line" | sed 's/^/# /'
	done
	return 0
}

# done_testing: the plan line; exits 1 when anything failed.
done_testing() {
	echo "1..$_tap_count"
	((_tap_failed == 0)) && exit 0
	exit 1
}

# expect_exit CODE CMD...: run CMD, check its exit status.  Its combined
# output is kept in $TEST_TMP/out (and $OUT) for expect_contains.
OUT=""
expect_exit() {
	local want=$1
	shift
	"$@" >"$TEST_TMP/out" 2>&1
	local rc=$?
	OUT=$(cat "$TEST_TMP/out")
	if ((rc == want)); then
		ok "exit $want: $*"
	else
		not_ok "exit $want: $*" "exit status $rc" "$OUT"
	fi
}

# expect_contains FILE_OR_TEXT PATTERN: an extended regular expression must
# match somewhere in the file (when FILE_OR_TEXT names one) or in the text.
expect_contains() {
	local subject=$1 pattern=$2 text
	if [[ -f $subject ]]; then
		text=$(cat "$subject")
	else
		text=$subject
	fi
	if grep -Eq -- "$pattern" <<<"$text"; then
		ok "contains /$pattern/"
	else
		not_ok "contains /$pattern/" "in:" "$text"
	fi
}

# free_port: print a TCP port on 127.0.0.1 that nobody listens on.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
		return
	fi
	local port
	for ((port = 20000 + RANDOM % 20000; port < 65000; port++)); do
		# A refused connection means the port is free.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	return 1
}

# wait_port PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT
# (default 10 s); status 1 on timeout.
wait_port() {
	local port=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 10; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
