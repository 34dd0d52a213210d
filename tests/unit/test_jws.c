/* JWS, JWK thumbprints (RFC 7638's own example), the EAB inner
 * JWS and RFC 9773 certIDs (the RFC's own example, high-bit serials). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>
#include "providers/issuer/ari.h"
#include "providers/issuer/jws.h"
#include "providers/base/base64.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

static EVP_PKEY *rsa_from_b64(const char *n64, const char *e64)
{
	struct cs_buf n = CS_BUF_INIT, e = CS_BUF_INIT;
	cs_b64_decode(&n, n64, strlen(n64), CS_B64_URL | CS_B64_NOPAD);
	cs_b64_decode(&e, e64, strlen(e64), CS_B64_URL | CS_B64_NOPAD);
	BIGNUM *bn_n = BN_bin2bn((unsigned char *)n.data, (int)n.len, NULL);
	BIGNUM *bn_e = BN_bin2bn((unsigned char *)e.data, (int)e.len, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	cs_buf_free(&n);
	cs_buf_free(&e);
	return key;
}

/* RFC 7638 §3.1: the example RSA key and its thumbprint. */
static void test_thumbprint_rfc7638(void)
{
	static const char n[] =
		"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb"
		"WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368Q"
		"QMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2"
		"NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
	EVP_PKEY *key = rsa_from_b64(n, "AQAB");
	if (!tap_ok(key != NULL, "rfc 7638 example key loads", NULL))
		return;
	struct cs_err err = CS_ERR_INIT;
	char *tp = NULL;
	tap_int(cs_jwk_thumbprint(&tp, key, &err), 0, "rfc 7638 thumbprint computes");
	tap_str(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "rfc 7638 example thumbprint");
	json_t *jwk = NULL;
	tap_int(cs_jwk(&jwk, key, &err), 0, "rsa jwk");
	tap_str(json_string_value(json_object_get(jwk, "n")), n, "rsa jwk n is minimal big-endian");
	tap_str(json_string_value(json_object_get(jwk, "e")), "AQAB", "rsa jwk e");
	tap_str(cs_jws_alg(key), "RS256", "rsa alg");
	json_decref(jwk);
	free(tp);
	EVP_PKEY_free(key);
	cs_err_clear(&err);
}

/* An EC key's thumbprint is SHA-256 over exactly {"crv","kty","x","y"}. */
static void test_thumbprint_ec(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct cs_err err = CS_ERR_INIT;
	json_t *jwk = NULL;
	char *tp = NULL;
	cs_jwk(&jwk, key, &err);
	cs_jwk_thumbprint(&tp, key, &err);
	char *canon = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char md[32];
	EVP_Digest(canon, strlen(canon), md, NULL, EVP_sha256(), NULL);
	char *want = cs_b64_encode(md, sizeof md, CS_B64_URL | CS_B64_NOPAD);
	tap_str(tp, want, "ec thumbprint is over the canonical members");
	static const char prefix[] = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"";
	tap_ok(strncmp(canon, prefix, strlen(prefix)) == 0, "ec jwk members", "%s", canon);
	tap_int((long long)strlen(json_string_value(json_object_get(jwk, "x"))), 43, "ec x is 32 octets");
	tap_int((long long)strlen(json_string_value(json_object_get(jwk, "y"))), 43, "ec y is 32 octets");
	free(want);
	free(canon);
	free(tp);
	json_decref(jwk);
	EVP_PKEY_free(key);
	cs_err_clear(&err);
}

/* Turn raw r||s back into DER and verify with OpenSSL. */
static bool verify_raw(EVP_PKEY *key, const char *input, const struct cs_buf *sig, int width)
{
	unsigned char *der = NULL;
	int der_len = 0;
	if (width) {
		ECDSA_SIG *s = ECDSA_SIG_new();
		ECDSA_SIG_set0(s, BN_bin2bn((unsigned char *)sig->data, width, NULL),
			       BN_bin2bn((unsigned char *)sig->data + width, width, NULL));
		der_len = i2d_ECDSA_SIG(s, &der);
		ECDSA_SIG_free(s);
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = width == 48 ? EVP_sha384() : EVP_sha256();
	bool ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
		  EVP_DigestVerify(ctx, width ? der : (unsigned char *)sig->data,
				   width ? (size_t)der_len : sig->len,
				   (const unsigned char *)input, strlen(input)) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok;
}

static void test_signatures(void)
{
	static const struct { const char *name; const char *curve; int width; const char *alg; } cases[] = {
		{ "es256", "P-256", 32, "ES256" },
		{ "es384", "P-384", 48, "ES384" },
		{ "rs256", NULL, 0, "RS256" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		EVP_PKEY *key = cases[i].curve ? EVP_EC_gen(cases[i].curve) : EVP_RSA_gen(2048);
		struct cs_err err = CS_ERR_INIT;
		tap_str(cs_jws_alg(key), cases[i].alg, cases[i].name);
		/* Many signatures: r or s with a leading zero octet must still be
		 * full width (the bug this format invites). */
		int rounds = cases[i].width ? 64 : 2;
		bool all_ok = true;
		for (int k = 0; k < rounds && all_ok; k++) {
			struct cs_buf sig = CS_BUF_INIT;
			char input[32];
			snprintf(input, sizeof input, "input %d", k);
			all_ok = cs_jws_signature(&sig, key, input, strlen(input), &err) == 0 &&
				 (!cases[i].width || sig.len == (size_t)cases[i].width * 2) &&
				 verify_raw(key, input, &sig, cases[i].width);
			cs_buf_free(&sig);
		}
		tap_ok(all_ok, cases[i].name, "signature wrong width or does not verify: %s", cs_err_msg(&err));
		cs_err_clear(&err);
		EVP_PKEY_free(key);
	}
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct cs_err err = CS_ERR_INIT;
	struct cs_buf sig = CS_BUF_INIT;
	tap_int(cs_jws_signature(&sig, ed, "x", 1, &err), -EINVAL, "ed25519 refused");
	tap_ok(err.msg && strstr(err.msg, "only rsa, ecdsa p256 and p384"), "ed25519 message", "%s", cs_err_msg(&err));
	cs_buf_free(&sig);
	cs_err_clear(&err);
	EVP_PKEY_free(ed);
}

static json_t *decode_part(json_t *jws, const char *member)
{
	const char *s = json_string_value(json_object_get(jws, member));
	struct cs_buf b = CS_BUF_INIT;
	if (!s || cs_b64_decode(&b, s, strlen(s), CS_B64_URL | CS_B64_NOPAD) < 0)
		return NULL;
	json_t *v = b.len ? json_loadb(b.data, b.len, 0, NULL) : json_string("");
	cs_buf_free(&b);
	return v;
}

static void test_jws_object(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct cs_err err = CS_ERR_INIT;
	char *text = NULL;
	tap_int(cs_jws_sign(&text, key, NULL, "NONCE1", "https://ca/new-acct", "{\"a\":1}", &err), 0, "jws with jwk");
	json_t *jws = json_loads(text, 0, NULL);
	json_t *hdr = decode_part(jws, "protected");
	tap_str(json_string_value(json_object_get(hdr, "alg")), "ES256", "jws alg");
	tap_str(json_string_value(json_object_get(hdr, "nonce")), "NONCE1", "jws nonce");
	tap_str(json_string_value(json_object_get(hdr, "url")), "https://ca/new-acct", "jws url");
	tap_ok(json_object_get(hdr, "jwk") && !json_object_get(hdr, "kid"), "jwk and no kid", NULL);
	/* The signature covers protected "." payload. */
	char *input = cs_xasprintf("%s.%s", json_string_value(json_object_get(jws, "protected")),
				   json_string_value(json_object_get(jws, "payload")));
	struct cs_buf sig = CS_BUF_INIT;
	const char *s64 = json_string_value(json_object_get(jws, "signature"));
	cs_b64_decode(&sig, s64, strlen(s64), CS_B64_URL | CS_B64_NOPAD);
	tap_ok(verify_raw(key, input, &sig, 32), "jws signature verifies", NULL);
	cs_buf_free(&sig);
	free(input);
	json_decref(hdr);
	json_decref(jws);
	free(text);

	tap_int(cs_jws_sign(&text, key, "https://ca/acct/1", "N2", "https://ca/order/1", NULL, &err), 0, "post-as-get");
	jws = json_loads(text, 0, NULL);
	hdr = decode_part(jws, "protected");
	tap_ok(!json_object_get(hdr, "jwk"), "kid and no jwk", NULL);
	tap_str(json_string_value(json_object_get(hdr, "kid")), "https://ca/acct/1", "jws kid");
	tap_str(json_string_value(json_object_get(jws, "payload")), "", "post-as-get payload is empty");
	json_decref(hdr);
	json_decref(jws);
	free(text);
	EVP_PKEY_free(key);
	cs_err_clear(&err);
}

static void test_eab(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct cs_err err = CS_ERR_INIT;
	static const unsigned char mac_key[] = "0123456789abcdef0123456789abcdef";
	json_t *eab = NULL;
	tap_int(cs_jws_eab(&eab, "kid-1", mac_key, 32, key, "https://ca/new-acct", &err), 0, "eab builds");
	json_t *hdr = decode_part(eab, "protected");
	json_t *payload = decode_part(eab, "payload");
	json_t *jwk = NULL;
	cs_jwk(&jwk, key, &err);
	tap_str(json_string_value(json_object_get(hdr, "alg")), "HS256", "eab alg");
	tap_str(json_string_value(json_object_get(hdr, "kid")), "kid-1", "eab kid");
	tap_str(json_string_value(json_object_get(hdr, "url")), "https://ca/new-acct", "eab url");
	tap_ok(!json_object_get(hdr, "nonce"), "eab has no nonce (rfc 8555 7.3.4)", NULL);
	tap_ok(json_equal(payload, jwk), "eab payload is the account jwk", NULL);
	char *input = cs_xasprintf("%s.%s", json_string_value(json_object_get(eab, "protected")),
				   json_string_value(json_object_get(eab, "payload")));
	unsigned char mac[32];
	HMAC(EVP_sha256(), mac_key, 32, (unsigned char *)input, strlen(input), mac, NULL);
	char *want = cs_b64_encode(mac, sizeof mac, CS_B64_URL | CS_B64_NOPAD);
	tap_str(json_string_value(json_object_get(eab, "signature")), want, "eab hmac-sha256");
	free(want);
	free(input);
	json_decref(jwk);
	json_decref(hdr);
	json_decref(payload);
	json_decref(eab);
	EVP_PKEY_free(key);
	cs_err_clear(&err);
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static size_t unhex(unsigned char *out, const char *hex)
{
	size_t n = 0;
	for (; hex[0] && hex[1]; hex += 2)
		out[n++] = (unsigned char)(hexval(hex[0]) << 4 | hexval(hex[1]));
	return n;
}

static void test_cert_id(void)
{
	static const struct { const char *name; const char *aki; const char *serial; const char *want; } cases[] = {
		/* RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
		 * serial 0x87654321 (top bit set: DER adds 0x00). */
		{ "rfc 9773 example", "69885B6B87464041E1B37B847BA0AE2CDE01C8D4", "87654321",
		  "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" },
		{ "serial without the top bit", "69885B6B87464041E1B37B847BA0AE2CDE01C8D4", "7F",
		  "aYhba4dGQEHhs3uEe6CuLN4ByNQ.fw" },
		{ "serial of one 0x80 octet", "0102", "80", "AQI.AIA" },
		{ "long serial", "01", "FA000000000000000000000000000000000000FF",
		  "AQ.APoAAAAAAAAAAAAAAAAAAAAAAAD_" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char aki[64];
		size_t aki_len = unhex(aki, cases[i].aki);
		BIGNUM *bn = NULL;
		BN_hex2bn(&bn, cases[i].serial);
		ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
		struct cs_err err = CS_ERR_INIT;
		char *id = NULL;
		cs_ari_cert_id_raw(&id, aki, aki_len, serial, &err);
		tap_str(id, cases[i].want, cases[i].name);
		free(id);
		ASN1_INTEGER_free(serial);
		BN_free(bn);
		cs_err_clear(&err);
	}

	/* The same through a real certificate (AKI extension and serial). */
	X509 *cert = X509_new();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	BIGNUM *bn = NULL;
	BN_hex2bn(&bn, "87654321");
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	X509_set_pubkey(cert, key);
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	akid->keyid = ASN1_OCTET_STRING_new();
	unsigned char aki[20];
	unhex(aki, "69885B6B87464041E1B37B847BA0AE2CDE01C8D4");
	ASN1_OCTET_STRING_set(akid->keyid, aki, sizeof aki);
	X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT);
	AUTHORITY_KEYID_free(akid);
	X509_sign(cert, key, EVP_sha256());
	struct cs_err err = CS_ERR_INIT;
	char *id = NULL;
	tap_int(cs_ari_cert_id(&id, cert, &err), 0, "certid from a certificate");
	tap_str(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "certid from a certificate matches the rfc");
	free(id);
	X509_free(cert);

	cert = X509_new();
	X509_set_pubkey(cert, key);
	tap_int(cs_ari_cert_id(&id, cert, &err), -ENOENT, "no aki: -ENOENT");
	X509_free(cert);
	BN_free(bn);
	EVP_PKEY_free(key);
	cs_err_clear(&err);
}

static void test_ari_parse(void)
{
	static const struct { const char *name; const char *body; int r; long long start, end; const char *msg; } cases[] = {
		{ "window", "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"}}",
		  0, 1735790400, 1735876800, NULL },
		{ "fractional seconds and explanation",
		  "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00.5Z\",\"end\":\"2025-01-03T04:00:00Z\"},"
		  "\"explanationURL\":\"https://ca/why\"}", 0, 1735790400, 1735876800, NULL },
		{ "end before start", "{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\",\"end\":\"2025-01-02T04:00:00Z\"}}",
		  -EINVAL, 0, 0, "ends (2025-01-02T04:00:00Z) before it starts" },
		{ "no window", "{}", -EINVAL, 0, 0, "no suggestedWindow" },
		{ "not json", "<html>", -EINVAL, 0, 0, "not a json object" },
		{ "bad time", "{\"suggestedWindow\":{\"start\":\"tomorrow\",\"end\":\"2025-01-02T04:00:00Z\"}}",
		  -EINVAL, 0, 0, "is not rfc 3339" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_ari_window w;
		struct cs_err err = CS_ERR_INIT;
		int r = cs_ari_parse(&w, cases[i].body, strlen(cases[i].body), &err);
		tap_int(r, cases[i].r, cases[i].name);
		if (r == 0) {
			tap_int(w.start, cases[i].start, "window start");
			tap_int(w.end, cases[i].end, "window end");
		} else {
			tap_ok(err.msg && strstr(err.msg, cases[i].msg), "error message", "%s", cs_err_msg(&err));
		}
		cs_ari_window_free(&w);
		cs_err_clear(&err);
	}
}

int main(void)
{
	test_thumbprint_rfc7638();
	test_thumbprint_ec();
	test_signatures();
	test_jws_object();
	test_eab();
	test_cert_id();
	test_ari_parse();
	return tap_done();
}
