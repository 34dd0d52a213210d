/* PKCS#12 build and read-back (see pkcs12.h). */
#include "providers/base/pkcs12.h"
#include "providers/base/x509.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include "providers/base/util.h"

static const char format_aes[] = "key aes-256-cbc, certificates aes-256-cbc, mac sha256";
static const char format_legacy[] = "key 3des, certificates 3des, mac sha1";

int cs_pkcs12_build(struct cs_buf *out, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain, const char *name,
		    const char *password, bool legacy, struct cs_err *err)
{
	int nid = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
	int iter = legacy ? CS_PKCS12_LEGACY_ITER : CS_PKCS12_ITER;
	unsigned char *der = NULL;
	int r = 0;
	ERR_clear_error();
	/* mac_iter -1: no MAC yet, so that its digest can be chosen below
	 * (PKCS12_create's is SHA-1).  With a cipher's nid PBES2 takes PBKDF2
	 * with HMAC-SHA256. */
	PKCS12 *p12 = PKCS12_create(password, name, key, cert, chain && sk_X509_num(chain) > 0 ? chain : NULL,
				    nid, nid, iter, -1, 0);
	if (!p12)
		return cs_err_ssl(err, -EINVAL, "build PKCS#12");
	if (!PKCS12_set_mac(p12, password, -1, NULL, 0, iter, legacy ? EVP_sha1() : EVP_sha256())) {
		r = cs_err_ssl(err, -EINVAL, "build PKCS#12: set its MAC");
		goto out;
	}
	int len = i2d_PKCS12(p12, &der);
	if (len <= 0) {
		r = cs_err_ssl(err, -EINVAL, "build PKCS#12: encode it");
		goto out;
	}
	r = cs_buf_append(out, der, (size_t)len);
	OPENSSL_cleanse(der, (size_t)len);
out:
	OPENSSL_free(der);
	PKCS12_free(p12);
	return r;
}

/* "aes-256-cbc" for PBES2 with PBKDF2 (HMAC-SHA256) and AES-256-CBC,
 * "3des" and "rc2-40" for the PKCS#12 PBEs, else OpenSSL's short name. */
static void alg_name(char *out, size_t size, const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj = NULL;
	const void *param = NULL;
	int ptype = 0;
	X509_ALGOR_get0(&obj, &ptype, &param, alg);
	int nid = OBJ_obj2nid(obj);
	const char *name = NULL;
	if (nid == NID_pbe_WithSHA1And3_Key_TripleDES_CBC) {
		name = "3des";
	} else if (nid == NID_pbe_WithSHA1And40BitRC2_CBC) {
		name = "rc2-40";
	} else if (nid == NID_pbes2 && ptype == V_ASN1_SEQUENCE) {
		PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
		if (pbe2) {
			int enc = OBJ_obj2nid(pbe2->encryption->algorithm);
			int prf = NID_hmacWithSHA1;
			if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
				PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
									    pbe2->keyfunc->parameter);
				if (kdf && kdf->prf)
					prf = OBJ_obj2nid(kdf->prf->algorithm);
				else if (!kdf)
					prf = NID_undef;
				PBKDF2PARAM_free(kdf);
			} else {
				prf = NID_undef;
			}
			if (enc == NID_aes_256_cbc && prf == NID_hmacWithSHA256)
				snprintf(out, size, "aes-256-cbc");
			else
				snprintf(out, size, "pbes2 %s/%s", enc == NID_undef ? "?" : OBJ_nid2sn(enc),
					 prf == NID_undef ? "?" : OBJ_nid2sn(prf));
			PBE2PARAM_free(pbe2);
			return;
		}
		name = "pbes2 ?";
	} else {
		name = nid == NID_undef ? "?" : OBJ_nid2sn(nid);
	}
	snprintf(out, size, "%s", name);
}

/* The algorithms a file uses, in the words of format_aes/format_legacy. */
static void read_format(char *out, size_t size, PKCS12 *p12)
{
	char key[64] = "none", certs[64] = "none", mac[64] = "none";
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	for (int i = 0; safes && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int type = OBJ_obj2nid(p7->type);
		if (type == NID_pkcs7_encrypted && p7->d.encrypted && p7->d.encrypted->enc_data)
			alg_name(certs, sizeof certs, p7->d.encrypted->enc_data->algorithm);
		else if (type == NID_pkcs7_data)
			bags = PKCS12_unpack_p7data(p7);
		for (int j = 0; bags && j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
			if (PKCS12_SAFEBAG_get_nid(bag) == NID_pkcs8ShroudedKeyBag) {
				const X509_ALGOR *alg = NULL;
				X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
				alg_name(key, sizeof key, alg);
			} else if (PKCS12_SAFEBAG_get_nid(bag) == NID_keyBag) {
				snprintf(key, sizeof key, "unencrypted");
			} else if (PKCS12_SAFEBAG_get_nid(bag) == NID_certBag && !strcmp(certs, "none")) {
				snprintf(certs, sizeof certs, "unencrypted");
			}
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	const X509_ALGOR *macalg = NULL;
	if (PKCS12_mac_present(p12)) {
		PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
		const ASN1_OBJECT *obj = NULL;
		X509_ALGOR_get0(&obj, NULL, NULL, macalg);
		int nid = OBJ_obj2nid(obj);
		snprintf(mac, sizeof mac, "%s", nid == NID_sha256 ? "sha256" : nid == NID_sha1 ? "sha1" :
			 nid == NID_undef ? "?" : OBJ_nid2sn(nid));
	}
	snprintf(out, size, "key %s, certificates %s, mac %s", key, certs, mac);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cert_sha256(char out[65], X509 *cert)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	if (len <= 0)
		cs_out_of_memory();
	cs_sha256_hex(out, der, (size_t)len);
	OPENSSL_free(der);
}

/* Fill the key, certificate and chain fields of out. */
static int describe(struct cs_pkcs12_view *out, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
		    struct cs_err *err)
{
	if (key) {
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(key, &der);
		if (len <= 0)
			return cs_err_ssl(err, -EINVAL, "encode the public key");
		cs_sha256_hex(out->key, der, (size_t)len);
		OPENSSL_free(der);
	}
	if (cert) {
		cert_sha256(out->cert, cert);
		out->serial = cs_x509_serial_hex(cert);
		if (!out->serial)
			cs_out_of_memory();
	}
	int n = chain ? sk_X509_num(chain) : 0;
	char **hashes = cs_xcalloc((size_t)n + 1, sizeof *hashes);
	for (int i = 0; i < n; i++) {
		hashes[i] = cs_xmalloc(65);
		cert_sha256(hashes[i], sk_X509_value(chain, i));
	}
	/* Readers do not agree on the order of the other certificates (Java
	 * rebuilds the chain by names): the set is what counts. */
	qsort(hashes, (size_t)n, sizeof *hashes, cmp_str);
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_append(&b, "", 0);
	for (int i = 0; i < n; i++)
		cs_buf_printf(&b, "%s%s", i ? "," : "", hashes[i]);
	out->chain = cs_buf_detach(&b, NULL);
	cs_strv_free(hashes, (size_t)n);
	return 0;
}

int cs_pkcs12_read(struct cs_pkcs12_view *out, const void *data, size_t len, const char *password,
		   struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	const unsigned char *p = data;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	int r = 0;
	ERR_clear_error();
	PKCS12 *p12 = len > 0 && len <= LONG_MAX ? d2i_PKCS12(NULL, &p, (long)len) : NULL;
	if (!p12 || p != (const unsigned char *)data + len) {
		r = cs_err_set(err, -EINVAL, "not a PKCS#12 file");
		goto out;
	}
	if (PKCS12_mac_present(p12) && !PKCS12_verify_mac(p12, password, -1)) {
		r = cs_err_set(err, -EACCES, "its MAC does not verify with the password (another password, or damaged)");
		goto out;
	}
	if (!PKCS12_parse(p12, password, &key, &cert, &ca)) {
		r = cs_err_ssl(err, -EINVAL, "cannot be decrypted");
		goto out;
	}
	read_format(out->format, sizeof out->format, p12);
	int nlen = 0;
	const unsigned char *alias = cert ? X509_alias_get0(cert, &nlen) : NULL;
	if (alias && nlen > 0)
		out->name = cs_xasprintf("%.*s", nlen, (const char *)alias);
	r = describe(out, key, cert, ca, err);
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return r;
}

int cs_pkcs12_expect(struct cs_pkcs12_view *out, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
		     const char *name, bool legacy, struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	snprintf(out->format, sizeof out->format, "%s", legacy ? format_legacy : format_aes);
	out->name = cs_xstrdup(name);
	return describe(out, key, cert, chain, err);
}

bool cs_pkcs12_view_equal(const struct cs_pkcs12_view *a, const struct cs_pkcs12_view *b)
{
	return !strcmp(a->format, b->format) && cs_streq(a->name, b->name) && !strcmp(a->key, b->key) &&
	       !strcmp(a->cert, b->cert) && cs_streq(a->chain, b->chain);
}

void cs_pkcs12_view_free(struct cs_pkcs12_view *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->serial);
	free(v->chain);
	memset(v, 0, sizeof *v);
}
