/* HTTP for the ACME client, on libcurl: one handle per issuance (connections
 * are reused), TLS always verified (against the issuer's ca_bundle when
 * configured, else the system's trust store), response bodies read into a
 * capped buffer, and the headers ACME needs picked out.
 *
 * Ownership: a struct cs_acme_resp is the caller's; cs_acme_resp_free()
 * releases its members. */
#ifndef CS_ACME_HTTP_H
#define CS_ACME_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

#define CS_ACME_BODY_MAX (1u << 20)   /* no ACME resource comes near a MiB */
#define CS_ACME_MAX_LINKS 16

struct cs_acme_http;

struct cs_acme_resp {
	long status;               /* HTTP status code */
	struct cs_buf body;        /* capped at CS_ACME_BODY_MAX */
	char *content_type;        /* without parameters, lowercased; or NULL */
	char *location;
	char *replay_nonce;
	int64_t retry_after;       /* seconds from now; -1 when absent or unreadable */
	char *alternates[CS_ACME_MAX_LINKS];  /* Link: <...>;rel="alternate" */
	size_t n_alternates;
	bool too_big;              /* the body went past the cap (the request failed) */
};
void cs_acme_resp_free(struct cs_acme_resp *r); /* members only; accepts NULL */

/* ca_bundle: PEM file to trust instead of the system store, or NULL. */
int cs_acme_http_open(struct cs_acme_http **out, const char *ca_bundle, struct cs_err *err);
void cs_acme_http_close(struct cs_acme_http *h); /* accepts NULL */
/* Shorter limits than the defaults (30 s to connect, 120 s a request), for
 * checks that must not hold up a plan. */
void cs_acme_http_set_timeouts(struct cs_acme_http *h, long connect_s, long request_s);

/* method "GET", "HEAD" or "POST" (then body is sent as application/jose+json).
 * accept: Accept header or NULL.  Any HTTP status is a success of this call;
 * only transport failures (connect, TLS, response too large) are errors. */
int cs_acme_http_request(struct cs_acme_http *h, const char *method, const char *url,
			 const char *body, const char *accept, struct cs_acme_resp *out,
			 struct cs_err *err);

/* Retry-After: delta-seconds or an HTTP-date, as seconds from now (>= 0);
 * -1 when neither.  Exposed for tests. */
int64_t cs_acme_parse_retry_after(const char *value, int64_t now);

#endif
