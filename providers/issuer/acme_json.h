/* Reading what an ACME server answers (RFC 8555, RFC 7807 problems): the
 * JSON of directory, account, order, authorization and problem documents
 * and the PEM certificate chain, without any network, so that acme.c's
 * decisions about a server's answers can be fed any bytes
 * (fuzz/fuzz_acme_json.c) and tested on their own.
 *
 * Ownership: json_t results are new references (json_decref); strings the
 * caller frees unless said otherwise. */
#ifndef CS_ACME_JSON_H
#define CS_ACME_JSON_H

#include <stdbool.h>
#include <jansson.h>
#include <openssl/x509.h>
#include "providers/issuer/acme_http.h"
#include "providers/base/buf.h"
#include "providers/issuer/issuer_cfg.h"
#include "providers/base/err.h"

#define CS_ACME_ERR_PREFIX "urn:ietf:params:acme:error:"

/* The response body as a JSON object; NULL when empty, not JSON or not an
 * object. */
json_t *cs_acme_body_json(const struct cs_acme_resp *resp);

/* The body's problem type with the ACME prefix cut ("badNonce"), or NULL. */
char *cs_acme_problem_type(const struct cs_acme_resp *resp);

/* "type: detail [identifier type value: subtype: subdetail; ...]" appended
 * to b for a problem object p. */
void cs_acme_problem_describe(struct cs_buf *b, json_t *p);

/* An HTTP error answer as err: "WHAT: HTTP 403: type: detail" (and the
 * rate limit's Retry-After); the code -EAGAIN for 429, -EACCES for 401 and
 * 403, -ENOENT for 404, else -EPROTO.  Returns the code. */
int cs_acme_problem_err(struct cs_err *err, const char *what, const struct cs_acme_resp *resp);

/* A directory's URL for name ("newNonce"), or NULL; the string belongs to
 * dir. */
const char *cs_acme_dir_url(json_t *dir, const char *name);
/* Does dir name newNonce, newAccount and newOrder? */
bool cs_acme_dir_ok(json_t *dir);
/* The renewalInfo URL of a certificate id, or NULL when the directory has
 * no renewalInfo. */
char *cs_acme_renewal_info_url(json_t *dir, const char *cert_id);

/* An order's, authorization's or challenge's status, "" when absent; the
 * string belongs to obj. */
const char *cs_acme_status(json_t *obj);

/* "http-01" or "dns-01". */
const char *cs_acme_challenge_name(enum cs_challenge_kind k);

/* The challenge of type want in an authorization (a reference into
 * authz), or NULL; offered gets the types offered, comma separated. */
json_t *cs_acme_challenge_pick(json_t *authz, const char *want, struct cs_buf *offered);

/* Why an invalid authorization failed, from its challenges' errors, as err
 * (-EPROTO). */
int cs_acme_authz_failed(struct cs_err *err, json_t *authz, const char *identifier,
			 enum cs_challenge_kind kind);

/* The PEM certificates of a certificate download, leaf first; -EPROTO when
 * there is none.  Free with sk_X509_pop_free(*out, X509_free). */
int cs_acme_parse_chain(STACK_OF(X509) **out, const struct cs_buf *body, struct cs_err *err);
/* Is want the issuer CN of the chain's topmost certificate (the root a
 * preferred chain is chosen by)? */
bool cs_acme_chain_matches(STACK_OF(X509) *sk, const char *want);

#endif
