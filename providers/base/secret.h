/* Secret references: {env: NAME} or {file: PATH}.
 *
 * The config holds only the reference.  The value is read when it is needed,
 * into a buffer the caller wipes with cs_buf_free_secret(), and no message
 * ever contains it: errors name the variable or the file, never the content. */
#ifndef CS_SECRET_H
#define CS_SECRET_H

#include "providers/base/buf.h"
#include "providers/base/err.h"

enum cs_secret_kind { CS_SECRET_NONE = 0, CS_SECRET_ENV, CS_SECRET_FILE };

struct cs_secret {
	enum cs_secret_kind kind;
	char *ref;   /* the variable name, or the absolute file path */
};

/* Read the secret's value into out.  A file secret must not be readable or
 * writable by group/other (-EPERM, "secret file X is readable by others").
 * An unset or empty variable is -ENOENT.  A trailing newline of a file
 * secret is kept (PEM keys) — callers that want a one-line password use
 * cs_secret_resolve_line(). */
int cs_secret_resolve(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err);
int cs_secret_resolve_line(const struct cs_secret *s, struct cs_buf *out, struct cs_err *err);

/* "env SAPPHIRE_PASSWORD" / "file /path" — safe to print. */
const char *cs_secret_describe(const struct cs_secret *s, char *buf, size_t size);

#endif
