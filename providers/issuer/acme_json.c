/* Reading what an ACME server answers, without network (acme_json.h). */
#include "providers/issuer/acme_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "providers/base/util.h"

static const char *str_or(const char *s)
{
	return s ? s : "?";
}

/* ---- problem documents (RFC 7807, RFC 8555 §6.7) ---- */

json_t *cs_acme_body_json(const struct cs_acme_resp *resp)
{
	if (!resp->body.len)
		return NULL;
	json_t *v = json_loadb(resp->body.data, resp->body.len, 0, NULL);
	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* The problem's type with the ACME prefix cut ("badNonce"), or NULL. */
char *cs_acme_problem_type(const struct cs_acme_resp *resp)
{
	json_t *p = cs_acme_body_json(resp);
	const char *t = json_string_value(json_object_get(p, "type"));
	char *s = NULL;
	if (t)
		s = cs_xstrdup(!strncmp(t, CS_ACME_ERR_PREFIX, strlen(CS_ACME_ERR_PREFIX)) ? t + strlen(CS_ACME_ERR_PREFIX) : t);
	json_decref(p);
	return s;
}

void cs_acme_problem_describe(struct cs_buf *b, json_t *p)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	const char *detail = json_string_value(json_object_get(p, "detail"));
	cs_buf_printf(b, "%s", type ? type : "problem without a type");
	if (detail && *detail)
		cs_buf_printf(b, ": %s", detail);
	json_t *subs = json_object_get(p, "subproblems");
	if (json_is_array(subs) && json_array_size(subs)) {
		cs_buf_puts(b, " [");
		size_t i;
		json_t *sp;
		json_array_foreach(subs, i, sp) {
			json_t *id = json_object_get(sp, "identifier");
			const char *st = json_string_value(json_object_get(sp, "type"));
			const char *sd = json_string_value(json_object_get(sp, "detail"));
			if (i)
				cs_buf_puts(b, "; ");
			if (id)
				cs_buf_printf(b, "%s %s: ", str_or(json_string_value(json_object_get(id, "type"))),
					      str_or(json_string_value(json_object_get(id, "value"))));
			cs_buf_printf(b, "%s", st ? st : "?");
			if (sd && *sd)
				cs_buf_printf(b, ": %s", sd);
		}
		cs_buf_puts(b, "]");
	}
}

/* "WHAT: HTTP 403: urn:...:unauthorized: detail [subproblems], retry after 60 s" */
int cs_acme_problem_err(struct cs_err *err, const char *what, const struct cs_acme_resp *resp)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_printf(&b, "%s: HTTP %ld", what, resp->status);
	json_t *p = cs_acme_body_json(resp);
	if (p && json_object_get(p, "type")) {
		cs_buf_puts(&b, ": ");
		cs_acme_problem_describe(&b, p);
	}
	json_decref(p);
	int code = -EPROTO;
	if (resp->status == 429) {
		code = -EAGAIN;
		if (resp->retry_after >= 0)
			cs_buf_printf(&b, " (rate limited: retry after %lld s)", (long long)resp->retry_after);
		else
			cs_buf_puts(&b, " (rate limited)");
	} else if (resp->status == 401 || resp->status == 403) {
		code = -EACCES;
	} else if (resp->status == 404) {
		code = -ENOENT;
	}
	int r = cs_err_set(err, code, "%s", b.data ? b.data : what);
	cs_buf_free(&b);
	return r;
}

/* ---- directory ---- */

const char *cs_acme_dir_url(json_t *dir, const char *name)
{
	return json_string_value(json_object_get(dir, name));
}

bool cs_acme_dir_ok(json_t *dir)
{
	return cs_acme_dir_url(dir, "newNonce") && cs_acme_dir_url(dir, "newAccount") &&
	       cs_acme_dir_url(dir, "newOrder");
}

char *cs_acme_renewal_info_url(json_t *dir, const char *cert_id)
{
	const char *base = cs_acme_dir_url(dir, "renewalInfo");
	if (!base)
		return NULL;
	size_t n = strlen(base);
	return cs_xasprintf("%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", cert_id);
}

/* ---- orders, authorizations, challenges ---- */

const char *cs_acme_status(json_t *obj)
{
	const char *s = json_string_value(json_object_get(obj, "status"));
	return s ? s : "";
}

const char *cs_acme_challenge_name(enum cs_challenge_kind k)
{
	return k == CS_CHALLENGE_DNS01 ? "dns-01" : "http-01";
}

json_t *cs_acme_challenge_pick(json_t *authz, const char *want, struct cs_buf *offered)
{
	json_t *chosen = NULL, *ch;
	size_t k;
	json_array_foreach(json_object_get(authz, "challenges"), k, ch) {
		const char *type = json_string_value(json_object_get(ch, "type"));
		if (type && !strcmp(type, want))
			chosen = ch;
		cs_buf_printf(offered, "%s%s", offered->len ? ", " : "", type ? type : "?");
	}
	return chosen;
}

/* The reason an authorization failed, from its challenges' error objects. */
int cs_acme_authz_failed(struct cs_err *err, json_t *authz, const char *identifier, enum cs_challenge_kind kind)
{
	struct cs_buf b = CS_BUF_INIT;
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(authz, "challenges"), i, ch) {
		json_t *e = json_object_get(ch, "error");
		if (!e)
			continue;
		if (b.len)
			cs_buf_puts(&b, "; ");
		cs_buf_printf(&b, "%s: ", str_or(json_string_value(json_object_get(ch, "type"))));
		cs_acme_problem_describe(&b, e);
	}
	int r = cs_err_set(err, -EPROTO, "authorization for %s is invalid (%s challenge)%s%s", identifier,
			   cs_acme_challenge_name(kind), b.len ? ": " : "", b.len ? b.data : "");
	cs_buf_free(&b);
	return r;
}

/* ---- certificate ---- */

int cs_acme_parse_chain(STACK_OF(X509) **out, const struct cs_buf *body, struct cs_err *err)
{
	BIO *bio = BIO_new_mem_buf(body->data, (int)body->len);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	while (bio && sk && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error(); /* the loop ends on "no start line" */
	BIO_free(bio);
	if (!sk || sk_X509_num(sk) == 0) {
		sk_X509_pop_free(sk, X509_free);
		return cs_err_set(err, -EPROTO, "acme certificate: no PEM certificate in the answer");
	}
	*out = sk;
	return 0;
}

/* The issuer CN of the topmost certificate: the name a preferred chain is
 * chosen by (the root the chain leads to). */
bool cs_acme_chain_matches(STACK_OF(X509) *sk, const char *want)
{
	X509 *top = sk_X509_value(sk, sk_X509_num(sk) - 1);
	char cn[256];
	if (X509_NAME_get_text_by_NID(X509_get_issuer_name(top), NID_commonName, cn, sizeof cn) < 0)
		return false;
	return !strcmp(cn, want);
}
