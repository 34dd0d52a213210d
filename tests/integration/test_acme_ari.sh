#!/usr/bin/env bash
# ACME Renewal Information (RFC 9773) through plan and apply: a test-only
# renewalInfo responder (ari_proxy.py) in front of a real Pebble.  The
# certID certsync asks for must be the one computed here independently from
# openssl's view of the certificate; a window in the future means no
# renewal (and the plan says so), a window in the past renews with
# "replaces"; no window (unknown certificate, CA error) falls back to
# renew_before, saying so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"

if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
	done_testing
fi
pebble_start || { not_ok "pebble starts"; done_testing; }

proxy_port=$(free_port)
ari_log=$TEST_TMP/ari.log
: >"$ari_log"
pebble_hostport=${PEBBLE_DIR#https://}
pebble_hostport=${pebble_hostport%/dir}
python3 "$(dirname "$0")/ari_proxy.py" "$proxy_port" "$pebble_hostport" "$TEST_TMP/pebble/tls.pem" \
	"$TEST_TMP/pebble/tls.key" "$PEBBLE_TLS_CA" "$ari_log" >"$TEST_TMP/proxy.out" 2>&1 &
proxy_pid=$!
cleanup_add "kill $proxy_pid; wait $proxy_pid"
wait_port "$proxy_port" 10 || { not_ok "ari responder starts" "$(cat "$TEST_TMP/proxy.out")"; done_testing; }
ok "ari responder in front of pebble"
PEBBLE_DIR=https://127.0.0.1:$proxy_port/dir

# certID from openssl's reading of the certificate (RFC 9773 §4.1).
cert_id() {
	local aki serial
	aki=$(openssl x509 -in "$1" -noout -ext authorityKeyIdentifier | sed -n '2p' | sed 's/^ *//; s/^keyid://; s/://g')
	serial=$(openssl x509 -in "$1" -noout -serial | sed 's/^serial=//')
	python3 - "$aki" "$serial" <<'PY'
import base64, sys
aki, serial = sys.argv[1], sys.argv[2]
if len(serial) % 2:
    serial = "0" + serial
if int(serial[0], 16) >= 8:        # DER INTEGER: a leading 0x00 keeps it positive
    serial = "00" + serial
b = lambda h: base64.urlsafe_b64encode(bytes.fromhex(h)).decode().rstrip("=")
print(b(aki) + "." + b(serial))
PY
}
set_window() { # CERTID START END | CERTID status CODE
	local body
	if [[ $2 == status ]]; then
		body="{\"certID\":\"$1\",\"status\":$3}"
	else
		body="{\"certID\":\"$1\",\"start\":\"$2\",\"end\":\"$3\",\"explanationURL\":\"https://ca.test/why\"}"
	fi
	curl -sf --cacert "$PEBBLE_TLS_CA" -X POST -d "$body" "https://127.0.0.1:$proxy_port/test/window" >/dev/null
}
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
now=$(date +%s)

d=$TEST_TMP/ari
acme_config "$d" "{ http-01: { standalone: \"127.0.0.1:$PEBBLE_HTTP_PORT\" } }"
cd "$d" || exit 1
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$ari_log" '^\{"newOrder": null\}$'
id1=$(cert_id out/web.crt)
serial1=$(openssl x509 -in out/web.crt -noout -serial)

# Unknown to the responder (404): renew_before applies, and the plan says so.
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "no renewal window from the CA \(.*HTTP 404.*\): renew_before 30d applies"
expect_contains "$ari_log" "\"renewalInfo\": \"$id1\""

# A window in the future: not due, the plan shows the window and its source.
set_window "$id1" "$(rfc3339 $((now + 30 * 86400)))" "$(rfc3339 $((now + 31 * 86400)))"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "renewal window $(rfc3339 $((now + 30 * 86400))) \.\. $(rfc3339 $((now + 31 * 86400))) from acme renewal info https://127\.0\.0\.1:$proxy_port/renewal-info/$id1 \(explanation https://ca.test/why\): not due yet"

# A saved plan carries the window it showed: the same window keeps it
# good, a window the CA moved makes it stale (apply refuses it, even though
# the plan would still renew nothing).
expect_exit 0 "$CERTSYNC" plan -o same.plan
expect_exit 0 "$CERTSYNC" apply same.plan
expect_exit 0 "$CERTSYNC" plan -o moved.plan
set_window "$id1" "$(rfc3339 $((now + 20 * 86400)))" "$(rfc3339 $((now + 21 * 86400)))"
expect_exit 1 "$CERTSYNC" apply moved.plan
expect_contains "$OUT" 'saved plan moved\.plan is stale'
# A window that opened since the plan was saved: its "nothing to do" is stale.
expect_exit 0 "$CERTSYNC" plan -o opened.plan
set_window "$id1" "$(rfc3339 $((now - 86400)))" "$(rfc3339 $((now + 86400)))"
expect_exit 1 "$CERTSYNC" apply opened.plan
expect_contains "$OUT" 'saved plan opened\.plan is stale'
[[ $(openssl x509 -in out/web.crt -noout -serial) == "$serial1" ]] && ok "stale plans renewed nothing" ||
	not_ok "stale plans renewed nothing"

# A window that opened yesterday: renew now, with "replaces".
set_window "$id1" "$(rfc3339 $((now - 86400)))" "$(rfc3339 $((now + 86400)))"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "because the CA's renewal window opened $(rfc3339 $((now - 86400)))"
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$ari_log" "^\\{\"newOrder\": \"$id1\"\\}$"
serial2=$(openssl x509 -in out/web.crt -noout -serial)
[[ $serial1 != "$serial2" ]] && ok "renewed: new serial" || not_ok "renewed: new serial" "$serial1"
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted out/chain.pem out/web.crt >"$TEST_TMP/v" 2>&1; then
	ok "openssl verify: the replacement chains to pebble's root"
else
	not_ok "openssl verify: the replacement chains to pebble's root" "$(cat "$TEST_TMP/v")"
fi

# The CA's renewalInfo failing: fall back to renew_before, saying why.
id2=$(cert_id out/web.crt)
set_window "$id2" status 500
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "no renewal window from the CA \(.*HTTP 500.*serverInternal.*\): renew_before 30d applies"

# A window whose end is before its start is no window (RFC 9773 §4.2).
set_window "$id2" "$(rfc3339 $((now - 86400)))" "$(rfc3339 $((now - 2 * 86400)))"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "no renewal window from the CA \(.*before it starts.*\): renew_before 30d applies"

done_testing
