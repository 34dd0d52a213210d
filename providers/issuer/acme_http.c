/* libcurl requests for the ACME client (see acme_http.h). */
#include "providers/issuer/acme_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include "providers/base/util.h"

#define CONNECT_TIMEOUT 30L
#define REQUEST_TIMEOUT 120L

struct cs_acme_http {
	CURL *curl;
	char *ca_bundle;
	long connect_timeout, request_timeout; /* seconds */
};

void cs_acme_http_set_timeouts(struct cs_acme_http *h, long connect_s, long request_s)
{
	h->connect_timeout = connect_s;
	h->request_timeout = request_s;
}

void cs_acme_resp_free(struct cs_acme_resp *r)
{
	if (!r)
		return;
	cs_buf_free(&r->body);
	free(r->content_type);
	free(r->location);
	free(r->replay_nonce);
	for (size_t i = 0; i < r->n_alternates; i++)
		free(r->alternates[i]);
	memset(r, 0, sizeof *r);
	r->retry_after = -1;
}

int cs_acme_http_open(struct cs_acme_http **out, const char *ca_bundle, struct cs_err *err)
{
	/* curl_global_init is idempotent after the first call; certsync calls
	 * it from here rather than main() so only ACME users pay for it. */
	static bool global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return cs_err_set(err, -EIO, "libcurl cannot be initialised");
		global_done = true;
	}
	/* curl would wait forever on a FIFO given as the bundle. */
	int r;
	if (ca_bundle && (r = cs_file_check_regular(ca_bundle, err)) < 0)
		return cs_err_prefix(err, "ca_bundle");
	struct cs_acme_http *h = cs_xcalloc(1, sizeof *h);
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return cs_err_set(err, -ENOMEM, "libcurl: cannot create a handle");
	}
	h->ca_bundle = cs_xstrdup(ca_bundle);
	*out = h;
	return 0;
}

void cs_acme_http_close(struct cs_acme_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->ca_bundle);
	free(h);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct cs_acme_resp *r = ctx;
	/* Returning less than given makes curl fail with CURLE_WRITE_ERROR;
	 * the cap shows up as body.len == max below. */
	if (cs_buf_append(&r->body, data, size * n) < 0) {
		r->too_big = true;
		return 0;
	}
	return size * n;
}

static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return cs_xasprintf("%.*s", (int)len, s);
}

int64_t cs_acme_parse_retry_after(const char *value, int64_t now)
{
	if (!value || !*value)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (end != value && *end == '\0' && errno == 0)
		return v < 0 ? 0 : v;
	/* IMF-fixdate, RFC 9110 §5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT". */
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *rest = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!rest || *rest)
		return -1;
	int64_t at = (int64_t)timegm(&tm);
	return at > now ? at - now : 0;
}

/* One Link header value: <uri>;rel="alternate", <uri2>;rel=up ... */
static void parse_link(struct cs_acme_resp *r, const char *v)
{
	while (*v) {
		const char *lt = strchr(v, '<');
		if (!lt)
			return;
		const char *gt = strchr(lt, '>');
		if (!gt)
			return;
		const char *params = gt + 1;
		const char *next = strchr(params, ',');
		size_t plen = next ? (size_t)(next - params) : strlen(params);
		char *p = cs_xasprintf("%.*s", (int)plen, params);
		bool alternate = strstr(p, "rel=\"alternate\"") || strstr(p, "rel=alternate");
		free(p);
		if (alternate && r->n_alternates < CS_ACME_MAX_LINKS)
			r->alternates[r->n_alternates++] = cs_xasprintf("%.*s", (int)(gt - lt - 1), lt + 1);
		if (!next)
			return;
		v = next + 1;
	}
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct cs_acme_resp *r = ctx;
	size_t len = size * n;
	/* A new status line (after "100 Continue" or a redirect) starts a new
	 * set of headers. */
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		free(r->content_type);
		free(r->location);
		free(r->replay_nonce);
		r->content_type = r->location = r->replay_nonce = NULL;
		for (size_t i = 0; i < r->n_alternates; i++)
			free(r->alternates[i]);
		r->n_alternates = 0;
		r->retry_after = -1;
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	size_t name_len = (size_t)(colon - data);
	char *value = trimmed(colon + 1, len - name_len - 1);
#define IS(h) (name_len == strlen(h) && !strncasecmp(data, h, name_len))
	if (IS("Replay-Nonce")) {
		free(r->replay_nonce);
		r->replay_nonce = value;
		value = NULL;
	} else if (IS("Location")) {
		free(r->location);
		r->location = value;
		value = NULL;
	} else if (IS("Content-Type")) {
		char *semi = strchr(value, ';');
		if (semi)
			*semi = '\0';
		for (char *c = value; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		free(r->content_type);
		r->content_type = trimmed(value, strlen(value));
	} else if (IS("Retry-After")) {
		r->retry_after = cs_acme_parse_retry_after(value, (int64_t)time(NULL));
	} else if (IS("Link")) {
		parse_link(r, value);
	}
#undef IS
	free(value);
	return len;
}

int cs_acme_http_request(struct cs_acme_http *h, const char *method, const char *url,
			 const char *body, const char *accept, struct cs_acme_resp *out,
			 struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	cs_buf_init(&out->body, CS_ACME_BODY_MAX);
	out->retry_after = -1;
	CURL *c = h->curl;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* ACME is https only (RFC 8555 §6.1); refuse anything else, also on
	 * redirects, which ACME does not use anyway. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->connect_timeout ? h->connect_timeout : CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, h->request_timeout ? h->request_timeout : REQUEST_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "certsync/0.1 (acme)");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	if (accept) {
		char *a = cs_xasprintf("Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, a);
		free(a);
	}
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(method, "POST")) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	/* No "Expect: 100-continue" round trip for the small JWS bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		int code = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
			 : rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
		if (out->too_big)
			cs_err_set(err, -E2BIG, "%s %s: response larger than %u bytes", method, url,
				   CS_ACME_BODY_MAX);
		else if (rc == CURLE_PEER_FAILED_VERIFICATION && h->ca_bundle)
			cs_err_set(err, code, "%s %s: %s (the server's TLS certificate does not verify "
				   "against the issuer's ca_bundle %s)", method, url,
				   errbuf[0] ? errbuf : curl_easy_strerror(rc), h->ca_bundle);
		else if (rc == CURLE_PEER_FAILED_VERIFICATION)
			cs_err_set(err, code, "%s %s: %s (the server's TLS certificate does not verify "
				   "against the system's trust store: for a private ACME server set the "
				   "issuer's ca_bundle to the CA that signed it)", method, url,
				   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		else
			cs_err_set(err, code, "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		cs_acme_resp_free(out);
		return err ? err->code : code;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	return 0;
}
