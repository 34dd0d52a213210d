#!/usr/bin/env bash
# The commercial-CA flow of the motivating procedure, with openssl as the CA:
# plan → apply writes key + CSR and waits → the CA signs → plan picks up the
# reply → apply installs and binds → plan is clean.  A reply for another key
# is refused and nothing is installed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" vendor
local_config "$d" '{ manual: { requests: requests/, inbox: inbox/ } }' 'echo reloaded >> out/reload.log'
cd "$d"

expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'renew web: new ecdsa p256 key and request .*requests/web.csr'
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'waiting'
expect_contains "$OUT" "put its reply in $d/inbox/ as web.pem"
[ -d inbox ] && ok "inbox/ made for the reply" || not_ok "inbox/ made for the reply"
[ -f requests/web.csr ] && ok "CSR written to requests/" || not_ok "CSR written to requests/"
expect_contains "$(openssl req -in requests/web.csr -noout -text)" 'DNS:web.test, DNS:www.web.test'
expect_exit 0 openssl req -in requests/web.csr -noout -verify
[ ! -e out/web.crt ] && ok "nothing bound while waiting" || not_ok "nothing bound while waiting"

expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "waiting for the CA: .*put the reply in $d/inbox/ as web.pem"
expect_contains "$OUT" 'No changes. .*but for what waits for a CA'

# A reply that answers another request: refused, nothing installed.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	-subj /CN=web.test -out other.csr 2>/dev/null
printf 'subjectAltName=DNS:web.test,DNS:www.web.test\n' >ext.cnf
mkdir -p inbox
openssl x509 -req -in other.csr -CA pki/vendor.crt -CAkey pki/vendor.key -CAcreateserial \
	-days 365 -extfile ext.cnf -out inbox/web.crt 2>/dev/null
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" 'does not match the pending key'
expect_exit 1 "$CERTSYNC" apply --yes
[ ! -e out/web.crt ] && ok "wrong reply: nothing installed" || not_ok "wrong reply: nothing installed"

# The real reply, in DER as some CAs send it.
rm inbox/web.crt
openssl x509 -req -in requests/web.csr -CA pki/vendor.crt -CAkey pki/vendor.key -CAcreateserial \
	-days 365 -extfile ext.cnf -outform DER -out inbox/web.der 2>/dev/null
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'the CA answered: .*inbox/web.der'
# A DER reply is the certificate alone: the fullchain file would not
# carry the intermediates, and the plan says so.
expect_contains "$OUT" "! note \(web\): no intermediate certificates: .*put the CA's intermediates after the certificate in its reply"
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 openssl verify -CAfile pki/vendor.crt out/web.crt
a=$(openssl x509 -in out/web.crt -noout -pubkey | openssl sha256)
b=$(openssl pkey -in out/web.key -pubout | openssl sha256)
[ "$a" = "$b" ] && ok "installed key is the one the CSR was made with" || not_ok "installed key matches"
[ -z "$(ls inbox/*.der 2>/dev/null)" ] && ls inbox/imported/web-* >/dev/null 2>&1 \
	&& ok "reply moved to inbox/imported/" || not_ok "reply moved to inbox/imported/" "$(ls -R inbox)"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'No changes'
done_testing
