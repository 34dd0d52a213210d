/* X.509 and key helpers on OpenSSL 3: generate keys and CSRs, read
 * certificates in any form a CA sends (PEM, DER, PKCS#7), describe a
 * certificate (names, serial, validity, fingerprints), check key/cert pairs. */
#ifndef CS_X509_H
#define CS_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

/* The key a certificate is made with (a certificate's "key:" in the config). */
enum cs_key_type { CS_KEY_RSA = 1, CS_KEY_ECDSA };
enum cs_curve { CS_CURVE_NONE = 0, CS_CURVE_P256, CS_CURVE_P384 };

struct cs_key_spec {
	enum cs_key_type type;   /* default rsa */
	int bits;                /* rsa: 2048 (default), 3072, 4096 */
	enum cs_curve curve;     /* ecdsa: p256 (default), p384 */
};

/* What certsync needs to know about one certificate. */
struct cs_cert_info {
	char *subject;            /* one line, RFC 2253: "CN=mail.example.org,O=Example" */
	char *issuer;             /* likewise */
	char *common_name;        /* subject CN or NULL */
	char *issuer_cn;          /* issuer CN or NULL */
	char **dns_names;         /* SAN dNSNames, lowercased, sorted, unique */
	size_t n_dns_names;
	char *serial;             /* uppercase hex without separators, no leading zeros ("0" for zero) */
	int64_t not_before;       /* unix seconds */
	int64_t not_after;
	char sha1[41];            /* uppercase hex of SHA-1 over the DER (= Windows thumbprint) */
	char sha256[65];          /* uppercase hex of SHA-256 over the DER */
	struct cs_key_spec key;   /* public key type; type 0 when neither RSA nor P-256/P-384 */
	char *ski;                /* subjectKeyIdentifier as uppercase hex, or NULL */
	char *aki;                /* authorityKeyIdentifier keyid as uppercase hex, or NULL */
	bool is_ca;               /* basicConstraints CA:TRUE */
};

int cs_cert_info_get(struct cs_cert_info *out, X509 *cert, struct cs_err *err);
/* The certificate's serial as cs_cert_info writes it (uppercase hex, no
 * leading zeros); NULL when out of memory.  Every place that shows a serial
 * uses this, so the same certificate reads the same everywhere. */
char *cs_x509_serial_hex(const X509 *cert);
void cs_cert_info_free(struct cs_cert_info *info); /* accepts NULL; frees members only */
void cs_cert_info_copy(struct cs_cert_info *out, const struct cs_cert_info *in); /* deep copy */

/* Read every certificate in data: PEM (one or more CERTIFICATE blocks, also
 * "PKCS7"), DER certificate, or DER PKCS#7 (.p7b).  -EINVAL when none.
 * Caller frees with sk_X509_pop_free(*out, X509_free). */
int cs_certs_parse(STACK_OF(X509) **out, const void *data, size_t len, struct cs_err *err);

/* Read a private key (PEM PKCS#8, traditional RSA/EC PEM, or DER). */
int cs_key_parse(EVP_PKEY **out, const void *data, size_t len, struct cs_err *err);

/* Fresh key as the spec says (RSA 2048/3072/4096, ECDSA P-256/P-384). */
int cs_key_generate(EVP_PKEY **out, const struct cs_key_spec *spec, struct cs_err *err);
/* The spec a key has; -EINVAL for other types. */
int cs_key_spec_of(struct cs_key_spec *out, EVP_PKEY *key);
bool cs_key_spec_equal(const struct cs_key_spec *a, const struct cs_key_spec *b);

/* PEM encodings appended to out.  Keys are unencrypted PKCS#8. */
int cs_key_to_pem(struct cs_buf *out, EVP_PKEY *key, struct cs_err *err);
int cs_cert_to_pem(struct cs_buf *out, X509 *cert, struct cs_err *err);
int cs_chain_to_pem(struct cs_buf *out, STACK_OF(X509) *chain, struct cs_err *err); /* NULL/empty: nothing */
int cs_csr_to_pem(struct cs_buf *out, X509_REQ *csr, struct cs_err *err);

/* A CSR with subject CN=cn and a SAN extension listing names, signed with key
 * (SHA-256). */
int cs_csr_create(X509_REQ **out, EVP_PKEY *key, const char *cn,
		  char *const *names, size_t n_names, struct cs_err *err);
int cs_csr_parse(X509_REQ **out, const void *data, size_t len, struct cs_err *err);

/* A subjectAltName value listing names as dNSNames (for CSRs and the local
 * CA); NULL when out of memory.  Free with GENERAL_NAMES_free(). */
GENERAL_NAMES *cs_dns_general_names(char *const *names, size_t n);

/* Does the certificate's public key belong to key? */
bool cs_key_matches_cert(EVP_PKEY *key, X509 *cert);
bool cs_key_matches_csr(EVP_PKEY *key, X509_REQ *csr);
/* The request's subject common name (caller frees), or NULL. */
char *cs_csr_common_name(X509_REQ *csr);

/* From a bag of certificates (a CA's reply), pick the leaf whose public key is
 * key and order the rest as its chain (issuer of the leaf first, then its
 * issuer, ...; a self-signed root is kept, last, when the bag has it;
 * certificates unrelated to the leaf are dropped).  -ENOENT when no
 * certificate matches the key.  *out_leaf and *out_chain are new references. */
int cs_certs_split(X509 **out_leaf, STACK_OF(X509) **out_chain, STACK_OF(X509) *certs,
		   EVP_PKEY *key, struct cs_err *err);

/* Did issuer_cert sign cert (signature verifies and names/AKI match)? */
bool cs_cert_issued_by(X509 *cert, X509 *issuer_cert);

#endif
