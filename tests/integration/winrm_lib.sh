# tests/integration/winrm_lib.sh — the WS-Management test server
# (tests/winrm/server.py) for integration scripts.
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/winrm_lib.sh"
#   cd "$TEST_TMP"
#   winrm_lib_init || skip...     # srv.crt / srv.key here: the servers' TLS
#   winrm_start fw --user 'certsync:Pa55-w0rd' --auth basic --hostname FW
#
# winrm_start NAME [SERVER-ARGS...] starts a server on a free loopback port
# (WINRM_PORT) whose host state is NAME.json, files NAME.fs and log
# NAME.log, in the current folder; it is stopped at exit.  Not to be called
# in $(...): the stop would be registered in a subshell and lost.
# shellcheck shell=bash

WINRM_PY=/usr/bin/python3 # the one with the modules the server needs

# winrm_lib_init: status 1 (a reason on stdout) when the server cannot run.
winrm_lib_init() {
	[[ -x $WINRM_PY ]] || { echo "/usr/bin/python3 missing"; return 1; }
	openssl req -x509 -newkey rsa:2048 -nodes -keyout srv.key -out srv.crt -days 2 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
		{ echo "openssl could not make the server's certificate"; return 1; }
}

winrm_start() {
	local name=$1
	shift
	WINRM_PORT=$(free_port) || return 1
	"$WINRM_PY" "$_lib_root/tests/winrm/server.py" --https-port "$WINRM_PORT" --cert srv.crt --key srv.key \
		--state "$name.json" --fs-root "$name.fs" --log "$name.log" "$@" >"$name.out" 2>&1 &
	cleanup_add "kill $!"
	wait_port "$WINRM_PORT" 15 || { echo "winrm server $name: $(cat "$name.out")"; return 1; }
}
