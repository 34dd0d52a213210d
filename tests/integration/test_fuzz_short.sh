#!/usr/bin/env bash
# sanitize: no
# timeout: 600
# Every libFuzzer harness of fuzz/ runs briefly (FUZZ_SECONDS, default 12 s
# each) from its seed corpus: a crash, leak, timeout (an input slower than
# 1 s) or out-of-memory fails the harness's line.  Builds the fuzz build
# (clang-16, -Dfuzz=true) in build-fuzz/ on first use.  The fuzz build is
# already under ASan/UBSan: the sanitizer pass would only repeat it.
. "$(dirname "$0")/lib.sh"

root=${CERTSYNC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
seconds=${FUZZ_SECONDS:-12}

FUZZ_WORK=$TEST_TMP/work bash "$root/fuzz/run.sh" "$seconds" >"$TEST_TMP/run.out" 2>&1
rc=$?
if ((rc == 2)); then
	not_ok "fuzz build" "$(tail -20 "$TEST_TMP/run.out")"
	done_testing
fi
ok "fuzz build"
n=0
while read -r line; do
	[[ $line == fuzz_* ]] || continue
	n=$((n + 1))
	name=${line%%:*}
	if [[ $line == *": ok, "* ]]; then
		ok "$line"
	else
		# Show the finding: the sanitizer's report from the harness's log.
		log=${line##* log }
		not_ok "$line" "$(grep -m1 -A25 -E '^==[0-9]+==ERROR|runtime error|^SUMMARY' "$log" 2>/dev/null)"
	fi
done <"$TEST_TMP/run.out"
if ((n == 7)); then
	ok "all 7 harnesses ran"
else
	not_ok "all 7 harnesses ran" "$(cat "$TEST_TMP/run.out")"
fi
if ((rc != 0)); then
	not_ok "fuzz/run.sh exit status 0" "exit $rc"
fi
done_testing
