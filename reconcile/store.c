/* The state folder (see store.h): private keys, current certificates, their
 * archive, pending requests, the lock and the journal.  Every write is atomic
 * per file and ordered so that an interrupted save never loses a key. */
#include "reconcile/store.h"
#include "reconcile/store_issuing.h"
#include "providers/base/state_mirror.h"

#include <dirent.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "providers/base/fault.h"
#include "providers/base/strmap.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"
#include "reconcile/store_facts.h"

#define KEY_MODE 0600
#define FILE_MODE 0644
#define DIR_MODE 0700
#define MAX_FILE (1u << 20) /* nothing the store writes comes near this */

struct cs_store {
	char *dir;
	bool exists;   /* false: opened without create and missing (empty store) */
	int lock_fd;   /* -1 until cs_store_lock() */
	char run[17];  /* this apply's run tag once locked, "" before */
	/* cs_store_journal_group(): the journal kept open, fsync'd at the
	 * group's sync points; -1 when not grouping or not open yet */
	bool journal_grouped;
	int journal_fd;
	pthread_mutex_t journal_lock;
	/* The certificate folders that have subfolders (pending/, issuing/,
	 * archive/) when the store was opened, so that a read-only command
	 * asks for no pending request where there can be none; forgotten once
	 * the store is locked (what an apply reads must be current). */
	bool subdirs_known;
	struct cs_strmap subdirs;
	char **subdir_names;
	size_t n_subdir_names;
	struct cs_issuing_records *issuing; /* STATE/issuing/ (store_issuing.c) */
};

struct cs_issuing_records *cs_store_issuing_records(struct cs_store *st)
{
	return st->issuing;
}

/* ---- permissions ---- */

static int check_dir_private(const char *dir, struct cs_err *err)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return cs_err_errno(err, -errno, "state folder %s", dir);
	if (!S_ISDIR(st.st_mode))
		return cs_err_set(err, -ENOTDIR, "state folder %s is not a folder", dir);
	if (st.st_mode & 077)
		return cs_err_set(err, -EPERM,
				  "state folder %s is accessible by others (mode %04o); run chmod 700 %s",
				  dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

/* A key file must be a regular file only its owner can read or write.
 * -ENOENT passes through so callers can tell "missing" from "unsafe". */
static int check_key_file(const char *path, struct cs_err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return cs_err_errno(err, -errno, "key file %s", path);
	if (!S_ISREG(st.st_mode))
		return cs_err_set(err, -EPERM, "key file %s is not a regular file", path);
	if (st.st_mode & 066)
		return cs_err_set(err, -EPERM,
				  "key file %s is accessible by others (mode %04o); run chmod 600 %s",
				  path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int cs_store_check_name(const char *what, const char *name, struct cs_err *err)
{
	if (!name || !name[0] || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return cs_err_set(err, -EINVAL, "invalid %s name \"%s\" for the state folder", what,
				  name ? name : "");
	return 0;
}

static int check_name(const char *name, struct cs_err *err)
{
	return cs_store_check_name("certificate", name, err);
}

static char *cert_dir(const struct cs_store *st, const char *name)
{
	return cs_xasprintf("%s/certs/%s", st->dir, name);
}

/* A key file relative to the folder dfd (certs/): as check_key_file. */
static int check_key_at(int dfd, const char *certs, const char *rel, struct cs_err *err)
{
	struct stat sb;
	if (fstatat(dfd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return cs_err_errno(err, -errno, "key file %s/%s", certs, rel);
	if (!S_ISREG(sb.st_mode))
		return cs_err_set(err, -EPERM, "key file %s/%s is not a regular file", certs, rel);
	if (sb.st_mode & 066)
		return cs_err_set(err, -EPERM,
				  "key file %s/%s is accessible by others (mode %04o); run chmod 600 %s/%s",
				  certs, rel, (unsigned)(sb.st_mode & 07777), certs, rel);
	return 0;
}

/* The issuance records (STATE/issuing/, store_issuing.h) hold keys: each
 * file there is checked as a key file.  One gone meanwhile (a temporary
 * renamed) is fine. */
static int check_record_keys(const struct cs_store *st, struct cs_err *err)
{
	char *dir = cs_xasprintf("%s/issuing", st->dir);
	DIR *d = opendir(dir);
	int r = 0;
	if (!d && errno != ENOENT)
		r = cs_err_errno(err, -errno, "read folder %s", dir);
	struct dirent *e;
	while (d && r == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		r = check_key_at(dirfd(d), dir, e->d_name, err);
		if (r == -ENOENT) {
			cs_err_clear(err);
			r = 0;
		}
	}
	if (d)
		closedir(d);
	free(dir);
	return r;
}

/* Every key file under certs/, then the issuance records: checked when the
 * store is opened so an unsafe key is reported before anything is planned
 * with it.  Looked up relative
 * to certs/ (short paths), and pending/ and issuing/ only in a folder that
 * has subfolders: a folder's link count is 2 plus its subfolders where the
 * file system counts them (ext4, xfs, tmpfs; others report 1, then both
 * are looked for). */
static int check_all_keys(struct cs_store *st, struct cs_err *err)
{
	static const char *const rel[] = { "key.pem", "pending/key.pem", "issuing/key.pem" };
	char *certs = cs_xasprintf("%s/certs", st->dir);
	DIR *d = opendir(certs);
	int r = 0;
	if (!d)
		goto out; /* no certificates yet */
	int dfd = dirfd(d);
	struct dirent *e;
	struct cs_buf p = CS_BUF_INIT;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		struct stat sb;
		size_t n = sizeof rel / sizeof rel[0];
		if (fstatat(dfd, e->d_name, &sb, 0) == 0 && S_ISDIR(sb.st_mode) && sb.st_nlink == 2) {
			n = 1; /* no subfolders: no pending/ or issuing/ */
		} else {
			char *name = cs_xstrdup(e->d_name);
			st->subdir_names = cs_xrealloc(st->subdir_names, (st->n_subdir_names + 1) * sizeof *st->subdir_names);
			st->subdir_names[st->n_subdir_names++] = name;
			cs_strmap_put(&st->subdirs, name, 0, NULL);
		}
		for (size_t i = 0; i < n && r == 0; i++) {
			cs_buf_reset(&p);
			cs_buf_printf(&p, "%s/%s", e->d_name, rel[i]);
			r = check_key_at(dfd, certs, p.data, err);
			if (r == -ENOENT) {
				cs_err_clear(err);
				r = 0;
			}
		}
	}
	cs_buf_free(&p);
	closedir(d);
	st->subdirs_known = r == 0;
out:
	free(certs);
	return r == 0 ? check_record_keys(st, err) : r;
}

static void forget_subdirs(struct cs_store *st)
{
	st->subdirs_known = false;
	cs_strmap_free(&st->subdirs);
	for (size_t i = 0; i < st->n_subdir_names; i++)
		free(st->subdir_names[i]);
	free(st->subdir_names);
	st->subdir_names = NULL;
	st->n_subdir_names = 0;
}

/* ---- open / close ---- */

static int make_state_dir(struct cs_store *st, struct cs_err *err)
{
	int r = cs_mkdir_p(st->dir, DIR_MODE, err);
	if (r < 0)
		return cs_err_prefix(err, "state folder");
	/* mkdir honours the umask; make sure the folder is exactly 0700 even
	 * under a strange umask. */
	if (chmod(st->dir, DIR_MODE) < 0)
		return cs_err_errno(err, -errno, "state folder %s: chmod", st->dir);
	st->exists = true;
	return 0;
}

static struct cs_store *store_new(const char *dir)
{
	struct cs_store *st = cs_xcalloc(1, sizeof *st);
	st->dir = cs_xstrdup(dir);
	st->lock_fd = -1;
	st->journal_fd = -1;
	pthread_mutex_init(&st->journal_lock, NULL);
	st->issuing = cs_issuing_records_new();
	return st;
}

int cs_store_open(struct cs_store **out, const char *dir, bool create, struct cs_err *err)
{
	struct cs_store *st = store_new(dir);
	int r = 0;
	*out = NULL;
	if (!exists(dir)) {
		if (create)
			r = make_state_dir(st, err);
		goto out;
	}
	st->exists = true;
	r = check_dir_private(dir, err);
	if (r < 0)
		goto out;
	r = check_all_keys(st, err);
out:
	if (r < 0)
		cs_store_close(st);
	else
		*out = st;
	return r;
}

int cs_store_open_report(struct cs_store **out, const char *dir, struct cs_err *folder_problem,
			 struct cs_err *key_problem, struct cs_err *err)
{
	struct cs_store *st = store_new(dir);
	(void)err; /* nothing here fails outright */
	*out = st;
	if (!exists(dir))
		return 0;
	st->exists = true;
	check_dir_private(dir, folder_problem);
	check_all_keys(st, key_problem);
	return 0;
}

void cs_store_close(struct cs_store *st)
{
	if (!st)
		return;
	cs_store_journal_group(st, false);
	pthread_mutex_destroy(&st->journal_lock);
	/* Closing the descriptor releases the flock. */
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	forget_subdirs(st);
	cs_issuing_records_free(st->issuing);
	free(st->dir);
	free(st);
}

const char *cs_store_dir(const struct cs_store *st)
{
	return st->dir;
}

/* ---- lock ---- */

int cs_store_lock(struct cs_store *st, const char *command, struct cs_err *err)
{
	char *path = cs_xasprintf("%s/lock", st->dir);
	char *text = NULL;
	int fd = -1;
	int r = 0;
	forget_subdirs(st);
	if (st->lock_fd >= 0)
		goto out; /* already ours */
	if (!st->exists) {
		r = make_state_dir(st, err);
		if (r < 0)
			goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = cs_err_errno(err, -errno, "lock state folder %s", st->dir);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			r = cs_err_errno(err, -errno, "lock state folder %s", st->dir);
			goto out;
		}
		char holder[512];
		ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
		if (n < 0)
			n = 0;
		holder[n] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		r = cs_err_set(err, -EBUSY, "state folder %s is locked by %s", st->dir,
			       holder[0] ? holder : "another process");
		goto out;
	}
	char host[256] = "unknown host";
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "unknown host");
	host[sizeof host - 1] = '\0';
	char since[21];
	cs_time_rfc3339(since, cs_now());
	/* The run tag marks this run's intents and temporary files: a plan
	 * that finds the lock held leaves that run's intents alone. */
	char run[17];
	cs_temp_tag_new(run);
	text = cs_xasprintf("certsync %s (pid %ld on %s since %s)\nrun %s\n", command ? command : "",
			    (long)getpid(), host, since, run);
	/* The text is only for the message a second process shows; failing to
	 * write it does not weaken the lock, but it is still reported. */
	if (ftruncate(fd, 0) < 0 || (r = cs_fd_write_all(fd, text, strlen(text))) < 0) {
		r = cs_err_errno(err, r < 0 ? r : -errno, "write %s", path);
		goto out;
	}
	if (fsync(fd) < 0) {
		r = cs_err_errno(err, -errno, "write %s: fsync", path);
		goto out;
	}
	st->lock_fd = fd;
	fd = -1;
	memcpy(st->run, run, sizeof st->run);
	cs_temp_tag_set(run);
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(path);
	return r;
}

const char *cs_store_run(const struct cs_store *st)
{
	return st->lock_fd >= 0 ? st->run : NULL;
}

char *cs_store_running(const struct cs_store *st)
{
	if (st->lock_fd >= 0 || !st->exists)
		return NULL;
	char *path = cs_xasprintf("%s/lock", st->dir);
	char *run = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return NULL;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		char text[1024];
		ssize_t n = pread(fd, text, sizeof text - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		const char *p = strstr(text, "\nrun ");
		size_t len = p ? strspn(p + 5, "0123456789abcdef") : 0;
		run = len ? cs_xasprintf("%.*s", (int)len, p + 5) : cs_xstrdup("");
	}
	close(fd); /* drops a shared lock taken above */
	return run;
}

/* ---- reading ---- */

static int read_file(struct cs_buf *out, const char *path, struct cs_err *err)
{
	cs_buf_init(out, MAX_FILE);
	return cs_file_read(out, path, MAX_FILE, err);
}

/* keep: when not NULL, receives the bytes read (a secret) */
static int load_key_keep(EVP_PKEY **out, const char *path, struct cs_buf *keep, struct cs_err *err)
{
	struct cs_buf b;
	cs_buf_init(&b, MAX_FILE);
	int r = check_key_file(path, err);
	if (r < 0)
		goto out;
	r = read_file(&b, path, err);
	if (r < 0)
		goto out;
	r = cs_key_parse(out, b.data, b.len, err);
	if (r < 0)
		cs_err_prefix(err, "%s", path);
	else if (keep) {
		*keep = b;
		return r;
	}
out:
	cs_buf_free_secret(&b);
	return r;
}

static int load_key(EVP_PKEY **out, const char *path, struct cs_err *err)
{
	return load_key_keep(out, path, NULL, err);
}

/* The chain most certificates share (their CA's): parsed once per run and
 * handed out again while the bytes read are the same. */
static pthread_mutex_t chain_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cs_buf chain_bytes = CS_BUF_INIT;
static STACK_OF(X509) *chain_parsed;

static void chain_cache_free(void)
{
	sk_X509_pop_free(chain_parsed, X509_free);
	chain_parsed = NULL;
	cs_buf_free(&chain_bytes);
}

/* A copy of the chain parsed from b when it was the last one, else NULL. */
static STACK_OF(X509) *chain_cached(const struct cs_buf *b)
{
	STACK_OF(X509) *r = NULL;
	pthread_mutex_lock(&chain_lock);
	if (chain_parsed && chain_bytes.len == b->len && !memcmp(chain_bytes.data, b->data, b->len))
		r = X509_chain_up_ref(chain_parsed);
	pthread_mutex_unlock(&chain_lock);
	return r;
}

static void chain_keep(const struct cs_buf *b, STACK_OF(X509) *certs)
{
	static bool registered;
	STACK_OF(X509) *copy = X509_chain_up_ref(certs);
	if (!copy)
		return;
	pthread_mutex_lock(&chain_lock);
	if (!registered)
		registered = atexit(chain_cache_free) == 0;
	sk_X509_pop_free(chain_parsed, X509_free);
	chain_parsed = copy;
	cs_buf_reset(&chain_bytes);
	cs_buf_append(&chain_bytes, b->data, b->len);
	pthread_mutex_unlock(&chain_lock);
}

/* keep: when not NULL, receives the bytes read */
static int load_certs(STACK_OF(X509) **out, const char *path, bool allow_empty,
		      struct cs_buf *keep, struct cs_err *err)
{
	struct cs_buf b;
	int r = read_file(&b, path, err);
	*out = NULL;
	if (r < 0)
		goto out;
	if (b.len == 0 && allow_empty) {
		*out = sk_X509_new_null();
		if (!*out)
			r = cs_err_errno(err, -ENOMEM, "read %s", path);
		goto out;
	}
	/* allow_empty: a chain file */
	if (allow_empty && (*out = chain_cached(&b)) != NULL)
		goto out;
	r = cs_certs_parse(out, b.data, b.len, err);
	if (r < 0)
		cs_err_prefix(err, "%s", path);
	else if (allow_empty)
		chain_keep(&b, *out);
out:
	if (r == 0 && keep) {
		*keep = b;
		return r;
	}
	cs_buf_free(&b);
	return r;
}

static int load_json(json_t **out, const char *path, struct cs_err *err)
{
	json_error_t je;
	*out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!*out) {
		if (!exists(path))
			return cs_err_errno(err, -ENOENT, "read %s", path);
		return cs_err_set(err, -EINVAL, "%s:%d: %s", path, je.line, je.text);
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return cs_err_set(err, -EINVAL, "%s: not a JSON object", path);
	}
	return 0;
}

int64_t cs_store_json_time(json_t *obj, const char *key)
{
	int64_t t = 0;
	const char *s = json_string_value(json_object_get(obj, key));
	if (s && cs_time_parse(&t, s) < 0)
		t = 0;
	return t;
}

static char *serial_of(X509 *cert)
{
	struct cs_cert_info info;
	if (cs_cert_info_get(&info, cert, NULL) < 0)
		return NULL;
	char *s = info.serial;
	info.serial = NULL;
	cs_cert_info_free(&info);
	return s;
}

/* Recovery for a save interrupted between key.pem and cert.pem: the key that
 * belongs to the certificate still in force was archived first. */
static int load_archived_key(EVP_PKEY **out, const char *dir, X509 *cert, struct cs_err *err)
{
	char *serial = serial_of(cert);
	char *path = serial ? cs_xasprintf("%s/archive/%s/key.pem", dir, serial) : NULL;
	int r = -ENOENT;
	*out = NULL;
	if (path && exists(path)) {
		r = load_key(out, path, err);
		if (r == 0 && !cs_key_matches_cert(*out, cert)) {
			EVP_PKEY_free(*out);
			*out = NULL;
			r = -ENOENT;
		}
	}
	free(path);
	free(serial);
	return r;
}

/* The bytes read stay with the loaded set only when they are the ones
 * certsync wrote (meta.json's SHA-256 of each file): then they are the
 * encoding cs_key_to_pem() etc. would give again, and the plan compares
 * with them instead of encoding the key anew. */
static void keep_if_written(struct cs_buf *out, struct cs_buf *read, json_t *sums, const char *file)
{
	const char *want = json_string_value(json_object_get(sums, file));
	char got[65];
	if (!want || !read->data)
		return;
	cs_sha256_hex(got, read->data, read->len);
	if (strcmp(got, want))
		return;
	*out = *read;
	*read = (struct cs_buf)CS_BUF_INIT;
}

/* Read dir/file through the folder's descriptor dfd: open, fstat, read,
 * close, with the messages cs_file_read() gives.  -ENOENT without a
 * message when the file is missing.  key: a key file, refused (-EPERM) when
 * it is a symbolic link, not a regular file or readable by group/other. */
static int read_at_stat(struct cs_buf *out, int dfd, const char *dir, const char *file, bool key,
			struct stat *st_out, struct cs_err *err)
{
	cs_buf_init(out, MAX_FILE);
	/* O_NONBLOCK: a FIFO in the file's place must not block the open */
	int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (key ? O_NOFOLLOW : 0));
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return -ENOENT;
		if (key && e == ELOOP)
			return cs_err_set(err, -EPERM, "key file %s/%s is not a regular file", dir, file);
		if (e == ELOOP)
			return cs_err_set(err, -ELOOP, "read %s/%s: symbolic link loop", dir, file);
		return cs_err_errno(err, -e, "%s %s/%s", key ? "key file" : "read", dir, file);
	}
	struct stat sb;
	int r = 0;
	if (fstat(fd, &sb) < 0) {
		r = cs_err_errno(err, -errno, "read %s/%s", dir, file);
		goto out;
	}
	if (key && !S_ISREG(sb.st_mode)) {
		r = cs_err_set(err, -EPERM, "key file %s/%s is not a regular file", dir, file);
		goto out;
	}
	if (st_out)
		*st_out = sb;
	if (!S_ISREG(sb.st_mode)) {
		r = cs_err_set(err, -EINVAL, "read %s/%s: not a regular file (it is %s)", dir, file,
			       cs_file_type_name(sb.st_mode));
		goto out;
	}
	if (key && (sb.st_mode & 066)) {
		r = cs_err_set(err, -EPERM, "key file %s/%s is accessible by others (mode %04o); run chmod 600 %s/%s",
			       dir, file, (unsigned)(sb.st_mode & 07777), dir, file);
		goto out;
	}
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = cs_err_errno(err, -errno, "read %s/%s", dir, file);
			break;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > MAX_FILE || (r = cs_buf_append(out, chunk, (size_t)n)) < 0) {
			r = cs_err_set(err, -E2BIG, "read %s/%s: larger than %u bytes", dir, file, MAX_FILE);
			break;
		}
		/* all of the size fstat gave: no read for the end */
		if (sb.st_size > 0 && out->len == (size_t)sb.st_size && (size_t)n < sizeof chunk)
			break;
	}
	if (key)
		OPENSSL_cleanse(chunk, sizeof chunk);
	if (r == 0 && !out->data)
		cs_buf_append(out, "", 0);
out:
	close(fd);
	if (r < 0) {
		if (key)
			cs_buf_free_secret(out);
		else
			cs_buf_free(out);
	}
	return r;
}

static int read_at(struct cs_buf *out, int dfd, const char *dir, const char *file, bool key,
		   struct cs_err *err)
{
	return read_at_stat(out, dfd, dir, file, key, NULL, err);
}

static bool hash_is(const struct cs_buf *b, json_t *sums, const char *file)
{
	const char *want = json_string_value(json_object_get(sums, file));
	char got[65];
	if (!want || !b->data)
		return false;
	cs_sha256_hex(got, b->data, b->len);
	return strcmp(got, want) == 0;
}

/* What was read of one certificate's folder. */
struct loaded {
	struct cs_buf cert, key, chain;
	int key_r, meta_r;              /* 0, or why key.pem / meta.json could not be read */
	struct cs_err key_err, meta_err;
	bool have_chain, have_meta;
	json_t *meta;
};

static void loaded_free(struct loaded *l)
{
	cs_buf_free(&l->cert);
	cs_buf_free_secret(&l->key);
	cs_buf_free(&l->chain);
	cs_err_clear(&l->key_err);
	cs_err_clear(&l->meta_err);
	json_decref(l->meta);
}

static void take_meta(struct cs_stored *out, json_t *meta)
{
	out->issuer = cs_xstrdup(json_string_value(json_object_get(meta, "issuer")));
	out->issued_at = cs_store_json_time(meta, "issued_at");
	const char *cn = json_string_value(json_object_get(meta, "common_name"));
	out->requested_cn = cn ? cs_xstrdup(cn) : NULL;
}

/* The set is the one certsync saved (every file hashes to meta.json's
 * SHA-256, so the key belongs to the certificate: the save checked it) and
 * meta.json describes the certificate: nothing needs parsing now. */
static bool load_unparsed(struct cs_stored *out, struct loaded *l)
{
	if (l->key_r < 0 || !l->have_meta || l->meta_r < 0 || !l->have_chain)
		return false;
	json_t *sums = json_object_get(l->meta, "sha256");
	if (!hash_is(&l->key, sums, "key.pem") || !hash_is(&l->cert, sums, "cert.pem") ||
	    !hash_is(&l->chain, sums, "chain.pem"))
		return false;
	if (cs_store_facts_read(&out->info, &out->signed_by, json_object_get(l->meta, "cert")) < 0)
		return false;
	out->have_info = true;
	out->key_matches = true;
	out->complete = true;
	take_meta(out, l->meta);
	out->key_pem = l->key;
	out->cert_pem = l->cert;
	out->chain_pem = l->chain;
	l->key = l->cert = l->chain = (struct cs_buf)CS_BUF_INIT;
	return true;
}

static bool ctime_after(const struct stat *a, const struct stat *b)
{
	return a->st_ctim.tv_sec > b->st_ctim.tv_sec ||
	       (a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec > b->st_ctim.tv_nsec);
}

/* A set none of whose files changed since meta.json was written (the save
 * writes it last; any change to a file, by hand or by a program, moves its
 * ctime, which nobody can set back) is the one certsync saved: its files
 * hash to meta.json's SHA-256 as they did then, and are not read now.  The
 * key file is checked as a read would (a regular file, no link, private).
 * Anything else is read as before. */
static bool load_unread(struct cs_stored *out, int dfd, const char *dir, json_t *meta, const struct stat *meta_st)
{
	static const char *const files[] = { "key.pem", "cert.pem", "chain.pem" };
	char *sums[] = { out->key_sha256, out->cert_sha256, out->chain_sha256 };
	json_t *sha = json_object_get(meta, "sha256");
	for (size_t i = 0; i < 3; i++) {
		const char *want = json_string_value(json_object_get(sha, files[i]));
		struct stat sb;
		if (!want || strlen(want) != 64 || fstatat(dfd, files[i], &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode) || (i == 0 && (sb.st_mode & 066)) || sb.st_size > (off_t)MAX_FILE ||
		    ctime_after(&sb, meta_st))
			return false;
		memcpy(sums[i], want, 65);
	}
	if (cs_store_facts_read(&out->info, &out->signed_by, json_object_get(meta, "cert")) < 0)
		return false; /* the caller frees what was read */
	out->have_info = true;
	out->key_matches = true;
	out->complete = true; /* no file changed after meta.json, written last */
	out->unread = true;
	out->dir = cs_xstrdup(dir);
	take_meta(out, meta);
	return true;
}

/* As before there were facts in meta.json: parse the files read. */
static int load_parsed(struct cs_stored *out, struct loaded *l, const char *dir, struct cs_err *err)
{
	STACK_OF(X509) *certs = NULL;
	int r = cs_certs_parse(&certs, l->cert.data, l->cert.len, err);
	if (r < 0) {
		cs_err_prefix(err, "%s/cert.pem", dir);
		goto out;
	}
	out->cert = sk_X509_shift(certs);
	if (l->key_r < 0) {
		r = cs_err_set(err, l->key_r, "%s", cs_err_msg(&l->key_err));
		goto out;
	}
	r = cs_key_parse(&out->key, l->key.data, l->key.len, err);
	if (r < 0) {
		cs_err_prefix(err, "%s/key.pem", dir);
		goto out;
	}
	if (!cs_key_matches_cert(out->key, out->cert)) {
		EVP_PKEY_free(out->key);
		out->key = NULL;
		struct cs_err ignored = CS_ERR_INIT;
		r = load_archived_key(&out->key, dir, out->cert, &ignored);
		cs_err_clear(&ignored);
		if (r < 0) {
			r = cs_err_set(err, -EIO, "%s/key.pem does not belong to %s/cert.pem (interrupted save?)",
				       dir, dir);
			goto out;
		}
	}
	out->key_matches = cs_key_matches_cert(out->key, out->cert);
	if (!l->have_chain) {
		if (!(out->chain = sk_X509_new_null()))
			r = cs_err_errno(err, -ENOMEM, "read %s/chain.pem", dir);
	} else if (l->chain.len == 0) {
		if (!(out->chain = sk_X509_new_null()))
			r = cs_err_errno(err, -ENOMEM, "read %s/chain.pem", dir);
	} else if (!(out->chain = chain_cached(&l->chain))) {
		r = cs_certs_parse(&out->chain, l->chain.data, l->chain.len, err);
		if (r < 0)
			cs_err_prefix(err, "%s/chain.pem", dir);
		else
			chain_keep(&l->chain, out->chain);
	}
	if (r < 0)
		goto out;
	/* meta.json is written last; without it the save was interrupted and
	 * only the facts in the certificate itself are known. */
	if (l->have_meta) {
		if (l->meta_r < 0) {
			r = cs_err_set(err, l->meta_r, "%s", cs_err_msg(&l->meta_err));
			goto out;
		}
		take_meta(out, l->meta);
		json_t *sums = json_object_get(l->meta, "sha256");
		keep_if_written(&out->key_pem, &l->key, sums, "key.pem");
		keep_if_written(&out->cert_pem, &l->cert, sums, "cert.pem");
		keep_if_written(&out->chain_pem, &l->chain, sums, "chain.pem");
		/* meta.json names the certificate its save wrote: by its bytes,
		 * else by its serial (cert.pem edited by hand around the same
		 * certificate is still that save's).  One from before either was
		 * recorded counts as finished. */
		const char *serial = json_string_value(json_object_get(l->meta, "serial"));
		if (out->cert_pem.data) {
			out->complete = true;
		} else if (serial) {
			char *have = serial_of(out->cert);
			out->complete = have && strcasecmp(have, serial) == 0;
			free(have);
		} else {
			out->complete = !json_object_get(sums, "cert.pem");
		}
	}
out:
	sk_X509_pop_free(certs, X509_free);
	return r;
}

int cs_store_load(struct cs_stored *out, struct cs_store *st, const char *name, struct cs_err *err)
{
	struct loaded l = { .cert = CS_BUF_INIT, .key = CS_BUF_INIT, .chain = CS_BUF_INIT,
			    .key_err = CS_ERR_INIT, .meta_err = CS_ERR_INIT };
	char *dir = NULL;
	int dfd = -1;
	memset(out, 0, sizeof *out);
	int r = check_name(name, err);
	if (r < 0)
		goto out;
	dir = cert_dir(st, name);
	if (st->exists)
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && (!st->exists || errno == ENOENT || errno == ENOTDIR)) {
		r = cs_err_set(err, -ENOENT, "no certificate stored for %s", name);
		goto out;
	}
	if (dfd < 0) {
		r = cs_err_errno(err, -errno, "read %s", dir);
		goto out;
	}
	/* meta.json first: when it vouches for the files, they are not read */
	struct cs_buf meta = CS_BUF_INIT;
	struct stat meta_st;
	l.meta_r = read_at_stat(&meta, dfd, dir, "meta.json", false, &meta_st, &l.meta_err);
	l.have_meta = l.meta_r != -ENOENT;
	if (l.meta_r == 0) {
		json_error_t je;
		l.meta = json_loadb(meta.data, meta.len, JSON_REJECT_DUPLICATES, &je);
		if (!l.meta)
			l.meta_r = cs_err_set(&l.meta_err, -EINVAL, "%s/meta.json:%d: %s", dir, je.line, je.text);
		else if (!json_is_object(l.meta))
			l.meta_r = cs_err_set(&l.meta_err, -EINVAL, "%s/meta.json: not a JSON object", dir);
	}
	cs_buf_free(&meta);
	if (l.meta_r == 0 && load_unread(out, dfd, dir, l.meta, &meta_st))
		goto out;
	cs_stored_free(out);
	r = read_at(&l.cert, dfd, dir, "cert.pem", false, err);
	if (r == -ENOENT)
		r = cs_err_set(err, -ENOENT, "no certificate stored for %s", name);
	if (r < 0)
		goto out;
	l.key_r = read_at(&l.key, dfd, dir, "key.pem", true, &l.key_err);
	if (l.key_r == -ENOENT)
		cs_err_errno(&l.key_err, -ENOENT, "key file %s/key.pem", dir);
	r = read_at(&l.chain, dfd, dir, "chain.pem", false, err);
	l.have_chain = r == 0;
	if (r < 0 && r != -ENOENT)
		goto out;
	r = 0;
	if (!load_unparsed(out, &l))
		r = load_parsed(out, &l, dir, err);
out:
	if (r < 0)
		cs_stored_free(out);
	if (dfd >= 0)
		close(dfd);
	loaded_free(&l);
	free(dir);
	return r;
}

/* Parsing on first use: observe, plan and apply may ask from several
 * threads. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

/* With parse_lock held: read the texts of a set loaded unread. */
static int texts_locked(struct cs_stored *m, struct cs_err *err)
{
	if (!m->unread)
		return 0;
	static const char *const files[] = { "key.pem", "cert.pem", "chain.pem" };
	struct cs_buf *bufs[] = { &m->key_pem, &m->cert_pem, &m->chain_pem };
	const char *sums[] = { m->key_sha256, m->cert_sha256, m->chain_sha256 };
	struct cs_buf b[3] = { CS_BUF_INIT, CS_BUF_INIT, CS_BUF_INIT };
	int dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = dfd < 0 ? cs_err_errno(err, -errno, "read %s", m->dir) : 0;
	for (size_t i = 0; i < 3 && r == 0; i++) {
		r = read_at(&b[i], dfd, m->dir, files[i], i == 0, err);
		if (r == -ENOENT)
			r = cs_err_set(err, -ENOENT, "%s/%s is gone since the state folder was read", m->dir, files[i]);
		char got[65];
		if (r == 0) {
			cs_sha256_hex(got, b[i].data, b[i].len);
			if (strcmp(got, sums[i]))
				r = cs_err_set(err, -EIO, "%s/%s changed since the state folder was read (its SHA-256 is "
					       "not the one in meta.json): run certsync again", m->dir, files[i]);
		}
	}
	if (dfd >= 0)
		close(dfd);
	if (r < 0) {
		cs_buf_free_secret(&b[0]);
		cs_buf_free(&b[1]);
		cs_buf_free(&b[2]);
		return r;
	}
	for (size_t i = 0; i < 3; i++)
		*bufs[i] = b[i];
	m->unread = false;
	return 0;
}

int cs_stored_texts(const struct cs_stored *s, struct cs_err *err)
{
	struct cs_stored *m = (struct cs_stored *)s; /* the cache only */
	pthread_mutex_lock(&parse_lock);
	int r = texts_locked(m, err);
	pthread_mutex_unlock(&parse_lock);
	return r;
}

X509 *cs_stored_cert(const struct cs_stored *s, struct cs_err *err)
{
	struct cs_stored *m = (struct cs_stored *)s; /* the cache only */
	pthread_mutex_lock(&parse_lock);
	if (!m->cert && texts_locked(m, err) < 0) {
		pthread_mutex_unlock(&parse_lock);
		return NULL;
	}
	if (!m->cert && m->cert_pem.data) {
		STACK_OF(X509) *certs = NULL;
		if (cs_certs_parse(&certs, m->cert_pem.data, m->cert_pem.len, err) == 0)
			m->cert = sk_X509_shift(certs);
		sk_X509_pop_free(certs, X509_free);
	} else if (!m->cert) {
		cs_err_set(err, -EINVAL, "no stored certificate");
	}
	pthread_mutex_unlock(&parse_lock);
	return m->cert;
}

EVP_PKEY *cs_stored_key(const struct cs_stored *s, struct cs_err *err)
{
	struct cs_stored *m = (struct cs_stored *)s;
	pthread_mutex_lock(&parse_lock);
	if (!m->key && texts_locked(m, err) < 0) {
		pthread_mutex_unlock(&parse_lock);
		return NULL;
	}
	if (!m->key && m->key_pem.data)
		cs_key_parse(&m->key, m->key_pem.data, m->key_pem.len, err);
	else if (!m->key)
		cs_err_set(err, -EINVAL, "no stored key");
	pthread_mutex_unlock(&parse_lock);
	return m->key;
}

STACK_OF(X509) *cs_stored_chain(const struct cs_stored *s, struct cs_err *err)
{
	struct cs_stored *m = (struct cs_stored *)s;
	pthread_mutex_lock(&parse_lock);
	if (!m->chain && texts_locked(m, err) < 0) {
		pthread_mutex_unlock(&parse_lock);
		return NULL;
	}
	if (!m->chain && m->chain_pem.data) {
		if (m->chain_pem.len == 0)
			m->chain = sk_X509_new_null();
		else if (!(m->chain = chain_cached(&m->chain_pem)) &&
			 cs_certs_parse(&m->chain, m->chain_pem.data, m->chain_pem.len, err) == 0)
			chain_keep(&m->chain_pem, m->chain);
	} else if (!m->chain) {
		cs_err_set(err, -EINVAL, "no stored chain");
	}
	pthread_mutex_unlock(&parse_lock);
	return m->chain;
}

void cs_stored_free(struct cs_stored *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	free(s->issuer);
	free(s->requested_cn);
	cs_cert_info_free(&s->info);
	free(s->signed_by);
	cs_buf_free_secret(&s->key_pem);
	cs_buf_free(&s->cert_pem);
	cs_buf_free(&s->chain_pem);
	free(s->dir);
	memset(s, 0, sizeof *s);
}

/* ---- writing ---- */

/* Every file the store writes is one of a folder's few: they are named
 * by folder and file name. */
static int write_file_in(struct cs_wgroup *g, const char *dir, const char *name, const struct cs_buf *b,
			 mode_t mode, struct cs_err *err)
{
	char *path = cs_xasprintf("%s/%s", dir, name);
	int r = g ? cs_wgroup_write(g, path, b->data ? b->data : "", b->len, mode, err)
		  : cs_file_write_atomic(path, b->data ? b->data : "", b->len, mode, (uid_t)-1, (gid_t)-1, err);
	free(path);
	return r;
}

static int write_file(const char *dir, const char *name, const struct cs_buf *b, mode_t mode,
		      struct cs_err *err)
{
	return write_file_in(NULL, dir, name, b, mode, err);
}

static int json_text(struct cs_buf *b, const char *dir, const char *name, json_t *obj, struct cs_err *err)
{
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int r = text ? cs_buf_puts(b, text) : -ENOMEM;
	if (r == 0)
		r = cs_buf_puts(b, "\n");
	free(text);
	return r < 0 ? cs_err_errno(err, r, "write %s/%s", dir, name) : 0;
}

static int write_json(const char *dir, const char *name, json_t *obj, struct cs_err *err)
{
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int r;
	if (!text)
		return cs_err_errno(err, -ENOMEM, "write %s/%s", dir, name);
	struct cs_buf b = CS_BUF_INIT;
	r = cs_buf_puts(&b, text);
	if (r == 0)
		r = cs_buf_puts(&b, "\n");
	if (r < 0)
		r = cs_err_errno(err, r, "write %s/%s", dir, name);
	else
		r = write_file(dir, name, &b, FILE_MODE, err);
	cs_buf_free(&b);
	free(text);
	return r;
}

static int unlink_if_there(const char *dir, const char *name, struct cs_err *err)
{
	char *path = cs_xasprintf("%s/%s", dir, name);
	int r = cs_state_mirror_remove(path, err);
	if (r == 0 && unlink(path) < 0 && errno != ENOENT)
		r = cs_err_errno(err, -errno, "remove %s", path);
	free(path);
	return r;
}

/* Copy one file of the current set into the archive, byte for byte. */
static int archive_copy(struct cs_wgroup *g, const char *from_dir, const char *to_dir, const char *file,
			mode_t mode, struct cs_err *err)
{
	char *from = cs_xasprintf("%s/%s", from_dir, file);
	char *to = cs_xasprintf("%s/%s", to_dir, file);
	struct cs_buf b;
	cs_buf_init(&b, MAX_FILE);
	int r = 0;
	/* Already archived (by a save that was interrupted after it): the copy
	 * there was made while the set was still whole, unlike key.pem now. */
	if (!exists(from) || exists(to))
		goto out;
	r = cs_file_read(&b, from, MAX_FILE, err);
	if (r < 0)
		goto out;
	r = write_file_in(g, to_dir, file, &b, mode, err);
out:
	cs_buf_free_secret(&b);
	free(to);
	free(from);
	return r;
}

/* Copy the current set to archive/SERIAL/ before anything replaces it: the
 * previous key must survive whatever happens next. */
static int archive_current(struct cs_wgroup *g, const char *dir, struct cs_err *err)
{
	char *cert_path = cs_xasprintf("%s/cert.pem", dir);
	char *archive = NULL;
	char *serial = NULL;
	STACK_OF(X509) *certs = NULL;
	int r = 0;
	if (!exists(cert_path))
		goto out; /* first save */
	r = load_certs(&certs, cert_path, false, NULL, err);
	if (r < 0)
		goto out;
	serial = serial_of(sk_X509_value(certs, 0));
	if (!serial) {
		r = cs_err_set(err, -EINVAL, "%s: unreadable serial number", cert_path);
		goto out;
	}
	archive = cs_xasprintf("%s/archive/%s", dir, serial);
	r = cs_mkdir_p(archive, DIR_MODE, err);
	if (r < 0)
		goto out;
	r = archive_copy(g, dir, archive, "key.pem", KEY_MODE, err);
	if (r == 0)
		r = archive_copy(g, dir, archive, "cert.pem", FILE_MODE, err);
	if (r == 0)
		r = archive_copy(g, dir, archive, "chain.pem", FILE_MODE, err);
	if (r == 0)
		r = archive_copy(g, dir, archive, "meta.json", FILE_MODE, err);
	if (r < 0)
		cs_err_prefix(err, "archive %s", serial);
out:
	sk_X509_pop_free(certs, X509_free);
	free(serial);
	free(archive);
	free(cert_path);
	return r;
}

static int prepare_dir(struct cs_store *st, const char *dir, struct cs_err *err)
{
	int r = 0;
	if (!st->exists)
		r = make_state_dir(st, err);
	if (r == 0)
		r = cs_mkdir_p(dir, DIR_MODE, err);
	return r;
}

/* Commit one step of a batch: an error fails every item still going (what
 * the step renamed before it failed is a state the next apply recovers
 * from, as a kill there would leave). */
static void commit_step(struct cs_wgroup *g, struct cs_store_item *it, size_t n, const char *what)
{
	struct cs_err err = CS_ERR_INIT;
	if (cs_wgroup_commit(g, &err) < 0)
		for (size_t i = 0; i < n; i++)
			if (it[i].r == 0) {
				it[i].r = cs_err_set(&it[i].err, err.code ? err.code : -EIO, "%s %s: %s", what, it[i].name,
						     cs_err_msg(&err));
			}
	cs_err_clear(&err);
}

static int one_item(struct cs_store_item *it, struct cs_err *err)
{
	if (it->r < 0 && err) {
		cs_err_clear(err);
		*err = it->err;
	} else {
		cs_err_clear(&it->err);
	}
	return it->r;
}

static void item_fail(struct cs_store_item *it, int r, const char *what)
{
	it->r = r;
	cs_err_prefix(&it->err, "%s %s", what, it->name ? it->name : "");
}

void cs_store_save_many(struct cs_store *st, struct cs_store_item *it, size_t n)
{
	forget_subdirs(st); /* subfolders are made now */
	struct prep {
		char *dir;
		struct cs_buf pem[3];
		struct cs_buf meta;
	} *p = cs_xcalloc(n ? n : 1, sizeof *p);
	struct cs_wgroup *g = cs_wgroup_new();
	static const char *const files[] = { "key.pem", "cert.pem", "chain.pem" };
	for (size_t i = 0; i < n; i++) {
		struct cs_store_item *x = &it[i];
		if (x->r < 0)
			continue;
		int r = check_name(x->name, &x->err);
		if (r == 0 && !cs_key_matches_cert(x->key, x->cert))
			r = cs_err_set(&x->err, -EINVAL, "the certificate does not belong to the key");
		if (r < 0) {
			item_fail(x, r, "save");
			continue;
		}
		p[i].dir = cert_dir(st, x->name);
		/* Encode everything before touching the folder, so a bad input
		 * leaves the current set alone. */
		if (x->key_pem.len) {
			p[i].pem[0] = x->key_pem;
			x->key_pem = (struct cs_buf)CS_BUF_INIT;
		} else if ((r = cs_key_to_pem(&p[i].pem[0], x->key, &x->err)) < 0) {
			item_fail(x, r, "save");
			continue;
		}
		if ((r = cs_cert_to_pem(&p[i].pem[1], x->cert, &x->err)) < 0 ||
		    (r = cs_chain_to_pem(&p[i].pem[2], x->chain, &x->err)) < 0) {
			item_fail(x, r, "save");
			continue;
		}
		char *serial = serial_of(x->cert);
		char issued_at[21];
		cs_time_rfc3339(issued_at, cs_now());
		char sums[3][65];
		for (size_t f = 0; f < 3; f++)
			cs_sha256_hex(sums[f], p[i].pem[f].data ? p[i].pem[f].data : "", p[i].pem[f].len);
		json_t *meta = json_pack("{s:s?, s:s, s:s?, s:s?, s:{s:s, s:s, s:s}}", "issuer", x->issuer,
					 "issued_at", issued_at, "serial", serial, "common_name", x->requested_cn,
					 "sha256", "key.pem", sums[0], "cert.pem", sums[1], "chain.pem", sums[2]);
		free(serial);
		/* What a plan reads of the certificate, so it need not parse it. */
		json_t *facts = meta ? cs_store_facts_make(x->cert, x->chain) : NULL;
		if (facts)
			json_object_set_new(meta, "cert", facts);
		r = meta ? json_text(&p[i].meta, p[i].dir, "meta.json", meta, &x->err)
			 : cs_err_errno(&x->err, -ENOMEM, "encode meta.json");
		json_decref(meta);
		if (r == 0)
			r = prepare_dir(st, p[i].dir, &x->err);
		/* The current set is copied to the archive before anything
		 * replaces it (made durable with the step). */
		if (r == 0)
			r = archive_current(g, p[i].dir, &x->err);
		if (r < 0)
			item_fail(x, r, "save");
	}
	commit_step(g, it, n, "save");
	/* Key first, meta.json last: meta.json marks a complete save.  Each
	 * step is durable for every item before the next begins, so each
	 * item's files change in the order a single save uses. */
	for (size_t f = 0; f < 4; f++) {
		for (size_t i = 0; i < n; i++) {
			struct cs_store_item *x = &it[i];
			if (x->r < 0)
				continue;
			int r = f < 3 ? write_file_in(g, p[i].dir, files[f], &p[i].pem[f], f == 0 ? KEY_MODE : FILE_MODE,
						      &x->err)
				      : write_file_in(g, p[i].dir, "meta.json", &p[i].meta, FILE_MODE, &x->err);
			if (r < 0)
				item_fail(x, r, "save");
		}
		commit_step(g, it, n, "save");
		for (size_t i = 0; f < 2 && i < n; i++)
			if (it[i].r == 0)
				cs_fault_point(f == 0 ? "store.key-written" : "store.cert-written");
	}
	cs_wgroup_free(g);
	for (size_t i = 0; i < n; i++) {
		if (it[i].r == 0 && it[i].keep_pem) {
			it[i].key_pem = p[i].pem[0];
			it[i].cert_pem = p[i].pem[1];
			it[i].chain_pem = p[i].pem[2];
			memset(p[i].pem, 0, sizeof p[i].pem);
		}
		free(p[i].dir);
		cs_buf_free_secret(&p[i].pem[0]);
		cs_buf_free(&p[i].pem[1]);
		cs_buf_free(&p[i].pem[2]);
		cs_buf_free(&p[i].meta);
	}
	free(p);
}

int cs_store_save(struct cs_store *st, const char *name, EVP_PKEY *key, X509 *cert,
		  STACK_OF(X509) *chain, const char *issuer, const char *requested_cn, struct cs_err *err)
{
	struct cs_store_item it = { .name = name, .key = key, .cert = cert, .chain = chain, .issuer = issuer,
				    .requested_cn = requested_cn, .err = CS_ERR_INIT };
	cs_store_save_many(st, &it, 1);
	return one_item(&it, err);
}

/* ---- pending requests ---- */

static int load_request(struct cs_pending *out, json_t **meta_out, struct cs_store *st, const char *name,
			const char *subdir, struct cs_err *err);

int cs_store_load_pending(struct cs_pending *out, struct cs_store *st, const char *name,
			  struct cs_err *err)
{
	return load_request(out, NULL, st, name, "pending", err);
}

static int load_request(struct cs_pending *out, json_t **meta_out, struct cs_store *st, const char *name,
			const char *subdir, struct cs_err *err)
{
	char *dir = NULL, *key_path = NULL, *csr_path = NULL, *meta_path = NULL;
	struct cs_buf csr = CS_BUF_INIT;
	json_t *meta = NULL;
	int r = 0;
	memset(out, 0, sizeof *out);
	r = check_name(name, err);
	if (r < 0)
		goto out;
	dir = cs_xasprintf("%s/certs/%s/%s", st->dir, name, subdir);
	key_path = cs_xasprintf("%s/key.pem", dir);
	csr_path = cs_xasprintf("%s/request.csr", dir);
	meta_path = cs_xasprintf("%s/meta.json", dir);
	/* meta.json is written last: without it there is no complete request.
	 * A folder that had no subfolders when the store was opened has none. */
	if (!st->exists || (st->subdirs_known && !cs_strmap_get(&st->subdirs, name, NULL)) || !exists(meta_path)) {
		r = cs_err_set(err, -ENOENT, "no pending request for %s", name);
		goto out;
	}
	r = load_json(&meta, meta_path, err);
	if (r < 0)
		goto out;
	r = load_key(&out->key, key_path, err);
	if (r < 0)
		goto out;
	r = read_file(&csr, csr_path, err);
	if (r < 0)
		goto out;
	r = cs_csr_parse(&out->csr, csr.data, csr.len, err);
	if (r < 0) {
		cs_err_prefix(err, "%s", csr_path);
		goto out;
	}
	if (!cs_key_matches_csr(out->key, out->csr)) {
		r = cs_err_set(err, -EIO, "%s does not belong to %s", key_path, csr_path);
		goto out;
	}
	out->issuer = cs_xstrdup(json_string_value(json_object_get(meta, "issuer")));
	out->created_at = cs_store_json_time(meta, "created_at");
	if (meta_out) {
		*meta_out = meta;
		meta = NULL;
	}
out:
	if (r < 0)
		cs_pending_free(out);
	json_decref(meta);
	cs_buf_free(&csr);
	free(dir);
	free(key_path);
	free(csr_path);
	free(meta_path);
	return r;
}

static int save_request(struct cs_store *st, const char *name, const char *subdir, EVP_PKEY *key,
			X509_REQ *csr, json_t *meta, struct cs_err *err);

int cs_store_save_pending(struct cs_store *st, const char *name, EVP_PKEY *key, X509_REQ *csr,
			  const char *issuer, struct cs_err *err)
{
	char created_at[21];
	cs_time_rfc3339(created_at, cs_now());
	json_t *meta = json_pack("{s:s?, s:s}", "issuer", issuer, "created_at", created_at);
	int r = save_request(st, name, "pending", key, csr, meta, err);
	json_decref(meta);
	if (r < 0)
		cs_err_prefix(err, "save pending request for %s", name ? name : "");
	return r;
}

static int save_request(struct cs_store *st, const char *name, const char *subdir, EVP_PKEY *key,
			X509_REQ *csr, json_t *meta, struct cs_err *err)
{
	char *dir = NULL;
	struct cs_buf key_pem = CS_BUF_INIT, csr_pem = CS_BUF_INIT;
	int r = check_name(name, err);
	if (r < 0)
		goto out;
	forget_subdirs(st); /* one is made now */
	dir = cs_xasprintf("%s/certs/%s/%s", st->dir, name, subdir);
	if ((r = cs_key_to_pem(&key_pem, key, err)) < 0 || (r = cs_csr_to_pem(&csr_pem, csr, err)) < 0)
		goto out;
	if (!meta) {
		r = cs_err_errno(err, -ENOMEM, "save request");
		goto out;
	}
	r = prepare_dir(st, dir, err);
	if (r < 0)
		goto out;
	/* Withdraw the commit marker first so a crash half-way through never
	 * pairs a new key with an old request. */
	if ((r = unlink_if_there(dir, "meta.json", err)) < 0 ||
	    (r = write_file(dir, "key.pem", &key_pem, KEY_MODE, err)) < 0 ||
	    (r = write_file(dir, "request.csr", &csr_pem, FILE_MODE, err)) < 0)
		goto out;
	cs_fault_point("store.request-key-written");
	r = write_json(dir, "meta.json", meta, err);
out:
	cs_buf_free_secret(&key_pem);
	cs_buf_free(&csr_pem);
	free(dir);
	return r;
}

static int drop_request(struct cs_store *st, const char *name, const char *subdir, struct cs_err *err);

int cs_store_drop_pending(struct cs_store *st, const char *name, struct cs_err *err)
{
	return drop_request(st, name, "pending", err);
}

/* ---- issuance in progress ---- */

/* Records: store_issuing.c.  Folders certs/NAME/issuing/ (key.pem,
 * request.csr, meta.json written last) are what versions before the record
 * files kept; one left by such a version killed mid-issue is still
 * resumed or dropped here. */
void cs_store_save_issuing_many(struct cs_store *st, struct cs_store_item *it, size_t n)
{
	cs_issuing_records_save(st, it, n);
}

int cs_store_save_issuing(struct cs_store *st, const char *name, EVP_PKEY *key, X509_REQ *csr,
			  const char *issuer, const char *serial, int64_t issue_time, struct cs_err *err)
{
	struct cs_store_item it = { .name = name, .key = key, .csr = csr, .issuer = issuer, .serial = serial,
				    .issue_time = issue_time, .err = CS_ERR_INIT };
	cs_store_save_issuing_many(st, &it, 1);
	return one_item(&it, err);
}

int cs_store_load_issuing(struct cs_issuing *out, struct cs_store *st, const char *name, struct cs_err *err)
{
	json_t *meta = NULL;
	int r = cs_issuing_records_find(out, st, name, err);
	if (r != -ENOENT)
		return r;
	cs_err_clear(err);
	r = load_request(&out->req, &meta, st, name, "issuing", err);
	if (r < 0)
		return r;
	const char *serial = json_string_value(json_object_get(meta, "serial"));
	out->issue_time = cs_store_json_time(meta, "issue_time");
	if (!serial || !serial[0] || strspn(serial, "0123456789ABCDEFabcdef") != strlen(serial) || !out->issue_time) {
		r = cs_err_set(err, -EINVAL, "%s/certs/%s/issuing/meta.json: no serial or issue_time", st->dir, name);
		cs_issuing_free(out);
	} else {
		out->serial = cs_xstrdup(serial);
	}
	json_decref(meta);
	return r;
}

int cs_store_drop_issuing(struct cs_store *st, const char *name, struct cs_err *err)
{
	return cs_store_drop_issuing_many(st, &name, 1, err);
}

int cs_store_drop_issuing_many(struct cs_store *st, const char *const *names, size_t n, struct cs_err *err)
{
	if (!st->exists)
		return 0;
	int r = cs_issuing_records_drop(st, names, n, err);
	for (size_t i = 0; i < n; i++) {
		if (check_name(names[i], NULL) < 0)
			continue;
		char *legacy = cs_xasprintf("%s/certs/%s/issuing", st->dir, names[i]);
		struct stat sb;
		if (lstat(legacy, &sb) == 0) {
			struct cs_err e = CS_ERR_INIT;
			int d = drop_request(st, names[i], "issuing", &e);
			if (d < 0 && r == 0) {
				r = d;
				if (err) {
					cs_err_clear(err);
					*err = e;
					e = (struct cs_err)CS_ERR_INIT;
				}
			}
			cs_err_clear(&e);
		}
		free(legacy);
	}
	return r;
}

void cs_issuing_free(struct cs_issuing *i)
{
	if (!i)
		return;
	cs_pending_free(&i->req);
	free(i->serial);
	memset(i, 0, sizeof *i);
}

/* Append one ledger line; the descriptor goes to g, which makes it durable. */
static int issued_append_in(struct cs_wgroup *g, struct cs_store *st, struct cs_store_item *x)
{
	int r = check_name(x->name, &x->err);
	if (r < 0)
		return r;
	char *dir = cert_dir(st, x->name);
	char *path = cs_xasprintf("%s/issued.jsonl", dir);
	char now[21];
	cs_time_rfc3339(now, cs_now());
	json_t *rec = json_pack("{s:s, s:s, s:s?}", "time", now, "serial", x->serial, "issuer", x->issuer);
	char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int fd = -1;
	if (!text) {
		r = cs_err_errno(&x->err, -ENOMEM, "write %s", path);
		goto out;
	}
	if ((r = prepare_dir(st, dir, &x->err)) < 0)
		goto out;
	size_t n = strlen(text);
	text[n] = '\n';
	r = cs_state_mirror_append(path, text, n + 1, &x->err);
	text[n] = '\0';
	if (r < 0)
		goto out;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = cs_err_errno(&x->err, -errno, "write %s", path);
		goto out;
	}
	text[n] = '\n';
	r = cs_fd_write_all(fd, text, n + 1);
	text[n] = '\0';
	if (r < 0) {
		r = cs_err_errno(&x->err, r, "write %s", path);
	} else {
		cs_wgroup_keep(g, fd, path);
		fd = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(rec);
	free(path);
	free(dir);
	return r;
}

void cs_store_issued_append_many(struct cs_store *st, struct cs_store_item *it, size_t n)
{
	struct cs_wgroup *g = cs_wgroup_new();
	for (size_t i = 0; i < n; i++)
		if (it[i].r == 0)
			it[i].r = issued_append_in(g, st, &it[i]);
	struct cs_err err = CS_ERR_INIT;
	if (cs_wgroup_commit(g, &err) < 0)
		for (size_t i = 0; i < n; i++)
			if (it[i].r == 0)
				it[i].r = cs_err_set(&it[i].err, err.code ? err.code : -EIO, "%s", cs_err_msg(&err));
	cs_err_clear(&err);
	cs_wgroup_free(g);
}

int cs_store_issued_append(struct cs_store *st, const char *name, const char *serial, const char *issuer,
			   struct cs_err *err)
{
	struct cs_store_item it = { .name = name, .serial = serial, .issuer = issuer, .err = CS_ERR_INIT };
	cs_store_issued_append_many(st, &it, 1);
	return one_item(&it, err);
}

static int drop_request(struct cs_store *st, const char *name, const char *subdir, struct cs_err *err)
{
	static const char *const files[] = { "meta.json", "request.csr", "key.pem" };
	char *dir = NULL;
	int r = check_name(name, err);
	if (r < 0 || !st->exists)
		goto out;
	dir = cs_xasprintf("%s/certs/%s/%s", st->dir, name, subdir);
	/* meta.json first: from then on the request no longer exists, whatever
	 * is left behind. */
	for (size_t i = 0; i < 3 && r == 0; i++)
		r = unlink_if_there(dir, files[i], err);
	if (r == 0 && rmdir(dir) < 0 && errno != ENOENT)
		r = cs_err_errno(err, -errno, "remove %s", dir);
out:
	free(dir);
	return r;
}

void cs_pending_free(struct cs_pending *p)
{
	if (!p)
		return;
	EVP_PKEY_free(p->key);
	X509_REQ_free(p->csr);
	free(p->issuer);
	memset(p, 0, sizeof *p);
}

/* ---- journal ---- */

int cs_store_journal(struct cs_store *st, json_t *record, struct cs_err *err)
{
	char *path = cs_xasprintf("%s/journal.jsonl", st->dir);
	json_t *line = json_object();
	char *text = NULL;
	int fd = -1;
	int r = 0;
	char now[21];
	pthread_mutex_lock(&st->journal_lock);
	cs_time_rfc3339(now, cs_now());
	/* "time" first, then the record's own members (its "time", if any,
	 * loses: the journal's clock is the one that counts). */
	if (!line || json_object_set_new(line, "time", json_string(now)) < 0 ||
	    (record && json_object_update_missing(line, record) < 0)) {
		r = cs_err_set(err, -EINVAL, "journal: record is not a JSON object");
		goto out;
	}
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (!text) {
		r = cs_err_errno(err, -ENOMEM, "journal");
		goto out;
	}
	if (!st->exists) {
		r = make_state_dir(st, err);
		if (r < 0)
			goto out;
	}
	if (st->journal_grouped && st->journal_fd >= 0) {
		fd = st->journal_fd;
		goto opened;
	}
	/* O_NONBLOCK: a FIFO in its place fails at once instead of waiting
	 * for a reader; anything but a regular file is refused. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0) {
		if (errno == ENXIO) /* a FIFO nobody reads */
			r = cs_err_set(err, -EINVAL, "journal %s: not a regular file (it is a fifo)", path);
		else
			r = cs_err_errno(err, -errno, "journal %s", path);
		goto out;
	}
	struct stat jst;
	if (fstat(fd, &jst) < 0 || !S_ISREG(jst.st_mode)) {
		r = cs_err_set(err, -EINVAL, "journal %s: not a regular file", path);
		goto out;
	}
	if (st->journal_grouped)
		st->journal_fd = fd;
opened:;
	/* One write per line: with O_APPEND concurrent writers cannot
	 * interleave inside a line. */
	size_t n = strlen(text);
	text[n] = '\n';
	r = cs_state_mirror_append(path, text, n + 1, err);
	if (r < 0) {
		text[n] = '\0';
		goto out;
	}
	r = cs_fd_write_all(fd, text, n + 1);
	text[n] = '\0';
	if (r < 0) {
		r = cs_err_errno(err, r, "journal %s", path);
		goto out;
	}
	if (st->journal_fd == fd)
		goto out; /* made durable by cs_store_journal_sync() */
	if (fsync(fd) < 0)
		r = cs_err_errno(err, -errno, "journal %s: fsync", path);
out:
	if (fd >= 0 && fd != st->journal_fd)
		close(fd);
	pthread_mutex_unlock(&st->journal_lock);
	free(text);
	json_decref(line);
	free(path);
	return r;
}

void cs_store_journal_group(struct cs_store *st, bool on)
{
	if (!on) {
		struct cs_err ignored = CS_ERR_INIT;
		cs_store_journal_sync(st, &ignored);
		cs_err_clear(&ignored);
	}
	pthread_mutex_lock(&st->journal_lock);
	st->journal_grouped = on;
	if (!on && st->journal_fd >= 0) {
		close(st->journal_fd);
		st->journal_fd = -1;
	}
	pthread_mutex_unlock(&st->journal_lock);
}

int cs_store_journal_sync(struct cs_store *st, struct cs_err *err)
{
	int r = 0;
	pthread_mutex_lock(&st->journal_lock);
	int fd = st->journal_fd >= 0 ? dup(st->journal_fd) : -1;
	pthread_mutex_unlock(&st->journal_lock);
	/* fsync on a copy of the descriptor, outside the lock: the host
	 * threads go on appending meanwhile. */
	if (fd >= 0) {
		if (fsync(fd) < 0)
			r = cs_err_errno(err, -errno, "journal %s/journal.jsonl: fsync", st->dir);
		close(fd);
	}
	return r;
}
