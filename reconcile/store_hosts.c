/* Per-host records in the state folder (see store_hosts.h). */
#include "reconcile/store_hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "providers/base/util.h"
#include "providers/base/state_mirror.h"
#include "providers/platform/binding_kind.h"

#define DIR_MODE 0700
#define FILE_MODE 0600
#define MAX_RECORD (1u << 22)

static int check_host(const char *host, struct cs_err *err)
{
	return cs_store_check_name("host", host, err);
}

static char *host_file(struct cs_store *st, const char *host, const char *file)
{
	return cs_xasprintf("%s/hosts/%s/%s", cs_store_dir(st), host, file);
}

/* STATE/hosts/HOST/FILE as a JSON object; -ENOENT when there is none. */
static int load_record(json_t **out, struct cs_store *st, const char *host, const char *file, struct cs_err *err)
{
	*out = NULL;
	int r = check_host(host, err);
	if (r < 0)
		return r;
	char *path = host_file(st, host, file);
	struct cs_buf text = CS_BUF_INIT;
	if ((r = cs_file_read(&text, path, MAX_RECORD, err)) == 0) {
		json_error_t je;
		*out = json_loadb(text.data ? text.data : "", text.len, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
			r = cs_err_set(err, -EINVAL, "%s: not a JSON object (%s)", path, je.text);
		}
	}
	cs_buf_free(&text);
	free(path);
	return r;
}

/* Replace STATE/hosts/HOST/FILE atomically with obj. */
static int save_record(struct cs_store *st, const char *host, const char *file, json_t *obj, struct cs_err *err)
{
	int r = check_host(host, err);
	if (r < 0)
		return r;
	char *dir = cs_xasprintf("%s/hosts/%s", cs_store_dir(st), host);
	char *path = host_file(st, host, file);
	char *text = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!text)
		r = cs_err_set(err, -ENOMEM, "write %s: out of memory", path);
	else if ((r = cs_mkdir_p(dir, DIR_MODE, err)) == 0)
		r = cs_file_write_atomic(path, text, strlen(text), FILE_MODE, (uid_t)-1, (gid_t)-1, err);
	free(text);
	free(dir);
	free(path);
	return r;
}

/* Remove STATE/hosts/HOST/FILE (its last entry is gone): "nothing
 * recorded" is then plain to see, and the removal is made durable like a
 * write. */
static int remove_record(struct cs_store *st, const char *host, const char *file, struct cs_err *err)
{
	char *path = host_file(st, host, file);
	int r = cs_state_unlink(path, err);
	if (r == 0) {
		char *dir = cs_path_dirname(path);
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dir);
	}
	free(path);
	return r;
}

/* Load the whole record for a change; an empty one when there is none. */
static int load_or_empty(json_t **all, struct cs_store *st, const char *host, const char *file, struct cs_err *err)
{
	int r = load_record(all, st, host, file, err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		*all = json_object();
		r = 0;
	}
	return r;
}

/* Entry key of the keyed record STATE/hosts/HOST/FILE: its string field
 * text_field (caller frees) and its time field; -ENOENT when the file or the
 * entry is not there. */
static int load_entry(struct cs_store *st, const char *host, const char *file, const char *key,
		      const char *text_field, char **text, const char *time_field, int64_t *at, struct cs_err *err)
{
	*text = NULL;
	*at = 0;
	json_t *all = NULL;
	int r = load_record(&all, st, host, file, err);
	if (r < 0)
		return r;
	json_t *e = json_object_get(all, key);
	const char *value = json_string_value(json_object_get(e, text_field));
	const char *when = json_string_value(json_object_get(e, time_field));
	if (!value) {
		r = -ENOENT;
	} else {
		*text = cs_xstrdup(value);
		if (when)
			cs_time_parse(at, when);
	}
	json_decref(all);
	return r;
}

/* ---- reboot-owed.json ---- */

void cs_owed_reboot_free(struct cs_owed_reboot *r)
{
	if (!r)
		return;
	free(r->boot);
	free(r->why);
	free(r->run);
	memset(r, 0, sizeof *r);
}

int cs_store_reboot_owed_load(struct cs_owed_reboot *out, struct cs_store *st, const char *host,
			      struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	json_t *v = NULL;
	int r = load_record(&v, st, host, "reboot-owed.json", err);
	if (r < 0)
		return r;
	const char *boot = json_string_value(json_object_get(v, "boot"));
	const char *since = json_string_value(json_object_get(v, "since"));
	const char *why = json_string_value(json_object_get(v, "why"));
	if (!boot || !since || cs_time_parse(&out->since, since) < 0) {
		char *path = host_file(st, host, "reboot-owed.json");
		r = cs_err_set(err, -EINVAL, "%s: not a reboot record (want {\"boot\", \"since\", \"why\"})", path);
		free(path);
	} else {
		out->boot = cs_xstrdup(boot);
		out->why = cs_xstrdup(why ? why : "");
		const char *run = json_string_value(json_object_get(v, "run"));
		out->run = run && run[0] ? cs_xstrdup(run) : NULL;
	}
	json_decref(v);
	return r;
}

int cs_store_reboot_owed_save(struct cs_store *st, const char *host, const struct cs_owed_reboot *rec,
			      struct cs_err *err)
{
	struct cs_owed_reboot old;
	struct cs_err ignored = CS_ERR_INIT;
	bool had_old = cs_store_reboot_owed_load(&old, st, host, &ignored) == 0;
	cs_err_clear(&ignored);
	char since[21];
	cs_time_rfc3339(since, had_old ? old.since : rec->since);
	json_t *v = json_pack("{s:s, s:s, s:s}", "boot", had_old ? old.boot : rec->boot, "since", since,
			      "why", rec->why ? rec->why : "");
	cs_owed_reboot_free(&old);
	if (rec->run)
		json_object_set_new(v, "run", json_string(rec->run));
	int r = save_record(st, host, "reboot-owed.json", v, err);
	if (r < 0)
		cs_err_prefix(err, "record that host %s owes a reboot", host);
	json_decref(v);
	return r;
}

int cs_store_reboot_owed_drop(struct cs_store *st, const char *host, struct cs_err *err)
{
	int r = check_host(host, err);
	if (r < 0)
		return r;
	char *path = host_file(st, host, "reboot-owed.json");
	r = cs_state_unlink(path, err);
	free(path);
	return r;
}

/* ---- scripts.json ---- */

int cs_store_script_ran_load(char **thumbprint, int64_t *at, struct cs_store *st, const char *host,
			     const char *key, struct cs_err *err)
{
	return load_entry(st, host, "scripts.json", key, "thumbprint", thumbprint, "at", at, err);
}

int cs_store_script_ran_save(struct cs_store *st, const char *host, const char *key,
			     const char *thumbprint, int64_t at, struct cs_err *err)
{
	json_t *all = NULL;
	int r = load_or_empty(&all, st, host, "scripts.json", err);
	if (r < 0)
		return r;
	char when[21];
	cs_time_rfc3339(when, at);
	json_object_set_new(all, key, json_pack("{s:s, s:s}", "thumbprint", thumbprint, "at", when));
	r = save_record(st, host, "scripts.json", all, err);
	json_decref(all);
	return r;
}

/* ---- unconfirmed.json ---- */

char *cs_binding_key(const char *cert, const struct cs_binding_cfg *b)
{
	char *where = cs_binding_where(b);
	char *key = cs_xasprintf("%s: %s %s", cert, b->kind_ops->name, where);
	free(where);
	return key;
}

int cs_store_unconfirmed_load(char **why, int64_t *since, struct cs_store *st, const char *host, const char *key,
			      struct cs_err *err)
{
	return load_entry(st, host, "unconfirmed.json", key, "why", why, "since", since, err);
}

static int unconfirmed_put(struct cs_store *st, const char *host, const char *key, const char *why,
			   const char *run, struct cs_err *err)
{
	json_t *all = NULL;
	int r = load_or_empty(&all, st, host, "unconfirmed.json", err);
	if (r < 0)
		return r;
	char when[21];
	cs_time_rfc3339(when, cs_now());
	json_object_set_new(all, key, json_pack("{s:s, s:s, s:s*}", "since", when, "why", why ? why : "", "run", run));
	r = save_record(st, host, "unconfirmed.json", all, err);
	json_decref(all);
	return r;
}

int cs_store_unconfirmed_save(struct cs_store *st, const char *host, const char *key, const char *why,
			      struct cs_err *err)
{
	return unconfirmed_put(st, host, key, why, NULL, err);
}

int cs_store_intent_save(struct cs_store *st, const char *host, const char *key, const char *run,
			 struct cs_err *err)
{
	int r = unconfirmed_put(st, host, key, "files changed by an apply that did not finish", run, err);
	if (r < 0)
		cs_err_prefix(err, "record the intent to change %s", key);
	return r;
}

char *cs_store_unconfirmed_run(struct cs_store *st, const char *host, const char *key)
{
	json_t *all = NULL;
	struct cs_err err = CS_ERR_INIT;
	char *run = NULL;
	if (load_record(&all, st, host, "unconfirmed.json", &err) == 0) {
		const char *s = json_string_value(json_object_get(json_object_get(all, key), "run"));
		run = s ? cs_xstrdup(s) : NULL;
	}
	cs_err_clear(&err);
	json_decref(all);
	return run;
}

int cs_store_intents_save(struct cs_store *st, const char *host, char *const *keys, size_t n, const char *run,
			  struct cs_err *err)
{
	json_t *all = NULL;
	int r = load_or_empty(&all, st, host, "unconfirmed.json", err);
	if (r < 0)
		return r;
	char when[21];
	cs_time_rfc3339(when, cs_now());
	for (size_t i = 0; i < n; i++)
		json_object_set_new(all, keys[i], json_pack("{s:s, s:s, s:s}", "since", when, "why",
							     "files changed by an apply that did not finish", "run", run));
	r = save_record(st, host, "unconfirmed.json", all, err);
	json_decref(all);
	if (r < 0)
		cs_err_prefix(err, "record the intent to change %zu binding%s of host %s", n, n == 1 ? "" : "s", host);
	return r;
}

/* Remove keys from a host's unconfirmed.json (only intents, entries with
 * a run, when only_intents), then save the rest or remove the record when
 * nothing is left; no record is nothing to remove. */
static int unconfirmed_remove(struct cs_store *st, const char *host, const char *const *keys, size_t n,
			      bool only_intents, struct cs_err *err)
{
	json_t *all = NULL;
	int r = load_record(&all, st, host, "unconfirmed.json", err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	size_t dropped = 0;
	for (size_t i = 0; i < n; i++)
		if ((!only_intents || json_string_value(json_object_get(json_object_get(all, keys[i]), "run"))) &&
		    json_object_del(all, keys[i]) == 0)
			dropped++;
	if (dropped)
		r = json_object_size(all) ? save_record(st, host, "unconfirmed.json", all, err)
					  : remove_record(st, host, "unconfirmed.json", err);
	json_decref(all);
	return r;
}

int cs_store_intents_close(struct cs_store *st, const char *host, char *const *keys, size_t n, struct cs_err *err)
{
	return unconfirmed_remove(st, host, (const char *const *)keys, n, true, err);
}

int cs_store_unconfirmed_read(json_t **all, struct cs_store *st, const char *host, struct cs_err *err)
{
	int r = load_record(all, st, host, "unconfirmed.json", err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		r = 0;
	}
	return r;
}

int cs_store_unconfirmed_get(char **why, int64_t *since, char **run, json_t *all, const char *key)
{
	json_t *e = json_object_get(all, key);
	const char *value = json_string_value(json_object_get(e, "why"));
	const char *when = json_string_value(json_object_get(e, "since"));
	const char *tag = json_string_value(json_object_get(e, "run"));
	*why = NULL;
	*since = 0;
	*run = NULL;
	if (!value)
		return -ENOENT;
	*why = cs_xstrdup(value);
	if (when)
		cs_time_parse(since, when);
	*run = tag ? cs_xstrdup(tag) : NULL;
	return 0;
}

int cs_store_unconfirmed_drop(struct cs_store *st, const char *host, const char *key, struct cs_err *err)
{
	return unconfirmed_remove(st, host, &key, 1, false, err);
}
