#!/usr/bin/env bash
# certsync init: the embedded default config (this machine, a local CA made
# here, one certificate under out/) works at once: validate, plan, apply, a
# clean second plan, a certificate that verifies against the new CA.  It
# never overwrites a config or a CA key.
. "$(dirname "$0")/lib.sh"

cd "$TEST_TMP" || exit 1
mkdir fresh && cd fresh || exit 1
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" 'certsync.yaml: cannot read the config file: .*certsync init'

expect_exit 0 "$CERTSYNC" init
expect_contains "$OUT" 'Wrote certsync.yaml'
[[ $(stat -c %a pki/ca.key) == 600 ]] && ok "CA key is 0600" || not_ok "CA key is 0600" "$(stat -c %a pki/ca.key)"
expect_contains "$(openssl x509 -in pki/ca.crt -noout -ext basicConstraints,keyUsage)" 'CA:TRUE'
expect_contains "$(openssl x509 -in pki/ca.crt -noout -ext keyUsage)" 'Certificate Sign'
expect_exit 0 "$CERTSYNC" validate
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'renew demo: new ecdsa p256 key, certificate from ca issuer lab'
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 openssl verify -CAfile pki/ca.crt out/demo.crt
expect_contains "$(openssl x509 -in out/demo.crt -noout -ext subjectAltName)" 'DNS:demo.localhost'
[[ $(stat -c %a out/demo.key) == 600 ]] && ok "key file is 0600" || not_ok "key file is 0600"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# Never overwrites: the config stays byte for byte, the CA key too.
sum=$(sha256sum certsync.yaml pki/ca.key)
expect_exit 1 "$CERTSYNC" init
expect_contains "$OUT" 'certsync.yaml already exists'
[[ $(sha256sum certsync.yaml pki/ca.key) == "$sum" ]] && ok "nothing changed" || not_ok "nothing changed"

# Another file name in another folder keeps an existing CA there.
mkdir -p ../other/pki && cp pki/ca.key pki/ca.crt ../other/pki/
expect_exit 0 "$CERTSYNC" init -c ../other/site.yaml
expect_contains "$OUT" 'Kept the local CA in ../other/pki/'
cmp -s pki/ca.key ../other/pki/ca.key && ok "existing CA key kept" || not_ok "existing CA key kept"
expect_exit 0 "$CERTSYNC" validate -c ../other/site.yaml

# Half a CA is refused, not completed.
mkdir -p ../half/pki && cp pki/ca.crt ../half/pki/
expect_exit 1 "$CERTSYNC" init -c ../half/certsync.yaml
expect_contains "$OUT" 'ca.crt exists without .*ca.key'
[[ ! -e ../half/certsync.yaml && ! -e ../half/pki/ca.key ]] && ok "nothing written" || not_ok "nothing written"

done_testing
