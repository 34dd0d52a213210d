/* Live endpoint check (see tls_verify.h): connect, speak the plain-text
 * STARTTLS dialogue when asked, complete a TLS handshake whatever the chain
 * looks like, and report the leaf the endpoint presents.
 *
 * The handshake is done with SSL_VERIFY_NONE on purpose: after a renewal the
 * question is "which certificate does it serve now", and a broken chain must
 * not hide the answer.  The chain is then checked separately against the
 * ca_bundle and reported in cs_tls_seen.
 *
 * Everything runs on one non-blocking socket against a single deadline, so a
 * silent server cannot stall an apply. */
#include "reconcile/tls_verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "providers/base/buf.h"
#include "providers/base/util.h"

/* Caps for what a server may send us in the plain-text phase. */
#define LINE_MAX_BYTES 4096
#define DIALOGUE_MAX_BYTES 65536
/* How much of a server line goes into an error message. */
#define QUOTE_MAX 160

void cs_tls_seen_free(struct cs_tls_seen *s)
{
	if (!s)
		return;
	free(s->subject);
	free(s->serial);
	free(s->chain_error);
	if (s->served)
		sk_X509_pop_free(s->served, X509_free);
	s->served = NULL;
	s->subject = s->serial = s->chain_error = NULL;
	s->sha256[0] = '\0';
	s->chain_checked = s->chain_ok = false;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - mono_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Wait until fd is ready for events or the deadline passes: 1 ready,
 * 0 timed out, negative errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, remaining_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return n > 0 ? 1 : 0;
	}
}

/* "host:port" or "[v6]:port" into its parts.  A bare IPv6 address without
 * brackets is refused rather than guessed at. */
static int split_endpoint(const char *connect, char **out_host, char **out_port, struct cs_err *err)
{
	const char *host, *host_end, *colon;
	if (connect[0] == '[') {
		host = connect + 1;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':')
			return cs_err_set(err, -EINVAL, "endpoint %s: expected [address]:port", connect);
		colon = host_end + 1;
	} else {
		host = connect;
		colon = strrchr(connect, ':');
		if (!colon || memchr(connect, ':', (size_t)(colon - connect)))
			return cs_err_set(err, -EINVAL, "endpoint %s: expected host:port or [address]:port",
					  connect);
		host_end = colon;
	}
	const char *port = colon + 1;
	char *end;
	long v = strtol(port, &end, 10);
	if (host_end == host || !port[0] || *end || v < 1 || v > 65535)
		return cs_err_set(err, -EINVAL, "endpoint %s: expected host:port with a port 1-65535",
				  connect);
	*out_host = cs_xasprintf("%.*s", (int)(host_end - host), host);
	*out_port = cs_xstrdup(port);
	return 0;
}

/* Non-blocking connect to one address; 0 with *out_fd, or negative errno. */
static int connect_one(int *out_fd, const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto out;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r == 0)
			r = -ETIMEDOUT;
		if (r < 0)
			goto out;
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			r = -errno;
		else
			r = soerr ? -soerr : 0;
	}
out:
	if (r < 0)
		close(fd);
	else
		*out_fd = fd;
	return r;
}

/* Try each address the name resolves to.  Each address gets an equal share
 * of the time left, so one black-holed address (say an unreachable IPv6)
 * does not use up the budget of the ones after it. */
static int tcp_connect(int *out_fd, const char *connect, int64_t deadline, struct cs_err *err)
{
	char *host = NULL, *port = NULL;
	struct addrinfo *res = NULL;
	int r = split_endpoint(connect, &host, &port, err);
	if (r < 0)
		return r;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	/* getaddrinfo has no timeout of its own; the resolver's is short. */
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		r = cs_err_set(err, g == EAI_SYSTEM ? -errno : -EHOSTUNREACH, "connect %s: resolve %s: %s",
			       connect, host, g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		goto out;
	}
	size_t n = 0;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		n++;
	r = -EHOSTUNREACH;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next, n--) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		r = connect_one(out_fd, ai, mono_ms() + left / (int64_t)n);
		if (r == 0)
			goto out;
	}
	if (r == -ETIMEDOUT)
		cs_err_set(err, r, "connect %s: timed out", connect);
	else
		cs_err_errno(err, r, "connect %s", connect);
out:
	if (res)
		freeaddrinfo(res);
	free(host);
	free(port);
	return r;
}

/* ---- plain-text STARTTLS dialogue ---- */

struct dialogue {
	int fd;
	int64_t deadline;
	const char *proto;     /* "smtp", for messages */
	const char *connect;
	struct cs_buf in;      /* received, not yet consumed */
	size_t total;          /* bytes received so far, capped */
	char *line;            /* the last line read, without CRLF */
	struct cs_err *err;
};

/* A server line fit for an error message: printable ASCII only, truncated. */
static char *quote_line(const char *s)
{
	struct cs_buf b = CS_BUF_INIT;
	size_t n = 0;
	for (; *s && n < QUOTE_MAX; s++, n++) {
		char c = (*s >= 0x20 && *s < 0x7F) ? *s : '?';
		cs_buf_append(&b, &c, 1);
	}
	if (*s)
		cs_buf_puts(&b, "...");
	char *r = cs_buf_detach(&b, NULL);
	return r ? r : cs_xstrdup("");
}

static int dialogue_fail(struct dialogue *d, int code, const char *what)
{
	return cs_err_set(d->err, code, "%s STARTTLS at %s: %s", d->proto, d->connect, what);
}

static int server_said(struct dialogue *d, const char *expected)
{
	char *q = quote_line(d->line ? d->line : "");
	int r = cs_err_set(d->err, -EPROTO, "%s STARTTLS at %s: expected %s, server said: %s", d->proto,
			   d->connect, expected, q);
	free(q);
	return r;
}

/* Read one line (LF or CRLF terminated) into d->line. */
static int read_line(struct dialogue *d)
{
	free(d->line);
	d->line = NULL;
	for (;;) {
		char *nl = d->in.data ? memchr(d->in.data, '\n', d->in.len) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - d->in.data);
			size_t keep = len && nl[-1] == '\r' ? len - 1 : len;
			d->line = cs_xasprintf("%.*s", (int)keep, d->in.data);
			size_t rest = d->in.len - len - 1;
			memmove(d->in.data, nl + 1, rest);
			d->in.len = rest;
			d->in.data[rest] = '\0';
			return 0;
		}
		if (d->in.len > LINE_MAX_BYTES)
			return dialogue_fail(d, -EPROTO, "server line too long");
		int w = wait_fd(d->fd, POLLIN, d->deadline);
		if (w < 0)
			return cs_err_errno(d->err, w, "%s STARTTLS at %s", d->proto, d->connect);
		if (w == 0)
			return dialogue_fail(d, -ETIMEDOUT, "timed out waiting for the server");
		char chunk[1024];
		ssize_t n = recv(d->fd, chunk, sizeof chunk, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0)
			return cs_err_errno(d->err, -errno, "%s STARTTLS at %s: read", d->proto, d->connect);
		if (n == 0)
			return dialogue_fail(d, -ECONNRESET, "connection closed by server");
		d->total += (size_t)n;
		if (d->total > DIALOGUE_MAX_BYTES)
			return dialogue_fail(d, -E2BIG, "server sent too much before TLS");
		int r = cs_buf_append(&d->in, chunk, (size_t)n);
		if (r < 0)
			return cs_err_errno(d->err, r, "%s STARTTLS at %s", d->proto, d->connect);
	}
}

static int send_line(struct dialogue *d, const char *line)
{
	char *s = cs_xasprintf("%s\r\n", line);
	size_t len = strlen(s), off = 0;
	int r = 0;
	while (off < len) {
		/* MSG_NOSIGNAL: a server that hung up must give an error, not
		 * kill the process with SIGPIPE. */
		ssize_t n = send(d->fd, s + off, len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			r = cs_err_errno(d->err, -errno, "%s STARTTLS at %s: send", d->proto, d->connect);
			break;
		}
		int w = wait_fd(d->fd, POLLOUT, d->deadline);
		if (w <= 0) {
			r = w < 0 ? cs_err_errno(d->err, w, "%s STARTTLS at %s: send", d->proto, d->connect)
				  : dialogue_fail(d, -ETIMEDOUT, "timed out sending");
			break;
		}
	}
	free(s);
	return r;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* An SMTP reply (RFC 5321 §4.2): "250-..." lines continue, "250 ..." ends
 * it.  Returns the code in *out_code; *out_starttls tells whether one of the
 * lines is the STARTTLS keyword (for the EHLO reply).  d->line is left at the
 * first line so that errors quote what the server opened with. */
static int smtp_reply(struct dialogue *d, int *out_code, bool *out_starttls)
{
	char *first = NULL;
	int code = -1;
	bool starttls = false;
	int r;
	for (;;) {
		r = read_line(d);
		if (r < 0)
			goto out;
		const char *l = d->line;
		bool well_formed = strlen(l) >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' &&
				   l[1] <= '9' && l[2] >= '0' && l[2] <= '9' &&
				   (l[3] == '\0' || l[3] == ' ' || l[3] == '-');
		if (!first)
			first = cs_xstrdup(l);
		if (!well_formed) {
			r = server_said(d, "an SMTP reply");
			goto out;
		}
		int c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (code < 0)
			code = c;
		if (l[3] != '\0') {
			const char *kw = l + 4;
			size_t kl = strcspn(kw, " ");
			if (kl == 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
				starttls = true;
		}
		if (l[3] != '-')
			break;
	}
	*out_code = code;
	if (out_starttls)
		*out_starttls = starttls;
	free(d->line);
	d->line = first;
	first = NULL;
out:
	free(first);
	return r;
}

static int smtp_starttls(struct dialogue *d)
{
	int code;
	bool offered;
	int r = smtp_reply(d, &code, NULL);
	if (r < 0)
		return r;
	if (code != 220)
		return server_said(d, "a 220 greeting");
	if ((r = send_line(d, "EHLO certsync")) < 0 || (r = smtp_reply(d, &code, &offered)) < 0)
		return r;
	if (code != 250)
		return server_said(d, "250 after EHLO");
	if (!offered) {
		char *q = quote_line(d->line);
		r = cs_err_set(d->err, -EPROTONOSUPPORT,
			       "smtp STARTTLS at %s: server does not offer STARTTLS (EHLO reply: %s)",
			       d->connect, q);
		free(q);
		return r;
	}
	if ((r = send_line(d, "STARTTLS")) < 0 || (r = smtp_reply(d, &code, NULL)) < 0)
		return r;
	if (code != 220)
		return server_said(d, "220 after STARTTLS");
	return 0;
}

static int imap_starttls(struct dialogue *d)
{
	int r = read_line(d);
	if (r < 0)
		return r;
	if (!starts_with_ci(d->line, "* OK"))
		return server_said(d, "\"* OK\" greeting");
	if ((r = send_line(d, "a1 STARTTLS")) < 0)
		return r;
	/* Untagged lines ("* CAPABILITY ...") may come before the tagged
	 * completion. */
	do {
		if ((r = read_line(d)) < 0)
			return r;
	} while (d->line[0] == '*');
	if (!starts_with_ci(d->line, "a1 OK"))
		return server_said(d, "\"a1 OK\" after STARTTLS");
	return 0;
}

static int pop3_starttls(struct dialogue *d)
{
	int r = read_line(d);
	if (r < 0)
		return r;
	if (strncmp(d->line, "+OK", 3) != 0)
		return server_said(d, "\"+OK\" greeting");
	if ((r = send_line(d, "STLS")) < 0 || (r = read_line(d)) < 0)
		return r;
	if (strncmp(d->line, "+OK", 3) != 0)
		return server_said(d, "\"+OK\" after STLS");
	return 0;
}

static int do_starttls(int fd, enum cs_starttls kind, const char *connect, int64_t deadline,
		       struct cs_err *err)
{
	static const char *const names[] = {
		[CS_STARTTLS_SMTP] = "smtp", [CS_STARTTLS_IMAP] = "imap", [CS_STARTTLS_POP3] = "pop3",
	};
	if (kind == CS_STARTTLS_NONE)
		return 0;
	if ((int)kind < 0 || (size_t)kind >= sizeof names / sizeof names[0])
		return cs_err_set(err, -EINVAL, "connect %s: unknown starttls kind %d", connect, (int)kind);
	struct dialogue d = { .fd = fd, .deadline = deadline, .proto = names[kind],
			      .connect = connect, .err = err };
	cs_buf_init(&d.in, 0);
	int r;
	switch (kind) {
	case CS_STARTTLS_SMTP: r = smtp_starttls(&d); break;
	case CS_STARTTLS_IMAP: r = imap_starttls(&d); break;
	default: r = pop3_starttls(&d); break;
	}
	/* Anything the server sent after its go-ahead would be taken as part
	 * of the TLS stream: refuse it (the STARTTLS injection problem). */
	if (r == 0 && d.in.len > 0)
		r = dialogue_fail(&d, -EPROTO, "server sent data after its STARTTLS reply");
	free(d.line);
	cs_buf_free(&d.in);
	return r;
}

/* ---- TLS ---- */

static bool is_ip_literal(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

/* Drive a non-blocking SSL_connect against the deadline. */
static int handshake(SSL *ssl, int fd, const char *connect, int64_t deadline, struct cs_err *err)
{
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_connect(ssl);
		if (n == 1)
			return 0;
		int e = SSL_get_error(ssl, n);
		short ev;
		if (e == SSL_ERROR_WANT_READ)
			ev = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			ev = POLLOUT;
		else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
			if (errno && errno != EPIPE && errno != ECONNRESET)
				return cs_err_errno(err, -errno, "tls handshake with %s", connect);
			return cs_err_set(err, -ECONNRESET, "tls handshake with %s: connection closed by server",
					  connect);
		} else
			return cs_err_ssl(err, -EPROTO, "tls handshake with %s", connect);
		int w = wait_fd(fd, ev, deadline);
		if (w < 0)
			return cs_err_errno(err, w, "tls handshake with %s", connect);
		if (w == 0)
			return cs_err_set(err, -ETIMEDOUT, "tls handshake with %s: timed out", connect);
	}
}

static char *name_oneline(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return cs_xstrdup("");
	/* RFC 2253 like x509.h, but keep UTF-8 readable instead of \XX. */
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *s = cs_xasprintf("%.*s", (int)(n > 0 ? n : 0), n > 0 ? data : "");
	BIO_free(bio);
	return s;
}

/* Check the presented chain against the trust store, then the name.  Only
 * sets out->chain_*; failures here are findings, not errors. */
static int check_chain(struct cs_tls_seen *out, X509_STORE *store, X509 *leaf,
		       STACK_OF(X509) *untrusted, const char *servername)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx)
		return -ENOMEM;
	out->chain_checked = true;
	int r = 0;
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
		r = -ENOMEM;
		goto out;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	/* Validity judged at certsync's own clock (CERTSYNC_NOW when pinned),
	 * the same instant the issuers and the plan use. */
	X509_STORE_CTX_set_time(ctx, 0, (time_t)cs_now());
	if (X509_verify_cert(ctx) != 1) {
		out->chain_error = cs_xstrdup(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (servername && servername[0]) {
		int match = is_ip_literal(servername) ? X509_check_ip_asc(leaf, servername, 0)
						      : X509_check_host(leaf, servername, 0, 0, NULL);
		if (match != 1) {
			out->chain_error = cs_xasprintf("%s: certificate is not valid for %s",
				X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH), servername);
			goto out;
		}
	}
	out->chain_ok = true;
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

static int load_store(X509_STORE **out, const char *ca_bundle, struct cs_err *err)
{
	X509_STORE *store = X509_STORE_new();
	if (!store)
		return cs_err_set(err, -ENOMEM, "load ca bundle %s: out of memory", ca_bundle);
	/* OpenSSL would wait forever on a FIFO given as the bundle. */
	int r = cs_file_check_regular(ca_bundle, err);
	if (r < 0) {
		X509_STORE_free(store);
		/* "load ca bundle PATH: why", as for a bundle OpenSSL refuses. */
		char *lead = cs_xasprintf("read %s: ", ca_bundle);
		const char *msg = cs_err_msg(err);
		char *why = cs_xstrdup(strncmp(msg, lead, strlen(lead)) == 0 ? msg + strlen(lead) : msg);
		r = cs_err_set(err, -EINVAL, "load ca bundle %s: %s", ca_bundle, why);
		free(why);
		free(lead);
		return r;
	}
	if (X509_STORE_load_file(store, ca_bundle) != 1) {
		X509_STORE_free(store);
		return cs_err_ssl(err, -EINVAL, "load ca bundle %s", ca_bundle);
	}
	*out = store;
	return 0;
}

/* OpenSSL writes to the socket with write(2), which raises SIGPIPE when the
 * server has gone.  Library code must not change the process's signal
 * handling, so SIGPIPE is blocked in this thread for the attempt and a
 * pending one that we caused is consumed before unblocking. */
struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int cs_tls_probe(struct cs_tls_seen *out, const char *connect, const char *servername,
		 enum cs_starttls starttls, const char *ca_bundle, int timeout_ms,
		 struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	X509_STORE *store = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *leaf = NULL;
	int fd = -1;
	unsigned char *der = NULL;
	struct sigpipe_guard guard;
	sigpipe_block(&guard);
	int r;

	/* Before connecting: a bundle we cannot read is a configuration
	 * error that no retry will fix. */
	if (ca_bundle && (r = load_store(&store, ca_bundle, err)) < 0)
		goto out;
	if ((r = tcp_connect(&fd, connect, deadline, err)) < 0)
		goto out;
	if ((r = do_starttls(fd, starttls, connect, deadline, err)) < 0)
		goto out;

	ctx = SSL_CTX_new(TLS_client_method());
	ssl = ctx ? SSL_new(ctx) : NULL;
	if (!ssl) {
		r = cs_err_ssl(err, -ENOMEM, "tls with %s: create context", connect);
		goto out;
	}
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	/* RFC 6066: SNI carries host names only, never address literals. */
	if (servername && servername[0] && !is_ip_literal(servername) &&
	    !SSL_set_tlsext_host_name(ssl, servername)) {
		r = cs_err_ssl(err, -EINVAL, "tls with %s: server name %s", connect, servername);
		goto out;
	}
	if (!SSL_set_fd(ssl, fd)) {
		r = cs_err_ssl(err, -EIO, "tls with %s: attach socket", connect);
		goto out;
	}
	if ((r = handshake(ssl, fd, connect, deadline, err)) < 0)
		goto out;

	leaf = SSL_get1_peer_certificate(ssl);
	if (!leaf) {
		r = cs_err_set(err, -EPROTO, "tls with %s: server presented no certificate", connect);
		goto out;
	}
	int dlen = i2d_X509(leaf, &der);
	if (dlen <= 0) {
		r = cs_err_ssl(err, -EPROTO, "tls with %s: encode certificate", connect);
		goto out;
	}
	cs_sha256_hex(out->sha256, der, (size_t)dlen);
	out->subject = name_oneline(X509_get_subject_name(leaf));
	out->serial = cs_x509_serial_hex(leaf);
	if (!out->serial)
		out->serial = cs_xstrdup("?");
	out->served = sk_X509_new_null();
	{
		STACK_OF(X509) *peer = SSL_get_peer_cert_chain(ssl);
		for (int i = 0; out->served && peer && i < sk_X509_num(peer); i++) {
			X509 *x = sk_X509_value(peer, i);
			if (X509_up_ref(x) != 1 || !sk_X509_push(out->served, x))
				break;
		}
	}
	if (store) {
		/* On the client side the peer chain includes the leaf; the
		 * rest are untrusted intermediates. */
		r = check_chain(out, store, leaf, SSL_get_peer_cert_chain(ssl), servername);
		if (r < 0) {
			cs_err_errno(err, r, "tls with %s: check chain", connect);
			goto out;
		}
	}
	/* A polite close_notify; the answer does not matter. */
	SSL_shutdown(ssl);
	r = 0;
out:
	if (r < 0)
		cs_tls_seen_free(out);
	OPENSSL_free(der);
	X509_free(leaf);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	X509_STORE_free(store);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	sigpipe_restore(&guard);
	return r;
}

/* Fingerprints are compared ignoring case and ':' separators, since people
 * paste them from openssl x509 -fingerprint. */
static bool same_fingerprint(const char *a, const char *b)
{
	for (;;) {
		while (*a == ':')
			a++;
		while (*b == ':')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		char ca = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
		char cb = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
		if (ca != cb)
			return false;
		a++;
		b++;
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cs_tls_wait_for(struct cs_tls_seen *out, const char *connect, const char *servername,
		    enum cs_starttls starttls, const char *ca_bundle, int64_t timeout_s,
		    const char *want_sha256, struct cs_err *err)
{
	int64_t start = mono_ms();
	int64_t deadline = start + (timeout_s > 0 ? timeout_s * 1000 : 1);
	int delay = 250;
	struct cs_err last = CS_ERR_INIT;
	int r;
	memset(out, 0, sizeof *out);
	for (;;) {
		cs_tls_seen_free(out);
		cs_err_clear(&last);
		r = cs_tls_probe(out, connect, servername, starttls, ca_bundle, remaining_ms(deadline), &last);
		if (r == 0 && same_fingerprint(out->sha256, want_sha256) &&
		    (!out->chain_checked || out->chain_ok))
			goto out;
		/* Bad endpoint syntax or an unreadable ca_bundle: waiting
		 * cannot help. */
		if (r == -EINVAL) {
			r = cs_err_set(err, r, "%s", cs_err_msg(&last));
			goto out;
		}
		int left = remaining_ms(deadline);
		if (left <= 0)
			break;
		sleep_ms(delay < left ? delay : left);
		if (remaining_ms(deadline) <= 0)
			break;
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}

	long long waited = (long long)((mono_ms() - start + 500) / 1000);
	if (r < 0)
		r = cs_err_set(err, -ETIMEDOUT, "endpoint %s: gave up after %lld s: %s", connect, waited,
			       cs_err_msg(&last));
	else if (!same_fingerprint(out->sha256, want_sha256))
		r = cs_err_set(err, -ETIMEDOUT, "endpoint %s presents %s, serial %s, sha256 %s%s%s; "
			       "want sha256 %s (gave up after %lld s)", connect,
			       out->subject && out->subject[0] ? out->subject : "(empty subject)",
			       out->serial, out->sha256, out->chain_error ? "; chain: " : "",
			       out->chain_error ? out->chain_error : "", want_sha256, waited);
	else
		r = cs_err_set(err, -ETIMEDOUT, "endpoint %s presents the wanted certificate "
			       "(%s, serial %s, sha256 %s) but its chain does not verify: %s "
			       "(gave up after %lld s)", connect,
			       out->subject && out->subject[0] ? out->subject : "(empty subject)",
			       out->serial, out->sha256,
			       out->chain_error ? out->chain_error : "unknown error", waited);
out:
	cs_err_clear(&last);
	return r;
}
