#!/usr/bin/env bash
# bench/scale.sh at its tiny size (20 certificates over 10 local hosts): every
# step runs and succeeds, the first plan renews all 20, apply writes them,
# the plan after apply says "No changes" (text and JSON), status and metrics
# name the certificates, and the timing table has a row per step.  No timing
# is judged.  A binary whose status fails makes the benchmark fail too.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
keep=$TEST_TMP/keep

CERTSYNC_BIN=$CERTSYNC bash "$root/bench/scale.sh" --tiny --keep "$keep" >"$TEST_TMP/table" 2>"$TEST_TMP/log"
rc=$?
if ((rc == 0)); then ok "bench/scale.sh --tiny exits 0"; else not_ok "bench/scale.sh --tiny exits 0" "exit $rc" "$(cat "$TEST_TMP/log")"; fi

d=$keep/n20
for s in validate plan-first apply plan-insync status metrics plan-json; do
	expect_contains "$TEST_TMP/table" "^\| 20 \| $s \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$"
	if [[ -s $d/$s.out ]]; then ok "$s wrote output"; else not_ok "$s wrote output"; fi
done
n=$(grep -c '^  + #[0-9]* renew c' "$d/plan-first.out")
if [[ $n == 20 ]]; then ok "first plan renews 20"; else not_ok "first plan renews 20" "got $n"; fi
n=$(find "$d/out" -name 'c*.crt' | wc -l)
if [[ $n == 20 ]]; then ok "apply wrote 20 certificates"; else not_ok "apply wrote 20 certificates" "got $n"; fi
expect_contains "$d/plan-insync.out" '^No changes'
if python3 -c 'import json, sys; p = json.load(open(sys.argv[1])); sys.exit(0 if p["actions"] == [] else 1)' "$d/plan-json.out"; then
	ok "plan --json has no actions"
else
	not_ok "plan --json has no actions" "$(head -c 2000 "$d/plan-json.out")"
fi
expect_contains "$d/status.out" 'c19'
expect_contains "$d/metrics.out" 'c19'

# A step that fails fails the benchmark, with the step named.
cat >"$TEST_TMP/failing" <<SH
#!/bin/sh
[ "\$1" = status ] && { echo "status broke" >&2; exit 1; }
exec "$CERTSYNC" "\$@"
SH
chmod +x "$TEST_TMP/failing"
CERTSYNC_BIN=$TEST_TMP/failing bash "$root/bench/scale.sh" --tiny >/dev/null 2>"$TEST_TMP/log"
rc=$?
if ((rc == 1)); then ok "a failing step fails the benchmark"; else not_ok "a failing step fails the benchmark" "exit $rc"; fi
expect_contains "$TEST_TMP/log" 'status .*exited 1'

done_testing
