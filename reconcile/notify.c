/* Notifications at the end of an apply (see notify.h). */
#include "reconcile/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"
#include "providers/notify/notify.h"
#include "reconcile/store_hosts.h"

void cs_notify_run_init(struct cs_notify_run *r, const struct cs_config *cfg, cs_event_fn forward, void *ctx)
{
	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->forward = forward;
	r->forward_ctx = ctx;
	r->failures = json_array();
	r->rollbacks = json_array();
	r->failed_renewals = json_object();
}

void cs_notify_run_free(struct cs_notify_run *r)
{
	if (!r)
		return;
	json_decref(r->failures);
	json_decref(r->rollbacks);
	json_decref(r->failed_renewals);
	memset(r, 0, sizeof *r);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *action_item(const struct cs_action *a, const char *key, const char *text)
{
	json_t *o = json_object();
	json_object_set_new(o, "certificate", str_or_null(a->cert));
	json_object_set_new(o, "host", str_or_null(a->host));
	json_object_set_new(o, "action", json_string(cs_action_kind_name(a->kind)));
	json_object_set_new(o, "summary", str_or_null(a->summary));
	json_object_set_new(o, key, str_or_null(text));
	return o;
}

void cs_notify_run_event(void *ctx, const struct cs_event *ev)
{
	struct cs_notify_run *r = ctx;
	const struct cs_action *a = ev->action;
	if (ev->kind == CS_EV_FAILED || ev->kind == CS_EV_ROLLBACK_FAILED)
		json_array_append_new(r->failures, action_item(a, "message", ev->text));
	if (ev->kind == CS_EV_ROLLBACK)
		json_array_append_new(r->rollbacks, action_item(a, "what", ev->text));
	if (ev->kind == CS_EV_FAILED && a->kind == CS_ACT_RENEW && a->cert)
		json_object_set_new(r->failed_renewals, a->cert, str_or_null(ev->text));
	if (r->forward)
		r->forward(r->forward_ctx, ev);
}

static json_t *cert_time(int64_t t)
{
	char s[21];
	cs_time_rfc3339(s, t);
	return json_string(s);
}

/* The certificate in force for certificate i now, after the apply (a
 * renewal it made counts); false when there is none. */
static bool current_of(const struct cs_observed *obs, size_t i, struct cs_cert_info *info)
{
	struct cs_stored st;
	struct cs_err err = CS_ERR_INIT;
	memset(&st, 0, sizeof st);
	bool ok = cs_store_load(&st, obs->store, obs->cfg->certs[i].name, &err) == 0;
	if (ok && st.have_info) {
		*info = st.info; /* moved */
		memset(&st.info, 0, sizeof st.info);
	} else if (ok) {
		X509 *leaf = cs_stored_cert(&st, &err);
		ok = leaf && cs_cert_info_get(info, leaf, &err) == 0;
	}
	cs_stored_free(&st);
	cs_err_clear(&err);
	return ok;
}

/* Inside its renewal window: the CA's (ARI) when it gave one for this
 * certificate, else renew_before ahead of expiry. */
static bool in_window(const struct cs_cert_obs *c, const struct cs_cert_info *info, int64_t now)
{
	if (c->have_current && c->have_window && !strcmp(c->current_info.serial, info->serial))
		return now >= c->window.start;
	return now >= info->not_after - c->cfg->renew_before;
}

static json_t *cert_item(const char *name, const struct cs_cert_info *info, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "certificate", json_string(name));
	json_object_set_new(o, "serial", json_string(info->serial));
	json_object_set_new(o, "not_after", cert_time(info->not_after));
	json_object_set_new(o, "days_left", json_integer((info->not_after - now) / 86400));
	return o;
}

static json_t *items_for(const struct cs_notify_run *r, unsigned ev, const struct cs_notify_cfg *n,
			 const struct cs_plan *plan, const struct cs_observed *obs)
{
	json_t *items = json_array();
	const struct cs_config *cfg = obs->cfg;
	switch (ev) {
	case CS_NOTIFY_FAILED:
		json_array_extend(items, r->failures);
		for (size_t i = 0; i < plan->n_notices; i++) {
			const struct cs_notice *no = &plan->notices[i];
			if (no->level != CS_NOTICE_ERROR)
				continue;
			json_t *o = json_object();
			json_object_set_new(o, "certificate", str_or_null(no->cert));
			json_object_set_new(o, "host", str_or_null(no->host));
			json_object_set_new(o, "action", json_string("plan"));
			json_object_set_new(o, "message", str_or_null(no->text));
			json_array_append_new(items, o);
		}
		break;
	case CS_NOTIFY_ROLLED_BACK:
		json_array_extend(items, r->rollbacks);
		break;
	case CS_NOTIFY_REBOOT_OWED:
		for (size_t h = 0; h < cfg->n_hosts; h++) {
			struct cs_owed_reboot rec;
			struct cs_err err = CS_ERR_INIT;
			memset(&rec, 0, sizeof rec);
			if (cs_store_reboot_owed_load(&rec, obs->store, cfg->hosts[h].name, &err) == 0) {
				json_t *o = json_object();
				json_object_set_new(o, "host", json_string(cfg->hosts[h].name));
				json_object_set_new(o, "since", cert_time(rec.since));
				json_object_set_new(o, "why", str_or_null(rec.why));
				json_array_append_new(items, o);
			}
			cs_owed_reboot_free(&rec);
			cs_err_clear(&err);
		}
		break;
	case CS_NOTIFY_RENEWAL_FAILING:
		for (size_t i = 0; i < cfg->n_certs; i++) {
			const struct cs_cert_obs *c = &obs->certs[i];
			const char *name = cfg->certs[i].name;
			json_t *why = json_object_get(r->failed_renewals, name);
			/* A renewal that could not even be tried (the issuer not
			 * ready, its reply rejected) fails too. */
			const char *plan_error = NULL;
			for (size_t k = 0; !why && k < plan->n_notices && !plan_error; k++)
				if (plan->notices[k].level == CS_NOTICE_ERROR && !plan->notices[k].host &&
				    cs_streq(plan->notices[k].cert, name))
					plan_error = plan->notices[k].text;
			struct cs_cert_info info;
			if ((!why && !plan_error) || !c->selected || !current_of(obs, i, &info))
				continue;
			if (in_window(c, &info, obs->now)) {
				json_t *o = cert_item(name, &info, obs->now);
				json_object_set_new(o, "message", why ? json_incref(why) : json_string(plan_error));
				json_array_append_new(items, o);
			}
			cs_cert_info_free(&info);
		}
		break;
	case CS_NOTIFY_EXPIRING:
		for (size_t i = 0; i < cfg->n_certs; i++) {
			struct cs_cert_info info;
			if (!obs->certs[i].selected || !current_of(obs, i, &info))
				continue;
			if (info.not_after - obs->now <= n->expiring_within)
				json_array_append_new(items, cert_item(cfg->certs[i].name, &info, obs->now));
			cs_cert_info_free(&info);
		}
		break;
	}
	return items;
}

static char *summary_of(unsigned ev, size_t n, const struct cs_notify_cfg *nc)
{
	const char *s = n == 1 ? "" : "s";
	switch (ev) {
	case CS_NOTIFY_FAILED:
		return cs_xasprintf("certsync apply: %zu failure%s", n, s);
	case CS_NOTIFY_ROLLED_BACK:
		return cs_xasprintf("certsync apply: %zu change%s rolled back", n, s);
	case CS_NOTIFY_REBOOT_OWED:
		return cs_xasprintf("certsync: %zu host%s owe%s a reboot", n, s, n == 1 ? "s" : "");
	case CS_NOTIFY_RENEWAL_FAILING:
		return cs_xasprintf("certsync: renewal failing for %zu certificate%s inside %s renewal window", n, s,
				    n == 1 ? "its" : "their");
	case CS_NOTIFY_EXPIRING:
		return cs_xasprintf("certsync: %zu certificate%s expire%s within %lld days", n, s, n == 1 ? "s" : "",
				    (long long)(nc->expiring_within / 86400));
	}
	return cs_xstrdup("certsync");
}

json_t *cs_notify_run_event_json(const struct cs_notify_run *r, unsigned ev, const struct cs_notify_cfg *n,
				 const struct cs_plan *plan, const struct cs_observed *obs,
				 const struct cs_exec_summary *sum)
{
	(void)sum;
	json_t *items = items_for(r, ev, n, plan, obs);
	if (json_array_size(items) == 0) {
		json_decref(items);
		return NULL;
	}
	json_t *o = json_object();
	json_object_set_new(o, "event", json_string(cs_notify_event_name(ev)));
	json_object_set_new(o, "time", cert_time(cs_now()));
	char *path = cs_path_join(r->cfg->dir, cs_path_basename(r->cfg->path));
	json_object_set_new(o, "config", json_string(path));
	free(path);
	char *summary = summary_of(ev, json_array_size(items), n);
	json_object_set_new(o, "summary", json_string(summary));
	free(summary);
	json_object_set_new(o, "items", items);
	return o;
}

void cs_notify_run_finish(struct cs_notify_run *r, const struct cs_plan *plan, const struct cs_observed *obs,
			  const struct cs_exec_summary *sum, char ***warnings, size_t *n_warnings)
{
	*warnings = NULL;
	*n_warnings = 0;
	const struct cs_config *cfg = r->cfg;
	for (size_t i = 0; i < cfg->n_notify; i++) {
		const struct cs_notify_cfg *n = &cfg->notify[i];
		for (unsigned ev = 1; ev < (1u << CS_NOTIFY_N_EVENTS); ev <<= 1) {
			if (!(n->on & ev))
				continue;
			json_t *doc = cs_notify_run_event_json(r, ev, n, plan, obs, sum);
			if (!doc)
				continue;
			char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
			json_decref(doc);
			if (!body)
				cs_out_of_memory();
			struct cs_err err = CS_ERR_INIT;
			int attempts = 0;
			if (cs_notify_send(n, cs_notify_event_name(ev), body, strlen(body), cfg->dir, &attempts, &err) < 0) {
				char *who = cs_notify_describe(n, i);
				char tries[48] = "";
				if (attempts > 1)
					snprintf(tries, sizeof tries, " after %d attempts", attempts);
				*warnings = cs_xrealloc(*warnings, (*n_warnings + 1) * sizeof **warnings);
				(*warnings)[(*n_warnings)++] = cs_xasprintf("%s: event %s not delivered%s: %s", who,
									    cs_notify_event_name(ev), tries,
									    cs_err_msg(&err));
				free(who);
			}
			cs_err_clear(&err);
			free(body);
		}
	}
}
