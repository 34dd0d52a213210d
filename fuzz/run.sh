#!/usr/bin/env bash
# fuzz/run.sh [SECONDS_PER_HARNESS] [RUNS] — build the libFuzzer harnesses
# (meson -Dfuzz=true with clang-16, in their own build folder) and run each
# of them in turn for SECONDS (default 60; 0: no time limit) or RUNS
# executions (default: no limit), whichever ends first.  Every harness runs
# with leak detection, -timeout=1 (an input taking longer than a second is a
# finding) and an RSS limit.  Prints per harness the executions done, exec/s
# and the corpus size; exits 1 when any harness found a crash, leak,
# timeout or out-of-memory (its reproducer is kept and named), 2 when the
# build fails.
#
# Environment:
#   FUZZ_ONLY="config wsman"  run only these harnesses (names without fuzz_)
#   FUZZ_BUILD=DIR            build folder (default: <repo>/build-fuzz)
#   FUZZ_WORK=DIR             where the grown corpora, reproducers and logs go
#                             (default: a new folder under $TMPDIR, kept)
#   FUZZ_RSS_MB=N             -rss_limit_mb (default 2048)
#   FUZZ_ARGS="..."           more libFuzzer options for every harness
#
# The seed corpora in fuzz/corpus/ are only read; what the fuzzer adds goes
# to $FUZZ_WORK/corpus/NAME, which a later run with the same FUZZ_WORK
# starts from.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
runs=${2:--1}
build=${FUZZ_BUILD:-$root/build-fuzz}
rss=${FUZZ_RSS_MB:-2048}
all=(acme_json clixml config known_hosts manual_reply plan_file wsman)
read -r -a only <<<"${FUZZ_ONLY:-${all[*]}}"

# The config loader is fed modest inputs: deep nesting and huge documents
# are the business of the loader's own limits, not of this fuzzer.
declare -A max_len=([config]=4096)

if ! command -v clang-16 >/dev/null 2>&1; then
	echo "fuzz: clang-16 is missing (scripts/install-deps.sh installs it)" >&2
	exit 2
fi
if [[ ! -f $build/build.ninja ]]; then
	CC=clang-16 meson setup "$build" "$root" -Dfuzz=true >"${TMPDIR:-/tmp}/certsync-fuzz-setup.$$.log" 2>&1 || {
		cat "${TMPDIR:-/tmp}/certsync-fuzz-setup.$$.log" >&2
		echo "fuzz: meson setup $build failed" >&2
		exit 2
	}
	rm -f "${TMPDIR:-/tmp}/certsync-fuzz-setup.$$.log"
fi
ninja -C "$build" >/dev/null || { ninja -C "$build" >&2; echo "fuzz: build failed" >&2; exit 2; }

work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/certsync-fuzz.XXXXXX")}
mkdir -p "$work/corpus" "$work/artifacts" "$work/logs"
# The harnesses' own files (inbox replies, known_hosts, plans) go to a
# private folder, in memory when /dev/shm is there: accept-new fsyncs.
scratch=$(mktemp -d /dev/shm/certsync-fuzz-tmp.XXXXXX 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/certsync-fuzz-tmp.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp}
# Readable stack traces in the logs.
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]] && command -v llvm-symbolizer >/dev/null 2>&1; then
	export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
fi

failed=0
echo "fuzz: ${seconds}s / ${runs} runs per harness; work folder $work"
for name in "${only[@]}"; do
	bin=$build/fuzz/fuzz_$name
	if [[ ! -x $bin ]]; then
		echo "fuzz_$name: no such harness ($bin)" >&2
		failed=1
		continue
	fi
	mkdir -p "$work/corpus/$name"
	log=$work/logs/$name.log
	args=(-timeout=1 -rss_limit_mb="$rss" -detect_leaks=1 -print_final_stats=1
		-artifact_prefix="$work/artifacts/$name-")
	((seconds > 0)) && args+=(-max_total_time="$seconds")
	((runs >= 0)) && args+=(-runs="$runs")
	[[ -f $root/fuzz/$name.dict ]] && args+=(-dict="$root/fuzz/$name.dict")
	[[ -n ${max_len[$name]:-} ]] && args+=(-max_len="${max_len[$name]}")
	# shellcheck disable=SC2206
	args+=(${FUZZ_ARGS:-})
	TMPDIR=$scratch "$bin" "${args[@]}" "$work/corpus/$name" "$root/fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	corpus=$(find "$work/corpus/$name" "$root/fuzz/corpus/$name" -type f | wc -l)
	if ((rc == 0)); then
		echo "fuzz_$name: ok, ${execs:-?} executions, ${rate:-?} exec/s, corpus $corpus files"
	else
		failed=1
		what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*|ERROR: libFuzzer: timeout.*|out-of-memory.*' "$log")
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		echo "fuzz_$name: FAILED (exit $rc: ${what:-see log}) after ${execs:-?} executions; reproducer ${artifact:-none}; log $log"
	fi
done
exit "$failed"
