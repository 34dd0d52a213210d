#!/usr/bin/env bash
# The WinRM transport's connection rules, against stand-ins that need no
# Windows and no WS-Management server: a Python HTTPS responder that answers
# every request with 401 (so the credentials message can be checked), the
# same responder with a certificate for another name, an untrusted one, and
# a plain HTTP listener.  Driven through tests/tools/winrm_client.  (The
# WinRS sequence itself runs against the WS-Management test server in
# test_winrm_transport.sh.)
. "$(dirname "$0")/lib.sh"

C=${WINRM_CLIENT:-$(dirname "$CERTSYNC")/tests/winrm_client}
[[ -x $C ]] || { echo "Bail out! no $C (build first)"; exit 1; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 0; }
cd "$TEST_TMP" || exit 1

openssl req -x509 -newkey rsa:2048 -nodes -keyout good.key -out good.crt -days 2 \
	-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 \
	-subj /CN=elsewhere.example -addext subjectAltName=DNS:elsewhere.example >/dev/null 2>&1

cat >responder.py <<'PY'
import http.server, ssl, sys
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(n)
        self.send_response(401)
        self.send_header('WWW-Authenticate', 'Negotiate')
        self.send_header('WWW-Authenticate', 'Basic realm="WSMAN"')
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), H)
if cert != '-':
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY

start() { # NAME CERT KEY -> sets port_NAME
	local p
	p=$(free_port)
	python3 responder.py "$p" "$2" "$3" &
	cleanup_add "kill $!"
	wait_port "$p" || { echo "Bail out! responder $1 did not start"; exit 1; }
	printf -v "port_$1" %s "$p"
}
start good good.crt good.key
start other other.crt other.key
start plain - -

export CS_TEST_PW='not-the-password'
common=(--user 'CORP\svc-certsync' --password-env CS_TEST_PW --timeout 5)

# Wrong credentials: the one message an operator needs, no password in it.
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_good" --ca-bundle good.crt "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "^error: host sapphire: WinRM at https://127\.0\.0\.1:$port_good/wsman refused the credentials of CORP\\\\svc-certsync \(HTTP 401\)$"
if grep -q "$CS_TEST_PW" <<<"$OUT"; then not_ok "the password is not in the message"; else ok "the password is not in the message"; fi
for auth in basic ntlm; do
	expect_exit 100 "$C" --address localhost --port "$port_good" --ca-bundle good.crt --auth "$auth" "${common[@]}" stat 'C:\x'
	expect_contains "$OUT" "refused the credentials of CORP.*\(HTTP 401\)"
done

# The certificate names another host: refused, with curl's reason.
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_other" --ca-bundle other.crt "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "^error: host sapphire: WinRM at https://127\.0\.0\.1:$port_other/wsman: TLS verification failed: .*(127\.0\.0\.1|certificate|name)"

# Trusted by nobody we know (no ca_bundle: the system store): refused.
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_good" "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "TLS verification failed: .*(self.signed|certificate|issuer)"

# A plain HTTP listener is not spoken to without insecure_http.
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_plain" "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "^error: host sapphire: WinRM at https://127\.0\.0\.1:$port_plain/wsman: (TLS verification failed|.*SSL|.*TLS)"

# With insecure_http the same listener is reached over http:// ...
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_plain" --insecure-http "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "WinRM at http://127\.0\.0\.1:$port_plain/wsman refused the credentials"
# ... but never with basic, whatever the config says.
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_plain" --insecure-http --auth basic "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "^error: host sapphire: basic authentication over plain HTTP would send the password in clear"

# Nobody listening: a connect error naming the endpoint.
dead=$(free_port)
expect_exit 100 "$C" --address 127.0.0.1 --port "$dead" --ca-bundle good.crt "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "^error: host sapphire: WinRM at https://127\.0\.0\.1:$dead/wsman: cannot connect"

# An unset password variable is named, not guessed at.
expect_exit 100 env -u CS_TEST_PW "$C" --address 127.0.0.1 --port "$port_good" --ca-bundle good.crt "${common[@]}" stat 'C:\x'
expect_contains "$OUT" "^error: host sapphire: winrm password: .*CS_TEST_PW"

done_testing
