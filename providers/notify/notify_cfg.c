/* The top-level `notify:` list (see notify.h), with FILE:LINE:COL
 * diagnostics like the rest of the config. */
#include "providers/notify/notify.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "providers/base/util.h"

static const char *const event_names[] = {
	"failed", "rolled_back", "reboot_owed", "renewal_failing", "expiring", NULL,
};

const char *cs_notify_event_name(unsigned ev)
{
	for (size_t i = 0; event_names[i]; i++)
		if (ev == 1u << i)
			return event_names[i];
	return NULL;
}

static void parse_on(struct cs_yaml *y, const struct cs_ynode *m, struct cs_notify_cfg *n, const char *where)
{
	struct cs_ynode *v = cs_yaml_seq(y, m, "on", where, true);
	if (!v)
		return;
	size_t k = cs_yaml_n_items(v);
	if (k == 0) {
		cs_yaml_report(y, v, "\"on\" %s is empty: name at least one of %s", where,
			       cs_yaml_word_list(y, event_names, " or "));
		return;
	}
	for (size_t i = 0; i < k; i++) {
		struct cs_ynode *item = cs_yaml_item(y, v, i);
		const char *s = item && cs_yaml_kind(item) == CS_YV_STR ? cs_yaml_text(item) : NULL;
		int found = -1;
		for (size_t e = 0; s && event_names[e]; e++)
			if (!strcmp(s, event_names[e]))
				found = (int)e;
		if (found < 0) {
			if (!s)
				cs_yaml_type_error(y, item, "an event name", "on", where);
			else
				cs_yaml_report(y, item, "unknown event \"%s\" in \"on\" %s: use %s%s", cs_yaml_esc(y, s), where,
					       cs_yaml_word_list(y, event_names, " or "),
					       cs_yaml_did_you_mean(y, s, event_names, CS_NOTIFY_N_EVENTS));
			continue;
		}
		if (n->on & (1u << found))
			cs_yaml_report(y, item, "event \"%s\" is listed twice in \"on\" %s", s, where);
		n->on |= 1u << found;
	}
}

static void parse_webhook(struct cs_yaml *y, const struct cs_ynode *m, struct cs_notify_cfg *n, const char *where)
{
	static const char *const keys[] = { "url", "secret", "timeout", "retries", "ca_bundle", NULL };
	cs_yaml_check_keys(y, m, keys, where);
	struct cs_ynode *v = cs_yaml_str(y, m, "url", where, true, &n->url);
	if (v) {
		const char *rest = !strncmp(n->url, "https://", 8) ? n->url + 8 : !strncmp(n->url, "http://", 7) ? n->url + 7 : NULL;
		if (!rest || !rest[0] || rest[0] == '/' || strpbrk(n->url, " \t\r\n"))
			cs_yaml_report(y, v, "\"url\" %s must be an http:// or https:// URL with a host, without spaces", where);
	}
	cs_yaml_secret(y, m, "secret", where, true, &n->secret);
	n->timeout = 10;
	cs_yaml_duration(y, m, "timeout", where, true, 600, &n->timeout);
	n->retries = 3;
	cs_yaml_int(y, m, "retries", where, false, 0, 10, &n->retries);
	cs_yaml_local_file(y, m, "ca_bundle", where, false, &n->ca_bundle);
}

static void parse_command(struct cs_yaml *y, const struct cs_ynode *m, struct cs_notify_cfg *n, const char *where)
{
	static const char *const keys[] = { "path", "args", "timeout", NULL };
	cs_yaml_check_keys(y, m, keys, where);
	char *raw = NULL;
	struct cs_ynode *v = cs_yaml_str(y, m, "path", where, true, &raw);
	if (v) {
		n->path = cs_yaml_local_path(y, raw);
		/* A typo is caught now, not when something already went wrong. */
		struct stat st;
		if (stat(n->path, &st) < 0)
			cs_yaml_report(y, v, "command %s %s does not exist (looked for %s)", cs_yaml_esc(y, raw), where,
				       cs_yaml_esc(y, n->path));
		else if (!S_ISREG(st.st_mode))
			cs_yaml_report(y, v, "command %s %s is not a regular file (%s is %s)", cs_yaml_esc(y, raw), where,
				       cs_yaml_esc(y, n->path), cs_file_type_name(st.st_mode));
		else if (access(n->path, X_OK) < 0)
			cs_yaml_report(y, v, "command %s %s is not executable (chmod +x %s)", cs_yaml_esc(y, raw), where,
				       cs_yaml_esc(y, n->path));
	}
	free(raw);
	n->timeout = 60;
	cs_yaml_duration(y, m, "timeout", where, true, 3600, &n->timeout);
	v = cs_yaml_seq(y, m, "args", where, false);
	size_t k = v ? cs_yaml_n_items(v) : 0;
	n->args = cs_xcalloc(k + 1, sizeof *n->args);
	for (size_t i = 0; i < k; i++) {
		struct cs_ynode *item = cs_yaml_item(y, v, i);
		const char *s = item ? cs_yaml_scalar_text(y, item, "args", where) : NULL;
		if (s)
			n->args[n->n_args++] = cs_xstrdup(s);
	}
}

void cs_notify_cfg_parse(struct cs_yaml *y, const struct cs_ynode *v, struct cs_notify_cfg **out, size_t *n_out)
{
	static const char *const keys[] = { "webhook", "command", "on", "expiring_within", NULL };
	static const char *const kinds[] = { "webhook", "command", NULL };
	*out = NULL;
	*n_out = 0;
	if (!v || cs_yaml_kind(v) == CS_YV_NULL)
		return;
	if (cs_yaml_kind(v) != CS_YV_SEQ) {
		cs_yaml_type_error(y, v, "a list of notifiers", "notify", "at the top level");
		return;
	}
	size_t k = cs_yaml_n_items(v);
	struct cs_notify_cfg *list = cs_xcalloc(k + 1, sizeof *list);
	for (size_t i = 0; i < k; i++) {
		struct cs_ynode *m = cs_yaml_item(y, v, i);
		struct cs_notify_cfg *n = &list[(*n_out)++];
		n->pos = cs_yaml_pos(m);
		n->expiring_within = 14 * 86400;
		const char *where = cs_yaml_fmt(y, "in notify %zu", i + 1);
		if (!m || cs_yaml_kind(m) != CS_YV_MAP) {
			cs_yaml_type_error(y, m, "a notifier ({webhook: {...}, on: [...]} or {command: {...}, on: [...]})",
					   "notify", "at the top level");
			continue;
		}
		cs_yaml_check_keys(y, m, keys, where);
		int kind = cs_yaml_exactly_one(y, m, kinds, cs_yaml_fmt(y, "notify %zu", i + 1),
					       "a notifier is exactly one of webhook or command");
		if (kind < 0 && !cs_yaml_guessed(y, m, kinds))
			cs_yaml_report(y, m, "notify %zu needs exactly one of webhook or command", i + 1);
		parse_on(y, m, n, where);
		struct cs_ynode *ek = NULL;
		if (cs_yaml_lookup(y, m, "expiring_within", &ek)) {
			if (!(n->on & CS_NOTIFY_EXPIRING) && n->on)
				cs_yaml_report(y, ek, "\"expiring_within\" %s needs expiring in \"on\"", where);
			cs_yaml_duration(y, m, "expiring_within", where, true, CS_DURATION_MAX_WINDOW, &n->expiring_within);
		}
		if (kind < 0)
			continue;
		n->kind = (enum cs_notifier_kind)(kind + 1);
		const char *inner = cs_yaml_fmt(y, "in %s of notify %zu", kinds[kind], i + 1);
		struct cs_ynode *body = cs_yaml_map(y, m, kinds[kind], where, true);
		if (!body)
			continue;
		if (n->kind == CS_NOTIFIER_WEBHOOK)
			parse_webhook(y, body, n, inner);
		else
			parse_command(y, body, n, inner);
	}
	*out = list;
}

void cs_notify_cfg_free(struct cs_notify_cfg *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].url);
		free(v[i].secret.ref);
		free(v[i].ca_bundle);
		free(v[i].path);
		cs_strv_free(v[i].args, v[i].n_args);
	}
	free(v);
}

char *cs_notify_describe(const struct cs_notify_cfg *n, size_t index)
{
	if (n->kind == CS_NOTIFIER_COMMAND)
		return cs_xasprintf("notify %zu (command %s)", index + 1, n->path ? cs_path_basename(n->path) : "?");
	/* The host only: a URL may carry a token in its path or query. */
	const char *u = n->url ? n->url : "";
	const char *h = strstr(u, "://");
	h = h ? h + 3 : u;
	const char *at = strchr(h, '@'), *end = h + strcspn(h, "/?#");
	if (at && at < end)
		h = at + 1; /* user:password@ too */
	return cs_xasprintf("notify %zu (webhook to %.*s)", index + 1, (int)(end - h), h);
}
