#!/usr/bin/env bash
# examples/acme/certsync.yaml, as shipped, against a real Pebble: only the
# ports (which a test cannot fix in advance) are rewritten.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)

pebble_have || { not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"; done_testing; }
pebble_start || { not_ok "pebble starts"; done_testing; }
d=$TEST_TMP/example
cp -r "$src/examples/acme" "$d"
mkdir -p "$d/pki" "$d/out"
cp "$PEBBLE_TLS_CA" "$d/pki/pebble-tls-ca.pem"
sed -i "s#https://127.0.0.1:14000/dir#$PEBBLE_DIR#; s#\"127.0.0.1:5002\"#\"127.0.0.1:$PEBBLE_HTTP_PORT\"#" "$d/certsync.yaml"
cd "$d" || exit 1
expect_exit 0 "$CERTSYNC" validate
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "Apply complete: 3 done, 0 failed"
expect_exit 0 openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$PEBBLE_INTERMEDIATE" out/web.crt
expect_contains "$(openssl x509 -in out/web.crt -noout -ext subjectAltName)" "DNS:web.example.test, DNS:www.example.test"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "No changes"
done_testing
