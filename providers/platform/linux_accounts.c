/* Declared owners and groups exist on the host (see linux_accounts.h). */
#include "providers/platform/linux_accounts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"
#include "providers/base/quote.h"

struct name_list {
	const char **v;
	size_t n;
};

/* Does an observed file of out already carry this name (as owner when
 * user, else as group)? */
static bool seen_on_a_file(const struct cs_binding_obs *out, const char *name, bool user)
{
	for (size_t i = 0; i < out->n_files; i++) {
		const struct cs_file_obs *fo = &out->files[i];
		if (fo->exists && cs_streq(user ? fo->owner : fo->group, name))
			return true;
	}
	return false;
}

static void add_unique(struct name_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], name))
			return;
	l->v = cs_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n++] = name;
}

static bool listed(const char *out, const char *kind, const char *name)
{
	char *line = cs_xasprintf("%s %s\n", kind, name);
	bool found = false;
	size_t len = strlen(line);
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, line, len)) {
			found = true;
			break;
		}
	free(line);
	return found;
}

int cs_linux_accounts_script(struct cs_buf *out, const char *const *users, size_t n_users,
			     const char *const *groups, size_t n_groups)
{
	int r = 0;
	for (size_t i = 0; i < n_users && r == 0; i++) {
		char *q = cs_sh_quote(users[i]);
		r = cs_buf_printf(out, "getent passwd %s >/dev/null 2>&1 || id -u %s >/dev/null 2>&1 || echo user %s\n",
				  q, q, q);
		free(q);
	}
	for (size_t i = 0; i < n_groups && r == 0; i++) {
		char *q = cs_sh_quote(groups[i]);
		r = cs_buf_printf(out, "getent group %s >/dev/null 2>&1 || cut -d: -f1 /etc/group | grep -qxF %s "
				  "|| echo group %s\n", q, q, q);
		free(q);
	}
	if (r == 0)
		r = cs_buf_puts(out, "exit 0\n");
	return r;
}

void cs_linux_check_accounts(struct cs_transport *t, const struct cs_binding_cfg *const *bindings,
			     struct cs_binding_obs *const *outs, size_t n)
{
	struct name_list users = { 0 }, groups = { 0 };
	for (size_t i = 0; i < n; i++) {
		const struct cs_binding_cfg *b = bindings[i];
		if (b->kind != CS_BIND_FILES || outs[i]->error)
			continue;
		if (b->files.owner && !cs_only_digits(b->files.owner) && !seen_on_a_file(outs[i], b->files.owner, true))
			add_unique(&users, b->files.owner);
		if (b->files.group && !cs_only_digits(b->files.group) && !seen_on_a_file(outs[i], b->files.group, false))
			add_unique(&groups, b->files.group);
	}
	if (!users.n && !groups.n)
		return;
	struct cs_buf script = CS_BUF_INIT;
	cs_linux_accounts_script(&script, users.v, users.n, groups.v, groups.n);
	struct cs_run_result res;
	cs_run_result_init(&res, 64 * 1024);
	struct cs_err err = CS_ERR_INIT;
	if (t->ops->run(t, script.data, NULL, 0, &res, &err) == 0 && res.exit_status == 0) {
		const char *text = res.out.data ? res.out.data : "";
		for (size_t i = 0; i < n; i++) {
			const struct cs_binding_cfg *b = bindings[i];
			if (b->kind != CS_BIND_FILES || outs[i]->error)
				continue;
			if (b->files.owner && listed(text, "user", b->files.owner))
				outs[i]->error = cs_xasprintf("owner %s does not exist on host %s (no such user)",
							      b->files.owner, t->host->name);
			else if (b->files.group && listed(text, "group", b->files.group))
				outs[i]->error = cs_xasprintf("group %s does not exist on host %s (no such group)",
							      b->files.group, t->host->name);
		}
	}
	cs_err_clear(&err);
	cs_run_result_free(&res);
	cs_buf_free(&script);
	free(users.v);
	free(groups.v);
}

/* ---- what the login user cannot do ----
 *
 * Replacing a file means creating a new one next to it and renaming it over
 * the old one.  For a user that is not root (Linux rules):
 * - creating and renaming need a folder it can write and enter; in a sticky
 *   folder (01000) it may replace only files it or the folder's owner owns;
 * - the new file is the user's: only root gives a file to another user;
 * - its group is the user's primary group (the folder's in a set-group-id
 *   folder), and the user can change it only to a group it is in;
 * - the mode it can always set.
 *
 * Per case, what the plan does:
 * - An owner or group the config declares and the user cannot set is an
 *   error naming file, value and fix: the operator asked for it, the apply
 *   could not deliver it, and it must not be found at the next renewal.
 *   Also when the files are in sync now: their next replacement would fail.
 * - A folder the user cannot write, or a file it may not replace, is an
 *   error naming the folder: nothing can be written there.
 * - An owner or group nobody declared, which the replacement cannot keep
 *   ("unchanged" is then not possible), changes hands, and the plan's
 *   reason says so: that is how a plain deploy user's files with group root
 *   (left by `chown deploy FILE`) are renewed.  Unless the mode gives that
 *   owner or group read access that others do not have: then handing the
 *   file over would lock a service out of its key (mode 0640, group
 *   ssl-cert), which is an error.  Root (uid or gid 0) is the exception: it
 *   reads every file anyway, so losing owner or group root takes nothing
 *   from anyone. */

/* How to do it as root: on a local host certsync itself runs as root. */
static bool over_ssh(const struct cs_transport *t)
{
	return t->host && t->host->transport == CS_TRANSPORT_SSH;
}

const char *cs_linux_root_fix(const struct cs_transport *t)
{
	return over_ssh(t) ? "become: sudo" : "run certsync as root";
}

static const struct cs_linux_dir *dir_of(const struct cs_linux_who *who, const char *path)
{
	char *dir = cs_path_dirname(path);
	const struct cs_linux_dir *found = NULL;
	for (size_t k = 0; k < who->n_dirs && !found; k++)
		if (!strcmp(who->dirs[k].path, dir))
			found = &who->dirs[k];
	free(dir);
	return found;
}

static bool is_user(const struct cs_linux_who *who, const char *owner)
{
	if (cs_only_digits(owner))
		return strtoul(owner, NULL, 10) == who->uid;
	return !strcmp(owner, who->user);
}

/* Can who give a new file in folder d (NULL: not known) the declared group? */
static bool can_set_group(const struct cs_linux_who *who, const struct cs_linux_dir *d, const char *group)
{
	/* A set-group-id folder gives its group to the new file: keeping that
	 * one is no change. */
	bool setgid = d && d->seen && (d->mode & 02000);
	if (cs_only_digits(group)) {
		unsigned long gid = strtoul(group, NULL, 10);
		return cs_linux_who_in_group(who, gid) || (setgid && d->gid == gid);
	}
	if (!strcmp(group, who->group) || (setgid && cs_streq(d->group, group)))
		return true;
	for (size_t i = 0; i < who->n_groups; i++)
		if (cs_streq(who->group_names[i], group))
			return true;
	return false;
}

static void add_note(struct cs_file_obs *fo, char *text)
{
	if (!fo->note) {
		fo->note = text;
		return;
	}
	char *both = cs_xasprintf("%s; %s", fo->note, text);
	free(fo->note);
	free(text);
	fo->note = both;
}

/* May who write file fo itself (not its folder)? */
static bool file_writable(const struct cs_transport *t, const struct cs_linux_who *who,
			  const struct cs_file_obs *fo)
{
	bool w = fo->uid == who->uid ? fo->mode & 0200
		 : cs_linux_who_in_group(who, fo->gid) ? fo->mode & 0020 : fo->mode & 0002;
	if (w || !t || !t->ops || !t->ops->run)
		return w;
	/* An access control list the mode does not show (setfacl -m
	 * u:deploy:rw on root's file) may let the user write it: the host
	 * says, asked only when the mode says no. */
	char *q = cs_sh_quote(fo->path);
	char *cmd = cs_xasprintf("test -w %s", q);
	struct cs_run_result rr;
	struct cs_err err = CS_ERR_INIT;
	cs_run_result_init(&rr, 4096);
	struct cs_transport *rw = (struct cs_transport *)t; /* run() changes no config, only the connection */
	w = t->ops->run(rw, cmd, NULL, 0, &rr, &err) == 0 && rr.exit_status == 0;
	cs_run_result_free(&rr);
	cs_err_clear(&err);
	free(cmd);
	free(q);
	return w;
}

/* Folder d is not writable by who, so file fo cannot be replaced by a new
 * one: rewritten in place if who may write the file itself and nothing
 * else about it must change hands (the transports do the same, see
 * write_file in transport.h).  A message when not, else NULL with the
 * plan's note. */
static char *check_in_place(const struct cs_transport *t, const struct cs_linux_who *who,
			    const struct cs_binding_cfg *b, struct cs_file_obs *fo, const struct cs_linux_dir *d,
			    const char *fix)
{
	const struct cs_bind_files *f = &b->files;
	const char *user = who->user, *path = fo->path;
	unsigned mode = (unsigned)f->mode;
	if (!fo->exists || !file_writable(t, who, fo))
		return cs_xasprintf("folder %s is not writable by %s: certsync replaces %s by writing a new file "
				    "next to it (let %s write the folder, or %s)", d->path, user, path, user, fix);
	if ((f->owner && fo->uid != who->uid) || (f->group && !cs_streq(f->group, fo->group) &&
						 !(cs_only_digits(f->group) && strtoul(f->group, NULL, 10) == fo->gid)))
		return cs_xasprintf("folder %s is not writable by %s, so %s is rewritten in place, which cannot "
				    "change its owner %s or group %s (let %s write the folder, or %s)", d->path, user,
				    path, fo->owner, fo->group, user, fix);
	if ((fo->mode & 07777) != mode && fo->uid != who->uid) {
		/* The file's own mode is a way out, unless it is one a key may
		 * not have (the group writing it, as a group-writable key
		 * given to a deploy group is). */
		unsigned has = (unsigned)(fo->mode & 07777);
		bool key = f->key || f->pem || f->pfx;
		char *keep = !key || !(has & ~0640u) ? cs_xasprintf("set mode: \"%04o\", ", has)
			   : cs_xasprintf("a key's mode may not let group or others write it: give the file to %s, ",
					  user);
		char *m = cs_xasprintf("folder %s is not writable by %s, so %s is rewritten in place, and only its "
				       "owner %s may change its mode %04o to %04o (%slet %s write the folder, or %s)",
				       d->path, user, path, fo->owner, has, mode, keep, user, fix);
		free(keep);
		return m;
	}
	add_note(fo, cs_xasprintf("%s is rewritten in place (folder %s is not writable by %s): it keeps its "
				  "owner and group, and a reader may see it half written until the write ends",
				  path, d->path, user));
	return NULL;
}

/* The first thing who cannot do to file fo of binding b (a message), or
 * NULL; what changes hands goes into fo's note. */
static char *check_file(const struct cs_transport *t, const struct cs_linux_who *who,
			const struct cs_binding_cfg *b, struct cs_file_obs *fo)
{
	const char *fix = cs_linux_root_fix(t), *user = who->user, *path = fo->path;
	const struct cs_bind_files *f = &b->files;
	unsigned mode = (unsigned)f->mode;
	const struct cs_linux_dir *d = dir_of(who, path);
	if (f->owner && !is_user(who, f->owner))
		return cs_xasprintf("owner %s of %s cannot be set: %s is not root, and only root can give a file "
				    "to another user (drop owner: or make it %s, or %s)", f->owner, path, user, user, fix);
	if (f->group && !can_set_group(who, d, f->group))
		return cs_xasprintf("group %s of %s cannot be set: %s is not in group %s (set group: to a group %s "
				    "is in, add %s to group %s, or %s)", f->group, path, user, f->group, user, user,
				    f->group, fix);
	if (d && d->seen && !d->writable)
		return check_in_place(t, who, b, fo, d, fix);
	if (!fo->exists)
		return NULL; /* a new file is the user's, in its group: nothing to keep */
	if (d && d->seen && (d->mode & 01000) && fo->uid != who->uid && d->uid != who->uid)
		return cs_xasprintf("%s belongs to %s in folder %s, which is sticky: %s may not replace it "
				    "(make %s its owner, or %s)", path, fo->owner, d->path, user, user, fix);
	if (!f->owner && fo->uid != who->uid) {
		if (fo->uid != 0 && (mode & 0400) && !(mode & 0004))
			return cs_xasprintf("%s belongs to %s, and mode %04o lets its owner read it, others not: "
					    "the replacement would belong to %s, who cannot give files away, and %s "
					    "could not read it (set owner: %s to accept that, or %s)",
					    path, fo->owner, mode, user, fo->owner, user, fix);
		add_note(fo, cs_xasprintf("%s: owner %s will become %s (%s cannot give files to another user; %s "
					  "keeps it)", path, fo->owner, user, user,
					  over_ssh(t) ? "become: sudo" : "certsync run as root"));
	}
	if (!f->group) {
		bool setgid = d && d->seen && (d->mode & 02000);
		unsigned long new_gid = setgid ? d->gid : who->gid;
		const char *new_group = setgid ? d->group : who->group;
		if (fo->gid != new_gid && !cs_linux_who_in_group(who, fo->gid)) {
			if (fo->gid != 0 && (mode & 0040) && !(mode & 0004))
				return cs_xasprintf("%s: group %s would become %s, and mode %04o lets group %s read it, "
						    "others not: %s is not in group %s (set group: to a group %s is in, "
						    "add %s to group %s, or %s)", path, fo->group, new_group, mode,
						    fo->group, user, fo->group, user, user, fo->group, fix);
			add_note(fo, cs_xasprintf("%s: group %s will become %s (%s is not in group %s; set group: or %s)",
						  path, fo->group, new_group, user, fo->group, fix));
		}
	}
	return NULL;
}

void cs_linux_check_permissions(const struct cs_transport *t, const struct cs_linux_who *who,
				const struct cs_binding_cfg *const *bindings,
				struct cs_binding_obs *const *outs, size_t n)
{
	if (!who || who->uid == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct cs_binding_cfg *b = bindings[i];
		struct cs_binding_obs *out = outs[i];
		for (size_t k = 0; b->kind == CS_BIND_FILES && k < out->n_files && !out->error; k++)
			out->error = check_file(t, who, b, &out->files[k]);
		/* A binding that cannot be applied changes no hands. */
		for (size_t k = 0; out->error && k < out->n_files; k++) {
			free(out->files[k].note);
			out->files[k].note = NULL;
		}
	}
}
