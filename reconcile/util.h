/* Small helpers shared by the core: strings, paths, local files, hashes, time. */
#ifndef CS_UTIL_H
#define CS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "buf.h"
#include "err.h"

/* Allocation that never returns NULL: aborts with a message when memory is
 * exhausted.  Used for small bookkeeping allocations where there is nothing
 * sensible to roll back. */
void *cs_xmalloc(size_t n);
void *cs_xcalloc(size_t n, size_t size);
void *cs_xrealloc(void *p, size_t n);
char *cs_xstrdup(const char *s);      /* NULL in, NULL out */
char *cs_xasprintf(const char *fmt, ...) CS_PRINTF(1, 2);
char *cs_xvasprintf(const char *fmt, va_list ap) CS_PRINTF(1, 0);

/* true when s is one or more ASCII digits and nothing else. */
bool cs_only_digits(const char *s);

/* Path helpers.  cs_path_join returns base/rel, or rel when rel is absolute. */
char *cs_path_join(const char *base, const char *rel);
char *cs_path_dirname(const char *path);   /* "." when no slash */
const char *cs_path_basename(const char *path);
/* Expand a leading "~/" with $HOME. */
char *cs_path_expand_home(const char *path);

/* Read a whole local file into out (capped at max bytes, 0 = 64 MiB).
 * -ENOENT when it does not exist. */
int cs_file_read(struct cs_buf *out, const char *path, size_t max, struct cs_err *err);

/* Write a local file atomically: temporary file in the same folder, fchmod to
 * mode, optional fchown (uid/gid -1 = leave), fsync, rename, fsync the folder.
 * Never leaves a partial file at path.  The temporary file is named
 * ".BASENAME.certsync-TAG-XXXXXX" (cs_temp_tag()), so that the next apply can
 * remove exactly what a killed run left behind. */
int cs_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid, struct cs_err *err);

/* The run tag every temporary file certsync creates carries in its name
 * (16 lowercase hex digits; "0000000000000000" until set).  Set once, by the
 * apply that holds the state folder's lock, before any thread starts. */
const char *cs_temp_tag(void);
void cs_temp_tag_set(const char *tag);
/* A new random tag (17 bytes with the NUL). */
void cs_temp_tag_new(char out[17]);

/* write() all of data, retrying on EINTR and short writes; -errno on failure. */
int cs_fd_write_all(int fd, const void *data, size_t len);

/* mkdir -p with mode for the folders it creates. */
int cs_mkdir_p(const char *path, mode_t mode, struct cs_err *err);

/* SHA-256 / SHA-1 of data as uppercase hex (65 / 41 bytes incl. NUL). */
void cs_sha256_hex(char out[65], const void *data, size_t len);
void cs_sha1_hex(char out[41], const void *data, size_t len);

/* Time.  cs_now() honours CERTSYNC_NOW (unix seconds or RFC 3339 UTC) so
 * tests can pin the clock; otherwise time(NULL). */
int64_t cs_now(void);
/* False when CERTSYNC_NOW is set to something cs_now() can not read (it
 * would silently fall back to the real clock). */
bool cs_now_pin_valid(void);
/* Format unix time as RFC 3339 UTC "2026-11-27T05:04:20Z" into out[21]. */
void cs_time_rfc3339(char out[21], int64_t t);
/* Format as date only "2026-11-27" into out[11]. */
void cs_time_date(char out[11], int64_t t);
/* Parse RFC 3339 UTC ("...Z" or "+00:00"); -EINVAL on anything else. */
int cs_time_parse(int64_t *out, const char *s);

/* String list helpers (NULL-terminated arrays are not used: lists carry n). */
void cs_strv_free(char **v, size_t n);
bool cs_streq(const char *a, const char *b); /* NULL-safe */

/* Quote a string for POSIX sh: wraps in single quotes, escapes ' as '\''. */
char *cs_sh_quote(const char *s);

#endif
