#!/usr/bin/env bash
# The in-sync plan reads a stored certificate without parsing it when its
# files are the ones certsync saved (their SHA-256 in meta.json) and
# meta.json describes it ("cert"): this checks that the shortcut never hides
# a change.  A stored cert.pem edited by hand (another certificate, the same
# one with text around it, garbage), a state folder from an older certsync
# (no "cert" in meta.json), a CA whose key changed, and a host key file
# rewritten in another encoding of the same key: each gives what it gave
# when every stored certificate was parsed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/estate
local_ca_head "$d"
cd "$d" || exit 1
cat >>certsync.yaml <<'YAML'
  a:
    common_name: a.example.test
    key: { type: ecdsa, curve: p256 }
    issuer: ca
    bindings:
      - host: here
        files:
          cert: out/a.crt
          key: out/a.key
  b:
    common_name: b.example.test
    key: { type: ecdsa, curve: p256 }
    issuer: ca
    bindings:
      - host: here
        files:
          cert: out/b.crt
          key: out/b.key
YAML

expect_exit 0 "$CERTSYNC" apply --yes -c certsync.yaml
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" '^No changes\. Everything selected is as declared\.$'
# What a plan reads instead of parsing: the facts and the key that verified
# the signature (the CA's).
ca_spki=$(openssl x509 -in pki/ca.crt -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
if python3 - state/certs/a/meta.json "${ca_spki^^}" <<'PY'; then
import json, sys
m = json.load(open(sys.argv[1]))
c = m["cert"]
assert c["version"] == 1 and c["dns_names"] == ["a.example.test"] and c["common_name"] == "a.example.test"
assert c["key"] == {"type": "ecdsa", "bits": 256, "curve": "p256"} and c["not_after"] > c["not_before"]
assert c["signed_by"] == sys.argv[2], c["signed_by"]
PY
	ok "meta.json records the certificate's facts and the CA's key as its signer"
else
	not_ok "meta.json records the certificate's facts and the CA's key as its signer" "$(cat state/certs/a/meta.json)"
fi
cp -a state state.saved
cp -a out out.saved
restore() { rm -rf state out && cp -a state.saved state && cp -a out.saved out; }

# Another certificate in a's cert.pem: a's key does not belong to it.
cp state/certs/b/cert.pem state/certs/a/cert.pem
expect_exit 1 "$CERTSYNC" plan -c certsync.yaml
expect_contains "$OUT" "^  ! error \(a\): $d/state/certs/a/key\.pem does not belong to $d/state/certs/a/cert\.pem \(interrupted save\?\)$"
restore

# Garbage in cert.pem: the file is named.
echo garbage >state/certs/a/cert.pem
expect_exit 1 "$CERTSYNC" plan -c certsync.yaml
expect_contains "$OUT" "^  ! error \(a\): $d/state/certs/a/cert\.pem: no certificate found$"
restore

# The same certificate with a line of text before it: parsed again, and it
# is still the certificate the host has.
{ echo "edited by hand"; cat state.saved/certs/a/cert.pem; } >state/certs/a/cert.pem
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" '^No changes\. Everything selected is as declared\.$'
restore

# A state folder written by an older certsync: no "cert" in meta.json.
for m in state/certs/*/meta.json; do
	python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); del m["cert"]; json.dump(m, open(sys.argv[1], "w"), indent=2)' "$m"
done
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" '^No changes\. Everything selected is as declared\.$'
restore

# The host's key file in another encoding of the same key (traditional EC
# PEM): a bind, with the reason.
openssl ec -in out/a.key -out out/a.key.ec 2>/dev/null && cat out/a.key.ec >out/a.key && rm -f out/a.key.ec
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" "^  ~ #1 bind a → here files: $d/out/a\.crt, $d/out/a\.key$"
expect_contains "$OUT" "^       because key $d/out/a\.key is encoded differently from the stored key$"
expect_contains "$OUT" '^Plan: 0 to renew, 1 to bind, 0 to reload, 0 to verify\.$'
restore

# A new CA (another key, the same name): neither certificate is signed by it
# any more, however many share the old CA's key.
mv pki/ca.key pki/ca.key.old && mv pki/ca.crt pki/ca.crt.old && make_ca "$d" ca
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
n=$(grep -c "^       because not signed by issuer ca's current CA certificate (issuer CN=ca test CA)$" <<<"$OUT")
if [[ $n == 2 ]]; then ok "both renewed: not signed by the new CA"; else not_ok "both renewed: not signed by the new CA" "$OUT"; fi
expect_contains "$OUT" '^Plan: 2 to renew, 2 to bind'
mv pki/ca.key.old pki/ca.key && mv pki/ca.crt.old pki/ca.crt
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml

done_testing
