#!/usr/bin/env bash
# Notifications (`notify:`): a webhook on a local HTTP receiver that checks
# the HMAC-SHA256 signature and answers 500 first (the retry is seen), a
# command notifier fed the event on stdin; the events expiring, failed,
# rolled_back and renewal_failing; a receiver that is down is a warning and
# never changes apply's exit status; the secret never appears in output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
mkdir -p "$d/out" "$d/hooks"
cd "$d" || exit 1
secret='hook-secret-5f2a'
(umask 077 && printf '%s\n' "$secret" >hook.secret)
export HOOK_SECRET=$secret
cat >hooks/page.sh <<'SH'
#!/bin/sh
cat >"$(dirname "$0")/../seen-$CERTSYNC_EVENT.json"
echo "$*" >"$(dirname "$0")/../seen-args"
SH
chmod +x hooks/page.sh

port=$(free_port)
python3 "$_lib_root/tests/integration/notify_receiver.py" "$port" hook.secret "$d/received.jsonl" 1 &
cleanup_add "kill $!"
wait_port "$port" || not_ok "receiver listens"

config() { # URL RETRIES
	cat >certsync.yaml <<YAML
version: 1
notify:
  - webhook: { url: "$1", secret: { env: HOOK_SECRET }, timeout: 5s, retries: $2 }
    on: [failed, rolled_back, expiring, renewal_failing]
    expiring_within: 100d
  - { command: { path: hooks/page.sh, args: [--team, ops] }, on: [failed] }
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    renew_before: 30d
    bindings:
      - host: here
        files: { cert: out/web.crt, key: out/web.key, reload: "test ! -e fail-reload" }
YAML
}
config "http://127.0.0.1:$port/hook?token=abc" 3
expect_exit 0 "$CERTSYNC" validate
received() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["n"], r["event"], r["status"], r["sig_ok"], r["content_type"], json.dumps(r["body"], sort_keys=True))' received.jsonl 2>/dev/null; }

# A good apply: the certificate expires within 100 days -> expiring; the
# first attempt gets 500, the retry goes through.
expect_exit 0 "$CERTSYNC" apply --yes
apply_out=$OUT
expect_contains "$(received)" '^1 expiring 500 True application/json'
expect_contains "$(received)" '^2 expiring 204 True application/json .*"event": "expiring", "items": \[\{"certificate": "web", "days_left": (89|90)'
expect_contains "$(received)" '"summary": "certsync: 1 certificate expires within 100 days"'
[[ $(received | wc -l) == 2 ]] && ok "nothing else was sent" || not_ok "nothing else was sent" "$(received)"
[[ ! -e seen-failed.json ]] && ok "no failure: the command is not run" || not_ok "no failure: the command is not run"
if grep -qF "$secret" <<<"$apply_out"; then not_ok "no secret in the output"; else ok "no secret in the output"; fi

# A failing reload: the bind is rolled back -> failed and rolled_back; the
# command gets the failure on stdin with its arguments.
: >received.jsonl
touch fail-reload
cp pki/ca.crt out/web.crt
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'FAILED'
expect_contains "$(received)" ' failed 204 True .*"event": "failed", "items": \[\{"action": "reload", "certificate": null, "host": "here", "message": "reload `test ! -e fail-reload` exited with status 1"'
expect_contains "$(received)" ' rolled_back 204 True .*"event": "rolled_back".*"what": "put back .*/out/web.crt \(#1 web\)"'
expect_contains "$(cat seen-failed.json 2>/dev/null)" '"event": ?"failed"'
expect_contains "$(cat seen-failed.json 2>/dev/null)" '"summary": ?"certsync apply: [0-9]+ failures?"'
[[ $(cat seen-args 2>/dev/null) == "--team ops" ]] && ok "the command gets its args" || not_ok "the command gets its args" "$(cat seen-args 2>/dev/null)"
rm -f fail-reload
expect_exit 0 "$CERTSYNC" apply --yes

# Inside the renewal window with a CA that cannot sign -> renewal_failing.
: >received.jsonl
chmod 644 pki/ca.key
CERTSYNC_NOW=$(($(date +%s) + 70 * 86400)) expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$(received)" ' renewal_failing 204 True .*"certificate": "web".*"days_left": (19|20).*"message": ".*readable by others'
expect_contains "$(received)" ' failed 204 True '
chmod 600 pki/ca.key

# A receiver that is down: a warning naming the notifier (not its URL's
# token), and the exit status apply would have had anyway.
down=$(free_port)
config "http://127.0.0.1:$down/hook?token=abc" 1
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "certsync: warning: notify 1 \(webhook to 127.0.0.1:$down\): event expiring not delivered after 2 attempts: .*"
if grep -qF -e 'token=abc' -e "$secret" <<<"$OUT"; then not_ok "the warning shows neither token nor secret"; else ok "the warning shows neither token nor secret"; fi
touch fail-reload
cp pki/ca.crt out/web.crt
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'event failed not delivered'
rm -f fail-reload

# A command notifier that fails is a warning too.
printf '#!/bin/sh\necho "pager is down" >&2\nexit 3\n' >hooks/page.sh
config "http://127.0.0.1:$port/hook" 0
touch fail-reload
cp pki/ca.crt out/web.crt
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'certsync: warning: notify 2 \(command page.sh\): event failed not delivered: exited with status 3: pager is down'
rm -f fail-reload

done_testing
