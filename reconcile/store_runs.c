/* Run records and what a killed run left in the state folder (see
 * store_runs.h). */
#include "reconcile/store_runs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "providers/base/util.h"
#include "providers/base/state_mirror.h"

#define DIR_MODE 0700
#define FILE_MODE 0600
#define MAX_RECORD (1u << 22)

/* A temporary file of any run but tag: ".X.certsync-HEX16-...". */
static bool is_temp_not_of(const char *name, const char *tag)
{
	const char *p = name[0] == '.' ? strstr(name + 1, ".certsync-") : NULL;
	if (!p)
		return false;
	p += strlen(".certsync-");
	return strspn(p, "0123456789abcdef") == 16 && p[16] == '-' && strncmp(p, tag, 16) != 0;
}

bool cs_is_temp_of(const char *name, const char *tag)
{
	if (name[0] != '.' || strlen(tag) != 16)
		return false;
	char *mark = cs_xasprintf(".certsync-%s-", tag);
	bool yes = strstr(name + 1, mark) != NULL;
	free(mark);
	return yes;
}

static bool valid_tag(const char *tag)
{
	return strlen(tag) == 16 && strspn(tag, "0123456789abcdef") == 16;
}

int cs_store_run_update(struct cs_store *st, const char *tag, json_t *record, struct cs_err *err)
{
	if (!valid_tag(tag))
		return cs_err_set(err, -EINVAL, "invalid run tag \"%s\"", tag);
	char *dir = cs_xasprintf("%s/runs", cs_store_dir(st));
	char *path = cs_xasprintf("%s/%s.json", dir, tag);
	int r = 0;
	if (!record) {
		r = cs_state_unlink(path, err);
		goto out;
	}
	char *text = json_dumps(record, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		r = cs_err_set(err, -ENOMEM, "write %s: out of memory", path);
	else if ((r = cs_mkdir_p(dir, DIR_MODE, err)) == 0)
		r = cs_file_write_atomic(path, text, strlen(text), FILE_MODE, (uid_t)-1, (gid_t)-1, err);
	free(text);
out:
	free(path);
	free(dir);
	return r;
}

int cs_store_run_begin(struct cs_store *st, json_t *hosts, struct cs_err *err)
{
	const char *tag = cs_store_run(st);
	if (!tag)
		return cs_err_set(err, -EINVAL, "record the run: the state folder is not locked");
	char started[21];
	cs_time_rfc3339(started, cs_now());
	json_t *rec = json_pack("{s:I, s:s, s:O}", "pid", (json_int_t)getpid(), "started", started, "hosts", hosts);
	int r = cs_store_run_update(st, tag, rec, err);
	json_decref(rec);
	if (r < 0)
		cs_err_prefix(err, "record the run");
	return r;
}

int cs_store_run_end(struct cs_store *st, struct cs_err *err)
{
	const char *tag = cs_store_run(st);
	return tag ? cs_store_run_update(st, tag, NULL, err) : 0;
}

int cs_store_runs_load(json_t **out, struct cs_store *st, struct cs_err *err)
{
	*out = json_object();
	char *dir = cs_xasprintf("%s/runs", cs_store_dir(st));
	const char *mine = cs_store_run(st);
	DIR *d = opendir(dir);
	int r = 0;
	if (!d)
		goto out; /* no run ever recorded */
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n != 16 + 5 || strcmp(e->d_name + 16, ".json"))
			continue;
		char tag[17];
		memcpy(tag, e->d_name, 16);
		tag[16] = '\0';
		if (!valid_tag(tag) || (mine && !strcmp(tag, mine)))
			continue;
		char *path = cs_xasprintf("%s/%s", dir, e->d_name);
		json_error_t je;
		json_t *rec = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(rec)) {
			/* Written atomically, so this is damage, not a crash:
			 * say so rather than guess what it held. */
			r = cs_err_set(err, -EINVAL, "%s: not a run record (%s)", path, je.text);
			json_decref(rec);
			free(path);
			break;
		}
		json_object_set_new(*out, tag, rec);
		free(path);
	}
	closedir(d);
out:
	free(dir);
	return r;
}

static int remove_in(const char *dir, const char *tag, size_t *removed, struct cs_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : cs_err_errno(err, -errno, "read folder %s", dir);
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *path = cs_xasprintf("%s/%s", dir, e->d_name);
		struct stat sb;
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			r = remove_in(path, tag, removed, err);
		} else if (is_temp_not_of(e->d_name, tag)) {
			if (unlink(path) == 0)
				(*removed)++;
			else if (errno != ENOENT)
				r = cs_err_errno(err, -errno, "remove %s", path);
		}
		free(path);
	}
	closedir(d);
	return r;
}

int cs_store_remove_temps(struct cs_store *st, const char *tag, size_t *removed, struct cs_err *err)
{
	*removed = 0;
	return remove_in(cs_store_dir(st), tag, removed, err);
}
