/* PKCS#12 files (.pfx, .p12) for Java, Tomcat and .NET: built from a key,
 * its certificate and the chain, and read back to see what one holds.
 *
 * Two formats.  The default is what current readers (OpenSSL 3, Java 8u301
 * and later, .NET on Linux, Windows Server 2019 and later) take: the key
 * and the certificates encrypted with AES-256-CBC under PBES2 (PBKDF2 with
 * HMAC-SHA256, CS_PKCS12_ITER iterations) and a SHA-256 MAC.  The legacy
 * one is for older readers (Java before 8u301, Windows Server 2016 and
 * older): 3DES with the PKCS#12 key derivation over SHA-1 for the key and
 * the certificates, and a SHA-1 MAC.  The certificates are not put under
 * 40-bit RC2 as some tools do: OpenSSL 3 has RC2 only in its legacy
 * provider, and every reader that takes RC2 takes 3DES too.
 *
 * Encryption salts are random, so two files made from the same inputs never
 * have the same bytes: whether a file holds what it should is decided by
 * opening it with the password and comparing what is inside (a view). */
#ifndef CS_PKCS12_H
#define CS_PKCS12_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

/* PBKDF2 and MAC iterations of the default format (Java's keytool uses as
 * many); the legacy format uses CS_PKCS12_LEGACY_ITER, OpenSSL's long-time
 * default, which the oldest readers expect. */
#define CS_PKCS12_ITER 10000
#define CS_PKCS12_LEGACY_ITER 2048

/* What a PKCS#12 file holds, without a secret: fingerprints only. */
struct cs_pkcs12_view {
	char format[128];  /* "key aes-256-cbc, certificates aes-256-cbc, mac sha256" */
	char *name;        /* the friendly name (Java's alias) of the key and certificate; NULL: none */
	char key[65];      /* SHA-256 of the private key's public half (SubjectPublicKeyInfo DER); "" none */
	char cert[65];     /* SHA-256 of the certificate's DER (upper-case hex); "" none */
	char *serial;      /* the certificate's serial as cs_x509_serial_hex() writes it, NULL none */
	char *chain;       /* SHA-256 of each other certificate, sorted, comma-separated; "" none */
};

/* Append to out the DER of a PKCS#12 holding key, cert and chain (may be
 * NULL or empty), the key and the certificate under the friendly name,
 * encrypted and MACed with password in the default or the legacy format. */
int cs_pkcs12_build(struct cs_buf *out, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain, const char *name,
		    const char *password, bool legacy, struct cs_err *err);

/* Open data with password and describe it into out.  -EACCES when the MAC
 * does not verify with password (another password, or a damaged file),
 * -EINVAL when data is not a PKCS#12 file or cannot be decrypted.  Free
 * with cs_pkcs12_view_free() either way. */
int cs_pkcs12_read(struct cs_pkcs12_view *out, const void *data, size_t len, const char *password,
		   struct cs_err *err);

/* The view of what cs_pkcs12_build() makes from the same arguments. */
int cs_pkcs12_expect(struct cs_pkcs12_view *out, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
		     const char *name, bool legacy, struct cs_err *err);

/* Do a and b say the same (format, name, key, certificate, chain)? */
bool cs_pkcs12_view_equal(const struct cs_pkcs12_view *a, const struct cs_pkcs12_view *b);

void cs_pkcs12_view_free(struct cs_pkcs12_view *v); /* members only; accepts NULL */

#endif
