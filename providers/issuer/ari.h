/* ACME Renewal Information (RFC 9773): the certificate identifier a CA's
 * renewalInfo resource is addressed by, and its suggested renewal window.
 *
 * certID = base64url(authorityKeyIdentifier keyIdentifier) "."
 *          base64url(the content octets of the DER INTEGER serial)
 * The serial keeps the leading 0x00 octet DER puts in front of a serial
 * whose top bit is set: that is exactly what RFC 9773 §4.1 asks for and
 * what some early clients got wrong. */
#ifndef CS_ARI_H
#define CS_ARI_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include "providers/base/err.h"

/* From raw parts (unit tests: the RFC's own example). */
int cs_ari_cert_id_raw(char **out, const unsigned char *aki, size_t aki_len,
		       const ASN1_INTEGER *serial, struct cs_err *err);
/* From a certificate; -ENOENT when it has no authorityKeyIdentifier keyid. */
int cs_ari_cert_id(char **out, X509 *cert, struct cs_err *err);

struct cs_ari_window {
	int64_t start;             /* unix seconds */
	int64_t end;
	char *explanation_url;     /* or NULL */
};
void cs_ari_window_free(struct cs_ari_window *w); /* members only; accepts NULL */

/* Parse a renewalInfo response body: {"suggestedWindow":{"start":RFC3339,
 * "end":RFC3339}, "explanationURL"?}.  -EINVAL (with the reason) when the
 * window is missing, not RFC 3339, or end is not after start. */
int cs_ari_parse(struct cs_ari_window *out, const char *body, size_t len, struct cs_err *err);

#endif
