#!/usr/bin/env bash
# ACME dns-01 against a real Pebble: the operator's hook puts the TXT record
# into pebble-challtestsrv (Pebble's DNS) through its management API and
# takes it away afterwards.  Also: an apply killed in the middle of the
# challenges leaves its order recorded, and the next apply resumes that
# order instead of ordering again; a failing hook is reported with its
# output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"

if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
	done_testing
fi
pebble_start || { not_ok "pebble starts"; done_testing; }

d=$TEST_TMP/dns
mkdir -p "$d/hooks"
# The hook: HOOK present|cleanup NAME VALUE, with the same in the
# environment; logs what it was asked, checks both agree.
cat >"$d/hooks/dns.sh" <<'HOOK'
#!/bin/sh
set -eu
action=$1 name=$2 value=$3
[ "$name" = "$CERTSYNC_DNS_NAME" ] && [ "$value" = "$CERTSYNC_DNS_VALUE" ] && [ "$action" = "$CERTSYNC_DNS_ACTION" ] || {
	echo "arguments and environment disagree" >&2; exit 2; }
echo "$action $name $value" >>"$HOOK_LOG"
if [ -e "$FAIL_MARK" ]; then
	echo "zone web.test is not served here" >&2
	exit 3
fi
case $action in
present)
	curl -sf -X POST -d "{\"host\":\"$name.\",\"value\":\"$value\"}" "$CHALLTESTSRV_MGMT/set-txt"
	# Die here, once, like an apply interrupted halfway through the
	# challenges: certsync is our parent.
	if [ -e "$KILL_MARK" ]; then
		rm -f "$KILL_MARK"
		kill -9 "$PPID"
	fi ;;
cleanup)
	curl -sf -X POST -d "{\"host\":\"$name.\"}" "$CHALLTESTSRV_MGMT/clear-txt" ;;
esac
HOOK
chmod 755 "$d/hooks/dns.sh"
export HOOK_LOG=$d/hook.log KILL_MARK=$d/kill-once FAIL_MARK=$d/fail
acme_config "$d" "{ dns-01: { hook: hooks/dns.sh, propagation: 1s } }"
cd "$d" || exit 1

# 1. Interrupted: the first apply dies inside the hook after newOrder.
# (Orders are counted as Pebble creates them, not as requests: a newOrder
# retried after a badNonce is still one order.)
touch "$KILL_MARK"
orders_before=$(grep -c 'Added order' "$PEBBLE_LOG")
("$CERTSYNC" apply --yes >"$TEST_TMP/out1" 2>&1)
rc=$?
((rc != 0)) && ok "apply killed during the challenge (exit $rc)" || not_ok "apply killed during the challenge" "exit $rc"
if [[ -f .certsync/acme/orders/web.json ]]; then
	ok "the order in flight is recorded in the state folder"
else
	not_ok "the order in flight is recorded in the state folder" "$(find .certsync -type f)"
fi
orders_mid=$(grep -c 'Added order' "$PEBBLE_LOG")
[[ $((orders_mid - orders_before)) == 1 ]] && ok "one newOrder so far" || not_ok "one newOrder so far" "$((orders_mid - orders_before))"

# 2. The next apply resumes it: no second newOrder, and it issues.
: >"$HOOK_LOG"
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "Apply complete: 2 done, 0 failed"
orders_after=$(grep -c 'Added order' "$PEBBLE_LOG")
[[ $orders_after == "$orders_mid" ]] && ok "resumed the recorded order (no new order)" ||
	not_ok "resumed the recorded order (no new order)" "newOrder count $orders_mid → $orders_after"
[[ ! -e .certsync/acme/orders/web.json ]] && ok "order record dropped after the download" || not_ok "order record dropped after the download"

if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >"$TEST_TMP/v" 2>&1; then
	ok "openssl verify: dns-01 certificate chains to pebble's root"
else
	not_ok "openssl verify: dns-01 certificate chains to pebble's root" "$(cat "$TEST_TMP/v")"
fi
# Both names were presented and cleaned up, with the record name and a
# 43-character base64url SHA-256 value.
expect_contains "$HOOK_LOG" "^present _acme-challenge\.web\.test [A-Za-z0-9_-]{43}$"
expect_contains "$HOOK_LOG" "^present _acme-challenge\.www\.web\.test [A-Za-z0-9_-]{43}$"
expect_contains "$HOOK_LOG" "^cleanup _acme-challenge\.web\.test "
expect_contains "$HOOK_LOG" "^cleanup _acme-challenge\.www\.web\.test "
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# 3. A hook that fails: its exit status and last output line are shown.
touch "$FAIL_MARK"
sed -i 's/dns_names: \[web.test, www.web.test\]/dns_names: [web.test, www.web.test, mail.web.test]/' certsync.yaml
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "dns-01 hook .*hooks/dns.sh present _acme-challenge\.[a-z.]*web\.test failed \(exit 3\): zone web.test is not served here"
rm -f "$FAIL_MARK"

done_testing
