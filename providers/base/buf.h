/* cs_buf: the one growable byte buffer.
 *
 * Ownership: the buffer owns data; cs_buf_detach() is the only way to take the
 * memory.  data is always NUL-terminated when non-NULL, so text can be used as
 * a C string (binary data may contain NULs; use len).  A non-zero max caps the
 * size: anything read from a remote host or file of unknown size goes through a
 * capped buffer, and appending past the cap fails with -E2BIG.
 *
 * Out of memory aborts (cs_out_of_memory, util.h): -E2BIG is the only error
 * these functions return, and only for a buffer with a cap. */
#ifndef CS_BUF_H
#define CS_BUF_H

#include <stddef.h>
#include "providers/base/err.h"

struct cs_buf {
	char *data;  /* NULL until something is appended */
	size_t len;  /* bytes used, not counting the terminating NUL */
	size_t cap;  /* bytes allocated */
	size_t max;  /* 0: unlimited; else the largest len allowed */
};

#define CS_BUF_INIT { NULL, 0, 0, 0 }

void cs_buf_init(struct cs_buf *b, size_t max);
int cs_buf_append(struct cs_buf *b, const void *data, size_t len); /* -E2BIG */
/* Append as much of data as fits under the cap and drop the rest: for a
 * command's output, where a chatty command must neither block nor fail.
 * 1 when something was dropped, 0 when all of it fit. */
int cs_buf_append_fit(struct cs_buf *b, const void *data, size_t len);
int cs_buf_puts(struct cs_buf *b, const char *s);
int cs_buf_printf(struct cs_buf *b, const char *fmt, ...) CS_PRINTF(2, 3);
void cs_buf_reset(struct cs_buf *b);          /* len = 0, memory kept */
char *cs_buf_detach(struct cs_buf *b, size_t *out_len); /* caller frees; never NULL (an empty buffer gives "") */
void cs_buf_free(struct cs_buf *b);           /* accepts NULL; wipes nothing */
void cs_buf_free_secret(struct cs_buf *b);    /* zeroes the bytes first: for keys and secrets */

#endif
