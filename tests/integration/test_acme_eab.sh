#!/usr/bin/env bash
# ACME external account binding (RFC 8555 §7.3.4) against a real Pebble
# that requires it: the right HMAC key gets an account and a certificate;
# no binding, an unknown key id or a wrong HMAC key fail with the CA's
# reason — and the HMAC key never shows in any output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"

if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
	done_testing
fi
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
good=$(openssl rand 32 | b64url)
wrong=$(openssl rand 32 | b64url)
pebble_start "\"externalAccountBindingRequired\": true, \"externalAccountMACKeys\": { \"kid-certsync\": \"$good\" }" ||
	{ not_ok "pebble starts"; done_testing; }

standalone="{ http-01: { standalone: \"127.0.0.1:$PEBBLE_HTTP_PORT\" } }"

# No binding configured: the CA says it wants one.
d=$TEST_TMP/none
acme_config "$d" "$standalone"
cd "$d" || exit 1
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "acme newAccount: HTTP [0-9]+: urn:ietf:params:acme:error:externalAccountRequired"

# Wrong HMAC key.
d=$TEST_TMP/wrong
acme_config "$d" "$standalone" "      eab: { kid: kid-certsync, hmac: { env: EAB_HMAC } }"
cd "$d" || exit 1
EAB_HMAC=$wrong expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "acme newAccount: HTTP [0-9]+: urn:ietf:params:acme:error:unauthorized: .*(binding|EAB|signature|HMAC|MAC)"
if grep -qF -e "$wrong" -e "$good" <<<"$OUT"; then
	not_ok "the hmac key is not in the output"
else
	ok "the hmac key is not in the output"
fi
accounts=$(find .certsync/acme/accounts -name account.json 2>/dev/null | wc -l)
[[ $accounts == 0 ]] && ok "no account recorded after a refused binding" || not_ok "no account recorded after a refused binding" "$accounts"

# An HMAC that is not base64url: said so, naming the variable, not the value.
EAB_HMAC='not base64!' expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "external account binding hmac from env EAB_HMAC is not base64url"
if grep -qF "not base64!" <<<"$OUT"; then not_ok "a bad hmac value is not echoed"; else ok "a bad hmac value is not echoed"; fi

# Unknown key id.
d=$TEST_TMP/kid
acme_config "$d" "$standalone" "      eab: { kid: kid-nobody, hmac: { env: EAB_HMAC } }"
cd "$d" || exit 1
EAB_HMAC=$good expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "acme newAccount: HTTP [0-9]+: urn:ietf:params:acme:error:unauthorized"
if grep -qF "$good" <<<"$OUT"; then not_ok "the hmac key is not in the output (unknown kid)"; else ok "the hmac key is not in the output (unknown kid)"; fi

# The right key: account and certificate.
d=$TEST_TMP/good
acme_config "$d" "$standalone" "      eab: { kid: kid-certsync, hmac: { env: EAB_HMAC } }"
cd "$d" || exit 1
EAB_HMAC=$good expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "Apply complete: 2 done, 0 failed"
if grep -qF "$good" <<<"$OUT"; then not_ok "the hmac key is not in the output (success)"; else ok "the hmac key is not in the output (success)"; fi
if grep -rqF "$good" .certsync; then not_ok "the hmac key is not kept in the state folder"; else ok "the hmac key is not kept in the state folder"; fi
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >"$TEST_TMP/v" 2>&1; then
	ok "openssl verify: certificate of the bound account"
else
	not_ok "openssl verify: certificate of the bound account" "$(cat "$TEST_TMP/v")"
fi

done_testing
