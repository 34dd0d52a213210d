/* cs_err: building and chaining error messages (see err.h). */
#include "providers/base/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include "providers/base/util.h"

static void replace(struct cs_err *err, int code, char *msg)
{
	free(err->msg);
	err->msg = msg;
	err->code = code < 0 ? code : -EIO;
}

int cs_err_setv(struct cs_err *err, int code, const char *fmt, va_list ap)
{
	if (err)
		replace(err, code, cs_xvasprintf(fmt, ap));
	return code < 0 ? code : -EIO;
}

int cs_err_set(struct cs_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cs_err_setv(err, code, fmt, ap);
	va_end(ap);
	return r;
}

static int set_with_suffix(struct cs_err *err, int code, const char *suffix,
			   const char *fmt, va_list ap)
{
	if (!err)
		return code < 0 ? code : -EIO;
	char *head = cs_xvasprintf(fmt, ap);
	char *msg = cs_xasprintf("%s: %s", head, suffix);
	free(head);
	replace(err, code, msg);
	return err->code;
}

int cs_err_errno(struct cs_err *err, int code, const char *fmt, ...)
{
	char sbuf[256];
	const char *reason = strerror_r(-code, sbuf, sizeof sbuf);
	va_list ap;
	va_start(ap, fmt);
	int r = set_with_suffix(err, code, reason, fmt, ap);
	va_end(ap);
	return r;
}

int cs_err_ssl(struct cs_err *err, int code, const char *fmt, ...)
{
	char reason[512] = "unknown OpenSSL error";
	unsigned long e, last = 0;
	/* The last queued error is usually the most specific one. */
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last) {
		const char *r = ERR_reason_error_string(last);
		if (r)
			snprintf(reason, sizeof reason, "%s", r);
		else
			ERR_error_string_n(last, reason, sizeof reason);
	}
	va_list ap;
	va_start(ap, fmt);
	int r = set_with_suffix(err, code, reason, fmt, ap);
	va_end(ap);
	return r;
}

int cs_err_prefix(struct cs_err *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	va_list ap;
	va_start(ap, fmt);
	char *head = cs_xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = cs_xasprintf("%s: %s", head, err->msg ? err->msg : "unknown error");
	free(err->msg);
	err->msg = msg;
	free(head);
	if (!err->code)
		err->code = -EIO;
	return err->code;
}

void cs_err_clear(struct cs_err *err)
{
	if (!err)
		return;
	free(err->msg);
	err->msg = NULL;
	err->code = 0;
}

const char *cs_err_msg(const struct cs_err *err)
{
	return err && err->msg ? err->msg : "unknown error";
}
