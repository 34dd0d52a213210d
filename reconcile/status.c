/* `certsync status` model (see status.h). */
#include "reconcile/status.h"

#include <stdlib.h>
#include <string.h>
#include "reconcile/plan.h"
#include "reconcile/tls_verify.h"
#include "providers/base/util.h"

/* status asks each endpoint once; a slow one must not hold up the report. */
#define PROBE_TIMEOUT_MS 5000

enum cs_binding_state cs_binding_state(const struct cs_observed *obs, size_t i, size_t j,
				      const struct cs_material *want, char **detail)
{
	const struct cs_binding_cfg *b = &obs->cfg->certs[i].bindings[j];
	const struct cs_host_obs *ho = &obs->hosts[b->host_index];
	const struct cs_binding_obs *bo = &obs->bindings[i][j];
	enum cs_binding_state state = CS_BINDING_UNKNOWN;
	*detail = NULL;
	if (ho->error) {
		state = CS_BINDING_ERROR;
		*detail = cs_xstrdup(ho->error);
	} else if (bo->error) {
		state = CS_BINDING_ERROR;
		*detail = cs_xstrdup(bo->error);
	} else if (want && ho->platform) {
		struct cs_buf why = CS_BUF_INIT;
		if (cs_binding_diff(ho->platform, b, bo, want, &why)) {
			state = CS_BINDING_DRIFTED;
			*detail = cs_buf_detach(&why, NULL);
		} else {
			state = CS_BINDING_IN_SYNC;
		}
		cs_buf_free(&why);
	} else if (!want && obs->certs[i].error) {
		*detail = cs_xstrdup("the certificate in the store cannot be read (see its error)");
	} else if (!want) {
		*detail = cs_xstrdup("no certificate in the store yet");
	}
	return state;
}

static json_t *binding_status(const struct cs_observed *obs, size_t i, size_t j,
			      const struct cs_material *want)
{
	static const char *const names[] = {
		[CS_BINDING_UNKNOWN] = "unknown", [CS_BINDING_IN_SYNC] = "in sync",
		[CS_BINDING_DRIFTED] = "drifted", [CS_BINDING_ERROR] = "error",
	};
	const struct cs_binding_cfg *b = &obs->cfg->certs[i].bindings[j];
	json_t *o = json_object();
	json_object_set_new(o, "host", json_string(b->host));
	json_object_set_new(o, "kind", json_string(b->kind_ops->name));
	char *where = cs_binding_where(b);
	json_object_set_new(o, "where", json_string(where));
	free(where);
	char *detail = NULL;
	enum cs_binding_state state = cs_binding_state(obs, i, j, want, &detail);
	json_object_set_new(o, "state", json_string(names[state]));
	if (detail)
		json_object_set_new(o, "detail", json_string(detail));
	free(detail);
	return o;
}

/* What a verify endpoint presents right now, compared with the current
 * certificate. */
static json_t *endpoint_status(const struct cs_cert_obs *c, const struct cs_verify_cfg *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "connect", json_string(v->connect));
	if (v->all_hosts)
		json_object_set_new(o, "all_hosts", json_true());
	else
		json_object_set_new(o, "host", json_string(v->host));
	struct cs_tls_seen seen;
	memset(&seen, 0, sizeof seen);
	struct cs_err err = CS_ERR_INIT;
	const char *sni = v->servername ? v->servername : c->cfg->common_name;
	if (cs_tls_probe(&seen, v->connect, sni, v->starttls, v->ca_bundle, PROBE_TIMEOUT_MS, &err) < 0) {
		json_object_set_new(o, "state", json_string("error"));
		json_object_set_new(o, "detail", json_string(cs_err_msg(&err)));
	} else {
		bool current = c->have_current && !strcmp(seen.sha256, c->current_info.sha256);
		json_object_set_new(o, "serial", json_string(seen.serial ? seen.serial : ""));
		json_object_set_new(o, "subject", json_string(seen.subject ? seen.subject : ""));
		json_object_set_new(o, "sha256", json_string(seen.sha256));
		const char *state = !current ? "drifted" : seen.chain_checked && !seen.chain_ok ? "chain error" : "in sync";
		json_object_set_new(o, "state", json_string(state));
		if (!current)
			json_object_set_new(o, "detail", json_string("presents another certificate than the current one"));
		else if (seen.chain_checked && !seen.chain_ok && seen.chain_error)
			json_object_set_new(o, "detail", json_string(seen.chain_error));
	}
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);
	return o;
}

json_t *cs_status_report(const struct cs_observed *obs)
{
	const struct cs_config *cfg = obs->cfg;
	json_t *root = json_object();
	char now[21];
	cs_time_rfc3339(now, obs->now);
	json_object_set_new(root, "now", json_string(now));
	json_t *certs = json_array();
	for (size_t i = 0; i < cfg->n_certs; i++) {
		const struct cs_cert_obs *c = &obs->certs[i];
		if (!c->selected)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(c->cfg->name));
		json_object_set_new(o, "common_name", json_string(c->cfg->common_name));
		json_object_set_new(o, "issuer", json_string(c->cfg->issuer));
		struct cs_material want;
		memset(&want, 0, sizeof want);
		bool have_want = false;
		const char *state = "missing";
		if (c->error) {
			state = "error";
			json_object_set_new(o, "error", json_string(c->error));
		} else if (c->have_current) {
			const struct cs_cert_info *in = &c->current_info;
			char t[21];
			cs_time_rfc3339(t, in->not_after);
			json_object_set_new(o, "serial", json_string(in->serial));
			json_object_set_new(o, "sha256", json_string(in->sha256));
			json_object_set_new(o, "not_after", json_string(t));
			/* The timeline of `status --format html`: validity, and
			 * when renew_before and remind_before begin. */
			cs_time_rfc3339(t, in->not_before);
			json_object_set_new(o, "not_before", json_string(t));
			cs_time_rfc3339(t, in->not_after - c->cfg->renew_before);
			json_object_set_new(o, "renew_at", json_string(t));
			cs_time_rfc3339(t, in->not_after - c->cfg->remind_before);
			json_object_set_new(o, "remind_at", json_string(t));
			/* Whole days left, rounded down; negative once expired. */
			int64_t left = in->not_after - obs->now;
			json_object_set_new(o, "days_left", json_integer(left >= 0 ? left / 86400 : -((-left + 86399) / 86400)));
			state = left <= 0 ? "expired" : left <= c->cfg->renew_before ? "renewal due" : "valid";
			/* The plan's reasons: names, key type or issuer changed too. */
			char *why = cs_plan_renewal_reason(obs, c);
			if (why) {
				if (!strcmp(state, "valid"))
					state = "renewal due";
				json_object_set_new(o, "renewal", json_string(why));
				free(why);
			}
			struct cs_err err = CS_ERR_INIT;
			have_want = cs_cert_obs_material(&want, c, &err) == 0;
			cs_err_clear(&err);
		}
		json_object_set_new(o, "state", json_string(state));
		if (c->have_pending) {
			char t[21];
			cs_time_rfc3339(t, c->pending.created_at);
			json_t *p = json_object();
			json_object_set_new(p, "since", json_string(t));
			json_object_set_new(p, "reply", json_string(c->have_reply ? c->reply.path : c->reply_error ? "rejected" : "none yet"));
			if (c->reply_error)
				json_object_set_new(p, "error", json_string(c->reply_error));
			json_object_set_new(o, "pending", p);
		}
		json_t *bindings = json_array();
		for (size_t j = 0; j < c->cfg->n_bindings; j++)
			if (obs->hosts[c->cfg->bindings[j].host_index].selected)
				json_array_append_new(bindings, binding_status(obs, i, j, have_want ? &want : NULL));
		json_object_set_new(o, "bindings", bindings);
		json_t *endpoints = json_array();
		for (size_t v = 0; v < c->cfg->n_verify; v++)
			if (cs_verify_selected(obs, c->cfg, &c->cfg->verify[v]))
				json_array_append_new(endpoints, endpoint_status(c, &c->cfg->verify[v]));
		json_object_set_new(o, "endpoints", endpoints);
		cs_material_free(&want);
		json_array_append_new(certs, o);
	}
	json_object_set_new(root, "certificates", certs);
	json_t *hosts = json_array();
	for (size_t h = 0; h < cfg->n_hosts; h++) {
		if (!obs->hosts[h].selected)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(cfg->hosts[h].name));
		json_object_set_new(o, "platform", json_string(cs_platform_name(cfg->hosts[h].platform)));
		json_object_set_new(o, "reachable", json_boolean(obs->hosts[h].error == NULL));
		if (obs->hosts[h].error)
			json_object_set_new(o, "error", json_string(obs->hosts[h].error));
		const struct cs_owed_reboot *owed = obs->hosts[h].owed_reboot;
		if (owed) {
			char since[21];
			cs_time_rfc3339(since, owed->since);
			json_object_set_new(o, "reboot_owed", json_pack("{s:s, s:s}", "since", since, "why", owed->why));
		}
		json_array_append_new(hosts, o);
	}
	json_object_set_new(root, "hosts", hosts);
	return root;
}
