/* The WinRM transport ("winrm: {...}"): PowerShell on a Windows host through
 * WS-Management's WinRS shell, over HTTPS with libcurl.
 *
 * Every run() is one shell: Create → Command (powershell.exe reading its
 * script from stdin, see winrm_scripts.h) → Send (the framed script and
 * input, in chunks that fit the envelope size) → Receive until the command
 * is Done (a w:TimedOut fault only means "nothing new yet") → Signal
 * terminate → Delete, the last two also when something failed on the way,
 * so no shell is left behind on the host.  Files are small PowerShell
 * scripts run through the same path.
 *
 * TLS is always verified (ca_bundle, else the system store); plain HTTP only
 * with insecure_http and never with Basic.  The password goes to libcurl
 * once at open and our copy is wiped; it is never part of a message. */
#include "providers/transport/transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include "providers/base/base64.h"
#include "providers/base/secret.h"
#include "providers/base/duration.h"
#include "providers/base/util.h"
#include "providers/transport/winrm_scripts.h"
#include "providers/transport/wsman.h"
#include "providers/base/quote.h"

/* Replies are at most MaxEnvelopeSize by the protocol; a generous factor
 * covers servers that count characters rather than bytes.  Anything larger
 * is not a WinRM reply. */
#define REPLY_CAP (4 * (size_t)CS_WSMAN_MAX_ENVELOPE)
/* The longest a Receive may hang waiting for output (the recordings and
 * pywinrm use 20 s); the HTTP timeout is this plus the host's timeout. */
#define MAX_OPERATION_TIMEOUT 20
/* stdout/stderr of the transport's own file scripts. */
#define FILE_OUT_DEFAULT ((size_t)64 << 20)
#define SCRIPT_ERR_CAP ((size_t)1 << 20)

struct winrm {
	struct cs_transport base;   /* first: generic code sees a cs_transport */
	CURL *curl;
	struct curl_slist *headers;
	char *url;                  /* https://address:port/wsman */
	char session_id[42];
	unsigned op_timeout;        /* OperationTimeout, seconds */
	int64_t command_limit;      /* seconds a command may run in all: 10 × the host's timeout */
	char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* libcurl's and libxml2's global setup is not safe to race, and hosts are
 * opened from several threads at once. */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
}

static const char *host_name(const struct winrm *w)
{
	return w->base.host && w->base.host->name ? w->base.host->name : "?";
}

static const struct cs_winrm_cfg *cfg_of(const struct winrm *w)
{
	return &w->base.host->winrm;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct cs_buf *b = ud;
	size_t len = size * n;
	return cs_buf_append(b, p, len) == 0 ? len : 0;
}

static void winrm_close(struct cs_transport *t)
{
	struct winrm *w = (struct winrm *)t;
	if (!w)
		return;
	if (w->curl)
		curl_easy_cleanup(w->curl);
	curl_slist_free_all(w->headers);
	free(w->url);
	free(w);
}

static int winrm_open(struct cs_transport **out, const struct cs_host_cfg *host, struct cs_err *err)
{
	const struct cs_winrm_cfg *c = &host->winrm;
	const char *name = host->name ? host->name : "?";
	struct cs_buf pw = CS_BUF_INIT;
	struct winrm *w = NULL;
	int r = 0;
	*out = NULL;

	/* Config validation refuses this already; a transport that can send a
	 * password in clear must not rely on that alone. */
	if (c->insecure_http && c->auth == CS_WINRM_BASIC)
		return cs_err_set(err, -EINVAL, "host %s: basic authentication over plain HTTP would "
				  "send the password in clear (use ntlm or negotiate, or HTTPS)", name);
	if (!c->address || !*c->address)
		return cs_err_set(err, -EINVAL, "host %s: winrm needs an address", name);
	/* curl would wait forever on a FIFO given as the bundle. */
	if (c->ca_bundle && (r = cs_file_check_regular(c->ca_bundle, err)) < 0)
		return cs_err_prefix(err, "host %s: ca_bundle", name);
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return cs_err_set(err, -EIO, "host %s: cannot initialise libcurl: %s", name,
				  curl_easy_strerror(global_rc));

	w = cs_xcalloc(1, sizeof *w);
	w->base.ops = &cs_transport_winrm;
	w->base.host = host;
	bool v6 = strchr(c->address, ':') != NULL;
	w->url = cs_xasprintf("%s://%s%s%s:%d/wsman", c->insecure_http ? "http" : "https",
			      v6 ? "[" : "", c->address, v6 ? "]" : "", c->port ? c->port : 5986);
	int64_t timeout = c->timeout > 0 ? c->timeout : 60;
	/* OperationTimeout below the HTTP timeout, so the server's TimedOut
	 * reply arrives before libcurl gives up on it. */
	w->op_timeout = timeout >= 2 * MAX_OPERATION_TIMEOUT ? MAX_OPERATION_TIMEOUT
			: (unsigned)(timeout / 2 > 0 ? timeout / 2 : 1);
	/* A command that never ends would otherwise be asked about forever:
	 * each TimedOut only says "still running".  Same bound as ssh's. */
	w->command_limit = 10 * timeout;
	if ((r = cs_wsman_uuid(w->session_id)) < 0) {
		r = cs_err_set(err, r, "host %s: no random numbers for a session id", name);
		goto out;
	}
	w->curl = curl_easy_init();
	w->headers = curl_slist_append(NULL, "Content-Type: application/soap+xml;charset=UTF-8");
	/* No "Expect: 100-continue" round trip before every larger envelope. */
	struct curl_slist *h2 = w->headers ? curl_slist_append(w->headers, "Expect:") : NULL;
	if (!w->curl || !h2) {
		r = cs_err_set(err, -ENOMEM, "host %s: out of memory", name);
		goto out;
	}
	w->headers = h2;

	CURL *k = w->curl;
	curl_easy_setopt(k, CURLOPT_URL, w->url);
	curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, c->insecure_http ? "http" : "https");
	curl_easy_setopt(k, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(k, CURLOPT_HTTPHEADER, w->headers);
	curl_easy_setopt(k, CURLOPT_POST, 1L);
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k, CURLOPT_ERRORBUFFER, w->curl_err);
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, (long)timeout);
	curl_easy_setopt(k, CURLOPT_TIMEOUT, (long)(timeout + w->op_timeout));
	curl_easy_setopt(k, CURLOPT_USERAGENT, "certsync");
	/* Verification is never switched off; ca_bundle only chooses the
	 * trust anchors (the system store otherwise). */
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_bundle)
		curl_easy_setopt(k, CURLOPT_CAINFO, c->ca_bundle);

	long auth = c->auth == CS_WINRM_BASIC ? CURLAUTH_BASIC
		  : c->auth == CS_WINRM_NEGOTIATE ? CURLAUTH_NEGOTIATE : CURLAUTH_NTLM;
	if (curl_easy_setopt(k, CURLOPT_HTTPAUTH, auth) != CURLE_OK) {
		r = cs_err_set(err, -ENOTSUP, "host %s: this libcurl cannot do %s authentication", name,
			       c->auth == CS_WINRM_NEGOTIATE ? "negotiate (Kerberos)" : "ntlm");
		goto out;
	}
	curl_easy_setopt(k, CURLOPT_USERNAME, c->user ? c->user : "");
	if (c->auth == CS_WINRM_NEGOTIATE) {
		/* Kerberos through GSS-API uses the ticket cache (kinit), not
		 * a password. */
		curl_easy_setopt(k, CURLOPT_PASSWORD, "");
	} else {
		if ((r = cs_secret_resolve_line(&c->password, &pw, err)) < 0) {
			cs_err_prefix(err, "host %s: winrm password", name);
			goto out;
		}
		/* libcurl keeps its own copy for NTLM's per-connection
		 * handshakes until the handle is cleaned up. */
		curl_easy_setopt(k, CURLOPT_PASSWORD, pw.data);
	}
	*out = &w->base;
	w = NULL;
out:
	cs_buf_free_secret(&pw);
	winrm_close(w ? &w->base : NULL);
	return r;
}

/* ---- one HTTP exchange ---- */

/* POST an envelope.  0 with *out_fault = false for a 200 reply in resp;
 * 0 with *out_fault = true (fault filled) for a SOAP fault; negative with
 * the message in err for everything else. */
static int post(struct winrm *w, const char *step, const struct cs_buf *req, struct cs_buf *resp,
		bool *out_fault, struct cs_wsman_fault *fault, struct cs_err *err)
{
	const char *name = host_name(w);
	const struct cs_winrm_cfg *c = cfg_of(w);
	long status = 0;
	*out_fault = false;
	cs_buf_reset(resp);
	w->curl_err[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, req->data);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, resp);
	CURLcode rc = curl_easy_perform(w->curl);
	const char *why = w->curl_err[0] ? w->curl_err : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return cs_err_set(err, -EPROTO, "host %s: WinRM at %s: TLS verification failed: %s",
				  name, w->url, why);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return cs_err_set(err, -ECONNREFUSED, "host %s: WinRM at %s: cannot connect: %s", name,
				  w->url, why);
	case CURLE_OPERATION_TIMEDOUT:
		return cs_err_set(err, -ETIMEDOUT, "host %s: WinRM at %s: %s: no reply in time: %s",
				  name, w->url, step, why);
	case CURLE_WRITE_ERROR:
		return cs_err_set(err, -E2BIG, "host %s: WinRM at %s: %s: reply larger than %zu bytes",
				  name, w->url, step, resp->max);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return cs_err_set(err, -EPROTONOSUPPORT, "host %s: WinRM at %s: %s", name, w->url, why);
	default:
		return cs_err_set(err, -EIO, "host %s: WinRM at %s: %s: %s", name, w->url, step, why);
	}
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return 0;
	if (status == 401)
		return cs_err_set(err, -EACCES, "host %s: WinRM at %s refused the credentials of %s (HTTP 401)%s",
				  name, w->url, c->user ? c->user : "",
				  /* Windows answers an unencrypted request so too */
				  c->insecure_http ? "; over plain HTTP also when the service does not allow "
						     "unencrypted traffic (WSMan:\\localhost\\Service\\AllowUnencrypted)" : "");
	/* Faults come as HTTP 500 with a SOAP body; other statuses may carry
	 * one too (400 for a malformed request). */
	struct cs_err perr = CS_ERR_INIT;
	int f = resp->len ? cs_wsman_parse_fault(resp->data, resp->len, fault, &perr) : 0;
	cs_err_clear(&perr);
	if (f == 1) {
		*out_fault = true;
		return 0;
	}
	return cs_err_set(err, -EPROTO, "host %s: WinRM at %s: %s: HTTP %ld", name, w->url, step, status);
}

static void header(struct winrm *w, struct cs_wsman_header *h, char mid[42], const char *action,
		   const char *shell_id)
{
	memset(h, 0, sizeof *h);
	if (cs_wsman_uuid(mid) < 0)
		/* Message ids need to be unique, not secret: fall back to a
		 * counter-free constant only if the RNG is broken. */
		snprintf(mid, 42, "uuid:00000000-0000-4000-8000-000000000000");
	h->to = w->url;
	h->action = action;
	h->message_id = mid;
	h->session_id = w->session_id;
	h->timeout_s = w->op_timeout;
	h->shell_id = shell_id;
}

/* A fault where none is expected, as the step's error. */
static int fault_error(struct winrm *w, const char *step, struct cs_wsman_fault *f, struct cs_err *err)
{
	char *t = cs_wsman_fault_text(f);
	int r = cs_err_set(err, -EPROTO, "host %s: winrm %s: %s", host_name(w), step, t);
	free(t);
	cs_wsman_fault_free(f);
	return r;
}

/* Send an envelope built by the caller; 0 with a 200 reply in resp. */
static int exchange(struct winrm *w, const char *step, const struct cs_buf *req, struct cs_buf *resp,
		    struct cs_err *err)
{
	struct cs_wsman_fault f = { 0 };
	bool faulted;
	int r = post(w, step, req, resp, &faulted, &f, err);
	if (r == 0 && faulted)
		r = fault_error(w, step, &f, err);
	return r;
}

/* Parse errors of a reply get the host in front. */
static int reply_error(struct winrm *w, int r, struct cs_err *err)
{
	cs_err_prefix(err, "host %s: winrm", host_name(w));
	return r;
}

/* ---- run ---- */

struct shell {
	char *id;
	char *command_id;
};

static int shell_create(struct winrm *w, struct shell *sh, struct cs_buf *req, struct cs_buf *resp,
			struct cs_err *err)
{
	/* No user profile: faster, and nothing of the account's profile
	 * scripts runs.  Code page 65001: output comes back as UTF-8. */
	static const struct cs_wsman_option opts[] = {
		{ "WINRS_NOPROFILE", "TRUE", false },
		{ "WINRS_CODEPAGE", "65001", false },
	};
	struct cs_wsman_header h;
	char mid[42];
	header(w, &h, mid, CS_WSMAN_ACTION_CREATE, NULL);
	h.options = opts;
	h.n_options = sizeof opts / sizeof opts[0];
	cs_buf_reset(req);
	int r = cs_wsman_build_create(req, &h, NULL);
	if (r < 0)
		return cs_err_errno(err, r, "host %s: winrm create shell", host_name(w));
	if ((r = exchange(w, "create shell", req, resp, err)) < 0)
		return r;
	r = cs_wsman_parse_create(resp->data, resp->len, &sh->id, err);
	return r < 0 ? reply_error(w, r, err) : 0;
}

static int command_start(struct winrm *w, struct shell *sh, struct cs_buf *req, struct cs_buf *resp,
			 struct cs_err *err)
{
	/* Through cmd.exe as Windows' own client does: powershell.exe is found
	 * on PATH that way on every version (without it 2008 R2 needs the
	 * full path, see the no_cmd_shell recording). */
	static const struct cs_wsman_option opts[] = {
		{ "WINRS_SKIP_CMD_SHELL", "False", false },
	};
	struct cs_wsman_header h;
	char mid[42];
	header(w, &h, mid, CS_WSMAN_ACTION_COMMAND, sh->id);
	h.options = opts;
	h.n_options = 1;
	cs_buf_reset(req);
	int r = cs_wsman_build_command(req, &h, cs_ps_command, cs_ps_arguments, cs_ps_n_arguments);
	if (r < 0)
		return cs_err_errno(err, r, "host %s: winrm start command", host_name(w));
	if ((r = exchange(w, "start command", req, resp, err)) < 0)
		return r;
	r = cs_wsman_parse_command(resp->data, resp->len, &sh->command_id, err);
	return r < 0 ? reply_error(w, r, err) : 0;
}

static int send_input(struct winrm *w, struct shell *sh, const struct cs_buf *frame,
		      struct cs_buf *req, struct cs_buf *resp, struct cs_err *err)
{
	struct cs_wsman_header h;
	char mid[42];
	header(w, &h, mid, CS_WSMAN_ACTION_SEND, sh->id);
	size_t chunk = cs_wsman_send_capacity(&h);
	if (chunk == 0)
		return cs_err_set(err, -E2BIG, "host %s: winrm send input: no room for data in an envelope",
				  host_name(w));
	size_t off = 0;
	do {
		size_t n = frame->len - off < chunk ? frame->len - off : chunk;
		bool end = off + n == frame->len;
		header(w, &h, mid, CS_WSMAN_ACTION_SEND, sh->id);
		cs_buf_reset(req);
		int r = cs_wsman_build_send(req, &h, sh->command_id, "stdin", frame->data + off, n, end);
		if (r < 0)
			return cs_err_errno(err, r, "host %s: winrm send input", host_name(w));
		if ((r = exchange(w, "send input", req, resp, err)) < 0)
			return r;
		off += n;
	} while (off < frame->len);
	return 0;
}

static int receive_all(struct winrm *w, struct shell *sh, struct cs_wsman_receive *rr,
		       struct cs_buf *req, struct cs_buf *resp, struct cs_err *err)
{
	static const struct cs_wsman_option opts[] = {
		{ "WSMAN_CMDSHELL_OPTION_KEEPALIVE", "True", false },
	};
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!rr->done) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > w->command_limit)
			return cs_err_set(err, -ETIMEDOUT, "host %s: the command did not finish within %lld s",
					  host_name(w), (long long)w->command_limit);
		struct cs_wsman_header h;
		struct cs_wsman_fault f = { 0 };
		char mid[42];
		bool faulted;
		header(w, &h, mid, CS_WSMAN_ACTION_RECEIVE, sh->id);
		h.options = opts;
		h.n_options = 1;
		cs_buf_reset(req);
		int r = cs_wsman_build_receive(req, &h, sh->command_id, "stdout stderr");
		if (r < 0)
			return cs_err_errno(err, r, "host %s: winrm receive output", host_name(w));
		if ((r = post(w, "receive output", req, resp, &faulted, &f, err)) < 0)
			return r;
		if (faulted) {
			/* Nothing new within OperationTimeout: the command is
			 * still running.  Ask again. */
			if (cs_wsman_fault_is_timeout(&f)) {
				cs_wsman_fault_free(&f);
				continue;
			}
			return fault_error(w, "receive output", &f, err);
		}
		r = cs_wsman_parse_receive(resp->data, resp->len, sh->command_id, rr, err);
		if (r < 0)
			return reply_error(w, r, err);
	}
	return 0;
}

/* Best effort: the run's own result (or error) is what matters; a shell
 * that could not be deleted is reaped by the host after its idle timeout. */
static void shell_end(struct winrm *w, struct shell *sh, struct cs_buf *req, struct cs_buf *resp)
{
	struct cs_err ignore = CS_ERR_INIT;
	struct cs_wsman_header h;
	char mid[42];
	if (sh->command_id) {
		header(w, &h, mid, CS_WSMAN_ACTION_SIGNAL, sh->id);
		cs_buf_reset(req);
		if (cs_wsman_build_signal(req, &h, sh->command_id, CS_WSMAN_SIGNAL_TERMINATE) == 0)
			exchange(w, "signal", req, resp, &ignore);
		cs_err_clear(&ignore);
	}
	if (sh->id) {
		header(w, &h, mid, CS_WSMAN_ACTION_DELETE, sh->id);
		cs_buf_reset(req);
		if (cs_wsman_build_empty(req, &h) == 0)
			exchange(w, "delete shell", req, resp, &ignore);
		cs_err_clear(&ignore);
	}
	free(sh->command_id);
	free(sh->id);
	sh->command_id = sh->id = NULL;
}

static int winrm_run(struct cs_transport *t, const char *command, const void *stdin_data,
		     size_t stdin_len, struct cs_run_result *out, struct cs_err *err)
{
	struct winrm *w = (struct winrm *)t;
	struct shell sh = { NULL, NULL };
	struct cs_buf frame = CS_BUF_INIT, req = CS_BUF_INIT, resp;
	struct cs_wsman_receive rr;
	/* stderr arrives as CLIXML, several times the size of its text. */
	size_t err_cap = out->err.max ? out->err.max * 8 + 65536 : 0;
	cs_buf_init(&resp, REPLY_CAP);
	cs_wsman_receive_init(&rr, out->out.max);
	rr.err.max = err_cap;
	int r;

	/* The frame holds the input, which may be a secret (a PFX password):
	 * it is wiped below like the envelopes that carry it. */
	if ((r = cs_ps_frame(&frame, command, stdin_data, stdin_len)) < 0) {
		r = cs_err_errno(err, r, "host %s: winrm run", host_name(w));
		goto out;
	}
	if ((r = shell_create(w, &sh, &req, &resp, err)) < 0)
		goto out;
	if ((r = command_start(w, &sh, &req, &resp, err)) < 0)
		goto out;
	if ((r = send_input(w, &sh, &frame, &req, &resp, err)) < 0)
		goto out;
	if ((r = receive_all(w, &sh, &rr, &req, &resp, err)) < 0)
		goto out;
	cs_buf_append_fit(&out->out, rr.out.data, rr.out.len);
	cs_ps_stderr_text(&out->err, rr.err.data, rr.err.len);
	/* Windows exit codes are 32-bit (NTSTATUS values among them); keep
	 * the low bits as the int the interface has. */
	out->exit_status = rr.has_exit_code ? (int)(uint32_t)rr.exit_code : 255;
out:
	shell_end(w, &sh, &req, &resp);
	cs_buf_free_secret(&frame);
	cs_buf_free_secret(&req);
	cs_buf_free(&resp);
	cs_wsman_receive_free(&rr);
	return r;
}

/* ---- files ---- */

/* Run a file script; the script's stderr (already readable text) becomes
 * the message when it fails other than with CS_PS_EXIT_ENOENT. */
static int run_file_script(struct winrm *w, const char *path, const char *body, const void *input,
			   size_t len, size_t out_cap, struct cs_run_result *res, struct cs_err *err)
{
	char *script = cs_ps_with_path(path, body);
	cs_run_result_init(res, out_cap);
	res->err.max = SCRIPT_ERR_CAP;
	int r = winrm_run(&w->base, script, input, len, res, err);
	free(script);
	return r;
}

static const char *trimmed(struct cs_buf *b)
{
	if (!b->data)
		return "";
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
			  b->data[b->len - 1] == ' '))
		b->data[--b->len] = '\0';
	return b->data;
}

static int script_failed(struct winrm *w, const char *what, const char *path,
			 struct cs_run_result *res, struct cs_err *err)
{
	char *line = cs_ps_first_line(&res->err);
	int r = cs_err_set(err, -EIO, "host %s: %s %s: exit %d: %s", host_name(w), what, path,
			   res->exit_status, line);
	free(line);
	return r;
}

static int winrm_read_file(struct cs_transport *t, const char *path, struct cs_buf *out,
			   struct cs_err *err)
{
	struct winrm *w = (struct winrm *)t;
	struct cs_run_result res;
	/* The room left in out (the content is appended to what is there). */
	size_t max = out->max ? (out->max > out->len ? out->max - out->len : 0) : FILE_OUT_DEFAULT;
	/* Base64 on the wire: 4 characters per 3 bytes, and a line end; the
	 * stream is cut at this cap, so reaching it means a larger file. */
	size_t wire_cap = max / 3 * 4 + 16;
	int r = run_file_script(w, path, cs_ps_read_file, NULL, 0, wire_cap, &res, err);
	if (r < 0)
		goto out;
	if (res.exit_status == CS_PS_EXIT_ENOENT) {
		r = cs_err_set(err, -ENOENT, "host %s: read %s: no such file", host_name(w), path);
		goto out;
	}
	if (res.exit_status != 0) {
		r = script_failed(w, "read", path, &res, err);
		goto out;
	}
	size_t n = res.out.len;
	if (n >= wire_cap) {
		r = cs_err_set(err, -E2BIG, "host %s: read %s: larger than %zu bytes", host_name(w), path, max);
		goto out;
	}
	/* [Convert]::ToBase64String's text and a line end. */
	struct cs_buf raw = CS_BUF_INIT;
	r = cs_b64_decode(&raw, res.out.data ? res.out.data : "", n, CS_B64_SPACE);
	if (r == -EINVAL) {
		r = cs_err_set(err, -EBADMSG, "host %s: read %s: the content did not arrive as base64",
			       host_name(w), path);
	} else if (r < 0) {
		r = cs_err_errno(err, r, "host %s: read %s", host_name(w), path);
	} else if (raw.len > max) {
		r = cs_err_set(err, -E2BIG, "host %s: read %s: larger than %zu bytes", host_name(w), path, max);
	} else if ((r = cs_buf_append(out, raw.data, raw.len)) < 0) {
		r = cs_err_errno(err, r, "host %s: read %s", host_name(w), path);
	}
	cs_buf_free_secret(&raw);
out:
	cs_buf_free_secret(&res.out);
	cs_run_result_free(&res);
	return r;
}

static int winrm_write_file(struct cs_transport *t, const char *path, const void *data, size_t len,
			    const struct cs_file_attrs *attrs, struct cs_err *err)
{
	struct winrm *w = (struct winrm *)t;
	struct cs_run_result res;
	/* Windows has ACLs, not POSIX modes: the mode is ignored and the file
	 * gets the folder's inherited ACL (or keeps the replaced file's).
	 * Owner and group would be a promise not kept. */
	if (attrs && (attrs->owner || attrs->group))
		return cs_err_set(err, -ENOTSUP, "host %s: write %s: owner and group are not supported "
				  "on windows", host_name(w), path);
	/* The temporary file carries the run's tag (see remove_temps). */
	char *q = cs_ps_quote(cs_temp_tag());
	char *body = cs_xasprintf("$CertsyncRun = %s\n%s", q, cs_ps_write_file);
	int r = run_file_script(w, path, body, data, len, 65536, &res, err);
	free(body);
	free(q);
	if (r < 0)
		goto out;
	if (res.exit_status == CS_PS_EXIT_ENOENT)
		r = cs_err_set(err, -ENOENT, "host %s: write %s: folder does not exist", host_name(w), path);
	else if (res.exit_status != 0)
		r = script_failed(w, "write", path, &res, err);
out:
	cs_run_result_free(&res);
	return r;
}

static int winrm_remove_temps(struct cs_transport *t, char *const *paths, size_t n, const char *tag,
			      struct cs_err *err)
{
	return cs_ps_remove_temps_run(t, paths, n, tag, err);
}

static int winrm_remove_file(struct cs_transport *t, const char *path, struct cs_err *err)
{
	struct winrm *w = (struct winrm *)t;
	struct cs_run_result res;
	int r = run_file_script(w, path, cs_ps_remove_file, NULL, 0, 65536, &res, err);
	if (r == 0 && res.exit_status != 0)
		r = script_failed(w, "remove", path, &res, err);
	cs_run_result_free(&res);
	return r;
}

static int winrm_stat(struct cs_transport *t, const char *path, struct cs_file_stat *out,
		      struct cs_err *err)
{
	struct winrm *w = (struct winrm *)t;
	struct cs_run_result res;
	memset(out, 0, sizeof *out);
	int r = run_file_script(w, path, cs_ps_stat, NULL, 0, 4096, &res, err);
	if (r < 0)
		goto out;
	if (res.exit_status != 0) {
		r = script_failed(w, "stat", path, &res, err);
		goto out;
	}
	const char *s = trimmed(&res.out);
	if (strcmp(s, "missing") == 0)
		goto out;
	if (strcmp(s, "dir") == 0) {
		out->exists = true;
		goto out;
	}
	if (strncmp(s, "file ", 5) == 0) {
		char *end;
		errno = 0;
		long long size = strtoll(s + 5, &end, 10);
		if (errno == 0 && end != s + 5 && *end == '\0' && size >= 0) {
			out->exists = true;
			out->size = size;
			goto out;
		}
	}
	r = cs_err_set(err, -EBADMSG, "host %s: stat %s: unexpected answer from the host", host_name(w), path);
out:
	cs_run_result_free(&res);
	return r;
}

/* ---- config body ---- */

static void winrm_parse(struct cs_yaml *y, struct cs_host_cfg *h, const struct cs_ynode *key, const struct cs_ynode *m)
{
	static const char *const keys[] = {
		"address", "port", "auth", "user", "password", "ca_bundle", "insecure_http", "timeout", NULL,
	};
	static const char *const auths[] = { "basic", "ntlm", "negotiate", NULL };
	const char *where = cs_yaml_fmt(y, "in winrm of host %s", cs_yaml_esc(y, h->name));
	struct cs_winrm_cfg *w = &h->winrm;
	w->auth = CS_WINRM_NTLM;
	w->timeout = 60;
	cs_yaml_check_keys(y, m, keys, where);
	struct cs_ynode *v = cs_yaml_str(y, m, "address", where, true, &w->address);
	if (v)
		cs_transport_check_address(y, v, w->address, where);
	int a = 0;
	struct cs_ynode *auth = cs_yaml_enum(y, m, "auth", where, false, auths, &a);
	if (auth)
		w->auth = (enum cs_winrm_auth)(a + 1);
	cs_yaml_str(y, m, "user", where, true, &w->user);
	cs_yaml_secret(y, m, "password", where, true, &w->password);
	cs_yaml_local_file(y, m, "ca_bundle", where, false, &w->ca_bundle);
	struct cs_ynode *insecure = cs_yaml_bool(y, m, "insecure_http", where, &w->insecure_http);
	w->port = w->insecure_http ? 5985 : 5986;
	cs_yaml_int(y, m, "port", where, false, 1, 65535, &w->port);
	cs_yaml_duration(y, m, "timeout", where, true, CS_DURATION_MAX_WAIT, &w->timeout);
	if (w->insecure_http && w->auth == CS_WINRM_BASIC)
		cs_yaml_report(y, insecure, "basic authentication over plain HTTP would send the password in clear "
		       "(host %s: use auth: ntlm or negotiate, or HTTPS)", cs_yaml_esc(y, h->name));
	if (h->platform == CS_PLATFORM_LINUX)
		cs_yaml_report(y, key, "host %s is linux: winrm is only for windows hosts (use ssh or local)",
			       cs_yaml_esc(y, h->name));
}

const struct cs_transport_ops cs_transport_winrm = {
	.name = "winrm",
	.parse = winrm_parse,
	.open = winrm_open,               /* libcurl handle; no request yet */
	.run = winrm_run,                 /* one WinRS shell per run, script framed on stdin */
	.read_file = winrm_read_file,     /* base64 through stdout */
	.write_file = winrm_write_file,   /* temp file + File.Replace; mode ignored, no owner */
	.remove_file = winrm_remove_file,
	.remove_temps = winrm_remove_temps,
	.stat = winrm_stat,               /* exists and size; no mode or owner on windows */
	.close = winrm_close,
};
