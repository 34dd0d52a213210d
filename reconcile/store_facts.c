/* meta.json's "cert" object (see store_facts.h): the facts of a stored
 * certificate, written when it is saved and read instead of parsing it. */
#include "reconcile/store_facts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

#define FACTS_VERSION 1

bool cs_store_spki_sha256(char out[65], X509 *cert)
{
	unsigned char *der = NULL;
	X509_PUBKEY *pk = X509_get_X509_PUBKEY(cert);
	int n = pk ? i2d_X509_PUBKEY(pk, &der) : -1;
	if (n <= 0)
		return false;
	cs_sha256_hex(out, der, (size_t)n);
	OPENSSL_free(der);
	return true;
}

static const char *type_name(enum cs_key_type t)
{
	return t == CS_KEY_RSA ? "rsa" : t == CS_KEY_ECDSA ? "ecdsa" : "";
}

static const char *curve_name(enum cs_curve c)
{
	return c == CS_CURVE_P256 ? "p256" : c == CS_CURVE_P384 ? "p384" : "";
}

json_t *cs_store_facts_make(X509 *leaf, STACK_OF(X509) *chain)
{
	struct cs_cert_info info;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_cert_info_get(&info, leaf, &err);
	cs_err_clear(&err);
	if (r < 0)
		return NULL;
	json_t *names = json_array();
	for (size_t i = 0; names && i < info.n_dns_names; i++)
		json_array_append_new(names, json_string(info.dns_names[i]));
	/* Only a signature that verifies is worth recording: the issuer's
	 * check (is it signed by this CA's key?) then needs only a comparison
	 * of keys. */
	X509 *up = chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
	char signer[65];
	bool have_signer = up && cs_cert_issued_by(leaf, up) && cs_store_spki_sha256(signer, up);
	json_t *o = json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:o, s:s, s:I, s:I, s:s, s:s, s:{s:s, s:i, s:s},"
			      " s:s?, s:s?, s:b, s:s?}",
			      "version", FACTS_VERSION, "subject", info.subject, "issuer", info.issuer,
			      "common_name", info.common_name, "issuer_cn", info.issuer_cn, "dns_names", names,
			      "serial", info.serial, "not_before", (json_int_t)info.not_before, "not_after",
			      (json_int_t)info.not_after, "sha1", info.sha1, "sha256", info.sha256, "key", "type",
			      type_name(info.key.type), "bits", info.key.bits, "curve", curve_name(info.key.curve),
			      "ski", info.ski, "aki", info.aki, "is_ca", info.is_ca, "signed_by",
			      have_signer ? signer : NULL);
	cs_cert_info_free(&info);
	return o;
}

/* A member that must be a string (or, when optional, missing/null). */
static int get_str(char **out, json_t *o, const char *key, bool optional)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if ((!v || json_is_null(v)) && optional)
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	*out = cs_xstrdup(json_string_value(v));
	return 0;
}

static int get_hex(char *out, size_t size, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s || strlen(s) != size - 1)
		return -EINVAL;
	memcpy(out, s, size);
	return 0;
}

int cs_store_facts_read(struct cs_cert_info *out, char **signed_by, json_t *facts)
{
	memset(out, 0, sizeof *out);
	*signed_by = NULL;
	if (!json_is_object(facts) || json_integer_value(json_object_get(facts, "version")) != FACTS_VERSION)
		return -EINVAL;
	json_t *names = json_object_get(facts, "dns_names");
	json_t *nb = json_object_get(facts, "not_before"), *na = json_object_get(facts, "not_after");
	json_t *key = json_object_get(facts, "key");
	json_t *is_ca = json_object_get(facts, "is_ca");
	int r = 0;
	if (!json_is_array(names) || !json_is_integer(nb) || !json_is_integer(na) || !json_is_object(key) ||
	    !json_is_boolean(is_ca)) {
		r = -EINVAL;
		goto out;
	}
	if ((r = get_str(&out->subject, facts, "subject", false)) < 0 ||
	    (r = get_str(&out->issuer, facts, "issuer", false)) < 0 ||
	    (r = get_str(&out->common_name, facts, "common_name", true)) < 0 ||
	    (r = get_str(&out->issuer_cn, facts, "issuer_cn", true)) < 0 ||
	    (r = get_str(&out->serial, facts, "serial", false)) < 0 ||
	    (r = get_str(&out->ski, facts, "ski", true)) < 0 ||
	    (r = get_str(&out->aki, facts, "aki", true)) < 0 ||
	    (r = get_str(signed_by, facts, "signed_by", true)) < 0 ||
	    (r = get_hex(out->sha1, sizeof out->sha1, facts, "sha1")) < 0 ||
	    (r = get_hex(out->sha256, sizeof out->sha256, facts, "sha256")) < 0)
		goto out;
	out->not_before = (int64_t)json_integer_value(nb);
	out->not_after = (int64_t)json_integer_value(na);
	out->is_ca = json_is_true(is_ca);
	const char *type = json_string_value(json_object_get(key, "type"));
	const char *curve = json_string_value(json_object_get(key, "curve"));
	if (!type || !curve || !json_is_integer(json_object_get(key, "bits"))) {
		r = -EINVAL;
		goto out;
	}
	out->key.type = !strcmp(type, "rsa") ? CS_KEY_RSA : !strcmp(type, "ecdsa") ? CS_KEY_ECDSA : 0;
	out->key.curve = !strcmp(curve, "p256") ? CS_CURVE_P256 : !strcmp(curve, "p384") ? CS_CURVE_P384 : CS_CURVE_NONE;
	out->key.bits = (int)json_integer_value(json_object_get(key, "bits"));
	size_t n = json_array_size(names);
	out->dns_names = n ? cs_xcalloc(n, sizeof *out->dns_names) : NULL;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(names, i));
		if (!s) {
			r = -EINVAL;
			goto out;
		}
		out->dns_names[out->n_dns_names++] = cs_xstrdup(s);
	}
out:
	if (r < 0) {
		cs_cert_info_free(out);
		free(*signed_by);
		*signed_by = NULL;
	}
	return r;
}
