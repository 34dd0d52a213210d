/* TEMPORARY stand-in from the wt-crypto branch so the CA issuer links and can
 * be tested; the config branch's secret.c replaces this file on merge. */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "util.h"

int cs_secret_resolve(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err)
{
	if (s->kind == CS_SECRET_ENV) {
		const char *v = getenv(s->ref);
		if (!v || !v[0])
			return cs_err_set(err, -ENOENT, "environment variable %s is not set", s->ref);
		int r = cs_buf_puts(out, v);
		return r < 0 ? cs_err_errno(err, r, "secret env %s", s->ref) : 0;
	}
	if (s->kind == CS_SECRET_FILE) {
		struct stat st;
		if (stat(s->ref, &st) < 0)
			return cs_err_errno(err, -errno, "secret file %s", s->ref);
		if (st.st_mode & 066)
			return cs_err_set(err, -EPERM, "secret file %s is readable by others", s->ref);
		return cs_file_read(out, s->ref, 1u << 20, err);
	}
	return cs_err_set(err, -EINVAL, "no secret given");
}

int cs_secret_resolve_line(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err)
{
	int r = cs_secret_resolve(s, out, err);
	while (r == 0 && out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
		out->data[--out->len] = '\0';
	return r;
}

const char *cs_secret_describe(const struct cs_secret *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s %s", s->kind == CS_SECRET_ENV ? "env" : "file", s->ref ? s->ref : "");
	return buf;
}
