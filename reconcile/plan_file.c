/* The plan as JSON: `plan --json` output and the saved plan file
 * (docs/plan-json.md).  Holds names, reasons and digests, never key material. */
#include "reconcile/plan.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

#define PLAN_FORMAT 1


/* A binding or verify index as a plan file holds it: 0 .. INT_MAX. */
static bool index_fits(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT_MAX;
}
static const char *renew_mode_name(enum cs_renew_mode m)
{
	switch (m) {
	case CS_RENEW_ISSUE: return "issue";
	case CS_RENEW_REQUEST: return "request";
	case CS_RENEW_COLLECT: return "collect";
	case CS_RENEW_NONE: break;
	}
	return NULL;
}

static const char *notice_level_name(enum cs_notice_level l)
{
	switch (l) {
	case CS_NOTICE_INFO: return "info";
	case CS_NOTICE_WAIT: return "wait";
	case CS_NOTICE_ERROR: return "error";
	}
	return "info";
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

json_t *cs_plan_to_json(const struct cs_plan *plan)
{
	json_t *root = json_object();
	json_object_set_new(root, "format_version", json_integer(PLAN_FORMAT));
	set_str(root, "config", plan->config_path);
	set_str(root, "config_sha256", plan->config_sha256);
	set_str(root, "state_sha256", plan->state_sha256);
	if (plan->target.n_hosts || plan->target.n_certs) {
		json_t *t = json_object(), *h = json_array(), *c = json_array();
		for (size_t i = 0; i < plan->target.n_hosts; i++)
			json_array_append_new(h, json_string(plan->target.hosts[i]));
		for (size_t i = 0; i < plan->target.n_certs; i++)
			json_array_append_new(c, json_string(plan->target.certs[i]));
		json_object_set_new(t, "hosts", h);
		json_object_set_new(t, "certificates", c);
		json_object_set_new(root, "target", t);
	}
	json_t *actions = json_array();
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct cs_action *a = &plan->actions[i];
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(a->id));
		set_str(o, "kind", cs_action_kind_name(a->kind));
		set_str(o, "certificate", a->cert);
		set_str(o, "host", a->host);
		if (a->binding >= 0)
			json_object_set_new(o, "binding", json_integer(a->binding));
		if (a->verify >= 0)
			json_object_set_new(o, "verify", json_integer(a->verify));
		set_str(o, "mode", renew_mode_name(a->renew_mode));
		set_str(o, "command", a->command);
		set_str(o, "summary", a->summary);
		set_str(o, "reason", a->reason);
		json_t *deps = json_array();
		for (size_t d = 0; d < a->n_deps; d++)
			json_array_append_new(deps, json_integer(a->deps[d]));
		json_object_set_new(o, "depends_on", deps);
		json_array_append_new(actions, o);
	}
	json_object_set_new(root, "actions", actions);
	json_t *notices = json_array();
	for (size_t i = 0; i < plan->n_notices; i++) {
		const struct cs_notice *n = &plan->notices[i];
		json_t *o = json_object();
		set_str(o, "level", notice_level_name(n->level));
		set_str(o, "certificate", n->cert);
		set_str(o, "host", n->host);
		set_str(o, "text", n->text);
		json_array_append_new(notices, o);
	}
	json_object_set_new(root, "notices", notices);
	json_t *sum = json_object();
	for (int k = CS_ACT_RENEW; k <= CS_ACT_LAST; k++)
		json_object_set_new(sum, cs_action_kind_name(k), json_integer((json_int_t)cs_plan_count(plan, k)));
	json_object_set_new(sum, "errors", json_integer((json_int_t)plan->n_errors));
	json_object_set_new(root, "summary", sum);
	return root;
}

static char *get_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? cs_xstrdup(json_string_value(v)) : NULL;
}

static int copy_digest(char out[65], json_t *root, const char *key, struct cs_err *err)
{
	json_t *v = json_object_get(root, key);
	if (!json_is_string(v) || strlen(json_string_value(v)) != 64)
		return cs_err_set(err, -EINVAL, "\"%s\" is missing or malformed", key);
	memcpy(out, json_string_value(v), 65);
	return 0;
}

int cs_plan_from_json(struct cs_plan **out, json_t *root, struct cs_err *err)
{
	*out = NULL;
	if (!json_is_object(root))
		return cs_err_set(err, -EINVAL, "not a plan: the top level is not an object");
	json_t *fv = json_object_get(root, "format_version");
	if (!json_is_integer(fv) || json_integer_value(fv) != PLAN_FORMAT)
		return cs_err_set(err, -EINVAL, "not a plan of format version %d", PLAN_FORMAT);
	struct cs_plan *plan = cs_xcalloc(1, sizeof *plan);
	int r;
	if ((r = copy_digest(plan->config_sha256, root, "config_sha256", err)) < 0 ||
	    (r = copy_digest(plan->state_sha256, root, "state_sha256", err)) < 0)
		goto fail;
	plan->config_path = get_str(root, "config");
	json_t *target = json_object_get(root, "target");
	if (target) {
		json_t *lists[2] = { json_object_get(target, "hosts"), json_object_get(target, "certificates") };
		char ***v[2] = { &plan->target.hosts, &plan->target.certs };
		size_t *n[2] = { &plan->target.n_hosts, &plan->target.n_certs };
		for (int k = 0; k < 2; k++) {
			if (!json_is_array(lists[k]) && lists[k]) {
				r = cs_err_set(err, -EINVAL, "\"target\" is malformed");
				goto fail;
			}
			size_t i;
			json_t *e;
			json_array_foreach(lists[k], i, e) {
				if (!json_is_string(e)) {
					r = cs_err_set(err, -EINVAL, "\"target\" is malformed");
					goto fail;
				}
				*v[k] = cs_xrealloc(*v[k], (*n[k] + 1) * sizeof **v[k]);
				(*v[k])[(*n[k])++] = cs_xstrdup(json_string_value(e));
			}
		}
	}
	json_t *actions = json_object_get(root, "actions");
	if (!json_is_array(actions)) {
		r = cs_err_set(err, -EINVAL, "\"actions\" is missing");
		goto fail;
	}
	plan->actions = cs_xcalloc(json_array_size(actions), sizeof *plan->actions);
	size_t idx;
	json_t *o;
	json_array_foreach(actions, idx, o) {
		struct cs_action *a = &plan->actions[plan->n_actions++];
		a->binding = a->verify = -1;
		json_t *id = json_object_get(o, "id");
		char *kind = get_str(o, "kind");
		a->kind = 0;
		for (int k = CS_ACT_RENEW; k <= CS_ACT_LAST; k++)
			if (kind && !strcmp(kind, cs_action_kind_name(k)))
				a->kind = k;
		free(kind);
		if (!json_is_integer(id) || json_integer_value(id) != (json_int_t)(idx + 1) || !a->kind) {
			r = cs_err_set(err, -EINVAL, "action %zu is malformed", idx + 1);
			goto fail;
		}
		a->id = (int)(idx + 1);
		a->cert = get_str(o, "certificate");
		a->host = get_str(o, "host");
		/* Indexes into the config's lists: one that does not fit an int
		 * would wrap to another binding (2^32 is binding 0). */
		json_t *v = json_object_get(o, "binding");
		json_t *w = json_object_get(o, "verify");
		if ((v && !index_fits(v)) || (w && !index_fits(w))) {
			r = cs_err_set(err, -EINVAL, "action %zu has an invalid binding or verify index", idx + 1);
			goto fail;
		}
		if (v)
			a->binding = (int)json_integer_value(v);
		if (w)
			a->verify = (int)json_integer_value(w);
		char *mode = get_str(o, "mode");
		for (int m = CS_RENEW_ISSUE; m <= CS_RENEW_COLLECT; m++)
			if (mode && !strcmp(mode, renew_mode_name(m)))
				a->renew_mode = m;
		free(mode);
		a->command = get_str(o, "command");
		a->summary = get_str(o, "summary");
		a->reason = get_str(o, "reason");
		json_t *deps = json_object_get(o, "depends_on");
		size_t di;
		json_t *d;
		json_array_foreach(deps, di, d) {
			if (!json_is_integer(d) || json_integer_value(d) < 1 ||
			    json_integer_value(d) >= (json_int_t)(idx + 1)) {
				r = cs_err_set(err, -EINVAL, "action %zu depends on an invalid action", idx + 1);
				goto fail;
			}
			a->deps = cs_xrealloc(a->deps, (a->n_deps + 1) * sizeof *a->deps);
			a->deps[a->n_deps++] = (int)json_integer_value(d);
		}
		bool ok = (a->kind == CS_ACT_RENEW && a->cert && a->renew_mode) ||
			  (a->kind == CS_ACT_BIND && a->cert && a->host && a->binding >= 0) ||
			  (a->kind == CS_ACT_RELOAD && a->host && a->command) ||
			  (a->kind == CS_ACT_VERIFY && a->cert && a->verify >= 0) || /* no host: all of them */
			  (a->kind == CS_ACT_IMPORT && a->cert && a->host) ||
			  (a->kind == CS_ACT_REBOOT && a->host);
		if (!ok) {
			r = cs_err_set(err, -EINVAL, "action %zu (%s) lacks a field it needs", idx + 1,
				       cs_action_kind_name(a->kind));
			goto fail;
		}
	}
	json_t *notices = json_object_get(root, "notices");
	if (json_is_array(notices)) {
		plan->notices = cs_xcalloc(json_array_size(notices), sizeof *plan->notices);
		json_array_foreach(notices, idx, o) {
			struct cs_notice *n = &plan->notices[plan->n_notices++];
			char *level = get_str(o, "level");
			n->level = cs_streq(level, "error") ? CS_NOTICE_ERROR :
				   cs_streq(level, "wait") ? CS_NOTICE_WAIT : CS_NOTICE_INFO;
			free(level);
			n->cert = get_str(o, "certificate");
			n->host = get_str(o, "host");
			n->text = get_str(o, "text");
			if (n->level == CS_NOTICE_ERROR)
				plan->n_errors++;
		}
	}
	*out = plan;
	return 0;
fail:
	cs_plan_free(plan);
	return r;
}

int cs_plan_save(const struct cs_plan *plan, const char *path, struct cs_err *err)
{
	json_t *root = cs_plan_to_json(plan);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return cs_err_set(err, -ENOMEM, "save plan %s: out of memory", path);
	size_t n = strlen(text);
	char *with_nl = cs_xasprintf("%s\n", text);
	free(text);
	int r = cs_file_write_atomic(path, with_nl, n + 1, 0600, (uid_t)-1, (gid_t)-1, err);
	free(with_nl);
	return r;
}

int cs_plan_load(struct cs_plan **out, const char *path, struct cs_err *err)
{
	*out = NULL;
	struct cs_buf text = CS_BUF_INIT;
	int r = cs_file_read(&text, path, 16u << 20, err);
	if (r < 0)
		return r;
	json_error_t jerr;
	json_t *root = json_loadb(text.data, text.len, 0, &jerr);
	cs_buf_free(&text);
	if (!root)
		return cs_err_set(err, -EINVAL, "%s:%d:%d: not a saved plan: %s", path, jerr.line,
				  jerr.column, jerr.text);
	r = cs_plan_from_json(out, root, err);
	json_decref(root);
	if (r < 0)
		cs_err_prefix(err, "%s", path);
	return r;
}
