#!/usr/bin/env bash
# A verify entry without `host:` on a certificate bound on several hosts (an
# address in front of all of them, as the design's config sketch in
# tests/fixtures/design-sketch writes it):
# validate accepts it, the check runs once after every host is done, and a
# failure puts the files back on all of them and proves the previous
# certificate is served again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
mkdir -p "$d/out"
cd "$d" || exit 1
port=$(free_port)
cat >certsync.yaml <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  left: { platform: linux, local: {} }
  right: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - { host: left, files: { fullchain: out/left.pem, key: out/left.key } }
      - { host: right, files: { fullchain: out/right.pem, key: out/right.key } }
    verify:
      - { connect: "127.0.0.1:$port", ca_bundle: pki/ca.crt, timeout: 3s }
YAML

# The "balancer": a TLS server that reads the files it serves at every
# connection, from the folder named in serve.dir (out/, or frozen/ to stand
# for one that did not pick the new files up).
cat >lb.py <<'PY'
import socket, ssl, sys, threading
port, base = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
def serve(c):
    try:
        where = open(base + "/serve.dir").read().strip()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(where + "/left.pem", where + "/left.key")
        with ctx.wrap_socket(c, server_side=True) as t:
            t.recv(1)
    except Exception:
        c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
echo "$d/out" >serve.dir
python3 lb.py "$port" "$d" >lb.log 2>&1 &
cleanup_add "kill $!"
wait_port "$port" 10 || { echo "Bail out! the TLS server did not start"; exit 1; }

expect_exit 0 "$CERTSYNC" validate
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "verify web at 127.0.0.1:$port .*"
expect_contains "$OUT" "because the endpoint must present the certificate just bound on left, right \\(no host: checked after all of them\\)"
expect_contains "$OUT" "after #2, #3"
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "done +#4 verify web at 127.0.0.1:$port .*presents serial"
expect_exit 0 "$CERTSYNC" status
expect_contains "$OUT" "\\(all hosts\\) +endpoint 127.0.0.1:$port: in sync"
expect_exit 0 "$CERTSYNC" metrics --target cert=web
expect_contains "$OUT" "^certsync_endpoint_serving_current\\{certificate=\"web\",host=\"\",verify=\"0\",connect=\"127.0.0.1:$port\"\\} 1$"

# A renewal the balancer does not pick up: the check fails, both hosts get
# their previous files back, and the previous certificate is served again.
mkdir -p frozen && cp out/left.pem out/left.key frozen/
cp out/left.pem left.before; cp out/right.pem right.before
echo "$d/frozen" >serve.dir
sed -i 's/common_name: web.test/common_name: web.test\n    dns_names: [web.test, www.web.test]/' certsync.yaml
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "FAILED +#4 verify web"
expect_contains "$OUT" "rollback +#4 put back .*out/left.pem"
expect_contains "$OUT" "rollback +#4 put back .*out/right.pem"
expect_contains "$OUT" "rollback +#4 127.0.0.1:$port serves the previous certificate again"
cmp -s out/left.pem left.before && cmp -s out/right.pem right.before && ok "both hosts have their previous files" ||
	not_ok "both hosts have their previous files"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode

done_testing
