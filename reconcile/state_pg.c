/* The state in PostgreSQL: see state_pg.h. */
#include "reconcile/state_pg.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "providers/base/buf.h"
#include "providers/base/state_mirror.h"
#include "providers/base/util.h"

#define LOCK_CLASS_MIGRATE 7300
#define LOCK_CLASS_CERT 7301
#define LOCK_CLASS_HOST 7302
#define NONCE_LEN 12
#define TAG_LEN 16
#define MAX_FILE (16u << 20)

struct cs_state_pg {
	PGconn *conn;
	unsigned char key[32];
	char key_id[17];
	char *copy;                    /* the private working copy, or NULL */
	struct cs_state_mirror mirror;
	/* Host workers write state from several threads; one connection
	 * serves one query at a time. */
	pthread_mutex_t mu;
};

/* ---- the sealing key ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int load_key(unsigned char key[32], char id[17], const struct cs_secret *s, struct cs_err *err)
{
	struct cs_buf b = CS_BUF_INIT;
	char what[300];
	int r = cs_secret_resolve_line(s, &b, err);
	if (r < 0)
		goto out;
	size_t n = b.len;
	while (n && isspace((unsigned char)b.data[n - 1]))
		n--;
	if (n != 64) {
		r = cs_err_set(err, -EINVAL, "state key (%s) must be 64 hex digits (openssl rand -hex 32)",
			       cs_secret_describe(s, what, sizeof what));
		goto out;
	}
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval((unsigned char)b.data[2 * i]), lo = hexval((unsigned char)b.data[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			r = cs_err_set(err, -EINVAL, "state key (%s) must be 64 hex digits (openssl rand -hex 32)",
				       cs_secret_describe(s, what, sizeof what));
			goto out;
		}
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	/* The id names the key without revealing it. */
	unsigned char in[32 + 19];
	memcpy(in, "certsync state key:", 19);
	memcpy(in + 19, key, 32);
	char hex[65];
	cs_sha256_hex(hex, in, sizeof in);
	OPENSSL_cleanse(in, sizeof in);
	memcpy(id, hex, 16);
	id[16] = '\0';
out:
	if (r < 0)
		cs_err_prefix(err, "state database");
	cs_buf_free_secret(&b);
	return r;
}

/* nonce || ciphertext || tag, the path as associated data. */
static int seal(struct cs_buf *out, const unsigned char key[32], const char *path, const void *data, size_t len,
		struct cs_err *err)
{
	unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
	int r = 0, outl = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char *ct = cs_xmalloc(len + 1);
	if (!c || RAND_bytes(nonce, sizeof nonce) != 1 ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &outl, (const unsigned char *)path, (int)strlen(path)) != 1 ||
	    EVP_EncryptUpdate(c, ct, &outl, data, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, ct + outl, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
		r = cs_err_set(err, -EIO, "state database: seal %s: encryption failed", path);
		goto out;
	}
	cs_buf_append(out, nonce, sizeof nonce);
	cs_buf_append(out, ct, len);
	cs_buf_append(out, tag, sizeof tag);
out:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(ct, len + 1);
	free(ct);
	return r;
}

static int unseal(struct cs_buf *out, const unsigned char key[32], const char *path, const unsigned char *data,
		  size_t len, struct cs_err *err)
{
	if (len < NONCE_LEN + TAG_LEN)
		return cs_err_set(err, -EKEYREJECTED, "state database: %s: sealed key is truncated", path);
	size_t n = len - NONCE_LEN - TAG_LEN;
	unsigned char *pt = cs_xmalloc(n + 1);
	int r = 0, outl = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c || EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, key, data) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &outl, (const unsigned char *)path, (int)strlen(path)) != 1 ||
	    EVP_DecryptUpdate(c, pt, &outl, data + NONCE_LEN, (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(data + NONCE_LEN + n)) != 1 ||
	    EVP_DecryptFinal_ex(c, pt + outl, &outl) != 1) {
		r = cs_err_set(err, -EKEYREJECTED, "state database: %s: the sealed key does not open with the "
			       "configured state key (wrong key or altered data)", path);
		goto out;
	}
	cs_buf_append(out, pt, n);
out:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(pt, n + 1);
	free(pt);
	return r;
}

/* ---- queries ---- */

/* The server's message, one line. */
static const char *pg_msg(PGconn *conn)
{
	static char line[300];
	const char *m = PQerrorMessage(conn);
	size_t i = 0;
	for (; m && m[i] && m[i] != '\n' && i < sizeof line - 1; i++)
		line[i] = m[i];
	line[i] = '\0';
	return i ? line : "connection lost";
}

static int exec_ok(struct cs_state_pg *db, const char *sql, const char *step, struct cs_err *err)
{
	PGresult *res = PQexec(db->conn, sql);
	int st = PQresultStatus(res);
	int r = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		r = cs_err_set(err, -EIO, "state database: %s: %s", step, pg_msg(db->conn));
	PQclear(res);
	return r;
}

/* A parameterised statement; text params, except binary ones where
 * lens[i] > 0 or bin[i]. */
static PGresult *run(struct cs_state_pg *db, const char *sql, int n, const char *const *vals, const int *lens,
		     const int *bin)
{
	return PQexecParams(db->conn, sql, n, NULL, vals, lens, bin, 0);
}

static int result_ok(PGresult *res)
{
	int st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* ---- schema ---- */

static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE certsync_files ("
	" path text PRIMARY KEY,"
	" data bytea NOT NULL,"
	" key_id text,"
	" writer_pid integer,"
	" writer_start timestamptz,"
	" updated_at timestamptz NOT NULL DEFAULT now())",
};

static int schema_version(struct cs_state_pg *db, int *out, struct cs_err *err)
{
	PGresult *res = PQexec(db->conn, "SELECT to_regclass('certsync_schema') IS NOT NULL");
	int r = 0;
	*out = 0;
	if (!result_ok(res) || PQntuples(res) != 1) {
		r = cs_err_set(err, -EIO, "state database: read schema version: %s", pg_msg(db->conn));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		goto out;
	PQclear(res);
	res = PQexec(db->conn, "SELECT max(version) FROM certsync_schema");
	if (!result_ok(res) || PQntuples(res) != 1) {
		r = cs_err_set(err, -EIO, "state database: read schema version: %s", pg_msg(db->conn));
		goto out;
	}
	*out = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
out:
	PQclear(res);
	return r;
}

static int migrate(struct cs_state_pg *db, int *from, struct cs_err *err)
{
	int n = (int)(sizeof migrations / sizeof migrations[0]);
	int v = 0, r;
	*from = -1;
	/* One migrating session at a time: the others wait, then see it done. */
	if ((r = exec_ok(db, "BEGIN", "migrate", err)) < 0)
		return r;
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%d, 0)", LOCK_CLASS_MIGRATE);
	if ((r = exec_ok(db, sql, "migrate: lock", err)) < 0 ||
	    (r = exec_ok(db, "CREATE TABLE IF NOT EXISTS certsync_schema (version integer NOT NULL, "
			 "applied_at timestamptz NOT NULL DEFAULT now())", "migrate: create certsync_schema", err)) < 0 ||
	    (r = schema_version(db, &v, err)) < 0)
		goto fail;
	if (v > n) {
		r = cs_err_set(err, -EPROTO, "state database: schema version %d is newer than this certsync "
			       "knows (%d): upgrade certsync", v, n);
		goto fail;
	}
	for (int i = v; i < n; i++) {
		snprintf(sql, sizeof sql, "migrate to schema version %d", i + 1);
		if ((r = exec_ok(db, migrations[i], sql, err)) < 0)
			goto fail;
		char ins[100];
		snprintf(ins, sizeof ins, "INSERT INTO certsync_schema (version) VALUES (%d)", i + 1);
		if ((r = exec_ok(db, ins, sql, err)) < 0)
			goto fail;
	}
	if ((r = exec_ok(db, "COMMIT", "migrate: commit", err)) < 0)
		return r;
	if (v < n)
		*from = v;
	return 0;
fail:
	PQclear(PQexec(db->conn, "ROLLBACK"));
	return r;
}

/* ---- open / close ---- */

static void app_name(char *out, size_t size, const char *command)
{
	char host[256] = "?";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	const struct passwd *pw = getpwuid(getuid());
	const char *user = pw && pw->pw_name ? pw->pw_name : "?";
	char since[21];
	cs_time_rfc3339(since, (int64_t)time(NULL));
	/* application_name keeps 63 bytes: the machine name gives way. */
	char tail[80];
	snprintf(tail, sizeof tail, " pid %d since %s", (int)getpid(), since);
	char head[80];
	snprintf(head, sizeof head, "certsync %s %s@", command, user);
	int room = 63 - (int)strlen(head) - (int)strlen(tail);
	if (room < 1)
		room = 1;
	snprintf(out, size, "%s%.*s%s", head, room, host, tail);
}

int cs_state_pg_open(struct cs_state_pg **out, const struct cs_secret *dsn, const struct cs_secret *key,
		     const char *command, bool do_migrate, int *migrated, struct cs_err *err)
{
	*out = NULL;
	if (migrated)
		*migrated = -1;
	struct cs_state_pg *db = cs_xcalloc(1, sizeof *db);
	pthread_mutex_init(&db->mu, NULL);
	struct cs_buf conninfo = CS_BUF_INIT;
	int r = load_key(db->key, db->key_id, key, err);
	if (r < 0)
		goto fail;
	if ((r = cs_secret_resolve_line(dsn, &conninfo, err)) < 0) {
		cs_err_prefix(err, "state database");
		goto fail;
	}
	char app[200];
	app_name(app, sizeof app, command);
	const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char *vals[] = { conninfo.data ? conninfo.data : "", app, "10", NULL };
	db->conn = PQconnectdbParams(keys, vals, 1);
	cs_buf_free_secret(&conninfo);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password. */
		r = cs_err_set(err, -ECONNREFUSED, "state database: connect: %s",
			       db->conn ? pg_msg(db->conn) : "out of memory");
		goto fail;
	}
	PQclear(PQexec(db->conn, "SET client_min_messages = warning"));
	int v = 0;
	if (do_migrate) {
		int from = -1;
		if ((r = migrate(db, &from, err)) < 0)
			goto fail;
		if (migrated)
			*migrated = from;
	} else {
		if ((r = schema_version(db, &v, err)) < 0)
			goto fail;
		if (v == 0) {
			r = cs_err_set(err, -ENOENT, "state database: no certsync schema yet: run certsync state "
				       "migrate (or certsync apply, which creates it)");
			goto fail;
		}
		if (v != CS_STATE_PG_SCHEMA) {
			r = cs_err_set(err, -EPROTO, "state database: schema version %d, this certsync uses %d: run "
				       "certsync state migrate%s", v, CS_STATE_PG_SCHEMA,
				       v > CS_STATE_PG_SCHEMA ? " with a newer certsync" : "");
			goto fail;
		}
	}
	/* Fail closed: keys sealed under another key mean the wrong key. */
	PGresult *res = PQexec(db->conn, "SELECT DISTINCT key_id FROM certsync_files WHERE key_id IS NOT NULL");
	if (!result_ok(res)) {
		r = cs_err_set(err, -EIO, "state database: read key ids: %s", pg_msg(db->conn));
		PQclear(res);
		goto fail;
	}
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), db->key_id) != 0) {
			char what[300];
			r = cs_err_set(err, -EKEYREJECTED, "state database: private keys are sealed under key id %s, "
				       "settings.state.postgres.key (%s) is key id %s: wrong key, nothing was changed",
				       PQgetvalue(res, i, 0), cs_secret_describe(key, what, sizeof what), db->key_id);
			PQclear(res);
			goto fail;
		}
	PQclear(res);
	*out = db;
	return 0;
fail:
	cs_state_pg_close(db);
	return r;
}

void cs_state_pg_close(struct cs_state_pg *db)
{
	if (!db)
		return;
	if (db->copy) {
		cs_state_mirror_set(NULL, NULL);
		struct cs_err ignored = CS_ERR_INIT;
		cs_remove_tree(db->copy, &ignored);
		cs_err_clear(&ignored);
		free(db->copy);
	}
	if (db->conn)
		PQfinish(db->conn);
	OPENSSL_cleanse(db->key, sizeof db->key);
	pthread_mutex_destroy(&db->mu);
	free(db);
}

const char *cs_state_pg_key_id(const struct cs_state_pg *db)
{
	return db->key_id;
}

/* ---- locks ---- */

static int32_t lock_obj(const char *name)
{
	char hex[65];
	cs_sha256_hex(hex, name, strlen(name));
	hex[8] = '\0';
	return (int32_t)(strtoul(hex, NULL, 16) & 0x7fffffffu);
}

int cs_state_pg_lock(struct cs_state_pg *db, const char *kind, const char *name, int64_t timeout,
		     struct cs_err *err)
{
	int cls = strcmp(kind, "host") == 0 ? LOCK_CLASS_HOST : LOCK_CLASS_CERT;
	char a[16], b[16];
	snprintf(a, sizeof a, "%d", cls);
	snprintf(b, sizeof b, "%d", (int)lock_obj(name));
	const char *vals[] = { a, b };
	int64_t deadline = (int64_t)time(NULL) + timeout;
	for (;;) {
		PGresult *res = run(db, "SELECT pg_try_advisory_lock($1::int, $2::int)", 2, vals, NULL, NULL);
		if (!result_ok(res)) {
			int r = cs_err_set(err, -EIO, "state database: lock %s %s: %s", kind, name, pg_msg(db->conn));
			PQclear(res);
			return r;
		}
		bool got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (got)
			return 0;
		if ((int64_t)time(NULL) >= deadline)
			break;
		usleep(200 * 1000);
	}
	PGresult *res = run(db, "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
			    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid "
			    "AND l.objid = $2::int::oid AND l.objsubid = 2 LIMIT 1", 2, vals, NULL, NULL);
	const char *holder = result_ok(res) && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	int r = cs_err_set(err, -EBUSY, "state database: %s %s is locked by %s%s", kind, name,
			   holder[0] ? holder : "another run", timeout > 0 ? " (gave up waiting)" : "");
	PQclear(res);
	return r;
}

/* ---- rows ---- */

static int mirror_put_locked(void *ctx, const char *rel, const void *data, size_t len, bool secret, struct cs_err *err)
{
	struct cs_state_pg *db = ctx;
	struct cs_buf sealed = CS_BUF_INIT;
	int r = 0;
	if (secret && (r = seal(&sealed, db->key, rel, data, len, err)) < 0)
		return r;
	const char *vals[] = { rel, secret ? sealed.data : data, secret ? db->key_id : NULL };
	int lens[] = { 0, (int)(secret ? sealed.len : len), 0 };
	int bin[] = { 0, 1, 0 };
	PGresult *res = run(db, "INSERT INTO certsync_files (path, data, key_id, writer_pid, writer_start) "
			    "SELECT $1, $2, $3, pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid() "
			    "ON CONFLICT (path) DO UPDATE SET data = EXCLUDED.data, key_id = EXCLUDED.key_id, "
			    "writer_pid = EXCLUDED.writer_pid, writer_start = EXCLUDED.writer_start, updated_at = now()",
			    3, vals, lens, bin);
	if (!result_ok(res))
		r = cs_err_set(err, -EIO, "state database: write %s: %s", rel, pg_msg(db->conn));
	PQclear(res);
	cs_buf_free(&sealed);
	return r;
}

static int mirror_append_locked(void *ctx, const char *rel, const void *data, size_t len, struct cs_err *err)
{
	struct cs_state_pg *db = ctx;
	const char *vals[] = { rel, data };
	int lens[] = { 0, (int)len };
	int bin[] = { 0, 1 };
	PGresult *res = run(db, "INSERT INTO certsync_files (path, data, writer_pid, writer_start) "
			    "SELECT $1, $2, pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid() "
			    "ON CONFLICT (path) DO UPDATE SET data = certsync_files.data || EXCLUDED.data, "
			    "updated_at = now()", 2, vals, lens, bin);
	int r = result_ok(res) ? 0 : cs_err_set(err, -EIO, "state database: append to %s: %s", rel, pg_msg(db->conn));
	PQclear(res);
	return r;
}

static int mirror_remove_locked(void *ctx, const char *rel, struct cs_err *err)
{
	struct cs_state_pg *db = ctx;
	const char *vals[] = { rel };
	PGresult *res = run(db, "DELETE FROM certsync_files WHERE path = $1", 1, vals, NULL, NULL);
	int r = result_ok(res) ? 0 : cs_err_set(err, -EIO, "state database: remove %s: %s", rel, pg_msg(db->conn));
	PQclear(res);
	return r;
}

static int mirror_put(void *ctx, const char *rel, const void *data, size_t len, bool secret, struct cs_err *err)
{
	struct cs_state_pg *db = ctx;
	pthread_mutex_lock(&db->mu);
	int r = mirror_put_locked(ctx, rel, data, len, secret, err);
	pthread_mutex_unlock(&db->mu);
	return r;
}

static int mirror_append(void *ctx, const char *rel, const void *data, size_t len, struct cs_err *err)
{
	struct cs_state_pg *db = ctx;
	pthread_mutex_lock(&db->mu);
	int r = mirror_append_locked(ctx, rel, data, len, err);
	pthread_mutex_unlock(&db->mu);
	return r;
}

static int mirror_remove(void *ctx, const char *rel, struct cs_err *err)
{
	struct cs_state_pg *db = ctx;
	pthread_mutex_lock(&db->mu);
	int r = mirror_remove_locked(ctx, rel, err);
	pthread_mutex_unlock(&db->mu);
	return r;
}

/* A stored path that cannot step outside the folder. */
static bool safe_path(const char *p)
{
	if (!p[0] || p[0] == '/')
		return false;
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return true;
}

/* The row's content in clear. */
static int row_data(struct cs_state_pg *db, PGresult *res, int i, struct cs_buf *out, struct cs_err *err)
{
	const char *path = PQgetvalue(res, i, 0);
	size_t n = (size_t)PQgetlength(res, i, 1);
	const unsigned char *d = (const unsigned char *)PQgetvalue(res, i, 1);
	if (PQgetisnull(res, i, 2)) {
		cs_buf_append(out, d, n);
		return 0;
	}
	if (strcmp(PQgetvalue(res, i, 2), db->key_id) != 0)
		return cs_err_set(err, -EKEYREJECTED, "state database: %s is sealed under key id %s, the "
				  "configured state key is %s", path, PQgetvalue(res, i, 2), db->key_id);
	return unseal(out, db->key, path, d, n, err);
}

static PGresult *select_rows(struct cs_state_pg *db, bool all_runs)
{
	/* Binary results: data comes as bytes. */
	return PQexecParams(db->conn,
			    all_runs ? "SELECT path, data, key_id FROM certsync_files ORDER BY path"
			    : "SELECT f.path, f.data, f.key_id FROM certsync_files f WHERE NOT (f.path LIKE 'runs/%' "
			      "AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = f.writer_pid AND "
			      "a.backend_start = f.writer_start)) ORDER BY f.path",
			    0, NULL, NULL, NULL, NULL, 1);
}

int cs_state_pg_pull(struct cs_state_pg *db, const char *dir, bool all_runs, size_t *n, struct cs_err *err)
{
	*n = 0;
	int r = cs_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	PGresult *res = select_rows(db, all_runs);
	if (!result_ok(res)) {
		r = cs_err_set(err, -EIO, "state database: read state: %s", pg_msg(db->conn));
		goto out;
	}
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		const char *path = PQgetvalue(res, i, 0);
		if (!safe_path(path)) {
			r = cs_err_set(err, -EINVAL, "state database: refusing stored path \"%s\"", path);
			break;
		}
		struct cs_buf b = CS_BUF_INIT;
		char *full = cs_path_join(dir, path);
		char *parent = cs_path_dirname(full);
		if ((r = row_data(db, res, i, &b, err)) == 0 && (r = cs_mkdir_p(parent, 0700, err)) == 0)
			r = cs_file_write_atomic(full, b.data ? b.data : "", b.len, 0600, (uid_t)-1, (gid_t)-1, err);
		if (r == 0)
			(*n)++;
		cs_buf_free_secret(&b);
		free(parent);
		free(full);
	}
out:
	PQclear(res);
	return r;
}

/* Copies left by runs that were killed (their pid is gone): they hold
 * keys in clear, so the next run on this machine removes them. */
static void remove_stale_copies(const char *tmp)
{
	DIR *d = opendir(tmp);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int pid = 0;
		if (strncmp(e->d_name, "certsync-state-", 15) != 0 || sscanf(e->d_name + 15, "%d-", &pid) != 1 ||
		    pid <= 0 || (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		char *path = cs_path_join(tmp, e->d_name);
		struct stat sb;
		struct cs_err ignored = CS_ERR_INIT;
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && sb.st_uid == getuid())
			cs_remove_tree(path, &ignored);
		cs_err_clear(&ignored);
		free(path);
	}
	closedir(d);
}

int cs_state_pg_attach(struct cs_state_pg *db, const char **dir, struct cs_err *err)
{
	const char *tmp = getenv("TMPDIR");
	tmp = tmp && tmp[0] ? tmp : "/tmp";
	remove_stale_copies(tmp);
	char *tmpl = cs_xasprintf("%s/certsync-state-%d-XXXXXX", tmp, (int)getpid());
	if (!mkdtemp(tmpl)) {
		int r = cs_err_errno(err, -errno, "state database: make working copy in %s", tmpl);
		free(tmpl);
		return r;
	}
	db->copy = tmpl;
	size_t n = 0;
	/* The store finds the folder exactly like a state folder of its own. */
	int r = cs_state_pg_pull(db, db->copy, false, &n, err);
	if (r < 0)
		return r;
	db->mirror = (struct cs_state_mirror){ .ctx = db, .put = mirror_put, .append = mirror_append,
					       .remove = mirror_remove };
	cs_state_mirror_set(db->copy, &db->mirror);
	*dir = db->copy;
	return 0;
}

/* ---- push, verify, rekey ---- */

struct walk {
	struct cs_state_pg *db;
	const char *root;
	size_t n;
	bool verify;
};

/* Temporary files and the lock are the folder's own, not state. */
static bool skipped(const char *rel, const char *name)
{
	return strcmp(rel, "lock") == 0 || name[0] == '.';
}

static int verify_one(struct cs_state_pg *db, const char *rel, const struct cs_buf *want, struct cs_err *err)
{
	const char *vals[] = { rel };
	PGresult *res = PQexecParams(db->conn, "SELECT path, data, key_id FROM certsync_files WHERE path = $1", 1,
				     NULL, vals, NULL, NULL, 1);
	int r = 0;
	struct cs_buf got = CS_BUF_INIT;
	if (!result_ok(res))
		r = cs_err_set(err, -EIO, "state database: read %s: %s", rel, pg_msg(db->conn));
	else if (PQntuples(res) != 1)
		r = cs_err_set(err, -EIO, "state database: %s is missing", rel);
	else if ((r = row_data(db, res, 0, &got, err)) == 0) {
		char a[65], b[65];
		cs_sha256_hex(a, want->data ? want->data : "", want->len);
		cs_sha256_hex(b, got.data ? got.data : "", got.len);
		if (strcmp(a, b) != 0)
			r = cs_err_set(err, -EIO, "state database: %s differs (sha256 %.12s in the folder, %.12s in "
				       "the database)", rel, a, b);
	}
	cs_buf_free_secret(&got);
	PQclear(res);
	return r;
}

static int walk_dir(struct walk *w, const char *rel, struct cs_err *err)
{
	char *path = rel[0] ? cs_path_join(w->root, rel) : cs_xstrdup(w->root);
	DIR *d = opendir(path);
	int r = 0;
	if (!d) {
		r = cs_err_errno(err, -errno, "read folder %s", path);
		free(path);
		return r;
	}
	struct dirent *e;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = rel[0] ? cs_xasprintf("%s/%s", rel, e->d_name) : cs_xstrdup(e->d_name);
		char *full = cs_path_join(w->root, sub);
		struct stat sb;
		if (skipped(sub, e->d_name)) {
			/* not state */
		} else if (lstat(full, &sb) < 0) {
			r = cs_err_errno(err, -errno, "read %s", full);
		} else if (S_ISDIR(sb.st_mode)) {
			r = walk_dir(w, sub, err);
		} else if (S_ISREG(sb.st_mode)) {
			struct cs_buf b = CS_BUF_INIT;
			cs_buf_init(&b, MAX_FILE);
			r = cs_file_read(&b, full, MAX_FILE, err);
			if (r == 0)
				r = w->verify ? verify_one(w->db, sub, &b, err)
				    : mirror_put_locked(w->db, sub, b.data ? b.data : "", b.len, cs_state_path_secret(sub), err);
			if (r == 0)
				w->n++;
			cs_buf_free_secret(&b);
		} else {
			r = cs_err_set(err, -EINVAL, "%s: not a regular file (%s)", full, cs_file_type_name(sb.st_mode));
		}
		free(full);
		free(sub);
	}
	closedir(d);
	free(path);
	return r;
}

int cs_state_pg_verify(struct cs_state_pg *db, const char *dir, size_t *n, struct cs_err *err)
{
	struct walk w = { .db = db, .root = dir, .verify = true };
	int r = walk_dir(&w, "", err);
	*n = w.n;
	return r;
}

int cs_state_pg_push(struct cs_state_pg *db, const char *dir, size_t *n, struct cs_err *err)
{
	struct walk w = { .db = db, .root = dir };
	*n = 0;
	int r = exec_ok(db, "BEGIN", "push", err);
	if (r == 0)
		r = walk_dir(&w, "", err);
	if (r == 0)
		r = exec_ok(db, "COMMIT", "push: commit", err);
	else
		PQclear(PQexec(db->conn, "ROLLBACK"));
	if (r == 0)
		r = cs_state_pg_verify(db, dir, n, err);
	return r;
}

int cs_state_pg_rekey(struct cs_state_pg *db, const struct cs_secret *new_key, size_t *n, struct cs_err *err)
{
	unsigned char nk[32];
	char nid[17];
	*n = 0;
	int r = load_key(nk, nid, new_key, err);
	if (r < 0)
		return r;
	if ((r = exec_ok(db, "BEGIN", "rekey", err)) < 0)
		goto out;
	/* Row locks: a run writing a key meanwhile waits for the commit. */
	PGresult *res = PQexecParams(db->conn, "SELECT path, data, key_id FROM certsync_files WHERE key_id IS NOT "
				     "NULL ORDER BY path FOR UPDATE", 0, NULL, NULL, NULL, NULL, 1);
	if (!result_ok(res)) {
		r = cs_err_set(err, -EIO, "state database: rekey: %s", pg_msg(db->conn));
		PQclear(res);
		goto rollback;
	}
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		const char *path = PQgetvalue(res, i, 0);
		struct cs_buf clear = CS_BUF_INIT, sealed = CS_BUF_INIT;
		if ((r = row_data(db, res, i, &clear, err)) == 0 &&
		    (r = seal(&sealed, nk, path, clear.data ? clear.data : "", clear.len, err)) == 0) {
			const char *vals[] = { path, sealed.data, nid };
			int lens[] = { 0, (int)sealed.len, 0 };
			int bin[] = { 0, 1, 0 };
			PGresult *u = run(db, "UPDATE certsync_files SET data = $2, key_id = $3, updated_at = now() "
					  "WHERE path = $1", 3, vals, lens, bin);
			if (!result_ok(u))
				r = cs_err_set(err, -EIO, "state database: rekey %s: %s", path, pg_msg(db->conn));
			PQclear(u);
		}
		if (r == 0)
			(*n)++;
		cs_buf_free_secret(&clear);
		cs_buf_free(&sealed);
	}
	PQclear(res);
	if (r < 0)
		goto rollback;
	if ((r = exec_ok(db, "COMMIT", "rekey: commit", err)) == 0) {
		memcpy(db->key, nk, sizeof nk);
		memcpy(db->key_id, nid, sizeof nid);
	}
	goto out;
rollback:
	PQclear(PQexec(db->conn, "ROLLBACK"));
out:
	OPENSSL_cleanse(nk, sizeof nk);
	return r;
}
