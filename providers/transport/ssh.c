/* The SSH transport (libssh2): one TCP connection and one SSH session per
 * host, opened once and reused by every call from gathering through apply.
 *
 * - Connect: getaddrinfo (v4/v6), non-blocking connect bounded by the host's
 *   timeout, then libssh2 in blocking mode with that timeout on every call,
 *   TCP keepalive, SSH keepalives sent before each call.
 * - Host key: known_hosts.c (OpenSSH rules); user auth: ssh_auth.c.
 * - run(): the command string goes to the remote exec as is (the server
 *   hands it to the user's shell: sh -c); stdin, stdout and stderr are
 *   pumped together in non-blocking mode so neither side can stall on a full
 *   window.
 * - Files: SFTP.  Writes go to a temporary file next to the target and are
 *   renamed over it, so a dropped connection leaves at most that temporary
 *   file.  OpenSSH's SFTP rename refuses to replace an existing file and
 *   libssh2 1.10 does not speak posix-rename@openssh.com, so replacing is
 *   done with `mv -f` (rename(2) in the same folder: still atomic).
 * - become: sudo: commands run as `sudo -n sh -c CMD`; files are uploaded to
 *   a private folder of the login user and moved into place with
 *   `sudo -n install` + `sudo -n mv`; reads and stats fall back to sudo when
 *   SFTP says permission denied.
 * - Owner and group names: SFTP only carries numbers; they are resolved with
 *   one `getent` command per new uid/gid pair and cached for the session, so
 *   stat() reports names that compare with the config's owner/group. */
#include "providers/transport/transport.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/rand.h>
#include "providers/base/fault.h"
#include "providers/base/duration.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"
#include "providers/transport/known_hosts.h"
#include "providers/transport/ssh_auth.h"
#include "providers/transport/ssh_commands.h"
#include "providers/transport/winrm_scripts.h"

/* SSH keepalive interval (seconds): below common NAT and firewall idle
 * timeouts, so a connection opened at gathering survives until apply. */
#define KEEPALIVE_INTERVAL 15
/* A command may run much longer than a network round trip (a service
 * reload); it gets this many times the host's timeout. */
#define RUN_TIMEOUT_FACTOR 10
/* read_file() into a buffer without a cap still stops here. */
#define READ_MAX (64u << 20)
#define CHUNK 32768

struct idname {
	unsigned long id;
	char *name;
};

struct ssh {
	struct cs_transport base;       /* first: generic code sees a cs_transport */
	const struct cs_ssh_cfg *cfg;
	const char *name;               /* host name, for messages */
	char *label;                    /* "web1 (127.0.0.1:2222)" */
	char *known_hosts;
	int sock;
	int timeout_ms;
	LIBSSH2_SESSION *session;
	LIBSSH2_SFTP *sftp;
	bool dead;                      /* the connection failed: the next call connects again, once */
	bool reconnect_failed;          /* ... and that failed: later calls fail at once */
	char *sudo_dir;                 /* become: sudo upload folder (mktemp -d), or NULL */
	bool login_noise;               /* the login shell prints on stdout before each command */
	struct idname *users, *groups;
	size_t n_users, n_groups;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void global_init(void)
{
	/* libssh2_init is not thread-safe; hosts are opened in parallel. */
	init_rc = libssh2_init(0);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* strerror, lowercased: messages are lowercase. */
static const char *errtext(int e, char *buf, size_t size)
{
	const char *s = strerror_r(e, buf, size);
	if (s != buf) {
		snprintf(buf, size, "%s", s);
	}
	if (buf[0])
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

static struct ssh *from(struct cs_transport *t)
{
	return (struct ssh *)t;
}

/* ---- errors ---- */

/* A libssh2 error that means the connection is gone. */
static bool fatal_rc(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_NONE:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_KEX_FAILURE:
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_BAD_USE:
		return true;
	}
	return false;
}

/* The session's last error as text and an errno code; marks the
 * connection dead when it is. */
static int session_error(struct ssh *s, int rc, char *buf, size_t size)
{
	if (rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT) {
		s->dead = true;
		snprintf(buf, size, "timed out after %d s", s->timeout_ms / 1000);
		return -ETIMEDOUT;
	}
	char *msg = NULL;
	libssh2_session_last_error(s->session, &msg, NULL, 0);
	if (fatal_rc(rc)) {
		s->dead = true;
		snprintf(buf, size, "connection lost (%s)", msg && msg[0] ? msg : "socket error");
		return -ECONNRESET;
	}
	snprintf(buf, size, "%s", msg && msg[0] ? msg : "ssh error");
	if (buf[0])
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return -EIO;
}

static int sftp_status_errno(unsigned long st, const char **text)
{
	switch (st) {
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		*text = "no such file or directory";
		return -ENOENT;
	case LIBSSH2_FX_PERMISSION_DENIED:
		*text = "permission denied";
		return -EACCES;
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:
		*text = "file exists";
		return -EEXIST;
	case LIBSSH2_FX_WRITE_PROTECT:
		*text = "read-only file system";
		return -EROFS;
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
	case LIBSSH2_FX_QUOTA_EXCEEDED:
		*text = "no space left on device";
		return -ENOSPC;
	case LIBSSH2_FX_NOT_A_DIRECTORY:
		*text = "not a directory";
		return -ENOTDIR;
	case LIBSSH2_FX_OP_UNSUPPORTED:
		*text = "operation not supported by the server";
		return -ENOTSUP;
	default:
		*text = "failure";
		return -EIO;
	}
}

/* The errno for a failed SFTP call (rc < 0), with its text. */
static int sftp_errno(struct ssh *s, int rc, char *buf, size_t size)
{
	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
		const char *text;
		int e = sftp_status_errno(libssh2_sftp_last_error(s->sftp), &text);
		snprintf(buf, size, "%s", text);
		return e;
	}
	return session_error(s, rc, buf, size);
}

/* "host web1: WHAT: REASON" for a failed SFTP call. */
static int sftp_fail(struct ssh *s, int rc, struct cs_err *err, const char *what, const char *path)
{
	char reason[512];
	int e = sftp_errno(s, rc, reason, sizeof reason);
	return cs_err_set(err, e, "host %s: %s %s: %s", s->name, what, path, reason);
}

static int tcp_connect(struct ssh *s, struct cs_err *err);
static int ssh_handshake(struct ssh *s, struct cs_err *err);
static void cut_if_dead(struct ssh *s);

/* A connection lost in the middle of an apply (a command that ran past its
 * limit, a network blip) must not make every later step fail at once, least
 * of all the rollback that puts the previous files back.  So the next call
 * connects again, once, with the same host key and authentication checks as
 * the first time. */
static int reconnect(struct ssh *s, struct cs_err *err)
{
	if (s->reconnect_failed)
		return cs_err_set(err, -ECONNRESET, "host %s: the connection was lost earlier", s->name);
	cut_if_dead(s);
	if (s->sftp)
		libssh2_sftp_shutdown(s->sftp);
	s->sftp = NULL;
	if (s->session)
		libssh2_session_free(s->session);
	s->session = NULL;
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
	s->dead = false;
	struct cs_err why = CS_ERR_INIT;
	int r = tcp_connect(s, &why);
	if (r == 0)
		r = ssh_handshake(s, &why);
	if (r < 0) {
		s->dead = true;
		s->reconnect_failed = true;
		r = cs_err_set(err, r, "host %s: the connection was lost earlier, and connecting again failed: %s",
			       s->name, cs_err_msg(&why));
	}
	cs_err_clear(&why);
	return r;
}

static int check_alive(struct ssh *s, struct cs_err *err)
{
	if (s->dead) {
		int r = reconnect(s, err);
		if (r < 0)
			return r;
	}
	/* Cheap when the interval has not passed; keeps idle NAT state alive
	 * between gathering and apply. */
	int next = 0;
	int rc = libssh2_keepalive_send(s->session, &next);
	if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN) {
		char reason[512];
		int e = session_error(s, rc, reason, sizeof reason);
		return cs_err_set(err, e, "host %s: keepalive: %s", s->name, reason);
	}
	return 0;
}

/* On a dead connection, libssh2 calls that free memory would first wait
 * for the peer; cutting the socket makes them fail at once. */
static void cut_if_dead(struct ssh *s)
{
	if (s->dead && s->sock >= 0)
		shutdown(s->sock, SHUT_RDWR);
}

static int close_handle(struct ssh *s, LIBSSH2_SFTP_HANDLE *h)
{
	cut_if_dead(s);
	return libssh2_sftp_close_handle(h);
}

/* ---- connect ---- */

static int connect_one(const struct addrinfo *ai, int64_t deadline, int *out_errno)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*out_errno = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto connected;
	if (errno != EINPROGRESS) {
		*out_errno = errno;
		goto fail;
	}
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			*out_errno = ETIMEDOUT;
			goto fail;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*out_errno = errno;
			goto fail;
		}
		if (n == 0)
			continue; /* the deadline check above ends it */
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr) {
			*out_errno = soerr;
			goto fail;
		}
		break;
	}
connected:;
	/* libssh2 runs in blocking mode with its own timeout. */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		*out_errno = errno;
		goto fail;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
fail:
	close(fd);
	return -1;
}

static int tcp_connect(struct ssh *s, struct cs_err *err)
{
	char port[16];
	snprintf(port, sizeof port, "%d", s->cfg->port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int64_t deadline = now_ms() + s->timeout_ms;
	int gai = getaddrinfo(s->cfg->address, port, &hints, &res);
	if (gai != 0)
		return cs_err_set(err, -EHOSTUNREACH, "host %s: resolve %s: %s", s->label,
				  s->cfg->address, gai_strerror(gai));
	int last = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = connect_one(ai, deadline, &last);
		if (fd >= 0) {
			s->sock = fd;
			freeaddrinfo(res);
			return 0;
		}
		if (last == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	char buf[128];
	if (last == ETIMEDOUT)
		return cs_err_set(err, -ETIMEDOUT, "host %s: connect: timed out after %d s", s->label,
				  s->timeout_ms / 1000);
	return cs_err_set(err, -last, "host %s: connect: %s", s->label, errtext(last, buf, sizeof buf));
}

/* libssh2 1.10 verifies RSA host keys only as "ssh-rsa" (SHA-1), which
 * OpenSSH 8.8 and later no longer offer by default: an RSA-only known_hosts
 * entry or server cannot work, and the plain failure would not say why. */
#define RSA_HOSTKEY_HINT "libssh2 1.10 checks RSA host keys only with SHA-1 (ssh-rsa), which " \
	"OpenSSH 8.8 and later servers do not offer: put the server's Ed25519 or ECDSA key in " \
	"known_hosts (ssh-keyscan -t ed25519), or build certsync with libssh2 ≥ 1.11"

/* Offer the host-key algorithms of the keys known_hosts has for this host
 * first (as OpenSSH does), so a server with several host keys shows one we
 * can check instead of one we have never seen. */
static void prefer_known_types(struct ssh *s, bool *only_rsa)
{
	char *types = cs_known_hosts_types(s->known_hosts, s->cfg->address, s->cfg->port);
	const char **algs = NULL;
	*only_rsa = types && strcmp(types, "ssh-rsa") == 0;
	if (!types)
		return;
	int n = libssh2_session_supported_algs(s->session, LIBSSH2_METHOD_HOSTKEY, &algs);
	if (n <= 0)
		goto out;
	struct cs_buf pref = CS_BUF_INIT;
	/* Two passes: the algorithms for known types, then the rest. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			const char *alg = algs[i];
			/* RSA keys are written "ssh-rsa" whatever the signature hash. */
			const char *type = strncmp(alg, "rsa-sha2-", 9) == 0 ? "ssh-rsa" : alg;
			bool known = false;
			for (const char *t = types; *t;) {
				const char *comma = strchr(t, ',');
				size_t len = comma ? (size_t)(comma - t) : strlen(t);
				if (len == strlen(type) && memcmp(t, type, len) == 0)
					known = true;
				t += len + (comma ? 1 : 0);
			}
			if (known == (pass == 0)) {
				if (pref.len)
					cs_buf_puts(&pref, ",");
				cs_buf_puts(&pref, alg);
			}
		}
	}
	if (pref.len)
		libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY, pref.data);
	cs_buf_free(&pref);
	libssh2_free(s->session, algs);
out:
	free(types);
}

static int ssh_handshake(struct ssh *s, struct cs_err *err)
{
	char reason[512];
	s->session = libssh2_session_init_ex(NULL, NULL, NULL, s);
	if (!s->session)
		return cs_err_set(err, -ENOMEM, "host %s: cannot create an ssh session", s->label);
	libssh2_session_set_blocking(s->session, 1);
	libssh2_session_set_timeout(s->session, s->timeout_ms);
	bool only_rsa = false;
	prefer_known_types(s, &only_rsa);
	int rc = libssh2_session_handshake(s->session, s->sock);
	if (rc) {
		int e = session_error(s, rc, reason, sizeof reason);
		/* No common host-key algorithm: most likely an RSA-only server. */
		return cs_err_set(err, e, "host %s: ssh handshake: %s%s%s", s->label, reason,
				  rc == LIBSSH2_ERROR_KEX_FAILURE ? "; if the server has only an RSA "
				  "host key: " : "", rc == LIBSSH2_ERROR_KEX_FAILURE ? RSA_HOSTKEY_HINT : "");
	}
	libssh2_keepalive_config(s->session, 1, KEEPALIVE_INTERVAL);

	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->session, &len, &type);
	if (!key)
		return cs_err_set(err, -EIO, "host %s: the server sent no host key", s->label);
	int r = cs_known_hosts_verify(s->known_hosts, s->cfg->address, s->cfg->port,
				      (const unsigned char *)key, len, s->cfg->host_key_accept_new, err);
	if (r < 0 && only_rsa) {
		char *msg = cs_xstrdup(cs_err_msg(err));
		cs_err_set(err, r, "%s; known_hosts lists only an RSA key for it: %s", msg, RSA_HOSTKEY_HINT);
		free(msg);
	}
	if (r < 0)
		return cs_err_prefix(err, "host %s", s->label);
	r = cs_ssh_auth(s->session, s->cfg, err);
	if (r < 0)
		return cs_err_prefix(err, "host %s", s->label);
	return 0;
}

static void ssh_close(struct cs_transport *t);
static int run_raw(struct ssh *s, const char *command, const void *in, size_t in_len,
		   struct cs_run_result *out, struct cs_err *err);

static int ssh_open(struct cs_transport **out, const struct cs_host_cfg *host, struct cs_err *err)
{
	*out = NULL;
	pthread_once(&init_once, global_init);
	if (init_rc != 0)
		return cs_err_set(err, -EIO, "host %s: libssh2 initialisation failed", host->name);
	const struct cs_ssh_cfg *cfg = &host->ssh;
	if (!cfg->address || !cfg->address[0] || !cfg->user || !cfg->user[0])
		return cs_err_set(err, -EINVAL, "host %s: ssh needs an address and a user", host->name);
	struct ssh *s = cs_xcalloc(1, sizeof *s);
	s->base.ops = &cs_transport_ssh;
	s->base.host = host;
	s->cfg = cfg;
	s->name = host->name ? host->name : cfg->address;
	s->sock = -1;
	s->label = strchr(cfg->address, ':') ?
		cs_xasprintf("%s ([%s]:%d)", s->name, cfg->address, cfg->port) :
		cs_xasprintf("%s (%s:%d)", s->name, cfg->address, cfg->port);
	s->known_hosts = cs_path_expand_home(cfg->known_hosts ? cfg->known_hosts : "~/.ssh/known_hosts");
	int64_t timeout = cfg->timeout > 0 ? cfg->timeout : 30;
	s->timeout_ms = (int)(timeout > 3600 ? 3600000 : timeout * 1000);

	int r = tcp_connect(s, err);
	if (r == 0)
		r = ssh_handshake(s, err);
	if (r < 0) {
		s->dead = true; /* nothing to say goodbye to */
		ssh_close(&s->base);
		return r;
	}
	*out = &s->base;
	return 0;
}

static void idnames_free(struct idname *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void ssh_close(struct cs_transport *t)
{
	if (!t)
		return;
	struct ssh *s = from(t);
	if (s->session && !s->dead && s->sudo_dir) {
		struct cs_run_result rr;
		struct cs_err ignored = CS_ERR_INIT;
		char *cmd = cs_ssh_cmd_rm_dir(s->sudo_dir);
		cs_run_result_init(&rr, 4096);
		run_raw(s, cmd, NULL, 0, &rr, &ignored);
		cs_run_result_free(&rr);
		cs_err_clear(&ignored);
		free(cmd);
	}
	cut_if_dead(s);
	if (s->sftp)
		libssh2_sftp_shutdown(s->sftp);
	if (s->session && !s->dead)
		libssh2_session_disconnect(s->session, "certsync done");
	if (s->session)
		libssh2_session_free(s->session);
	if (s->sock >= 0)
		close(s->sock);
	idnames_free(s->users, s->n_users);
	idnames_free(s->groups, s->n_groups);
	free(s->sudo_dir);
	free(s->known_hosts);
	free(s->label);
	free(s);
}

/* ---- run ---- */

/* Wait until the socket can move what libssh2 is blocked on, or the
 * deadline passes (-ETIMEDOUT). */
static int wait_socket(struct ssh *s, int64_t deadline)
{
	int dir = libssh2_session_block_directions(s->session);
	struct pollfd p = { .fd = s->sock, .events = 0 };
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		p.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		p.events |= POLLOUT;
	if (!p.events)
		p.events = POLLIN;
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	/* Wake up at the keepalive interval at the latest. */
	if (left > KEEPALIVE_INTERVAL * 1000)
		left = KEEPALIVE_INTERVAL * 1000;
	int n = poll(&p, 1, (int)left);
	if (n < 0 && errno != EINTR)
		return -errno;
	if (n == 0) {
		int next;
		libssh2_keepalive_send(s->session, &next);
	}
	return 0;
}

static const struct { const char *name; int num; } signals[] = {
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "BUS", SIGBUS }, { "FPE", SIGFPE },
	{ "HUP", SIGHUP }, { "ILL", SIGILL }, { "INT", SIGINT }, { "KILL", SIGKILL },
	{ "PIPE", SIGPIPE }, { "QUIT", SIGQUIT }, { "SEGV", SIGSEGV }, { "TERM", SIGTERM },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
};

static int signal_number(const char *name, size_t len)
{
	if (len > 3 && memcmp(name, "SIG", 3) == 0) {
		name += 3;
		len -= 3;
	}
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		if (strlen(signals[i].name) == len && memcmp(signals[i].name, name, len) == 0)
			return signals[i].num;
	return SIGTERM; /* an unnamed signal still ended the command */
}

enum pending { P_NONE, P_WRITE, P_READ, P_EOF };

/* Run command without any sudo wrapping.  Non-blocking libssh2 with one
 * poll loop: stdin is written while stdout and stderr are read, so large
 * data both ways cannot deadlock.  libssh2 requires that a call which
 * stopped half-way through sending a packet is repeated before another
 * kind of call sends something: `pending` remembers which one. */
/* Every command first prints START_MARK as a line on stdout and on stderr,
 * so that what the login shell's start-up files print before it (a banner
 * in ~/.bashrc, which bash reads for commands sent over ssh too) is cut off
 * and never read as the command's output.  printf is built into every
 * shell: no process more. */
#define START_MARK "certsync-start-5f3a1c"
/* In case ... esac, which only a POSIX shell reads: fish refuses the whole
 * command, so no start line tells of a login shell that would read the
 * rest differently (docs/ssh.md). */
static const char start_cmd[] =
	"case x in x) printf '%s\\n' " START_MARK "; printf '%s\\n' " START_MARK " >&2 ;; esac\n";

/* What a stream gave before its START_MARK line is held here (up to
 * PRE_MAX, beyond which no mark is looked for), so that it never counts
 * against the caller's cap. */
#define PRE_MAX (64u << 10)
struct pre {
	struct cs_buf buf;
	bool passed; /* the mark was seen (or given up on): bytes go to the caller */
	bool noise;  /* something came before the mark */
};

static void pre_add(struct pre *p, struct cs_buf *to, const char *data, size_t n)
{
	static const char mark[] = START_MARK "\n";
	if (p->passed) {
		cs_buf_append_fit(to, data, n);
		return;
	}
	cs_buf_append_fit(&p->buf, data, n);
	const char *m = memmem(p->buf.data, p->buf.len, mark, sizeof mark - 1);
	if (m) {
		size_t cut = (size_t)(m - p->buf.data) + sizeof mark - 1;
		p->noise = m > p->buf.data;
		cs_buf_append_fit(to, p->buf.data + cut, p->buf.len - cut);
	} else if (p->buf.len < PRE_MAX) {
		return;
	} else {
		cs_buf_append_fit(to, p->buf.data, p->buf.len);
	}
	p->passed = true;
	cs_buf_free_secret(&p->buf); /* may hold a key file's first bytes */
}

/* The end: a stream that never showed the mark (the shell did not run
 * the command) gives what it had. */
static void pre_end(struct pre *p, struct cs_buf *to)
{
	if (!p->passed && p->buf.len)
		cs_buf_append_fit(to, p->buf.data, p->buf.len);
	cs_buf_free_secret(&p->buf);
}

static int run_raw(struct ssh *s, const char *command, const void *in, size_t in_len,
		   struct cs_run_result *out, struct cs_err *err)
{
	LIBSSH2_CHANNEL *ch = NULL;
	int64_t deadline = now_ms() + (int64_t)s->timeout_ms * RUN_TIMEOUT_FACTOR;
	char reason[512];
	char *chunk = cs_xmalloc(CHUNK), *marked = NULL;
	struct pre pre[2] = { { .buf = CS_BUF_INIT }, { .buf = CS_BUF_INIT } };
	bool posix;
	const char *data = in;
	size_t off = 0;
	bool eof_sent = false;
	enum pending pending = P_NONE;
	int r = 0, rc;

	if ((r = check_alive(s, err)) < 0)
		goto done;
	libssh2_session_set_blocking(s->session, 0);
	while (!(ch = libssh2_channel_open_session(s->session))) {
		rc = libssh2_session_last_errno(s->session);
		if (rc != LIBSSH2_ERROR_EAGAIN)
			goto ssh_fail;
		if ((r = wait_socket(s, deadline)) < 0)
			goto wait_fail;
	}
	/* Windows' OpenSSH hands commands to PowerShell or cmd: no mark there. */
	posix = !(s->base.host && s->base.host->platform == CS_PLATFORM_WINDOWS);
	if (!posix)
		pre[0].passed = pre[1].passed = true;
	marked = cs_xasprintf("%s%s", posix ? start_cmd : "", command);
	while ((rc = libssh2_channel_exec(ch, marked)) == LIBSSH2_ERROR_EAGAIN)
		if ((r = wait_socket(s, deadline)) < 0)
			goto wait_fail;
	if (rc < 0)
		goto ssh_fail;

	for (;;) {
		bool progress = false, out_done = false, err_done = false;
		if (!eof_sent && (pending == P_NONE || pending == P_WRITE)) {
			if (off < in_len) {
				size_t n = in_len - off < CHUNK ? in_len - off : CHUNK;
				ssize_t w = libssh2_channel_write(ch, data + off, n);
				if (w > 0) {
					off += (size_t)w;
					progress = true;
					pending = P_NONE;
				} else if (w == LIBSSH2_ERROR_EAGAIN) {
					pending = libssh2_session_block_directions(s->session) &
						  LIBSSH2_SESSION_BLOCK_OUTBOUND ? P_WRITE : P_NONE;
				} else if (fatal_rc((int)w)) {
					rc = (int)w;
					goto ssh_fail;
				} else {
					/* The command closed its stdin (it exited or does
					 * not read): the rest is not wanted, as with a pipe. */
					off = in_len;
					eof_sent = true;
					pending = P_NONE;
				}
			}
		}
		if (!eof_sent && off >= in_len && (pending == P_NONE || pending == P_EOF)) {
			rc = libssh2_channel_send_eof(ch);
			if (rc == LIBSSH2_ERROR_EAGAIN) {
				pending = P_EOF;
			} else if (rc < 0 && fatal_rc(rc)) {
				goto ssh_fail;
			} else {
				eof_sent = true;
				progress = true;
				pending = P_NONE;
			}
		}
		if (pending == P_NONE || pending == P_READ) {
			for (int stream = 0; stream < 2; stream++) {
				ssize_t n = libssh2_channel_read_ex(ch, stream == 0 ? 0 : SSH_EXTENDED_DATA_STDERR,
								    chunk, CHUNK);
				if (n > 0) {
					/* Past the cap the rest is read and dropped, so a
					 * chatty command neither stalls on a full window
					 * nor fails the run. */
					pre_add(&pre[stream], stream == 0 ? &out->out : &out->err, chunk, (size_t)n);
					progress = true;
					pending = P_NONE;
				} else if (n == 0) {
					if (stream == 0)
						out_done = true;
					else
						err_done = true;
				} else if (n == LIBSSH2_ERROR_EAGAIN) {
					if (libssh2_session_block_directions(s->session) &
					    LIBSSH2_SESSION_BLOCK_OUTBOUND)
						pending = P_READ;
				} else {
					rc = (int)n;
					goto ssh_fail;
				}
			}
		}
		/* libssh2_channel_eof is true only once no data of the channel is
		 * left unread, on either stream. */
		if (out_done && err_done && libssh2_channel_eof(ch))
			break;
		if (!progress && (r = wait_socket(s, deadline)) < 0)
			goto wait_fail;
	}
	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((r = wait_socket(s, deadline)) < 0)
			goto wait_fail;
	while ((rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((r = wait_socket(s, deadline)) < 0)
			goto wait_fail;
	char *sig = NULL;
	size_t sig_len = 0;
	libssh2_channel_get_exit_signal(ch, &sig, &sig_len, NULL, NULL, NULL, NULL);
	if (sig) {
		out->exit_status = 128 + signal_number(sig, sig_len);
		libssh2_free(s->session, sig);
	} else {
		out->exit_status = libssh2_channel_get_exit_status(ch);
	}
	if (pre[0].noise)
		out->login_noise = s->login_noise = true;
	if (!pre[0].passed && !pre[1].passed) {
		/* Its own words, for the reason. */
		pre_end(&pre[1], &out->err);
		const char *e = out->err.data ? out->err.data : "";
		int n = (int)strcspn(e, "\n");
		r = cs_err_set(err, -ENOEXEC, "host %s: the login shell of %s did not run a POSIX shell command%s%.*s%s: "
			       "certsync needs sh, dash, bash, ksh or zsh as login shell (chsh -s /bin/sh %s), "
			       "fish and csh read its commands differently", s->name, s->cfg->user,
			       n ? " (" : "", n > 200 ? 200 : n, e, n ? ")" : "", s->cfg->user);
		goto done;
	}
	r = 0;
	goto done;

wait_fail:
	if (r == -ETIMEDOUT) {
		/* The channel state is unknown now: do not reuse the session. */
		s->dead = true;
		r = cs_err_set(err, -ETIMEDOUT, "host %s: command timed out after %d s", s->name,
			       s->timeout_ms / 1000 * RUN_TIMEOUT_FACTOR);
	} else {
		s->dead = true;
		r = cs_err_errno(err, r, "host %s: run: poll", s->name);
	}
	goto done;
ssh_fail:
	r = session_error(s, rc, reason, sizeof reason);
	r = cs_err_set(err, r, "host %s: run command: %s", s->name, reason);
done:
	if (ch) {
		if (s->dead) {
			cut_if_dead(s);
			libssh2_channel_free(ch);
		} else {
			while (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN)
				if (wait_socket(s, deadline) < 0)
					break;
		}
	}
	if (s->session)
		libssh2_session_set_blocking(s->session, 1);
	pre_end(&pre[0], &out->out);
	pre_end(&pre[1], &out->err);
	free(chunk);
	free(marked);
	return r;
}

/* "sudo: a password is required" and friends: sudo itself refused. */
static int sudo_refused(struct ssh *s, const struct cs_run_result *rr, struct cs_err *err)
{
	if (rr->exit_status != 1 || !rr->err.data || strncmp(rr->err.data, "sudo: ", 6) != 0)
		return 0;
	if (strstr(rr->err.data, "a password is required") || strstr(rr->err.data, "a terminal is required"))
		return cs_err_set(err, -EACCES, "sudo needs a password on %s: give the user %s NOPASSWD "
				  "for the commands certsync runs (a line like \"%s ALL=(root) NOPASSWD: ALL\" "
				  "in /etc/sudoers.d/certsync)", s->name, s->cfg->user, s->cfg->user);
	const char *nl = strchr(rr->err.data, '\n');
	int n = nl ? (int)(nl - rr->err.data) : (int)rr->err.len;
	return cs_err_set(err, -EACCES, "host %s: sudo refused: %.*s", s->name, n - 6, rr->err.data + 6);
}

static int ssh_run(struct cs_transport *t, const char *command, const void *stdin_data,
		   size_t stdin_len, struct cs_run_result *out, struct cs_err *err)
{
	struct ssh *s = from(t);
	if (!s->cfg->become_sudo)
		return run_raw(s, command, stdin_data, stdin_len, out, err);
	char *wrapped = cs_ssh_cmd_sudo_wrap(command);
	int r = run_raw(s, wrapped, stdin_data, stdin_len, out, err);
	if (r == 0)
		r = sudo_refused(s, out, err);
	free(wrapped);
	return r;
}

/* Run a helper command of the transport itself; a non-zero exit is an error
 * whose message is the first line of stderr ("what" says what was done). */
static int helper(struct ssh *s, const char *command, const char *what, const char *path,
		  struct cs_run_result *rr, struct cs_err *err)
{
	int r = run_raw(s, command, NULL, 0, rr, err);
	if (r < 0)
		return r;
	if ((r = sudo_refused(s, rr, err)) < 0)
		return r;
	if (rr->exit_status != 0) {
		const char *e = rr->err.data ? rr->err.data : "";
		const char *nl = strchr(e, '\n');
		int n = nl ? (int)(nl - e) : (int)strlen(e);
		if (!n)
			return cs_err_set(err, -EIO, "host %s: %s %s: exit status %d", s->name, what, path,
					  rr->exit_status);
		return cs_err_set(err, -EIO, "host %s: %s %s: %.*s", s->name, what, path, n, e);
	}
	return 0;
}

/* ---- files ---- */

static int ensure_sftp(struct ssh *s, struct cs_err *err)
{
	int r = check_alive(s, err);
	if (r < 0 || s->sftp)
		return r;
	/* Text ahead of the SFTP server's first packet is read as a length:
	 * libssh2 would wait for gigabytes until the timeout. */
	if (s->login_noise)
		return cs_err_set(err, -EPROTO, "host %s: start sftp: " CS_LOGIN_NOISE_FMT, s->name, s->cfg->user,
				  s->cfg->user);
	s->sftp = libssh2_sftp_init(s->session);
	if (!s->sftp) {
		char reason[1024];
		int e = session_error(s, libssh2_session_last_errno(s->session), reason, sizeof reason);
		/* Was it the shell?  A command says (the session may be gone). */
		struct cs_run_result rr;
		struct cs_err ignored = CS_ERR_INIT;
		cs_run_result_init(&rr, 4096);
		if (run_raw(s, ":", NULL, 0, &rr, &ignored) == 0 && s->login_noise)
			snprintf(reason, sizeof reason, CS_LOGIN_NOISE_FMT, s->cfg->user, s->cfg->user);
		cs_run_result_free(&rr);
		cs_err_clear(&ignored);
		return cs_err_set(err, e, "host %s: start sftp: %s", s->name, reason);
	}
	return 0;
}

/* ".NAME.certsync-TAG-XXXXXXXX" in path's folder (or in dir when given):
 * TAG is the run's (cs_temp_tag()), so that the next apply can remove what
 * a killed run left, and nothing else. */
static char *temp_name(const char *dir_or_null, const char *path)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char rnd[8];
	char suffix[9];
	if (RAND_bytes(rnd, sizeof rnd) != 1) {
		/* Unpredictability is not what matters here, uniqueness is. */
		uint64_t v = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &v, sizeof rnd);
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		suffix[i] = alnum[rnd[i] % (sizeof alnum - 1)];
	suffix[8] = '\0';
	char *dir = dir_or_null ? cs_xstrdup(dir_or_null) : cs_path_dirname(path);
	char *tmp = cs_xasprintf("%s/.%s.certsync-%s-%s", strcmp(dir, "/") ? dir : "",
				 cs_path_basename(path), cs_temp_tag(), suffix);
	free(dir);
	return tmp;
}

static int sudo_read(struct ssh *s, const char *path, struct cs_buf *out, struct cs_err *err)
{
	size_t room = out->max ? out->max - out->len : READ_MAX;
	struct cs_run_result rr;
	char *cmd = cs_ssh_cmd_sudo_cat(path);
	cs_run_result_init(&rr, room + 1);
	int r = run_raw(s, cmd, NULL, 0, &rr, err);
	if (r < 0)
		goto out;
	if ((r = sudo_refused(s, &rr, err)) < 0)
		goto out;
	if (rr.exit_status != 0) {
		if (rr.err.data && strstr(rr.err.data, "No such file")) {
			r = cs_err_set(err, -ENOENT, "host %s: read %s: no such file or directory", s->name, path);
			goto out;
		}
		const char *e = rr.err.data ? rr.err.data : "";
		const char *nl = strchr(e, '\n');
		r = cs_err_set(err, -EIO, "host %s: sudo cat %s: %.*s", s->name, path,
			       nl ? (int)(nl - e) : (int)strlen(e), e);
		goto out;
	}
	if (rr.out.len > room) {
		r = cs_err_set(err, -E2BIG, "host %s: read %s: larger than %zu bytes", s->name, path, room);
		goto out;
	}
	r = cs_buf_append(out, rr.out.data ? rr.out.data : "", rr.out.len);
	if (r < 0)
		r = cs_err_errno(err, r, "host %s: read %s", s->name, path);
out:
	cs_run_result_free(&rr);
	free(cmd);
	return r;
}

static int ssh_read_file(struct cs_transport *t, const char *path, struct cs_buf *out,
			 struct cs_err *err)
{
	struct ssh *s = from(t);
	int r = ensure_sftp(s, err);
	if (r < 0)
		return r;
	LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open_ex(s->sftp, path, (unsigned int)strlen(path),
						      LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	if (!h) {
		r = sftp_fail(s, libssh2_session_last_errno(s->session), err, "sftp read", path);
		if (r == -EACCES && s->cfg->become_sudo) {
			cs_err_clear(err);
			return sudo_read(s, path, out, err);
		}
		return r;
	}
	size_t start = out->len;
	size_t max = out->max ? out->max : start + READ_MAX;
	char *chunk = cs_xmalloc(CHUNK);
	for (;;) {
		ssize_t n = libssh2_sftp_read(h, chunk, CHUNK);
		if (n == 0)
			break;
		if (n < 0) {
			r = sftp_fail(s, (int)n, err, "sftp read", path);
			break;
		}
		if (out->len + (size_t)n > max) {
			r = cs_err_set(err, -E2BIG, "host %s: read %s: larger than %zu bytes", s->name,
				       path, max - start);
			break;
		}
		if ((r = cs_buf_append(out, chunk, (size_t)n)) < 0) {
			r = cs_err_errno(err, r, "host %s: read %s", s->name, path);
			break;
		}
	}
	free(chunk);
	close_handle(s, h);
	if (r == 0 && !out->data)
		cs_buf_append(out, "", 0);
	return r;
}

/* Write all of data to the open handle h (for path), in two halves (the
 * harness kills between them: ssh.upload-mid), then fsync it where the
 * server can. */
static int sftp_write_synced(struct ssh *s, LIBSSH2_SFTP_HANDLE *h, const char *path, const void *data,
			     size_t len, struct cs_err *err)
{
	const char *p = data;
	size_t off = 0, half = len / 2;
	while (off < len) {
		size_t end = off < half ? half : len;
		ssize_t n = libssh2_sftp_write(h, p + off, end - off);
		if (n < 0)
			return sftp_fail(s, (int)n, err, "sftp write", path);
		off += (size_t)n;
		if (off == half && half)
			cs_fault_point("ssh.upload-mid");
	}
	int rc = libssh2_sftp_fsync(h);
	/* Servers without fsync@openssh.com get no fsync; any other failure
	 * is real. */
	if (rc < 0 && !(rc == LIBSSH2_ERROR_SFTP_PROTOCOL &&
			libssh2_sftp_last_error(s->sftp) == LIBSSH2_FX_OP_UNSUPPORTED))
		return sftp_fail(s, rc, err, "sftp fsync", path);
	return 0;
}

/* Upload data to tmp (created 0600: a key is never readable by others, not
 * even for a moment), fsync it, then set mode when asked. */
static int upload(struct ssh *s, const char *tmp, const char *path, const void *data, size_t len,
		  int mode, bool *created, struct cs_err *err)
{
	*created = false;
	LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open_ex(
		s->sftp, tmp, (unsigned int)strlen(tmp),
		LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, 0600, LIBSSH2_SFTP_OPENFILE);
	if (!h) {
		char reason[512];
		int e = sftp_errno(s, libssh2_session_last_errno(s->session), reason, sizeof reason);
		return cs_err_set(err, e, "host %s: sftp write %s: create temporary file %s: %s",
				  s->name, path, tmp, reason);
	}
	*created = true;
	int r = sftp_write_synced(s, h, path, data, len, err), rc;
	if (r < 0)
		goto out;
	if (mode >= 0) {
		LIBSSH2_SFTP_ATTRIBUTES a = { .flags = LIBSSH2_SFTP_ATTR_PERMISSIONS,
					      .permissions = (unsigned long)mode & 07777 };
		rc = libssh2_sftp_fsetstat(h, &a);
		if (rc < 0) {
			r = sftp_fail(s, rc, err, "sftp chmod", path);
			goto out;
		}
	}
out:
	rc = close_handle(s, h);
	if (rc < 0 && r == 0)
		r = sftp_fail(s, rc, err, "sftp write", path);
	return r;
}

/* Does the declared (not only kept) owner and group of attrs match what
 * path has?  "name" or numeric id, as the config gives them. */
static int in_place_owner_ok(struct ssh *s, const char *path, const struct cs_file_attrs *attrs,
			     struct cs_err *err)
{
	const char *owner = attrs->owner && !attrs->owner_soft ? attrs->owner : NULL;
	const char *group = attrs->group && !attrs->group_soft ? attrs->group : NULL;
	if (!owner && !group)
		return 0;
	char *q = cs_sh_quote(path);
	char *cmd = cs_xasprintf("stat -c '%%U %%G %%u %%g' -- %s", q);
	struct cs_run_result rr;
	cs_run_result_init(&rr, 4096);
	int r = helper(s, cmd, "stat", path, &rr, err);
	char u[256] = "", g[256] = "", ui[32] = "", gi[32] = "";
	if (r == 0 && sscanf(rr.out.data ? rr.out.data : "", "%255s %255s %31s %31s", u, g, ui, gi) != 4)
		r = cs_err_set(err, -EIO, "host %s: stat %s: unexpected answer", s->name, path);
	if (r == 0 && ((owner && strcmp(owner, u) && strcmp(owner, ui)) ||
		       (group && strcmp(group, g) && strcmp(group, gi))))
		r = cs_err_set(err, -EPERM, "host %s: write %s: its folder is not writable, and rewriting the "
			       "file in place cannot change its owner or group", s->name, path);
	cs_run_result_free(&rr);
	free(cmd);
	free(q);
	return r;
}

/* A folder the login user may not create files in (root's, the files
 * given to a deploy user) while the file itself is writable: rewrite it in
 * place.  It keeps its owner and group; its mode is set (only its owner
 * may).  A reader may see it half written meanwhile: the plan said so. */
static int write_in_place(struct ssh *s, const char *path, const void *data, size_t len,
			  const struct cs_file_attrs *attrs, struct cs_err *err)
{
	int r = in_place_owner_ok(s, path, attrs, err);
	if (r < 0)
		return r;
	LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open_ex(s->sftp, path, (unsigned int)strlen(path),
						      LIBSSH2_FXF_WRITE | LIBSSH2_FXF_TRUNC, 0,
						      LIBSSH2_SFTP_OPENFILE);
	if (!h) {
		char reason[512];
		int e = sftp_errno(s, libssh2_session_last_errno(s->session), reason, sizeof reason);
		return cs_err_set(err, e, "host %s: sftp write %s: its folder is not writable and the file cannot "
				  "be rewritten in place: %s", s->name, path, reason);
	}
	LIBSSH2_SFTP_ATTRIBUTES a;
	int rc = libssh2_sftp_fstat(h, &a);
	if (rc < 0) {
		r = sftp_fail(s, rc, err, "sftp stat", path);
		goto out;
	}
	if ((a.permissions & 07777) != (attrs->mode & 07777)) {
		LIBSSH2_SFTP_ATTRIBUTES m = { .flags = LIBSSH2_SFTP_ATTR_PERMISSIONS,
					      .permissions = (unsigned long)attrs->mode & 07777 };
		if ((rc = libssh2_sftp_fsetstat(h, &m)) < 0) {
			r = sftp_fail(s, rc, err, "sftp chmod", path);
			goto out;
		}
	}
	r = sftp_write_synced(s, h, path, data, len, err);
out:
	rc = close_handle(s, h);
	if (rc < 0 && r == 0)
		r = sftp_fail(s, rc, err, "sftp write", path);
	return r;
}

/* The chown of tmp that attrs ask for, as shell commands ending in " && ",
 * or NULL when none.  A declared owner or group must be set (chown fails the
 * command); one that is only kept (owner_soft, group_soft) is set where the
 * login user may, each on its own so that one refused keeps the other. */
static int write_direct(struct ssh *s, const char *path, const void *data, size_t len,
			const struct cs_file_attrs *attrs, struct cs_err *err)
{
	char *tmp = temp_name(NULL, path);
	char *cmd = NULL;
	struct cs_run_result rr;
	bool created = false;
	cs_run_result_init(&rr, 65536);

	int r = upload(s, tmp, path, data, len, (int)(attrs->mode & 07777), &created, err);
	if (r == -EACCES && !created && !s->dead) {
		LIBSSH2_SFTP_ATTRIBUTES a;
		/* Only a file that is there is rewritten in place. */
		if (libssh2_sftp_stat_ex(s->sftp, path, (unsigned int)strlen(path), LIBSSH2_SFTP_LSTAT, &a) == 0 &&
		    LIBSSH2_SFTP_S_ISREG(a.permissions)) {
			cs_err_clear(err);
			r = write_in_place(s, path, data, len, attrs, err);
			goto out;
		}
	}
	if (r < 0)
		goto fail;
	if (attrs->owner || attrs->group) {
		/* chown needs the shell anyway: one round trip for both steps. */
		cmd = cs_ssh_cmd_chown_mv(attrs->owner, attrs->owner_soft, attrs->group, attrs->group_soft, tmp, path,
					  attrs->mode);
		if ((r = helper(s, cmd, "chown and rename to", path, &rr, err)) < 0)
			goto fail;
		goto out;
	}
	int rc = libssh2_sftp_rename_ex(s->sftp, tmp, (unsigned int)strlen(tmp), path,
					(unsigned int)strlen(path),
					LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
					LIBSSH2_SFTP_RENAME_NATIVE);
	if (rc == 0)
		goto out;
	if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
		r = sftp_fail(s, rc, err, "sftp rename to", path);
		goto fail;
	}
	/* OpenSSH's rename will not replace an existing file. */
	cmd = cs_ssh_cmd_mv(tmp, path, attrs->mode);
	if ((r = helper(s, cmd, "rename to", path, &rr, err)) < 0)
		goto fail;
	goto out;
fail:
	if (created && !s->dead)
		libssh2_sftp_unlink_ex(s->sftp, tmp, (unsigned int)strlen(tmp));
out:
	cs_run_result_free(&rr);
	free(cmd);
	free(tmp);
	return r;
}

static int ensure_sudo_dir(struct ssh *s, struct cs_err *err)
{
	if (s->sudo_dir)
		return 0;
	struct cs_run_result rr;
	cs_run_result_init(&rr, 4096);
	/* A folder only the login user can enter: nobody can swap the upload
	 * before sudo install copies it. */
	char *cmd = cs_ssh_cmd_mkdtemp(cs_temp_tag());
	int r = helper(s, cmd, "create an upload folder", "(mktemp -d)", &rr, err);
	free(cmd);
	if (r == 0) {
		size_t n = rr.out.len;
		while (n && (rr.out.data[n - 1] == '\n' || rr.out.data[n - 1] == '\r'))
			n--;
		if (!n || rr.out.data[0] != '/')
			r = cs_err_set(err, -EIO, "host %s: mktemp -d printed no folder", s->name);
		else
			s->sudo_dir = cs_xasprintf("%.*s", (int)n, rr.out.data);
	}
	cs_run_result_free(&rr);
	return r;
}

static int write_sudo(struct ssh *s, const char *path, const void *data, size_t len,
		      const struct cs_file_attrs *attrs, struct cs_err *err)
{
	struct cs_run_result rr;
	char *up = NULL, *tname = NULL, *cmd = NULL;
	cs_run_result_init(&rr, 65536);
	int r = ensure_sudo_dir(s, err);
	if (r < 0)
		goto out;
	up = temp_name(s->sudo_dir, path);
	tname = temp_name(NULL, path);
	bool created = false;
	if ((r = upload(s, up, path, data, len, -1, &created, err)) < 0)
		goto out; /* the upload folder goes at close */
	cmd = cs_ssh_cmd_sudo_install(up, tname, path, attrs->mode, attrs->owner, attrs->group);
	r = helper(s, cmd, "sudo install to", path, &rr, err);
out:
	cs_run_result_free(&rr);
	free(cmd);
	free(tname);
	free(up);
	return r;
}

/* The file a write to path replaces: path itself, or, when path is a
 * symbolic link, the file it leads to (operators link the names their
 * services read to files kept elsewhere; replacing the link would leave
 * those files, and whatever reads them, behind).  Resolved by the server
 * (sftp realpath), as root with become when the login user cannot. */
static char *write_target(struct ssh *s, const char *path)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	if (libssh2_sftp_stat_ex(s->sftp, path, (unsigned int)strlen(path), LIBSSH2_SFTP_LSTAT, &a) != 0 ||
	    !(a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) || !LIBSSH2_SFTP_S_ISLNK(a.permissions))
		return cs_xstrdup(path);
	char buf[4096];
	int n = libssh2_sftp_symlink_ex(s->sftp, path, (unsigned int)strlen(path), buf, sizeof buf - 1,
					LIBSSH2_SFTP_REALPATH);
	if (n > 0 && buf[0] == '/') {
		buf[n] = '\0';
		return cs_xstrdup(buf);
	}
	if (s->cfg->become_sudo) {
		char *q = cs_sh_quote(path);
		char *cmd = cs_xasprintf("sudo -n readlink -f -- %s", q);
		struct cs_run_result rr;
		cs_run_result_init(&rr, 8192);
		struct cs_err e = CS_ERR_INIT;
		char *out = NULL;
		if (helper(s, cmd, "resolve the link", path, &rr, &e) == 0 && rr.out.data && rr.out.data[0] == '/') {
			size_t m = strcspn(rr.out.data, "\n");
			out = cs_xasprintf("%.*s", (int)m, rr.out.data);
		}
		cs_err_clear(&e);
		cs_run_result_free(&rr);
		free(cmd);
		free(q);
		if (out)
			return out;
	}
	return cs_xstrdup(path); /* dangling or a loop: the link itself */
}

static int ssh_write_file(struct cs_transport *t, const char *path, const void *data,
			  size_t len, const struct cs_file_attrs *attrs, struct cs_err *err)
{
	struct ssh *s = from(t);
	struct cs_file_attrs none = { .mode = 0600 };
	if (!attrs)
		attrs = &none;
	int r = ensure_sftp(s, err);
	if (r < 0)
		return r;
	char *target = write_target(s, path);
	if (s->cfg->become_sudo)
		r = write_sudo(s, target, data, len, attrs, err);
	else
		r = write_direct(s, target, data, len, attrs, err);
	free(target);
	return r;
}

/* One shell round trip: the run's upload folders (made by the login user,
 * so removed as it), then the temporary files beside each path (with sudo
 * when the host is configured so: they were made with it).  Prints the
 * count. */
static int ssh_remove_temps(struct cs_transport *t, char *const *paths, size_t n, const char *tag,
			    struct cs_err *err)
{
	struct ssh *s = from(t);
	if (strlen(tag) != 16 || strspn(tag, "0123456789abcdef") != 16)
		return cs_err_set(err, -EINVAL, "host %s: invalid run tag", s->name);
	/* Windows over SSH: its writes and imports go through PowerShell, as
	 * over WinRM, and so does their clean-up. */
	if (t->host && t->host->platform == CS_PLATFORM_WINDOWS)
		return cs_ps_remove_temps_run(t, paths, n, tag, err);
	struct cs_buf inner = CS_BUF_INIT, cmd = CS_BUF_INIT;
	/* rm_t DIR BASE: the run's temporary files beside DIR/BASE.  Beside
	 * each path, and beside the file a link there leads to (writes go
	 * through links, see ssh_write_file). */
	cs_buf_printf(&inner, "n=0; rm_t() { for f in \"$1\"/.\"$2\".certsync-%s-*; do "
		      "if [ -f \"$f\" ] && [ ! -L \"$f\" ]; then rm -f -- \"$f\" && n=$((n+1)); fi; done; }; ", tag);
	for (size_t i = 0; i < n; i++) {
		char *dir = cs_path_dirname(paths[i]);
		char *qd = cs_sh_quote(strcmp(dir, "/") ? dir : ""), *qb = cs_sh_quote(cs_path_basename(paths[i]));
		char *qp = cs_sh_quote(paths[i]);
		cs_buf_printf(&inner, "rm_t %s %s; if [ -L %s ] && t=$(readlink -f -- %s); then "
			      "rm_t \"${t%%/*}\" \"${t##*/}\"; fi; ", qd, qb, qp, qp);
		free(qp);
		free(qd);
		free(qb);
		free(dir);
	}
	/* The run's folders under $TMPDIR: the upload folder and a script
	 * binding's folder (which holds the key while its script runs).  With
	 * become they may be root's, so the loop runs under sudo as well. */
	cs_buf_printf(&inner, "for d in \"${TMPDIR:-/tmp}\"/certsync-%s.*; do "
		      "if [ -d \"$d\" ] && [ ! -L \"$d\" ] && rm -rf -- \"$d\"; then n=$((n+1)); fi; done; echo $n",
		      tag);
	if (s->cfg->become_sudo) {
		/* The login user's own folders (the upload folder) first, in
		 * its $TMPDIR; then the rest as root. */
		cs_buf_printf(&cmd, "for d in \"${TMPDIR:-/tmp}\"/certsync-%s.*; do [ -d \"$d\" ] && rm -rf -- \"$d\"; done; ",
			      tag);
		char *q = cs_sh_quote(inner.data);
		cs_buf_printf(&cmd, "sudo -n sh -c %s", q);
		free(q);
	} else {
		cs_buf_puts(&cmd, inner.data);
	}
	struct cs_run_result rr;
	cs_run_result_init(&rr, 4096);
	int r = helper(s, cmd.data, "remove temporary files of run", tag, &rr, err);
	if (r == 0)
		r = rr.out.data ? (int)strtol(rr.out.data, NULL, 10) : 0;
	cs_run_result_free(&rr);
	cs_buf_free(&cmd);
	cs_buf_free(&inner);
	return r;
}

static int ssh_remove_file(struct cs_transport *t, const char *path, struct cs_err *err)
{
	struct ssh *s = from(t);
	int r = ensure_sftp(s, err);
	if (r < 0)
		return r;
	int rc = libssh2_sftp_unlink_ex(s->sftp, path, (unsigned int)strlen(path));
	if (rc == 0)
		return 0;
	r = sftp_fail(s, rc, err, "sftp remove", path);
	if (r == -ENOENT) {
		cs_err_clear(err);
		return 0;
	}
	if (r == -EACCES && s->cfg->become_sudo) {
		cs_err_clear(err);
		struct cs_run_result rr;
		char *cmd = cs_ssh_cmd_sudo_rm(path);
		cs_run_result_init(&rr, 65536);
		r = helper(s, cmd, "sudo rm", path, &rr, err);
		cs_run_result_free(&rr);
		free(cmd);
	}
	return r;
}

/* ---- stat ---- */

static const char *cached(const struct idname *v, size_t n, unsigned long id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return v[i].name;
	return NULL;
}

static void cache_add(struct idname **v, size_t *n, unsigned long id, const char *name, size_t len)
{
	*v = cs_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[*n].id = id;
	/* An id without a name stays a number, as ls -l shows it. */
	(*v)[*n].name = len ? cs_xasprintf("%.*s", (int)len, name) : cs_xasprintf("%lu", id);
	(*n)++;
}

/* Owner and group names for uid/gid: one getent command for both when
 * either is not cached yet. */
static int resolve_names(struct ssh *s, unsigned long uid, unsigned long gid, struct cs_err *err)
{
	if (cached(s->users, s->n_users, uid) && cached(s->groups, s->n_groups, gid))
		return 0;
	struct cs_run_result rr;
	char *cmd = cs_ssh_cmd_names(uid, gid);
	cs_run_result_init(&rr, 4096);
	int r = run_raw(s, cmd, NULL, 0, &rr, err);
	if (r == 0) {
		const char *u = rr.out.data ? rr.out.data : "";
		const char *nl = strchr(u, '\n');
		size_t ulen = nl ? (size_t)(nl - u) : 0;
		const char *g = nl ? nl + 1 : "";
		const char *nl2 = strchr(g, '\n');
		size_t glen = nl2 ? (size_t)(nl2 - g) : 0;
		if (!cached(s->users, s->n_users, uid))
			cache_add(&s->users, &s->n_users, uid, u, ulen);
		if (!cached(s->groups, s->n_groups, gid))
			cache_add(&s->groups, &s->n_groups, gid, g, glen);
	}
	cs_run_result_free(&rr);
	free(cmd);
	return r;
}

/* stat through sudo for paths the login user cannot reach; GNU stat gives
 * the names too. */
static int sudo_stat(struct ssh *s, const char *path, struct cs_file_stat *out, struct cs_err *err)
{
	struct cs_run_result rr;
	char *cmd = cs_ssh_cmd_sudo_stat(path);
	cs_run_result_init(&rr, 4096);
	int r = run_raw(s, cmd, NULL, 0, &rr, err);
	if (r < 0 || (r = sudo_refused(s, &rr, err)) < 0)
		goto out;
	if (rr.exit_status != 0) {
		if (rr.err.data && strstr(rr.err.data, "No such file")) {
			out->exists = false;
			goto out;
		}
		r = cs_err_set(err, -EIO, "host %s: sudo stat %s: %s", s->name, path,
			       rr.err.data ? rr.err.data : "failed");
		goto out;
	}
	unsigned int mode;
	unsigned long uid, gid;
	long long size;
	char user[256], group[256];
	if (!rr.out.data || sscanf(rr.out.data, "%o %lu %lu %lld %255s %255s", &mode, &uid, &gid,
				   &size, user, group) != 6) {
		r = cs_err_set(err, -EIO, "host %s: sudo stat %s: unexpected output", s->name, path);
		goto out;
	}
	out->exists = true;
	out->mode = mode & 07777;
	out->uid = (uid_t)uid;
	out->gid = (gid_t)gid;
	out->size = size;
	out->owner = strcmp(user, "UNKNOWN") ? cs_xstrdup(user) : cs_xasprintf("%lu", uid);
	out->group = strcmp(group, "UNKNOWN") ? cs_xstrdup(group) : cs_xasprintf("%lu", gid);
out:
	cs_run_result_free(&rr);
	free(cmd);
	return r;
}

static int ssh_stat(struct cs_transport *t, const char *path, struct cs_file_stat *out,
		    struct cs_err *err)
{
	struct ssh *s = from(t);
	memset(out, 0, sizeof *out);
	int r = ensure_sftp(s, err);
	if (r < 0)
		return r;
	LIBSSH2_SFTP_ATTRIBUTES a;
	memset(&a, 0, sizeof a);
	int rc = libssh2_sftp_stat_ex(s->sftp, path, (unsigned int)strlen(path), LIBSSH2_SFTP_STAT, &a);
	if (rc < 0) {
		r = sftp_fail(s, rc, err, "sftp stat", path);
		if (r == -ENOENT) {
			cs_err_clear(err);
			return 0;
		}
		if (r == -EACCES && s->cfg->become_sudo) {
			cs_err_clear(err);
			return sudo_stat(s, path, out, err);
		}
		return r;
	}
	out->exists = true;
	out->mode = (mode_t)(a.permissions & 07777);
	out->uid = (uid_t)a.uid;
	out->gid = (gid_t)a.gid;
	out->size = (int64_t)a.filesize;
	if ((r = resolve_names(s, a.uid, a.gid, err)) < 0) {
		cs_err_prefix(err, "stat %s: owner names", path);
		return r;
	}
	out->owner = cs_xstrdup(cached(s->users, s->n_users, a.uid));
	out->group = cs_xstrdup(cached(s->groups, s->n_groups, a.gid));
	return 0;
}

/* ---- config body ---- */

static void ssh_parse(struct cs_yaml *y, struct cs_host_cfg *h, const struct cs_ynode *key, const struct cs_ynode *m)
{
	static const char *const keys[] = {
		"address", "port", "user", "identity", "passphrase", "password", "known_hosts",
		"host_key_policy", "become", "timeout", NULL,
	};
	static const char *const policies[] = { "strict", "accept-new", NULL };
	static const char *const becomes[] = { "sudo", NULL };
	const char *where = cs_yaml_fmt(y, "in ssh of host %s", cs_yaml_esc(y, h->name));
	struct cs_ssh_cfg *s = &h->ssh;
	s->port = 22;
	s->timeout = 30;
	s->known_hosts = cs_yaml_local_path(y, "~/.ssh/known_hosts");
	cs_yaml_check_keys(y, m, keys, where);
	struct cs_ynode *v = cs_yaml_str(y, m, "address", where, true, &s->address);
	if (v)
		cs_transport_check_address(y, v, s->address, where);
	cs_yaml_int(y, m, "port", where, false, 1, 65535, &s->port);
	cs_yaml_str(y, m, "user", where, true, &s->user);
	cs_yaml_local_file(y, m, "identity", where, false, &s->identity);
	cs_yaml_secret(y, m, "passphrase", where, false, &s->passphrase);
	cs_yaml_secret(y, m, "password", where, false, &s->password);
	cs_yaml_local_file(y, m, "known_hosts", where, false, &s->known_hosts);
	int i = 0;
	if (cs_yaml_enum(y, m, "host_key_policy", where, false, policies, &i))
		s->host_key_accept_new = i == 1;
	if (cs_yaml_enum(y, m, "become", where, false, becomes, &i))
		s->become_sudo = true;
	cs_yaml_duration(y, m, "timeout", where, true, CS_DURATION_MAX_WAIT, &s->timeout);
}

const struct cs_transport_ops cs_transport_ssh = {
	.name = "ssh",
	.parse = ssh_parse,
	.open = ssh_open,
	.run = ssh_run,
	.read_file = ssh_read_file,
	.write_file = ssh_write_file,
	.remove_file = ssh_remove_file,
	.stat = ssh_stat,
	.remove_temps = ssh_remove_temps,
	.close = ssh_close,
	.remote = true,
};
