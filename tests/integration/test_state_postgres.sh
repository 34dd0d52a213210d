#!/usr/bin/env bash
# settings.state.postgres against a real PostgreSQL 15 started here: plan,
# apply, status, metrics and calendar on the database; keys sealed (pg_dump
# holds none in clear); per-certificate and per-host locks (two runners on
# disjoint --target at once, an overlapping one refused with exit 3 naming
# the holder, kill -9 frees the locks); push/pull verified; rekey; a wrong
# key fails closed; the database restarting mid-apply.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_start
export CERTSYNC_PG=$PG_DSN
export TMPDIR=$TEST_TMP/tmp
mkdir -p "$TMPDIR"

d=$TEST_TMP/site
make_ca "$d" ca
extra='  api:
    common_name: api.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - host: there
        files: { cert: out/api.crt, key: out/api.key, reload: "echo api >> out/reload.log" }'
# web's reload waits while the file "hold" exists: a run kept in the middle.
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' \
	'echo web >> out/reload.log; while [ -e hold ]; do sleep 0.1; done' "$extra"
cd "$d"
# A second local host, and the state in the database.
python3 - <<'PY'
import re
s = open('certsync.yaml').read()
s = s.replace("  here: { platform: linux, local: {} }\n",
              "  here: { platform: linux, local: {} }\n  there: { platform: linux, local: {} }\n")
s = s.replace("version: 1\n", "version: 1\nsettings:\n  state:\n    postgres: { dsn: { env: CERTSYNC_PG }, key: { file: pki/state.key } }\n")
open('certsync.yaml', 'w').write(s)
PY
(umask 077 && openssl rand -hex 32 >pki/state.key)

expect_exit 0 "$CERTSYNC" validate
# Unreachable: the error names the socket, never the password of the dsn.
CERTSYNC_PG="host=$TEST_TMP/nowhere dbname=certsync password=hunter2" expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" 'certsync: state database: connect: .*nowhere'
grep -q hunter2 <<<"$OUT" && not_ok "connect error shows no password" || ok "connect error shows no password"
echo 1234 >pki/short.key && chmod 600 pki/short.key
sed 's#pki/state.key#pki/short.key#' certsync.yaml >short.yaml
expect_exit 1 "$CERTSYNC" plan -c short.yaml
expect_contains "$OUT" 'state database: state key \(file .*/pki/short.key\) must be 64 hex digits'
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" 'state database: no certsync schema yet: run certsync state migrate'
expect_exit 0 "$CERTSYNC" state migrate
expect_contains "$OUT" 'schema version 1'
expect_exit 0 "$CERTSYNC" state migrate
expect_contains "$OUT" 'already at schema version 1'

expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'renew web: new ecdsa p256 key'
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'Apply complete: 6 done, 0 failed, 0 skipped'
[ ! -e .certsync ] && ok "no state folder beside the config" || not_ok "no state folder beside the config"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'No changes'
expect_exit 0 "$CERTSYNC" status --json
expect_contains "$OUT" '"state": "in sync"'
expect_exit 0 "$CERTSYNC" metrics
expect_contains "$OUT" 'certsync_certificate_not_before_timestamp_seconds\{certificate="web"'
expect_exit 0 "$CERTSYNC" calendar
expect_contains "$OUT" 'BEGIN:VCALENDAR'
uid1=$(grep '^UID:' <<<"$OUT")
expect_exit 0 "$CERTSYNC" calendar
[ -n "$uid1" ] && [ "$(grep '^UID:' <<<"$OUT")" = "$uid1" ] && ok "calendar UIDs stay the same from run to run" ||
	not_ok "calendar UIDs stay the same" "$uid1" "$(grep '^UID:' <<<"$OUT")"
n=$(pg_psql "SELECT count(*) FROM certsync_files WHERE path LIKE 'certs/%/key.pem'")
[ "$n" = 2 ] && ok "two keys in the database" || not_ok "two keys in the database" "$n"
n=$(pg_psql "SELECT count(DISTINCT key_id) FROM certsync_files WHERE path LIKE '%key.pem'")
[ "$n" = 1 ] && ok "keys carry a key id" || not_ok "keys carry a key id" "$n"
ls -d "$TMPDIR"/certsync-state-* 2>/dev/null | grep -q . &&
	not_ok "working copies removed" "$(ls -d "$TMPDIR"/certsync-state-*)" || ok "working copies removed"

# pg_dump: no private key in clear.
pg_as "$PG_BIN/pg_dump" -h "$PG_DIR/sock" -U certsync certsync >"$TEST_TMP/dump.sql" 2>/dev/null
if ! grep -q 'certsync_files' "$TEST_TMP/dump.sql"; then
	not_ok "pg_dump ran"
elif grep -qi 'PRIVATE KEY\|2d2d2d2d2d424547494e2050524956415445' "$TEST_TMP/dump.sql"; then
	not_ok "pg_dump holds no private key in clear"
else
	ok "pg_dump holds no private key in clear"
fi
k=$(openssl pkey -in out/web.key -outform DER 2>/dev/null | xxd -p | tr -d '\n' | cut -c 1-64)
grep -q "$k" "$TEST_TMP/dump.sql" && not_ok "dump has no key bytes" || ok "dump has no key bytes"

# ---- locks: per certificate and per host ----
reloads() { grep -c "^$1\$" out/reload.log; }
wait_reload() { # wait_reload NAME COUNT
	for _ in $(seq 300); do [ "$(reloads "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}
touch hold
rm -f out/web.crt out/api.crt
w=$(reloads web)
"$CERTSYNC" apply --yes --target cert=web >"$TEST_TMP/a.out" 2>&1 &
a_pid=$!
cleanup_add "kill -9 $a_pid"
wait_reload web $((w + 1)) && ok "runner A holds web in its reload" || not_ok "runner A holds web in its reload"
expect_exit 0 "$CERTSYNC" apply --yes --target cert=api
expect_contains "$OUT" 'Apply complete: 2 done, 0 failed'
[ -s out/api.crt ] && ok "runner B on a disjoint target converged meanwhile" || not_ok "runner B converged"
expect_exit 3 "$CERTSYNC" apply --yes --target cert=web
expect_contains "$OUT" "state database: certificate web is locked by certsync apply $(id -un)@.* pid $a_pid since 20"
expect_exit 3 "$CERTSYNC" apply --yes --target host=here --lock-timeout 1s
expect_contains "$OUT" 'locked by certsync apply .*\(gave up waiting\)'
expect_exit 0 "$CERTSYNC" plan --target cert=web
kill -9 "$a_pid"; wait "$a_pid" 2>/dev/null
rm -f hold
expect_exit 0 "$CERTSYNC" apply --yes --target cert=web
[ -s out/web.crt ] && ok "kill -9 freed the locks at once: the next run converged" || not_ok "locks freed after kill -9"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'No changes'

# ---- pull and push: verified and idempotent ----
expect_exit 0 "$CERTSYNC" state pull
expect_contains "$OUT" 'state pull: [0-9]+ files from the database in .*/\.certsync, verified'
n_pull=$(grep -o 'pull: [0-9]*' <<<"$OUT")
[ "$(stat -c %a .certsync/certs/web/key.pem)" = 600 ] && ok "pulled key is 0600" || not_ok "pulled key is 0600"
cmp -s <(openssl pkey -in .certsync/certs/web/key.pem -pubout) <(openssl x509 -in out/web.crt -noout -pubkey) &&
	ok "pulled key opens: it matches the bound certificate" || not_ok "pulled key matches"
expect_exit 0 "$CERTSYNC" state pull
[ "$(grep -o 'pull: [0-9]*' <<<"$OUT")" = "$n_pull" ] && ok "pull again: the same files" || not_ok "pull idempotent"
serial=$(openssl x509 -in out/web.crt -noout -serial)
pg_psql 'DELETE FROM certsync_files' >/dev/null
expect_exit 0 "$CERTSYNC" state push
expect_contains "$OUT" 'state push: [0-9]+ files from .*/\.certsync in the database, verified'
expect_exit 0 "$CERTSYNC" state push
expect_contains "$OUT" 'verified'
mv .certsync "$TEST_TMP/folder-copy"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'No changes'

# ---- wrong key fails closed; rekey ----
(umask 077 && openssl rand -hex 32 >pki/new.key && openssl rand -hex 32 >pki/wrong.key)
cp pki/state.key pki/old.key
cp pki/wrong.key pki/state.key
before=$(pg_psql 'SELECT max(updated_at) FROM certsync_files')
rm -f out/web.crt
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'state database: private keys are sealed under key id [0-9A-F]{16}, settings.state.postgres.key \(file .*/pki/state.key\) is key id [0-9A-F]{16}: wrong key, nothing was changed'
[ ! -e out/web.crt ] && ok "wrong key: no host touched" || not_ok "wrong key: no host touched"
[ "$(pg_psql 'SELECT max(updated_at) FROM certsync_files')" = "$before" ] && ok "wrong key: database unchanged" ||
	not_ok "wrong key: database unchanged"
expect_exit 1 "$CERTSYNC" status
cp pki/old.key pki/state.key
expect_exit 0 "$CERTSYNC" state rekey --new-key pki/new.key
expect_contains "$OUT" 'state rekey: [0-9]+ keys sealed again, key id [0-9A-F]+ -> [0-9A-F]+'
expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" 'wrong key, nothing was changed'
cp pki/new.key pki/state.key
expect_exit 0 "$CERTSYNC" apply --yes
[ "$(openssl x509 -in out/web.crt -noout -serial)" = "$serial" ] &&
	ok "after push and rekey the same certificate is bound again, not re-issued" || not_ok "no re-issue after rekey"

# ---- the database restarts mid-apply; killed mid-issue ----
touch hold
rm -f out/web.crt
w=$(reloads web)
"$CERTSYNC" apply --yes --target cert=web >"$TEST_TMP/r.out" 2>&1 &
r_pid=$!
wait_reload web $((w + 1)) || not_ok "apply reached the reload"
pg_restart
rm -f hold
wait "$r_pid"; rc=$?
[ "$rc" = 1 ] && ok "database restart mid-apply: exit 1" || not_ok "database restart mid-apply: exit 1" "rc=$rc"
expect_contains "$(cat "$TEST_TMP/r.out")" 'state database: (append to|write) [a-z/.]+.*(terminat|closed|connection)'
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'No changes'
[ "$(openssl x509 -in out/web.crt -noout -serial)" = "$serial" ] && ok "rerun converged without re-issuing" ||
	not_ok "rerun converged without re-issuing"

# Killed right after the CA signed: the rerun saves that same certificate.
sed -i '0,/curve: p256/s//curve: p384/' certsync.yaml   # web wants a new key
CERTSYNC_FAULT=renew.signed "$CERTSYNC" apply --yes --target cert=web >"$TEST_TMP/k.out" 2>&1
# The issuance record holds the key: sealed in the database like key.pem;
# `state pull` opens it into the state folder, where its serial is read.
records=$(pg_psql "SELECT count(*) FROM certsync_files WHERE path LIKE 'issuing/%.json'")
clear=$(pg_psql "SELECT count(*) FROM certsync_files WHERE path LIKE 'issuing/%' AND position('PRIVATE KEY'::bytea in data) > 0")
[ "$records" = 1 ] && [ "$clear" = 0 ] && ok "killed mid-issue: the issuance record is in the database, sealed" ||
	not_ok "killed mid-issue: the issuance record is in the database, sealed" "$records records, $clear in clear"
rm -rf .certsync
expect_exit 0 "$CERTSYNC" state pull
signed=$(jq -r '.issuing[] | select(.name == "web") | .serial' .certsync/issuing/*.json 2>/dev/null)
[ -n "$signed" ] && ok "killed mid-issue: the issuing intent is in the database" || not_ok "issuing intent in the database"
rm -rf .certsync
expect_exit 0 "$CERTSYNC" apply --yes --target cert=web
n=$(pg_psql "SELECT convert_from(data, 'UTF8') FROM certsync_files WHERE path = 'certs/web/issued.jsonl'" | grep -c serial)
got=$(openssl x509 -in out/web.crt -noout -serial | cut -d= -f2)
grep -qi "$got" <<<"$signed" && ok "killed mid-issue: the rerun bound the certificate signed before" ||
	not_ok "killed mid-issue: same certificate" "$signed" "$got"
[ "$n" = 2 ] && ok "issued once per renewal (ledger has 2 lines)" || not_ok "ledger lines" "$n"

done_testing
