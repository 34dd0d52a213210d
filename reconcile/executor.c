/* Carry out a plan (see executor.h). */
#include "reconcile/executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "providers/base/fault.h"
#include "reconcile/store_runs.h"
#include "reconcile/tls_verify.h"
#include "providers/base/util.h"

/* ST_UNDONE: it went through, then was put back because a later step
 * (its reload, a sibling binding) failed. */
enum status { ST_PENDING = 0, ST_DONE, ST_WAITING, ST_FAILED, ST_SKIPPED, ST_UNDONE };

struct exec {
	const struct cs_plan *plan;
	struct cs_observed *obs;
	const struct cs_config *cfg;
	cs_event_fn on_event;
	void *ctx;
	pthread_mutex_t lock;            /* events, journal, summary */
	enum status *status;             /* per action (index id-1) */
	struct cs_undo *undo;            /* per action: what a bind changed */
	bool *intent;                    /* per action: a bind whose intent record is open */
	struct cs_material *material;    /* per certificate, loaded after renewals */
	bool *have_material;
	struct cs_exec_summary sum;
	size_t *hosts;                   /* host indexes with actions */
	size_t n_hosts, next_host;
	const char **issued;             /* certificates whose issuing record is dropped after the renewals */
	size_t n_issued, cap_issued;
};

static size_t cert_index(const struct exec *x, const char *name)
{
	const struct cs_cert_cfg *c = cs_config_cert(x->cfg, name);
	return c ? (size_t)(c - x->cfg->certs) : (size_t)-1;
}

static size_t host_index(const struct exec *x, const char *name)
{
	const struct cs_host_cfg *h = cs_config_host(x->cfg, name);
	return h ? (size_t)(h - x->cfg->hosts) : (size_t)-1;
}

static void journal(struct exec *x, const struct cs_action *a, const char *result, const char *detail)
{
	json_t *rec = json_object();
	json_object_set_new(rec, "action", json_string(cs_action_kind_name(a->kind)));
	json_object_set_new(rec, "id", json_integer(a->id));
	if (a->cert)
		json_object_set_new(rec, "certificate", json_string(a->cert));
	if (a->host)
		json_object_set_new(rec, "host", json_string(a->host));
	if (a->binding >= 0)
		json_object_set_new(rec, "binding", json_integer(a->binding));
	if (a->command)
		json_object_set_new(rec, "command", json_string(a->command));
	json_object_set_new(rec, "result", json_string(result));
	if (detail)
		json_object_set_new(rec, "detail", json_string(detail));
	struct cs_err err = CS_ERR_INIT;
	/* A journal that cannot be written is reported but does not undo work
	 * that already happened. */
	if (cs_store_journal(x->obs->store, rec, &err) < 0) {
		x->sum.warnings++;
		char *text = cs_xasprintf("not in the journal: %s", cs_err_msg(&err));
		struct cs_event ev = { CS_EV_WARNING, a, text };
		if (x->on_event)
			x->on_event(x->ctx, &ev);
		free(text);
	}
	cs_err_clear(&err);
	json_decref(rec);
}

/* Report an event, record the outcome, journal it: all under the lock. */
static void report(struct exec *x, const struct cs_action *a, enum cs_event_kind kind, const char *text)
{
	pthread_mutex_lock(&x->lock);
	switch (kind) {
	case CS_EV_DONE: x->status[a->id - 1] = ST_DONE; x->sum.done++; break;
	case CS_EV_WAITING: x->status[a->id - 1] = ST_WAITING; x->sum.waiting++; break;
	case CS_EV_FAILED: x->status[a->id - 1] = ST_FAILED; x->sum.failed++; break;
	case CS_EV_SKIPPED: x->status[a->id - 1] = ST_SKIPPED; x->sum.skipped++; break;
	case CS_EV_ROLLBACK: x->sum.rolled_back++; break;
	case CS_EV_ROLLBACK_FAILED: x->sum.failed++; break;
	case CS_EV_WARNING: x->sum.warnings++; break;
	case CS_EV_START: break;
	}
	if (x->on_event) {
		struct cs_event ev = { kind, a, text };
		x->on_event(x->ctx, &ev);
	}
	static const char *const names[] = {
		[CS_EV_DONE] = "done", [CS_EV_WAITING] = "waiting", [CS_EV_FAILED] = "failed",
		[CS_EV_SKIPPED] = "skipped", [CS_EV_ROLLBACK] = "rolled back",
		[CS_EV_ROLLBACK_FAILED] = "rollback failed", [CS_EV_WARNING] = "warning",
	};
	if (kind != CS_EV_START)
		journal(x, a, names[kind], text);
	pthread_mutex_unlock(&x->lock);
}

/* The dependency that did not succeed (the first one that failed itself
 * rather than one put back because of it), or NULL. */
static const struct cs_action *failed_dep(struct exec *x, const struct cs_action *a, bool need_all)
{
	const struct cs_action *bad = NULL;
	size_t ok = 0;
	pthread_mutex_lock(&x->lock);
	for (size_t i = 0; i < a->n_deps; i++) {
		enum status s = x->status[a->deps[i] - 1];
		if (s == ST_DONE)
			ok++;
		else if (!bad || (s != ST_UNDONE && x->status[bad->id - 1] == ST_UNDONE))
			bad = &x->plan->actions[a->deps[i] - 1];
	}
	pthread_mutex_unlock(&x->lock);
	if (!need_all && ok > 0)
		return NULL;
	return bad;
}

/* How a dependency that did not succeed ended, for messages. */
static const char *dep_outcome(struct exec *x, const struct cs_action *dep)
{
	switch (x->status[dep->id - 1]) {
	case ST_WAITING: return "is waiting for the CA";
	case ST_SKIPPED: return "was skipped";
	case ST_UNDONE: return "was put back";
	default: return "failed";
	}
}

static void skip_for(struct exec *x, const struct cs_action *a, const struct cs_action *dep)
{
	const char *why = dep_outcome(x, dep);
	char *text = cs_xasprintf("because %s #%d%s%s %s", cs_action_kind_name(dep->kind), dep->id,
				  dep->cert ? " " : "", dep->cert ? dep->cert : "", why);
	report(x, a, CS_EV_SKIPPED, text);
	free(text);
}

/* Skip a because dep did not succeed, or report that a starts: every
 * action begins this way.  true when a should run. */
static bool begin(struct exec *x, const struct cs_action *a, const struct cs_action *dep)
{
	if (dep) {
		skip_for(x, a, dep);
		return false;
	}
	report(x, a, CS_EV_START, NULL);
	return true;
}

/* ---- renew ---- */

/* 32 hex digits: 128 random bits, the top one clear (a positive DER
 * integer), never zero. */
static char *new_serial(void)
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1) {
		uint64_t v = (uint64_t)cs_now() ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)b;
		memset(b, 0x5a, sizeof b);
		memcpy(b + 8, &v, sizeof v);
	}
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x01);
	char *s = cs_xcalloc(33, 1);
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(s + 2 * i, 3, "%02X", b[i]);
	return s;
}

/* A certificate saved by this run: its issuing record is dropped once all
 * renewals are done (drop_issued). */
static void note_issued(struct exec *x, const char *name)
{
	pthread_mutex_lock(&x->lock);
	if (x->n_issued == x->cap_issued) {
		x->cap_issued = x->cap_issued ? 2 * x->cap_issued : 16;
		x->issued = cs_xrealloc(x->issued, x->cap_issued * sizeof *x->issued);
	}
	x->issued[x->n_issued++] = name;
	pthread_mutex_unlock(&x->lock);
}

/* An issuance an earlier run recorded and did not finish (killed between
 * recording it and saving the certificate): take its key, request and
 * identity.  1 when resumed, 0 when there is none to resume (a stale one
 * is dropped), negative never (a record that cannot be used is replaced). */
static int resume_issuance(struct exec *x, const struct cs_cert_obs *c, EVP_PKEY **key, X509_REQ **csr,
			   char **serial, int64_t *issue_time, char **detail)
{
	struct cs_issuing iss;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_store_load_issuing(&iss, x->obs->store, c->cfg->name, &err);
	cs_err_clear(&err);
	if (r < 0)
		return 0;
	struct cs_key_spec spec;
	char *cn = cs_csr_common_name(iss.req.csr);
	/* Not when the current certificate is this issuance's, saved whole (a
	 * new issuance needs a new key); when its save was cut short, the
	 * issuance resumes and saves the same certificate again. */
	bool usable = cs_streq(iss.req.issuer, c->issuer->name) && cs_key_spec_of(&spec, iss.req.key) == 0 &&
		      cs_key_spec_equal(&spec, &c->cfg->key) && cs_streq(cn, c->cfg->common_name) &&
		      !(c->have_current && c->current.complete &&
			cs_key_matches_cert(iss.req.key, cs_stored_cert(&c->current, &err)));
	free(cn);
	if (!usable) {
		cs_store_drop_issuing(x->obs->store, c->cfg->name, &err);
		cs_err_clear(&err);
		cs_issuing_free(&iss);
		return 0;
	}
	*key = iss.req.key;
	*csr = iss.req.csr;
	*serial = iss.serial;
	*issue_time = iss.issue_time;
	char made[21];
	cs_time_rfc3339(made, iss.req.created_at);
	iss.req.key = NULL;
	iss.req.csr = NULL;
	iss.serial = NULL;
	cs_issuing_free(&iss);
	*detail = cs_xasprintf("resumed the issuance an apply that did not finish began %s", made);
	return 1;
}

static int renew_issue(struct exec *x, const struct cs_action *a, const struct cs_cert_obs *c,
		       char **detail, struct cs_err *err)
{
	const struct cs_cert_cfg *cert = c->cfg;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	size_t n_names = 0;
	char **names = cs_cert_names(cert, &n_names);
	char *serial = NULL;
	int64_t issue_time = 0;
	int r;
	if (a->renew_mode != CS_RENEW_REQUEST &&
	    (r = resume_issuance(x, c, &key, &csr, &serial, &issue_time, detail)) != 0) {
		if (r < 0)
			goto out;
	} else if ((r = cs_key_generate(&key, &cert->key, err)) < 0 ||
		   (r = cs_csr_create(&csr, key, cert->common_name, names, n_names, err)) < 0) {
		goto out;
	} else if (a->renew_mode != CS_RENEW_REQUEST) {
		/* The identity first, durably: whatever happens from here on, a
		 * rerun signs this certificate and no other. */
		serial = new_serial();
		issue_time = cs_now();
		if ((r = cs_store_save_issuing(x->obs->store, cert->name, key, csr, c->issuer->name, serial, issue_time,
					       err)) < 0)
			goto out;
	}
	if (a->renew_mode == CS_RENEW_REQUEST) {
		/* Keep the key before anything leaves: a reply must find it. */
		if ((r = cs_store_save_pending(x->obs->store, cert->name, key, csr, c->issuer->name, err)) < 0)
			goto out;
		cs_fault_point("request.saved");
		if ((r = c->ops->issue(c->issuer, cert, csr, &leaf, &chain, err)) < 0)
			goto out;
		cs_fault_point("request.written");
		char *where = c->ops->request_location ? c->ops->request_location(c->issuer, cert) : NULL;
		char *reply = c->ops->reply_location ? c->ops->reply_location(c->issuer, cert) : NULL;
		*detail = cs_xasprintf("request written to %s: send it to the CA and put its reply in %s",
				       where ? where : "the requests folder", reply ? reply : "the inbox");
		free(reply);
		free(where);
		r = 1; /* waiting */
		goto out;
	}
	if (c->ops->issue_ctx) {
		cs_fault_point("renew.intent");
		struct cs_issue_ctx ictx = {
			.hosts = x->cfg->hosts, .n_hosts = x->cfg->n_hosts,
			.state_dir = cs_store_dir(x->obs->store), .key = key,
			.current = c->have_current ? cs_stored_cert(&c->current, err) : NULL,
			.current_issuer = c->have_current ? c->current.issuer : NULL,
			.serial = serial, .issue_time = issue_time,
		};
		r = c->ops->issue_ctx(&ictx, c->issuer, cert, csr, &leaf, &chain, err);
		if (ictx.out_key) {
			/* A resumed order was finalized with an earlier run's key. */
			EVP_PKEY_free(key);
			key = ictx.out_key;
		}
	} else {
		r = c->ops->issue(c->issuer, cert, csr, &leaf, &chain, err);
	}
	if (r < 0)
		goto out;
	if (!leaf || !cs_key_matches_cert(key, leaf)) {
		r = cs_err_set(err, -EPROTO, "issuer %s returned a certificate for another key", c->issuer->name);
		goto out;
	}
	cs_fault_point("renew.signed");
	struct cs_cert_info info;
	if ((r = cs_cert_info_get(&info, leaf, err)) < 0)
		goto out;
	/* The ledger, then the certificate itself, before anything uses it. */
	if ((r = cs_store_issued_append(x->obs->store, cert->name, info.serial, c->issuer->name, err)) < 0 ||
	    (cs_fault_point("renew.ledger"), 0) ||
	    (r = cs_store_save(x->obs->store, cert->name, key, leaf, chain, c->issuer->name, cert->common_name,
			       err)) < 0) {
		cs_cert_info_free(&info);
		goto out;
	}
	cs_fault_point("renew.saved");
	if (c->ops->saved) {
		struct cs_issue_ctx sctx = { .hosts = x->cfg->hosts, .n_hosts = x->cfg->n_hosts,
					     .state_dir = cs_store_dir(x->obs->store) };
		c->ops->saved(&sctx, c->issuer, cert);
	}
	/* The issuing record goes after all renewals (drop_issued): a record
	 * file holds many, and is written again or removed once for all.
	 * Until then the record is one recover_issuing() drops (the key is
	 * the current certificate's), the state a kill at renew.saved leaves
	 * anyway. */
	note_issued(x, cert->name);
	char date[11];
	cs_time_date(date, info.not_after);
	char *was = *detail;
	*detail = cs_xasprintf("serial %s, valid until %s%s%s", info.serial, date, was ? "; " : "", was ? was : "");
	free(was);
	cs_cert_info_free(&info);
	r = 0;
out:
	free(serial);
	cs_strv_free(names, n_names);
	EVP_PKEY_free(key);
	X509_REQ_free(csr);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

static int renew_collect(struct exec *x, const struct cs_cert_obs *c, char **detail, struct cs_err *err)
{
	if (!c->have_reply)
		return cs_err_set(err, -ENOENT, "the CA's reply is no longer in the inbox");
	/* The request's CN is what was asked for, even if the config changed since. */
	char *cn = cs_csr_common_name(c->pending.csr);
	int r = cs_store_issued_append(x->obs->store, c->cfg->name, c->reply_info.serial, c->issuer->name, err);
	if (r == 0)
		r = cs_store_save(x->obs->store, c->cfg->name, c->pending.key, c->reply.cert,
				  c->reply.chain, c->issuer->name, cn, err);
	free(cn);
	if (r < 0)
		return r;
	/* Killed here: the next plan installs the same reply again. */
	cs_fault_point("collect.saved");
	r = cs_store_drop_pending(x->obs->store, c->cfg->name, err);
	if (r < 0)
		return r;
	cs_fault_point("collect.dropped");
	if (c->ops->collected && c->ops->collected(c->issuer, &c->reply, err) < 0)
		return cs_err_prefix(err, "certificate installed, but tidying the inbox failed");
	*detail = cs_xasprintf("serial %s from %s", c->reply_info.serial, c->reply.path);
	return 0;
}

static void run_renew(struct exec *x, const struct cs_action *a)
{
	size_t i = cert_index(x, a->cert);
	struct cs_err err = CS_ERR_INIT;
	char *detail = NULL;
	report(x, a, CS_EV_START, NULL);
	if (i == (size_t)-1) {
		cs_err_set(&err, -EINVAL, "certificate %s is not in the config", a->cert);
		report(x, a, CS_EV_FAILED, cs_err_msg(&err));
		cs_err_clear(&err);
		return;
	}
	const struct cs_cert_obs *c = &x->obs->certs[i];
	int r = !c->ops ? cs_err_set(&err, -ENOTSUP, "issuer %s is not supported yet", c->issuer->name)
		: a->renew_mode == CS_RENEW_COLLECT ? renew_collect(x, c, &detail, &err)
		: renew_issue(x, a, c, &detail, &err);
	if (r < 0) {
		/* The action's summary already names the certificate. */
		report(x, a, CS_EV_FAILED, cs_err_msg(&err));
	} else {
		report(x, a, r == 1 ? CS_EV_WAITING : CS_EV_DONE, detail);
	}
	free(detail);
	cs_err_clear(&err);
}

/* ---- many renewals at once ---- */

/* Renewals that issue at once (CS_RENEW_ISSUE) are done a batch at a time,
 * each step for the whole batch: record every issuance (issuing/), sign
 * each, append each to its ledger, save each.  Every certificate goes
 * through the steps of renew_issue() in the same order, and each step is
 * durable for the batch before the next begins (cs_store_*_many), so a
 * kill anywhere leaves each certificate in one of the states a kill in
 * renew_issue() leaves, which the next apply finishes; what changes is
 * that the state folder is synced a few times per batch instead of about
 * fifteen times per certificate. */
#define RENEW_BATCH 512

struct renewal {
	const struct cs_action *a;
	const struct cs_cert_obs *c;
	size_t ci;
	EVP_PKEY *key;
	X509_REQ *csr;
	X509 *leaf;
	STACK_OF(X509) *chain;
	char *serial;
	int64_t issue_time;
	char *detail;
	struct cs_buf key_pem;   /* as issuing/ recorded it, or empty */
	struct cs_cert_info info;
	bool have_info;
	bool resumed;
	int r;
	struct cs_err err;
};

/* A step of a batch run over its renewals by a few threads (as many as
 * there are CPUs: the steps run in parallel are CPU work). */
struct par {
	struct exec *x;
	struct renewal *rn;
	size_t n, next;
	pthread_mutex_t lock;
	void (*fn)(struct par *p, struct renewal *w);
};

static void *par_worker(void *arg)
{
	struct par *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t k = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->lock);
		if (k >= p->n)
			return NULL;
		p->fn(p, &p->rn[k]);
	}
}

static void par_run(struct par *p, void (*fn)(struct par *p, struct renewal *w))
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n_threads = cpus > 1 ? (size_t)cpus : 1;
	if (n_threads > 16)
		n_threads = 16;
	if (n_threads > p->n)
		n_threads = p->n;
	p->fn = fn;
	p->next = 0;
	pthread_mutex_init(&p->lock, NULL);
	pthread_t threads[16];
	size_t started = 0;
	for (size_t i = 1; i < n_threads; i++) /* this thread is one of them */
		if (pthread_create(&threads[started], NULL, par_worker, p) == 0)
			started++;
	par_worker(p);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
}

static void par_keygen(struct par *p, struct renewal *w)
{
	(void)p;
	if (w->resumed)
		return;
	const struct cs_cert_cfg *cert = w->c->cfg;
	size_t n_names = 0;
	char **names = cs_cert_names(cert, &n_names);
	if ((w->r = cs_key_generate(&w->key, &cert->key, &w->err)) == 0)
		w->r = cs_csr_create(&w->csr, w->key, cert->common_name, names, n_names, &w->err);
	cs_strv_free(names, n_names);
}

static void sign_one(struct exec *x, struct renewal *w);

static void par_sign(struct par *p, struct renewal *w)
{
	if (w->c->ops->parallel_issue)
		sign_one(p->x, w);
}

static bool batchable(struct exec *x, const struct cs_action *a)
{
	size_t i = cert_index(x, a->cert);
	return a->kind == CS_ACT_RENEW && a->renew_mode == CS_RENEW_ISSUE && i != (size_t)-1 && x->obs->certs[i].ops;
}

static void sign_one(struct exec *x, struct renewal *w)
{
	const struct cs_cert_obs *c = w->c;
	if (w->r < 0)
		return;
	if (c->ops->issue_ctx) {
		cs_fault_point("renew.intent");
		struct cs_issue_ctx ictx = {
			.hosts = x->cfg->hosts, .n_hosts = x->cfg->n_hosts,
			.state_dir = cs_store_dir(x->obs->store), .key = w->key,
			.current = c->have_current ? cs_stored_cert(&c->current, &w->err) : NULL,
			.current_issuer = c->have_current ? c->current.issuer : NULL,
			.serial = w->serial, .issue_time = w->issue_time,
		};
		w->r = c->ops->issue_ctx(&ictx, c->issuer, c->cfg, w->csr, &w->leaf, &w->chain, &w->err);
		if (ictx.out_key) {
			/* A resumed order was finalized with an earlier run's key. */
			EVP_PKEY_free(w->key);
			w->key = ictx.out_key;
			cs_buf_free_secret(&w->key_pem);
		}
	} else {
		w->r = c->ops->issue(c->issuer, c->cfg, w->csr, &w->leaf, &w->chain, &w->err);
	}
	if (w->r < 0)
		return;
	if (!w->leaf || !cs_key_matches_cert(w->key, w->leaf)) {
		w->r = cs_err_set(&w->err, -EPROTO, "issuer %s returned a certificate for another key",
				  c->issuer->name);
		return;
	}
	cs_fault_point("renew.signed");
	if ((w->r = cs_cert_info_get(&w->info, w->leaf, &w->err)) == 0)
		w->have_info = true;
}

/* After a batch step: each renewal still going takes its item's outcome.
 * A failed item's error moves to the renewal (the item keeps none, so it
 * is freed once); the others pass the fault point (NULL: none). */
static void take_results(struct renewal *rn, struct cs_store_item *it, size_t n, const char *point)
{
	for (size_t k = 0; k < n; k++) {
		struct renewal *w = &rn[k];
		if (w->r < 0)
			continue;
		if (it[k].r < 0) {
			w->r = it[k].r;
			cs_err_clear(&w->err);
			w->err = it[k].err;
			it[k].err = (struct cs_err)CS_ERR_INIT;
		} else if (point) {
			cs_fault_point(point);
		}
	}
}

static void renew_batch(struct exec *x, const struct cs_action **acts, size_t n)
{

	struct renewal *rn = cs_xcalloc(n, sizeof *rn);
	struct cs_store_item *it = cs_xcalloc(n, sizeof *it);
	/* Keys, requests and identities; those not resumed recorded at once. */
	for (size_t k = 0; k < n; k++) {
		struct renewal *w = &rn[k];
		w->a = acts[k];
		w->ci = cert_index(x, w->a->cert);
		w->c = &x->obs->certs[w->ci];
		report(x, w->a, CS_EV_START, NULL);
		it[k].r = -1; /* not to record */
		w->resumed = resume_issuance(x, w->c, &w->key, &w->csr, &w->serial, &w->issue_time, &w->detail);
	}
	/* New keys and requests: CPU only, in parallel. */
	struct par pk = { .x = x, .rn = rn, .n = n };
	par_run(&pk, par_keygen);
	for (size_t k = 0; k < n; k++) {
		struct renewal *w = &rn[k];
		const struct cs_cert_cfg *cert = w->c->cfg;
		if (w->resumed || w->r < 0)
			continue;
		/* The identity first, durably: whatever happens from here on,
		 * a rerun signs this certificate and no other. */
		w->serial = new_serial();
		w->issue_time = cs_now();
		it[k] = (struct cs_store_item){ .name = cert->name, .key = w->key, .csr = w->csr,
						.issuer = w->c->issuer->name, .serial = w->serial,
						.issue_time = w->issue_time, .keep_pem = true };
	}
	cs_store_save_issuing_many(x->obs->store, it, n);
	for (size_t k = 0; k < n; k++) {
		/* The key as recorded, to save the same bytes without encoding
		 * it again. */
		rn[k].key_pem = it[k].key_pem;
		it[k].key_pem = (struct cs_buf)CS_BUF_INIT;
		if (rn[k].resumed)
			it[k].r = 0; /* left out of the step, not failed in it */
	}
	take_results(rn, it, n, NULL);
	/* Sign: in parallel where the issuer allows (nothing is written
	 * here; a kill loses only signatures the next apply makes again for
	 * the same recorded identities), else one by one. */
	struct par ps = { .x = x, .rn = rn, .n = n };
	par_run(&ps, par_sign);
	for (size_t k = 0; k < n; k++)
		if (!rn[k].c->ops->parallel_issue)
			sign_one(x, &rn[k]);
	/* The ledger, then the certificate itself, before anything uses it. */
	for (size_t k = 0; k < n; k++)
		it[k] = (struct cs_store_item){ .name = rn[k].c->cfg->name, .serial = rn[k].have_info ? rn[k].info.serial : NULL,
						.issuer = rn[k].c->issuer->name, .r = rn[k].r < 0 ? -1 : 0 };
	cs_store_issued_append_many(x->obs->store, it, n);
	take_results(rn, it, n, "renew.ledger");
	for (size_t k = 0; k < n; k++)
		it[k] = (struct cs_store_item){ .name = rn[k].c->cfg->name, .key = rn[k].key, .cert = rn[k].leaf,
						.chain = rn[k].chain, .issuer = rn[k].c->issuer->name,
						.requested_cn = rn[k].c->cfg->common_name, .keep_pem = true,
						.key_pem = rn[k].key_pem, .r = rn[k].r < 0 ? -1 : 0 };
	for (size_t k = 0; k < n; k++)
		rn[k].key_pem = (struct cs_buf)CS_BUF_INIT; /* the store's now */
	cs_store_save_many(x->obs->store, it, n);
	take_results(rn, it, n, "renew.saved");
	for (size_t k = 0; k < n; k++) {
		struct renewal *w = &rn[k];
		if (w->r < 0)
			continue;
		const struct cs_cert_obs *c = w->c;
		if (c->ops->saved) {
			struct cs_issue_ctx sctx = { .hosts = x->cfg->hosts, .n_hosts = x->cfg->n_hosts,
						     .state_dir = cs_store_dir(x->obs->store) };
			c->ops->saved(&sctx, c->issuer, c->cfg);
		}
		/* What the bindings carry now, from the bytes just written
		 * instead of read back from the state folder. */
		struct cs_err merr = CS_ERR_INIT;
		if (cs_material_make_from(&x->material[w->ci], w->key, &it[k].key_pem, w->leaf, &it[k].cert_pem,
					  w->chain, &it[k].chain_pem, &w->info, &merr) == 0)
			x->have_material[w->ci] = true;
		cs_err_clear(&merr);
		note_issued(x, c->cfg->name);
	}
	for (size_t k = 0; k < n; k++) {
		struct renewal *w = &rn[k];
		if (w->r < 0) {
			report(x, w->a, CS_EV_FAILED, cs_err_msg(&w->err));
		} else {
			char date[11];
			cs_time_date(date, w->info.not_after);
			char *text = cs_xasprintf("serial %s, valid until %s%s%s", w->info.serial, date,
						  w->detail ? "; " : "", w->detail ? w->detail : "");
			report(x, w->a, CS_EV_DONE, text);
			free(text);
		}
		cs_err_clear(&w->err);
		if (w->have_info)
			cs_cert_info_free(&w->info);
		free(w->detail);
		free(w->serial);
		EVP_PKEY_free(w->key);
		X509_REQ_free(w->csr);
		X509_free(w->leaf);
		sk_X509_pop_free(w->chain, X509_free);
		cs_buf_free_secret(&it[k].key_pem);
		cs_buf_free(&it[k].cert_pem);
		cs_buf_free(&it[k].chain_pem);
		cs_err_clear(&it[k].err);
	}
	free(it);
	free(rn);
}

/* Every renewal in plan order: those that issue at once in batches, the
 * others (a request to a CA, a reply to collect) one by one between them. */
static void run_renewals(struct exec *x)
{
	const struct cs_action **batch = cs_xcalloc(RENEW_BATCH, sizeof *batch);
	size_t n = 0;
	for (size_t k = 0; k < x->plan->n_actions; k++) {
		const struct cs_action *a = &x->plan->actions[k];
		if (a->kind != CS_ACT_RENEW)
			continue;
		if (batchable(x, a)) {
			batch[n++] = a;
			if (n == RENEW_BATCH) {
				renew_batch(x, batch, n);
				n = 0;
			}
			continue;
		}
		if (n)
			renew_batch(x, batch, n);
		n = 0;
		run_renew(x, a);
	}
	if (n)
		renew_batch(x, batch, n);
	free(batch);
}

/* ---- per host ---- */

static const struct cs_binding_cfg *binding_of(struct exec *x, const struct cs_action *a)
{
	size_t i = cert_index(x, a->cert);
	if (i == (size_t)-1 || a->binding < 0 || (size_t)a->binding >= x->cfg->certs[i].n_bindings)
		return NULL;
	return &x->cfg->certs[i].bindings[a->binding];
}

/* Record bind b as unconfirmed (see store_hosts.h); a record that cannot
 * be written is a warning on cause. */
static void remember_unconfirmed(struct exec *x, const struct cs_action *cause, const struct cs_action *b,
				 const char *why)
{
	const struct cs_binding_cfg *bc = binding_of(x, b);
	if (!bc)
		return;
	struct cs_err err = CS_ERR_INIT;
	char *key = cs_binding_key(b->cert, bc);
	/* This record replaces the intent: the next plan reads why. */
	pthread_mutex_lock(&x->lock);
	x->intent[b->id - 1] = false;
	pthread_mutex_unlock(&x->lock);
	if (cs_store_unconfirmed_save(x->obs->store, b->host, key, why, &err) < 0) {
		char *text = cs_xasprintf("the next plan will not know #%d is unconfirmed: %s", b->id, cs_err_msg(&err));
		report(x, cause, CS_EV_WARNING, text);
		free(text);
	}
	cs_err_clear(&err);
	free(key);
}

/* ---- intents ---- */

/* Record, durably, that bind a is about to change its binding, so that a
 * run killed from here on leaves the next plan a reload and checks to owe
 * (see store_hosts.h).  A record that cannot be written stops the bind:
 * without it a crash would go unnoticed. */
static int open_intent(struct exec *x, const struct cs_action *a, const struct cs_binding_cfg *bc,
		       struct cs_err *err)
{
	const char *run = cs_store_run(x->obs->store);
	if (!run)
		return 0; /* not under the lock (unit tests): nothing to record */
	char *key = cs_binding_key(a->cert, bc);
	int r = cs_store_intent_save(x->obs->store, a->host, key, run, err);
	free(key);
	if (r == 0) {
		pthread_mutex_lock(&x->lock);
		x->intent[a->id - 1] = true;
		pthread_mutex_unlock(&x->lock);
	}
	return r;
}

/* Bind b (done, then undone because cause failed) was applied because an
 * earlier apply left it unconfirmed: it is back as that apply left it,
 * still unconfirmed, so the record that its success dropped is made again. */
static void still_unconfirmed(struct exec *x, const struct cs_action *cause, const struct cs_action *b)
{
	size_t ci = cert_index(x, b->cert);
	if (cause == b || ci == (size_t)-1 || b->binding < 0 || !x->obs->bindings[ci][b->binding].unconfirmed)
		return;
	remember_unconfirmed(x, cause, b, x->obs->bindings[ci][b->binding].unconfirmed);
}

/* Did any of the given bind actions change something to put back? */
static bool changed_any(struct exec *x, const int *ids, size_t n_ids)
{
	for (size_t k = 0; k < n_ids; k++) {
		const struct cs_undo *u = &x->undo[ids[k] - 1];
		if (u->n_files || u->n_binds)
			return true;
	}
	return false;
}

static bool done_or_absent(struct exec *x, enum cs_action_kind kind, const char *host, const char *cert,
			   const char *command)
{
	for (size_t k = 0; k < x->plan->n_actions; k++) {
		const struct cs_action *a = &x->plan->actions[k];
		if (a->kind != kind || (a->host && !cs_streq(a->host, host)) || (cert && !cs_streq(a->cert, cert)) ||
		    (command && !cs_streq(a->command, command)))
			continue;
		if (x->status[k] != ST_DONE)
			return false;
	}
	return true;
}

/* Host h's reboot record (store_hosts.h) still tells a rerun that the host
 * rebooted after an interrupted apply's changes whose intents are open, or
 * may (a certificate on it that --target left out was not looked at). */
static bool reboot_record_needed(struct cs_observed *obs, size_t h)
{
	for (size_t i = 0; i < obs->cfg->n_certs; i++) {
		const struct cs_cert_cfg *cert = &obs->cfg->certs[i];
		for (size_t j = 0; j < cert->n_bindings; j++) {
			const struct cs_binding_cfg *bc = &cert->bindings[j];
			if (bc->host_index != h)
				continue;
			if (!obs->certs[i].selected)
				return true;
			if (!obs->bindings[i][j].interrupted || !obs->bindings[i][j].rebooted_since)
				continue;
			char *key = cs_binding_key(cert->name, bc);
			char *run = cs_store_unconfirmed_run(obs->store, bc->host, key);
			free(key);
			free(run);
			if (run)
				return true;
		}
	}
	return false;
}

/* Did this run reboot host? */
static bool rebooted(struct exec *x, const char *host)
{
	for (size_t k = 0; k < x->plan->n_actions; k++)
		if (x->plan->actions[k].kind == CS_ACT_REBOOT && cs_streq(x->plan->actions[k].host, host))
			return x->status[k] == ST_DONE;
	return false;
}

/* At the end of the run: close the intents of this run's binds, and those
 * an earlier, interrupted run left on bindings whose owed reload and
 * checks this run has now done. */
struct host_keys {
	char **keys;
	size_t n, cap;
};

static void host_keys_add(struct exec *x, struct host_keys *hk, const char *cert, const char *host,
			  const struct cs_binding_cfg *bc)
{
	size_t h = host_index(x, host);
	if (h == (size_t)-1)
		return;
	struct host_keys *k = &hk[h];
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 16;
		k->keys = cs_xrealloc(k->keys, k->cap * sizeof *k->keys);
	}
	k->keys[k->n++] = cs_binding_key(cert, bc);
}

static void close_intents(struct exec *x)
{
	/* Gathered per host and dropped in one write per host (not one per
	 * binding): whatever a kill in between leaves open is an intent of a
	 * finished binding, which the next apply checks again. */
	struct host_keys *hk = cs_xcalloc(x->cfg->n_hosts + 1, sizeof *hk);
	for (size_t k = 0; k < x->plan->n_actions; k++) {
		const struct cs_action *a = &x->plan->actions[k];
		const struct cs_binding_cfg *bc = a->kind == CS_ACT_BIND ? binding_of(x, a) : NULL;
		if (bc && x->intent[k])
			host_keys_add(x, hk, a->cert, a->host, bc);
	}
	for (size_t i = 0; i < x->cfg->n_certs; i++) {
		const struct cs_cert_cfg *cert = &x->cfg->certs[i];
		for (size_t j = 0; j < cert->n_bindings; j++) {
			const struct cs_binding_cfg *bc = &cert->bindings[j];
			const struct cs_binding_obs *bo = &x->obs->bindings[i][j];
			const char *reload = cs_binding_reload(bc);
			/* Owed: the reload and checks, or after the reboot that
			 * apply asked for, the checks alone (plan_host). */
			if (!bo->interrupted || (!reload && !bo->rebooted_since))
				continue;
			bool planned = !reload, rebound = false;
			for (size_t k = 0; k < x->plan->n_actions; k++) {
				const struct cs_action *a = &x->plan->actions[k];
				planned = planned || (a->kind == CS_ACT_RELOAD && cs_streq(a->host, bc->host) &&
						      cs_streq(a->command, reload));
				rebound = rebound || (a->kind == CS_ACT_BIND && cs_streq(a->cert, cert->name) &&
						      a->binding == (int)j);
			}
			if (!planned || rebound)
				continue; /* not this run's to settle (or settled with its bind) */
			if ((!reload || done_or_absent(x, CS_ACT_RELOAD, bc->host, NULL, reload)) &&
			    done_or_absent(x, CS_ACT_VERIFY, bc->host, cert->name, NULL))
				host_keys_add(x, hk, cert->name, bc->host, bc);
		}
	}
	for (size_t h = 0; h < x->cfg->n_hosts; h++) {
		struct cs_err err = CS_ERR_INIT;
		if (hk[h].n)
			cs_store_intents_close(x->obs->store, x->cfg->hosts[h].name, hk[h].keys, hk[h].n, &err);
		cs_err_clear(&err);
		for (size_t i = 0; i < hk[h].n; i++)
			free(hk[h].keys[i]);
		free(hk[h].keys);
	}
	free(hk);
}

/* What this run may leave behind if killed: the files of every binding on
 * the hosts it works on ({HOST: [PATH, ...]}, see store_runs.h). */
static json_t *run_paths(struct exec *x)
{
	json_t *hosts = json_object();
	for (size_t h = 0; h < x->n_hosts; h++) {
		const char *name = x->cfg->hosts[x->hosts[h]].name;
		json_t *paths = json_array();
		for (size_t i = 0; i < x->cfg->n_certs; i++)
			for (size_t j = 0; j < x->cfg->certs[i].n_bindings; j++) {
				const struct cs_binding_cfg *bc = &x->cfg->certs[i].bindings[j];
				if (!cs_streq(bc->host, name))
					continue;
				const char *files[CS_KIND_MAX_PATHS];
				size_t n_files = cs_binding_paths(bc, files, CS_KIND_MAX_PATHS);
				for (size_t f = 0; f < n_files; f++)
					json_array_append_new(paths, json_string(files[f]));
			}
		json_object_set_new(hosts, name, paths);
	}
	return hosts;
}

/* Put back the files of the given bind actions (newest first) and say so.
 * A bind that changed nothing (its undo record is empty: files already
 * right, or a write that failed before replacing its file) has nothing to
 * put back and says nothing. */
static bool undo_binds(struct exec *x, struct cs_host_obs *ho, const struct cs_action *cause,
		       const int *ids, size_t n_ids)
{
	bool all_ok = true;
	for (size_t k = n_ids; k-- > 0;) {
		const struct cs_action *b = &x->plan->actions[ids[k] - 1];
		struct cs_undo *u = &x->undo[b->id - 1];
		if (!u->n_files && !u->n_binds) {
			still_unconfirmed(x, cause, b);
			continue;
		}
		struct cs_err err = CS_ERR_INIT;
		if (ho->platform->undo(ho->transport, u, &err) < 0) {
			char *text = cs_xasprintf("could not put back what #%d changed: %s", b->id, cs_err_msg(&err));
			report(x, cause, CS_EV_ROLLBACK_FAILED, text);
			free(text);
			/* The host may now hold the new files with nothing having taken
			 * them: the next plan must not call that clean. */
			char *why = cs_xasprintf("%s failed, and putting the binding back failed too: %s",
						 cause->summary, cs_err_msg(&err));
			remember_unconfirmed(x, cause, b, why);
			free(why);
			all_ok = false;
		} else {
			/* Files that were there are put back; new ones are removed. */
			struct cs_buf what = CS_BUF_INIT, gone = CS_BUF_INIT;
			for (size_t f = 0; f < u->n_files; f++)
				cs_buf_printf(u->files[f].existed ? &what : &gone, "%s%s",
					      (u->files[f].existed ? what.len : gone.len) ? ", " : "", u->files[f].path);
			for (size_t f = 0; f < u->n_binds; f++)
				cs_buf_printf(&what, "%s%s", what.len ? ", " : "", u->binds[f].what);
			char *text = cs_xasprintf("%s%s%s%s%s (#%d %s)", what.len ? "put back " : "",
						  what.len ? what.data : "", what.len && gone.len ? "; " : "",
						  gone.len ? "removed " : "", gone.len ? gone.data : "", b->id, b->cert);
			cs_buf_free(&gone);
			report(x, cause, CS_EV_ROLLBACK, text);
			free(text);
			cs_buf_free(&what);
			still_unconfirmed(x, cause, b);
		}
		cs_undo_free(u);
		cs_err_clear(&err);
	}
	return all_ok;
}

/* Put back the binds of a's certificate that already succeeded on a's host
 * (newest first) and count them as not in place any more. */
static void undo_siblings(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a)
{
	int *ids = cs_xcalloc(x->plan->n_actions, sizeof *ids);
	size_t n = 0;
	pthread_mutex_lock(&x->lock);
	for (size_t k = 0; k < (size_t)(a->id - 1); k++) {
		const struct cs_action *b = &x->plan->actions[k];
		if (b->kind == CS_ACT_BIND && cs_streq(b->host, a->host) && cs_streq(b->cert, a->cert) &&
		    x->status[k] == ST_DONE)
			ids[n++] = b->id;
	}
	pthread_mutex_unlock(&x->lock);
	undo_binds(x, ho, a, ids, n);
	pthread_mutex_lock(&x->lock);
	for (size_t k = 0; k < n; k++)
		x->status[ids[k] - 1] = ST_UNDONE;
	pthread_mutex_unlock(&x->lock);
	free(ids);
}

/* The certificate the given binds' files held before they were changed
 * (first one found), as its SHA-256 and serial; false when there was none. */
static bool previous_leaf(struct exec *x, const int *ids, size_t n_ids, char sha256[65], char **serial)
{
	for (size_t k = 0; k < n_ids; k++) {
		const struct cs_undo *u = &x->undo[ids[k] - 1];
		for (size_t f = 0; f < u->n_files; f++) {
			if (!u->files[f].existed)
				continue;
			STACK_OF(X509) *certs = NULL;
			struct cs_cert_info info;
			struct cs_err err = CS_ERR_INIT;
			bool found = cs_certs_parse(&certs, u->files[f].content.data, u->files[f].content.len, &err) == 0 &&
				     sk_X509_num(certs) > 0 &&
				     cs_cert_info_get(&info, sk_X509_value(certs, 0), &err) == 0;
			sk_X509_pop_free(certs, X509_free);
			cs_err_clear(&err);
			if (found) {
				memcpy(sha256, info.sha256, 65);
				*serial = cs_xstrdup(info.serial);
				cs_cert_info_free(&info);
				return true;
			}
		}
	}
	return false;
}

/* Run reload commands again after a rollback, so services drop the new files. */
static void reload_again(struct exec *x, struct cs_host_obs *ho, const struct cs_action *cause,
			 const char *const *cmds, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct cs_err err = CS_ERR_INIT;
		if (ho->platform->reload(ho->transport, cmds[k], &err) < 0) {
			char *text = cs_xasprintf("after putting files back: %s", cs_err_msg(&err));
			report(x, cause, CS_EV_ROLLBACK_FAILED, text);
			free(text);
		} else {
			char *text = cs_xasprintf("ran `%s` again on the previous files", cmds[k]);
			report(x, cause, CS_EV_ROLLBACK, text);
			free(text);
		}
		cs_err_clear(&err);
	}
}

/* On a host with a host-wide store (Windows) the bindings of one
 * certificate go together: after one failed, the earlier ones were put
 * back, so the later ones must not move the host forward again.  Returns
 * the failed bind, or NULL. */
static const struct cs_action *failed_sibling(struct exec *x, const struct cs_host_obs *ho,
					      const struct cs_action *a)
{
	if (!ho->platform->observe_host)
		return NULL;
	const struct cs_action *bad = NULL;
	pthread_mutex_lock(&x->lock);
	for (size_t k = 0; k < (size_t)(a->id - 1) && !bad; k++) {
		const struct cs_action *b = &x->plan->actions[k];
		if (b->kind == CS_ACT_BIND && cs_streq(b->host, a->host) && cs_streq(b->cert, a->cert) &&
		    x->status[k] == ST_FAILED)
			bad = b;
	}
	pthread_mutex_unlock(&x->lock);
	return bad;
}

/* A script's effect cannot be read back: record that it ran for this
 * certificate under the key its kind gives (ran_key), so the next plan
 * knows.  NULL, or a note when the record could not be written (the next
 * plan then runs the script again, which a script must bear anyway). */
static char *remember_script(struct exec *x, const struct cs_action *a, const struct cs_binding_cfg *b,
			     const struct cs_material *m)
{
	char *note = NULL;
	struct cs_err err = CS_ERR_INIT;
	char *key = cs_binding_ran_key(a->cert, b);
	int r = cs_store_script_ran_save(x->obs->store, a->host, key, m->info.sha1, cs_now(), &err);
	if (r < 0)
		note = cs_xasprintf("ran, but the next plan will run it again: %s", cs_err_msg(&err));
	cs_err_clear(&err);
	free(key);
	return note;
}

static void run_bind(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a)
{
	const struct cs_action *dep = failed_dep(x, a, true);
	if (!dep)
		dep = failed_sibling(x, ho, a);
	if (!begin(x, a, dep))
		return;
	struct cs_err err = CS_ERR_INIT;
	const struct cs_binding_cfg *b = binding_of(x, a);
	size_t ci = cert_index(x, a->cert);
	int r;
	if (!b)
		r = cs_err_set(&err, -EINVAL, "binding %d of %s is not in the config", a->binding, a->cert);
	else if (!x->have_material[ci])
		r = cs_err_set(&err, -ENOENT, "no certificate in the store for %s", a->cert);
	else if ((r = x->intent[a->id - 1] ? 0 : open_intent(x, a, b, &err)) == 0) {
		cs_fault_point("bind.intent");
		r = cs_binding_apply(ho->platform, ho->transport, b, &x->material[ci], &x->undo[a->id - 1], &err);
		if (r == 0)
			cs_fault_point("bind.written");
	}
	if (r < 0) {
		report(x, a, CS_EV_FAILED, cs_err_msg(&err));
		int id = a->id;
		undo_binds(x, ho, a, &id, 1);
		if (ho->platform->observe_host)
			undo_siblings(x, ho, a);
	} else if (b->kind_ops->ran_key) {
		char *note = remember_script(x, a, b, &x->material[ci]);
		report(x, a, CS_EV_DONE, note);
		free(note);
	} else {
		report(x, a, CS_EV_DONE, NULL);
	}
	cs_err_clear(&err);
}

static void run_import(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a)
{
	if (!begin(x, a, failed_dep(x, a, true)))
		return;
	struct cs_err err = CS_ERR_INIT;
	size_t ci = cert_index(x, a->cert);
	int r;
	bool exportable = false;
	if (ci == (size_t)-1 || !x->have_material[ci]) {
		r = cs_err_set(&err, -ENOENT, "no certificate in the store for %s", a->cert);
	} else if (!ho->platform->import) {
		r = cs_err_set(&err, -ENOTSUP, "%s hosts have no certificate store", ho->platform->name);
	} else {
		const struct cs_cert_cfg *cert = &x->cfg->certs[ci];
		for (size_t j = 0; j < cert->n_bindings; j++)
			if (cs_streq(cert->bindings[j].host, a->host) && cs_binding_key_exportable(&cert->bindings[j]))
				exportable = true;
		cs_fault_point("import.intent");
		r = ho->platform->import(ho->transport, &x->material[ci], exportable, &err);
		if (r == 0)
			cs_fault_point("import.done");
	}
	if (r < 0) {
		report(x, a, CS_EV_FAILED, cs_err_msg(&err));
	} else {
		char *text = cs_xasprintf("certificate %s%s", x->material[ci].info.sha1,
					  exportable ? " (key exportable)" : "");
		report(x, a, CS_EV_DONE, text);
		free(text);
	}
	cs_err_clear(&err);
}

/* Remember that the host owes a reboot: changes went through (done_what)
 * but the reboot did not happen (cause).  The next plan shows the reboot
 * until the host reports another boot time. */
static void owe_reboot(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a,
		       const char *done_what, const char *cause)
{
	const char *boot = ho->state && ho->platform->host_boot ? ho->platform->host_boot(ho->state) : NULL;
	char *why = cs_xasprintf("%s; %s", done_what, cause);
	struct cs_owed_reboot rec = { .boot = (char *)(boot ? boot : ""), .since = cs_now(), .why = why };
	struct cs_err err = CS_ERR_INIT;
	if (cs_store_reboot_owed_save(x->obs->store, ho->cfg->name, &rec, &err) < 0) {
		char *text = cs_xasprintf("the next plan will not know %s still needs a reboot: %s",
					  ho->cfg->name, cs_err_msg(&err));
		report(x, a, CS_EV_WARNING, text);
		free(text);
	}
	cs_err_clear(&err);
	free(why);
}

/* Record, before asking host ho to reboot, its boot time now and this run's
 * tag (store_hosts.h).  Nothing to record outside a run (unit tests) or for
 * a host that reports no boot time. */
static int remember_reboot_asked(struct exec *x, struct cs_host_obs *ho, const char *done_what, struct cs_err *err)
{
	const char *run = cs_store_run(x->obs->store);
	const char *boot = ho->state && ho->platform->host_boot ? ho->platform->host_boot(ho->state) : NULL;
	if (!run || !boot || !boot[0])
		return 0;
	char *why = cs_xasprintf("%s; the reboot was asked for by an apply that did not see the host come back",
				 done_what);
	struct cs_owed_reboot rec = { .boot = (char *)boot, .since = cs_now(), .why = why, .run = (char *)run };
	int r = cs_store_reboot_owed_save(x->obs->store, ho->cfg->name, &rec, err);
	free(why);
	return r < 0 ? cs_err_prefix(err, "the host was not rebooted") : 0;
}

/* The reboot's dependencies that went through, as "import #2 (web), ...",
 * or NULL when none did. */
static char *done_deps(struct exec *x, const struct cs_action *a, bool by_summary)
{
	struct cs_buf b = CS_BUF_INIT;
	pthread_mutex_lock(&x->lock);
	for (size_t i = 0; i < a->n_deps; i++) {
		const struct cs_action *d = &x->plan->actions[a->deps[i] - 1];
		if (x->status[d->id - 1] != ST_DONE)
			continue;
		if (by_summary)
			cs_buf_printf(&b, "%s%s", b.len ? ", " : "", d->summary);
		else
			cs_buf_printf(&b, "%s%s #%d (%s)", b.len ? ", " : "", cs_action_kind_name(d->kind), d->id,
				      d->cert ? d->cert : d->host);
	}
	pthread_mutex_unlock(&x->lock);
	if (!b.len) {
		cs_buf_free(&b);
		return NULL;
	}
	return cs_buf_detach(&b, NULL);
}

/* A host is rebooted only when all its changes went through: after a
 * failure the failed change was put back, so a reboot would take the host
 * down for nothing, and the apply that repairs it reboots it anyway.
 * Changes that did go through are not forgotten: the host is recorded as
 * owing a reboot, which every plan shows until it is done. */
static void run_reboot(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a)
{
	const struct cs_action *bad = failed_dep(x, a, true);
	char *done = done_deps(x, a, false);
	/* The record outlives this plan's numbering: it names actions by what
	 * they did. */
	char *done_said = done_deps(x, a, true);
	if (bad) {
		const char *why = dep_outcome(x, bad);
		char *cause = cs_xasprintf("%s #%d%s%s %s", cs_action_kind_name(bad->kind), bad->id,
					   bad->cert ? " " : "", bad->cert ? bad->cert : "", why);
		char *text;
		if (done || ho->owed_reboot) {
			char *skipped = cs_xasprintf("the reboot was skipped because %s %s", bad->summary, why);
			owe_reboot(x, ho, a, done_said ? done_said : ho->owed_reboot->why, skipped);
			free(skipped);
			text = cs_xasprintf("because %s; %s wait%s for a reboot, which the next plan shows", cause,
					    done ? done : "earlier changes", done && strchr(done, ',') ? "" : "s");
		} else {
			text = cs_xasprintf("because %s", cause);
		}
		report(x, a, CS_EV_SKIPPED, text);
		free(text);
		free(cause);
		free(done);
		free(done_said);
		return;
	}
	report(x, a, CS_EV_START, NULL);
	struct cs_err err = CS_ERR_INIT;
	int64_t timeout = ho->cfg->reboot_timeout;
	/* The reboot's intent, fsync'd before the host is asked: if this run
	 * dies while the host restarts, the next one sees a boot time other
	 * than the one recorded here and knows the reboot these changes waited
	 * for happened, so it checks them instead of making them (and the
	 * reboot) again. */
	if (remember_reboot_asked(x, ho, done_said ? done_said : ho->owed_reboot ? ho->owed_reboot->why : "changes",
				  &err) < 0) {
		report(x, a, CS_EV_FAILED, cs_err_msg(&err));
		cs_err_clear(&err);
		free(done);
		free(done_said);
		return;
	}
	cs_fault_point("reboot.intent");
	int r = ho->platform->reboot ? ho->platform->reboot(ho->transport, timeout, &err)
		: cs_err_set(&err, -ENOTSUP, "%s hosts are not rebooted by certsync", ho->platform->name);
	if (r < 0) {
		/* Maybe it rebooted late, maybe never: the boot time will tell. */
		char *cause = cs_xasprintf("the reboot did not complete: %s", cs_err_msg(&err));
		owe_reboot(x, ho, a, done_said ? done_said : ho->owed_reboot ? ho->owed_reboot->why : "changes", cause);
		free(cause);
		report(x, a, CS_EV_FAILED, cs_err_msg(&err));
	} else {
		/* The record goes at the end of the run, after the intents of the
		 * changes it was for are closed (see cs_execute): until then it
		 * tells a rerun that this reboot happened. */
		cs_fault_point("reboot.done");
		report(x, a, CS_EV_DONE, "the host is back with a new boot time");
	}
	cs_err_clear(&err);
	free(done);
	free(done_said);
}

static void run_reload(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a)
{
	if (!begin(x, a, failed_dep(x, a, false)))
		return;
	struct cs_err err = CS_ERR_INIT;
	cs_fault_point("reload.intent");
	if (ho->platform->reload(ho->transport, a->command, &err) < 0) {
		report(x, a, CS_EV_FAILED, cs_err_msg(&err));
		/* The service may be half-reloaded: put the old files back and
		 * reload again so it serves what it served before.  When the
		 * binds changed nothing, it already does (or never will). */
		bool changed = changed_any(x, a->deps, a->n_deps);
		undo_binds(x, ho, a, a->deps, a->n_deps);
		const char *cmd = a->command;
		if (changed)
			reload_again(x, ho, a, &cmd, 1);
		/* Those bindings are no longer in place. */
		pthread_mutex_lock(&x->lock);
		for (size_t k = 0; k < a->n_deps; k++)
			if (x->status[a->deps[k] - 1] == ST_DONE)
				x->status[a->deps[k] - 1] = ST_UNDONE;
		pthread_mutex_unlock(&x->lock);
	} else {
		cs_fault_point("reload.done");
		report(x, a, CS_EV_DONE, NULL);
	}
	cs_err_clear(&err);
}

/* The binds of a's certificate on host ho, appended to ids. */
static void binds_on_host(struct exec *x, const struct cs_host_obs *ho, const struct cs_action *a, int *ids,
			  size_t *n_ids)
{
	for (size_t k = 0; k < x->plan->n_actions; k++) {
		const struct cs_action *b = &x->plan->actions[k];
		if (b->kind == CS_ACT_BIND && cs_streq(b->host, ho->cfg->name) && cs_streq(b->cert, a->cert))
			ids[(*n_ids)++] = b->id;
	}
}

/* Put back the files of binds ids[0..n) on host ho and run the reloads they
 * name again; false when something could not be put back. */
static bool put_back_on_host(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a, const int *ids,
			     size_t n)
{
	if (!n)
		return true;
	const char **cmds = cs_xcalloc(n, sizeof *cmds);
	size_t n_cmds = 0;
	for (size_t k = 0; k < n; k++) {
		const struct cs_binding_cfg *bc = binding_of(x, &x->plan->actions[ids[k] - 1]);
		const char *cmd = bc ? cs_binding_reload(bc) : NULL;
		bool seen_cmd = !cmd;
		for (size_t m = 0; m < n_cmds && !seen_cmd; m++)
			seen_cmd = !strcmp(cmds[m], cmd);
		if (!seen_cmd)
			cmds[n_cmds++] = cmd;
	}
	bool changed = changed_any(x, ids, n);
	bool restored = undo_binds(x, ho, a, ids, n);
	if (changed)
		reload_again(x, ho, a, cmds, n_cmds);
	free(cmds);
	return restored;
}

/* ho: the host whose changes a checks, or NULL for a verify entry that
 * covers every host of its certificate (run after all hosts are done): a
 * failure then puts all of them back. */
static void run_verify(struct exec *x, struct cs_host_obs *ho, const struct cs_action *a)
{
	if (!begin(x, a, failed_dep(x, a, true)))
		return;
	size_t ci = cert_index(x, a->cert);
	const struct cs_cert_cfg *cert = &x->cfg->certs[ci];
	const struct cs_verify_cfg *v = &cert->verify[a->verify];
	struct cs_err err = CS_ERR_INIT;
	struct cs_tls_seen seen;
	memset(&seen, 0, sizeof seen);
	int r = cs_tls_wait_for(&seen, v->connect, v->servername ? v->servername : cert->common_name,
				v->starttls, v->ca_bundle, v->timeout, x->material[ci].info.sha256, &err);
	cs_tls_seen_free(&seen);
	if (r == 0) {
		cs_fault_point("verify.done");
		char *text = cs_xasprintf("%s presents serial %s", v->connect, x->material[ci].info.serial);
		report(x, a, CS_EV_DONE, text);
		free(text);
		cs_err_clear(&err);
		return;
	}
	report(x, a, CS_EV_FAILED, cs_err_msg(&err));
	cs_err_clear(&err);
	/* The hosts to put back: ho, or every host the entry covers. */
	size_t n_hosts = 0, *hosts = cs_xcalloc(x->cfg->n_hosts + 1, sizeof *hosts);
	for (size_t h = 0; h < x->cfg->n_hosts; h++)
		if (ho ? &x->obs->hosts[h] == ho : x->obs->hosts[h].transport && cs_verify_covers(cert, v, h))
			hosts[n_hosts++] = h;
	int *ids = cs_xcalloc(x->plan->n_actions + 1, sizeof *ids);
	size_t *first = cs_xcalloc(n_hosts + 1, sizeof *first), n_ids = 0;
	for (size_t i = 0; i < n_hosts; i++) {
		first[i] = n_ids;
		binds_on_host(x, &x->obs->hosts[hosts[i]], a, ids, &n_ids);
	}
	first[n_hosts] = n_ids;
	/* What was served before, from the kept copies (gone once put back). */
	char old_sha256[65];
	char *old_serial = NULL;
	bool had_old = previous_leaf(x, ids, n_ids, old_sha256, &old_serial);
	bool restored = true;
	for (size_t i = 0; i < n_hosts; i++)
		restored = put_back_on_host(x, &x->obs->hosts[hosts[i]], a, ids + first[i], first[i + 1] - first[i]) &&
			   restored;
	free(hosts);
	free(first);
	/* Prove the rollback worked: the endpoint must be back on the previous
	 * certificate, not on the new one nor on nothing. */
	if (had_old && restored) {
		memset(&seen, 0, sizeof seen);
		if (cs_tls_wait_for(&seen, v->connect, v->servername ? v->servername : cert->common_name,
				    v->starttls, NULL, v->timeout, old_sha256, &err) == 0) {
			char *text = cs_xasprintf("%s serves the previous certificate again (serial %s)", v->connect,
						  old_serial);
			report(x, a, CS_EV_ROLLBACK, text);
			free(text);
		} else {
			char *text = cs_xasprintf("after rollback: %s", cs_err_msg(&err));
			report(x, a, CS_EV_ROLLBACK_FAILED, text);
			free(text);
		}
		cs_tls_seen_free(&seen);
		cs_err_clear(&err);
	}
	free(old_serial);
	free(ids);
}

/* Before host h's first bind: the intents of all its binds that will run
 * (their renewals went through) in one durable write, instead of one per
 * bind.  An intent recorded a little early is safe: killed before its bind,
 * the next apply binds, reloads and checks a binding that did not change,
 * which converges as any owed reload does.  A binding that already has an
 * entry (unconfirmed by an earlier apply) is left to run_bind's own
 * open_intent, so a bind that ends up skipped does not lose that entry
 * when close_intents drops this run's intents.  If the write fails, each
 * bind tries its own and fails with its error. */
static void open_host_intents(struct exec *x, size_t h)
{
	const char *name = x->cfg->hosts[h].name;
	if (!cs_store_run(x->obs->store))
		return;
	char **keys = NULL;
	size_t *ids = NULL, n = 0, cap = 0;
	for (size_t k = 0; k < x->plan->n_actions; k++) {
		const struct cs_action *a = &x->plan->actions[k];
		if (a->kind != CS_ACT_BIND || !cs_streq(a->host, name))
			continue;
		const struct cs_binding_cfg *bc = binding_of(x, a);
		size_t ci = cert_index(x, a->cert);
		if (!bc || !x->have_material[ci] || failed_dep(x, a, true))
			continue;
		const struct cs_binding_obs *bo = &x->obs->bindings[ci][a->binding];
		if (bo->unconfirmed || bo->in_flight)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			keys = cs_xrealloc(keys, cap * sizeof *keys);
			ids = cs_xrealloc(ids, cap * sizeof *ids);
		}
		keys[n] = cs_binding_key(a->cert, bc);
		ids[n++] = k;
	}
	struct cs_err err = CS_ERR_INIT;
	if (n && cs_store_intents_save(x->obs->store, name, keys, n, cs_store_run(x->obs->store), &err) == 0) {
		pthread_mutex_lock(&x->lock);
		for (size_t i = 0; i < n; i++)
			x->intent[ids[i]] = true;
		pthread_mutex_unlock(&x->lock);
	}
	cs_err_clear(&err);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(ids);
}

/* A host's file writes are grouped (transport.h: group_begin) while its
 * actions run: each bind writes only after its intent is durable in the
 * state folder, so a power loss before the group is synced leaves intents
 * the next apply checks again (the host's files compared with the store
 * and written again where they differ), and no intent of the host is
 * closed (close_intents, after every host) before host_group_end made its
 * files durable.  A failed sync keeps the host's intents open. */
static void host_group_begin(struct cs_host_obs *ho)
{
	if (ho->transport && ho->transport->ops->group_begin && ho->transport->ops->group_end)
		ho->transport->ops->group_begin(ho->transport);
}

static void host_group_end(struct exec *x, struct cs_host_obs *ho, const char *name)
{
	if (!ho->transport || !ho->transport->ops->group_begin || !ho->transport->ops->group_end)
		return;
	struct cs_err err = CS_ERR_INIT;
	if (ho->transport->ops->group_end(ho->transport, &err) < 0) {
		const struct cs_action *first = NULL;
		pthread_mutex_lock(&x->lock);
		for (size_t k = 0; k < x->plan->n_actions; k++) {
			const struct cs_action *a = &x->plan->actions[k];
			if (a->kind == CS_ACT_BIND && cs_streq(a->host, name)) {
				x->intent[k] = false;
				first = first ? first : a;
			}
		}
		pthread_mutex_unlock(&x->lock);
		if (first) {
			char *text = cs_xasprintf("host %s: the written files may not be durable, the next apply "
						  "checks them again: %s", name, cs_err_msg(&err));
			report(x, first, CS_EV_WARNING, text);
			free(text);
		}
	}
	cs_err_clear(&err);
}

static void run_host(struct exec *x, size_t h)
{
	struct cs_host_obs *ho = &x->obs->hosts[h];
	const char *name = x->cfg->hosts[h].name;
	if (ho->transport)
		open_host_intents(x, h);
	host_group_begin(ho);
	for (size_t k = 0; k < x->plan->n_actions; k++) {
		const struct cs_action *a = &x->plan->actions[k];
		if (a->kind == CS_ACT_RENEW || !cs_streq(a->host, name))
			continue;
		if (!ho->transport) {
			char *text = cs_xasprintf("host %s is not reachable: %s", name,
						  ho->error ? ho->error : "no connection");
			report(x, a, CS_EV_FAILED, text);
			free(text);
			continue;
		}
		switch (a->kind) {
		case CS_ACT_BIND: run_bind(x, ho, a); break;
		case CS_ACT_RELOAD: run_reload(x, ho, a); break;
		case CS_ACT_VERIFY: run_verify(x, ho, a); break;
		case CS_ACT_IMPORT: run_import(x, ho, a); break;
		case CS_ACT_REBOOT:
			/* What was written durable before the host goes down. */
			host_group_end(x, ho, name);
			run_reboot(x, ho, a);
			host_group_begin(ho);
			break;
		case CS_ACT_RENEW: break;
		}
	}
	host_group_end(x, ho, name);
}

static void *host_worker(void *arg)
{
	struct exec *x = arg;
	for (;;) {
		pthread_mutex_lock(&x->lock);
		size_t k = x->next_host < x->n_hosts ? x->next_host++ : x->n_hosts;
		pthread_mutex_unlock(&x->lock);
		if (k >= x->n_hosts)
			return NULL;
		run_host(x, x->hosts[k]);
		/* The host's journal lines, durable once per host. */
		struct cs_err err = CS_ERR_INIT;
		cs_store_journal_sync(x->obs->store, &err);
		cs_err_clear(&err);
	}
}

/* After renewals: what each certificate's bindings should now carry. */
static void load_materials(struct exec *x)
{
	bool *needed = cs_xcalloc(x->cfg->n_certs ? x->cfg->n_certs : 1, sizeof *needed);
	for (size_t k = 0; k < x->plan->n_actions; k++) {
		size_t ci = x->plan->actions[k].kind != CS_ACT_RENEW && x->plan->actions[k].cert
			? cert_index(x, x->plan->actions[k].cert) : (size_t)-1;
		if (ci != (size_t)-1)
			needed[ci] = true;
	}
	for (size_t i = 0; i < x->cfg->n_certs; i++) {
		if (!needed[i] || x->have_material[i])
			continue;
		struct cs_stored st;
		memset(&st, 0, sizeof st);
		struct cs_err err = CS_ERR_INIT;
		if (cs_store_load(&st, x->obs->store, x->cfg->certs[i].name, &err) == 0 &&
		    cs_material_make(&x->material[i], cs_stored_key(&st, &err), cs_stored_cert(&st, &err),
				     cs_stored_chain(&st, &err), &err) == 0)
			x->have_material[i] = true;
		cs_stored_free(&st);
		cs_err_clear(&err);
	}
	free(needed);
}

/* The issuing records of this run's saved certificates (see renew_batch),
 * once all renewals are done: each record file holds up to 64 of them and
 * is removed once for all.  One a kill leaves behind is one
 * recover_issuing drops. */
static void drop_issued(struct exec *x)
{
	struct cs_err err = CS_ERR_INIT;
	if (x->n_issued)
		cs_store_drop_issuing_many(x->obs->store, x->issued, x->n_issued, &err);
	cs_err_clear(&err);
}

int cs_execute(struct cs_exec_summary *out, const struct cs_plan *plan, struct cs_observed *obs,
	       cs_event_fn on_event, void *ctx)
{
	struct exec x = {
		.plan = plan,
		.obs = obs,
		.cfg = obs->cfg,
		.on_event = on_event,
		.ctx = ctx,
	};
	pthread_mutex_init(&x.lock, NULL);
	x.status = cs_xcalloc(plan->n_actions, sizeof *x.status);
	x.undo = cs_xcalloc(plan->n_actions, sizeof *x.undo);
	x.intent = cs_xcalloc(plan->n_actions, sizeof *x.intent);
	x.material = cs_xcalloc(x.cfg->n_certs, sizeof *x.material);
	x.have_material = cs_xcalloc(x.cfg->n_certs, sizeof *x.have_material);
	x.hosts = cs_xcalloc(x.cfg->n_hosts, sizeof *x.hosts);

	for (size_t h = 0; h < x.cfg->n_hosts; h++)
		for (size_t k = 0; k < plan->n_actions; k++)
			if (cs_streq(plan->actions[k].host, x.cfg->hosts[h].name)) {
				x.hosts[x.n_hosts++] = h;
				break;
			}
	/* Before anything changes: what a kill from here on may leave behind. */
	bool recorded = false;
	if (cs_store_run(obs->store)) {
		struct cs_err err = CS_ERR_INIT;
		json_t *paths = run_paths(&x);
		if (cs_store_run_begin(obs->store, paths, &err) < 0) {
			/* Not fatal: the run only loses its clean-up after a crash. */
			x.sum.warnings++;
			if (on_event && plan->n_actions) {
				char *text = cs_xasprintf("temporary files left by a crash would not be found: %s",
							  cs_err_msg(&err));
				struct cs_event ev = { CS_EV_WARNING, &plan->actions[0], text };
				on_event(ctx, &ev);
				free(text);
			}
		} else {
			recorded = true;
		}
		json_decref(paths);
		cs_err_clear(&err);
		cs_fault_point("run.recorded");
	}

	/* The journal's lines are written as they come and fsync'd after the
	 * renewals, after each host and at the end (cs_store_journal_group):
	 * nothing recovers from the journal, every state change it reports
	 * was made durable on its own. */
	cs_store_journal_group(obs->store, true);
	run_renewals(&x);
	{
		struct cs_err err = CS_ERR_INIT;
		cs_store_journal_sync(obs->store, &err);
		cs_err_clear(&err);
	}
	drop_issued(&x);
	load_materials(&x);

	for (size_t k = 0; k < plan->n_actions; k++) {
		const struct cs_action *a = &plan->actions[k];
		if (a->host && host_index(&x, a->host) == (size_t)-1)
			report(&x, a, CS_EV_FAILED, "host is not in the config");
	}
	size_t n_threads = (size_t)(x.cfg->settings.parallelism > 0 ? x.cfg->settings.parallelism : 1);
	if (n_threads > x.n_hosts)
		n_threads = x.n_hosts;
	pthread_t *threads = cs_xcalloc(n_threads ? n_threads : 1, sizeof *threads);
	size_t started = 0;
	for (size_t i = 0; i < n_threads; i++) {
		if (pthread_create(&threads[i], NULL, host_worker, &x) != 0)
			break;
		started++;
	}
	if (started == 0)
		host_worker(&x);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	/* Checks of an address in front of several hosts: after all of them. */
	for (size_t k = 0; k < plan->n_actions; k++)
		if (plan->actions[k].kind == CS_ACT_VERIFY && !plan->actions[k].host)
			run_verify(&x, NULL, &plan->actions[k]);
	close_intents(&x);
	cs_store_journal_group(obs->store, false);
	/* A host that owed a reboot has rebooted (this run rebooted it, or
	 * someone did): forget the debt, now that the intents it was kept for
	 * are closed. */
	for (size_t h = 0; h < x.cfg->n_hosts; h++) {
		struct cs_err err = CS_ERR_INIT;
		if ((obs->hosts[h].owed_reboot_paid || rebooted(&x, x.cfg->hosts[h].name)) &&
		    !reboot_record_needed(obs, h))
			cs_store_reboot_owed_drop(obs->store, x.cfg->hosts[h].name, &err);
		cs_err_clear(&err);
	}
	cs_fault_point("run.intents-closed");
	if (recorded) {
		struct cs_err err = CS_ERR_INIT;
		cs_store_run_end(obs->store, &err);
		cs_err_clear(&err);
	}

	for (size_t k = 0; k < plan->n_actions; k++)
		cs_undo_free(&x.undo[k]);
	for (size_t i = 0; i < x.cfg->n_certs; i++)
		cs_material_free(&x.material[i]);
	free(x.undo);
	free(x.issued);
	free(x.intent);
	free(x.material);
	free(x.have_material);
	free(x.status);
	free(x.hosts);
	pthread_mutex_destroy(&x.lock);
	if (out)
		*out = x.sum;
	return x.sum.failed || x.sum.warnings ? -EIO : 0;
}

/* A request recorded in pending/ by a run killed before it wrote the
 * request file for the CA (or while it did): write it again from pending/,
 * so what the operator sends the CA is what the reply will be checked
 * against.  Its temporary files go too. */
static void recover_requests(struct cs_observed *obs, size_t *removed, struct cs_buf *said)
{
	for (size_t i = 0; i < obs->cfg->n_certs; i++) {
		const struct cs_cert_obs *c = &obs->certs[i];
		if (!c->have_pending || !c->ops || !c->ops->asynchronous || !c->ops->request_location ||
		    !cs_streq(c->pending.issuer, c->issuer->name))
			continue;
		char *path = c->ops->request_location(c->issuer, c->cfg);
		struct cs_err e = CS_ERR_INIT;
		size_t n = 0;
		if (path && cs_remove_temps_beside(path, cs_store_run(obs->store), CS_TEMPS_OF_OTHER_RUNS, &n, &e) < 0)
			cs_buf_printf(said, "%s%s", said->len ? "; " : "", cs_err_msg(&e));
		cs_err_clear(&e);
		*removed += n;
		struct cs_buf text = CS_BUF_INIT;
		X509_REQ *have = NULL;
		bool right = path && cs_file_read(&text, path, 1u << 20, &e) == 0 &&
			     cs_csr_parse(&have, text.data, text.len, &e) == 0 &&
			     cs_key_matches_csr(c->pending.key, have);
		cs_err_clear(&e);
		X509_REQ_free(have);
		cs_buf_free(&text);
		X509 *leaf = NULL;
		STACK_OF(X509) *chain = NULL;
		if (path && !right && c->ops->issue(c->issuer, c->cfg, c->pending.csr, &leaf, &chain, &e) < 0)
			cs_buf_printf(said, "%s%s", said->len ? "; " : "", cs_err_msg(&e));
		else if (path && !right)
			cs_buf_printf(said, "%swrote the pending request %s again", said->len ? "; " : "", path);
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		cs_err_clear(&e);
		free(path);
	}
}

static void recover_issuing(struct cs_observed *obs)
{
	/* Dropped together: a record file holds many issuances. */
	const char **drop = cs_xcalloc(obs->cfg->n_certs ? obs->cfg->n_certs : 1, sizeof *drop);
	size_t n_drop = 0;
	for (size_t i = 0; i < obs->cfg->n_certs; i++) {
		const struct cs_cert_obs *c = &obs->certs[i];
		struct cs_issuing iss;
		struct cs_err e = CS_ERR_INIT;
		int r = cs_store_load_issuing(&iss, obs->store, c->cfg->name, &e);
		cs_err_clear(&e);
		if (r == -ENOENT) {
			/* None, or a folder certs/NAME/issuing/ of an earlier
			 * version without its meta.json (written last, removed
			 * first): cut short while it was written or dropped,
			 * nothing was signed with what is left, a key among it.
			 * The store drops such a folder, and nothing else. */
			drop[n_drop++] = c->cfg->name;
			continue;
		}
		if (r < 0 || !c->have_current) {
			if (r == 0)
				cs_issuing_free(&iss);
			continue;
		}
		/* Keys are new for every issuance: the current certificate being
		 * for this key means it came from this issuance (the serial says
		 * nothing for a CA that picks its own, like ACME).  Done once its
		 * save finished (meta.json written); a save cut short leaves the
		 * record for the renewal, which signs the same certificate again
		 * and saves it whole. */
		if (c->current.complete && cs_key_matches_cert(iss.req.key, cs_stored_cert(&c->current, &e))) {
			drop[n_drop++] = c->cfg->name; /* done: the key lives on in key.pem */
			if (c->ops && c->ops->saved) {
				struct cs_issue_ctx sctx = { .hosts = obs->cfg->hosts, .n_hosts = obs->cfg->n_hosts,
							     .state_dir = cs_store_dir(obs->store) };
				c->ops->saved(&sctx, c->issuer, c->cfg);
			}
		}
		cs_err_clear(&e);
		cs_issuing_free(&iss);
	}
	struct cs_err e = CS_ERR_INIT;
	if (n_drop)
		cs_store_drop_issuing_many(obs->store, drop, n_drop, &e);
	cs_err_clear(&e);
	free(drop);
}

/* A binding an interrupted apply changed and then rebooted its host for,
 * with no reload and no check on that host to owe: the reboot settled it,
 * so its intent goes (plan_host plans nothing for it). */
static void recover_rebooted(struct cs_observed *obs)
{
	for (size_t i = 0; i < obs->cfg->n_certs; i++) {
		const struct cs_cert_cfg *cert = &obs->cfg->certs[i];
		for (size_t j = 0; obs->certs[i].selected && j < cert->n_bindings; j++) {
			const struct cs_binding_cfg *bc = &cert->bindings[j];
			struct cs_binding_obs *bo = &obs->bindings[i][j];
			if (!bo->interrupted || !bo->rebooted_since || cs_binding_reload(bc))
				continue;
			bool checked = false;
			for (size_t v = 0; v < cert->n_verify; v++)
				checked = checked || cert->verify[v].host_index == bc->host_index;
			if (checked)
				continue;
			struct cs_err e = CS_ERR_INIT;
			char *key = cs_binding_key(cert->name, bc);
			if (cs_store_unconfirmed_drop(obs->store, bc->host, key, &e) == 0) {
				bo->interrupted = false;
				free(bo->unconfirmed);
				bo->unconfirmed = NULL;
			}
			free(key);
			cs_err_clear(&e);
		}
	}
	/* A paid debt goes once no open intent needs it (otherwise at the end
	 * of the run). */
	for (size_t h = 0; h < obs->cfg->n_hosts; h++) {
		struct cs_err e = CS_ERR_INIT;
		if (obs->hosts[h].owed_reboot_paid && !reboot_record_needed(obs, h))
			cs_store_reboot_owed_drop(obs->store, obs->cfg->hosts[h].name, &e);
		cs_err_clear(&e);
	}
}

int cs_recover_temps(size_t *removed, char **note, struct cs_observed *obs, struct cs_err *err)
{
	*removed = 0;
	*note = NULL;
	if (!cs_store_run(obs->store))
		return 0; /* only apply, holding the lock, removes anything */
	json_t *runs = NULL;
	int r = cs_store_runs_load(&runs, obs->store, err);
	if (r < 0)
		return cs_err_prefix(err, "runs that did not finish");
	struct cs_buf said = CS_BUF_INIT;
	struct cs_err e = CS_ERR_INIT;
	if (cs_store_remove_temps(obs->store, cs_store_run(obs->store), removed, &e) < 0)
		cs_buf_printf(&said, "state folder: %s", cs_err_msg(&e));
	cs_err_clear(&e);
	recover_requests(obs, removed, &said);
	recover_issuing(obs);
	recover_rebooted(obs);
	const char *tag;
	json_t *rec;
	json_object_foreach(runs, tag, rec) {
		json_t *hosts = json_object_get(rec, "hosts");
		const char *host;
		json_t *paths, *tmp;
		json_object_foreach_safe(hosts, tmp, host, paths) {
			size_t h = 0;
			while (h < obs->cfg->n_hosts && strcmp(obs->cfg->hosts[h].name, host))
				h++;
			if (h == obs->cfg->n_hosts) {
				json_object_del(hosts, host); /* gone from the config: nothing to reach */
				continue;
			}
			struct cs_transport *t = obs->hosts[h].transport;
			if (!t)
				continue; /* unreachable or not selected: the next apply tries again */
			size_t np = json_array_size(paths);
			char **pv = cs_xcalloc(np + 1, sizeof *pv);
			size_t m = 0;
			for (size_t k = 0; k < np; k++)
				if (json_string_value(json_array_get(paths, k)))
					pv[m++] = (char *)json_string_value(json_array_get(paths, k));
			int got = t->ops->remove_temps ? t->ops->remove_temps(t, pv, m, tag, &e) : 0;
			free(pv);
			if (got < 0) {
				cs_buf_printf(&said, "%shost %s: %s", said.len ? "; " : "", host, cs_err_msg(&e));
				cs_err_clear(&e);
				continue;
			}
			*removed += (size_t)got;
			json_object_del(hosts, host);
		}
		r = cs_store_run_update(obs->store, tag, json_object_size(hosts) ? rec : NULL, &e);
		if (r < 0)
			cs_buf_printf(&said, "%s%s", said.len ? "; " : "", cs_err_msg(&e));
		cs_err_clear(&e);
		r = 0;
		cs_fault_point("recover.run-done");
	}
	json_decref(runs);
	if (*removed || said.len)
		*note = cs_xasprintf("removed %zu temporary file%s left by an apply that did not finish%s%s", *removed,
				     *removed == 1 ? "" : "s", said.len ? "; " : "", said.len ? said.data : "");
	cs_buf_free(&said);
	return 0;
}
