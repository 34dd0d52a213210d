/* Fuzzes what the ACME issuer reads from a CA's answers
 * (providers/issuer/acme_json.c, used by acme.c, and ari.c): the input is
 * a response body, read as every document acme.c reads: a directory (the
 * three URLs it needs, the renewalInfo URL), a problem document (its type,
 * the error message with subproblems, for each HTTP status acme.c treats
 * apart), an order or authorization (status, the challenge of each kind,
 * why it is invalid, the order's error), a renewalInfo window
 * (cs_ari_parse), a PEM certificate chain (and the preferred chain's root
 * name), and a Retry-After header (cs_acme_parse_retry_after).
 *
 * Input: byte 0 chooses the HTTP status (bits 0-2) and whether a
 * Retry-After came with it (bit 3); the rest is the body.  No I/O. */
#include "fuzz/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include "providers/issuer/acme_json.h"
#include "providers/issuer/ari.h"

static const long statuses[] = { 200, 201, 400, 401, 403, 404, 429, 500 };

static void read_as_order(json_t *doc)
{
	struct cs_buf b = CS_BUF_INIT;
	json_t *e = json_object_get(doc, "error");
	if (e)
		cs_acme_problem_describe(&b, e);
	cs_buf_free(&b);
	(void)cs_acme_status(doc);
	(void)json_string_value(json_object_get(doc, "finalize"));
	(void)json_string_value(json_object_get(doc, "certificate"));
}

static void read_as_authz(json_t *doc)
{
	static const enum cs_challenge_kind kinds[] = { CS_CHALLENGE_HTTP01, CS_CHALLENGE_DNS01 };
	for (size_t i = 0; i < 2; i++) {
		struct cs_buf offered = CS_BUF_INIT;
		json_t *ch = cs_acme_challenge_pick(doc, cs_acme_challenge_name(kinds[i]), &offered);
		if (ch) {
			(void)cs_acme_status(ch);
			(void)json_string_value(json_object_get(ch, "url"));
			(void)json_string_value(json_object_get(ch, "token"));
		}
		cs_buf_free(&offered);
		struct cs_err err = CS_ERR_INIT;
		const char *ident = json_string_value(json_object_get(json_object_get(doc, "identifier"), "value"));
		if (cs_acme_authz_failed(&err, doc, ident ? ident : "?", kinds[i]) != -EPROTO)
			abort();
		cs_err_clear(&err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct cs_acme_resp resp;
	memset(&resp, 0, sizeof resp);
	resp.status = statuses[data[0] & 7];
	resp.retry_after = data[0] & 8 ? 60 : -1;
	cs_buf_init(&resp.body, CS_ACME_BODY_MAX);
	cs_buf_append(&resp.body, data + 1, size - 1);

	free(cs_acme_problem_type(&resp));
	struct cs_err err = CS_ERR_INIT;
	if (cs_acme_problem_err(&err, "acme fuzz", &resp) >= 0 || !cs_err_msg(&err)[0])
		abort();
	cs_err_clear(&err);

	json_t *doc = cs_acme_body_json(&resp);
	if (doc) {
		(void)cs_acme_dir_ok(doc);
		free(cs_acme_renewal_info_url(doc, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"));
		read_as_order(doc);
		read_as_authz(doc);
		json_decref(doc);
	}

	struct cs_ari_window w;
	memset(&w, 0, sizeof w);
	if (cs_ari_parse(&w, (const char *)data + 1, size - 1, &err) == 0 && w.end <= w.start)
		abort(); /* the window is checked */
	cs_ari_window_free(&w);
	cs_err_clear(&err);

	STACK_OF(X509) *chain = NULL;
	if (cs_acme_parse_chain(&chain, &resp.body, &err) == 0) {
		if (sk_X509_num(chain) < 1)
			abort();
		(void)cs_acme_chain_matches(chain, "ISRG Root X1");
		sk_X509_pop_free(chain, X509_free);
	}
	cs_err_clear(&err);

	/* A Retry-After value is one header line. */
	if (size - 1 < 128) {
		char *v = strndup((const char *)data + 1, size - 1);
		if (!v)
			abort();
		(void)cs_acme_parse_retry_after(v, 1764806400);
		free(v);
	}
	cs_buf_free(&resp.body);
	ERR_clear_error();
	return 0;
}
