#!/usr/bin/env bash
# examples/systemd: the units pass `systemd-analyze verify` (or, where it
# cannot run, have the keys an unattended apply needs), and the service's
# ExecStart is a certsync command line that works: run as written against a
# local-CA config it applies, logs JSON only, and exits 3 (a success for the
# unit) when another run holds the lock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
ex=$root/examples/systemd
for f in certsync-apply.service certsync-apply.timer certsync-failed@.service certsync-failed.sh README.md; do
	[[ -s $ex/$f ]] && ok "examples/systemd/$f exists" || not_ok "examples/systemd/$f exists"
done
[[ -x $ex/certsync-failed.sh ]] && ok "certsync-failed.sh is executable" || not_ok "certsync-failed.sh is executable"
expect_exit 0 sh -n "$ex/certsync-failed.sh"

d=$TEST_TMP/site
make_ca "$d" ca
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' \
	'while [ -e hold ]; do sleep 0.05; done; echo reloaded >> out/reload.log'

# The units as they would be installed here: the paths of this build and
# this site instead of /usr/local and /etc/certsync.
units=$TEST_TMP/units
mkdir -p "$units"
for f in certsync-apply.service certsync-apply.timer certsync-failed@.service; do
	sed -e "s|/usr/local/bin/certsync|$CERTSYNC|g" \
		-e "s|/usr/local/lib/certsync/certsync-failed.sh|$ex/certsync-failed.sh|g" \
		-e "s|/etc/certsync|$d|g" "$ex/$f" >"$units/$f"
done
grep -q "$CERTSYNC apply" "$units/certsync-apply.service" && ok "ExecStart names certsync" ||
	not_ok "ExecStart names certsync" "$(grep ExecStart "$units/certsync-apply.service")"

# --- systemd-analyze verify ----------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
	(cd "$units" && systemd-analyze verify --man=no ./certsync-apply.service ./certsync-apply.timer \
		./certsync-failed@.service) >"$TEST_TMP/verify" 2>&1
	rc=$?
	if ((rc == 0)) && [[ ! -s $TEST_TMP/verify ]]; then
		ok "systemd-analyze verify: no complaint"
	elif grep -qiE 'failed to (initialize|set up) manager|not booted|system has not been booted' "$TEST_TMP/verify"; then
		ok "# SKIP systemd-analyze cannot run here: $(head -1 "$TEST_TMP/verify")"
	else
		not_ok "systemd-analyze verify: no complaint" "exit $rc" "$(cat "$TEST_TMP/verify")"
	fi
	# ... and it does complain about a unit that is wrong, so the check above can fail.
	sed 's/^Type=oneshot/Type=oneshoot/' "$units/certsync-apply.service" >"$units/broken.service"
	(cd "$units" && systemd-analyze verify --man=no ./broken.service) >"$TEST_TMP/verify" 2>&1
	grep -q 'oneshoot' "$TEST_TMP/verify" && ok "systemd-analyze verify catches a bad Type=" ||
		not_ok "systemd-analyze verify catches a bad Type=" "$(cat "$TEST_TMP/verify")"
	rm -f "$units/broken.service"
else
	ok "# SKIP systemd-analyze is not installed (package systemd); the keys are checked below"
fi

# --- the keys an unattended run needs, parsed ---------------------------------------------
python3 - "$units" >"$TEST_TMP/keys" 2>&1 <<'PY'
import os, re, shlex, sys
d = sys.argv[1]

def parse(name):
    sections, cur = {}, None
    with open(os.path.join(d, name)) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                cur = sections.setdefault(m.group(1), {})
                continue
            k, sep, v = line.partition("=")
            if not sep or cur is None:
                print(f"not ok - {name}: not a key=value line: {line}")
                continue
            cur.setdefault(k.strip(), []).append(v.strip())
    return sections

fails = []
def check(cond, what):
    if not cond:
        fails.append(what)
    print(("ok - " if cond else "not ok - ") + what)

s = parse("certsync-apply.service")
svc, unit = s.get("Service", {}), s.get("Unit", {})
check(svc.get("Type") == ["oneshot"], "service: Type=oneshot")
check("3" in " ".join(svc.get("SuccessExitStatus", [])).split(), "service: SuccessExitStatus has 3 (locked: next time)")
check(unit.get("OnFailure") == ["certsync-failed@%n.service"], "service: OnFailure=certsync-failed@%n.service")
check(os.path.exists(os.path.join(d, "certsync-failed@.service")), "the OnFailure template exists")
exec_start = svc.get("ExecStart", [])
check(len(exec_start) == 1, "service: one ExecStart")
argv = shlex.split(exec_start[0]) if exec_start else []
check(argv[1:2] == ["apply"] and "--yes" in argv, "ExecStart: certsync apply --yes")
check("--log-format" in argv and argv[argv.index("--log-format") + 1] == "json", "ExecStart: --log-format json")
check("-c" in argv, "ExecStart: -c names the config")
t = parse("certsync-apply.timer")
tm = t.get("Timer", {})
check(tm.get("OnCalendar") == ["daily"], "timer: OnCalendar=daily")
check(bool(tm.get("RandomizedDelaySec")), "timer: RandomizedDelaySec")
check(tm.get("Persistent") == ["true"], "timer: Persistent=true")
check(t.get("Install", {}).get("WantedBy") == ["timers.target"], "timer: WantedBy=timers.target")
f = parse("certsync-failed@.service")
check(f.get("Service", {}).get("Type") == ["oneshot"], "failure template: Type=oneshot")
check("%i" in " ".join(f.get("Service", {}).get("ExecStart", [])), "failure template: told the failed unit (%i)")
with open(os.path.join(d, "argv"), "w") as out:
    out.write("\n".join(argv) + "\n")
sys.exit(1 if fails else 0)
PY
rc=$?
sed 's/^/# /' "$TEST_TMP/keys"
((rc == 0)) && ok "unit keys for an unattended apply" || not_ok "unit keys for an unattended apply" "$(grep '^not ok' "$TEST_TMP/keys")"

# --- ExecStart, run as written ------------------------------------------------------------
mapfile -t argv <"$units/argv"
cd "$d" || exit 1
"${argv[@]}" >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
rc=$?
((rc == 0)) && ok "ExecStart applies (exit 0)" || not_ok "ExecStart applies (exit 0)" "exit $rc" "$(cat "$TEST_TMP/stderr")"
[[ ! -s $TEST_TMP/stdout ]] && ok "ExecStart writes nothing on stdout" || not_ok "ExecStart writes nothing on stdout" "$(cat "$TEST_TMP/stdout")"
python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
events = [json.loads(l)["event"] for l in lines]
assert events.count("done") == 3 and events[-1] == "finished", events
' "$TEST_TMP/stderr" && ok "ExecStart logs JSON lines: 3 done, finished" ||
	not_ok "ExecStart logs JSON lines: 3 done, finished" "$(cat "$TEST_TMP/stderr")"
[[ -s out/web.crt ]] && ok "the certificate is in place" || not_ok "the certificate is in place"

# Another run holds the lock (its reload waits): exit 3, which the unit's
# SuccessExitStatus counts as success.
rm -f out/web.crt
touch hold
"$CERTSYNC" apply --yes >"$TEST_TMP/first" 2>&1 &
first=$!
cleanup_add "rm -f $d/hold; kill $first 2>/dev/null"
for _ in $(seq 200); do [[ -e out/web.crt ]] && break; sleep 0.05; done
"${argv[@]}" >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
rc=$?
((rc == 3)) && ok "ExecStart exits 3 while another run holds the lock" ||
	not_ok "ExecStart exits 3 while another run holds the lock" "exit $rc" "$(cat "$TEST_TMP/stderr")"
python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert len(e) == 1 and e[0]["level"] == "error" and "locked" in e[0]["message"], e
' "$TEST_TMP/stderr" && ok "the lock is said in one JSON error line" ||
	not_ok "the lock is said in one JSON error line" "$(cat "$TEST_TMP/stderr")"
rm -f hold
wait "$first" && ok "the other run finished" || not_ok "the other run finished" "$(cat "$TEST_TMP/first")"

# --- certsync-failed.sh, with systemctl, journalctl and logger stubbed -----------------------
stub=$TEST_TMP/stub
mkdir -p "$stub"
cat >"$stub/systemctl" <<'SH'
#!/bin/sh
[ "$1 $2 $3 $4" = "show --property=InvocationID --value certsync-apply.service" ] && echo 0123abcd
SH
cat >"$stub/journalctl" <<SH
#!/bin/sh
[ "\$1" = "_SYSTEMD_INVOCATION_ID=0123abcd" ] || exit 1
cat "$TEST_TMP/stderr"
SH
cat >"$stub/logger" <<SH
#!/bin/sh
echo "logger \$*" >>"$TEST_TMP/logged"
cat >>"$TEST_TMP/logged" 2>/dev/null </dev/stdin || true
SH
chmod +x "$stub"/*
: >"$TEST_TMP/logged"
PATH=$stub:$PATH sh "$ex/certsync-failed.sh" certsync-apply.service </dev/null
rc=$?
((rc == 0)) && ok "certsync-failed.sh exits 0" || not_ok "certsync-failed.sh exits 0" "exit $rc"
expect_contains "$TEST_TMP/logged" '^logger --tag certsync-failed --priority user.err -- certsync-apply.service failed'
expect_contains "$TEST_TMP/logged" '"level":"error".*locked'

done_testing
