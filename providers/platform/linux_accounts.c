/* Declared owners and groups exist on the host (see linux_accounts.h). */
#include "linux_accounts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "reconcile/util.h"

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
