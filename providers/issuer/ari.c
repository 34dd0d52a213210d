/* RFC 9773 certID and renewalInfo parsing (see ari.h). */
#include "providers/issuer/ari.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/x509v3.h>
#include "providers/issuer/jws.h"
#include "providers/base/base64.h"
#include "providers/base/util.h"

int cs_ari_cert_id_raw(char **out, const unsigned char *aki, size_t aki_len,
		       const ASN1_INTEGER *serial, struct cs_err *err)
{
	unsigned char *der = NULL;
	int n = i2d_ASN1_INTEGER(serial, &der);
	if (n < 2 || der[0] != V_ASN1_INTEGER) {
		OPENSSL_free(der);
		return cs_err_ssl(err, -EINVAL, "ari: cannot encode the serial number");
	}
	/* Skip tag and length (short form, or long form 0x8N + N octets). */
	size_t off = 2;
	if (der[1] & 0x80)
		off += der[1] & 0x7f;
	if (off >= (size_t)n) {
		OPENSSL_free(der);
		return cs_err_set(err, -EINVAL, "ari: empty serial number");
	}
	char *a = cs_b64_encode(aki, aki_len, CS_B64_URL | CS_B64_NOPAD);
	char *s = cs_b64_encode(der + off, (size_t)n - off, CS_B64_URL | CS_B64_NOPAD);
	*out = cs_xasprintf("%s.%s", a, s);
	free(a);
	free(s);
	OPENSSL_free(der);
	return 0;
}

int cs_ari_cert_id(char **out, X509 *cert, struct cs_err *err)
{
	const ASN1_OCTET_STRING *kid = X509_get0_authority_key_id(cert);
	if (!kid || ASN1_STRING_length(kid) <= 0)
		return cs_err_set(err, -ENOENT, "ari: the certificate has no authority key identifier");
	return cs_ari_cert_id_raw(out, ASN1_STRING_get0_data(kid), (size_t)ASN1_STRING_length(kid),
				  X509_get0_serialNumber(cert), err);
}

void cs_ari_window_free(struct cs_ari_window *w)
{
	if (!w)
		return;
	free(w->explanation_url);
	w->explanation_url = NULL;
}

int cs_ari_parse(struct cs_ari_window *out, const char *body, size_t len, struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	int r;
	if (!root || !json_is_object(root)) {
		r = cs_err_set(err, -EINVAL, "renewal info is not a json object");
		goto out;
	}
	json_t *win = json_object_get(root, "suggestedWindow");
	const char *start = json_string_value(json_object_get(win, "start"));
	const char *end = json_string_value(json_object_get(win, "end"));
	if (!start || !end) {
		r = cs_err_set(err, -EINVAL, "renewal info has no suggestedWindow start and end");
		goto out;
	}
	if (cs_time_parse(&out->start, start) < 0 || cs_time_parse(&out->end, end) < 0) {
		r = cs_err_set(err, -EINVAL, "renewal info window \"%s\" .. \"%s\" is not rfc 3339 utc",
			       start, end);
		goto out;
	}
	/* RFC 9773 §4.2: a window whose end is not after its start is invalid
	 * and the client must act as if there were none. */
	if (out->end <= out->start) {
		r = cs_err_set(err, -EINVAL, "renewal info window ends (%s) before it starts (%s)", end, start);
		goto out;
	}
	const char *why = json_string_value(json_object_get(root, "explanationURL"));
	out->explanation_url = cs_xstrdup(why);
	r = 0;
out:
	json_decref(root);
	return r;
}
