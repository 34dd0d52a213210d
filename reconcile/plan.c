/* Diff declared against observed state into a plan (see plan.h). */
#include "reconcile/plan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "providers/base/duration.h"
#include "providers/base/util.h"
#include <openssl/x509v3.h>

struct builder {
	struct cs_plan *plan;
	const struct cs_observed *obs;
	int *renew_id;       /* per certificate: id of its renew action, 0 */
	bool *renew_new;     /* per certificate: the renew brings a new certificate in this apply */
	struct cs_material *want;  /* per certificate: what bindings should carry now */
	bool *have_want;
	/* per certificate: hosts (names, borrowed) whose reload of its files is
	 * owed by an apply that did not finish (see plan_host) */
	const char ***owed_hosts;
	size_t *n_owed_hosts;
	size_t cap_actions;  /* room in plan->actions */
	/* Built once when first needed, after every bind, reload and reboot
	 * is planned (see bind_index): per certificate its bind actions, and
	 * all reload and reboot actions, as ascending indexes into actions. */
	bool indexed;
	size_t **binds_of;
	size_t *n_binds_of;
	size_t *reloads;     /* reload and reboot actions */
	size_t n_reloads;
};

static struct cs_action *add_action(struct builder *b, enum cs_action_kind kind)
{
	struct cs_plan *p = b->plan;
	if (p->n_actions == b->cap_actions) {
		b->cap_actions = b->cap_actions ? 2 * b->cap_actions : 64;
		p->actions = cs_xrealloc(p->actions, b->cap_actions * sizeof *p->actions);
	}
	struct cs_action *a = &p->actions[p->n_actions++];
	memset(a, 0, sizeof *a);
	a->id = (int)p->n_actions;
	a->kind = kind;
	a->binding = -1;
	a->verify = -1;
	return a;
}

static void add_dep(struct cs_action *a, int id)
{
	for (size_t i = 0; i < a->n_deps; i++)
		if (a->deps[i] == id)
			return;
	a->deps = cs_xrealloc(a->deps, (a->n_deps + 1) * sizeof *a->deps);
	a->deps[a->n_deps++] = id;
}

static void add_notice(struct builder *b, enum cs_notice_level level, const char *cert,
		       const char *host, char *text)
{
	struct cs_plan *p = b->plan;
	p->notices = cs_xrealloc(p->notices, (p->n_notices + 1) * sizeof *p->notices);
	struct cs_notice *n = &p->notices[p->n_notices++];
	n->level = level;
	n->cert = cs_xstrdup(cert);
	n->host = cs_xstrdup(host);
	n->text = text;
	if (level == CS_NOTICE_ERROR)
		p->n_errors++;
}

static void sep(struct cs_buf *r)
{
	if (r->len)
		cs_buf_puts(r, "; ");
}

/* Compare two sorted name lists; describe what is added and removed. */
static bool names_differ(struct cs_buf *why, char **want, size_t n_want, char **have, size_t n_have)
{
	struct cs_buf add = CS_BUF_INIT, del = CS_BUF_INIT;
	size_t i = 0, j = 0;
	while (i < n_want || j < n_have) {
		int c = i == n_want ? 1 : j == n_have ? -1 : strcmp(want[i], have[j]);
		if (c < 0) {
			cs_buf_printf(&add, "%s%s", add.len ? ", " : "", want[i++]);
		} else if (c > 0) {
			cs_buf_printf(&del, "%s%s", del.len ? ", " : "", have[j++]);
		} else {
			i++;
			j++;
		}
	}
	bool differ = add.len || del.len;
	if (differ) {
		sep(why);
		cs_buf_puts(why, "names changed:");
		if (add.len)
			cs_buf_printf(why, " add %s", add.data);
		if (add.len && del.len)
			cs_buf_puts(why, ",");
		if (del.len)
			cs_buf_printf(why, " remove %s", del.data);
	}
	cs_buf_free(&add);
	cs_buf_free(&del);
	return differ;
}

/* Why the current certificate must be replaced; empty when it need not. */
static void renewal_reasons(struct cs_buf *why, const struct cs_observed *obs, const struct cs_cert_obs *c)
{
	const struct cs_cert_cfg *cert = c->cfg;
	if (!c->have_current) {
		cs_buf_puts(why, "no certificate issued yet");
		return;
	}
	const struct cs_cert_info *info = &c->current_info;
	char date[11], due[11], dur[32];
	cs_time_date(date, info->not_after);
	if (info->not_after <= obs->now) {
		cs_buf_printf(why, "expired on %s", date);
	} else if (c->have_window) {
		/* The CA's renewal window (RFC 9773) wins over renew_before. */
		if (c->window.start <= obs->now) {
			char start[21], end[21];
			cs_time_rfc3339(start, c->window.start);
			cs_time_rfc3339(end, c->window.end);
			cs_buf_printf(why, "the CA's renewal window opened %s (window %s .. %s from %s)", start,
				      start, end, c->window.source ? c->window.source : "the CA");
		}
	} else if (info->not_after - cert->renew_before <= obs->now) {
		cs_time_date(due, info->not_after - cert->renew_before);
		cs_duration_format(dur, sizeof dur, cert->renew_before);
		cs_buf_printf(why, "expires %s, inside renew_before %s (due since %s)", date, dur, due);
	}
	size_t n_names = 0;
	char **names = cs_cert_names(cert, &n_names);
	names_differ(why, names, n_names, info->dns_names, info->n_dns_names);
	cs_strv_free(names, n_names);
	/* Compared with what was asked for, not with the certificate's subject:
	 * a CA may write another CN, or none. */
	if (c->current.requested_cn && cert->common_name &&
	    strcasecmp(c->current.requested_cn, cert->common_name) != 0) {
		sep(why);
		cs_buf_printf(why, "common_name changed: %s → %s", c->current.requested_cn, cert->common_name);
	}
	if (!cs_key_spec_equal(&info->key, &cert->key)) {
		sep(why);
		cs_buf_printf(why, "key type changed: %s → %s",
			      info->key.type ? cs_key_spec_name(&info->key) : "unknown",
			      cs_key_spec_name(&cert->key));
	}
	if (!cs_streq(c->current.issuer, cert->issuer)) {
		sep(why);
		cs_buf_printf(why, "issued by %s, declared issuer is %s",
			      c->current.issuer ? c->current.issuer : "an unknown issuer", cert->issuer);
	} else if (c->issued_by == 0) {
		sep(why);
		cs_buf_printf(why, "not signed by issuer %s's current CA certificate (issuer %s)",
			      cert->issuer, info->issuer);
	}
	if (!c->current.key_matches) {
		sep(why);
		cs_buf_puts(why, "stored key does not match the stored certificate");
	}
	/* meta.json is written last: one that names another certificate is
	 * the previous one's, and this one's save was cut short.  The
	 * renewal resumes its issuance (the same certificate) and saves it
	 * whole.  (Without meta.json the issuer is unknown, said above.) */
	if (c->current.issuer && !c->current.complete) {
		sep(why);
		cs_buf_puts(why, "its last save was cut short (meta.json, written last, names another certificate)");
	}
}

static void strv_copy(char ***out, size_t *n_out, char *const *v, size_t n)
{
	*out = n ? cs_xcalloc(n, sizeof **out) : NULL;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = cs_xstrdup(v[i]);
	*n_out = n;
}

void cs_plan_set_target(struct cs_plan *plan, const struct cs_target *target)
{
	cs_strv_free(plan->target.hosts, plan->target.n_hosts);
	cs_strv_free(plan->target.certs, plan->target.n_certs);
	strv_copy(&plan->target.hosts, &plan->target.n_hosts, target->hosts, target->n_hosts);
	strv_copy(&plan->target.certs, &plan->target.n_certs, target->certs, target->n_certs);
}

char *cs_plan_renewal_reason(const struct cs_observed *obs, const struct cs_cert_obs *c)
{
	struct cs_buf why = CS_BUF_INIT;
	renewal_reasons(&why, obs, c);
	char *s = why.len ? cs_xstrdup(why.data) : NULL;
	cs_buf_free(&why);
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does the pending request still ask for what is declared now? */
static void pending_staleness(struct cs_buf *why, const struct cs_cert_obs *c)
{
	const struct cs_cert_cfg *cert = c->cfg;
	struct cs_key_spec spec;
	if (!cs_streq(c->pending.issuer, cert->issuer)) {
		cs_buf_printf(why, "the pending request was made for issuer %s", c->pending.issuer);
		return;
	}
	if (cs_key_spec_of(&spec, c->pending.key) < 0 || !cs_key_spec_equal(&spec, &cert->key))
		cs_buf_printf(why, "the pending request has another key type than %s",
			      cs_key_spec_name(&cert->key));
	/* Names: compare the CSR's SANs with the declared set. */
	size_t n_names = 0;
	char **names = cs_cert_names(cert, &n_names);
	struct cs_buf d = CS_BUF_INIT;
	/* The request carries the SAN extension certsync wrote into it. */
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(c->pending.csr);
	char **have = NULL;
	size_t n_have = 0;
	GENERAL_NAMES *gens = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
	for (int k = 0; gens && k < sk_GENERAL_NAME_num(gens); k++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
		if (g->type != GEN_DNS)
			continue;
		const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
		have = cs_xrealloc(have, (n_have + 1) * sizeof *have);
		have[n_have++] = cs_xasprintf("%.*s", ASN1_STRING_length(g->d.dNSName), (const char *)s);
	}
	qsort(have, n_have, sizeof *have, cmp_str);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (names_differ(&d, names, n_names, have, n_have)) {
		sep(why);
		cs_buf_printf(why, "the pending request has other names (%s)", d.data + strlen("names changed: "));
	}
	cs_buf_free(&d);
	cs_strv_free(have, n_have);
	cs_strv_free(names, n_names);
}

static char *binding_summary(const struct cs_cert_cfg *cert, const struct cs_binding_cfg *b)
{
	char *what = cs_binding_where(b);
	char *s = cs_xasprintf("bind %s → %s %s%s%s", cert->name, b->host, b->kind_ops->name,
			       what[0] ? ": " : "", what);
	free(what);
	return s;
}

static void plan_certificate(struct builder *b, size_t i)
{
	const struct cs_observed *obs = b->obs;
	const struct cs_cert_obs *c = &obs->certs[i];
	const struct cs_cert_cfg *cert = c->cfg;
	struct cs_err err = CS_ERR_INIT;

	if (c->error) {
		add_notice(b, CS_NOTICE_ERROR, cert->name, NULL, cs_xstrdup(c->error));
		return;
	}
	if (!c->ops) {
		add_notice(b, CS_NOTICE_ERROR, cert->name, NULL,
			   cs_xasprintf("issuer %s: %s issuers are not supported yet", c->issuer->name,
					cs_issuer_kind_name(c->issuer->kind)));
		return;
	}

	/* Say where the renewal time came from when the CA has a say in it. */
	if (c->have_current && c->have_window && c->window.start > obs->now) {
		char start[21], end[21];
		cs_time_rfc3339(start, c->window.start);
		cs_time_rfc3339(end, c->window.end);
		add_notice(b, CS_NOTICE_INFO, cert->name, NULL,
			   cs_xasprintf("renewal window %s .. %s from %s: not due yet", start, end,
					c->window.source ? c->window.source : "the CA"));
	} else if (c->have_current && c->window_error) {
		char dur[32];
		cs_duration_format(dur, sizeof dur, cert->renew_before);
		add_notice(b, CS_NOTICE_INFO, cert->name, NULL,
			   cs_xasprintf("no renewal window from the CA (%s): renew_before %s applies",
					c->window_error, dur));
	}

	struct cs_buf why = CS_BUF_INIT;
	enum cs_renew_mode mode = CS_RENEW_NONE;
	if (c->ops->asynchronous && c->have_pending && cs_streq(c->pending.issuer, cert->issuer)) {
		struct cs_buf stale = CS_BUF_INIT;
		pending_staleness(&stale, c);
		if (stale.len) {
			mode = CS_RENEW_REQUEST;
			cs_buf_printf(&why, "%s: a new request replaces it", stale.data);
		} else if (c->reply_error) {
			add_notice(b, CS_NOTICE_ERROR, cert->name, NULL,
				   cs_xasprintf("reply from the CA rejected, nothing installed: %s", c->reply_error));
		} else if (c->have_reply) {
			char date[11];
			cs_time_date(date, c->reply_info.not_after);
			mode = CS_RENEW_COLLECT;
			cs_buf_printf(&why, "the CA answered: %s (serial %s, valid until %s)", c->reply.path,
				      c->reply_info.serial, date);
		} else {
			char made[21];
			cs_time_rfc3339(made, c->pending.created_at);
			char *where = c->ops->request_location ? c->ops->request_location(c->issuer, cert) : NULL;
			char *reply = c->ops->reply_location ? c->ops->reply_location(c->issuer, cert) : NULL;
			add_notice(b, CS_NOTICE_WAIT, cert->name, NULL,
				   cs_xasprintf("waiting for the CA: request %s made %s; put the reply in %s",
						where ? where : "", made, reply ? reply : "the inbox"));
			free(reply);
			free(where);
		}
		cs_buf_free(&stale);
	} else {
		renewal_reasons(&why, obs, c);
		if (why.len)
			mode = c->ops->asynchronous ? CS_RENEW_REQUEST : CS_RENEW_ISSUE;
	}

	/* A renewal the issuer cannot carry out now is an error of the plan:
	 * better said here than halfway through apply. */
	if ((mode == CS_RENEW_ISSUE || mode == CS_RENEW_REQUEST) && c->issuer_error) {
		add_notice(b, CS_NOTICE_ERROR, cert->name, NULL,
			   cs_xasprintf("renewal due (%s), but issuer %s cannot issue: %s", why.data,
					c->issuer->name, c->issuer_error));
		mode = CS_RENEW_NONE;
	}

	if (mode != CS_RENEW_NONE) {
		struct cs_action *a = add_action(b, CS_ACT_RENEW);
		a->cert = cs_xstrdup(cert->name);
		a->renew_mode = mode;
		a->reason = cs_buf_detach(&why, NULL);
		switch (mode) {
		case CS_RENEW_ISSUE:
			a->summary = cs_xasprintf("renew %s: new %s key, certificate from %s issuer %s",
						  cert->name, cs_key_spec_name(&cert->key),
						  cs_issuer_kind_name(c->issuer->kind), c->issuer->name);
			break;
		case CS_RENEW_REQUEST: {
			char *where = c->ops->request_location ? c->ops->request_location(c->issuer, cert) : NULL;
			a->summary = cs_xasprintf("renew %s: new %s key and request %s for issuer %s, then wait for the CA",
						  cert->name, cs_key_spec_name(&cert->key), where ? where : "",
						  c->issuer->name);
			free(where);
			break;
		}
		default:
			a->summary = cs_xasprintf("renew %s: install the CA's certificate (serial %s) with the pending key",
						  cert->name, c->reply_info.serial);
			break;
		}
		b->renew_id[i] = a->id;
		b->renew_new[i] = mode == CS_RENEW_ISSUE || mode == CS_RENEW_COLLECT;
	}
	cs_buf_free(&why);

	/* The current certificate: what bindings should carry if nothing is
	 * renewed in this apply (have_want); during a renewal, what bindings
	 * are compared with to say what is wrong with them already. */
	if (c->have_current) {
		if (cs_cert_obs_material(&b->want[i], c, &err) == 0)
			b->have_want[i] = !b->renew_new[i];
		else if (!b->renew_new[i])
			add_notice(b, CS_NOTICE_ERROR, cert->name, NULL,
				   cs_xasprintf("stored certificate: %s", cs_err_msg(&err)));
	}
	cs_err_clear(&err);
}

/* Import certificate i into host ho's store when the host lacks it. */
static void plan_import(struct builder *b, const struct cs_host_obs *ho, size_t i, int *out_id)
{
	const struct cs_cert_obs *c = &b->obs->certs[i];
	if (!c->selected || c->error || !c->ops)
		return;
	bool exportable = false, any = false;
	for (size_t j = 0; j < c->cfg->n_bindings; j++) {
		const struct cs_binding_cfg *bc = &c->cfg->bindings[j];
		if (&b->obs->cfg->hosts[bc->host_index] != ho->cfg)
			continue;
		if (cs_binding_key_exportable(bc))
			exportable = true;
		any = true;
	}
	if (!any)
		return;
	struct cs_buf why = CS_BUF_INIT;
	if (b->renew_new[i] && c->have_reply) {
		cs_buf_printf(&why, "host %s lacks certificate %s (the CA's new certificate)", ho->cfg->name,
			      c->reply_info.sha1);
	} else if (b->renew_new[i]) {
		cs_buf_printf(&why, "the certificate is being renewed: host %s lacks the new one", ho->cfg->name);
	} else if (!b->have_want[i] || ho->platform->import_needed(ho->state, ho->cfg, &b->want[i], &why) == 0) {
		cs_buf_free(&why);
		return;
	}
	struct cs_action *a = add_action(b, CS_ACT_IMPORT);
	a->cert = cs_xstrdup(c->cfg->name);
	a->host = cs_xstrdup(ho->cfg->name);
	a->summary = cs_xasprintf("import %s → %s: LocalMachine\\My%s", c->cfg->name, ho->cfg->name,
				  exportable ? " (key exportable)" : "");
	a->reason = cs_buf_detach(&why, NULL);
	if (b->renew_id[i])
		add_dep(a, b->renew_id[i]);
	*out_id = a->id;
}

/* A binding of a certificate being renewed is bound anyway; say also what
 * is wrong with it already compared with the current certificate (no such
 * binding yet, another certificate in it), which "being renewed" alone
 * would hide.  current: the current certificate, or NULL (none yet). */
static void renewing_reason(struct cs_buf *why, const struct cs_host_obs *ho, const struct cs_material *current,
			    const struct cs_binding_cfg *bc, const struct cs_binding_obs *bo)
{
	cs_buf_puts(why, "the certificate is being renewed");
	if (!current)
		return;
	struct cs_buf wrong = CS_BUF_INIT;
	if (cs_binding_diff(ho->platform, bc, bo, current, &wrong) && wrong.len)
		cs_buf_printf(why, "; and already: %s", wrong.data);
	cs_buf_free(&wrong);
}

/* A verify action for entry v of cert, without host, reason or deps. */
static struct cs_action *add_verify(struct builder *b, const struct cs_cert_cfg *cert, size_t v)
{
	const struct cs_verify_cfg *vc = &cert->verify[v];
	struct cs_action *a = add_action(b, CS_ACT_VERIFY);
	a->cert = cs_xstrdup(cert->name);
	a->verify = (int)v;
	const char *sni = vc->servername ? vc->servername : cert->common_name;
	a->summary = cs_xasprintf("verify %s at %s%s%s (SNI %s)", cert->name, vc->connect,
				  vc->starttls ? " with STARTTLS " : "",
				  vc->starttls == CS_STARTTLS_SMTP ? "smtp" :
				  vc->starttls == CS_STARTTLS_IMAP ? "imap" :
				  vc->starttls == CS_STARTTLS_POP3 ? "pop3" : "", sni);
	return a;
}

/* Bindings, reloads and verifies of one host. */
static void plan_host(struct builder *b, size_t h)
{
	const struct cs_observed *obs = b->obs;
	const struct cs_config *cfg = obs->cfg;
	const struct cs_host_obs *ho = &obs->hosts[h];
	if (!ho->selected)
		return;
	if (ho->error) {
		/* Transport errors usually name the host already. */
		size_t n = strlen(ho->cfg->name);
		bool named = !strncmp(ho->error, "host ", 5) && !strncmp(ho->error + 5, ho->cfg->name, n) &&
			     (ho->error[5 + n] == ' ' || ho->error[5 + n] == ':');
		add_notice(b, CS_NOTICE_ERROR, NULL, ho->cfg->name,
			   named ? cs_xstrdup(ho->error) : cs_xasprintf("host %s: %s", ho->cfg->name, ho->error));
		return;
	}
	size_t first_change = b->plan->n_actions;
	/* Bindings whose files an apply that did not finish already wrote:
	 * their reload and checks are owed (see load_unconfirmed). */
	struct owed { size_t cert, binding; } *owed = NULL;
	size_t n_owed = 0;
	int *import_id = cs_xcalloc(cfg->n_certs, sizeof *import_id);
	bool *bound_here = cs_xcalloc(cfg->n_certs ? cfg->n_certs : 1, sizeof *bound_here); /* a bind planned */
	for (size_t i = 0; i < cfg->n_certs && ho->state && ho->platform->import_needed; i++)
		plan_import(b, ho, i, &import_id[i]);
	size_t first_bind = b->plan->n_actions;
	/* Two passes: a binding whose kind binds last (a store binding, which
	 * may clean up superseded certificates) comes after everything that
	 * moves off them. */
	for (int pass = 0; pass < 2; pass++)
	for (size_t i = 0; i < cfg->n_certs; i++) {
		const struct cs_cert_obs *c = &obs->certs[i];
		if (!c->selected || c->error || !c->ops)
			continue;
		for (size_t j = 0; j < c->cfg->n_bindings; j++) {
			const struct cs_binding_cfg *bc = &c->cfg->bindings[j];
			if (bc->host_index != h || cs_binding_bind_last(bc) != (pass == 1))
				continue;
			const struct cs_binding_obs *bo = &obs->bindings[i][j];
			if (bo->error) {
				add_notice(b, CS_NOTICE_ERROR, c->cfg->name, ho->cfg->name,
					   cs_xasprintf("%s → %s %s: %s", c->cfg->name, bc->host,
							bc->kind_ops->name, bo->error));
				continue;
			}
			if (bo->in_flight)
				add_notice(b, CS_NOTICE_INFO, c->cfg->name, ho->cfg->name,
					   cs_xasprintf("%s → %s %s: an apply that is still running (run %s) is changing "
							"it; its reload and checks are up to that apply", c->cfg->name,
							bc->host, bc->kind_ops->name,
							bo->in_flight[0] ? bo->in_flight : "unknown"));
			struct cs_buf why = CS_BUF_INIT;
			if (b->renew_new[i])
				renewing_reason(&why, ho, b->want[i].cert ? &b->want[i] : NULL, bc, bo);
			else if (!b->have_want[i])
				continue; /* nothing to bind yet (waiting for the CA) */
			else if (cs_binding_diff(ho->platform, bc, bo, &b->want[i], &why) == 0) {
				if (!bo->unconfirmed) {
					cs_buf_free(&why);
					continue;
				}
				char date[11];
				cs_time_date(date, bo->unconfirmed_since);
				if (bo->interrupted && (cs_binding_reload(bc) || bo->rebooted_since)) {
					/* The files are right: what is owed is their
					 * reload and checks, not writing them again
					 * (after the reboot that apply asked for, the
					 * checks alone). */
					owed = cs_xrealloc(owed, (n_owed + 1) * sizeof *owed);
					owed[n_owed].cert = i;
					owed[n_owed++].binding = j;
					b->owed_hosts[i] = cs_xrealloc(b->owed_hosts[i],
								       (b->n_owed_hosts[i] + 1) * sizeof **b->owed_hosts);
					b->owed_hosts[i][b->n_owed_hosts[i]++] = ho->cfg->name;
					cs_buf_free(&why);
					continue;
				}
				if (bo->interrupted)
					cs_buf_printf(&why, "%s, %s: it is applied, reloaded and verified again",
						      bo->unconfirmed, date);
				else
					cs_buf_printf(&why, "an apply on %s changed it but could neither confirm it nor "
						      "put it back (%s): it is applied, reloaded and verified again", date,
						      bo->unconfirmed);
			}
			/* What the apply will change that the config did not ask for. */
			if (ho->platform->apply_note)
				ho->platform->apply_note(bc, bo, b->renew_new[i] ? NULL : &b->want[i], &why);
			struct cs_action *a = add_action(b, CS_ACT_BIND);
			bound_here[i] = true;
			a->cert = cs_xstrdup(c->cfg->name);
			a->host = cs_xstrdup(bc->host);
			a->binding = (int)j;
			a->summary = binding_summary(c->cfg, bc);
			a->reason = cs_buf_detach(&why, NULL);
			if (b->renew_id[i])
				add_dep(a, b->renew_id[i]);
			if (import_id[i])
				add_dep(a, import_id[i]);
		}
	}
	free(import_id);
	size_t end_bind = b->plan->n_actions;

	/* Each distinct reload command once, after the bindings that name it
	 * (or that owe it). */
	for (size_t k = first_bind; k < end_bind + n_owed; k++) {
		const char *cmd;
		if (k < end_bind) {
			const struct cs_action *bind = &b->plan->actions[k];
			const struct cs_cert_cfg *cert = cs_config_cert(cfg, bind->cert);
			cmd = cs_binding_reload(&cert->bindings[bind->binding]);
		} else {
			cmd = cs_binding_reload(&cfg->certs[owed[k - end_bind].cert].bindings[owed[k - end_bind].binding]);
		}
		if (!cmd)
			continue;
		bool seen = false;
		for (size_t m = end_bind; m < b->plan->n_actions; m++)
			if (cs_streq(b->plan->actions[m].command, cmd))
				seen = true;
		if (seen)
			continue;
		struct cs_action *a = add_action(b, CS_ACT_RELOAD);
		a->host = cs_xstrdup(ho->cfg->name);
		a->command = cs_xstrdup(cmd);
		a->summary = cs_xasprintf("reload on %s: %s", ho->cfg->name, cmd);
		struct cs_buf why = CS_BUF_INIT;
		for (size_t m = first_bind; m < end_bind; m++) {
			struct cs_action *bm = &b->plan->actions[m];
			const struct cs_cert_cfg *cm = cs_config_cert(cfg, bm->cert);
			const struct cs_binding_cfg *bcm = &cm->bindings[bm->binding];
			if (cs_streq(cs_binding_reload(bcm), cmd)) {
				a = &b->plan->actions[b->plan->n_actions - 1];
				add_dep(a, bm->id);
				cs_buf_printf(&why, "%s #%d (%s)", a->n_deps > 1 ? "," : "files changed by", bm->id,
					      bm->cert);
			}
		}
		/* The earliest unfinished change it owes, for the date. */
		int64_t since = 0;
		struct cs_buf owed_certs = CS_BUF_INIT;
		for (size_t m = 0; m < n_owed; m++) {
			const struct cs_cert_cfg *cm = &cfg->certs[owed[m].cert];
			const struct cs_binding_obs *bom = &obs->bindings[owed[m].cert][owed[m].binding];
			if (!cs_streq(cs_binding_reload(&cm->bindings[owed[m].binding]), cmd))
				continue;
			if (!since || bom->unconfirmed_since < since)
				since = bom->unconfirmed_since;
			cs_buf_printf(&owed_certs, "%s%s", owed_certs.len ? ", " : "", cm->name);
		}
		if (owed_certs.len) {
			char date[11];
			cs_time_date(date, since);
			sep(&why);
			cs_buf_printf(&why, "reload owed: files changed by an apply that did not finish, %s (%s)", date,
				      owed_certs.data);
		}
		cs_buf_free(&owed_certs);
		a = &b->plan->actions[b->plan->n_actions - 1];
		a->reason = cs_buf_detach(&why, NULL);
	}

	/* Reboot once, after everything that changed the host, or because an
	 * earlier apply's changes still wait for theirs. */
	/* Some bindings change nothing a reboot is for (a store binding: its
	 * import is an action of its own, and removing unused certificates
	 * (cleanup) needs no restart of anything). */
	bool host_changed = false;
	for (size_t k = first_change; k < b->plan->n_actions; k++) {
		const struct cs_action *ak = &b->plan->actions[k];
		host_changed = host_changed || ak->kind != CS_ACT_BIND ||
			       !cs_binding_no_reboot(&cs_config_cert(cfg, ak->cert)->bindings[ak->binding]);
	}
	if (ho->cfg->reboot == CS_REBOOT_AFTER_CHANGE && ho->platform->reboot && (host_changed || ho->owed_reboot)) {
		size_t end = b->plan->n_actions;
		struct cs_action *a = add_action(b, CS_ACT_REBOOT);
		a->host = cs_xstrdup(ho->cfg->name);
		a->summary = cs_xasprintf("reboot %s and wait until it is back", ho->cfg->name);
		struct cs_buf why = CS_BUF_INIT;
		cs_buf_puts(&why, "reboot: after-change, and");
		size_t named = 0;
		for (size_t k = first_change; k < end; k++) {
			a = &b->plan->actions[b->plan->n_actions - 1];
			add_dep(a, b->plan->actions[k].id);
			const struct cs_action *ak = &b->plan->actions[k];
			if (ak->kind == CS_ACT_BIND &&
			    cs_binding_no_reboot(&cs_config_cert(cfg, ak->cert)->bindings[ak->binding]))
				continue; /* after it, not because of it */
			cs_buf_printf(&why, "%s #%d", named++ ? "," : "", ak->id);
		}
		if (host_changed)
			cs_buf_printf(&why, " change%s it", named > 1 ? "" : "s");
		if (ho->owed_reboot) {
			char date[11];
			cs_time_date(date, ho->owed_reboot->since);
			cs_buf_printf(&why, "%s it has not rebooted since changes of %s that wait for it (%s)",
				      host_changed ? ";" : "", date, ho->owed_reboot->why);
		}
		a = &b->plan->actions[b->plan->n_actions - 1];
		a->reason = cs_buf_detach(&why, NULL);
	}
	size_t end_reload = b->plan->n_actions;

	/* Verify each certificate whose bindings changed here.  Its
	 * dependencies come from per-certificate lists of this host's actions
	 * (here_head/here_next, ascending) and the list of its reloads and
	 * reboots (here_rr), built when the first verify needs them. */
	size_t *here_head = NULL, *here_next = NULL, *here_rr = NULL, n_rr = 0;
	for (size_t i = 0; i < cfg->n_certs; i++) {
		const struct cs_cert_cfg *cert = &cfg->certs[i];
		bool changed = bound_here[i];
		for (size_t m = 0; m < n_owed; m++)
			changed = changed || owed[m].cert == i;
		if (!changed)
			continue;
		for (size_t v = 0; v < cert->n_verify; v++) {
			const struct cs_verify_cfg *vc = &cert->verify[v];
			if (vc->host_index != h)
				continue;
			struct cs_action *a = add_verify(b, cert, v);
			a->host = cs_xstrdup(ho->cfg->name);
			bool owes = false, after_reboot = false;
			for (size_t m = 0; m < n_owed; m++) {
				owes = owes || owed[m].cert == i;
				after_reboot = after_reboot || (owed[m].cert == i &&
								obs->bindings[i][owed[m].binding].rebooted_since);
			}
			a->reason = after_reboot && !bound_here[i]
				? cs_xasprintf("the endpoint must present the certificate bound on %s (verify owed: an "
					       "apply that did not finish changed it and rebooted the host)", ho->cfg->name)
				: owes ? cs_xasprintf("the endpoint must present the certificate bound on %s (verify "
							"owed: files changed by an apply that did not finish)",
							ho->cfg->name)
				: cs_xasprintf("the endpoint must present the certificate just bound on %s",
					       ho->cfg->name);
			if (!here_next) {
				here_head = cs_xcalloc(cfg->n_certs, sizeof *here_head);
				here_next = cs_xcalloc(end_reload - first_change + 1, sizeof *here_next);
				here_rr = cs_xcalloc(end_reload - first_change + 1, sizeof *here_rr);
				for (size_t m = 0; m < cfg->n_certs; m++)
					here_head[m] = SIZE_MAX;
				for (size_t k = end_reload; k-- > first_change;) {
					const struct cs_action *d = &b->plan->actions[k];
					const struct cs_cert_cfg *dc = d->kind == CS_ACT_RELOAD || d->kind == CS_ACT_REBOOT
						? NULL : cs_config_cert(cfg, d->cert);
					if (!dc)
						continue;
					here_next[k - first_change] = here_head[dc - cfg->certs];
					here_head[dc - cfg->certs] = k;
				}
				for (size_t k = first_change; k < end_reload; k++)
					if (b->plan->actions[k].kind == CS_ACT_RELOAD ||
					    b->plan->actions[k].kind == CS_ACT_REBOOT)
						here_rr[n_rr++] = k;
			}
			size_t kc = here_head[i], kr = 0;
			while (kc != SIZE_MAX || kr < n_rr) {
				size_t k;
				if (kr == n_rr || (kc != SIZE_MAX && kc < here_rr[kr])) {
					k = kc;
					kc = here_next[kc - first_change];
				} else {
					k = here_rr[kr++];
				}
				add_dep(&b->plan->actions[b->plan->n_actions - 1], b->plan->actions[k].id);
			}
		}
	}
	free(here_head);
	free(here_next);
	free(here_rr);
	free(bound_here);
	free(owed);
}

/* The bind actions of each certificate and the reload and reboot actions,
 * in plan order: built once, after plan_host has run for every host (only
 * verify actions are added after that), so that nothing below scans every
 * action for every certificate. */
static void bind_index(struct builder *b)
{
	if (b->indexed)
		return;
	const struct cs_config *cfg = b->obs->cfg;
	b->indexed = true;
	b->binds_of = cs_xcalloc(cfg->n_certs ? cfg->n_certs : 1, sizeof *b->binds_of);
	b->n_binds_of = cs_xcalloc(cfg->n_certs ? cfg->n_certs : 1, sizeof *b->n_binds_of);
	b->reloads = cs_xcalloc(b->plan->n_actions ? b->plan->n_actions : 1, sizeof *b->reloads);
	for (size_t k = 0; k < b->plan->n_actions; k++) {
		const struct cs_action *a = &b->plan->actions[k];
		if (a->kind == CS_ACT_RELOAD || a->kind == CS_ACT_REBOOT) {
			b->reloads[b->n_reloads++] = k;
			continue;
		}
		const struct cs_cert_cfg *cert = a->kind == CS_ACT_BIND ? cs_config_cert(cfg, a->cert) : NULL;
		if (!cert)
			continue;
		size_t i = (size_t)(cert - cfg->certs);
		b->binds_of[i] = cs_xrealloc(b->binds_of[i], (b->n_binds_of[i] + 1) * sizeof **b->binds_of);
		b->binds_of[i][b->n_binds_of[i]++] = k;
	}
}

/* Verify entries without a host on a certificate bound on several hosts:
 * one check after every host that changed for it (their binds, reloads and
 * reboots). */
static void plan_verify_all_hosts(struct builder *b, size_t i)
{
	const struct cs_cert_cfg *cert = &b->obs->cfg->certs[i];
	bool any = false;
	for (size_t v = 0; v < cert->n_verify; v++)
		any = any || cert->verify[v].all_hosts;
	if (!any)
		return;
	bind_index(b);
	const struct cs_action *acts = b->plan->actions;
	const size_t *binds = b->binds_of[i];
	size_t n_binds = b->n_binds_of[i];
	struct cs_buf hosts = CS_BUF_INIT;
	for (size_t k = 0; k < n_binds; k++) {
		const struct cs_action *a = &acts[binds[k]];
		bool seen = false;
		for (size_t m = 0; m < k && !seen; m++)
			seen = cs_streq(acts[binds[m]].host, a->host);
		if (!seen)
			cs_buf_printf(&hosts, "%s%s", hosts.len ? ", " : "", a->host);
	}
	/* Hosts whose reload is owed: checked after it, like a bind. */
	for (size_t m = 0; m < b->n_owed_hosts[i]; m++) {
		const char *h = b->owed_hosts[i][m];
		bool seen = false;
		for (size_t k = 0; k < n_binds && !seen; k++)
			seen = cs_streq(acts[binds[k]].host, h);
		for (size_t k = 0; k < m && !seen; k++)
			seen = cs_streq(b->owed_hosts[i][k], h);
		if (!seen)
			cs_buf_printf(&hosts, "%s%s", hosts.len ? ", " : "", h);
	}
	if (!hosts.len) {
		cs_buf_free(&hosts);
		return;
	}
	for (size_t v = 0; v < cert->n_verify; v++) {
		const struct cs_verify_cfg *vc = &cert->verify[v];
		if (!vc->all_hosts)
			continue;
		struct cs_action *a = add_verify(b, cert, v);
		a->reason = cs_xasprintf("the endpoint must present the certificate just bound on %s (no host: "
					 "checked after all of them)", hosts.data);
		/* The certificate's binds, and the reloads and reboots of the
		 * hosts it changed on, in plan order (two sorted lists merged). */
		size_t kb = 0, kr = 0;
		while (kb < n_binds || kr < b->n_reloads) {
			bool take_bind = kr == b->n_reloads || (kb < n_binds && binds[kb] < b->reloads[kr]);
			const struct cs_action *d = &b->plan->actions[take_bind ? binds[kb++] : b->reloads[kr++]];
			bool on_changed_host = take_bind;
			for (size_t m = 0; m < n_binds && !on_changed_host && d->host; m++)
				on_changed_host = cs_streq(b->plan->actions[binds[m]].host, d->host);
			for (size_t m = 0; m < b->n_owed_hosts[i] && !on_changed_host && d->host; m++)
				on_changed_host = cs_streq(b->owed_hosts[i][m], d->host);
			if (on_changed_host)
				add_dep(&b->plan->actions[b->plan->n_actions - 1], d->id);
		}
	}
	cs_buf_free(&hosts);
}

/* A certificate from a CA that sent no intermediates, about to be written
 * as chain/fullchain/pem files: most clients cannot verify such a server,
 * and nothing else would say so. */
static void note_missing_chain(struct builder *b, size_t i)
{
	const struct cs_cert_obs *c = &b->obs->certs[i];
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	if (b->renew_new[i] && c->have_reply) {
		leaf = c->reply.cert;
		chain = c->reply.chain;
	} else if (!b->renew_new[i] && b->have_want[i]) {
		/* The texts tell that there is a chain without parsing anything. */
		if (cs_material_has_chain(&b->want[i]))
			return;
		struct cs_err ignored = CS_ERR_INIT;
		leaf = cs_material_cert(&b->want[i]);
		chain = cs_stored_chain(&c->current, &ignored);
		cs_err_clear(&ignored);
	}
	if (!leaf || sk_X509_num(chain) > 0 || X509_check_issued(leaf, leaf) == X509_V_OK)
		return;
	bool writes_chain = false;
	bind_index(b);
	for (size_t k = 0; k < b->n_binds_of[i] && !writes_chain; k++) {
		const struct cs_action *a = &b->plan->actions[b->binds_of[i][k]];
		const struct cs_binding_cfg *bc = &c->cfg->bindings[a->binding];
		writes_chain = cs_binding_writes_chain(bc);
	}
	if (writes_chain)
		add_notice(b, CS_NOTICE_INFO, c->cfg->name, NULL,
			   cs_xasprintf("no intermediate certificates: chain files will be empty and fullchain "
					"files hold the certificate alone, which most clients cannot verify%s",
					c->have_reply
					? " (put the CA's intermediates after the certificate in its reply)" : ""));
}

int cs_plan_make(struct cs_plan **out, const struct cs_observed *obs, struct cs_err *err)
{
	const struct cs_config *cfg = obs->cfg;
	struct cs_plan *plan = cs_xcalloc(1, sizeof *plan);
	memcpy(plan->config_sha256, obs->config_sha256, sizeof plan->config_sha256);
	memcpy(plan->state_sha256, obs->state_sha256, sizeof plan->state_sha256);
	/* Absolute, so that `apply PLAN` finds the config from any folder. */
	plan->config_path = cs_path_join(cfg->dir, cs_path_basename(cfg->path));
	struct builder b = {
		.plan = plan,
		.obs = obs,
		.renew_id = cs_xcalloc(cfg->n_certs, sizeof *b.renew_id),
		.renew_new = cs_xcalloc(cfg->n_certs, sizeof *b.renew_new),
		.want = cs_xcalloc(cfg->n_certs, sizeof *b.want),
		.have_want = cs_xcalloc(cfg->n_certs, sizeof *b.have_want),
		.owed_hosts = cs_xcalloc(cfg->n_certs, sizeof *b.owed_hosts),
		.n_owed_hosts = cs_xcalloc(cfg->n_certs, sizeof *b.n_owed_hosts),
	};
	for (size_t i = 0; i < cfg->n_certs; i++)
		if (obs->certs[i].selected)
			plan_certificate(&b, i);
	for (size_t h = 0; h < cfg->n_hosts; h++)
		plan_host(&b, h);
	for (size_t i = 0; i < cfg->n_certs; i++)
		if (obs->certs[i].selected)
			plan_verify_all_hosts(&b, i);
	for (size_t i = 0; i < cfg->n_certs; i++)
		note_missing_chain(&b, i);
	for (size_t i = 0; i < cfg->n_certs; i++) {
		cs_material_free(&b.want[i]);
		free(b.owed_hosts[i]);
		if (b.indexed)
			free(b.binds_of[i]);
	}
	free(b.binds_of);
	free(b.n_binds_of);
	free(b.reloads);
	free(b.owed_hosts);
	free(b.n_owed_hosts);
	free(b.want);
	free(b.have_want);
	free(b.renew_id);
	free(b.renew_new);
	(void)err;
	*out = plan;
	return 0;
}

void cs_plan_free(struct cs_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_actions; i++) {
		struct cs_action *a = &plan->actions[i];
		free(a->cert);
		free(a->host);
		free(a->command);
		free(a->summary);
		free(a->reason);
		free(a->deps);
	}
	free(plan->actions);
	for (size_t i = 0; i < plan->n_notices; i++) {
		free(plan->notices[i].cert);
		free(plan->notices[i].host);
		free(plan->notices[i].text);
	}
	free(plan->notices);
	free(plan->config_path);
	cs_strv_free(plan->target.hosts, plan->target.n_hosts);
	cs_strv_free(plan->target.certs, plan->target.n_certs);
	free(plan);
}

size_t cs_plan_count(const struct cs_plan *plan, enum cs_action_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < plan->n_actions; i++)
		n += plan->actions[i].kind == kind;
	return n;
}

const char *cs_action_kind_name(enum cs_action_kind kind)
{
	switch (kind) {
	case CS_ACT_RENEW: return "renew";
	case CS_ACT_BIND: return "bind";
	case CS_ACT_RELOAD: return "reload";
	case CS_ACT_VERIFY: return "verify";
	case CS_ACT_IMPORT: return "import";
	case CS_ACT_REBOOT: return "reboot";
	}
	return "?";
}
