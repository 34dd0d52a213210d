/* JWS, JWK and thumbprints for the ACME client (see jws.h). */
#include "providers/issuer/jws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "providers/base/util.h"
#include "providers/base/base64.h"

/* Field width in bytes of the key's curve, 0 when not an EC key we sign with. */
static int ec_width(EVP_PKEY *key, const char **out_crv)
{
	char group[64];
	size_t n = 0;
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &n))
		return 0;
	if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256")) {
		if (out_crv)
			*out_crv = "P-256";
		return 32;
	}
	if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384")) {
		if (out_crv)
			*out_crv = "P-384";
		return 48;
	}
	return 0;
}

const char *cs_jws_alg(EVP_PKEY *key)
{
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
		return "RS256";
	switch (ec_width(key, NULL)) {
	case 32: return "ES256";
	case 48: return "ES384";
	default: return NULL;
	}
}

/* A big number parameter of key, base64url of its big-endian bytes padded to
 * width (0: minimal, as RFC 7518 wants for RSA). */
static char *bn_param_b64(EVP_PKEY *key, const char *name, int width)
{
	BIGNUM *bn = NULL;
	char *s = NULL;
	if (!EVP_PKEY_get_bn_param(key, name, &bn))
		return NULL;
	int n = width ? width : BN_num_bytes(bn);
	if (n == 0)
		n = 1; /* zero still has one octet */
	unsigned char *bytes = cs_xmalloc((size_t)n);
	if (BN_bn2binpad(bn, bytes, n) == n)
		s = cs_b64_encode(bytes, (size_t)n, CS_B64_URL | CS_B64_NOPAD);
	free(bytes);
	BN_free(bn);
	return s;
}

/* The RFC 7638 canonical form: only the required members, lexical order, no
 * whitespace.  Also the members of the JWK we send. */
static int jwk_members(char **out_a, char **out_b, const char **out_crv, EVP_PKEY *key,
		       struct cs_err *err)
{
	*out_a = *out_b = NULL;
	*out_crv = NULL;
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
		*out_a = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
		*out_b = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N, 0);
	} else {
		int w = ec_width(key, out_crv);
		if (!w)
			return cs_err_set(err, -EINVAL, "account key: only rsa, ecdsa p256 and p384 keys can sign acme requests");
		*out_a = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, w);
		*out_b = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, w);
	}
	if (!*out_a || !*out_b) {
		free(*out_a);
		free(*out_b);
		*out_a = *out_b = NULL;
		return cs_err_ssl(err, -EINVAL, "account key: cannot read the public key");
	}
	return 0;
}

int cs_jwk(json_t **out, EVP_PKEY *key, struct cs_err *err)
{
	char *a, *b;
	const char *crv;
	int r = jwk_members(&a, &b, &crv, key, err);
	if (r < 0)
		return r;
	if (crv)
		*out = json_pack("{s:s, s:s, s:s, s:s}", "crv", crv, "kty", "EC", "x", a, "y", b);
	else
		*out = json_pack("{s:s, s:s, s:s}", "e", a, "kty", "RSA", "n", b);
	free(a);
	free(b);
	return *out ? 0 : cs_err_set(err, -ENOMEM, "account key: out of memory");
}

int cs_jwk_thumbprint(char **out, EVP_PKEY *key, struct cs_err *err)
{
	char *a, *b;
	const char *crv;
	int r = jwk_members(&a, &b, &crv, key, err);
	if (r < 0)
		return r;
	/* Written out by hand: the hash is over these exact bytes. */
	char *canon = crv ? cs_xasprintf("{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", crv, a, b)
			  : cs_xasprintf("{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b);
	unsigned char md[32];
	unsigned int md_len = 0;
	if (!EVP_Digest(canon, strlen(canon), md, &md_len, EVP_sha256(), NULL)) {
		r = cs_err_ssl(err, -EIO, "jwk thumbprint");
		goto out;
	}
	*out = cs_b64_encode(md, md_len, CS_B64_URL | CS_B64_NOPAD);
	r = 0;
out:
	free(canon);
	free(a);
	free(b);
	return r;
}

int cs_jws_signature(struct cs_buf *out, EVP_PKEY *key, const void *data, size_t len,
		     struct cs_err *err)
{
	const char *crv = NULL;
	int w = ec_width(key, &crv);
	bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
	if (!rsa && !w)
		return cs_err_set(err, -EINVAL, "account key: only rsa, ecdsa p256 and p384 keys can sign acme requests");
	const EVP_MD *md = w == 48 ? EVP_sha384() : EVP_sha256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	ECDSA_SIG *ec = NULL;
	unsigned char *raw = NULL;
	size_t sig_len = 0;
	int r;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1) {
		r = cs_err_ssl(err, -EIO, "sign acme request");
		goto out;
	}
	sig = cs_xmalloc(sig_len);
	if (EVP_DigestSign(ctx, sig, &sig_len, data, len) != 1) {
		r = cs_err_ssl(err, -EIO, "sign acme request");
		goto out;
	}
	if (rsa) {
		r = cs_buf_append(out, sig, sig_len);
		goto out;
	}
	/* OpenSSL gives a DER SEQUENCE of two INTEGERs; JWS wants both numbers
	 * left-padded to the field width and concatenated. */
	const unsigned char *p = sig;
	ec = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
	if (!ec) {
		r = cs_err_ssl(err, -EIO, "sign acme request: ecdsa signature");
		goto out;
	}
	raw = cs_xmalloc((size_t)w * 2);
	if (BN_bn2binpad(ECDSA_SIG_get0_r(ec), raw, w) != w ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(ec), raw + w, w) != w) {
		r = cs_err_set(err, -EIO, "sign acme request: ecdsa signature wider than the curve");
		goto out;
	}
	r = cs_buf_append(out, raw, (size_t)w * 2);
out:
	if (r == -ENOMEM || r == -E2BIG)
		r = cs_err_set(err, r, "sign acme request: out of memory");
	free(raw);
	ECDSA_SIG_free(ec);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* b64url(header) "." b64url(payload), the JWS signing input. */
static char *signing_input(const char *header, const char *payload, char **out_h, char **out_p)
{
	*out_h = cs_b64_encode(header, strlen(header), CS_B64_URL | CS_B64_NOPAD);
	*out_p = cs_b64_encode(payload, strlen(payload), CS_B64_URL | CS_B64_NOPAD);
	return cs_xasprintf("%s.%s", *out_h, *out_p);
}

int cs_jws_sign(char **out, EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
		const char *payload, struct cs_err *err)
{
	const char *alg = cs_jws_alg(key);
	json_t *hdr = NULL;
	char *header = NULL, *h64 = NULL, *p64 = NULL, *input = NULL, *s64 = NULL;
	struct cs_buf sig = CS_BUF_INIT;
	int r;
	if (!alg)
		return cs_err_set(err, -EINVAL, "account key: only rsa, ecdsa p256 and p384 keys can sign acme requests");
	hdr = json_pack("{s:s, s:s, s:s}", "alg", alg, "nonce", nonce, "url", url);
	if (!hdr) {
		r = cs_err_set(err, -ENOMEM, "jws header: out of memory");
		goto out;
	}
	if (kid) {
		json_object_set_new(hdr, "kid", json_string(kid));
	} else {
		json_t *jwk;
		if ((r = cs_jwk(&jwk, key, err)) < 0)
			goto out;
		json_object_set_new(hdr, "jwk", jwk);
	}
	header = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
	if (!header) {
		r = cs_err_set(err, -ENOMEM, "jws header: out of memory");
		goto out;
	}
	input = signing_input(header, payload ? payload : "", &h64, &p64);
	if ((r = cs_jws_signature(&sig, key, input, strlen(input), err)) < 0)
		goto out;
	s64 = cs_b64_encode(sig.data, sig.len, CS_B64_URL | CS_B64_NOPAD);
	*out = cs_xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", h64, p64, s64);
	r = 0;
out:
	json_decref(hdr);
	free(header);
	free(h64);
	free(p64);
	free(input);
	free(s64);
	cs_buf_free(&sig);
	return r;
}

int cs_jws_eab(json_t **out, const char *eab_kid, const void *mac_key, size_t mac_key_len,
	       EVP_PKEY *account_key, const char *url, struct cs_err *err)
{
	json_t *hdr = NULL, *jwk = NULL;
	char *header = NULL, *payload = NULL, *h64 = NULL, *p64 = NULL, *input = NULL, *s64 = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int r;
	if ((r = cs_jwk(&jwk, account_key, err)) < 0)
		goto out;
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", eab_kid, "url", url);
	header = hdr ? json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	payload = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	if (!header || !payload) {
		r = cs_err_set(err, -ENOMEM, "external account binding: out of memory");
		goto out;
	}
	input = signing_input(header, payload, &h64, &p64);
	if (!HMAC(EVP_sha256(), mac_key, (int)mac_key_len, (const unsigned char *)input, strlen(input),
		  mac, &mac_len)) {
		r = cs_err_ssl(err, -EIO, "external account binding: hmac");
		goto out;
	}
	s64 = cs_b64_encode(mac, mac_len, CS_B64_URL | CS_B64_NOPAD);
	*out = json_pack("{s:s, s:s, s:s}", "protected", h64, "payload", p64, "signature", s64);
	r = *out ? 0 : cs_err_set(err, -ENOMEM, "external account binding: out of memory");
out:
	OPENSSL_cleanse(mac, sizeof mac);
	json_decref(hdr);
	json_decref(jwk);
	free(header);
	free(payload);
	free(h64);
	free(p64);
	free(input);
	free(s64);
	return r;
}
