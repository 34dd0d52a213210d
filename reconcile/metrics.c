/* Prometheus metrics from observed state, plan and journal (see metrics.h). */
#include "reconcile/metrics.h"

#include <stdlib.h>
#include <string.h>
#include "reconcile/prom.h"
#include "reconcile/status.h"
#include "reconcile/tls_verify.h"
#include "providers/base/util.h"

/* As status: each endpoint is asked once, and a dead one must not hold up
 * the whole scrape for long. */
#define PROBE_TIMEOUT_MS 5000

/* What is computed once per certificate and used by several families. */
struct cert_facts {
	bool selected;
	bool have_want;              /* the current certificate as bindings carry it */
	struct cs_material want;
	bool renewal_due;
	bool waiting;                /* the plan waits for the CA */
	bool error;
};

/* One verify endpoint as probed now. */
struct endpoint_facts {
	bool error;
	bool current;                /* presents the current certificate */
	bool chain_checked, chain_ok;
};

static double b2d(bool b)
{
	return b ? 1 : 0;
}

static bool plan_waits(const struct cs_plan *plan, const char *cert)
{
	for (size_t i = 0; i < plan->n_notices; i++)
		if (plan->notices[i].level == CS_NOTICE_WAIT && cs_streq(plan->notices[i].cert, cert))
			return true;
	return false;
}

static void gather_cert_facts(struct cert_facts *f, const struct cs_metrics_input *in, const struct cs_cert_obs *c)
{
	memset(f, 0, sizeof *f);
	f->selected = c->selected;
	if (!c->selected)
		return;
	if (c->have_current) {
		struct cs_err err = CS_ERR_INIT;
		f->have_want = cs_cert_obs_material(&f->want, c, &err) == 0;
		cs_err_clear(&err);
	}
	if (!c->error) {
		char *why = cs_plan_renewal_reason(in->obs, c);
		f->renewal_due = why != NULL;
		free(why);
	}
	f->waiting = plan_waits(in->plan, c->cfg->name);
	/* Errors the plan would report for this certificate: its store or
	 * issuer unreadable, an issuer kind not supported, a CA reply rejected,
	 * a due renewal the issuer cannot carry out. */
	f->error = c->error || !c->ops || c->reply_error || (f->renewal_due && c->issuer_error);
}

static void probe(struct endpoint_facts *e, const struct cs_cert_obs *c, const struct cs_verify_cfg *v)
{
	memset(e, 0, sizeof *e);
	struct cs_tls_seen seen;
	memset(&seen, 0, sizeof seen);
	struct cs_err err = CS_ERR_INIT;
	const char *sni = v->servername ? v->servername : c->cfg->common_name;
	if (cs_tls_probe(&seen, v->connect, sni, v->starttls, v->ca_bundle, PROBE_TIMEOUT_MS, &err) < 0) {
		e->error = true;
	} else {
		e->current = c->have_current && !strcmp(seen.sha256, c->current_info.sha256);
		e->chain_checked = seen.chain_checked;
		e->chain_ok = seen.chain_ok;
	}
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);
}

/* ---- the families, in output order ---- */

/* Certificate i when it is selected (--target), else NULL. */
static const struct cs_cert_obs *selected_cert(const struct cs_observed *obs, const struct cert_facts *facts,
					       size_t i)
{
	return facts[i].selected ? &obs->certs[i] : NULL;
}

static void certificates(struct cs_buf *out, const struct cs_observed *obs, const struct cert_facts *facts)
{
	size_t n = obs->cfg->n_certs;
	const struct cs_cert_obs *c;

	cs_prom_family(out, "certsync_certificate_info", "gauge",
		       "Always 1; labels describe the declared certificate and the serial of the one in the store "
		       "(empty when none).");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)))
			cs_prom_sample(out, "certsync_certificate_info", 1, "certificate", c->cfg->name, "common_name",
				       c->cfg->common_name, "issuer", c->cfg->issuer, "issuer_kind",
				       cs_issuer_kind_name(c->issuer->kind), "serial",
				       c->have_current ? c->current_info.serial : "", NULL);

	cs_prom_family(out, "certsync_certificate_present", "gauge",
		       "1 when the state folder holds a current certificate for it, 0 when none was issued yet.");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)))
			cs_prom_sample(out, "certsync_certificate_present", b2d(c->have_current), "certificate",
				       c->cfg->name, NULL);

	cs_prom_family(out, "certsync_certificate_not_before_timestamp_seconds", "gauge",
		       "Start of validity of the stored certificate (unix time).");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)) && c->have_current)
			cs_prom_sample(out, "certsync_certificate_not_before_timestamp_seconds",
				       (double)c->current_info.not_before, "certificate", c->cfg->name, NULL);

	cs_prom_family(out, "certsync_certificate_not_after_timestamp_seconds", "gauge",
		       "Expiry of the stored certificate (unix time).");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)) && c->have_current)
			cs_prom_sample(out, "certsync_certificate_not_after_timestamp_seconds",
				       (double)c->current_info.not_after, "certificate", c->cfg->name, NULL);

	cs_prom_family(out, "certsync_certificate_renewal_due_timestamp_seconds", "gauge",
		       "When the stored certificate becomes due for renewal (unix time): the start of the CA's "
		       "renewal window (ACME ARI) when it offers one, else not_after minus renew_before.");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)) && c->have_current) {
			int64_t due = c->have_window ? c->window.start : c->current_info.not_after - c->cfg->renew_before;
			cs_prom_sample(out, "certsync_certificate_renewal_due_timestamp_seconds", (double)due,
				       "certificate", c->cfg->name, NULL);
		}

	cs_prom_family(out, "certsync_certificate_renewal_due", "gauge",
		       "1 when the stored certificate must be replaced now (missing, expired, inside renew_before or "
		       "the CA's window, or no longer as declared: names, key type, issuer), as plan decides.");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)) && !c->error)
			cs_prom_sample(out, "certsync_certificate_renewal_due", b2d(facts[i].renewal_due),
				       "certificate", c->cfg->name, NULL);

	cs_prom_family(out, "certsync_certificate_waiting_for_ca", "gauge",
		       "1 when a request was sent to an asynchronous CA (manual issuer) and its reply is not in "
		       "the inbox yet.");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)))
			cs_prom_sample(out, "certsync_certificate_waiting_for_ca", b2d(facts[i].waiting),
				       "certificate", c->cfg->name, NULL);

	cs_prom_family(out, "certsync_certificate_request_timestamp_seconds", "gauge",
		       "When the pending request to the CA was made (unix time); absent when none is pending.");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)) && c->have_pending)
			cs_prom_sample(out, "certsync_certificate_request_timestamp_seconds",
				       (double)c->pending.created_at, "certificate", c->cfg->name, NULL);

	cs_prom_family(out, "certsync_certificate_error", "gauge",
		       "1 when plan reports an error for the certificate itself (store or issuer unreadable, CA "
		       "reply rejected, a due renewal the issuer cannot carry out); see certsync plan.");
	for (size_t i = 0; i < n; i++)
		if ((c = selected_cert(obs, facts, i)))
			cs_prom_sample(out, "certsync_certificate_error", b2d(facts[i].error), "certificate",
				       c->cfg->name, NULL);
}

/* Bindings of selected certificates on selected hosts, as status lists them. */
static void bindings(struct cs_buf *out, const struct cs_observed *obs, const struct cert_facts *facts)
{
	const struct cs_config *cfg = obs->cfg;
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_certs; i++)
		n += cfg->certs[i].n_bindings;
	enum cs_binding_state *state = cs_xcalloc(n ? n : 1, sizeof *state);
	size_t k = 0;
	for (size_t i = 0; i < cfg->n_certs; i++)
		for (size_t j = 0; j < cfg->certs[i].n_bindings; j++, k++) {
			if (!facts[i].selected || !obs->hosts[cfg->certs[i].bindings[j].host_index].selected) {
				state[k] = CS_BINDING_UNKNOWN;
				continue;
			}
			char *detail = NULL;
			state[k] = cs_binding_state(obs, i, j, facts[i].have_want ? &facts[i].want : NULL, &detail);
			free(detail);
		}

	static const char *const families[] = { "certsync_binding_in_sync", "certsync_binding_error" };
	static const char *const helps[] = {
		"1 when the binding carries the current certificate, 0 when it carries something else or "
		"nothing (drift: the next apply changes it); absent when it could not be observed.",
		"1 when the binding could not be observed (host unreachable, permission denied...); "
		"see certsync status.",
	};
	for (size_t fam = 0; fam < 2; fam++) {
		cs_prom_family(out, families[fam], "gauge", helps[fam]);
		k = 0;
		for (size_t i = 0; i < cfg->n_certs; i++)
			for (size_t j = 0; j < cfg->certs[i].n_bindings; j++, k++) {
				const struct cs_binding_cfg *b = &cfg->certs[i].bindings[j];
				if (!facts[i].selected || !obs->hosts[b->host_index].selected)
					continue;
				bool error = state[k] == CS_BINDING_ERROR;
				if (fam == 0 && error)
					continue;
				double v = fam == 0 ? b2d(state[k] == CS_BINDING_IN_SYNC) : b2d(error);
				char index[24];
				snprintf(index, sizeof index, "%zu", j);
				char *where = cs_binding_where(b);
				cs_prom_sample(out, families[fam], v, "certificate", cfg->certs[i].name, "host", b->host,
					       "kind", b->kind_ops->name, "binding", index, "target", where,
					       NULL);
				free(where);
			}
	}
	free(state);
}

static void hosts(struct cs_buf *out, const struct cs_observed *obs)
{
	cs_prom_family(out, "certsync_host_reachable", "gauge",
		       "1 when the host could be reached and observed, 0 when not (see certsync status).");
	for (size_t h = 0; h < obs->cfg->n_hosts; h++)
		if (obs->hosts[h].selected)
			cs_prom_sample(out, "certsync_host_reachable", b2d(!obs->hosts[h].error), "host",
				       obs->cfg->hosts[h].name, NULL);
	cs_prom_family(out, "certsync_host_reboot_owed_since_timestamp_seconds", "gauge",
		       "Hosts with reboot: after-change whose changes still wait for a reboot (an apply skipped "
		       "it after a failure, or it did not come back in time): since when. Absent when none.");
	for (size_t h = 0; h < obs->cfg->n_hosts; h++)
		if (obs->hosts[h].selected && obs->hosts[h].owed_reboot)
			cs_prom_sample(out, "certsync_host_reboot_owed_since_timestamp_seconds",
				       (double)obs->hosts[h].owed_reboot->since, "host", obs->cfg->hosts[h].name, NULL);
}

/* Verify endpoints: probed one after the other (at most PROBE_TIMEOUT_MS
 * each), only with in->probe. */
static void endpoints(struct cs_buf *out, const struct cs_metrics_input *in, const struct cert_facts *facts)
{
	const struct cs_observed *obs = in->obs;
	const struct cs_config *cfg = obs->cfg;
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_certs; i++)
		n += cfg->certs[i].n_verify;
	struct endpoint_facts *seen = cs_xcalloc(n ? n : 1, sizeof *seen);
	bool *want = cs_xcalloc(n ? n : 1, sizeof *want);
	size_t k = 0;
	for (size_t i = 0; i < cfg->n_certs; i++)
		for (size_t v = 0; v < cfg->certs[i].n_verify; v++, k++) {
			const struct cs_verify_cfg *vc = &cfg->certs[i].verify[v];
			want[k] = facts[i].selected && cs_verify_selected(obs, &cfg->certs[i], vc);
			if (want[k])
				probe(&seen[k], &obs->certs[i], vc);
		}

	enum { SERVING, CHAIN, ERROR };
	static const char *const families[] = {
		"certsync_endpoint_serving_current", "certsync_endpoint_chain_valid", "certsync_endpoint_error",
	};
	static const char *const helps[] = {
		"1 when the verify endpoint presents the current certificate, 0 when another one (not "
		"reloaded, or drift); absent when it could not be reached.",
		"1 when the chain the endpoint presents verifies against the verify entry's ca_bundle; only "
		"for entries with a ca_bundle.",
		"1 when the verify endpoint could not be reached or did not complete a TLS handshake.",
	};
	for (int fam = SERVING; fam <= ERROR; fam++) {
		cs_prom_family(out, families[fam], "gauge", helps[fam]);
		k = 0;
		for (size_t i = 0; i < cfg->n_certs; i++)
			for (size_t v = 0; v < cfg->certs[i].n_verify; v++, k++) {
				const struct endpoint_facts *e = &seen[k];
				if (!want[k] || (fam != ERROR && e->error) || (fam == CHAIN && !e->chain_checked))
					continue;
				const struct cs_verify_cfg *vc = &cfg->certs[i].verify[v];
				double value = fam == SERVING ? b2d(e->current) : fam == CHAIN ? b2d(e->chain_ok) : b2d(e->error);
				char index[24];
				snprintf(index, sizeof index, "%zu", v);
				/* Not vc->host: the config may leave it out (one host, or
				 * all of them: then the label is empty). */
				cs_prom_sample(out, families[fam], value, "certificate", cfg->certs[i].name, "host",
					       cs_verify_host_name(cfg, vc), "verify", index, "connect", vc->connect,
					       NULL);
			}
	}
	free(want);
	free(seen);
}

static void plan_summary(struct cs_buf *out, const struct cs_plan *plan)
{
	cs_prom_family(out, "certsync_plan_actions", "gauge",
		       "Actions certsync plan would carry out now, per kind: 0 everywhere means converged.");
	for (int kind = 1; kind <= CS_ACT_LAST; kind++)
		cs_prom_sample(out, "certsync_plan_actions", (double)cs_plan_count(plan, kind), "kind",
			       cs_action_kind_name(kind), NULL);
	cs_prom_family(out, "certsync_plan_errors", "gauge",
		       "Parts that could not be planned (errors certsync plan prints).");
	cs_prom_sample(out, "certsync_plan_errors", (double)plan->n_errors, NULL);
}

static void last_apply(struct cs_buf *out, const struct cs_apply_record *r)
{
	cs_prom_family(out, "certsync_last_apply_timestamp_seconds", "gauge",
		       "When the last certsync apply finished (unix time), from the journal.");
	if (r)
		cs_prom_sample(out, "certsync_last_apply_timestamp_seconds", (double)r->finished, NULL);
	cs_prom_family(out, "certsync_last_apply_duration_seconds", "gauge",
		       "How long the last certsync apply ran.");
	if (r)
		cs_prom_sample(out, "certsync_last_apply_duration_seconds",
			       (double)(r->finished > r->started ? r->finished - r->started : 0), NULL);
	cs_prom_family(out, "certsync_last_apply_success", "gauge",
		       "1 when the last certsync apply succeeded (exit status 0), 0 when something failed or "
		       "could not be planned.");
	if (r)
		cs_prom_sample(out, "certsync_last_apply_success", b2d(r->success), NULL);
	cs_prom_family(out, "certsync_last_apply_actions", "gauge",
		       "Outcomes of the last certsync apply's actions, per result.");
	if (r) {
		const struct { const char *name; size_t n; } results[] = {
			{ "done", r->done }, { "waiting", r->waiting }, { "failed", r->failed },
			{ "skipped", r->skipped }, { "rolled_back", r->rolled_back },
		};
		for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
			cs_prom_sample(out, "certsync_last_apply_actions", (double)results[i].n, "result",
				       results[i].name, NULL);
	}
}

void cs_metrics_write(struct cs_buf *out, const struct cs_metrics_input *in)
{
	const struct cs_observed *obs = in->obs;
	struct cert_facts *facts = cs_xcalloc(obs->cfg->n_certs ? obs->cfg->n_certs : 1, sizeof *facts);
	for (size_t i = 0; i < obs->cfg->n_certs; i++)
		gather_cert_facts(&facts[i], in, &obs->certs[i]);

	cs_prom_family(out, "certsync_build_info", "gauge", "Always 1; the certsync version that wrote these metrics.");
	cs_prom_sample(out, "certsync_build_info", 1, "version", in->version, NULL);
	/* Said first and always: a broken state folder must not leave the
	 * monitoring blind exactly when something is wrong. */
	cs_prom_family(out, "certsync_state_ok", "gauge",
		       "1 when the state folder is private and every file in it could be read; 0 when not (see "
		       "certsync_state_problem and the warning on stderr).");
	cs_prom_sample(out, "certsync_state_ok", b2d(!in->state_problem), NULL);
	cs_prom_family(out, "certsync_state_problem", "gauge",
		       "Always 1, present only when certsync_state_ok is 0; reason says what is wrong: unsafe_key_file, "
		       "folder_open_to_others, not_a_folder, folder_unreadable or journal_unreadable.");
	if (in->state_problem)
		cs_prom_sample(out, "certsync_state_problem", 1, "reason", in->state_problem, NULL);
	certificates(out, obs, facts);
	bindings(out, obs, facts);
	hosts(out, obs);
	if (in->probe)
		endpoints(out, in, facts);
	plan_summary(out, in->plan);
	last_apply(out, in->last_apply);

	cs_prom_family(out, "certsync_metrics_timestamp_seconds", "gauge",
		       "When the state was observed (unix time): with the textfile collector, how fresh this file is.");
	cs_prom_sample(out, "certsync_metrics_timestamp_seconds", (double)obs->now, NULL);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double took = (double)(now.tv_sec - in->started.tv_sec) + (double)(now.tv_nsec - in->started.tv_nsec) / 1e9;
	/* Milliseconds are plenty, and keep the line short. */
	took = (double)(long long)(took * 1000 + 0.5) / 1000;
	cs_prom_family(out, "certsync_metrics_scrape_duration_seconds", "gauge",
		       "How long certsync metrics took: reading the config, reaching every host, probing endpoints.");
	cs_prom_sample(out, "certsync_metrics_scrape_duration_seconds", took, NULL);

	for (size_t i = 0; i < obs->cfg->n_certs; i++)
		cs_material_free(&facts[i].want);
	free(facts);
}
