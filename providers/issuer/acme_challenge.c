/* http-01 (standalone and webroot) and dns-01 (hook) challenge responders
 * (see acme_challenge.h). */
#include "providers/issuer/acme_challenge.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "providers/base/util.h"
#include "providers/base/quote.h"

extern char **environ;

#define PREFIX "/.well-known/acme-challenge/"
#define REQUEST_MAX 8192
#define CLIENT_TIMEOUT_MS 5000
#define HOOK_TIMEOUT_S 300
#define HOOK_OUTPUT_MAX 4096

bool cs_acme_token_ok(const char *token)
{
	if (!token || !token[0] || strlen(token) > 256)
		return false;
	for (const char *c = token; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '_'))
			return false;
	return true;
}

/* ---- standalone ---- */

struct token {
	char *token;
	char *key_auth;
};

struct cs_acme_responder {
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	struct token *tokens;
	size_t n_tokens;
};

static char *lookup(struct cs_acme_responder *s, const char *token, size_t len)
{
	char *found = NULL;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_tokens && !found; i++)
		if (strlen(s->tokens[i].token) == len && !memcmp(s->tokens[i].token, token, len))
			found = cs_xstrdup(s->tokens[i].key_auth);
	pthread_mutex_unlock(&s->lock);
	return found;
}

static void write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* One request per connection: read the head, answer, close. */
static void serve(struct cs_acme_responder *s, int fd)
{
	char req[REQUEST_MAX + 1];
	size_t len = 0;
	while (len < REQUEST_MAX) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, CLIENT_TIMEOUT_MS) <= 0)
			return;
		ssize_t n = recv(fd, req + len, REQUEST_MAX - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	const char *status = "404 Not Found", *body = "not found\n";
	char *key_auth = NULL;
	char *sp = strchr(req, ' ');
	if (!strncmp(req, "GET ", 4) || !strncmp(req, "HEAD ", 5)) {
		const char *path = sp + 1;
		size_t plen = strcspn(path, " \r\n?");
		if (plen > strlen(PREFIX) && !strncmp(path, PREFIX, strlen(PREFIX)))
			key_auth = lookup(s, path + strlen(PREFIX), plen - strlen(PREFIX));
		if (key_auth) {
			status = "200 OK";
			body = key_auth;
		}
	} else {
		status = "405 Method Not Allowed";
		body = "\n";
	}
	char *resp = cs_xasprintf("HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
				  "Connection: close\r\n\r\n%s", status, strlen(body),
				  !strncmp(req, "HEAD ", 5) ? "" : body);
	write_all(fd, resp, strlen(resp));
	free(resp);
	free(key_auth);
}

static void *responder_main(void *arg)
{
	struct cs_acme_responder *s = arg;
	for (;;) {
		struct pollfd p[2] = { { s->listen_fd, POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				serve(s, fd);
				close(fd);
			}
		}
	}
	return NULL;
}

/* "host:port", "[v6]:port" or ":port" into host (NULL = any) and port. */
static int split_addr(char **out_host, char **out_port, const char *addr)
{
	const char *colon;
	*out_host = NULL;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		*out_host = cs_xasprintf("%.*s", (int)(end - addr - 1), addr + 1);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		if (colon > addr)
			*out_host = cs_xasprintf("%.*s", (int)(colon - addr), addr);
	}
	if (!colon[1]) {
		free(*out_host);
		*out_host = NULL;
		return -EINVAL;
	}
	*out_port = cs_xstrdup(colon + 1);
	return 0;
}

int cs_acme_responder_start(struct cs_acme_responder **out, const char *addr, struct cs_err *err)
{
	char *host = NULL, *port = NULL;
	struct addrinfo hints, *res = NULL;
	int fd = -1, r;
	if (split_addr(&host, &port, addr) < 0)
		return cs_err_set(err, -EINVAL, "http-01 standalone address \"%s\" is not host:port", addr);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		r = cs_err_set(err, -EINVAL, "http-01 standalone address %s: %s", addr, gai_strerror(gai));
		goto out;
	}
	r = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0) {
			r = 0;
			break;
		}
		r = -errno;
		close(fd);
		fd = -1;
	}
	if (r < 0) {
		r = cs_err_errno(err, r, "http-01 standalone: listen on %s", addr);
		goto out;
	}
	struct cs_acme_responder *s = cs_xcalloc(1, sizeof *s);
	s->listen_fd = fd;
	if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		r = cs_err_errno(err, -errno, "http-01 standalone");
		close(fd);
		free(s);
		goto out;
	}
	pthread_mutex_init(&s->lock, NULL);
	if ((r = pthread_create(&s->thread, NULL, responder_main, s)) != 0) {
		r = cs_err_errno(err, -r, "http-01 standalone: start the responder");
		close(fd);
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
		pthread_mutex_destroy(&s->lock);
		free(s);
		goto out;
	}
	*out = s;
	r = 0;
out:
	if (res)
		freeaddrinfo(res);
	free(host);
	free(port);
	return r;
}

void cs_acme_responder_add(struct cs_acme_responder *s, const char *token, const char *key_auth)
{
	pthread_mutex_lock(&s->lock);
	s->tokens = cs_xrealloc(s->tokens, (s->n_tokens + 1) * sizeof *s->tokens);
	s->tokens[s->n_tokens].token = cs_xstrdup(token);
	s->tokens[s->n_tokens].key_auth = cs_xstrdup(key_auth);
	s->n_tokens++;
	pthread_mutex_unlock(&s->lock);
}

void cs_acme_responder_stop(struct cs_acme_responder *s)
{
	if (!s)
		return;
	ssize_t n;
	do
		n = write(s->stop_pipe[1], "x", 1);
	while (n < 0 && errno == EINTR);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	for (size_t i = 0; i < s->n_tokens; i++) {
		free(s->tokens[i].token);
		free(s->tokens[i].key_auth);
	}
	free(s->tokens);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- webroot ---- */

char *cs_acme_webroot_mkdir_command(const char *dir)
{
	char *q = cs_sh_quote(dir);
	char *cmd = cs_xasprintf("mkdir -p -m 0755 -- %s", q);
	free(q);
	return cmd;
}

int cs_acme_webroot_put(struct cs_transport *t, const char *webroot, const char *token,
			const char *key_auth, struct cs_err *err)
{
	if (!cs_acme_token_ok(token))
		return cs_err_set(err, -EPROTO, "the acme server sent a challenge token that is not base64url");
	char *dir = cs_xasprintf("%s%s.well-known/acme-challenge", webroot,
				 webroot[strlen(webroot) - 1] == '/' ? "" : "/");
	char *path = cs_xasprintf("%s/%s", dir, token);
	int r = 0;
	/* The challenge folder belongs to ACME, so certsync makes it; the
	 * webroot itself must exist (a typo there should fail, not be created). */
	if (t->host && t->host->platform == CS_PLATFORM_LINUX) {
		struct cs_file_stat st;
		memset(&st, 0, sizeof st);
		if ((r = t->ops->stat(t, webroot, &st, err)) < 0)
			goto out;
		bool there = st.exists;
		cs_file_stat_free(&st);
		if (!there) {
			r = cs_err_set(err, -ENOENT, "webroot %s does not exist on %s", webroot, t->host->name);
			goto out;
		}
		char *cmd = cs_acme_webroot_mkdir_command(dir);
		struct cs_run_result res;
		cs_run_result_init(&res, 4096);
		r = t->ops->run(t, cmd, NULL, 0, &res, err);
		if (r == 0 && res.exit_status != 0)
			r = cs_err_set(err, -EIO, "mkdir %s on %s: %s", dir, t->host->name,
				       res.err.data ? res.err.data : "failed");
		cs_run_result_free(&res);
		free(cmd);
		if (r < 0)
			goto out;
	}
	struct cs_file_attrs attrs = { .mode = 0644 };
	r = t->ops->write_file(t, path, key_auth, strlen(key_auth), &attrs, err);
out:
	if (r < 0)
		cs_err_prefix(err, "http-01 webroot");
	free(dir);
	free(path);
	return r;
}

int cs_acme_webroot_remove(struct cs_transport *t, const char *webroot, const char *token,
			   struct cs_err *err)
{
	if (!cs_acme_token_ok(token))
		return 0; /* never written */
	char *path = cs_xasprintf("%s%s.well-known/acme-challenge/%s", webroot,
				  webroot[strlen(webroot) - 1] == '/' ? "" : "/", token);
	int r = t->ops->remove_file(t, path, err);
	if (r < 0)
		cs_err_prefix(err, "http-01 webroot cleanup");
	free(path);
	return r;
}

/* ---- dns-01 hook ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cs_acme_dns_hook(const char *hook, const char *action, const char *name, const char *value,
		     const char *cwd, struct cs_err *err)
{
	/* Everything the child needs is built before fork(): certsync runs
	 * threads, and only async-signal-safe calls are allowed in between. */
	size_t n_env = 0;
	while (environ[n_env])
		n_env++;
	char **envp = cs_xcalloc(n_env + 4, sizeof *envp);
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++)
		if (strncmp(environ[i], "CERTSYNC_DNS_", 13) != 0)
			envp[k++] = environ[i];
	char *e_action = cs_xasprintf("CERTSYNC_DNS_ACTION=%s", action);
	char *e_name = cs_xasprintf("CERTSYNC_DNS_NAME=%s", name);
	char *e_value = cs_xasprintf("CERTSYNC_DNS_VALUE=%s", value);
	envp[k++] = e_action;
	envp[k++] = e_name;
	envp[k++] = e_value;
	char *const argv[] = { (char *)hook, (char *)action, (char *)name, (char *)value, NULL };
	int pipefd[2];
	pid_t pid = -1;
	int r = 0;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = cs_err_errno(err, -errno, "dns-01 hook %s %s", hook, action);
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		r = cs_err_errno(err, -errno, "dns-01 hook %s %s", hook, action);
		close(pipefd[0]);
		close(pipefd[1]);
		goto done;
	}
	if (pid == 0) {
		/* The child: output to the pipe, no stdin, exec without a shell so
		 * the name and value are plain arguments. */
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		execve(hook, argv, envp);
		_exit(127);
	}
	close(pipefd[1]);
	struct cs_buf out;
	cs_buf_init(&out, 0);
	int64_t deadline = mono_ms() + HOOK_TIMEOUT_S * 1000;
	bool timed_out = false;
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		char buf[1024];
		ssize_t n = read(pipefd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Keep only the tail: the end of a failing hook's output says why. */
		cs_buf_append(&out, buf, (size_t)n);
		if (out.len > HOOK_OUTPUT_MAX) {
			memmove(out.data, out.data + out.len - HOOK_OUTPUT_MAX, HOOK_OUTPUT_MAX);
			out.len = HOOK_OUTPUT_MAX;
			out.data[out.len] = '\0';
		}
	}
	close(pipefd[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == '\r'))
		out.data[--out.len] = '\0';
	if (timed_out)
		r = cs_err_set(err, -ETIMEDOUT, "dns-01 hook %s %s %s: no answer after %d s", hook, action,
			       name, HOOK_TIMEOUT_S);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		r = cs_err_set(err, -ENOENT, "dns-01 hook %s cannot be run (missing or not executable)", hook);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		r = cs_err_set(err, -EIO, "dns-01 hook %s %s %s failed (%s %d)%s%s", hook, action, name,
			       WIFEXITED(status) ? "exit" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			       out.len ? ": " : "", out.len ? out.data : "");
	cs_buf_free(&out);
done:
	free(e_action);
	free(e_name);
	free(e_value);
	free(envp);
	return r;
}
