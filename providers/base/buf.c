/* cs_buf: growable byte buffer with an optional size cap (see buf.h). */
#include "providers/base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "providers/base/util.h"

void cs_buf_init(struct cs_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

static int reserve(struct cs_buf *b, size_t extra)
{
	if (b->max && b->len + extra > b->max)
		return -E2BIG;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1) {
		if (cap > SIZE_MAX / 2)
			cs_out_of_memory();
		cap *= 2;
	}
	b->data = cs_xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int cs_buf_append(struct cs_buf *b, const void *data, size_t len)
{
	int r = reserve(b, len);
	if (r < 0)
		return r;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int cs_buf_append_fit(struct cs_buf *b, const void *data, size_t len)
{
	size_t room = !b->max ? len : b->max > b->len ? b->max - b->len : 0;
	size_t n = len < room ? len : room;
	int r = n ? cs_buf_append(b, data, n) : 0;
	return r < 0 ? r : n < len;
}

int cs_buf_puts(struct cs_buf *b, const char *s)
{
	return cs_buf_append(b, s, strlen(s));
}

int cs_buf_printf(struct cs_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		cs_out_of_memory();
	int r = cs_buf_append(b, s, (size_t)n);
	free(s);
	return r;
}

void cs_buf_reset(struct cs_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *cs_buf_detach(struct cs_buf *b, size_t *out_len)
{
	if (!b->data)
		reserve(b, 0);
	b->data[b->len] = '\0';
	char *p = b->data;
	if (out_len)
		*out_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void cs_buf_free(struct cs_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void cs_buf_free_secret(struct cs_buf *b)
{
	if (!b)
		return;
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	cs_buf_free(b);
}
