/* Gather the observed state: store and issuers per certificate, bindings per
 * host in parallel (see observe.h). */
#include "reconcile/observe.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "providers/base/strmap.h"
#include "providers/base/util.h"

bool cs_target_has_cert(const struct cs_target *t, const char *name)
{
	if (!t || !t->n_certs)
		return true;
	for (size_t i = 0; i < t->n_certs; i++)
		if (!strcmp(t->certs[i], name))
			return true;
	return false;
}

bool cs_target_has_host(const struct cs_target *t, const char *name)
{
	if (!t || !t->n_hosts)
		return true;
	for (size_t i = 0; i < t->n_hosts; i++)
		if (!strcmp(t->hosts[i], name))
			return true;
	return false;
}

/* Was the stored certificate issued by c's issuer now?  ops->issued_by
 * checks the names and verifies the signature.  A certificate certsync saved
 * with a signature its first chain certificate's key verified (signed_by)
 * gets the same answer as every other with the same signing key, issuer
 * name and authority key identifier: the answer is kept per run for those,
 * so one signature per CA is verified, not one per certificate. */
struct issued_memo {
	struct cs_strmap map;   /* key → index in answers */
	char **keys;            /* owned */
	int *answers;
	size_t n;
};

static void issued_memo_free(struct issued_memo *m)
{
	cs_strmap_free(&m->map);
	for (size_t i = 0; i < m->n; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->answers);
}

static int issued_by(struct issued_memo *m, struct cs_cert_obs *c)
{
	if (!c->ops || !c->ops->issued_by)
		return -1;
	const struct cs_stored *cur = &c->current;
	const struct cs_cert_info *info = &c->current_info;
	char *key = NULL;
	size_t at;
	if (cur->signed_by) {
		key = cs_xasprintf("%zu\n%s\n%s\n%s", c->cfg->issuer_index, cur->signed_by,
				   info->issuer ? info->issuer : "-", info->aki ? info->aki : "-");
		if (cs_strmap_get(&m->map, key, &at)) {
			free(key);
			return m->answers[at];
		}
	}
	struct cs_err err = CS_ERR_INIT;
	X509 *cert = cs_stored_cert(cur, &err);
	cs_err_clear(&err);
	int r = cert ? c->ops->issued_by(c->issuer, cert) : -1;
	if (key && cert) {
		m->keys = cs_xrealloc(m->keys, (m->n + 1) * sizeof *m->keys);
		m->answers = cs_xrealloc(m->answers, (m->n + 1) * sizeof *m->answers);
		m->keys[m->n] = key;
		m->answers[m->n] = r;
		cs_strmap_put(&m->map, key, m->n++, NULL);
	} else {
		free(key);
	}
	return r;
}

/* The stored sets loaded ahead, on every CPU: reading ten thousand
 * folders one after the other took a third of an in-sync plan, with the
 * second CPU idle until the hosts were gathered. */
struct preload {
	struct cs_observed *obs;
	int *r;               /* cs_store_load's result per certificate */
	struct cs_err *errs;  /* and its error */
	size_t next;
	pthread_mutex_t lock;
};

/* Fewer certificates than this are loaded in the calling thread. */
#define PRELOAD_MIN 256
#define PRELOAD_THREADS_MAX 8

static void *preload_worker(void *arg)
{
	struct preload *p = arg;
	const struct cs_config *cfg = p->obs->cfg;
	for (;;) {
		/* 64 at a time: the lock once per batch, not per folder */
		pthread_mutex_lock(&p->lock);
		size_t from = p->next;
		p->next = from + 64 < cfg->n_certs ? from + 64 : cfg->n_certs;
		size_t to = p->next;
		pthread_mutex_unlock(&p->lock);
		if (from >= to)
			return NULL;
		for (size_t i = from; i < to; i++) {
			struct cs_cert_obs *c = &p->obs->certs[i];
			if (c->selected)
				p->r[i] = cs_store_load(&c->current, p->obs->store, cfg->certs[i].name, &p->errs[i]);
		}
	}
}

/* Loads every selected certificate's stored set into c->current; false
 * when not worth threads (observe_cert loads then). */
static bool preload_stored(struct preload *p)
{
	/* The CPUs this process may run on (taskset, a container's cpuset),
	 * not all the machine has. */
	cpu_set_t set;
	int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
	size_t n_threads = cpus > 1 ? (size_t)cpus : 1;
	if (n_threads > PRELOAD_THREADS_MAX)
		n_threads = PRELOAD_THREADS_MAX;
	if (p->obs->cfg->n_certs < PRELOAD_MIN || n_threads < 2)
		return false;
	size_t n = p->obs->cfg->n_certs;
	p->r = cs_xcalloc(n, sizeof *p->r);
	p->errs = cs_xcalloc(n, sizeof *p->errs);
	pthread_mutex_init(&p->lock, NULL);
	pthread_t threads[PRELOAD_THREADS_MAX];
	size_t started = 0;
	while (started < n_threads - 1 && pthread_create(&threads[started], NULL, preload_worker, p) == 0)
		started++;
	preload_worker(p); /* this thread is one of them */
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	return true;
}

static void preload_free(struct preload *p)
{
	if (p->errs)
		for (size_t i = 0; i < p->obs->cfg->n_certs; i++)
			cs_err_clear(&p->errs[i]);
	free(p->errs);
	free(p->r);
}

static void observe_cert(struct cs_observed *obs, struct cs_cert_obs *c, struct issued_memo *memo,
			 char **ready, struct preload *pre)
{
	struct cs_err err = CS_ERR_INIT;
	/* Whether the issuer can sign now: asked once per issuer and run
	 * (ready[i]: NULL not asked yet, "" ready, else why not). */
	char **asked = &ready[c->cfg->issuer_index];
	if (c->ops && c->ops->ready && !*asked)
		*asked = cs_xstrdup(c->ops->ready(c->issuer, &err) < 0 ? cs_err_msg(&err) : "");
	if (c->ops && c->ops->ready && (*asked)[0])
		c->issuer_error = cs_xstrdup(*asked);
	cs_err_clear(&err);
	const struct cs_cert_cfg *cert = c->cfg;
	int r;
	if (pre->r) { /* loaded ahead: its result and error */
		size_t i = (size_t)(c - obs->certs);
		r = pre->r[i];
		cs_err_clear(&err);
		err = pre->errs[i];
		pre->errs[i] = (struct cs_err)CS_ERR_INIT;
	} else {
		r = cs_store_load(&c->current, obs->store, cert->name, &err);
	}
	if (r == 0) {
		c->have_current = true;
		if (c->current.have_info) {
			/* read from meta.json: moved, not copied */
			c->current_info = c->current.info;
			memset(&c->current.info, 0, sizeof c->current.info);
			c->current.have_info = false;
		} else {
			X509 *leaf = cs_stored_cert(&c->current, &err);
			if (!leaf || cs_cert_info_get(&c->current_info, leaf, &err) < 0) {
				c->error = cs_xasprintf("stored certificate: %s", cs_err_msg(&err));
				goto out;
			}
		}
		c->issued_by = issued_by(memo, c);
		/* Only the CA that issued the certificate knows its window: a
		 * certificate from another issuer is replaced anyway. */
		if (c->ops && c->ops->renewal_window && cs_streq(c->current.issuer, c->issuer->name)) {
			X509 *leaf = cs_stored_cert(&c->current, &err);
			int w = leaf ? c->ops->renewal_window(&c->window, c->issuer, leaf, &err) : -EINVAL;
			if (w == 0)
				c->have_window = true;
			else if (w != -ENOTSUP) /* a CA without ARI: renew_before, nothing to say */
				c->window_error = cs_xstrdup(cs_err_msg(&err));
			cs_err_clear(&err);
		}
	} else if (r != -ENOENT) {
		c->error = cs_xstrdup(cs_err_msg(&err));
		goto out;
	}
	cs_err_clear(&err);
	r = cs_store_load_pending(&c->pending, obs->store, cert->name, &err);
	if (r == 0) {
		c->have_pending = true;
		struct cs_buf pem = CS_BUF_INIT;
		if (cs_csr_to_pem(&pem, c->pending.csr, &err) == 0)
			cs_sha256_hex(c->pending_sha256, pem.data, pem.len);
		cs_buf_free(&pem);
	} else if (r != -ENOENT) {
		c->error = cs_xstrdup(cs_err_msg(&err));
		goto out;
	}
	cs_err_clear(&err);
	/* A reply only counts for the request it answers, and only when the
	 * pending request was made for the issuer declared now. */
	if (c->have_pending && c->ops && c->ops->asynchronous && c->ops->collect &&
	    cs_streq(c->pending.issuer, c->issuer->name)) {
		r = c->ops->collect(&c->reply, c->issuer, cert, c->pending.key, &err);
		if (r == 0) {
			c->have_reply = true;
			if (cs_cert_info_get(&c->reply_info, c->reply.cert, &err) < 0)
				c->reply_error = cs_xstrdup(cs_err_msg(&err));
		} else if (r != -ENOENT) {
			c->reply_error = cs_xstrdup(cs_err_msg(&err));
		}
	}
out:
	cs_err_clear(&err);
}

/* An unread material's texts: the stored set's, read now. */
static int read_stored_texts(const void *ctx, struct cs_buf *key_pem, struct cs_buf *cert_pem,
			     struct cs_buf *chain_pem, struct cs_err *err)
{
	const struct cs_stored *cur = ctx;
	int r = cs_stored_texts(cur, err);
	if (r < 0)
		return cs_err_prefix(err, "stored certificate");
	if (cs_buf_append(key_pem, cur->key_pem.data, cur->key_pem.len) < 0 ||
	    cs_buf_append(cert_pem, cur->cert_pem.data, cur->cert_pem.len) < 0 ||
	    cs_buf_append(chain_pem, cur->chain_pem.data, cur->chain_pem.len) < 0)
		return cs_err_errno(err, -ENOMEM, "material");
	return 0;
}

int cs_cert_obs_material(struct cs_material *out, const struct cs_cert_obs *c, struct cs_err *err)
{
	const struct cs_stored *cur = &c->current;
	/* current_info is read in observe_cert; its serial is never NULL once read */
	const struct cs_cert_info *info = c->current_info.serial ? &c->current_info : NULL;
	/* A set not read: bindings compare the SHA-256 of their files first,
	 * and the texts are read only when that does not decide. */
	if (cur->unread && info)
		return cs_material_unread(out, info, cur->key_sha256, cur->cert_sha256, cur->chain_sha256,
					  read_stored_texts, cur);
	if (cur->cert_sha256[0]) {
		/* Loaded unread, its texts read since: the digests stand too
		 * (a host file that matched them was not kept, see observe_host). */
		int r = cs_material_make_from(out, cur->key, &cur->key_pem, cur->cert, &cur->cert_pem, cur->chain,
					      &cur->chain_pem, info, err);
		if (r == 0) {
			memcpy(out->key_sha256, cur->key_sha256, 65);
			memcpy(out->cert_sha256, cur->cert_sha256, 65);
			memcpy(out->chain_sha256, cur->chain_sha256, 65);
		}
		return r;
	}
	/* The texts certsync wrote stand for the objects, which are parsed
	 * only if a binding's kind asks (cs_material_cert()). */
	bool texts = cur->key_pem.data && cur->cert_pem.data && cur->chain_pem.data;
	EVP_PKEY *key = texts ? cur->key : cs_stored_key(cur, err);
	X509 *cert = texts ? cur->cert : cs_stored_cert(cur, err);
	STACK_OF(X509) *chain = texts ? cur->chain : cs_stored_chain(cur, err);
	if (!texts && (!key || !cert || !chain))
		return -EINVAL;
	return cs_material_make_from(out, key, &cur->key_pem, cert, &cur->cert_pem, chain, &cur->chain_pem, info,
				     err);
}

/* ---- hosts, in parallel ---- */

struct gather {
	struct cs_observed *obs;
	const struct cs_target *target;
	size_t *jobs;          /* host indexes */
	size_t n_jobs;
	size_t next;
	size_t done;
	cs_progress_fn progress;
	void *progress_ctx;
	pthread_mutex_t lock;
};

/* A reboot an earlier apply could not do is still owed while the host
 * reports the boot time it had then. */
static int load_owed_reboot(struct cs_observed *obs, struct cs_host_obs *ho, struct cs_err *err)
{
	struct cs_owed_reboot rec;
	int r = cs_store_reboot_owed_load(&rec, obs->store, ho->cfg->name, err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	const char *boot = ho->platform->host_boot(ho->state);
	if (rec.boot[0] && boot && strcmp(boot, rec.boot)) {
		ho->owed_reboot_paid = true;
		ho->rebooted_for = rec.run;
		rec.run = NULL;
		cs_owed_reboot_free(&rec);
		return 0;
	}
	ho->owed_reboot = cs_xcalloc(1, sizeof *ho->owed_reboot);
	*ho->owed_reboot = rec;
	return 0;
}

/* What some kinds configure (a script) cannot be read back from the host:
 * the state folder remembers which certificate it last ran for. */
static void load_script_ran(struct cs_observed *obs, const struct cs_host_obs *ho, const struct cs_cert_cfg *cert,
			    const struct cs_binding_cfg *b, struct cs_binding_obs *out)
{
	struct cs_err err = CS_ERR_INIT;
	char *key = cs_binding_ran_key(cert->name, b);
	if (!key)
		return;
	int r = cs_store_script_ran_load(&out->script_ran, &out->script_ran_at, obs->store, ho->cfg->name,
					 key, &err);
	if (r < 0 && r != -ENOENT && !out->error)
		out->error = cs_xstrdup(cs_err_msg(&err));
	cs_err_clear(&err);
	free(key);
}

/* A binding an apply left unconfirmed is applied again, whatever the host
 * shows: its files may be right while the service never took them. */
static void load_unconfirmed(struct cs_observed *obs, const struct cs_host_obs *ho, const struct cs_cert_cfg *cert,
			     const struct cs_binding_cfg *b, struct cs_binding_obs *out, json_t *all,
			     const struct cs_err *read_err)
{
	char *key = cs_binding_key(cert->name, b);
	char *run = NULL;
	/* the host's record, read once for all its bindings */
	int r = read_err->code < 0 ? read_err->code
				   : cs_store_unconfirmed_get(&out->unconfirmed, &out->unconfirmed_since, &run, all, key);
	if (r < 0 && r != -ENOENT && !out->error)
		out->error = cs_xstrdup(cs_err_msg(read_err));
	/* An intent: owed when its run is over, that run's business while it
	 * still holds the lock. */
	if (run && obs->running && (!obs->running[0] || !strcmp(run, obs->running))) {
		out->in_flight = run;
		run = NULL;
		free(out->unconfirmed);
		out->unconfirmed = NULL;
	} else if (run) {
		out->interrupted = true;
		out->rebooted_since = ho->rebooted_for && !strcmp(run, ho->rebooted_for);
	}
	free(run);
	free(key);
}

static void observe_host(struct cs_observed *obs, const struct cs_target *target, size_t h)
{
	struct cs_host_obs *ho = &obs->hosts[h];
	const struct cs_config *cfg = obs->cfg;
	struct cs_err err = CS_ERR_INIT;
	if (!ho->platform) {
		ho->error = cs_xasprintf("%s hosts are not supported yet", cs_platform_name(ho->cfg->platform));
		return;
	}
	if (cs_transport_open(&ho->transport, ho->cfg, &err) < 0) {
		ho->error = cs_xstrdup(cs_err_msg(&err));
		cs_err_clear(&err);
		return;
	}
	/* A driver that keeps a host-wide state (Windows: one inventory script)
	 * reads the whole host in one round trip; bindings are then filled from
	 * that state without further I/O. */
	if (ho->platform->observe_host &&
	    ho->platform->observe_host(ho->transport, ho->cfg, &ho->state, &err) < 0) {
		ho->error = cs_xstrdup(cs_err_msg(&err));
		cs_err_clear(&err);
		cs_transport_close(ho->transport);
		ho->transport = NULL;
		return;
	}
	if (ho->state && ho->platform->host_boot && load_owed_reboot(obs, ho, &err) < 0) {
		ho->error = cs_xstrdup(cs_err_msg(&err));
		cs_err_clear(&err);
		cs_transport_close(ho->transport);
		ho->transport = NULL;
		return;
	}
	/* The host's bindings, in config order. */
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_certs; i++)
		for (size_t j = 0; obs->certs[i].selected && j < cfg->certs[i].n_bindings; j++)
			n += cfg->certs[i].bindings[j].host_index == h;
	const struct cs_binding_cfg **bindings = cs_xcalloc(n + 1, sizeof *bindings);
	const struct cs_cert_cfg **certs = cs_xcalloc(n + 1, sizeof *certs);
	struct cs_binding_obs **outs = cs_xcalloc(n + 1, sizeof *outs);
	n = 0;
	for (size_t i = 0; i < cfg->n_certs; i++)
		for (size_t j = 0; obs->certs[i].selected && j < cfg->certs[i].n_bindings; j++)
			if (cfg->certs[i].bindings[j].host_index == h) {
				certs[n] = &cfg->certs[i];
				bindings[n] = &cfg->certs[i].bindings[j];
				outs[n++] = &obs->bindings[i][j];
			}
	/* A kind that observes itself does; the driver observes the rest. */
	size_t n_own = 0, n_drv = 0;
	const struct cs_binding_cfg **drv = cs_xcalloc(n + 1, sizeof *drv);
	const struct cs_cert_cfg **drv_certs = cs_xcalloc(n + 1, sizeof *drv_certs);
	struct cs_binding_obs **drv_outs = cs_xcalloc(n + 1, sizeof *drv_outs);
	for (size_t k = 0; k < n; k++) {
		if (bindings[k]->kind_ops && bindings[k]->kind_ops->observe) {
			n_own++;
			continue;
		}
		drv[n_drv] = bindings[k];
		drv_certs[n_drv] = certs[k];
		drv_outs[n_drv++] = outs[k];
	}
	int r = 0;
	if (ho->state) {
		for (size_t k = 0; k < n_drv; k++)
			ho->platform->observe_in(ho->state, drv_certs[k], drv[k], drv_outs[k]);
	} else if (ho->platform->observe_bindings) {
		/* One round trip for all the host's files when the driver can. */
		r = ho->platform->observe_bindings(ho->transport, drv, drv_outs, n_drv, &err);
	} else {
		for (size_t k = 0; k < n_drv && r == 0; k++)
			r = ho->platform->observe(ho->transport, drv[k], drv_outs[k], &err);
	}
	for (size_t k = 0; k < n && n_own && r == 0; k++)
		if (bindings[k]->kind_ops && bindings[k]->kind_ops->observe)
			r = cs_binding_observe(ho->platform, ho->transport, bindings[k], outs[k], &err);
	free(drv);
	free(drv_certs);
	free(drv_outs);
	if (r < 0) {
		ho->error = cs_xstrdup(cs_err_msg(&err));
		cs_err_clear(&err);
		cs_transport_close(ho->transport);
		ho->transport = NULL;
	}
	/* A host file that holds what the store saved (its SHA-256 is the
	 * stored file's, from meta.json) need not be kept: the plan compares
	 * the digests, and the stored texts are read when more is needed. */
	for (size_t k = 0; r == 0 && k < n; k++) {
		const struct cs_stored *cur = &obs->certs[certs[k] - cfg->certs].current;
		if (!cur->unread)
			continue;
		for (size_t f = 0; f < outs[k]->n_files; f++) {
			struct cs_file_obs *fo = &outs[k]->files[f];
			const char *sum = !strcmp(fo->role, "cert") ? cur->cert_sha256
					  : !strcmp(fo->role, "key") ? cur->key_sha256
					  : !strcmp(fo->role, "chain") ? cur->chain_sha256 : NULL;
			if (fo->exists && sum && !strcmp(sum, fo->sha256))
				cs_buf_free_secret(&fo->content);
		}
	}
	json_t *unconfirmed = NULL;
	if (r == 0 && n)
		cs_store_unconfirmed_read(&unconfirmed, obs->store, ho->cfg->name, &err);
	for (size_t k = 0; r == 0 && k < n; k++) {
		load_script_ran(obs, ho, certs[k], bindings[k], outs[k]);
		load_unconfirmed(obs, ho, certs[k], bindings[k], outs[k], unconfirmed, &err);
	}
	json_decref(unconfirmed);
	cs_err_clear(&err);
	free(bindings);
	free(certs);
	free(outs);
	(void)target;
}

static void *gather_worker(void *arg)
{
	struct gather *g = arg;
	for (;;) {
		pthread_mutex_lock(&g->lock);
		size_t k = g->next < g->n_jobs ? g->next++ : g->n_jobs;
		pthread_mutex_unlock(&g->lock);
		if (k >= g->n_jobs)
			return NULL;
		observe_host(g->obs, g->target, g->jobs[k]);
		pthread_mutex_lock(&g->lock);
		g->done++;
		if (g->progress)
			g->progress(g->progress_ctx, g->done, g->n_jobs);
		pthread_mutex_unlock(&g->lock);
	}
}

static void gather_hosts(struct cs_observed *obs, const struct cs_target *target,
			 cs_progress_fn progress, void *progress_ctx)
{
	struct gather g = { .obs = obs, .target = target, .progress = progress, .progress_ctx = progress_ctx };
	pthread_mutex_init(&g.lock, NULL);
	g.jobs = cs_xcalloc(obs->cfg->n_hosts, sizeof *g.jobs);
	for (size_t h = 0; h < obs->cfg->n_hosts; h++)
		if (obs->hosts[h].selected)
			g.jobs[g.n_jobs++] = h;
	size_t n_threads = (size_t)(obs->cfg->settings.parallelism > 0 ? obs->cfg->settings.parallelism : 1);
	if (n_threads > g.n_jobs)
		n_threads = g.n_jobs;
	pthread_t *threads = cs_xcalloc(n_threads ? n_threads : 1, sizeof *threads);
	size_t started = 0;
	for (size_t i = 0; i < n_threads; i++)
		if (pthread_create(&threads[i], NULL, gather_worker, &g) == 0)
			started++;
		else
			break;
	if (started == 0)
		gather_worker(&g); /* no threads to be had: do it here */
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	free(g.jobs);
	pthread_mutex_destroy(&g.lock);
}

/* ---- digest of everything observed ---- */

/* The text below is hashed as it is written, a piece at a time: the whole
 * of it for thousands of certificates is megabytes kept for nothing. */
static void digest_flush(EVP_MD_CTX *md, struct cs_buf *t, bool all)
{
	if (t->len && (all || t->len >= 65536)) {
		EVP_DigestUpdate(md, t->data, t->len);
		cs_buf_reset(t);
	}
}

static void digest_state(struct cs_observed *obs)
{
	const struct cs_config *cfg = obs->cfg;
	struct cs_buf t = CS_BUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		cs_out_of_memory();
	for (size_t i = 0; i < cfg->n_certs; i++) {
		digest_flush(md, &t, false);
		const struct cs_cert_obs *c = &obs->certs[i];
		cs_buf_printf(&t, "cert %s selected=%d current=%s pending=%s reply=%s reply_error=%s error=%s issued_by=%d\n",
			      c->cfg->name, c->selected, c->have_current ? c->current_info.sha256 : "-",
			      c->have_pending ? c->pending_sha256 : "-",
			      c->have_reply ? c->reply_info.sha256 : "-",
			      c->reply_error ? c->reply_error : "-", c->error ? c->error : "-", c->issued_by);
		/* Whether, not what: connection errors carry timings ("after 3 ms")
		 * that would make every saved plan look stale. */
		cs_buf_printf(&t, " issuer_error=%d\n", c->issuer_error != NULL);
		/* The CA's renewal window (ARI) decides a renewal and the plan shows
		 * it: a window the CA moved, or one that came or went, makes a
		 * saved plan stale like a changed file does.  Without a window
		 * renew_before decides, whatever the reason; the reason's text is
		 * left out, as it can change from run to run (curl's "after 3 ms"). */
		if (c->have_window)
			cs_buf_printf(&t, " window=%lld..%lld source=%s\n", (long long)c->window.start,
				      (long long)c->window.end, c->window.source ? c->window.source : "-");
		else
			cs_buf_puts(&t, " window=none\n");
		for (size_t j = 0; j < c->cfg->n_bindings; j++) {
			const struct cs_binding_obs *b = &obs->bindings[i][j];
			cs_buf_printf(&t, " binding %zu error=%s script_ran=%s unconfirmed=%d interrupted=%d in_flight=%s\n",
				      j, b->error ? b->error : "-", b->script_ran ? b->script_ran : "-", b->unconfirmed != NULL,
				      b->interrupted, b->in_flight ? b->in_flight : "-");
			if (b->rebooted_since)
				cs_buf_puts(&t, "  rebooted_since=1\n");
			for (size_t k = 0; k < b->n_files; k++) {
				const struct cs_file_obs *f = &b->files[k];
				cs_buf_printf(&t, "  %s %s exists=%d sha256=%s mode=%04o owner=%s group=%s\n",
					      f->role, f->path, f->exists, f->sha256, (unsigned)f->mode,
					      f->owner ? f->owner : "-", f->group ? f->group : "-");
				/* A pfx that opened with the password then and not now
				 * (it changed): the same bytes, another plan. */
				if (f->pfx || f->pfx_error)
					cs_buf_printf(&t, "  pfx opens=%d\n", f->pfx != NULL);
			}
		}
	}
	for (size_t h = 0; h < cfg->n_hosts; h++) {
		const struct cs_host_obs *ho = &obs->hosts[h];
		digest_flush(md, &t, false);
		cs_buf_printf(&t, "host %s selected=%d error=%d", cfg->hosts[h].name, ho->selected,
			      ho->error != NULL);
		if (ho->state && ho->platform->host_digest)
			ho->platform->host_digest(ho->state, &t);
		if (ho->owed_reboot)
			cs_buf_printf(&t, " reboot_owed=%s", ho->owed_reboot->boot);
		cs_buf_puts(&t, "\n");
	}
	digest_flush(md, &t, true);
	unsigned char d[32];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != sizeof d)
		cs_out_of_memory();
	static const char hex[] = "0123456789ABCDEF";
	for (size_t k = 0; k < sizeof d; k++) {
		obs->state_sha256[2 * k] = hex[d[k] >> 4];
		obs->state_sha256[2 * k + 1] = hex[d[k] & 15];
	}
	obs->state_sha256[64] = '\0';
	EVP_MD_CTX_free(md);
	cs_buf_free(&t);
}

int cs_observe(struct cs_observed **out, const struct cs_config *cfg, struct cs_store *store,
	       const struct cs_target *target, cs_progress_fn progress, void *progress_ctx,
	       struct cs_err *err)
{
	*out = NULL;
	struct cs_buf text = CS_BUF_INIT;
	int r = cs_file_read(&text, cfg->path, 0, err);
	if (r < 0)
		return r;
	struct cs_observed *obs = cs_xcalloc(1, sizeof *obs);
	cs_sha256_hex(obs->config_sha256, text.data, text.len);
	cs_buf_free(&text);
	obs->cfg = cfg;
	obs->store = store;
	obs->now = cs_now();
	obs->running = cs_store_running(store);
	obs->certs = cs_xcalloc(cfg->n_certs, sizeof *obs->certs);
	obs->hosts = cs_xcalloc(cfg->n_hosts, sizeof *obs->hosts);
	struct issued_memo memo = { .map = CS_STRMAP_INIT };
	char **ready = cs_xcalloc(cfg->n_issuers + 1, sizeof *ready);
	obs->bindings = cs_xcalloc(cfg->n_certs, sizeof *obs->bindings);
	for (size_t h = 0; h < cfg->n_hosts; h++) {
		obs->hosts[h].cfg = &cfg->hosts[h];
		obs->hosts[h].platform = cs_platform_ops_for(cfg->hosts[h].platform);
	}
	for (size_t i = 0; i < cfg->n_certs; i++) {
		const struct cs_cert_cfg *cert = &cfg->certs[i];
		struct cs_cert_obs *c = &obs->certs[i];
		c->cfg = cert;
		c->issuer = &cfg->issuers[cert->issuer_index];
		c->ops = cs_issuer_ops_for(c->issuer->kind);
		c->selected = cs_target_has_cert(target, cert->name);
		obs->bindings[i] = cs_xcalloc(cert->n_bindings, sizeof **obs->bindings);
		if (!c->selected)
			continue;
		bool on_target = false;
		for (size_t j = 0; j < cert->n_bindings; j++) {
			size_t h = cert->bindings[j].host_index;
			if (cs_target_has_host(target, cfg->hosts[h].name))
				obs->hosts[h].selected = on_target = true;
		}
		/* --target host=H: the certificates bound on H, not also the
		 * others (renewing one of those would be work, and an order
		 * at the CA, for hosts the operator left out). */
		if (target && target->n_hosts && !on_target) {
			c->selected = false;
			continue;
		}
	}
	struct preload pre = { .obs = obs };
	preload_stored(&pre);
	for (size_t i = 0; i < cfg->n_certs; i++)
		if (obs->certs[i].selected)
			observe_cert(obs, &obs->certs[i], &memo, ready, &pre);
	preload_free(&pre);
	issued_memo_free(&memo);
	for (size_t i = 0; i < cfg->n_issuers; i++)
		free(ready[i]);
	free(ready);
	gather_hosts(obs, target, progress, progress_ctx);
	digest_state(obs);
	*out = obs;
	return 0;
}

void cs_observed_free(struct cs_observed *obs)
{
	if (!obs)
		return;
	const struct cs_config *cfg = obs->cfg;
	for (size_t i = 0; i < cfg->n_certs; i++) {
		struct cs_cert_obs *c = &obs->certs[i];
		free(c->error);
		cs_stored_free(&c->current);
		cs_cert_info_free(&c->current_info);
		cs_pending_free(&c->pending);
		cs_issuer_reply_free(&c->reply);
		cs_cert_info_free(&c->reply_info);
		free(c->reply_error);
		free(c->issuer_error);
		free(c->window.source);
		free(c->window_error);
		for (size_t j = 0; j < cfg->certs[i].n_bindings; j++)
			cs_binding_obs_free(&obs->bindings[i][j]);
		free(obs->bindings[i]);
	}
	for (size_t h = 0; h < cfg->n_hosts; h++) {
		cs_transport_close(obs->hosts[h].transport);
		if (obs->hosts[h].state)
			obs->hosts[h].platform->host_free(obs->hosts[h].state);
		free(obs->hosts[h].error);
		cs_owed_reboot_free(obs->hosts[h].owed_reboot);
		free(obs->hosts[h].owed_reboot);
		free(obs->hosts[h].rebooted_for);
	}
	free(obs->certs);
	free(obs->hosts);
	free(obs->bindings);
	free(obs->running);
	free(obs);
}

bool cs_verify_selected(const struct cs_observed *obs, const struct cs_cert_cfg *cert,
			const struct cs_verify_cfg *v)
{
	for (size_t h = 0; h < obs->cfg->n_hosts; h++)
		if (obs->hosts[h].selected && cs_verify_covers(cert, v, h))
			return true;
	return false;
}

const char *cs_verify_host_name(const struct cs_config *cfg, const struct cs_verify_cfg *v)
{
	return v->all_hosts || v->host_index >= cfg->n_hosts ? "" : cfg->hosts[v->host_index].name;
}
