/* Delivering one event through one notifier (see notify.h): a signed JSON
 * POST with retries, or a local command with the JSON on stdin. */
#include "providers/notify/notify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "providers/base/buf.h"
#include "providers/base/quote.h"
#include "providers/base/util.h"
#include "providers/transport/transport.h"

/* The first retry waits this long, each next one twice as long, up to the
 * cap: a receiver that restarts gets a few seconds, and an apply is never
 * held for minutes by one that is down. */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
/* What a receiver answers is not read beyond this. */
#define MAX_REPLY (64 * 1024)
/* How much of a failing command's stderr goes into the warning. */
#define MAX_STDERR_SHOWN 400

void cs_notify_signature(char out[65], const void *key, size_t key_len, const void *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!HMAC(EVP_sha256(), key, (int)key_len, body, len, mac, &n))
		cs_out_of_memory();
	for (unsigned i = 0; i < n && i < 32; i++) {
		static const char hex[] = "0123456789abcdef";
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(mac, sizeof mac);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	struct cs_buf *b = ctx;
	cs_buf_append_fit(b, p, size * n);
	return size * n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One POST: 0 on 2xx, 1 when worth another attempt (connection, timeout,
 * 408, 429, 5xx), negative when not (another 4xx, a bad URL). */
static int post_once(CURL *c, struct curl_slist *headers, const struct cs_notify_cfg *n, const char *body,
		     size_t len, struct cs_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct cs_buf reply = CS_BUF_INIT;
	cs_buf_init(&reply, MAX_REPLY);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, n->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(n->timeout * 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(n->timeout * 1000));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "certsync/0.1 (notify)");
	if (n->ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, n->ca_bundle);
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	cs_buf_free(&reply);
	if (rc != CURLE_OK) {
		cs_err_set(err, -EIO, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? -EINVAL : 1;
	}
	if (code >= 200 && code < 300)
		return 0;
	cs_err_set(err, -EIO, "the receiver answered HTTP %ld", code);
	return code == 408 || code == 429 || code >= 500 ? 1 : -EIO;
}

static int send_webhook(const struct cs_notify_cfg *n, const char *event, const char *body, size_t len,
			int *attempts, struct cs_err *err)
{
	static bool global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return cs_err_set(err, -EIO, "libcurl cannot be initialised");
		global_done = true;
	}
	int r;
	if (n->ca_bundle && (r = cs_file_check_regular(n->ca_bundle, err)) < 0)
		return cs_err_prefix(err, "ca_bundle");
	struct cs_buf key = CS_BUF_INIT;
	if ((r = cs_secret_resolve_line(&n->secret, &key, err)) < 0) {
		cs_buf_free_secret(&key);
		return cs_err_prefix(err, "secret");
	}
	char sig[65];
	cs_notify_signature(sig, key.data, key.len, body, len);
	cs_buf_free_secret(&key);
	struct curl_slist *headers = NULL;
	char *h_sig = cs_xasprintf("X-Certsync-Signature: sha256=%s", sig);
	char *h_event = cs_xasprintf("X-Certsync-Event: %s", event);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, h_sig);
	headers = curl_slist_append(headers, h_event);
	headers = curl_slist_append(headers, "Expect:");
	CURL *c = curl_easy_init();
	if (!c || !headers) {
		r = cs_err_set(err, -ENOMEM, "libcurl cannot make a request");
		goto out;
	}
	long wait = BACKOFF_FIRST_MS;
	for (int i = 0;; i++) {
		cs_err_clear(err);
		*attempts = i + 1;
		r = post_once(c, headers, n, body, len, err);
		if (r <= 0 || i >= n->retries)
			break;
		sleep_ms(wait);
		wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	}
	if (r > 0)
		r = -EIO;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	free(h_sig);
	free(h_event);
	return r;
}

/* The command runs on this machine through the local transport: its
 * timeout, its output kept apart from certsync's, the config's folder as
 * its working folder. */
static int send_command(const struct cs_notify_cfg *n, const char *event, const char *body, size_t len,
			const char *dir, struct cs_err *err)
{
	struct cs_host_cfg host = {
		.name = "notify",
		.platform = CS_PLATFORM_LINUX,
		.transport = CS_TRANSPORT_LOCAL,
		.local_dir = (char *)dir,
		.local_timeout = n->timeout,
	};
	struct cs_transport *t = NULL;
	int r = cs_transport_open(&t, &host, err);
	if (r < 0)
		return r;
	struct cs_buf cmd = CS_BUF_INIT;
	char *q = cs_sh_quote(event);
	cs_buf_printf(&cmd, "CERTSYNC_EVENT=%s exec", q);
	free(q);
	q = cs_sh_quote(n->path);
	cs_buf_printf(&cmd, " %s", q);
	free(q);
	for (size_t i = 0; i < n->n_args; i++) {
		q = cs_sh_quote(n->args[i]);
		cs_buf_printf(&cmd, " %s", q);
		free(q);
	}
	struct cs_run_result res;
	cs_run_result_init(&res, 64 * 1024);
	r = t->ops->run(t, cmd.data, body, len, &res, err);
	if (r == 0 && res.exit_status != 0) {
		/* stderr, else stdout; the end of it, where the reason usually is */
		const struct cs_buf *said = res.err.len ? &res.err : &res.out;
		size_t l = said->len;
		while (l > 0 && (said->data[l - 1] == '\n' || said->data[l - 1] == ' '))
			l--;
		size_t from = l > MAX_STDERR_SHOWN ? l - MAX_STDERR_SHOWN : 0;
		r = cs_err_set(err, -EIO, "exited with status %d%s%s%.*s", res.exit_status, l ? ": " : "",
			       from ? "…" : "", (int)(l - from), l ? said->data + from : "");
	}
	cs_run_result_free(&res);
	cs_buf_free(&cmd);
	cs_transport_close(t);
	return r;
}

int cs_notify_send(const struct cs_notify_cfg *n, const char *event, const char *body, size_t len,
		   const char *dir, int *attempts, struct cs_err *err)
{
	*attempts = 1;
	if (n->kind == CS_NOTIFIER_WEBHOOK)
		return send_webhook(n, event, body, len, attempts, err);
	if (n->kind == CS_NOTIFIER_COMMAND)
		return send_command(n, event, body, len, dir, err);
	return cs_err_set(err, -EINVAL, "notifier of no known kind");
}
