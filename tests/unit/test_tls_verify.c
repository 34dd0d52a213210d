/* Tests for the live endpoint check against real servers: `openssl s_server`
 * for direct TLS (SNI, chain and name checks, waiting for a late server),
 * and a small STARTTLS responder forked from this test for SMTP, IMAP and
 * POP3 (the plain-text dialogue, then a real SSL_accept).  Certificates are
 * made with the openssl CLI in a temporary folder.  Every server started
 * here is killed and reaped, also when a check fails or the test aborts. */
#include "tests/unit/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "reconcile/tls_verify.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"

static char tmpdir[] = "/tmp/certsync-test-tls-XXXXXX";
static bool have_tmpdir;

/* ---- children: every one is in this list until reaped ---- */

#define MAX_CHILDREN 32
static pid_t children[MAX_CHILDREN];
static size_t n_children;
static pid_t test_pid;

static void track(pid_t pid)
{
	if (n_children < MAX_CHILDREN)
		children[n_children++] = pid;
}

static void stop_child(pid_t pid)
{
	for (size_t i = 0; i < n_children; i++) {
		if (children[i] != pid)
			continue;
		kill(pid, SIGTERM);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		children[i] = children[--n_children];
		return;
	}
}

static void cleanup(void)
{
	/* atexit handlers are inherited by forked children, which leave with
	 * _exit(); this is a guard should one not. */
	if (getpid() != test_pid)
		return;
	while (n_children)
		stop_child(children[n_children - 1]);
	if (have_tmpdir) {
		char *q = cs_sh_quote(tmpdir);
		char *cmd = cs_xasprintf("rm -rf %s", q);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
		free(cmd);
		free(q);
	}
}

static void on_signal(int sig)
{
	/* Reached on SIGSEGV/SIGABRT too: take the servers down with us. */
	for (size_t i = 0; i < n_children; i++)
		kill(children[i], SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* In a child right after fork: die with the test, whatever happens to it. */
static void child_setup(void)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != test_pid)
		_exit(1);
	/* The parent's servers are not this child's to kill. */
	n_children = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGABRT, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- ports ---- */

/* A listening socket on 127.0.0.1 with a port the kernel picked. */
static int listen_any(int *out_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*out_port = ntohs(a.sin_port);
	return fd;
}

/* A port nobody listens on right now (for s_server to take, or to be
 * refused on). */
static int free_port(void)
{
	int port = 0;
	int fd = listen_any(&port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool wait_port(int port, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	while (mono_ms() < end) {
		if (port_open(port))
			return true;
		sleep_ms(50);
	}
	return false;
}

/* ---- certificates ---- */

static char *tmp_path(const char *name)
{
	return cs_xasprintf("%s/%s", tmpdir, name);
}

static bool run(const char *cmd)
{
	char *full = cs_xasprintf("cd %s && %s >>openssl.log 2>&1", tmpdir, cmd);
	int st = system(full);
	if (st != 0) {
		tap_note("failed (%d): %s", st, cmd);
		char *show = cs_xasprintf("sed 's/^/# /' %s/openssl.log", tmpdir);
		fflush(stdout);
		if (system(show) != 0)
			tap_note("no log");
		free(show);
	}
	free(full);
	return st == 0;
}

static bool make_ca(const char *name, const char *cn)
{
	char *cmd = cs_xasprintf(
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		"-keyout %s.key -out %s.crt -subj '/CN=%s' -days 2 "
		"-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign",
		name, name, cn);
	bool ok = run(cmd);
	free(cmd);
	return ok;
}

static bool make_leaf(const char *name, const char *dns, const char *serial)
{
	char *ext = cs_xasprintf("printf 'subjectAltName=DNS:%s\\nbasicConstraints=CA:FALSE\\n"
				 "extendedKeyUsage=serverAuth\\n' > %s.ext", dns, name);
	char *req = cs_xasprintf("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
				 "-keyout %s.key -out %s.csr -subj '/CN=%s'", name, name, dns);
	char *sign = cs_xasprintf("openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key "
				  "-set_serial %s -days 2 -extfile %s.ext -out %s.crt",
				  name, serial, name, name);
	bool ok = run(ext) && run(req) && run(sign);
	free(ext);
	free(req);
	free(sign);
	return ok;
}

static bool fingerprint(char out[65], const char *name)
{
	char *path = tmp_path(name);
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int n = x ? i2d_X509(x, &der) : -1;
	if (n > 0)
		cs_sha256_hex(out, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);
	if (f)
		fclose(f);
	free(path);
	return n > 0;
}

static char fp_a[65], fp_b[65];

static bool setup_pki(void)
{
	return make_ca("ca", "certsync test CA") && make_ca("other-ca", "some other CA") &&
	       make_leaf("a", "a.test", "0x1A2B") && make_leaf("b", "b.test", "0x3C4D") &&
	       fingerprint(fp_a, "a.crt") && fingerprint(fp_b, "b.crt");
}

/* ---- openssl s_server ---- */

/* Serves b.test by default and a.test to clients asking for it by SNI.
 * delay_ms > 0 starts it that much later, from the forked child. */
static pid_t start_s_server(int port, int delay_ms)
{
	char *accept = cs_xasprintf("127.0.0.1:%d", port);
	char *cert = tmp_path("b.crt"), *key = tmp_path("b.key");
	char *cert2 = tmp_path("a.crt"), *key2 = tmp_path("a.key");
	char *log = tmp_path("s_server.log");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		child_setup();
		if (delay_ms > 0)
			sleep_ms(delay_ms);
		FILE *l = freopen(log, "a", stdout);
		(void)l;
		dup2(STDOUT_FILENO, STDERR_FILENO);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
		       "-servername", "a.test", "-cert2", cert2, "-key2", key2, "-www", "-quiet",
		       (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		track(pid);
	free(accept);
	free(cert);
	free(key);
	free(cert2);
	free(key2);
	free(log);
	return pid;
}

/* ---- a STARTTLS responder ---- */

/* One exchange of the plain-text dialogue: wait for the client to send
 * expect (unless NULL), then send reply. */
struct step {
	const char *expect;
	const char *reply;
};

struct responder {
	const char *name;
	enum cs_starttls kind;
	struct step steps[4];
	bool tls;                /* go on with SSL_accept after the last step */
	const char *want_error;  /* NULL: the probe must succeed; else the exact
				    message, "%d" standing for the port */
};

static bool read_client_line(int fd, char *line, size_t size)
{
	size_t n = 0;
	while (n + 1 < size) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0)
			return false;
		if (c == '\n')
			break;
		if (c != '\r')
			line[n++] = c;
	}
	line[n] = '\0';
	return true;
}

static void write_str(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/* The child: one connection, the dialogue, then TLS with a.test's cert. */
static void responder_child(int lfd, const struct responder *rs)
{
	child_setup();
	alarm(20); /* never outlive a confused test */
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	for (size_t i = 0; i < 4 && (rs->steps[i].expect || rs->steps[i].reply); i++) {
		if (rs->steps[i].expect) {
			char line[512];
			if (!read_client_line(fd, line, sizeof line))
				_exit(2);
			if (strcmp(line, rs->steps[i].expect) != 0) {
				/* Show up in the probe's error, hence in the test. */
				write_str(fd, "599 responder expected something else\r\n");
				_exit(3);
			}
		}
		if (rs->steps[i].reply)
			write_str(fd, rs->steps[i].reply);
	}
	if (!rs->tls) {
		size_t last = 0;
		while (last + 1 < 4 && (rs->steps[last + 1].expect || rs->steps[last + 1].reply))
			last++;
		if (!rs->steps[last].reply)
			_exit(0); /* hang up without answering */
		/* Let the client hang up first so it reads everything. */
		char c;
		while (read(fd, &c, 1) > 0)
			;
		_exit(0);
	}
	char *cert = tmp_path("a.crt"), *key = tmp_path("a.key");
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		_exit(4);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		_exit(5);
	SSL_shutdown(ssl);
	_exit(0);
}

static pid_t start_responder(int *out_port, const struct responder *rs)
{
	int lfd = listen_any(out_port);
	if (lfd < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		responder_child(lfd, rs);
	close(lfd); /* the child holds it; connections queue there */
	if (pid > 0)
		track(pid);
	return pid;
}

static const struct responder responders[] = {
	{ "smtp", CS_STARTTLS_SMTP, {
		{ NULL, "220-mail.test ESMTP\r\n220 ready when you are\r\n" },
		{ "EHLO certsync", "250-mail.test greets certsync\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n" },
		{ "STARTTLS", "220 2.0.0 go ahead\r\n" } }, true, NULL },
	{ "imap", CS_STARTTLS_IMAP, {
		{ NULL, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n" },
		{ "a1 STARTTLS", "* NOTE untagged before the tagged reply\r\na1 OK begin TLS now\r\n" } },
	  true, NULL },
	{ "pop3", CS_STARTTLS_POP3, {
		{ NULL, "+OK POP3 ready\r\n" },
		{ "STLS", "+OK begin TLS\r\n" } }, true, NULL },
	{ "smtp without STARTTLS", CS_STARTTLS_SMTP, {
		{ NULL, "220 ready\r\n" },
		{ "EHLO certsync", "250-mail.test\r\n250 PIPELINING\r\n" } }, false,
	  "smtp STARTTLS at 127.0.0.1:%d: server does not offer STARTTLS (EHLO reply: 250-mail.test)" },
	{ "smtp refusing greeting", CS_STARTTLS_SMTP, {
		{ NULL, "554 5.3.2 no service for you\r\n" } }, false,
	  "smtp STARTTLS at 127.0.0.1:%d: expected a 220 greeting, server said: 554 5.3.2 no service for you" },
	{ "smtp STARTTLS refused", CS_STARTTLS_SMTP, {
		{ NULL, "220 ready\r\n" },
		{ "EHLO certsync", "250 STARTTLS\r\n" },
		{ "STARTTLS", "454 4.7.0 TLS not available due to temporary reason\r\n" } }, false,
	  "smtp STARTTLS at 127.0.0.1:%d: expected 220 after STARTTLS, server said: "
	  "454 4.7.0 TLS not available due to temporary reason" },
	{ "imap STARTTLS refused", CS_STARTTLS_IMAP, {
		{ NULL, "* OK ready\r\n" },
		{ "a1 STARTTLS", "a1 BAD STARTTLS not available\r\n" } }, false,
	  "imap STARTTLS at 127.0.0.1:%d: expected \"a1 OK\" after STARTTLS, server said: "
	  "a1 BAD STARTTLS not available" },
	{ "imap bye", CS_STARTTLS_IMAP, {
		{ NULL, "* BYE too busy\r\n" } }, false,
	  "imap STARTTLS at 127.0.0.1:%d: expected \"* OK\" greeting, server said: * BYE too busy" },
	{ "pop3 STLS refused, hostile bytes quoted safely", CS_STARTTLS_POP3, {
		{ NULL, "+OK ready\r\n" },
		{ "STLS", "-ERR \x1b[31mnot\x07 now\r\n" } }, false,
	  "pop3 STARTTLS at 127.0.0.1:%d: expected \"+OK\" after STLS, server said: -ERR ?[31mnot? now" },
	{ "pop3 data after the go-ahead", CS_STARTTLS_POP3, {
		{ NULL, "+OK ready\r\n" },
		{ "STLS", "+OK begin TLS\r\n+OK injected\r\n" } }, false,
	  "pop3 STARTTLS at 127.0.0.1:%d: server sent data after its STARTTLS reply" },
	{ "pop3 server hangs up", CS_STARTTLS_POP3, {
		{ NULL, "+OK ready\r\n" },
		{ "STLS", NULL } }, false,
	  "pop3 STARTTLS at 127.0.0.1:%d: connection closed by server" },
};

static void test_starttls(void)
{
	for (size_t i = 0; i < sizeof responders / sizeof responders[0]; i++) {
		const struct responder *rs = &responders[i];
		int port = 0;
		pid_t pid = start_responder(&port, rs);
		if (pid <= 0 && !tap_ok(false, rs->name, "could not start the responder: %s", strerror(errno)))
			continue;
		char *endpoint = cs_xasprintf("127.0.0.1:%d", port);
		char *ca = tmp_path("ca.crt");
		struct cs_tls_seen seen;
		struct cs_err err = CS_ERR_INIT;
		int r = cs_tls_probe(&seen, endpoint, "a.test", rs->kind, ca, 5000, &err);
		char *name = cs_xasprintf("starttls %s", rs->name);
		if (!rs->want_error) {
			tap_ok(r == 0 && strcmp(seen.sha256, fp_a) == 0 && seen.chain_ok, name,
			       "r=%d err=%s sha256=%s chain_ok=%d %s", r, cs_err_msg(&err), seen.sha256,
			       seen.chain_ok, seen.chain_error ? seen.chain_error : "");
		} else {
			char *want = cs_xasprintf(rs->want_error, port);
			tap_ok(r < 0, name, "probe succeeded against a refusing server");
			char *what = cs_xasprintf("%s: message", name);
			tap_str(err.msg, want, what);
			free(what);
			free(want);
		}
		stop_child(pid);
		free(name);
		cs_err_clear(&err);
		cs_tls_seen_free(&seen);
		free(ca);
		free(endpoint);
	}
}

/* ---- direct TLS against s_server ---- */

static void test_s_server(void)
{
	int port = free_port();
	pid_t pid = start_s_server(port, 0);
	if (!tap_ok(pid > 0 && wait_port(port, 5000), "s_server is up", "see %s/s_server.log", tmpdir))
		return;
	char *endpoint = cs_xasprintf("127.0.0.1:%d", port);
	char *ca = tmp_path("ca.crt"), *other_ca = tmp_path("other-ca.crt");
	struct cs_tls_seen seen;
	struct cs_err err = CS_ERR_INIT;

	int r = cs_tls_probe(&seen, endpoint, NULL, CS_STARTTLS_NONE, NULL, 5000, &err);
	tap_ok(r == 0, "probe without SNI", "%s", cs_err_msg(&err));
	tap_str(seen.sha256, fp_b, "no SNI: default certificate's fingerprint");
	tap_str(seen.subject, "CN=b.test", "no SNI: subject");
	tap_str(seen.serial, "3C4D", "no SNI: serial");
	tap_ok(!seen.chain_checked && !seen.chain_error, "no ca_bundle: chain not checked", NULL);
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);

	r = cs_tls_probe(&seen, endpoint, "a.test", CS_STARTTLS_NONE, ca, 5000, &err);
	tap_ok(r == 0, "probe with SNI a.test", "%s", cs_err_msg(&err));
	tap_str(seen.sha256, fp_a, "SNI is sent: a.test's certificate");
	tap_str(seen.serial, "1A2B", "SNI: serial");
	tap_ok(seen.chain_checked && seen.chain_ok && !seen.chain_error, "good ca_bundle: chain ok",
	       "%s", seen.chain_error ? seen.chain_error : "");
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);

	r = cs_tls_probe(&seen, endpoint, "a.test", CS_STARTTLS_NONE, other_ca, 5000, &err);
	tap_ok(r == 0 && strcmp(seen.sha256, fp_a) == 0,
	       "wrong CA: handshake still completes", "%s", cs_err_msg(&err));
	tap_ok(seen.chain_checked && !seen.chain_ok && seen.chain_error &&
	       strstr(seen.chain_error, "local issuer"), "wrong CA: chain not ok, with the reason",
	       "%s", seen.chain_error ? seen.chain_error : "(no error)");
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);

	/* No certificate for wrong.test: s_server falls back to b.test,
	 * whose chain is fine but whose name is not. */
	r = cs_tls_probe(&seen, endpoint, "wrong.test", CS_STARTTLS_NONE, ca, 5000, &err);
	tap_ok(r == 0 && strcmp(seen.sha256, fp_b) == 0, "wrong host name: handshake completes",
	       "%s", cs_err_msg(&err));
	tap_str(seen.chain_error, "hostname mismatch: certificate is not valid for wrong.test",
		"wrong host name: chain not ok, names the host");
	tap_ok(!seen.chain_ok, "wrong host name: chain_ok false", NULL);
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);

	/* wait_for with the wrong fingerprint: gives up after the timeout and
	 * says what it saw and what it wanted. */
	int64_t t0 = mono_ms();
	r = cs_tls_wait_for(&seen, endpoint, "a.test", CS_STARTTLS_NONE, NULL, 1, fp_b, &err);
	int64_t took = mono_ms() - t0;
	tap_int(r, -ETIMEDOUT, "wait_for wrong fingerprint: times out");
	tap_ok(took >= 900 && took < 4000, "wait_for wrong fingerprint: about 1 s", "took %lld ms",
	       (long long)took);
	char *want = cs_xasprintf("endpoint %s presents CN=a.test, serial 1A2B, sha256 %s; want sha256 %s",
				  endpoint, fp_a, fp_b);
	tap_ok(err.msg && strncmp(err.msg, want, strlen(want)) == 0,
	       "wait_for wrong fingerprint: message has both fingerprints", "got  %s\n# want %s...",
	       cs_err_msg(&err), want);
	tap_str(seen.sha256, fp_a, "wait_for: out holds the last thing seen");
	free(want);
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);

	/* The right fingerprint but a chain that does not verify: not done.
	 * (3 s: on a loaded machine one handshake under the sanitizers can
	 * take a second, and the point is the reason, not the time.) */
	r = cs_tls_wait_for(&seen, endpoint, "a.test", CS_STARTTLS_NONE, other_ca, 3, fp_a, &err);
	tap_ok(r == -ETIMEDOUT && err.msg && strstr(err.msg, "chain does not verify") &&
	       strstr(err.msg, "local issuer"), "wait_for: right leaf, bad chain times out",
	       "r=%d %s", r, cs_err_msg(&err));
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);

	/* Colons and lowercase, as pasted from openssl x509 -fingerprint. */
	struct cs_buf pasted = CS_BUF_INIT;
	for (int i = 0; i < 64; i += 2)
		cs_buf_printf(&pasted, "%s%c%c", i ? ":" : "", fp_a[i] | 0x20, fp_a[i + 1] | 0x20);
	r = cs_tls_wait_for(&seen, endpoint, "a.test", CS_STARTTLS_NONE, ca, 5, pasted.data, &err);
	tap_ok(r == 0, "wait_for: matching leaf and chain, fingerprint with colons", "%s",
	       cs_err_msg(&err));
	cs_buf_free(&pasted);
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);

	stop_child(pid);
	free(ca);
	free(other_ca);
	free(endpoint);
}

static void test_late_server(void)
{
	int port = free_port();
	char *endpoint = cs_xasprintf("127.0.0.1:%d", port);
	int64_t t0 = mono_ms();
	pid_t pid = start_s_server(port, 700);
	struct cs_tls_seen seen;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_tls_wait_for(&seen, endpoint, "a.test", CS_STARTTLS_NONE, NULL, 15, fp_a, &err);
	int64_t took = mono_ms() - t0;
	tap_ok(pid > 0 && r == 0, "wait_for: server starting 0.7 s late is waited for", "%s",
	       cs_err_msg(&err));
	tap_ok(took >= 700 && took < 10000, "wait_for: returned once the server was up", "took %lld ms",
	       (long long)took);
	tap_str(seen.sha256, fp_a, "wait_for: sees a.test");
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);
	if (pid > 0)
		stop_child(pid);
	free(endpoint);
}

/* ---- failures before TLS ---- */

static void test_connect_errors(void)
{
	struct cs_tls_seen seen;
	struct cs_err err = CS_ERR_INIT;
	int port = free_port();
	char *endpoint = cs_xasprintf("127.0.0.1:%d", port);
	char *want = cs_xasprintf("connect %s: Connection refused", endpoint);
	int r = cs_tls_probe(&seen, endpoint, NULL, CS_STARTTLS_NONE, NULL, 2000, &err);
	tap_int(r, -ECONNREFUSED, "connection refused: code");
	tap_str(err.msg, want, "connection refused: names the endpoint");
	tap_ok(!seen.subject && !seen.serial && !seen.sha256[0], "connection refused: out empty", NULL);
	cs_err_clear(&err);
	free(want);

	int64_t t0 = mono_ms();
	r = cs_tls_wait_for(&seen, endpoint, NULL, CS_STARTTLS_NONE, NULL, 1, fp_a, &err);
	int64_t took = mono_ms() - t0;
	want = cs_xasprintf("endpoint %s: gave up after 1 s: connect %s: Connection refused", endpoint,
			    endpoint);
	tap_int(r, -ETIMEDOUT, "wait_for refused: times out");
	tap_str(err.msg, want, "wait_for refused: last connection error");
	tap_ok(took >= 900 && took < 3000, "wait_for refused: about 1 s", "took %lld ms", (long long)took);
	cs_tls_seen_free(&seen);
	cs_err_clear(&err);
	free(want);
	free(endpoint);

	/* IPv6 form: whether or not ::1 exists here, the message names it. */
	endpoint = cs_xasprintf("[::1]:%d", port);
	r = cs_tls_probe(&seen, endpoint, NULL, CS_STARTTLS_NONE, NULL, 2000, &err);
	want = cs_xasprintf("connect %s: ", endpoint);
	tap_ok(r < 0 && err.msg && strncmp(err.msg, want, strlen(want)) == 0,
	       "[v6]:port form is parsed and named", "r=%d %s", r, cs_err_msg(&err));
	cs_err_clear(&err);
	free(want);
	free(endpoint);

	static const struct {
		const char *endpoint, *msg;
	} bad[] = {
		{ "no-port", "endpoint no-port: expected host:port or [address]:port" },
		{ "::1:443", "endpoint ::1:443: expected host:port or [address]:port" },
		{ "[::1]443", "endpoint [::1]443: expected [address]:port" },
		{ "host:0", "endpoint host:0: expected host:port with a port 1-65535" },
		{ "host:https", "endpoint host:https: expected host:port with a port 1-65535" },
		{ ":443", "endpoint :443: expected host:port with a port 1-65535" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = cs_tls_probe(&seen, bad[i].endpoint, NULL, CS_STARTTLS_NONE, NULL, 1000, &err);
		char *name = cs_xasprintf("bad endpoint %s: -EINVAL", bad[i].endpoint);
		tap_ok(r == -EINVAL, name, "r=%d", r);
		free(name);
		name = cs_xasprintf("bad endpoint %s: message", bad[i].endpoint);
		tap_str(err.msg, bad[i].msg, name);
		free(name);
		cs_err_clear(&err);
	}

	/* Bad input is not waited on. */
	t0 = mono_ms();
	r = cs_tls_wait_for(&seen, "no-port", NULL, CS_STARTTLS_NONE, NULL, 30, fp_a, &err);
	tap_ok(r == -EINVAL && mono_ms() - t0 < 1000, "wait_for: bad endpoint fails at once", "r=%d", r);
	cs_err_clear(&err);

	char *missing = tmp_path("no-such-bundle.pem");
	r = cs_tls_probe(&seen, "127.0.0.1:1", NULL, CS_STARTTLS_NONE, missing, 1000, &err);
	want = cs_xasprintf("load ca bundle %s: ", missing);
	tap_ok(r == -EINVAL && err.msg && strncmp(err.msg, want, strlen(want)) == 0,
	       "unreadable ca_bundle is an error", "r=%d %s", r, cs_err_msg(&err));
	cs_err_clear(&err);
	free(want);
	free(missing);

	/* A server that accepts and never speaks: the deadline holds. */
	int lport = 0;
	int lfd = listen_any(&lport);
	endpoint = cs_xasprintf("127.0.0.1:%d", lport);
	t0 = mono_ms();
	r = cs_tls_probe(&seen, endpoint, NULL, CS_STARTTLS_NONE, NULL, 500, &err);
	int64_t silent_ms = mono_ms() - t0;
	want = cs_xasprintf("tls handshake with %s: timed out", endpoint);
	tap_int(r, -ETIMEDOUT, "silent TLS server: times out");
	tap_str(err.msg, want, "silent TLS server: message");
	tap_ok(silent_ms >= 450 && silent_ms < 2000, "silent TLS server: within the timeout",
	       "took %lld ms", (long long)silent_ms);
	cs_err_clear(&err);
	free(want);
	r = cs_tls_probe(&seen, endpoint, NULL, CS_STARTTLS_SMTP, NULL, 500, &err);
	want = cs_xasprintf("smtp STARTTLS at %s: timed out waiting for the server", endpoint);
	tap_str(err.msg, want, "silent SMTP server: message");
	cs_err_clear(&err);
	free(want);
	free(endpoint);
	close(lfd);
}

int main(void)
{
	test_pid = getpid();
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGABRT, on_signal);
	signal(SIGALRM, on_signal);
	/* Nothing here may hang the suite. */
	alarm(120);

	if (!tap_ok(mkdtemp(tmpdir) != NULL, "temporary folder", "%s", strerror(errno)))
		return tap_done();
	have_tmpdir = true;
	if (!tap_ok(setup_pki(), "certificates made with the openssl CLI", "see %s/openssl.log", tmpdir))
		return tap_done();

	test_connect_errors();
	test_s_server();
	test_late_server();
	test_starttls();
	return tap_done();
}
