#!/usr/bin/env bash
# --log-format json: a real apply against a local CA writes one JSON object a
# line on stderr (time, level, event, cert, host, action, kind, message) and
# nothing on stdout; failures, rollbacks, config diagnostics and errors are
# lines too, and no line carries key material.  Text output: nothing extra
# when stdout is not a terminal; on a terminal (script(1) gives a pty) a
# progress line "[1/3] renew web ..." rewritten in place; -v adds each
# step's time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' 'echo reloaded >> out/reload.log'
cd "$d" || exit 1

# check_lines FILE PYTHON: every line of FILE is a JSON object with the
# common fields; PYTHON then checks `e`, the list of them.
check_lines() {
	python3 - "$1" "$2" <<'PY'
import json, re, sys
text = open(sys.argv[1], encoding="utf-8", newline="").read()
e = []
for n, line in enumerate(text.splitlines(), 1):
    o = json.loads(line)
    assert isinstance(o, dict), f"line {n} is not an object"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), o
    assert o["level"] in ("debug", "info", "warning", "error"), o
    assert isinstance(o["event"], str) and isinstance(o["message"], str), o
    assert "action" not in o or isinstance(o["action"], int), o
    e.append(o)
exec(sys.argv[2])
PY
}

# --- a real apply -------------------------------------------------------------------------
"$CERTSYNC" apply --yes --log-format json >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
rc=$?
((rc == 0)) && ok "apply --log-format json exits 0" || not_ok "apply --log-format json exits 0" "exit $rc" "$(cat "$TEST_TMP/stderr")"
[[ ! -s $TEST_TMP/stdout ]] && ok "nothing on stdout" || not_ok "nothing on stdout" "$(cat "$TEST_TMP/stdout")"
check_lines "$TEST_TMP/stderr" '
planned = [o for o in e if o["event"] == "planned"]
assert [(o["action"], o["kind"]) for o in planned] == [(1, "renew"), (2, "bind"), (3, "reload")], planned
assert planned[0]["reason"] == "no certificate issued yet", planned[0]
done = {o["kind"]: o for o in e if o["event"] == "done"}
assert sorted(done) == ["bind", "reload", "renew"], done
r, b, l = done["renew"], done["bind"], done["reload"]
assert r["cert"] == "web" and "host" not in r and r["action"] == 1 and r["level"] == "info", r
assert r["message"].startswith("serial ") and "valid until" in r["message"], r
assert b["cert"] == "web" and b["host"] == "here" and b["action"] == 2, b
assert "bind web" in b["message"] and "out/web.crt" in b["message"], b
assert l["host"] == "here" and "cert" not in l and l["action"] == 3, l
assert all(isinstance(o.get("duration_ms"), int) for o in done.values()), done
assert not [o for o in e if o["event"] == "started"], "started is for -v"
f = e[-1]
assert f["event"] == "finished" and f["exit"] == 0 and f["done"] == 3 and f["failed"] == 0, f
' && ok "each event a JSON line: planned, done (cert, host, action, kind), finished" ||
	not_ok "each event a JSON line: planned, done (cert, host, action, kind), finished" "$(cat "$TEST_TMP/stderr")"
key_b64=$(sed -n '2p' .certsync/certs/web/key.pem)
ca_b64=$(sed -n '2p' pki/ca.key)
if grep -qF -e "$key_b64" -e "$ca_b64" -e "PRIVATE KEY" "$TEST_TMP/stderr"; then
	not_ok "no key material in the log"
else
	ok "no key material in the log"
fi

# Nothing to do: one line; -v before the command name works as well.
rm -f .certsync/journal*
expect_exit 0 "$CERTSYNC" --log-format=json -v apply --yes
printf '%s\n' "$OUT" >"$TEST_TMP/again"
check_lines "$TEST_TMP/again" '
assert [o["event"] for o in e] == ["finished"] and e[0]["message"] == "no changes", e
' && ok "no changes: one finished line" || not_ok "no changes: one finished line" "$OUT"

# --- a failing reload: failed, rolled back, level error; odd bytes stay JSON ---------------
printf 'printf "reload broke \\377\\n" >&2\nexit 7\n' >fail.sh
sed -i 's|echo reloaded >> out/reload.log|sh fail.sh|' certsync.yaml
sed -i 's/www.web.test]/www.web.test, api.web.test]/' certsync.yaml
"$CERTSYNC" apply --yes -v --log-format json >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
rc=$?
((rc == 1)) && ok "a failing apply exits 1" || not_ok "a failing apply exits 1" "exit $rc" "$(cat "$TEST_TMP/stderr")"
check_lines "$TEST_TMP/stderr" '
started = [o for o in e if o["event"] == "started"]
assert len(started) == 3 and all(o["level"] == "debug" for o in started), started
failed = [o for o in e if o["event"] == "failed"]
assert failed and failed[0]["level"] == "error" and failed[0]["host"] == "here", failed
assert any("reload broke" in o["message"] for o in e if o["level"] == "error"), e
assert any(o["event"] == "rolled_back" and o["level"] == "warning" for o in e), e
f = e[-1]
assert f["event"] == "finished" and f["level"] == "error" and f["exit"] == 1 and f["failed"] >= 1, f
' && ok "failure: started (-v), failed and rolled_back lines, finished with exit 1" ||
	not_ok "failure: started (-v), failed and rolled_back lines, finished with exit 1" "$(cat "$TEST_TMP/stderr")"

# --- config diagnostics and errors ----------------------------------------------------------
printf 'version: 1\nhosts:\n  here: { platform: linux, local: {} }\ncertificates:\n  x: { common_name: x.test, issuer: nope }\n' >bad.yaml
"$CERTSYNC" plan -c bad.yaml --log-format json >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
rc=$?
((rc == 1)) && ok "plan of a bad config exits 1" || not_ok "plan of a bad config exits 1" "exit $rc"
check_lines "$TEST_TMP/stderr" '
d = [o for o in e if o["event"] == "diagnostic"]
assert d and all(o["file"] == "bad.yaml" and o["level"] == "error" for o in d), e
assert any(o["line"] == 5 and "nope" in o["message"] for o in d), d
' && ok "diagnostics are JSON lines with file, line and col" ||
	not_ok "diagnostics are JSON lines with file, line and col" "$(cat "$TEST_TMP/stderr")"
"$CERTSYNC" apply --log-format json --yes --target host=nowhere >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
check_lines "$TEST_TMP/stderr" '
assert len(e) == 1 and e[0]["event"] == "error" and "nowhere" in e[0]["message"], e
' && ok "an error is one JSON line" || not_ok "an error is one JSON line" "$(cat "$TEST_TMP/stderr")"
expect_exit 1 "$CERTSYNC" apply --log-format yaml
expect_contains "$OUT" '^certsync: --log-format yaml: expected text or json$'
expect_exit 1 "$CERTSYNC" plan --log-format
expect_contains "$OUT" 'needs a value'

# --- text: quiet without a terminal, a progress line on one ---------------------------------
sed -i 's|sh fail.sh|echo reloaded >> out/reload.log|' certsync.yaml
sed -i 's/, api.web.test]/, api2.web.test]/' certsync.yaml
expect_exit 0 "$CERTSYNC" apply --yes
if grep -q $'\r' "$TEST_TMP/out" || grep -qF '[1/3]' "$TEST_TMP/out" || grep -q $'\033' "$TEST_TMP/out"; then
	not_ok "not a terminal: no progress line, no escapes" "$(cat -A "$TEST_TMP/out")"
else
	ok "not a terminal: no progress line, no escapes"
fi
expect_contains "$OUT" '^  done     #1 renew web: new ecdsa p256 key, certificate from ca issuer lab: serial'

if command -v script >/dev/null 2>&1; then
	sed -i 's/, api2.web.test]/, api3.web.test]/' certsync.yaml
	script -q -e -c "stty cols 200; '$CERTSYNC' apply --yes" /dev/null >"$TEST_TMP/tty" 2>&1
	rc=$?
	((rc == 0)) && ok "apply on a pty exits 0" || not_ok "apply on a pty exits 0" "exit $rc" "$(cat "$TEST_TMP/tty")"
	for want in $'\r\033\[K\[1/3\] renew web' $'\r\033\[K\[2/3\] bind web → here files' $'\r\033\[K\[3/3\] reload on here'; do
		grep -qE "$want" "$TEST_TMP/tty" && ok "pty: progress line ${want#*K}" ||
			not_ok "pty: progress line ${want#*K}" "$(cat -A "$TEST_TMP/tty")"
	done
	# The line is taken back before each outcome: "done" starts a line.
	grep -qE $'\r\033\[K  \033\[32mdone' "$TEST_TMP/tty" && ok "pty: the progress line is cleared before an outcome" ||
		not_ok "pty: the progress line is cleared before an outcome" "$(cat -A "$TEST_TMP/tty")"
	grep -qE '\([0-9]+\.[0-9] s\)' "$TEST_TMP/tty" && not_ok "pty: no timings without -v" || ok "pty: no timings without -v"
	# Narrow terminal: the line is cut to its width so \r can take it back.
	sed -i 's/, api3.web.test]/, api4.web.test]/' certsync.yaml
	script -q -e -c "stty cols 30; '$CERTSYNC' apply --yes -v" /dev/null >"$TEST_TMP/tty" 2>&1
	python3 - "$TEST_TMP/tty" <<'PY' && ok "pty: the progress line fits 30 columns" || not_ok "pty: the progress line fits 30 columns" "$(cat -A "$TEST_TMP/tty")"
import re, sys
t = open(sys.argv[1], encoding="utf-8", newline="").read()
lines = re.findall(r"\r\x1b\[K(\[\d/\d\][^\r\n]*)", t)
assert len(lines) == 3 and all(len(l) < 30 for l in lines), lines
PY
	grep -qE 'done.*#2 bind web.*\([0-9]+\.[0-9] s\)' "$TEST_TMP/tty" && ok "pty -v: each step's time" ||
		not_ok "pty -v: each step's time" "$(cat -A "$TEST_TMP/tty")"
else
	not_ok "script(1) is installed (util-linux)"
fi

done_testing
