#!/usr/bin/env bash
# The in-sync plan compares a host's files with the stored certificate by
# SHA-256 (meta.json's) and reads the stored files only when that does not
# decide.  What it says must be what it said when every stored file was
# read: a host file in another encoding of the same certificate (CRLF line
# ends) is a bind with the same reason, a second binding of the same
# certificate that is in sync stays out of the plan, and status says the
# same.  A stored file changed after the save is read again and checked.
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
          cert: out/a1.crt
          key: out/a1.key
      - host: here
        files:
          cert: out/a2.crt
          key: out/a2.key
          chain: out/a2.chain
YAML

expect_exit 0 "$CERTSYNC" apply --yes -c certsync.yaml
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" '^No changes\. Everything selected is as declared\.$'
serial=$(openssl x509 -in state/certs/a/cert.pem -noout -serial | cut -d= -f2 | sed "s/^0*//")

# The second binding's certificate with CRLF line ends: the same
# certificate, other bytes.  A bind of that binding alone, with the reason
# it always had.
sed -i 's/$/\r/' out/a2.crt
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" "^  ~ #1 bind a → here files: $d/out/a2\.crt, $d/out/a2\.key, $d/out/a2\.chain$"
expect_contains "$OUT" "^       because cert $d/out/a2\.crt differs from the current certificate \(serial $serial\)"
expect_contains "$OUT" '^Plan: 0 to renew, 1 to bind, 0 to reload, 0 to verify\.$'
if grep -q "a1\.crt" <<<"$OUT"; then not_ok "the binding in sync is not in the plan" "$OUT"; else ok "the binding in sync is not in the plan"; fi
expect_exit 0 "$CERTSYNC" status -c certsync.yaml
expect_contains "$OUT" "a1\.crt, $d/out/a1\.key: in sync$"
expect_contains "$OUT" "a2\.chain: drifted \(cert $d/out/a2\.crt differs from the current certificate \(serial $serial\) \(holds serial $serial, "


# The chain file emptied: the chain's reason.
sed -i 's/\r$//' out/a2.crt
: >out/a2.chain
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" "^       because chain $d/out/a2\.chain differs from the certificate's chain$"
expect_exit 0 "$CERTSYNC" apply --yes -c certsync.yaml
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml

# The stored certificate rewritten after the save with CRLF line ends (a
# copy that changed since meta.json): read again and parsed, it is the same
# certificate, which the hosts have.
sleep 0.05
sed -i 's/$/\r/' state/certs/a/cert.pem
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c certsync.yaml
expect_contains "$OUT" '^No changes\. Everything selected is as declared\.$'
# Another certificate in its place: found, as before.
cp out/a1.crt keep.crt
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -out state/certs/a/cert.pem \
	-subj "/CN=a.example.test" -days 3 2>/dev/null
expect_exit 1 "$CERTSYNC" plan -c certsync.yaml
expect_contains "$OUT" "^  ! error \(a\): $d/state/certs/a/key\.pem does not belong to $d/state/certs/a/cert\.pem \(interrupted save\?\)$"

done_testing
