#!/usr/bin/env bash
# certsync metrics against a local CA on this machine: the output is valid
# Prometheus text (checked by a strict reader, itself checked against bad
# input first), expiry values equal openssl's view of the stored
# certificate, drift shows when a bound file is changed by hand, the
# last-apply metrics follow each apply (a failed one as failed), an
# unreachable host and a dead verify endpoint read 0 / error without failing
# the command, label values with quotes, backslashes and newlines come back
# intact, the order is stable, a bad config exits 1 with nothing on stdout,
# and a state folder with a problem (open to others, a readable key, an
# unreadable journal) still gives every metric it can plus certsync_state_ok 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

prom=$(cd "$(dirname "$0")" && pwd)/prom_text.py

d=$TEST_TMP/site
make_ca "$d" ca
# The reload fails while out/fail-reload exists: how this test makes an apply fail.
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' 'test ! -e out/fail-reload'
cd "$d" || exit 1

# metrics_to FILE [ARGS...]: run certsync metrics into FILE, check exit 0
# and that FILE is valid exposition text.
metrics_to() {
	local file=$1
	shift
	"$CERTSYNC" metrics "$@" >"$file" 2>"$TEST_TMP/err"
	local rc=$?
	if ((rc == 0)); then
		ok "metrics $* exits 0"
	else
		not_ok "metrics $* exits 0" "exit $rc" "$(cat "$TEST_TMP/err")"
	fi
	local why
	if why=$(python3 "$prom" check "$file"); then
		ok "metrics $* is valid exposition text"
	else
		not_ok "metrics $* is valid exposition text" "$why"
	fi
}

# expect_metric FILE WANT NAME [LABEL=VALUE]...: the sample's value ("absent" when none).
expect_metric() {
	local file=$1 want=$2
	shift 2
	local got name="$* = $want"
	name=${name//$'\n'/\\n} # one TAP line even for a label value with a newline
	got=$(python3 "$prom" get "$file" "$@")
	if [[ $got == "$want" ]]; then
		ok "$name"
	else
		not_ok "$name" "got $got"
	fi
}

epoch_of() { date -u -d "$(openssl x509 -in .certsync/certs/web/cert.pem -noout "$1" | cut -d= -f2)" +%s; }

# --- the reader rejects what a scraper would ---------------------------------
bad=$TEST_TMP/bad.prom
reject() {
	printf '%b' "$2" >"$bad"
	local why
	why=$(python3 "$prom" check "$bad" 2>&1)
	if [[ $why == "invalid exposition: "* ]]; then
		ok "reader rejects $1"
	else
		not_ok "reader rejects $1" "$why"
	fi
}
reject "a sample without HELP/TYPE" 'x 1\n'
reject "an unescaped quote" '# HELP x h\n# TYPE x gauge\nx{a="b"c"} 1\n'
reject "a bad escape" '# HELP x h\n# TYPE x gauge\nx{a="\\t"} 1\n'
reject "a family split in two" '# HELP x h\n# TYPE x gauge\nx 1\n# HELP y h\n# TYPE y gauge\ny 1\nx{a="1"} 2\n'
reject "a series twice" '# HELP x h\n# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'
reject "a bad value" '# HELP x h\n# TYPE x gauge\nx 1,5\n'
reject "a missing final newline" '# HELP x h\n# TYPE x gauge\nx 1'

# --- before anything was applied ---------------------------------------------
m0=$TEST_TMP/m0.prom
metrics_to "$m0"
expect_metric "$m0" 1 certsync_build_info version="$("$CERTSYNC" version | cut -d' ' -f2)"
expect_metric "$m0" 0 certsync_certificate_present certificate=web
expect_metric "$m0" absent certsync_certificate_not_after_timestamp_seconds certificate=web
expect_metric "$m0" 1 certsync_certificate_renewal_due certificate=web
expect_metric "$m0" 0 certsync_binding_in_sync certificate=web host=here kind=files binding=0
expect_metric "$m0" 1 certsync_plan_actions kind=renew
expect_metric "$m0" absent certsync_last_apply_timestamp_seconds
expect_metric "$m0" 1 certsync_host_reachable host=here

# --- after a successful apply ------------------------------------------------
expect_exit 0 "$CERTSYNC" apply --yes
m1=$TEST_TMP/m1.prom
metrics_to "$m1"
expect_metric "$m1" 1 certsync_certificate_present certificate=web
expect_metric "$m1" "$(epoch_of -enddate)" certsync_certificate_not_after_timestamp_seconds certificate=web
expect_metric "$m1" "$(epoch_of -startdate)" certsync_certificate_not_before_timestamp_seconds certificate=web
# renew_before defaults to 30d.
expect_metric "$m1" "$(($(epoch_of -enddate) - 30 * 86400))" certsync_certificate_renewal_due_timestamp_seconds certificate=web
serial=$(openssl x509 -in .certsync/certs/web/cert.pem -noout -serial | cut -d= -f2 | sed 's/^0*//')
expect_metric "$m1" 1 certsync_certificate_info certificate=web issuer=lab issuer_kind=ca serial="$serial"
expect_metric "$m1" 0 certsync_certificate_renewal_due certificate=web
expect_metric "$m1" 1 certsync_binding_in_sync certificate=web host=here binding=0
expect_metric "$m1" 0 certsync_binding_error certificate=web host=here binding=0
expect_metric "$m1" 0 certsync_plan_actions kind=bind
expect_metric "$m1" 1 certsync_last_apply_success
expect_metric "$m1" 3 certsync_last_apply_actions result=done
expect_metric "$m1" 0 certsync_last_apply_actions result=failed
t1=$(python3 "$prom" get "$m1" certsync_last_apply_timestamp_seconds)
now=$(date +%s)
((t1 > now - 120 && t1 <= now)) && ok "last apply time is just now" || not_ok "last apply time is just now" "$t1 vs $now"
grep -q '"type":"apply".*"result":"success"' .certsync/journal.jsonl && ok "journal has the apply summary" \
	|| not_ok "journal has the apply summary" "$(tail -3 .certsync/journal.jsonl)"
# Action records still read as before (what test_local_ca checks).
expect_contains .certsync/journal.jsonl '"action": ?"renew".*"result": ?"done"'

# Stable order: two runs at the same (pinned) time differ at most in the
# scrape duration.
m1a=$TEST_TMP/m1a.prom m1b=$TEST_TMP/m1b.prom
CERTSYNC_NOW=$now metrics_to "$m1a"
CERTSYNC_NOW=$now metrics_to "$m1b"
if diff <(grep -v '^certsync_metrics_scrape_duration_seconds' "$m1a") \
	<(grep -v '^certsync_metrics_scrape_duration_seconds' "$m1b") >"$TEST_TMP/diff"; then
	ok "two runs give the same output but for the duration"
else
	not_ok "two runs give the same output but for the duration" "$(cat "$TEST_TMP/diff")"
fi
expect_metric "$m1a" "$now" certsync_metrics_timestamp_seconds
expect_contains "$(cat "$m1")" '^# HELP certsync_build_info '
grep -q 'PRIVATE KEY' "$m1" && not_ok "no key material in metrics" || ok "no key material in metrics"

# --- drift: the bound certificate replaced by hand ---------------------------
cp pki/ca.crt out/web.crt
m2=$TEST_TMP/m2.prom
metrics_to "$m2"
expect_metric "$m2" 0 certsync_binding_in_sync certificate=web host=here binding=0
expect_metric "$m2" 0 certsync_binding_error certificate=web host=here binding=0
expect_metric "$m2" 1 certsync_plan_actions kind=bind

# --- a failed apply (the reload fails, the files are put back) --------------
touch out/fail-reload
later=$(($(date +%s) + 3600))
CERTSYNC_NOW=$later expect_exit 1 "$CERTSYNC" apply --yes
m3=$TEST_TMP/m3.prom
metrics_to "$m3"
expect_metric "$m3" "$later" certsync_last_apply_timestamp_seconds
expect_metric "$m3" 0 certsync_last_apply_success
failed=$(python3 "$prom" get "$m3" certsync_last_apply_actions result=failed)
((failed >= 1)) && ok "the failed action is counted" || not_ok "the failed action is counted" "failed=$failed"
rolled=$(python3 "$prom" get "$m3" certsync_last_apply_actions result=rolled_back)
((rolled >= 1)) && ok "the rollback is counted" || not_ok "the rollback is counted" "rolled_back=$rolled"
expect_metric "$m3" 0 certsync_binding_in_sync certificate=web host=here binding=0
rm out/fail-reload
expect_exit 0 "$CERTSYNC" apply --yes
m4=$TEST_TMP/m4.prom
metrics_to "$m4"
expect_metric "$m4" 1 certsync_last_apply_success
expect_metric "$m4" 1 certsync_binding_in_sync certificate=web host=here binding=0
# Nothing to do is a run too.
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$(tail -1 .certsync/journal.jsonl)" '"type":"apply".*"actions":0'

# --- expiry near: renewal due without touching the certificate --------------
m5=$TEST_TMP/m5.prom
CERTSYNC_NOW=$(($(epoch_of -enddate) - 86400)) metrics_to "$m5"
expect_metric "$m5" 1 certsync_certificate_renewal_due certificate=web
expect_metric "$m5" 1 certsync_plan_actions kind=renew

# --- verify endpoints: one serving the certificate, one closed --------------
port=$(free_port)
closed=$(free_port)
openssl s_server -quiet -accept "$port" -cert out/web.crt -key out/web.key -www >/dev/null 2>&1 &
cleanup_add "kill $!"
wait_port "$port" || not_ok "openssl s_server listens"
cat >>certsync.yaml <<YAML
    verify:
      - { connect: "127.0.0.1:$port", ca_bundle: pki/ca.crt }
      - { connect: "127.0.0.1:$closed" }
YAML
m6=$TEST_TMP/m6.prom
metrics_to "$m6"
expect_metric "$m6" 1 certsync_endpoint_serving_current certificate=web host=here verify=0 connect="127.0.0.1:$port"
expect_metric "$m6" 1 certsync_endpoint_chain_valid certificate=web verify=0
expect_metric "$m6" 0 certsync_endpoint_error certificate=web verify=0
expect_metric "$m6" 1 certsync_endpoint_error certificate=web verify=1
expect_metric "$m6" absent certsync_endpoint_serving_current certificate=web verify=1
m7=$TEST_TMP/m7.prom
metrics_to "$m7" --no-probe
grep -q '^# HELP certsync_endpoint' "$m7" && not_ok "--no-probe: no endpoint metrics" || ok "--no-probe: no endpoint metrics"

# --- an unreachable host, and label values that need escaping ---------------
odd_path=$'out/q"uote\\back\nline.crt'
cat >>certsync.yaml <<YAML
  odd:
    common_name: odd.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - host: here
        files: { cert: "out/q\"uote\\\\back\\nline.crt" }
      - host: down
        files: { cert: /etc/odd.crt }
YAML
sed -i "s/^hosts:/hosts:\n  down: { platform: linux, ssh: { address: 127.0.0.1, port: $closed, user: nobody, timeout: 5s } }/" certsync.yaml
expect_exit 0 "$CERTSYNC" validate
m8=$TEST_TMP/m8.prom
metrics_to "$m8" --no-probe
expect_metric "$m8" 0 certsync_host_reachable host=down
expect_metric "$m8" 1 certsync_host_reachable host=here
expect_metric "$m8" 1 certsync_binding_error certificate=odd host=down binding=1
expect_metric "$m8" absent certsync_binding_in_sync certificate=odd host=down binding=1
expect_metric "$m8" 0 certsync_binding_in_sync certificate=odd host=here target="$PWD/$odd_path"
expect_metric "$m8" 1 certsync_binding_in_sync certificate=web host=here
expect_contains "$(cat "$m8")" 'target="[^"]*/out/q\\"uote\\\\back\\nline\.crt"'
# The odd certificate's apply, limited to this machine, writes the odd file.
expect_exit 0 "$CERTSYNC" apply --yes --target host=here
[[ -f $odd_path ]] && ok "file with quote, backslash and newline written" || not_ok "file with quote, backslash and newline written"
m9=$TEST_TMP/m9.prom
metrics_to "$m9" --no-probe
expect_metric "$m9" 1 certsync_binding_in_sync certificate=odd host=here target="$PWD/$odd_path"
# The whole fleet: the unreachable host is a plan error, so apply fails.
expect_exit 1 "$CERTSYNC" apply --yes
m10=$TEST_TMP/m10.prom
metrics_to "$m10" --no-probe
expect_metric "$m10" 0 certsync_last_apply_success
expect_metric "$m10" 1 certsync_plan_errors

# --target: only what is selected.
m11=$TEST_TMP/m11.prom
metrics_to "$m11" --no-probe --target cert=web
expect_metric "$m11" absent certsync_certificate_present certificate=odd
expect_metric "$m11" 1 certsync_certificate_present certificate=web
expect_metric "$m11" absent certsync_host_reachable host=down
expect_metric "$m11" 1 certsync_state_ok
expect_metric "$m11" absent certsync_state_problem reason=unsafe_key_file

# --- errors: exit 1, nothing on stdout ---------------------------------------
expect_exit 1 "$CERTSYNC" metrics -c nowhere.yaml
"$CERTSYNC" metrics -c nowhere.yaml 2>/dev/null | grep -q . && not_ok "bad config: stdout empty" || ok "bad config: stdout empty"

# --- a state folder with a problem: reported, not a blind spot ---------------
# Monitoring must see the problem exactly when there is one: the metrics
# still come, with certsync_state_ok 0 and what the problem is.
chmod 755 .certsync
m12=$TEST_TMP/m12.prom
metrics_to "$m12" --no-probe
expect_contains "$(cat "$TEST_TMP/err")" 'warning: state folder .* is accessible by others'
expect_metric "$m12" 0 certsync_state_ok
expect_metric "$m12" 1 certsync_state_problem reason=folder_open_to_others
expect_metric "$m12" 1 certsync_certificate_present certificate=web
chmod 700 .certsync
chmod 644 .certsync/certs/web/key.pem
m13=$TEST_TMP/m13.prom
metrics_to "$m13" --no-probe
expect_contains "$(cat "$TEST_TMP/err")" 'warning: key file .*web/key.pem is accessible by others'
expect_metric "$m13" 0 certsync_state_ok
expect_metric "$m13" 1 certsync_state_problem reason=unsafe_key_file
expect_metric "$m13" 1 certsync_certificate_error certificate=web
expect_metric "$m13" 0 certsync_certificate_error certificate=odd
expect_metric "$m13" 1 certsync_host_reachable host=here
# status says it too (exit 1: it is an error), and still shows the rest.
expect_exit 1 "$CERTSYNC" status
expect_contains "$OUT" 'state folder: key file .*web/key.pem is accessible by others'
expect_contains "$OUT" 'odd \('
chmod 600 .certsync/certs/web/key.pem
# A journal that cannot be read: the last-apply metrics go, the rest stays.
mv .certsync/journal.jsonl journal.keep
mkfifo .certsync/journal.jsonl
m14=$TEST_TMP/m14.prom
timeout 20 "$CERTSYNC" metrics --no-probe >"$m14" 2>"$TEST_TMP/err"
[ $? = 0 ] && ok "metrics with a fifo for a journal exits 0 at once" || not_ok "metrics with a fifo for a journal exits 0 at once" "$(cat "$TEST_TMP/err")"
expect_metric "$m14" 0 certsync_state_ok
expect_metric "$m14" 1 certsync_state_problem reason=journal_unreadable
expect_metric "$m14" 1 certsync_certificate_present certificate=web
rm .certsync/journal.jsonl
mv journal.keep .certsync/journal.jsonl
expect_exit 1 "$CERTSYNC" metrics extra-argument
expect_exit 0 "$CERTSYNC" help metrics
expect_contains "$OUT" 'usage: certsync metrics'
done_testing
