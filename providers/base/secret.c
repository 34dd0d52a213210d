/* Secret references: reading the value of {env: NAME} or {file: PATH} when it
 * is needed (see secret.h).  Messages name the variable or the file and never
 * contain a byte of the value. */
#include "providers/base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "providers/base/util.h"

/* Larger than any key or password anyone would keep in a file; a cap so that
 * a mistaken reference to a big file fails clearly. */
#define SECRET_MAX (1u << 20)

static int resolve_env(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err)
{
	const char *v = getenv(s->ref);
	if (!v)
		return cs_err_set(err, -ENOENT, "environment variable %s is not set", s->ref);
	if (!v[0])
		return cs_err_set(err, -ENOENT, "environment variable %s is empty", s->ref);
	int r = cs_buf_puts(out, v);
	if (r < 0)
		return cs_err_errno(err, r, "read environment variable %s", s->ref);
	return 0;
}

static int resolve_file(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err)
{
	char *data = NULL;
	size_t len = 0, cap = 0;
	int r = 0;
	/* O_NONBLOCK so that a FIFO is refused below instead of waited on. */
	int fd = open(s->ref, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = cs_err_errno(err, -errno, "read secret file %s", s->ref);
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = cs_err_errno(err, -errno, "read secret file %s", s->ref);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = cs_err_set(err, -EINVAL, "secret file %s is not a regular file (it is %s)", s->ref,
			       cs_file_type_name(st.st_mode));
		goto out;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = cs_err_errno(err, -errno, "read secret file %s", s->ref);
		goto out;
	}
	/* Checked on the opened file, not the path, so a swap between the check
	 * and the read cannot slip a readable file in. */
	if (st.st_mode & 077) {
		r = cs_err_set(err, -EPERM, "secret file %s is readable by others (mode %04o; run chmod 600 %s)",
			       s->ref, (unsigned)(st.st_mode & 07777), s->ref);
		goto out;
	}
	if ((uint64_t)st.st_size > SECRET_MAX) {
		r = cs_err_set(err, -E2BIG, "secret file %s is larger than %u bytes", s->ref, SECRET_MAX);
		goto out;
	}
	/* One buffer sized from fstat (plus room to notice growth), wiped
	 * before it is freed: growing by realloc would leave copies behind. */
	cap = (size_t)st.st_size + 1;
	data = cs_xmalloc(cap);
	for (;;) {
		if (len == cap) {
			r = cs_err_set(err, -EAGAIN, "secret file %s changed while it was read", s->ref);
			goto out;
		}
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = cs_err_errno(err, -errno, "read secret file %s", s->ref);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0) {
		r = cs_err_set(err, -ENOENT, "secret file %s is empty", s->ref);
		goto out;
	}
	r = cs_buf_append(out, data, len);
	if (r < 0)
		r = cs_err_errno(err, r, "read secret file %s", s->ref);
out:
	if (data) {
		OPENSSL_cleanse(data, cap);
		free(data);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

int cs_secret_resolve(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err)
{
	switch (s ? s->kind : CS_SECRET_NONE) {
	case CS_SECRET_ENV:
		return resolve_env(s, out, err);
	case CS_SECRET_FILE:
		return resolve_file(s, out, err);
	case CS_SECRET_NONE:
		break;
	}
	return cs_err_set(err, -ENOENT, "no secret is configured");
}

int cs_secret_resolve_line(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err)
{
	size_t start = out->len;
	int r = cs_secret_resolve(s, out, err);
	if (r < 0)
		return r;
	/* Editors end files with a newline; a password never contains one. */
	size_t len = out->len;
	if (len > start && out->data[len - 1] == '\n')
		len--;
	if (len > start && out->data[len - 1] == '\r')
		len--;
	if (memchr(out->data + start, '\n', len - start) || len == start) {
		OPENSSL_cleanse(out->data + start, out->len - start);
		out->len = start;
		out->data[start] = '\0';
		char what[512];
		cs_secret_describe(s, what, sizeof what);
		if (len == start)
			return cs_err_set(err, -ENOENT, "secret %s is empty", what);
		return cs_err_set(err, -EINVAL, "secret %s has more than one line", what);
	}
	OPENSSL_cleanse(out->data + len, out->len - len);
	out->len = len;
	out->data[len] = '\0';
	return 0;
}

const char *cs_secret_describe(const struct cs_secret *s, char *buf, size_t size)
{
	if (!size)
		return buf;
	if (!s || s->kind == CS_SECRET_NONE || !s->ref)
		snprintf(buf, size, "none");
	else
		snprintf(buf, size, "%s %s", s->kind == CS_SECRET_ENV ? "env" : "file", s->ref);
	return buf;
}
