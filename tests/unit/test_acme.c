/* The ACME client's local pieces: Retry-After parsing, token checks, the
 * http-01 standalone responder over a real socket, and the dns-01 hook
 * (arguments, environment, failure output, missing hook). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "providers/issuer/acme_challenge.h"
#include "providers/issuer/acme_http.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

static void test_retry_after(void)
{
	static const struct { const char *in; long long now; long long want; } cases[] = {
		{ "120", 0, 120 },
		{ "0", 0, 0 },
		{ "-5", 0, 0 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 60, 60 },   /* RFC 9110's example date */
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 60, 0 },    /* in the past: now */
		{ "soon", 0, -1 },
		{ "12abc", 0, -1 },
		{ "", 0, -1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[96];
		snprintf(name, sizeof name, "retry-after \"%s\"", cases[i].in);
		tap_int(cs_acme_parse_retry_after(cases[i].in, cases[i].now), cases[i].want, name);
	}
}

static void test_tokens(void)
{
	static const struct { const char *token; bool ok; } cases[] = {
		{ "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", true },
		{ "a-b_c", true },
		{ "../../etc/passwd", false },
		{ "a/b", false },
		{ "a.b", false },
		{ "", false },
		{ "a b", false },
		{ NULL, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[96];
		snprintf(name, sizeof name, "token \"%s\"", cases[i].token ? cases[i].token : "(null)");
		tap_ok(cs_acme_token_ok(cases[i].token) == cases[i].ok, name, NULL);
	}
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	bind(fd, (struct sockaddr *)&a, sizeof a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

/* One request to 127.0.0.1:port; the whole response. */
static char *http_get(int port, const char *request)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return cs_xstrdup("connect failed");
	}
	if (write(fd, request, strlen(request)) < 0) {
		close(fd);
		return cs_xstrdup("write failed");
	}
	struct cs_buf b = CS_BUF_INIT;
	char buf[512];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		cs_buf_append(&b, buf, (size_t)n);
	close(fd);
	return cs_buf_detach(&b, NULL);
}

static void test_responder(void)
{
	int port = free_port();
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	struct cs_acme_responder *s = NULL;
	struct cs_err err = CS_ERR_INIT;
	if (!tap_int(cs_acme_responder_start(&s, addr, &err), 0, "responder starts"))
		return;
	cs_acme_responder_add(s, "tok1", "tok1.thumb");
	char *r = http_get(port, "GET /.well-known/acme-challenge/tok1 HTTP/1.1\r\nHost: web.test\r\n\r\n");
	tap_ok(strstr(r, "HTTP/1.1 200 OK") && strstr(r, "\r\n\r\ntok1.thumb") && strstr(r, "Content-Length: 10"),
	       "known token: key authorization", "%s", r);
	free(r);
	r = http_get(port, "GET /.well-known/acme-challenge/other HTTP/1.1\r\nHost: web.test\r\n\r\n");
	tap_ok(strstr(r, "HTTP/1.1 404") != NULL, "unknown token: 404", "%s", r);
	free(r);
	r = http_get(port, "GET /.well-known/acme-challenge/tok1x HTTP/1.1\r\n\r\n");
	tap_ok(strstr(r, "HTTP/1.1 404") != NULL, "token prefix does not match", "%s", r);
	free(r);
	r = http_get(port, "GET / HTTP/1.1\r\n\r\n");
	tap_ok(strstr(r, "HTTP/1.1 404") != NULL, "other paths: 404", "%s", r);
	free(r);
	r = http_get(port, "POST /.well-known/acme-challenge/tok1 HTTP/1.1\r\n\r\n");
	tap_ok(strstr(r, "HTTP/1.1 405") != NULL, "post: 405", "%s", r);
	free(r);
	/* Port busy: a clear error. */
	struct cs_acme_responder *s2 = NULL;
	tap_ok(cs_acme_responder_start(&s2, addr, &err) < 0 && err.msg && strstr(err.msg, "listen on 127.0.0.1"),
	       "busy port refused", "%s", cs_err_msg(&err));
	cs_acme_responder_stop(s2);
	cs_err_clear(&err);
	cs_acme_responder_stop(s);
	r = http_get(port, "GET /.well-known/acme-challenge/tok1 HTTP/1.1\r\n\r\n");
	tap_str(r, "connect failed", "stopped: nothing listens");
	free(r);
	tap_ok(cs_acme_responder_start(&s, "nonsense", &err) == -EINVAL, "bad address", "%s", cs_err_msg(&err));
	cs_err_clear(&err);
}

static void test_hook(void)
{
	char dir[] = "/tmp/certsync-hook.XXXXXX";
	if (!mkdtemp(dir))
		return;
	char *hook = cs_xasprintf("%s/hook.sh", dir);
	char *log = cs_xasprintf("%s/log", dir);
	FILE *f = fopen(hook, "w");
	fprintf(f, "#!/bin/sh\n"
		   "echo \"$1|$2|$3|$CERTSYNC_DNS_ACTION|$CERTSYNC_DNS_NAME|$CERTSYNC_DNS_VALUE|$(pwd)\" >> log\n"
		   "[ \"$2\" = fail.test ] && { echo first line; echo 'no such zone' >&2; exit 4; }\n"
		   "exit 0\n");
	fclose(f);
	chmod(hook, 0755);
	struct cs_err err = CS_ERR_INIT;
	tap_int(cs_acme_dns_hook(hook, "present", "_acme-challenge.web.test", "VALUE-1", dir, &err), 0, "hook present");
	tap_int(cs_acme_dns_hook(hook, "cleanup", "_acme-challenge.web.test", "VALUE-1", dir, &err), 0, "hook cleanup");
	struct cs_buf b = CS_BUF_INIT;
	cs_file_read(&b, log, 0, &err);
	char *want = cs_xasprintf("present|_acme-challenge.web.test|VALUE-1|present|_acme-challenge.web.test|VALUE-1|%s\n"
				  "cleanup|_acme-challenge.web.test|VALUE-1|cleanup|_acme-challenge.web.test|VALUE-1|%s\n",
				  dir, dir);
	tap_str(b.data, want, "hook arguments, environment and folder");
	free(want);
	cs_buf_free(&b);
	tap_int(cs_acme_dns_hook(hook, "present", "fail.test", "v", dir, &err), -EIO, "failing hook");
	char *msg = cs_xasprintf("dns-01 hook %s present fail.test failed (exit 4): first line\nno such zone", hook);
	tap_str(err.msg, msg, "failing hook: exit status and output");
	free(msg);
	cs_err_clear(&err);
	char *missing = cs_xasprintf("%s/nope.sh", dir);
	tap_int(cs_acme_dns_hook(missing, "present", "a", "b", dir, &err), -ENOENT, "missing hook");
	free(missing);
	cs_err_clear(&err);
	char *rm = cs_xasprintf("rm -rf %s", dir);
	if (system(rm) != 0)
		tap_note("could not remove %s", dir);
	free(rm);
	free(hook);
	free(log);
}

int main(void)
{
	test_retry_after();
	test_tokens();
	test_responder();
	test_hook();
	return tap_done();
}
