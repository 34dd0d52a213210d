/* X.509 and key helpers on OpenSSL 3 (see x509.h): everything certsync does
 * with keys, requests and certificates goes through here, so the rest of the
 * code never touches OpenSSL's encodings directly. */
#include "providers/base/x509.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include "providers/base/util.h"

static char *hex_upper(const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char *s = cs_xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = hex[p[i] >> 4];
		s[2 * i + 1] = hex[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

/* Move whatever a memory BIO holds to the end of out. */
static int bio_drain(struct cs_buf *out, BIO *bio, struct cs_err *err)
{
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	if (n < 0)
		return cs_err_set(err, -EIO, "read memory buffer");
	int r = cs_buf_append(out, p, (size_t)n);
	if (r < 0)
		return cs_err_errno(err, r, "encode PEM");
	return 0;
}

/* ---- describing a certificate ---- */

static char *name_oneline(const X509_NAME *name)
{
	/* RFC 2253 order and escaping, but UTF-8 kept as is: these strings end
	 * up in messages people read. */
	unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;
	if (!bio)
		goto out;
	if (X509_NAME_print_ex(bio, name, 0, flags) < 0)
		goto out;
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	if (n < 0)
		goto out;
	s = cs_xasprintf("%.*s", (int)n, p ? p : "");
out:
	BIO_free(bio);
	return s;
}

static char *name_cn(const X509_NAME *name)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return NULL;
	const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, v);
	if (n < 0)
		return NULL;
	char *s = cs_xasprintf("%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A dNSName as text, lowercased: DNS names compare case-insensitively, so
 * every later comparison can be a plain strcmp.  A NUL or other control
 * byte is written as \xHH: read as a C string, "good\0.evil" would be the
 * name "good" and a certificate for another name would look right. */
static char *dns_name_text(const ASN1_STRING *s)
{
	const unsigned char *p = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);
	struct cs_buf b = CS_BUF_INIT;
	for (int i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			cs_buf_printf(&b, "\\x%02x", p[i]);
		else
			cs_buf_append(&b, &(char){ (char)tolower(p[i]) }, 1);
	}
	return b.len ? cs_buf_detach(&b, NULL) : cs_xstrdup("");
}

static void san_dns_names(char ***out, size_t *out_n, X509 *cert)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char **v = NULL;
	size_t n = 0;
	int count = gens ? sk_GENERAL_NAME_num(gens) : 0;
	if (count > 0)
		v = cs_xcalloc((size_t)count, sizeof *v);
	for (int i = 0; i < count; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		v[n++] = dns_name_text(g->d.dNSName);
	}
	GENERAL_NAMES_free(gens);
	if (n > 1) {
		qsort(v, n, sizeof *v, cmp_str);
		size_t w = 1;
		for (size_t i = 1; i < n; i++) {
			if (strcmp(v[i], v[w - 1]) == 0)
				free(v[i]);
			else
				v[w++] = v[i];
		}
		n = w;
	}
	*out = v;
	*out_n = n;
}

char *cs_x509_serial_hex(const X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *s = NULL;
	if (!bn)
		return NULL;
	char *h = BN_bn2hex(bn);
	if (h) {
		/* BN_bn2hex prints whole bytes ("0A1B"); the documented form has
		 * no leading zeros, keeping a single "0" for zero. */
		const char *sign = h[0] == '-' ? "-" : "";
		const char *p = h + (h[0] == '-');
		while (p[0] == '0' && p[1] != '\0')
			p++;
		s = cs_xasprintf("%s%s", sign, p);
		OPENSSL_free(h);
	}
	BN_free(bn);
	return s;
}

static int asn1_time_unix(int64_t *out, const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int cs_cert_info_get(struct cs_cert_info *out, X509 *cert, struct cs_err *err)
{
	unsigned char *der = NULL;
	int r = 0;
	memset(out, 0, sizeof *out);

	out->subject = name_oneline(X509_get_subject_name(cert));
	out->issuer = name_oneline(X509_get_issuer_name(cert));
	if (!out->subject || !out->issuer) {
		r = cs_err_ssl(err, -EINVAL, "certificate names");
		goto out;
	}
	out->common_name = name_cn(X509_get_subject_name(cert));
	out->issuer_cn = name_cn(X509_get_issuer_name(cert));
	san_dns_names(&out->dns_names, &out->n_dns_names, cert);

	out->serial = cs_x509_serial_hex(cert);
	if (!out->serial) {
		r = cs_err_ssl(err, -EINVAL, "certificate serial number");
		goto out;
	}
	if (asn1_time_unix(&out->not_before, X509_get0_notBefore(cert)) < 0 ||
	    asn1_time_unix(&out->not_after, X509_get0_notAfter(cert)) < 0) {
		r = cs_err_set(err, -EINVAL, "certificate %s: unreadable validity dates", out->serial);
		goto out;
	}

	int n = i2d_X509(cert, &der);
	if (n <= 0) {
		r = cs_err_ssl(err, -EINVAL, "encode certificate %s", out->serial);
		goto out;
	}
	cs_sha1_hex(out->sha1, der, (size_t)n);
	cs_sha256_hex(out->sha256, der, (size_t)n);

	EVP_PKEY *pub = X509_get0_pubkey(cert);
	if (!pub || cs_key_spec_of(&out->key, pub) < 0)
		memset(&out->key, 0, sizeof out->key);

	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
	if (ski)
		out->ski = hex_upper(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski));
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
	if (aki)
		out->aki = hex_upper(ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki));

	/* EXFLAG_CA is set only by basicConstraints CA:TRUE, unlike
	 * X509_check_ca() which also counts v1 self-signed certificates. */
	uint32_t flags = X509_get_extension_flags(cert);
	out->is_ca = (flags & EXFLAG_BCONS) && (flags & EXFLAG_CA);
out:
	OPENSSL_free(der);
	if (r < 0)
		cs_cert_info_free(out);
	ERR_clear_error();
	return r;
}

void cs_cert_info_free(struct cs_cert_info *info)
{
	if (!info)
		return;
	free(info->subject);
	free(info->issuer);
	free(info->common_name);
	free(info->issuer_cn);
	cs_strv_free(info->dns_names, info->n_dns_names);
	free(info->serial);
	free(info->ski);
	free(info->aki);
	memset(info, 0, sizeof *info);
}

static char *dup_or_null(const char *s)
{
	return s ? cs_xstrdup(s) : NULL;
}

void cs_cert_info_copy(struct cs_cert_info *out, const struct cs_cert_info *in)
{
	*out = *in;
	out->subject = dup_or_null(in->subject);
	out->issuer = dup_or_null(in->issuer);
	out->common_name = dup_or_null(in->common_name);
	out->issuer_cn = dup_or_null(in->issuer_cn);
	out->dns_names = in->n_dns_names ? cs_xcalloc(in->n_dns_names, sizeof *out->dns_names) : NULL;
	for (size_t i = 0; i < in->n_dns_names; i++)
		out->dns_names[i] = cs_xstrdup(in->dns_names[i]);
	out->serial = dup_or_null(in->serial);
	out->ski = dup_or_null(in->ski);
	out->aki = dup_or_null(in->aki);
}

/* ---- reading certificates ---- */

static bool looks_like_pem(const void *data, size_t len)
{
	return memmem(data, len, "-----BEGIN ", 11) != NULL;
}

/* Move the certificates of a signed PKCS#7 into certs. */
static int pkcs7_certs(STACK_OF(X509) *certs, PKCS7 *p7)
{
	STACK_OF(X509) *in = NULL;
	if (PKCS7_type_is_signed(p7) && p7->d.sign)
		in = p7->d.sign->cert;
	else if (PKCS7_type_is_signedAndEnveloped(p7) && p7->d.signed_and_enveloped)
		in = p7->d.signed_and_enveloped->cert;
	for (int i = 0; in && i < sk_X509_num(in); i++) {
		X509 *c = sk_X509_value(in, i);
		if (!X509_up_ref(c) || !sk_X509_push(certs, c)) {
			X509_free(c);
			return -ENOMEM;
		}
	}
	return 0;
}

static int parse_pem(STACK_OF(X509) *certs, const void *data, size_t len)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	int r = 0;
	if (!bio)
		return -ENOMEM;
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long n = 0;
		/* Fails at the end of the input (no more BEGIN lines), which is
		 * how the loop ends; blocks of other types (keys) are skipped. */
		if (!PEM_read_bio(bio, &name, &header, &der, &n))
			break;
		const unsigned char *p = der;
		if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0) {
			X509 *c = d2i_X509(NULL, &p, n);
			if (c && !sk_X509_push(certs, c)) {
				X509_free(c);
				r = -ENOMEM;
			}
		} else if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0) {
			/* A certificate followed by OpenSSL's trust settings. */
			X509 *c = d2i_X509_AUX(NULL, &p, n);
			if (c && !sk_X509_push(certs, c)) {
				X509_free(c);
				r = -ENOMEM;
			}
		} else if (strcmp(name, PEM_STRING_PKCS7) == 0) {
			PKCS7 *p7 = d2i_PKCS7(NULL, &p, n);
			if (p7)
				r = pkcs7_certs(certs, p7);
			PKCS7_free(p7);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		if (r < 0)
			break;
	}
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

static int parse_der(STACK_OF(X509) *certs, const void *data, size_t len)
{
	int r = 0;
	const unsigned char *p = data;
	X509 *c = d2i_X509(NULL, &p, (long)len);
	/* Only a certificate that spans the whole input counts; anything else
	 * is tried as PKCS#7. */
	if (c && p == (const unsigned char *)data + len) {
		if (!sk_X509_push(certs, c)) {
			X509_free(c);
			r = -ENOMEM;
		}
		goto out;
	}
	X509_free(c);
	p = data;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (p7)
		r = pkcs7_certs(certs, p7);
	PKCS7_free(p7);
out:
	ERR_clear_error();
	return r;
}

int cs_certs_parse(STACK_OF(X509) **out, const void *data, size_t len, struct cs_err *err)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	int r = 0;
	*out = NULL;
	if (!certs) {
		r = cs_err_errno(err, -ENOMEM, "read certificates");
		goto out;
	}
	if (len > 0 && len <= INT32_MAX)
		r = looks_like_pem(data, len) ? parse_pem(certs, data, len)
					     : parse_der(certs, data, len);
	if (r < 0) {
		r = cs_err_errno(err, r, "read certificates");
		goto out;
	}
	if (sk_X509_num(certs) == 0) {
		r = cs_err_set(err, -EINVAL, "no certificate found");
		goto out;
	}
	*out = certs;
	certs = NULL;
out:
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* Never prompt on a terminal for an encrypted key: certsync runs unattended
 * and its keys are stored unencrypted inside the 0700 state folder. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

/* OpenSSL 3.0 builds a chain of decoders for every key it reads, which
 * costs several times the decoding itself: reading 10,000 stored keys took
 * seconds.  A PEM "PRIVATE KEY" (unencrypted PKCS#8, what the state folder
 * holds) is decoded with one chain kept for the whole run; anything else,
 * and anything this cannot decode, takes OpenSSL's general path. */
static pthread_mutex_t pkcs8_lock = PTHREAD_MUTEX_INITIALIZER;
static OSSL_DECODER_CTX *pkcs8_dctx;
static EVP_PKEY *pkcs8_key;   /* where pkcs8_dctx puts what it decodes */

static void pkcs8_free(void)
{
	OSSL_DECODER_CTX_free(pkcs8_dctx);
	pkcs8_dctx = NULL;
}

static EVP_PKEY *parse_pkcs8_pem(const void *data, size_t len)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	EVP_PKEY *key = NULL;
	if (!bio || !PEM_read_bio(bio, &name, &header, &der, &der_len) || strcmp(name, "PRIVATE KEY") != 0 ||
	    (header && header[0]))
		goto out;
	pthread_mutex_lock(&pkcs8_lock);
	if (!pkcs8_dctx) {
		pkcs8_dctx = OSSL_DECODER_CTX_new_for_pkey(&pkcs8_key, "DER", "PrivateKeyInfo", NULL,
							  EVP_PKEY_KEYPAIR, NULL, NULL);
		if (pkcs8_dctx)
			atexit(pkcs8_free);
	}
	if (pkcs8_dctx) {
		const unsigned char *p = der;
		size_t left = (size_t)der_len;
		pkcs8_key = NULL;
		if (OSSL_DECODER_from_data(pkcs8_dctx, &p, &left) == 1)
			key = pkcs8_key;
		else
			EVP_PKEY_free(pkcs8_key);
		pkcs8_key = NULL;
	}
	pthread_mutex_unlock(&pkcs8_lock);
out:
	if (der)
		OPENSSL_clear_free(der, (size_t)der_len);
	OPENSSL_free(name);
	OPENSSL_free(header);
	BIO_free(bio);
	ERR_clear_error();
	return key;
}

int cs_key_parse(EVP_PKEY **out, const void *data, size_t len, struct cs_err *err)
{
	EVP_PKEY *key = NULL;
	int r = 0;
	*out = NULL;
	if (len == 0 || len > INT32_MAX) {
		r = cs_err_set(err, -EINVAL, "no private key found");
		goto out;
	}
	if (looks_like_pem(data, len)) {
		key = parse_pkcs8_pem(data, len); /* the common case */
		BIO *bio = key ? NULL : BIO_new_mem_buf(data, (int)len);
		if (bio)
			key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = data;
		key = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	if (!key) {
		r = cs_err_ssl(err, -EINVAL, "no private key found");
		goto out;
	}
	*out = key;
out:
	ERR_clear_error();
	return r;
}

/* ---- keys ---- */

int cs_key_generate(EVP_PKEY **out, const struct cs_key_spec *spec, struct cs_err *err)
{
	EVP_PKEY *key = NULL;
	int r = 0;
	*out = NULL;
	switch (spec->type) {
	case CS_KEY_RSA:
		if (spec->bits != 2048 && spec->bits != 3072 && spec->bits != 4096) {
			r = cs_err_set(err, -EINVAL, "unsupported rsa key size %d (2048, 3072 or 4096)",
				       spec->bits);
			goto out;
		}
		/* OpenSSL's default public exponent is 65537. */
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)spec->bits);
		break;
	case CS_KEY_ECDSA:
		if (spec->curve != CS_CURVE_P256 && spec->curve != CS_CURVE_P384) {
			r = cs_err_set(err, -EINVAL, "unsupported ecdsa curve (p256 or p384)");
			goto out;
		}
		/* The EC key generator encodes the named curve by default, which
		 * is the only form CAs and TLS peers accept. */
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
					spec->curve == CS_CURVE_P256 ? "P-256" : "P-384");
		break;
	default:
		r = cs_err_set(err, -EINVAL, "unsupported key type");
		goto out;
	}
	if (!key) {
		r = cs_err_ssl(err, -EIO, "generate key");
		goto out;
	}
	*out = key;
out:
	return r;
}

int cs_key_spec_of(struct cs_key_spec *out, EVP_PKEY *key)
{
	memset(out, 0, sizeof *out);
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		out->type = CS_KEY_RSA;
		out->bits = EVP_PKEY_get_bits(key);
		return 0;
	case EVP_PKEY_EC: {
		char group[80];
		size_t n = 0;
		if (!EVP_PKEY_get_group_name(key, group, sizeof group, &n))
			break;
		int nid = OBJ_txt2nid(group);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(group);
		if (nid == NID_X9_62_prime256v1)
			out->curve = CS_CURVE_P256;
		else if (nid == NID_secp384r1)
			out->curve = CS_CURVE_P384;
		else
			break;
		out->type = CS_KEY_ECDSA;
		out->bits = EVP_PKEY_get_bits(key);
		return 0;
	}
	default:
		break;
	}
	ERR_clear_error();
	memset(out, 0, sizeof *out);
	return -EINVAL;
}

bool cs_key_spec_equal(const struct cs_key_spec *a, const struct cs_key_spec *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == CS_KEY_RSA)
		return a->bits == b->bits;
	if (a->type == CS_KEY_ECDSA)
		return a->curve == b->curve;
	return true;
}

/* ---- PEM output ---- */

int cs_key_to_pem(struct cs_buf *out, EVP_PKEY *key, struct cs_err *err)
{
	/* A secure-memory BIO is wiped when freed, so the key's PEM does not
	 * linger in freed heap. */
	BIO *bio = BIO_new(BIO_s_secmem());
	int r = 0;
	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		r = cs_err_ssl(err, -EIO, "encode private key");
		goto out;
	}
	r = bio_drain(out, bio, err);
out:
	BIO_free(bio);
	return r;
}

int cs_cert_to_pem(struct cs_buf *out, X509 *cert, struct cs_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r = 0;
	if (!bio || !PEM_write_bio_X509(bio, cert)) {
		r = cs_err_ssl(err, -EIO, "encode certificate");
		goto out;
	}
	r = bio_drain(out, bio, err);
out:
	BIO_free(bio);
	return r;
}

int cs_chain_to_pem(struct cs_buf *out, STACK_OF(X509) *chain, struct cs_err *err)
{
	int r = 0;
	for (int i = 0; chain && i < sk_X509_num(chain) && r == 0; i++)
		r = cs_cert_to_pem(out, sk_X509_value(chain, i), err);
	return r;
}

int cs_csr_to_pem(struct cs_buf *out, X509_REQ *csr, struct cs_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r = 0;
	if (!bio || !PEM_write_bio_X509_REQ(bio, csr)) {
		r = cs_err_ssl(err, -EIO, "encode certificate request");
		goto out;
	}
	r = bio_drain(out, bio, err);
out:
	BIO_free(bio);
	return r;
}

/* ---- requests ---- */

GENERAL_NAMES *cs_dns_general_names(char *const *names, size_t n)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	if (!gens)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!g || !s || !ASN1_STRING_set(s, names[i], (int)strlen(names[i]))) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(s);
			GENERAL_NAMES_free(gens);
			return NULL;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			GENERAL_NAMES_free(gens);
			return NULL;
		}
	}
	return gens;
}

int cs_csr_create(X509_REQ **out, EVP_PKEY *key, const char *cn,
		  char *const *names, size_t n_names, struct cs_err *err)
{
	X509_REQ *req = X509_REQ_new();
	GENERAL_NAMES *gens = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	int r = 0;
	*out = NULL;
	if (!req || !X509_REQ_set_version(req, X509_REQ_VERSION_1)) {
		r = cs_err_ssl(err, -ENOMEM, "create certificate request");
		goto out;
	}
	X509_NAME *subject = X509_REQ_get_subject_name(req);
	if (cn && !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
					      (const unsigned char *)cn, -1, -1, 0)) {
		r = cs_err_ssl(err, -EINVAL, "certificate request: common name %s", cn);
		goto out;
	}
	if (n_names > 0) {
		gens = cs_dns_general_names(names, n_names);
		if (!gens || !X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) ||
		    !X509_REQ_add_extensions(req, exts)) {
			r = cs_err_ssl(err, -EINVAL, "certificate request: subject alternative names");
			goto out;
		}
	}
	if (!X509_REQ_set_pubkey(req, key) || !X509_REQ_sign(req, key, EVP_sha256())) {
		r = cs_err_ssl(err, -EIO, "sign certificate request");
		goto out;
	}
	*out = req;
	req = NULL;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	X509_REQ_free(req);
	return r;
}

int cs_csr_parse(X509_REQ **out, const void *data, size_t len, struct cs_err *err)
{
	X509_REQ *req = NULL;
	int r = 0;
	*out = NULL;
	if (len > 0 && len <= INT32_MAX) {
		if (looks_like_pem(data, len)) {
			/* Also reads the older "NEW CERTIFICATE REQUEST" label. */
			BIO *bio = BIO_new_mem_buf(data, (int)len);
			if (bio)
				req = PEM_read_bio_X509_REQ(bio, NULL, no_password, NULL);
			BIO_free(bio);
		} else {
			const unsigned char *p = data;
			req = d2i_X509_REQ(NULL, &p, (long)len);
		}
	}
	if (!req) {
		r = cs_err_set(err, -EINVAL, "no certificate request found");
		goto out;
	}
	*out = req;
out:
	ERR_clear_error();
	return r;
}

/* ---- matching ---- */

bool cs_key_matches_cert(EVP_PKEY *key, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	bool same = key && pub && EVP_PKEY_eq(key, pub) == 1;
	ERR_clear_error();
	return same;
}

bool cs_key_matches_csr(EVP_PKEY *key, X509_REQ *csr)
{
	EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
	bool same = key && pub && EVP_PKEY_eq(key, pub) == 1;
	ERR_clear_error();
	return same;
}

bool cs_cert_issued_by(X509 *cert, X509 *issuer_cert)
{
	/* X509_check_issued compares the names and the AKI with the issuer's
	 * SKI; only the signature proves it, so both must hold. */
	EVP_PKEY *pub = X509_get0_pubkey(issuer_cert);
	bool ok = pub && X509_check_issued(issuer_cert, cert) == X509_V_OK &&
		  X509_verify(cert, pub) == 1;
	ERR_clear_error();
	return ok;
}

static bool self_signed(X509 *cert)
{
	return cs_cert_issued_by(cert, cert);
}

int cs_certs_split(X509 **out_leaf, STACK_OF(X509) **out_chain, STACK_OF(X509) *certs,
		   EVP_PKEY *key, struct cs_err *err)
{
	int n = certs ? sk_X509_num(certs) : 0;
	bool *used = n > 0 ? cs_xcalloc((size_t)n, sizeof *used) : NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *leaf = NULL;
	int r = 0;
	*out_leaf = NULL;
	*out_chain = NULL;
	if (!chain) {
		r = cs_err_errno(err, -ENOMEM, "order certificate chain");
		goto out;
	}
	for (int i = 0; i < n && !leaf; i++) {
		if (cs_key_matches_cert(key, sk_X509_value(certs, i))) {
			leaf = sk_X509_value(certs, i);
			used[i] = true;
		}
	}
	if (!leaf) {
		r = cs_err_set(err, -ENOENT, "no certificate matches the private key");
		goto out;
	}
	/* Walk up from the leaf, each step taking a certificate that really
	 * signed the previous one; whatever is left over is unrelated to this
	 * leaf and dropped.  A self-signed root ends the walk. */
	X509 *cur = leaf;
	while (!self_signed(cur)) {
		int found = -1;
		for (int i = 0; i < n && found < 0; i++) {
			if (!used[i] && cs_cert_issued_by(cur, sk_X509_value(certs, i)))
				found = i;
		}
		if (found < 0)
			break;
		used[found] = true;
		cur = sk_X509_value(certs, found);
		if (!X509_up_ref(cur) || !sk_X509_push(chain, cur)) {
			X509_free(cur);
			r = cs_err_errno(err, -ENOMEM, "order certificate chain");
			goto out;
		}
	}
	if (!X509_up_ref(leaf)) {
		r = cs_err_errno(err, -ENOMEM, "order certificate chain");
		goto out;
	}
	*out_leaf = leaf;
	*out_chain = chain;
	chain = NULL;
out:
	sk_X509_pop_free(chain, X509_free);
	free(used);
	return r;
}

char *cs_csr_common_name(X509_REQ *csr)
{
	return csr ? name_cn(X509_REQ_get_subject_name(csr)) : NULL;
}
