/* cs_err: the error object every fallible function fills in.
 *
 * Functions return 0 on success or a negative errno-style code, and put the
 * human message into a struct cs_err owned by the caller.  Callers add context
 * on the way up with cs_err_prefix(), so the final message reads
 * "apply mail → web1: bind files: write /etc/x: Permission denied".
 * Library code never prints; cmd/ renders err->msg. */
#ifndef CS_ERR_H
#define CS_ERR_H

#include <stdarg.h>

struct cs_err {
	int code;  /* negative errno-style code, 0 when no error */
	char *msg; /* heap string, NULL when no error; owned by the struct */
};

#define CS_ERR_INIT { 0, NULL }

#if defined(__GNUC__)
#define CS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CS_PRINTF(a, b)
#endif

/* Replace the error with a formatted message; returns code (negative) so it
 * can be used as `return cs_err_set(err, -EINVAL, "bad %s", x);`.
 * err may be NULL (the message is then dropped). */
int cs_err_set(struct cs_err *err, int code, const char *fmt, ...) CS_PRINTF(3, 4);
int cs_err_setv(struct cs_err *err, int code, const char *fmt, va_list ap);

/* Like cs_err_set() with ": <strerror(-code)>" appended. */
int cs_err_errno(struct cs_err *err, int code, const char *fmt, ...) CS_PRINTF(3, 4);

/* Like cs_err_set() with ": <reason from the OpenSSL error queue>" appended;
 * the queue is cleared.  code is usually -EIO or -EINVAL. */
int cs_err_ssl(struct cs_err *err, int code, const char *fmt, ...) CS_PRINTF(3, 4);

/* Prepend context: "context: previous message".  Returns err->code. */
int cs_err_prefix(struct cs_err *err, const char *fmt, ...) CS_PRINTF(2, 3);

/* Free the message and reset to no error.  Accepts NULL. */
void cs_err_clear(struct cs_err *err);

/* The message, or "unknown error" when none was set. */
const char *cs_err_msg(const struct cs_err *err);

#endif
