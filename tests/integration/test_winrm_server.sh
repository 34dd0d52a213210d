#!/usr/bin/env bash
# The WS-Management test server (tests/winrm/), a Windows host stand-in:
#  - its command line: starts on 127.0.0.1, answers 401 without credentials,
#    stops on SIGTERM;
#  - every recorded Windows fixture replayed and compared structurally;
#  - the third-party Debian client python3-winrm over HTTPS (basic, ntlm) and
#    HTTP (ntlm with sealing);
#  - the PowerShell subset interpreter and the host model.
# The python tests print PASS/FAIL lines; they become TAP lines here.
# sanitize: no
. "$(dirname "$0")/lib.sh"

root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
PY=/usr/bin/python3 # the Debian python: python3-winrm is installed for it
tests="$root/tests/winrm/tests"

# run_py FILE: run one python test file, turn its lines into TAP.
run_py() {
	local file=$1 out rc line name="" details=()
	out=$(cd "$tests" && timeout --kill-after=5 900 "$PY" "$file" 2>&1)
	rc=$?
	local seen=0
	flush() {
		if [[ -n $name ]]; then
			not_ok "$name" "${details[@]}"
			name=""
			details=()
		fi
	}
	while IFS= read -r line; do
		case $line in
		"PASS "*)
			flush
			ok "${line#PASS }"
			seen=1
			;;
		"FAIL "*)
			flush
			name=${line#FAIL }
			seen=1
			;;
		"SKIP "*)
			flush
			ok "# SKIP ${line#SKIP }"
			;;
		"# "*) [[ -n $name ]] && details+=("${line#\# }") ;;
		esac
	done <<<"$out"
	flush
	if ((rc != 0 && seen == 0)); then
		not_ok "$file ran" "exit status $rc" "$(tail -20 <<<"$out")"
	fi
}

# --- the command line -------------------------------------------------------
d=$TEST_TMP/cli
mkdir -p "$d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/cert.pem" -days 2 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
port=$(free_port)
"$PY" "$root/tests/winrm/server.py" --https-port "$port" --cert "$d/cert.pem" --key "$d/key.pem" \
	--user 'vagrant:vagrant' --state "$d/state.json" --ready-file "$d/ready.json" \
	>"$d/server.out" 2>&1 &
pid=$!
cleanup_add "kill $pid"
if wait_port "$port" 15 && [[ -s $d/ready.json ]]; then
	ok "server.py listens on 127.0.0.1:$port and writes its ready file"
else
	not_ok "server.py starts" "$(cat "$d/server.out")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$d/cert.pem" -X POST \
	-H 'Content-Type: application/soap+xml;charset=UTF-8' --data '<x/>' "https://127.0.0.1:$port/wsman")
[[ $code == 401 ]] && ok "no credentials: 401" || not_ok "no credentials: 401" "got $code"
hdrs=$(curl -s -D - -o /dev/null --cacert "$d/cert.pem" -X POST --data '<x/>' "https://127.0.0.1:$port/wsman")
expect_contains "$hdrs" 'WWW-Authenticate: Negotiate'
expect_contains "$hdrs" 'WWW-Authenticate: Basic realm="WSMAN"'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$d/cert.pem" -u vagrant:wrong -X POST \
	--data '<x/>' "https://127.0.0.1:$port/wsman")
[[ $code == 401 ]] && ok "wrong password (curl, basic): 401" || not_ok "wrong password: 401" "got $code"
# libcurl's own NTLM (what certsync's C transport uses) against the server.
body='<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:MessageID>uuid:00000000-0000-0000-0000-000000000001</a:MessageID><a:To>x</a:To><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/config</w:ResourceURI></s:Header><s:Body/></s:Envelope>'
out=$(curl -s --ntlm -u vagrant:vagrant --cacert "$d/cert.pem" -H 'Content-Type: application/soap+xml;charset=UTF-8' \
	--data "$body" "https://127.0.0.1:$port/wsman")
expect_contains "$out" '<cfg:MaxEnvelopeSizekb>500</cfg:MaxEnvelopeSizekb>'
code=$(curl -s -o /dev/null -w '%{http_code}' --ntlm -u vagrant:nope --cacert "$d/cert.pem" \
	--data "$body" "https://127.0.0.1:$port/wsman")
[[ $code == 401 ]] && ok "wrong password (curl, ntlm): 401" || not_ok "wrong password (curl, ntlm): 401" "got $code"
kill "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	not_ok "server.py stops on SIGTERM"
else
	ok "server.py stops on SIGTERM"
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	not_ok "port closed after stop"
else
	ok "port closed after stop"
fi

# --- pwsh.py: the same interpreter and model from the command line (SSH) -------
st=$TEST_TMP/ssh/state.json
mkdir -p "$TEST_TMP/ssh"
out=$(printf '%s\n' "& {" "  \$ErrorActionPreference = 'Stop'" "  Write-Output (hostname)" \
	"  Restart-Computer -Force" "}" "" | "$PY" "$root/tests/winrm/pwsh.py" --state "$st" --hostname COBALT \
	-- -NoProfile -NonInteractive -Command - 2>"$TEST_TMP/ssh/err")
rc=$?
[[ $rc == 0 && $out == $'COBALT\r' ]] && ok "pwsh.py runs a script from stdin" ||
	not_ok "pwsh.py runs a script from stdin" "exit $rc" "$out" "$(cat "$TEST_TMP/ssh/err")"
count=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["reboot_count"])' "$st")
[[ $count == 1 ]] && ok "pwsh.py: Restart-Computer reboots the model once" || not_ok "pwsh.py reboot" "reboot_count=$count"
out=$(printf 'Get-Nothing\n' | "$PY" "$root/tests/winrm/pwsh.py" --state "$st" -- -Command - 2>&1)
rc=$?
[[ $rc == 1 ]] && ok "pwsh.py: unknown command exits 1" || not_ok "pwsh.py: unknown command exits 1" "exit $rc"
expect_contains "$out" '^#< CLIXML'

# --- the python suites ----------------------------------------------------------
for f in test_replay.py test_pywinrm.py test_interpreter.py test_interpreter_transport.py test_ntlm.py; do
	[[ -f $tests/$f ]] && run_py "$f"
done

done_testing
