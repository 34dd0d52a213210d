#!/usr/bin/env bash
# A reload that hangs on a local host is stopped after the host's
# `local: { timeout }`: the bind is rolled back, apply ends with a clear
# error and releases the state lock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
hang=60.$$ # a sleep no other process on the machine has (suites run side by side)
make_ca "$d" ca
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' "sleep $hang"
cd "$d" || exit 1
sed -i 's/here: { platform: linux, local: {} }/here: { platform: linux, local: { timeout: 2s } }/' certsync.yaml
grep -q 'timeout: 2s' certsync.yaml || not_ok "config has the timeout"

expect_exit 0 "$CERTSYNC" validate
start=$(date +%s)
expect_exit 1 "$CERTSYNC" apply --yes
took=$(($(date +%s) - start))
expect_contains "$OUT" "FAILED +#3 reload on here: sleep $hang.*did not finish within 2s"
expect_contains "$OUT" 'removed .*out/web.crt'
((took < 20)) && ok "apply stopped the hung reload ($took s)" || not_ok "apply stopped the hung reload" "took $took s"
[[ ! -e out/web.crt ]] && ok "the new files are gone again" || not_ok "the new files are gone again"
pgrep -f "^sleep $hang\$" >/dev/null && not_ok "no sleep left running" "$(pgrep -af "sleep $hang")" || ok "no sleep left running"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode

# The key is checked like any other.
sed -i 's/timeout: 2s/timeout: soon/' certsync.yaml
expect_exit 1 "$CERTSYNC" validate
expect_contains "$OUT" 'certsync.yaml:[0-9]+:[0-9]+: .*timeout'
sed -i 's/timeout: soon/tiemout: 2s/' certsync.yaml
expect_exit 1 "$CERTSYNC" validate
expect_contains "$OUT" 'unknown key "tiemout" in local of host here'

done_testing
