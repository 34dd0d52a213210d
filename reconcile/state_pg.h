/* The state in PostgreSQL (settings.state.postgres).
 *
 * One table holds every file of the state folder by its relative path
 * ("certs/web/key.pem", "journal.jsonl", "acme/orders/web.json"); private
 * keys (every "*key.pem") are sealed with AES-256-GCM under the key from
 * settings.state.postgres.key before they leave the process, stored with
 * that key's id, the path as associated data.  The database never holds a
 * key in clear nor anything that opens one.
 *
 *   certsync_schema  (version)                       schema version, migrations
 *   certsync_files   (path, data, key_id, writer_pid, writer_start, updated_at)
 *
 * A run works on a private copy of the state folder (0700, in TMPDIR)
 * made after it took its locks, and every change goes to the database
 * first (providers/base/state_mirror.h): a run that dies leaves the
 * database as the folder would have been.  The copy is removed at the end.
 *
 * Locks are session-level advisory locks, one per certificate lineage and
 * one per host a run touches; the session's application_name names the
 * holder ("certsync apply USER@MACHINE pid N since TIME").  A run that is
 * killed, or whose connection drops, releases them with its session.
 *
 * Nothing here prints; errors start "state database" and never show the
 * connection string or the key. */
#ifndef CS_STATE_PG_H
#define CS_STATE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "providers/base/err.h"
#include "providers/base/secret.h"

struct cs_state_pg;

#define CS_STATE_PG_SCHEMA 1   /* the schema version this build writes */

/* Connect (dsn from its secret reference) and load the sealing key; when
 * migrate, create or upgrade the schema (*migrated then says from which
 * version: 0 for a new database, -1 when nothing was done).  Without
 * migrate, a database without the schema is -ENOENT ("run certsync state
 * migrate").  Refuses (-EKEYREJECTED) a database whose keys are sealed
 * under another key, before anything is changed.  command names the
 * session ("apply", "plan", ...). */
int cs_state_pg_open(struct cs_state_pg **out, const struct cs_secret *dsn, const struct cs_secret *key,
		     const char *command, bool migrate, int *migrated, struct cs_err *err);
void cs_state_pg_close(struct cs_state_pg *db); /* ends the session (its locks), removes the copy; NULL ok */

/* Take the advisory lock of kind ("certificate", "host") name, waiting up
 * to timeout seconds (0: not at all).  -EBUSY naming the holder. */
int cs_state_pg_lock(struct cs_state_pg *db, const char *kind, const char *name, int64_t timeout,
		     struct cs_err *err);

/* Make the private working copy and mirror its changes to the database;
 * *dir is the copy (owned by db). */
int cs_state_pg_attach(struct cs_state_pg *db, const char **dir, struct cs_err *err);

/* Write every row into the folder dir (made 0700 when missing), keys
 * unsealed; *n counts the files.  Run records of live sessions are left
 * out (all_runs: included). */
int cs_state_pg_pull(struct cs_state_pg *db, const char *dir, bool all_runs, size_t *n, struct cs_err *err);
/* Folder dir → database in one transaction (rows the folder lacks are
 * kept), then read back and compared; *n counts the files. */
int cs_state_pg_push(struct cs_state_pg *db, const char *dir, size_t *n, struct cs_err *err);
/* Compare dir with the database: *n files, -EIO naming the first that
 * differs or is missing. */
int cs_state_pg_verify(struct cs_state_pg *db, const char *dir, size_t *n, struct cs_err *err);
/* Seal every key again under new_key, in one transaction. *n counts them. */
int cs_state_pg_rekey(struct cs_state_pg *db, const struct cs_secret *new_key, size_t *n, struct cs_err *err);

/* The key id of the configured key (16 hex digits). */
const char *cs_state_pg_key_id(const struct cs_state_pg *db);

#endif
