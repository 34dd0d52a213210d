/* base64 encoding and decoding (see base64.h). */
#include "providers/base/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "providers/base/util.h"

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t cs_b64_encoded_len(size_t len, unsigned flags)
{
	size_t rest = len % 3;
	if (flags & CS_B64_NOPAD)
		return len / 3 * 4 + (rest ? rest + 1 : 0); /* 1 byte: 2 chars, 2 bytes: 3 */
	return len / 3 * 4 + (rest ? 4 : 0);
}

/* Write the cs_b64_encoded_len() characters for data to out (no NUL). */
static void encode(char *out, const unsigned char *p, size_t len, unsigned flags)
{
	const char *a = flags & CS_B64_URL ? url_alphabet : std_alphabet;
	size_t o = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	size_t rest = len - i; /* 0, 1 or 2 bytes in a last, short group */
	if (rest == 0)
		return;
	uint32_t v = (uint32_t)p[i] << 16 | (rest == 2 ? (uint32_t)p[i + 1] << 8 : 0);
	out[o++] = a[v >> 18 & 63];
	out[o++] = a[v >> 12 & 63];
	if (rest == 2)
		out[o++] = a[v >> 6 & 63];
	if (!(flags & CS_B64_NOPAD)) {
		out[o++] = '=';
		if (rest == 1)
			out[o++] = '=';
	}
}

char *cs_b64_encode(const void *data, size_t len, unsigned flags)
{
	size_t n = cs_b64_encoded_len(len, flags);
	char *out = cs_xmalloc(n + 1);
	encode(out, data, len, flags);
	out[n] = '\0';
	return out;
}

int cs_b64_append(struct cs_buf *out, const void *data, size_t len, unsigned flags)
{
	if (len > SIZE_MAX / 4 * 3 - 3)
		return -ENOMEM;
	size_t n = cs_b64_encoded_len(len, flags);
	char *text = malloc(n ? n : 1);
	if (!text)
		return -ENOMEM;
	encode(text, data, len, flags);
	int r = cs_buf_append(out, text, n);
	OPENSSL_cleanse(text, n);
	free(text);
	return r;
}

static int value_of(unsigned char c, unsigned flags)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (flags & CS_B64_URL ? '-' : '+'))
		return 62;
	if (c == (flags & CS_B64_URL ? '_' : '/'))
		return 63;
	return -1;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int cs_b64_decode(struct cs_buf *out, const char *s, size_t len, unsigned flags)
{
	const size_t start = out->len;  /* what to go back to on an error */
	unsigned char chunk[768];       /* decoded bytes on their way to out (a multiple of 3) */
	size_t n = 0;                   /* bytes in chunk */
	size_t chars = 0;               /* characters of the alphabet seen */
	size_t pad = 0;                 /* '=' seen */
	uint32_t acc = 0;               /* the bits of the group being read */
	int r = 0;

	for (size_t i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((flags & CS_B64_SPACE) && is_space(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = value_of(c, flags);
		if (v < 0 || pad) { /* not base64, or data after padding */
			r = -EINVAL;
			break;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++chars % 4 == 0) {
			chunk[n++] = (unsigned char)(acc >> 16);
			chunk[n++] = (unsigned char)(acc >> 8);
			chunk[n++] = (unsigned char)acc;
			if (n == sizeof chunk) {
				r = cs_buf_append(out, chunk, n);
				n = 0;
			}
		}
	}
	/* A last, short group: 2 characters carry one byte, 3 carry two; a
	 * single character can not stand alone.  Padding, unless optional,
	 * must fill the group up to 4. */
	size_t rest = chars % 4;
	if (r == 0 && (rest == 1 || (!(flags & CS_B64_NOPAD) && pad != (4 - rest) % 4)))
		r = -EINVAL;
	if (r == 0 && rest == 2) {
		chunk[n++] = (unsigned char)(acc >> 4);
	} else if (r == 0 && rest == 3) {
		chunk[n++] = (unsigned char)(acc >> 10);
		chunk[n++] = (unsigned char)(acc >> 2);
	}
	if (r == 0 && n)
		r = cs_buf_append(out, chunk, n);
	if (r < 0 && out->len > start) {
		OPENSSL_cleanse(out->data + start, out->len - start);
		out->len = start;
		out->data[start] = '\0';
	}
	OPENSSL_cleanse(chunk, sizeof chunk);
	OPENSSL_cleanse(&acc, sizeof acc);
	return r;
}
