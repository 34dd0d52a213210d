# tests/integration/pg_lib.sh — a private PostgreSQL 15 for one test script.
#
#   . "$(dirname "$0")/pg_lib.sh"
#   pg_start            # initdb into $TEST_TMP/pg, listen on a unix socket there
#   pg_dsn              # the libpq connection string for database "certsync"
#   pg_psql SQL         # run SQL as the test superuser, unaligned output
#   pg_restart / pg_stop_server / pg_start_server
#
# The server runs as an unprivileged user: the invoking user, or "postgres"
# (else "nobody") when the script runs as root.  It listens on no TCP port,
# only on a socket in $TEST_TMP/pg, and is stopped at exit (cleanup_add).
# shellcheck shell=bash

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || PG_BIN=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")

pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	if [ ! -x "$PG_BIN/initdb" ]; then
		echo "1..0 # SKIP postgresql-15 is not installed (scripts/install-deps.sh)"
		exit 0
	fi
	PG_DIR=$TEST_TMP/pg
	PG_USER=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		PG_USER=postgres
		getent passwd postgres >/dev/null || PG_USER=nobody
		chmod 711 "$TEST_TMP"
	fi
	mkdir -p "$PG_DIR/sock"
	[ "$(id -u)" = 0 ] && chown -R "$PG_USER" "$PG_DIR"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U certsync --auth=trust -E UTF8 --no-sync \
		>"$PG_DIR/initdb.log" 2>&1 || { echo "Bail out! initdb failed"; cat "$PG_DIR/initdb.log" >&2; exit 1; }
	cat >>"$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR/sock'
fsync = off
max_connections = 40
CONF
	pg_start_server
	cleanup_add "pg_as '$PG_BIN/pg_ctl' -D '$PG_DIR/data' -m immediate stop"
	pg_psql 'CREATE DATABASE certsync' >/dev/null
	PG_DB=certsync
	PG_DSN="host=$PG_DIR/sock dbname=certsync user=certsync"
}

pg_start_server() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 start >/dev/null ||
		{ echo "Bail out! postgres did not start"; cat "$PG_DIR/server.log" >&2; exit 1; }
}

pg_stop_server() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}

pg_restart() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w restart -l "$PG_DIR/server.log" >/dev/null
}

pg_dsn() { echo "$PG_DSN"; }

pg_psql() {
	psql -h "$PG_DIR/sock" -U certsync -d "${PG_DB:-postgres}" -XAtq -v ON_ERROR_STOP=1 -c "$1"
}
