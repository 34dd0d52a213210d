/* The ACME issuer (RFC 8555, with RFC 9773 renewal information).
 *
 * Synchronous from certsync's point of view: issue_ctx() runs the whole
 * order — directory, account (kept in the state folder, one per directory
 * URL and contact), newOrder (with "replaces" when renewing a certificate
 * of the same CA), the challenges, finalize with certsync's CSR and the
 * certificate download — and returns the certificate and its chain.
 *
 * An order is recorded in the store before any challenge is answered, and
 * the CSR's key before finalize, so an interrupted apply picks the same
 * order up again instead of ordering twice. */
#include "providers/issuer/issuer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "providers/issuer/acme_challenge.h"
#include "providers/issuer/acme_http.h"
#include "providers/issuer/acme_json.h"
#include "providers/issuer/ari.h"
#include "providers/issuer/jws.h"
#include "providers/base/base64.h"
#include "providers/issuer/acme_store.h"
#include "providers/base/fault.h"
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"

/* badNonce retries of one request.  A CA may reject any nonce (RFC 8555
 * 6.5); one that rejects this many in a row is broken.  Not fewer: against
 * a CA that rejects half of them (Pebble's PEBBLE_WFE_NONCEREJECT=50) a
 * bound of 10 failed one request in 2,000, a few issuances in a hundred. */
#define BAD_NONCE_RETRIES 20
#define POLL_TIMEOUT_S 600          /* authorizations and finalization together */
#define RETRY_AFTER_CAP_S 30        /* never sleep longer than this per poll */
#define POLL_FIRST_MS 100
#define POLL_MAX_MS 2000

struct acme {
	const struct cs_issuer_cfg *issuer;
	const struct cs_issuer_acme *cfg;
	struct cs_acme_http *http;
	json_t *dir;
	char *nonce;
	EVP_PKEY *account_key;
	char *kid;                  /* account URL, NULL until known */
	char *thumbprint;
	const char *state_dir;   /* the state folder, or NULL: keep nothing */
};

static void acme_close(struct acme *a)
{
	cs_acme_http_close(a->http);
	json_decref(a->dir);
	free(a->nonce);
	EVP_PKEY_free(a->account_key);
	free(a->kid);
	free(a->thumbprint);
	memset(a, 0, sizeof *a);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *dir_url(const struct acme *a, const char *name)
{
	return cs_acme_dir_url(a->dir, name);
}

/* ---- requests ---- */

static int get_nonce(struct acme *a, struct cs_err *err)
{
	const char *url = dir_url(a, "newNonce");
	struct cs_acme_resp resp;
	int r = cs_acme_http_request(a->http, "HEAD", url, NULL, NULL, &resp, err);
	if (r < 0)
		return cs_err_prefix(err, "acme newNonce");
	if (!resp.replay_nonce)
		r = cs_err_set(err, -EPROTO, "acme newNonce %s: HTTP %ld without a Replay-Nonce", url, resp.status);
	else {
		free(a->nonce);
		a->nonce = resp.replay_nonce;
		resp.replay_nonce = NULL;
	}
	cs_acme_resp_free(&resp);
	return r;
}

/* A signed POST (payload NULL: POST-as-GET).  A badNonce rejection is
 * retried with the nonce it carries, a bounded number of times.  An HTTP
 * error becomes a problem message in err; resp is filled in any case once
 * the server answered (caller frees it). */
static int post(struct acme *a, const char *url, const char *payload, const char *accept,
		const char *what, struct cs_acme_resp *resp, struct cs_err *err)
{
	memset(resp, 0, sizeof *resp);
	for (int attempt = 0;; attempt++) {
		char *jws = NULL;
		int r;
		if (!a->nonce && (r = get_nonce(a, err)) < 0)
			return r;
		r = cs_jws_sign(&jws, a->account_key, a->kid, a->nonce, url, payload, err);
		free(a->nonce);
		a->nonce = NULL; /* each nonce is good for one request only */
		if (r < 0)
			return r;
		r = cs_acme_http_request(a->http, "POST", url, jws, accept, resp, err);
		free(jws);
		if (r < 0)
			return cs_err_prefix(err, "%s", what);
		if (resp->replay_nonce) {
			a->nonce = resp->replay_nonce;
			resp->replay_nonce = NULL;
		}
		if (resp->status < 400)
			return 0;
		char *type = cs_acme_problem_type(resp);
		bool bad_nonce = type && !strcmp(type, "badNonce");
		free(type);
		if (bad_nonce && attempt < BAD_NONCE_RETRIES) {
			cs_acme_resp_free(resp);
			continue;
		}
		return cs_acme_problem_err(err, what, resp);
	}
}

/* POST and parse the JSON object answered. */
static int post_json(struct acme *a, const char *url, const char *payload, const char *what,
		     json_t **out, struct cs_acme_resp *resp, struct cs_err *err)
{
	*out = NULL;
	int r = post(a, url, payload, NULL, what, resp, err);
	if (r < 0)
		return r;
	*out = cs_acme_body_json(resp);
	if (!*out)
		return cs_err_set(err, -EPROTO, "%s: the answer is not a json object", what);
	return 0;
}

/* ---- directory and account ---- */

/* Open the directory; quick: with short network limits (a plan-time check). */
static int acme_open_directory(struct acme *a, const struct cs_issuer_cfg *issuer, bool quick, struct cs_err *err)
{
	memset(a, 0, sizeof *a);
	a->issuer = issuer;
	a->cfg = &issuer->acme;
	struct cs_acme_resp resp;
	int r = cs_acme_http_open(&a->http, a->cfg->ca_bundle, err);
	if (r < 0)
		return r;
	if (quick)
		cs_acme_http_set_timeouts(a->http, 10, 20);
	r = cs_acme_http_request(a->http, "GET", a->cfg->directory, NULL, "application/json", &resp, err);
	if (r < 0)
		return cs_err_prefix(err, "acme directory");
	if (resp.status != 200) {
		char *what = cs_xasprintf("acme directory: GET %s", a->cfg->directory);
		r = cs_acme_problem_err(err, what, &resp);
		free(what);
		/* The usual cause: a typo in the URL, or the CA's home page
		 * instead of its directory. */
		if (resp.status == 404)
			r = cs_err_set(err, r, "%s (check the issuer's directory: it must be the CA's "
				       "ACME directory URL)", cs_err_msg(err));
		goto out;
	}
	a->dir = cs_acme_body_json(&resp);
	if (!cs_acme_dir_ok(a->dir)) {
		r = cs_err_set(err, -EPROTO, "acme directory %s: not an acme directory (no newNonce, newAccount, newOrder)",
			       a->cfg->directory);
		goto out;
	}
out:
	cs_acme_resp_free(&resp);
	return r;
}

static int acme_open(struct acme *a, const struct cs_issuer_cfg *issuer, struct cs_err *err)
{
	return acme_open_directory(a, issuer, false, err);
}

/* The EAB MAC key: the configured secret, base64url as CAs hand it out. */
static int eab_key(struct cs_buf *out, const struct cs_issuer_acme *cfg, struct cs_err *err)
{
	struct cs_buf text = CS_BUF_INIT;
	char where[256];
	int r = cs_secret_resolve_line(&cfg->eab_hmac, &text, err);
	if (r < 0) {
		cs_err_prefix(err, "external account binding hmac");
		goto out;
	}
	if (!text.len || cs_b64_decode(out, text.data, text.len, CS_B64_URL | CS_B64_NOPAD) < 0 || !out->len)
		r = cs_err_set(err, -EINVAL, "external account binding hmac from %s is not base64url",
			       cs_secret_describe(&cfg->eab_hmac, where, sizeof where));
out:
	cs_buf_free_secret(&text);
	return r;
}

static int new_account(struct acme *a, struct cs_err *err)
{
	const char *url = dir_url(a, "newAccount");
	json_t *payload = json_pack("{s:b, s:[]}", "termsOfServiceAgreed", 1, "contact");
	struct cs_acme_resp resp;
	struct cs_buf mac = CS_BUF_INIT;
	char *text = NULL;
	int r;
	memset(&resp, 0, sizeof resp);
	for (size_t i = 0; i < a->cfg->n_contact; i++)
		json_array_append_new(json_object_get(payload, "contact"), json_string(a->cfg->contact[i]));
	if (a->cfg->eab_kid) {
		json_t *eab = NULL;
		if ((r = eab_key(&mac, a->cfg, err)) < 0 ||
		    (r = cs_jws_eab(&eab, a->cfg->eab_kid, mac.data, mac.len, a->account_key, url, err)) < 0)
			goto out;
		json_object_set_new(payload, "externalAccountBinding", eab);
	}
	text = json_dumps(payload, JSON_COMPACT);
	free(a->kid);
	a->kid = NULL; /* newAccount is signed with the jwk */
	if ((r = post(a, url, text, NULL, "acme newAccount", &resp, err)) < 0)
		goto out;
	if ((resp.status != 200 && resp.status != 201) || !resp.location) {
		r = cs_err_set(err, -EPROTO, "acme newAccount: HTTP %ld without an account URL", resp.status);
		goto out;
	}
	a->kid = cs_xstrdup(resp.location);
	if (a->state_dir)
		r = cs_acme_store_account_save(a->state_dir, a->cfg->directory, a->cfg->contact, a->cfg->n_contact,
					       a->account_key, a->kid, err);
out:
	cs_buf_free_secret(&mac);
	json_decref(payload);
	free(text);
	cs_acme_resp_free(&resp);
	return r;
}

/* Load the account for this directory and contact, or create one.  The key
 * is kept before newAccount is sent: if certsync dies in between, the next
 * run asks again with the same key and the CA returns the same account. */
static int account(struct acme *a, struct cs_err *err)
{
	int r = -ENOENT;
	char *url = NULL;
	if (a->state_dir) {
		r = cs_acme_store_account_load(&a->account_key, &url, a->state_dir, a->cfg->directory,
					       a->cfg->contact, a->cfg->n_contact, err);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == -ENOENT)
			cs_err_clear(err);
	}
	if (!a->account_key) {
		a->account_key = EVP_EC_gen("P-256");
		if (!a->account_key)
			return cs_err_ssl(err, -EIO, "acme account key");
		if (a->state_dir && (r = cs_acme_store_account_save(a->state_dir, a->cfg->directory, a->cfg->contact,
								a->cfg->n_contact, a->account_key, NULL, err)) < 0)
			return r;
	}
	if ((r = cs_jwk_thumbprint(&a->thumbprint, a->account_key, err)) < 0) {
		free(url);
		return r;
	}
	if (url) {
		a->kid = url;
		return 0;
	}
	return new_account(a, err);
}

/* A kid-signed request refused because the CA no longer knows the account
 * (a test CA restarted, an account deactivated elsewhere): register again
 * with the same key, once. */
static bool account_gone(const struct cs_acme_resp *resp)
{
	char *t = cs_acme_problem_type(resp);
	bool gone = t && !strcmp(t, "accountDoesNotExist");
	free(t);
	return gone;
}

/* ---- orders ---- */

static bool names_equal(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

static int new_order(struct acme *a, char **names, size_t n, const char *replaces, char **out_url,
		     json_t **out_order, struct cs_err *err)
{
	json_t *payload = json_pack("{s:[]}", "identifiers");
	for (size_t i = 0; i < n; i++)
		json_array_append_new(json_object_get(payload, "identifiers"),
				      json_pack("{s:s, s:s}", "type", "dns", "value", names[i]));
	if (replaces)
		json_object_set_new(payload, "replaces", json_string(replaces));
	char *text = json_dumps(payload, JSON_COMPACT);
	struct cs_acme_resp resp;
	int r = post_json(a, dir_url(a, "newOrder"), text, "acme newOrder", out_order, &resp, err);
	if (r < 0 && account_gone(&resp)) {
		cs_acme_resp_free(&resp);
		cs_err_clear(err);
		if ((r = new_account(a, err)) == 0)
			r = post_json(a, dir_url(a, "newOrder"), text, "acme newOrder", out_order, &resp, err);
	}
	if (r == 0 && (resp.status != 201 || !resp.location)) {
		json_decref(*out_order);
		*out_order = NULL;
		r = cs_err_set(err, -EPROTO, "acme newOrder: HTTP %ld without an order URL", resp.status);
	}
	if (r == 0)
		*out_url = cs_xstrdup(resp.location);
	cs_acme_resp_free(&resp);
	json_decref(payload);
	free(text);
	return r;
}

/* Poll url (POST-as-GET) until its status is one of want, "invalid" or the
 * deadline passes.  Retry-After is honoured up to RETRY_AFTER_CAP_S; without
 * it the interval starts short (a CA often answers within a second) and
 * grows. */
static int poll_status(struct acme *a, const char *url, const char *what, const char *const *want,
		       int64_t deadline_ms, json_t **out, struct cs_err *err)
{
	int64_t interval = POLL_FIRST_MS;
	*out = NULL;
	for (;;) {
		struct cs_acme_resp resp;
		json_t *obj = NULL;
		int r = post_json(a, url, NULL, what, &obj, &resp, err);
		int64_t retry_after = resp.retry_after;
		cs_acme_resp_free(&resp);
		if (r < 0)
			return r;
		const char *st = cs_acme_status(obj);
		for (const char *const *w = want; *w; w++)
			if (!strcmp(st, *w)) {
				*out = obj;
				return 0;
			}
		if (!strcmp(st, "invalid")) {
			*out = obj;
			return -EPROTO; /* the caller says why */
		}
		json_decref(obj);
		int64_t wait = retry_after >= 0 ? (retry_after > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : retry_after) * 1000
						 : interval;
		if (wait < POLL_FIRST_MS)
			wait = POLL_FIRST_MS;
		if (mono_ms() + wait > deadline_ms)
			return cs_err_set(err, -ETIMEDOUT, "%s: still %s after %d s", what, st, POLL_TIMEOUT_S);
		sleep_ms(wait);
		interval = interval * 2 > POLL_MAX_MS ? POLL_MAX_MS : interval * 2;
	}
}

/* ---- challenges ---- */

struct presented {
	enum cs_challenge_kind kind;
	char *token;               /* http-01 */
	char *dns_name, *dns_value;/* dns-01 */
	char *authz_url;
	char *challenge_url;
	char *identifier;
	bool respond;              /* the challenge still needs our POST {} */
};

struct challenges {
	struct presented *p;
	size_t n;
	struct cs_acme_responder *responder;
	struct cs_transport *transport;
	const char *hook_dir;      /* working folder for the hook */
};

static void challenges_cleanup(struct challenges *c, const struct cs_issuer_acme *cfg)
{
	/* Cleanup failures are not the issuance's failure: a stale token file
	 * or TXT record is harmless, and the certificate may be good. */
	for (size_t i = 0; i < c->n; i++) {
		struct presented *p = &c->p[i];
		struct cs_err ignored = CS_ERR_INIT;
		if (p->kind == CS_CHALLENGE_HTTP01 && c->transport && p->token)
			cs_acme_webroot_remove(c->transport, cfg->http01_webroot, p->token, &ignored);
		else if (p->kind == CS_CHALLENGE_DNS01 && p->dns_name)
			cs_acme_dns_hook(cfg->dns01_hook, "cleanup", p->dns_name, p->dns_value, c->hook_dir, &ignored);
		cs_err_clear(&ignored);
		free(p->token);
		free(p->dns_name);
		free(p->dns_value);
		free(p->authz_url);
		free(p->challenge_url);
		free(p->identifier);
	}
	free(c->p);
	c->p = NULL;
	c->n = 0;
	cs_acme_responder_stop(c->responder);
	c->responder = NULL;
	if (c->transport)
		cs_transport_close(c->transport);
	c->transport = NULL;
}

static int present(struct acme *a, struct challenges *c, struct presented *p, const char *key_auth,
		   const struct cs_issue_ctx *ctx, struct cs_err *err)
{
	const struct cs_issuer_acme *cfg = a->cfg;
	int r = 0;
	if (p->kind == CS_CHALLENGE_DNS01) {
		unsigned char md[32];
		EVP_Digest(key_auth, strlen(key_auth), md, NULL, EVP_sha256(), NULL);
		p->dns_name = cs_xasprintf("_acme-challenge.%s", p->identifier);
		p->dns_value = cs_b64_encode(md, sizeof md, CS_B64_URL | CS_B64_NOPAD);
		r = cs_acme_dns_hook(cfg->dns01_hook, "present", p->dns_name, p->dns_value, c->hook_dir, err);
		if (r < 0) {
			/* Nothing to clean up for a hook that failed to present. */
			free(p->dns_name);
			p->dns_name = NULL;
		}
		return r;
	}
	if (!cs_acme_token_ok(p->token))
		return cs_err_set(err, -EPROTO, "the acme server sent a challenge token that is not base64url");
	if (cfg->http01_standalone) {
		if (!c->responder && (r = cs_acme_responder_start(&c->responder, cfg->http01_standalone, err)) < 0)
			return r;
		cs_acme_responder_add(c->responder, p->token, key_auth);
		return 0;
	}
	if (!c->transport) {
		const struct cs_host_cfg *host = NULL;
		for (size_t i = 0; ctx && cfg->http01_host && !host && i < ctx->n_hosts; i++)
			if (!strcmp(ctx->hosts[i].name, cfg->http01_host))
				host = &ctx->hosts[i];
		if (!host)
			return cs_err_set(err, -EINVAL, "http-01 webroot: host %s is not in the config",
					  cfg->http01_host ? cfg->http01_host : "(none)");
		if ((r = cs_transport_open(&c->transport, host, err)) < 0)
			return cs_err_prefix(err, "http-01 webroot on %s", host->name);
	}
	r = cs_acme_webroot_put(c->transport, cfg->http01_webroot, p->token, key_auth, err);
	if (r < 0) {
		free(p->token); /* nothing written, nothing to remove */
		p->token = NULL;
	}
	return r;
}

/* Prove control of every identifier of the order. */
static int authorize(struct acme *a, json_t *order, const struct cs_issue_ctx *ctx, int64_t deadline,
		     struct cs_err *err)
{
	const struct cs_issuer_acme *cfg = a->cfg;
	const char *want = cs_acme_challenge_name(cfg->challenge);
	struct challenges c;
	memset(&c, 0, sizeof c);
	char *hook_dir = cfg->dns01_hook ? cs_path_dirname(cfg->dns01_hook) : NULL;
	c.hook_dir = hook_dir;
	bool any_dns = false;
	int r = 0;
	size_t i;
	json_t *url;
	json_t *authzs = json_object_get(order, "authorizations");
	if (cfg->challenge == CS_CHALLENGE_NONE) {
		/* Fine while the CA has every name authorized already. */
		want = "(none configured)";
	}
	/* Present everything first, then tell the CA: one propagation wait
	 * for dns-01 however many names there are. */
	json_array_foreach(authzs, i, url) {
		struct cs_acme_resp resp;
		json_t *authz = NULL;
		const char *authz_url = json_string_value(url);
		r = post_json(a, authz_url, NULL, "acme authorization", &authz, &resp, err);
		cs_acme_resp_free(&resp);
		if (r < 0)
			goto out;
		const char *ident = json_string_value(json_object_get(json_object_get(authz, "identifier"), "value"));
		const char *st = cs_acme_status(authz);
		if (!strcmp(st, "valid")) {
			json_decref(authz);
			continue;
		}
		if (strcmp(st, "pending") != 0) {
			r = !strcmp(st, "invalid") ? cs_acme_authz_failed(err, authz, ident ? ident : "?", cfg->challenge)
			    : cs_err_set(err, -EPROTO, "authorization for %s is %s", ident ? ident : "?", st);
			json_decref(authz);
			goto out;
		}
		struct cs_buf offered = CS_BUF_INIT;
		json_t *chosen = cs_acme_challenge_pick(authz, want, &offered);
		if (!chosen && cfg->challenge == CS_CHALLENGE_NONE) {
			r = cs_err_set(err, -EINVAL, "the CA wants a challenge for %s (offered: %s), but the issuer configures none",
				       ident ? ident : "?", offered.data ? offered.data : "none");
			cs_buf_free(&offered);
			json_decref(authz);
			goto out;
		}
		if (!chosen) {
			r = cs_err_set(err, -EPROTO, "authorization for %s offers no %s challenge (offered: %s)",
				       ident ? ident : "?", want, offered.data ? offered.data : "none");
			cs_buf_free(&offered);
			json_decref(authz);
			goto out;
		}
		cs_buf_free(&offered);
		c.p = cs_xrealloc(c.p, (c.n + 1) * sizeof *c.p);
		struct presented *p = &c.p[c.n++];
		memset(p, 0, sizeof *p);
		p->kind = cfg->challenge;
		p->authz_url = cs_xstrdup(authz_url);
		p->challenge_url = cs_xstrdup(json_string_value(json_object_get(chosen, "url")));
		p->identifier = cs_xstrdup(ident ? ident : "");
		p->token = cs_xstrdup(json_string_value(json_object_get(chosen, "token")));
		/* A challenge already processing (an interrupted run answered it)
		 * must not be answered twice, but its response must be served. */
		p->respond = !strcmp(cs_acme_status(chosen), "pending");
		json_decref(authz);
		if (!p->challenge_url || !p->token) {
			r = cs_err_set(err, -EPROTO, "acme %s challenge for %s without url or token", want, p->identifier);
			goto out;
		}
		char *key_auth = cs_xasprintf("%s.%s", p->token, a->thumbprint);
		r = present(a, &c, p, key_auth, ctx, err);
		free(key_auth);
		if (r < 0) {
			cs_err_prefix(err, "%s challenge for %s", want, p->identifier);
			goto out;
		}
		if (p->kind == CS_CHALLENGE_DNS01)
			any_dns = true;
	}
	if (any_dns && cfg->dns01_propagation > 0)
		sleep_ms(cfg->dns01_propagation * 1000);
	for (i = 0; i < c.n; i++) {
		if (!c.p[i].respond)
			continue;
		struct cs_acme_resp resp;
		json_t *ch = NULL;
		r = post_json(a, c.p[i].challenge_url, "{}", "acme challenge", &ch, &resp, err);
		json_decref(ch);
		cs_acme_resp_free(&resp);
		if (r < 0) {
			cs_err_prefix(err, "%s challenge for %s", want, c.p[i].identifier);
			goto out;
		}
	}
	for (i = 0; i < c.n; i++) {
		static const char *const done[] = { "valid", NULL };
		json_t *authz = NULL;
		r = poll_status(a, c.p[i].authz_url, "acme authorization", done, deadline, &authz, err);
		if (r == -EPROTO && authz)
			r = cs_acme_authz_failed(err, authz, c.p[i].identifier, c.p[i].kind);
		json_decref(authz);
		if (r < 0)
			goto out;
	}
out:
	challenges_cleanup(&c, cfg);
	free(hook_dir);
	return r;
}

/* ---- certificate ---- */

static int download(struct acme *a, const char *url, STACK_OF(X509) **out, struct cs_err *err)
{
	struct cs_acme_resp resp;
	STACK_OF(X509) *sk = NULL;
	int r = post(a, url, NULL, "application/pem-certificate-chain", "acme certificate", &resp, err);
	if (r < 0)
		goto out;
	if ((r = cs_acme_parse_chain(&sk, &resp.body, err)) < 0)
		goto out;
	const char *want = a->cfg->preferred_chain;
	if (want && !cs_acme_chain_matches(sk, want)) {
		for (size_t i = 0; i < resp.n_alternates; i++) {
			struct cs_acme_resp alt;
			STACK_OF(X509) *alt_sk = NULL;
			struct cs_err alt_err = CS_ERR_INIT;
			/* An alternate that cannot be fetched is no worse than the
			 * default chain, which stays. */
			if (post(a, resp.alternates[i], NULL, "application/pem-certificate-chain",
				 "acme alternate chain", &alt, &alt_err) == 0 &&
			    cs_acme_parse_chain(&alt_sk, &alt.body, &alt_err) == 0 && cs_acme_chain_matches(alt_sk, want)) {
				sk_X509_pop_free(sk, X509_free);
				sk = alt_sk;
				alt_sk = NULL;
				i = resp.n_alternates;
			}
			sk_X509_pop_free(alt_sk, X509_free);
			cs_acme_resp_free(&alt);
			cs_err_clear(&alt_err);
		}
	}
	*out = sk;
	sk = NULL;
out:
	sk_X509_pop_free(sk, X509_free);
	cs_acme_resp_free(&resp);
	return r;
}

/* ---- ARI ---- */

static int acme_renewal_window(struct cs_renewal_window *out, const struct cs_issuer_cfg *issuer,
			       X509 *cert, struct cs_err *err)
{
	struct acme a;
	char *id = NULL, *url = NULL;
	struct cs_acme_resp resp;
	struct cs_ari_window w;
	memset(out, 0, sizeof *out);
	memset(&resp, 0, sizeof resp);
	memset(&w, 0, sizeof w);
	int r = acme_open(&a, issuer, err);
	if (r < 0)
		goto out;
	if (!dir_url(&a, "renewalInfo")) {
		r = cs_err_set(err, -ENOTSUP, "acme server %s offers no renewal information", a.cfg->directory);
		goto out;
	}
	if ((r = cs_ari_cert_id(&id, cert, err)) < 0)
		goto out;
	url = cs_acme_renewal_info_url(a.dir, id);
	if ((r = cs_acme_http_request(a.http, "GET", url, NULL, "application/json", &resp, err)) < 0)
		goto out;
	if (resp.status != 200) {
		r = cs_acme_problem_err(err, "acme renewal info", &resp);
		goto out;
	}
	if ((r = cs_ari_parse(&w, resp.body.data, resp.body.len, err)) < 0)
		goto out;
	out->start = w.start;
	out->end = w.end;
	out->source = w.explanation_url ? cs_xasprintf("acme renewal info %s (explanation %s)", url, w.explanation_url)
					: cs_xasprintf("acme renewal info %s", url);
out:
	if (r < 0)
		cs_err_prefix(err, "issuer %s", issuer->name);
	cs_ari_window_free(&w);
	cs_acme_resp_free(&resp);
	free(id);
	free(url);
	acme_close(&a);
	return r;
}

/* ---- issue ---- */

/* Pick up the order in flight for this certificate, if it is still usable. */
static int resume_order(struct acme *a, const struct cs_cert_cfg *cert, char **names, size_t n,
			X509 *current, struct cs_acme_order_rec *rec, json_t **out_order, struct cs_err *err)
{
	*out_order = NULL;
	int r = cs_acme_store_order_load(rec, a->state_dir, cert->name, err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	/* The record stays until the next order: one whose key is the current
	 * certificate's was saved already, and is done with. */
	bool saved = rec->key && current && X509_get0_pubkey(current) &&
		     EVP_PKEY_eq(X509_get0_pubkey(current), rec->key) == 1;
	if (!saved && cs_streq(rec->directory, a->cfg->directory) && cs_streq(rec->account, a->kid) &&
	    names_equal(rec->names, rec->n_names, names, n)) {
		struct cs_acme_resp resp;
		json_t *order = NULL;
		struct cs_err ignored = CS_ERR_INIT;
		/* An order the CA forgot or that expired is simply replaced. */
		if (post_json(a, rec->url, NULL, "acme order", &order, &resp, &ignored) == 0) {
			const char *st = cs_acme_status(order);
			bool usable = !strcmp(st, "pending") || !strcmp(st, "ready") ||
				      ((!strcmp(st, "processing") || !strcmp(st, "valid")) && rec->key);
			if (usable)
				*out_order = order;
			else
				json_decref(order);
		}
		cs_acme_resp_free(&resp);
		cs_err_clear(&ignored);
		if (*out_order)
			return 0;
	}
	cs_acme_order_rec_free(rec);
	return cs_acme_store_order_drop(a->state_dir, cert->name, err);
}

static int acme_issue_ctx(struct cs_issue_ctx *ctx, const struct cs_issuer_cfg *issuer,
			  const struct cs_cert_cfg *cert, X509_REQ *csr, X509 **out_cert,
			  STACK_OF(X509) **out_chain, struct cs_err *err)
{
	struct acme a;
	struct cs_acme_order_rec rec;
	json_t *order = NULL;
	char *order_url = NULL, *replaces = NULL;
	STACK_OF(X509) *sk = NULL;
	unsigned char *der = NULL;
	size_t n_names = 0;
	char **names = cs_cert_names(cert, &n_names);
	EVP_PKEY *final_key = NULL;   /* the key the certificate must be for */
	int64_t deadline = mono_ms() + (int64_t)POLL_TIMEOUT_S * 1000;
	int r;
	memset(&rec, 0, sizeof rec);
	*out_cert = NULL;
	*out_chain = NULL;
	if ((r = acme_open(&a, issuer, err)) < 0)
		goto out;
	a.state_dir = ctx ? ctx->state_dir : NULL;
	if ((r = account(&a, err)) < 0)
		goto out;

	if (a.state_dir && (r = resume_order(&a, cert, names, n_names, ctx ? ctx->current : NULL, &rec, &order, err)) < 0)
		goto out;
	if (order) {
		order_url = cs_xstrdup(rec.url);
	} else {
		/* "replaces" only for a certificate this CA (this issuer) made:
		 * asking one CA about another's certificate is an error. */
		if (ctx && ctx->current && cs_streq(ctx->current_issuer, issuer->name) && dir_url(&a, "renewalInfo")) {
			struct cs_err ignored = CS_ERR_INIT;
			if (cs_ari_cert_id(&replaces, ctx->current, &ignored) < 0)
				replaces = NULL;
			cs_err_clear(&ignored);
		}
		cs_fault_point("acme.order-intent");
		r = new_order(&a, names, n_names, replaces, &order_url, &order, err);
		if (r < 0 && replaces && r != -EAGAIN) {
			/* A CA may refuse "replaces" (already replaced, or another
			 * account's certificate); the renewal must still happen. */
			cs_err_clear(err);
			r = new_order(&a, names, n_names, NULL, &order_url, &order, err);
		}
		if (r < 0)
			goto out;
		if (a.state_dir) {
			rec.directory = cs_xstrdup(a.cfg->directory);
			rec.account = cs_xstrdup(a.kid);
			rec.url = cs_xstrdup(order_url);
			rec.names = cs_xcalloc(n_names ? n_names : 1, sizeof *rec.names);
			for (size_t i = 0; i < n_names; i++)
				rec.names[i] = cs_xstrdup(names[i]);
			rec.n_names = n_names;
			rec.created = cs_now();
			/* A kill before this line leaves an order the CA made and
			 * nobody finalizes: no certificate comes of it. */
			cs_fault_point("acme.order-posted");
			if ((r = cs_acme_store_order_save(a.state_dir, cert->name, &rec, err)) < 0)
				goto out;
			cs_fault_point("acme.order-created");
		}
	}

	const char *st = cs_acme_status(order);
	if (!strcmp(st, "pending")) {
		if ((r = authorize(&a, order, ctx, deadline, err)) < 0)
			goto order_failed;
		static const char *const ready[] = { "ready", "processing", "valid", NULL };
		json_decref(order);
		if ((r = poll_status(&a, order_url, "acme order", ready, deadline, &order, err)) < 0)
			goto order_failed;
		cs_fault_point("acme.authorized");
		st = cs_acme_status(order);
	}
	if (!strcmp(st, "ready")) {
		/* Keep the CSR's key with the order before finalize: once the CA
		 * has it, the certificate will be for this key, whatever happens
		 * to this process. */
		if (a.state_dir && ctx && ctx->key) {
			EVP_PKEY_free(rec.key);
			rec.key = ctx->key;
			EVP_PKEY_up_ref(ctx->key);
			if ((r = cs_acme_store_order_save(a.state_dir, cert->name, &rec, err)) < 0)
				goto out;
			cs_fault_point("acme.key-saved");
		}
		int der_len = i2d_X509_REQ(csr, &der);
		if (der_len <= 0) {
			r = cs_err_ssl(err, -EINVAL, "acme finalize: csr");
			goto out;
		}
		char *b64 = cs_b64_encode(der, (size_t)der_len, CS_B64_URL | CS_B64_NOPAD);
		char *payload = cs_xasprintf("{\"csr\":\"%s\"}", b64);
		free(b64);
		const char *finalize = json_string_value(json_object_get(order, "finalize"));
		struct cs_acme_resp resp;
		json_t *answer = NULL;
		r = finalize ? post_json(&a, finalize, payload, "acme finalize", &answer, &resp, err)
			     : cs_err_set(err, -EPROTO, "acme order %s has no finalize url", order_url);
		free(payload);
		json_decref(answer);
		if (finalize)
			cs_acme_resp_free(&resp);
		if (r < 0)
			goto out;
		cs_fault_point("acme.finalized");
		final_key = X509_REQ_get_pubkey(csr);
	} else if (!strcmp(st, "processing") || !strcmp(st, "valid")) {
		/* Finalized by an earlier, interrupted run: with that run's key. */
		if (!rec.key) {
			r = cs_err_set(err, -EPROTO, "acme order %s was finalized, but its key is not in the state folder",
				       order_url);
			goto out;
		}
		final_key = rec.key;
		EVP_PKEY_up_ref(final_key);
	} else {
		r = cs_err_set(err, -EPROTO, "acme order %s is %s", order_url, st);
		goto out;
	}

	if (strcmp(cs_acme_status(order), "valid") != 0) {
		static const char *const valid[] = { "valid", NULL };
		json_decref(order);
		if ((r = poll_status(&a, order_url, "acme order", valid, deadline, &order, err)) < 0)
			goto order_failed;
	}
	const char *cert_url = json_string_value(json_object_get(order, "certificate"));
	if (!cert_url) {
		r = cs_err_set(err, -EPROTO, "acme order %s is valid but has no certificate url", order_url);
		goto out;
	}
	if ((r = download(&a, cert_url, &sk, err)) < 0)
		goto out;
	cs_fault_point("acme.downloaded");
	X509 *leaf = sk_X509_shift(sk);
	if (!final_key || !X509_get0_pubkey(leaf) || EVP_PKEY_eq(X509_get0_pubkey(leaf), final_key) != 1) {
		X509_free(leaf);
		r = cs_err_set(err, -EPROTO, "acme certificate from %s is not for the key that was sent", cert_url);
		goto out;
	}
	if (ctx && final_key == rec.key && rec.key && (!ctx->key || EVP_PKEY_eq(rec.key, ctx->key) != 1)) {
		ctx->out_key = rec.key;
		rec.key = NULL;
	}
	*out_cert = leaf;
	*out_chain = sk;
	sk = NULL;
	/* The order record stays until the certificate is saved as the
	 * current one (see resume_order): a run killed in between downloads
	 * the same certificate again instead of ordering a second one. */
	r = 0;
	goto out;

order_failed:
	if (r == -EPROTO && order && !strcmp(cs_acme_status(order), "invalid")) {
		struct cs_buf b = CS_BUF_INIT;
		json_t *e = json_object_get(order, "error");
		if (e)
			cs_acme_problem_describe(&b, e);
		r = cs_err_set(err, -EPROTO, "acme order %s is invalid%s%s", order_url, b.len ? ": " : "",
			       b.len ? b.data : "");
		cs_buf_free(&b);
	}
	/* An invalid order cannot be resumed: forget it. */
	if (a.state_dir && r == -EPROTO) {
		struct cs_err ignored = CS_ERR_INIT;
		cs_acme_store_order_drop(a.state_dir, cert->name, &ignored);
		cs_err_clear(&ignored);
	}
out:
	if (r < 0)
		cs_err_prefix(err, "issuer %s", issuer->name);
	if (final_key)
		EVP_PKEY_free(final_key);
	OPENSSL_free(der);
	sk_X509_pop_free(sk, X509_free);
	json_decref(order);
	free(order_url);
	free(replaces);
	cs_acme_order_rec_free(&rec);
	cs_strv_free(names, n_names);
	acme_close(&a);
	return r;
}

static void acme_saved(struct cs_issue_ctx *ctx, const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert)
{
	(void)issuer;
	struct cs_err ignored = CS_ERR_INIT;
	/* Done with this order: a later run orders afresh.  A record that
	 * stays is recognised as saved (its key is the current one). */
	if (ctx && ctx->state_dir)
		cs_acme_store_order_drop(ctx->state_dir, cert->name, &ignored);
	cs_err_clear(&ignored);
}

/* Plan-time check: the directory answers and is an ACME directory (a typo
 * in its URL, a CA that is down, a missing ca_bundle).  Asked once per
 * issuer per run, however many certificates use it. */
static int acme_ready(const struct cs_issuer_cfg *issuer, struct cs_err *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	/* Keyed by what is asked (directory and trust), not by the config
	 * object, which a later config in the same process may reuse. */
	static struct answer { char *directory, *ca_bundle; int r; char *msg; } *answers;
	static size_t n_answers;
	const char *dir = issuer->acme.directory, *bundle = issuer->acme.ca_bundle;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_answers; i++)
		if (cs_streq(answers[i].directory, dir) && cs_streq(answers[i].ca_bundle, bundle)) {
			int r = answers[i].r;
			if (r < 0)
				cs_err_set(err, r, "%s", answers[i].msg);
			pthread_mutex_unlock(&lock);
			return r;
		}
	struct acme a;
	struct cs_err why = CS_ERR_INIT;
	int r = acme_open_directory(&a, issuer, true, &why);
	acme_close(&a);
	answers = cs_xrealloc(answers, (n_answers + 1) * sizeof *answers);
	answers[n_answers++] = (struct answer){ cs_xstrdup(dir), bundle ? cs_xstrdup(bundle) : NULL, r,
						r < 0 ? cs_xstrdup(cs_err_msg(&why)) : NULL };
	if (r < 0)
		cs_err_set(err, r, "%s", cs_err_msg(&why));
	cs_err_clear(&why);
	pthread_mutex_unlock(&lock);
	return r;
}

static int acme_issue(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert, X509_REQ *csr,
		      X509 **out_cert, STACK_OF(X509) **out_chain, struct cs_err *err)
{
	/* Without a state folder: a throwaway account and no resumable order.
	 * certsync itself always goes through issue_ctx. */
	return acme_issue_ctx(NULL, issuer, cert, csr, out_cert, out_chain, err);
}

/* ---- config body ---- */

static void parse_challenge(struct cs_yaml *y, struct cs_issuer_cfg *is, const struct cs_ynode *m, const struct cs_issuer_refs *refs)
{
	static const char *const keys[] = { "http-01", "dns-01", NULL };
	static const char *const http_keys[] = { "host", "webroot", "standalone", NULL };
	static const char *const dns_keys[] = { "hook", "propagation", NULL };
	struct cs_issuer_acme *a = &is->acme;
	const char *shown = cs_yaml_esc(y, is->name);
	const char *where = cs_yaml_fmt(y, "in challenge of issuer %s", shown);
	cs_yaml_check_keys(y, m, keys, where);
	int k = cs_yaml_exactly_one(y, m, keys, cs_yaml_fmt(y, "challenge of issuer %s", shown), "choose one");
	if (k < 0) {
		if (!cs_yaml_guessed(y, m, keys))
			cs_yaml_report(y, m, "challenge of issuer %s needs http-01 or dns-01", shown);
		return;
	}
	a->challenge = k == 0 ? CS_CHALLENGE_HTTP01 : CS_CHALLENGE_DNS01;

	struct cs_ynode *h = cs_yaml_map(y, m, "http-01", where, false);
	if (h) {
		const char *hw = cs_yaml_fmt(y, "in http-01 of issuer %s", shown);
		cs_yaml_check_keys(y, h, http_keys, hw);
		struct cs_ynode *sv = cs_yaml_str(y, h, "standalone", hw, false, &a->http01_standalone);
		bool has_host = cs_yaml_lookup(y, h, "host", NULL) || cs_yaml_lookup(y, h, "webroot", NULL);
		if (sv && has_host) {
			cs_yaml_report(y, sv, "http-01 of issuer %s has standalone and host/webroot: use one way to answer "
			       "the challenge", shown);
		} else if (sv) {
			const char *why = cs_hostport_problem(a->http01_standalone, NULL, NULL);
			if (why)
				cs_yaml_report(y, sv, "invalid standalone \"%s\" %s: %s", cs_yaml_esc(y, a->http01_standalone), hw, why);
		} else if (!cs_yaml_lookup(y, h, "standalone", NULL)) {
			struct cs_ynode *hv = cs_yaml_str(y, h, "host", hw, true, &a->http01_host);
			if (hv)
				refs->host(refs->ctx, hv, a->http01_host, hw);
			struct cs_ynode *wv = cs_yaml_str(y, h, "webroot", hw, true, &a->http01_webroot);
			if (wv && a->http01_webroot[0] != '/')
				cs_yaml_report(y, wv, "\"webroot\" %s must be an absolute path on host %s", hw,
				       cs_yaml_esc(y, a->http01_host ? a->http01_host : "?"));
		}
	}
	struct cs_ynode *d = cs_yaml_map(y, m, "dns-01", where, false);
	if (d) {
		const char *dw = cs_yaml_fmt(y, "in dns-01 of issuer %s", shown);
		cs_yaml_check_keys(y, d, dns_keys, dw);
		cs_yaml_local_file(y, d, "hook", dw, true, &a->dns01_hook);
		cs_yaml_duration(y, d, "propagation", dw, false, CS_DURATION_MAX_WAIT, &a->dns01_propagation);
	}
}

static void acme_parse(struct cs_yaml *y, struct cs_issuer_cfg *is, const struct cs_ynode *m, const struct cs_issuer_refs *refs)
{
	static const char *const keys[] = {
		"directory", "contact", "ca_bundle", "eab", "challenge", "preferred_chain", NULL,
	};
	static const char *const eab_keys[] = { "kid", "hmac", NULL };
	struct cs_issuer_acme *a = &is->acme;
	const char *shown = cs_yaml_esc(y, is->name);
	const char *where = cs_yaml_fmt(y, "in acme of issuer %s", shown);
	a->dns01_propagation = 60;
	cs_yaml_check_keys(y, m, keys, where);
	struct cs_ynode *v = cs_yaml_str(y, m, "directory", where, true, &a->directory);
	/* The ACME client speaks https only, to any host, loopback included
	 * (acme_http.c; RFC 8555 §6.1): anything else would pass validate and
	 * fail at the first request. */
	if (v && !(strncmp(a->directory, "https://", 8) == 0 && a->directory[8]))
		cs_yaml_report(y, v, "\"directory\" %s must be an https:// URL (ACME is https only), got \"%s\"",
		       where, cs_yaml_esc(y, a->directory));
	v = cs_yaml_seq(y, m, "contact", where, false);
	if (v) {
		a->contact = cs_xcalloc(cs_yaml_n_items(v), sizeof *a->contact);
		for (size_t i = 0; i < cs_yaml_n_items(v); i++) {
			const char *s = cs_yaml_scalar_text(y, cs_yaml_item(y, v, i), "contact", where);
			if (s)
				a->contact[a->n_contact++] = cs_xstrdup(s);
		}
	}
	cs_yaml_local_file(y, m, "ca_bundle", where, false, &a->ca_bundle);
	v = cs_yaml_map(y, m, "eab", where, false);
	if (v) {
		const char *ew = cs_yaml_fmt(y, "in eab of issuer %s", shown);
		cs_yaml_check_keys(y, v, eab_keys, ew);
		cs_yaml_str(y, v, "kid", ew, true, &a->eab_kid);
		cs_yaml_secret(y, v, "hmac", ew, true, &a->eab_hmac);
	}
	v = cs_yaml_map(y, m, "challenge", where, false);
	if (v)
		parse_challenge(y, is, v, refs);
	cs_yaml_str(y, m, "preferred_chain", where, false, &a->preferred_chain);
}

const struct cs_issuer_ops cs_issuer_acme = {
	.name = "acme",
	.parse = acme_parse,
	.asynchronous = false,
	.issue = acme_issue,                  /* no state folder: throwaway account */
	.collect = NULL,                      /* synchronous */
	.collected = NULL,
	.issued_by = NULL,                    /* the store's record says which issuer */
	.request_location = NULL,
	.issue_ctx = acme_issue_ctx,          /* the whole order, resumable */
	.saved = acme_saved,                  /* drops the order record */
	.renewal_window = acme_renewal_window,/* RFC 9773 */
	.ready = acme_ready,                  /* the directory answers */
};
