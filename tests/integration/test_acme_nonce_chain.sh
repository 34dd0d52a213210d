#!/usr/bin/env bash
# ACME against a Pebble that rejects half of all valid nonces
# (PEBBLE_WFE_NONCEREJECT=50: certsync retries badNonce with the nonce the
# rejection carries, a bounded number of times) and that offers an
# alternate chain to another root (PEBBLE_ALTERNATE_ROOTS=1):
# preferred_chain picks the chain by its root's name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"

if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
	done_testing
fi
export PEBBLE_WFE_NONCEREJECT=50 PEBBLE_ALTERNATE_ROOTS=1
pebble_start || { not_ok "pebble starts"; done_testing; }
alt_root=$TEST_TMP/root1.pem
curl -sf --cacert "$PEBBLE_TLS_CA" "$PEBBLE_MGMT/roots/1" -o "$alt_root" || { not_ok "pebble offers a second root"; done_testing; }
alt_cn=$(openssl x509 -in "$alt_root" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
main_cn=$(openssl x509 -in "$PEBBLE_ROOT" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
[[ -n $alt_cn && $alt_cn != "$main_cn" ]] && ok "two roots: $main_cn, $alt_cn" || not_ok "two roots" "$main_cn / $alt_cn"

standalone="{ http-01: { standalone: \"127.0.0.1:$PEBBLE_HTTP_PORT\" } }"

# Half the nonces rejected: still issues, more than once in a row.
expect_contains "$PEBBLE_LOG" "Configured to reject 50% of good nonces"
for i in 1 2 3; do
	d=$TEST_TMP/nonce$i
	acme_config "$d" "$standalone"
	(cd "$d" && "$CERTSYNC" apply --yes) >"$TEST_TMP/out" 2>&1
	rc=$?
	((rc == 0)) && ok "issues with 50% of nonces rejected (run $i)" || not_ok "issues with 50% of nonces rejected (run $i)" "$(cat "$TEST_TMP/out")"
done
# (An issuance takes a dozen signed POSTs: without the retry, three in a row
# would succeed with a probability of about 0.5^36.)

# Default chain: to root 0.
d=$TEST_TMP/default-chain
acme_config "$d" "$standalone"
(cd "$d" && "$CERTSYNC" apply --yes) >"$TEST_TMP/out" 2>&1 || not_ok "default chain issues" "$(cat "$TEST_TMP/out")"
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >/dev/null 2>&1; then
	ok "default chain verifies against root 0"
else
	not_ok "default chain verifies against root 0"
fi

# Preferred chain by the alternate root's name.
d=$TEST_TMP/preferred
acme_config "$d" "$standalone" "      preferred_chain: \"$alt_cn\""
(cd "$d" && "$CERTSYNC" apply --yes) >"$TEST_TMP/out" 2>&1
rc=$?
((rc == 0)) && ok "issues with preferred_chain" || not_ok "issues with preferred_chain" "$(cat "$TEST_TMP/out")"
if openssl verify -CAfile "$alt_root" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >"$TEST_TMP/v" 2>&1; then
	ok "preferred chain verifies against the alternate root"
else
	not_ok "preferred chain verifies against the alternate root" "$(cat "$TEST_TMP/v")"
fi
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >/dev/null 2>&1; then
	not_ok "preferred chain is not the default one"
else
	ok "preferred chain is not the default one"
fi

# A preferred name no chain has: the default chain stays.
d=$TEST_TMP/nomatch
acme_config "$d" "$standalone" "      preferred_chain: \"No Such Root\""
(cd "$d" && "$CERTSYNC" apply --yes) >"$TEST_TMP/out" 2>&1
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >/dev/null 2>&1; then
	ok "unmatched preferred_chain keeps the default chain"
else
	not_ok "unmatched preferred_chain keeps the default chain" "$(cat "$TEST_TMP/out")"
fi

done_testing
