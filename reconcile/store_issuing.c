/* The issuance records, the files STATE/issuing/NAME.json (see store_issuing.h).
 *
 * A record file:
 *
 *   { "version": 1,
 *     "issuing": [ { "name": "web", "issuer": "lab", "created_at": "...",
 *                    "serial": "7A11CE...", "issue_time": "...",
 *                    "key": "-----BEGIN PRIVATE KEY-----...",
 *                    "request": "-----BEGIN CERTIFICATE REQUEST-----..." },
 *                  ... ] }
 *
 * In memory the records are an index loaded on first use: every issuance
 * by name, and for each record file the issuances it holds and how many of
 * them are still wanted.  The files' texts (which hold keys) are read when
 * an issuance is asked for or a file must be written again, and wiped when
 * let go. */
#include "reconcile/store_issuing.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "providers/base/state_mirror.h"
#include "providers/base/strmap.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"

/* Issuances per record file: 64 of the largest keys (RSA 8192) and their
 * requests stay well under the 1 MiB the state database copies per file. */
#define ISSUING_PER_RECORD 64
#define DIR_MODE 0700
#define RECORD_MODE 0600
#define NONE ((size_t)-1)

/* A certificate name and its live issuance, if any. */
struct name_slot {
	char *name;
	size_t entry; /* index into entries, or NONE */
};

/* One issuance of a record file. */
struct entry {
	size_t slot;  /* its name, or NONE for one without a usable name */
	size_t rec;
	bool live;
};

struct record {
	char *path;
	size_t *entries; /* in file order */
	size_t n, n_live;
	json_t *doc;     /* the file as parsed, NULL until needed */
	bool dirty;      /* lost issuances not written yet */
	bool gone;       /* removed */
};

struct cs_issuing_records {
	pthread_mutex_t lock;
	bool loaded;
	struct record *recs;
	size_t n_recs, cap_recs;
	struct entry *entries;
	size_t n_entries, cap_entries;
	struct name_slot *slots;
	size_t n_slots, cap_slots;
	struct cs_strmap by_name; /* name -> slot */
	unsigned seq;             /* record files written by this process */
};

struct cs_issuing_records *cs_issuing_records_new(void)
{
	struct cs_issuing_records *R = cs_xcalloc(1, sizeof *R);
	pthread_mutex_init(&R->lock, NULL);
	return R;
}

/* Zero the keys a parsed record holds before it is let go: jansson frees
 * its strings without wiping them.  An issuance another record still
 * holds (written again without its neighbours: flush) is left alone. */
static void wipe_doc(json_t *doc)
{
	json_t *e;
	size_t i;
	json_array_foreach(json_object_get(doc, "issuing"), i, e) {
		json_t *key = json_object_get(e, "key");
		if (e->refcount == 1 && json_is_string(key))
			OPENSSL_cleanse((char *)json_string_value(key), json_string_length(key));
	}
}

static void doc_free(json_t *doc)
{
	if (doc && doc->refcount == 1)
		wipe_doc(doc);
	json_decref(doc);
}

static void text_free(char *text)
{
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
}

void cs_issuing_records_free(struct cs_issuing_records *R)
{
	if (!R)
		return;
	for (size_t i = 0; i < R->n_recs; i++) {
		free(R->recs[i].path);
		free(R->recs[i].entries);
		doc_free(R->recs[i].doc);
	}
	for (size_t i = 0; i < R->n_slots; i++)
		free(R->slots[i].name);
	cs_strmap_free(&R->by_name);
	free(R->recs);
	free(R->entries);
	free(R->slots);
	pthread_mutex_destroy(&R->lock);
	free(R);
}

static char *records_dir(struct cs_store *st)
{
	return cs_xasprintf("%s/issuing", cs_store_dir(st));
}

/* ---- the index ---- */

static size_t add_record(struct cs_issuing_records *R, char *path, json_t *doc)
{
	if (R->n_recs == R->cap_recs) {
		R->cap_recs = R->cap_recs ? 2 * R->cap_recs : 8;
		R->recs = cs_xrealloc(R->recs, R->cap_recs * sizeof *R->recs);
	}
	R->recs[R->n_recs] = (struct record){ .path = path, .doc = doc };
	return R->n_recs++;
}

static void mark_dead(struct cs_issuing_records *R, size_t e)
{
	struct entry *x = &R->entries[e];
	if (!x->live)
		return;
	x->live = false;
	R->recs[x->rec].n_live--;
	R->recs[x->rec].dirty = true;
	if (x->slot != NONE && R->slots[x->slot].entry == e)
		R->slots[x->slot].entry = NONE;
}

/* Add the next issuance of record rec, named name (NULL: none usable).  A
 * name with a live issuance already keeps the one recorded last when
 * newer_wins (this run's), else the one found first (files read in name
 * order); the other is dropped with its file's next write. */
static void add_entry(struct cs_issuing_records *R, size_t rec, const char *name, bool newer_wins)
{
	if (R->n_entries == R->cap_entries) {
		R->cap_entries = R->cap_entries ? 2 * R->cap_entries : 64;
		R->entries = cs_xrealloc(R->entries, R->cap_entries * sizeof *R->entries);
	}
	size_t e = R->n_entries++;
	R->entries[e] = (struct entry){ .slot = NONE, .rec = rec, .live = true };
	struct record *r = &R->recs[rec];
	r->entries = cs_xrealloc(r->entries, (r->n + 1) * sizeof *r->entries);
	r->entries[r->n++] = e;
	r->n_live++;
	if (!name || cs_store_check_name("certificate", name, NULL) < 0) {
		mark_dead(R, e);
		return;
	}
	size_t s;
	if (!cs_strmap_get(&R->by_name, name, &s)) {
		if (R->n_slots == R->cap_slots) {
			R->cap_slots = R->cap_slots ? 2 * R->cap_slots : 64;
			R->slots = cs_xrealloc(R->slots, R->cap_slots * sizeof *R->slots);
		}
		s = R->n_slots++;
		R->slots[s] = (struct name_slot){ .name = cs_xstrdup(name), .entry = NONE };
		cs_strmap_put(&R->by_name, R->slots[s].name, s, NULL);
	}
	R->entries[e].slot = s;
	size_t old = R->slots[s].entry;
	if (old != NONE && !newer_wins) {
		mark_dead(R, e);
		return;
	}
	if (old != NONE)
		mark_dead(R, old);
	R->slots[s].entry = e;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read which issuances the record files hold, once.  A file that does not
 * parse is left as it is: it was written whole, so it is damage, and what
 * it holds (keys) is not removed unread. */
static void load_index(struct cs_issuing_records *R, struct cs_store *st)
{
	if (R->loaded)
		return;
	R->loaded = true;
	char *dir = records_dir(st);
	DIR *d = opendir(dir);
	if (!d) {
		free(dir);
		return;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		names = cs_xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = cs_xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1) /* qsort wants an array, and an empty folder has none */
		qsort(names, n, sizeof *names, compare_names);
	for (size_t i = 0; i < n; i++) {
		char *path = cs_xasprintf("%s/%s", dir, names[i]);
		free(names[i]);
		json_error_t je;
		json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		json_t *list = json_object_get(doc, "issuing");
		if (!json_is_array(list)) {
			doc_free(doc);
			free(path);
			continue;
		}
		size_t rec = add_record(R, path, doc);
		json_t *e;
		size_t k;
		json_array_foreach(list, k, e)
			add_entry(R, rec, json_string_value(json_object_get(e, "name")), false);
	}
	free(names);
	free(dir);
}

static json_t *record_doc(struct record *r, struct cs_err *err)
{
	if (r->doc)
		return r->doc;
	json_error_t je;
	r->doc = json_load_file(r->path, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_array(json_object_get(r->doc, "issuing"))) {
		doc_free(r->doc);
		r->doc = NULL;
		cs_err_set(err, -EIO, "%s: not an issuance record (%s)", r->path, je.text);
	}
	return r->doc;
}

/* Write the records that lost issuances again without them, or remove
 * them when none is left.  A removal that a crash undoes leaves only
 * issuances whose certificates were saved, which the next apply drops. */
static int flush(struct cs_issuing_records *R, struct cs_err *err)
{
	int first = 0;
	for (size_t i = 0; i < R->n_recs; i++) {
		struct record *r = &R->recs[i];
		if (!r->dirty || r->gone)
			continue;
		struct cs_err e = CS_ERR_INIT;
		int res;
		if (r->n_live == 0) {
			res = cs_state_unlink(r->path, &e);
			if (res == 0) {
				r->gone = true;
				doc_free(r->doc);
				r->doc = NULL;
			}
		} else if (!record_doc(r, &e)) {
			res = e.code ? e.code : -EIO;
		} else {
			json_t *list = json_object_get(r->doc, "issuing");
			json_t *kept = json_array();
			size_t *entries = cs_xcalloc(r->n_live, sizeof *entries), m = 0;
			for (size_t k = 0; k < r->n; k++)
				if (R->entries[r->entries[k]].live) {
					json_array_append(kept, json_array_get(list, k));
					entries[m++] = r->entries[k];
				}
			json_t *doc = json_pack("{s:i, s:o}", "version", 1, "issuing", kept);
			char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
			res = text ? cs_file_write_atomic(r->path, text, strlen(text), RECORD_MODE, (uid_t)-1, (gid_t)-1, &e)
				   : cs_err_errno(&e, -ENOMEM, "write %s", r->path);
			text_free(text);
			if (res == 0) {
				doc_free(r->doc);
				r->doc = doc;
				free(r->entries);
				r->entries = entries;
				r->n = m;
			} else {
				doc_free(doc);
				free(entries);
			}
		}
		if (res == 0) {
			r->dirty = false;
		} else if (first == 0) {
			first = res;
			if (err) {
				cs_err_clear(err);
				*err = e;
				e = (struct cs_err)CS_ERR_INIT;
			}
		}
		cs_err_clear(&e);
	}
	return first;
}

/* ---- record, find, drop ---- */

static void fail_all(struct cs_store_item *it, size_t n, const bool *recorded, const struct cs_err *why)
{
	for (size_t i = 0; i < n; i++)
		if (recorded[i] && it[i].r == 0)
			it[i].r = cs_err_set(&it[i].err, why->code ? why->code : -EIO, "record the issuance of %s: %s",
					     it[i].name, cs_err_msg(why));
}

/* A name no record file has: the run's tag (or this process), then a
 * number. */
static char *new_record_path(struct cs_issuing_records *R, struct cs_store *st, const char *dir)
{
	const char *run = cs_store_run(st);
	for (;;) {
		char *path = run ? cs_xasprintf("%s/%s-%04u.json", dir, run, R->seq++)
				 : cs_xasprintf("%s/p%ld-%lld-%04u.json", dir, (long)getpid(), (long long)time(NULL),
						R->seq++);
		struct stat sb;
		if (lstat(path, &sb) < 0 && errno == ENOENT)
			return path;
		free(path);
	}
}

static json_t *entry_of(struct cs_store_item *x, struct cs_buf *key_pem)
{
	struct cs_buf csr_pem = CS_BUF_INIT;
	json_t *e = NULL;
	if (cs_key_to_pem(key_pem, x->key, &x->err) < 0 || cs_csr_to_pem(&csr_pem, x->csr, &x->err) < 0)
		goto out;
	char created_at[21], at[21];
	cs_time_rfc3339(created_at, cs_now());
	cs_time_rfc3339(at, x->issue_time);
	e = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s%, s:s%}", "name", x->name, "issuer", x->issuer, "created_at",
		      created_at, "serial", x->serial, "issue_time", at, "key", key_pem->data, key_pem->len, "request",
		      csr_pem.data, csr_pem.len);
	if (!e)
		cs_err_set(&x->err, -ENOMEM, "encode the issuance");
out:
	cs_buf_free(&csr_pem);
	return e;
}

void cs_issuing_records_save(struct cs_store *st, struct cs_store_item *it, size_t n)
{
	struct cs_issuing_records *R = cs_store_issuing_records(st);
	json_t **entries = cs_xcalloc(n ? n : 1, sizeof *entries);
	struct cs_buf *keys = cs_xcalloc(n ? n : 1, sizeof *keys);
	bool *recorded = cs_xcalloc(n ? n : 1, sizeof *recorded);
	size_t *order = cs_xcalloc(n ? n : 1, sizeof *order), m = 0;
	for (size_t i = 0; i < n; i++) {
		struct cs_store_item *x = &it[i];
		if (x->r < 0)
			continue;
		int r = cs_store_check_name("certificate", x->name, &x->err);
		if (r == 0 && !(entries[i] = entry_of(x, &keys[i])))
			r = x->err.code ? x->err.code : -ENOMEM;
		if (r < 0) {
			x->r = r;
			cs_err_prefix(&x->err, "record the issuance of %s", x->name ? x->name : "");
			continue;
		}
		recorded[i] = true;
		order[m++] = i;
	}
	if (m == 0)
		goto out;

	char *dir = records_dir(st);
	struct cs_err err = CS_ERR_INIT;
	pthread_mutex_lock(&R->lock);
	load_index(R, st); /* so that an older issuance of the same name is replaced */
	size_t n_files = (m + ISSUING_PER_RECORD - 1) / ISSUING_PER_RECORD;
	char **paths = cs_xcalloc(n_files, sizeof *paths);
	struct cs_wgroup *g = cs_wgroup_new();
	int r = cs_mkdir_p(dir, DIR_MODE, &err);
	for (size_t f = 0; r == 0 && f < n_files; f++) {
		json_t *list = json_array();
		for (size_t k = f * ISSUING_PER_RECORD; k < m && k < (f + 1) * ISSUING_PER_RECORD; k++)
			json_array_append(list, entries[order[k]]);
		json_t *doc = json_pack("{s:i, s:o}", "version", 1, "issuing", list);
		char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(doc); /* the entries stay, wiped below */
		paths[f] = new_record_path(R, st, dir);
		r = text ? cs_wgroup_write(g, paths[f], text, strlen(text), RECORD_MODE, &err)
			 : cs_err_errno(&err, -ENOMEM, "write %s", paths[f]);
		text_free(text);
	}
	if (r == 0)
		r = cs_wgroup_commit(g, &err);
	cs_wgroup_free(g);
	if (r < 0) {
		fail_all(it, n, recorded, &err);
	} else {
		for (size_t f = 0; f < n_files; f++) {
			size_t rec = add_record(R, paths[f], NULL);
			paths[f] = NULL;
			for (size_t k = f * ISSUING_PER_RECORD; k < m && k < (f + 1) * ISSUING_PER_RECORD; k++)
				add_entry(R, rec, it[order[k]].name, true);
		}
		struct cs_err ignored = CS_ERR_INIT;
		flush(R, &ignored); /* issuances these replace; left over: dropped next time */
		cs_err_clear(&ignored);
	}
	pthread_mutex_unlock(&R->lock);
	for (size_t f = 0; f < n_files; f++)
		free(paths[f]);
	free(paths);
	cs_err_clear(&err);
	free(dir);
out:
	for (size_t i = 0; i < n; i++) {
		if (entries[i]) {
			json_t *key = json_object_get(entries[i], "key");
			OPENSSL_cleanse((char *)json_string_value(key), json_string_length(key));
			json_decref(entries[i]);
		}
		if (it[i].r == 0 && recorded[i] && it[i].keep_pem) {
			it[i].key_pem = keys[i];
			keys[i] = (struct cs_buf)CS_BUF_INIT;
		}
		cs_buf_free_secret(&keys[i]);
	}
	free(entries);
	free(keys);
	free(recorded);
	free(order);
}

static int issuance_of(struct cs_issuing *out, json_t *e, const char *path, const char *name, struct cs_err *err)
{
	const char *key = json_string_value(json_object_get(e, "key"));
	const char *req = json_string_value(json_object_get(e, "request"));
	const char *serial = json_string_value(json_object_get(e, "serial"));
	const char *issuer = json_string_value(json_object_get(e, "issuer"));
	int r;
	out->issue_time = cs_store_json_time(e, "issue_time");
	out->req.created_at = cs_store_json_time(e, "created_at");
	if (!key || !req || !serial || !serial[0] || strspn(serial, "0123456789ABCDEFabcdef") != strlen(serial) ||
	    !out->issue_time)
		return cs_err_set(err, -EINVAL, "%s: the issuance of %s has no key, request, serial or issue_time",
				  path, name);
	if ((r = cs_key_parse(&out->req.key, key, strlen(key), err)) < 0 ||
	    (r = cs_csr_parse(&out->req.csr, req, strlen(req), err)) < 0)
		return cs_err_prefix(err, "%s: the issuance of %s", path, name);
	if (!cs_key_matches_csr(out->req.key, out->req.csr))
		return cs_err_set(err, -EIO, "%s: the issuance of %s: its key does not belong to its request", path,
				  name);
	out->req.issuer = issuer ? cs_xstrdup(issuer) : NULL;
	out->serial = cs_xstrdup(serial);
	return 0;
}

int cs_issuing_records_find(struct cs_issuing *out, struct cs_store *st, const char *name, struct cs_err *err)
{
	struct cs_issuing_records *R = cs_store_issuing_records(st);
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&R->lock);
	load_index(R, st);
	size_t s;
	int r = -ENOENT;
	if (cs_strmap_get(&R->by_name, name, &s) && R->slots[s].entry != NONE) {
		size_t e = R->slots[s].entry;
		struct record *rec = &R->recs[R->entries[e].rec];
		json_t *doc = record_doc(rec, err);
		size_t pos = 0;
		while (pos < rec->n && rec->entries[pos] != e)
			pos++;
		r = doc ? issuance_of(out, json_array_get(json_object_get(doc, "issuing"), pos), rec->path, name, err)
			: (err && err->code ? err->code : -EIO);
		if (r < 0)
			cs_issuing_free(out);
	}
	if (r == -ENOENT)
		cs_err_set(err, -ENOENT, "no issuance in progress for %s", name);
	pthread_mutex_unlock(&R->lock);
	return r;
}

int cs_issuing_records_drop(struct cs_store *st, const char *const *names, size_t n, struct cs_err *err)
{
	struct cs_issuing_records *R = cs_store_issuing_records(st);
	pthread_mutex_lock(&R->lock);
	load_index(R, st);
	for (size_t i = 0; i < n; i++) {
		size_t s;
		if (names[i] && cs_strmap_get(&R->by_name, names[i], &s) && R->slots[s].entry != NONE)
			mark_dead(R, R->slots[s].entry);
	}
	int r = flush(R, err);
	pthread_mutex_unlock(&R->lock);
	return r;
}
