#!/usr/bin/env bash
# ACME end to end through `certsync apply` against a real Pebble: http-01
# answered by certsync's standalone responder, Pebble really validating
# (through pebble-challtestsrv's DNS).  The chain installed by the files
# binding verifies with openssl against Pebble's root and intermediate; the
# next plan is clean; the account is reused; a challenge Pebble cannot reach
# fails with the CA's own reason; a wrong directory URL or a missing
# ca_bundle says what to check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"

if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
	done_testing
fi
pebble_start || { not_ok "pebble starts"; done_testing; }
ok "pebble starts on loopback with a fresh root"

d=$TEST_TMP/standalone
acme_config "$d" "{ http-01: { standalone: \"127.0.0.1:$PEBBLE_HTTP_PORT\" } }"
cd "$d" || exit 1

expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "renew web: new ecdsa p256 key, certificate from acme issuer pebble"

expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "Apply complete: 2 done, 0 failed"

# The files binding carries what Pebble issued, and it chains to this
# start's root through Pebble's intermediate.
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >"$TEST_TMP/v" 2>&1; then
	ok "openssl verify: leaf + chain against pebble's root"
else
	not_ok "openssl verify: leaf + chain against pebble's root" "$(cat "$TEST_TMP/v")"
fi
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$PEBBLE_INTERMEDIATE" "$d/out/web.crt" >"$TEST_TMP/v" 2>&1; then
	ok "openssl verify: leaf against pebble's root and intermediate from the management port"
else
	not_ok "openssl verify: leaf against pebble's root and intermediate" "$(cat "$TEST_TMP/v")"
fi
san=$(openssl x509 -in "$d/out/web.crt" -noout -ext subjectAltName 2>&1)
expect_contains "$san" "DNS:web.test"
expect_contains "$san" "DNS:www.web.test"
if openssl x509 -in "$d/out/web.crt" -noout -pubkey | cmp -s - <(openssl pkey -in "$d/out/web.key" -pubout); then
	ok "installed key matches the certificate"
else
	not_ok "installed key matches the certificate"
fi
# fullchain = leaf then chain.
if [[ $(cat "$d/out/web.crt" "$d/out/chain.pem") == "$(cat "$d/out/full.pem")" ]]; then
	ok "fullchain is the leaf followed by the chain"
else
	not_ok "fullchain is the leaf followed by the chain"
fi

expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "No changes"

# State: one account for this directory and contact; no order left in flight;
# the account key is private.
accounts=$(find .certsync/acme/accounts -name account.json | wc -l)
[[ $accounts == 1 ]] && ok "one acme account in the state folder" || not_ok "one acme account in the state folder" "found $accounts"
orders=$(find .certsync/acme/orders -type f 2>/dev/null | wc -l)
[[ $orders == 0 ]] && ok "no order left in flight" || not_ok "no order left in flight" "found $orders"
key_mode=$(stat -c %a .certsync/acme/accounts/*/key.pem)
[[ $key_mode == 600 ]] && ok "account key is 0600" || not_ok "account key is 0600" "mode $key_mode"
kid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' .certsync/acme/accounts/*/account.json)

# A changed name set renews with the same account (no second newAccount).
new_accounts_before=$(grep -c 'POST /sign-me-up' "$PEBBLE_LOG")
sed -i 's/dns_names: \[web.test, www.web.test\]/dns_names: [web.test, www.web.test, api.web.test]/' certsync.yaml
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "names changed: add api.web.test"
new_accounts_after=$(grep -c 'POST /sign-me-up' "$PEBBLE_LOG")
[[ $new_accounts_after == "$new_accounts_before" ]] && ok "account reused: no newAccount for the renewal" ||
	not_ok "account reused: no newAccount for the renewal" "before $new_accounts_before, after $new_accounts_after"
kid2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' .certsync/acme/accounts/*/account.json)
[[ $kid == "$kid2" ]] && ok "same account url" || not_ok "same account url" "$kid vs $kid2"
expect_contains "$(openssl x509 -in "$d/out/web.crt" -noout -ext subjectAltName)" "DNS:api.web.test"

# Standalone on a port Pebble does not connect to: the CA's reason shows.
d2=$TEST_TMP/unreachable
wrong_port=$(free_port)
acme_config "$d2" "{ http-01: { standalone: \"127.0.0.1:$wrong_port\" } }"
cd "$d2" || exit 1
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "authorization for (www\.)?web\.test is invalid \(http-01 challenge\): http-01: urn:ietf:params:acme:error:connection"
orders=$(find .certsync/acme/orders -type f 2>/dev/null | wc -l)
[[ $orders == 0 ]] && ok "an invalid order is forgotten" || not_ok "an invalid order is forgotten" "found $orders"
[[ ! -e $d2/out/web.crt ]] && ok "nothing installed after a failed order" || not_ok "nothing installed after a failed order"

# A typo in the directory URL, and a private ACME server without ca_bundle:
# plan already says what to check (it asks the directory before it promises
# a renewal), and apply renews nothing.
sed -i "s|directory: $PEBBLE_DIR|directory: ${PEBBLE_DIR%/dir}/directory|" certsync.yaml
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" "renewal due \\(no certificate issued yet\\), but issuer pebble cannot issue: acme directory: GET ${PEBBLE_DIR%/dir}/directory: HTTP 404 \\(check the issuer's directory: it must be the CA's ACME directory URL\\)"
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "issuer pebble cannot issue: acme directory: GET ${PEBBLE_DIR%/dir}/directory: HTTP 404"
sed -i -e "s|directory: ${PEBBLE_DIR%/dir}/directory|directory: $PEBBLE_DIR|" -e '/ca_bundle:/d' certsync.yaml
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "issuer pebble cannot issue: acme directory: GET $PEBBLE_DIR: .*\\(the server's TLS certificate does not verify against the system's trust store: for a private ACME server set the issuer's ca_bundle"
[[ ! -e $d2/out/web.crt ]] && ok "nothing installed" || not_ok "nothing installed"

done_testing
