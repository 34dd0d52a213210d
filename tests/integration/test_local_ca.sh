#!/usr/bin/env bash
# Full apply with the local CA on this machine: files written with the right
# modes, key matches, chain verifies, the reload runs once, the second plan is
# clean, status reports in sync, and no key material is printed anywhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' 'echo reloaded >> out/reload.log'
cd "$d"

expect_exit 0 "$CERTSYNC" validate
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'renew web: new ecdsa p256 key'
expect_contains "$OUT" 'because no certificate issued yet'
expect_contains "$OUT" 'Plan: 1 to renew, 1 to bind, 1 to reload, 0 to verify'
expect_exit 1 "$CERTSYNC" apply </dev/null
expect_contains "$OUT" 'confirm with --yes'
[ ! -e out/web.crt ] && ok "unconfirmed apply wrote nothing" || not_ok "unconfirmed apply wrote nothing"
[ ! -e .certsync ] && ok "unconfirmed apply made no state folder" || not_ok "unconfirmed apply made no state folder"

expect_exit 0 "$CERTSYNC" apply --yes
apply_out=$OUT
expect_contains "$apply_out" 'Apply complete: 3 done, 0 failed, 0 skipped'

mode() { stat -c %a "$1"; }
[ "$(mode out/web.key)" = 600 ] && ok "key file is 0600" || not_ok "key file is 0600" "$(mode out/web.key)"
[ "$(mode .certsync)" = 700 ] && ok "state folder is 0700" || not_ok "state folder is 0700" "$(mode .certsync)"
[ "$(mode .certsync/certs/web/key.pem)" = 600 ] && ok "stored key is 0600" || not_ok "stored key is 0600"
a=$(openssl x509 -in out/web.crt -noout -pubkey | openssl sha256)
b=$(openssl pkey -in out/web.key -pubout | openssl sha256)
[ "$a" = "$b" ] && ok "key on disk matches the certificate" || not_ok "key on disk matches the certificate"
expect_exit 0 openssl verify -CAfile pki/ca.crt out/web.crt
expect_contains "$(openssl x509 -in out/web.crt -noout -ext subjectAltName,extendedKeyUsage,basicConstraints)" 'DNS:web.test, DNS:www.web.test'
expect_contains "$(openssl x509 -in out/web.crt -noout -ext extendedKeyUsage)" 'TLS Web Server Authentication'
cmp -s <(cat out/web.crt pki/ca.crt) out/web-full.pem && ok "fullchain = cert + CA" || not_ok "fullchain = cert + CA"
[ "$(wc -l <out/reload.log)" = 1 ] && ok "reload ran once" || not_ok "reload ran once" "$(cat out/reload.log)"

expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'No changes'
expect_exit 0 "$CERTSYNC" status --json
expect_contains "$OUT" '"state": "in sync"'
expect_contains "$OUT" '"days_left": (89|90),'   # 90 days less the seconds since issuing
expect_exit 0 "$CERTSYNC" apply --yes
[ "$(wc -l <out/reload.log)" = 1 ] && ok "nothing to do: no reload" || not_ok "nothing to do: no reload"

# Never a private key in what certsync prints or keeps outside the key files.
if grep -q 'PRIVATE KEY' <<<"$apply_out$OUT" || grep -q 'PRIVATE KEY' .certsync/journal.jsonl; then
	not_ok "no key material in output or journal"
else
	ok "no key material in output or journal"
fi
expect_contains .certsync/journal.jsonl '"action": ?"renew".*"result": ?"done"'

# Drift: someone replaces the certificate file; plan says so, apply repairs.
cp pki/ca.crt out/web.crt
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'cert .*/out/web.crt differs from the current certificate'
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# No owner or group declared: rewriting a file keeps its owner and group
# ("unchanged"), whoever runs certsync.
if [ "$(id -u)" = 0 ]; then
	chown nobody:nogroup out/web.key
	cp pki/ca.crt out/web.crt
	expect_exit 0 "$CERTSYNC" apply --yes
	[ "$(stat -c %U:%G out/web.key)" = nobody:nogroup ] && ok "rewritten key keeps its owner and group" \
		|| not_ok "rewritten key keeps its owner and group" "$(stat -c %U:%G out/web.key)"
	chown root:root out/web.key
fi

# Past the expiry (clock pinned): status says how long ago, not "-N days left".
CERTSYNC_NOW=$(( $(date +%s) + 100 * 86400 )) expect_exit 0 "$CERTSYNC" status
expect_contains "$OUT" 'web \(web.test, issuer lab\): expired'
expect_contains "$OUT" 'expired [0-9TZ:-]+ \([0-9]+ days? ago\)'

# Names changed in the config: status says a renewal is due, and why.
sed -i 's/www.web.test\]/www.web.test, api.web.test]/' certsync.yaml
expect_exit 0 "$CERTSYNC" status
expect_contains "$OUT" 'web \(web.test, issuer lab\): renewal due'
expect_contains "$OUT" 'renewal due because names changed: add api.web.test'
sed -i 's/, api.web.test\]/]/' certsync.yaml

# A binding into a folder that does not exist: plan says so (certsync does
# not create folders), it does not wait for apply to fail.
sed -i 's#fullchain: out/web-full.pem,#fullchain: out/web-full.pem, chain: nowhere/web-chain.pem,#' certsync.yaml
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" "error \\(web\\): web → here files: folder $PWD/nowhere does not exist"
sed -i 's# chain: nowhere/web-chain.pem,##' certsync.yaml
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# An owner or group that does not exist on the host: plan says so.
sed -i 's#fullchain: out/web-full.pem,#fullchain: out/web-full.pem, owner: ngnix,#' certsync.yaml
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" "error \\(web\\): web → here files: owner ngnix does not exist on host here \\(no such user\\)"
sed -i 's#owner: ngnix,#owner: nobody, group: no-such-group,#' certsync.yaml
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" "group no-such-group does not exist on host here"
sed -i 's#owner: nobody, group: no-such-group,#owner: root, group: root,#' certsync.yaml
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
sed -i 's# owner: root, group: root,##' certsync.yaml

# A state folder others can read is refused.
chmod 755 .certsync
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" 'accessible by others'
chmod 700 .certsync
done_testing
