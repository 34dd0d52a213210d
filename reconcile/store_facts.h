/* What a stored certificate's meta.json says about the certificate, so that
 * observe and plan need not parse it when its files are the ones certsync
 * wrote (their SHA-256 in meta.json match):
 *
 *   "cert": {"version": 1, "subject", "issuer", "common_name", "issuer_cn",
 *            "dns_names": [...], "serial", "not_before", "not_after" (unix
 *            seconds), "sha1", "sha256" (of the DER), "key": {"type",
 *            "bits", "curve"}, "ski", "aki", "is_ca",
 *            "signed_by": SHA-256 of the public key (SubjectPublicKeyInfo
 *            DER) of the first chain certificate, present only when that
 *            certificate's key verified the leaf's signature at save time}
 *
 * A meta.json without "cert" (an older certsync) or with another version
 * is read as before: the certificate is parsed. */
#ifndef CS_STORE_FACTS_H
#define CS_STORE_FACTS_H

#include <jansson.h>
#include <openssl/x509.h>
#include "providers/base/err.h"
#include "providers/base/x509.h"

/* The "cert" object for leaf (chain: its chain, may be NULL or empty); NULL
 * when the certificate cannot be described. */
json_t *cs_store_facts_make(X509 *leaf, STACK_OF(X509) *chain);
/* Read the "cert" object back: 0 with *out filled and *signed_by (caller
 * frees; NULL when none was recorded), -EINVAL when the object is missing,
 * of another version or incomplete (then nothing is allocated). */
int cs_store_facts_read(struct cs_cert_info *out, char **signed_by, json_t *facts);
/* SHA-256 hex of cert's SubjectPublicKeyInfo DER; false when it has none. */
bool cs_store_spki_sha256(char out[65], X509 *cert);

#endif
