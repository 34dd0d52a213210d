/* JSON Web Signature for ACME (RFC 7515 as RFC 8555 §6.2 uses it): the JWK
 * of an account key and its RFC 7638 thumbprint, flattened JWS objects
 * signed with ES256/ES384 (raw r||s of fixed width, RFC 7518 §3.4) or
 * RS256, and the HS256 inner JWS of an external account binding (RFC 8555
 * §7.3.4).  base64url as JOSE writes it is reconcile/base64.h's
 * CS_B64_URL | CS_B64_NOPAD.
 *
 * Ownership: returned strings and JSON values are the caller's. */
#ifndef CS_JWS_H
#define CS_JWS_H

#include <stddef.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

/* "ES256" (P-256), "ES384" (P-384), "RS256" (RSA), or NULL for other keys. */
const char *cs_jws_alg(EVP_PKEY *key);

/* The public JWK of key: {"crv","kty","x","y"} or {"e","kty","n"}. */
int cs_jwk(json_t **out, EVP_PKEY *key, struct cs_err *err);
/* RFC 7638: base64url(SHA-256(the required members in lexical order, no
 * whitespace)). */
int cs_jwk_thumbprint(char **out, EVP_PKEY *key, struct cs_err *err);

/* Sign data with key as alg says (raw r||s for ECDSA); appends to out. */
int cs_jws_signature(struct cs_buf *out, EVP_PKEY *key, const void *data, size_t len,
		     struct cs_err *err);

/* A flattened JWS {"protected","payload","signature"} as compact JSON text.
 * The protected header carries alg, nonce, url and exactly one of kid (when
 * kid is not NULL) or jwk.  payload NULL means POST-as-GET (empty payload). */
int cs_jws_sign(char **out, EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
		const char *payload, struct cs_err *err);

/* The externalAccountBinding object: a JWS with {"alg":"HS256","kid":eab_kid,
 * "url":url} over the account's JWK, MACed with the (already decoded) key. */
int cs_jws_eab(json_t **out, const char *eab_kid, const void *mac_key, size_t mac_key_len,
	       EVP_PKEY *account_key, const char *url, struct cs_err *err);

#endif
