/* base64 encoding and decoding (see base64.h).
 *
 * The bits are turned into characters and back by OpenSSL's
 * EVP_EncodeBlock and EVP_DecodeBlock.  They know only the padded standard
 * alphabet and accept more than certsync may (no alphabet or padding
 * checks of their own worth relying on, no url-safe alphabet), so this file
 * keeps what they cannot give: the url-safe alphabet (translated to and
 * from the standard one), optional padding, skipped white space and the
 * strict checks that make a bad character, misplaced padding or an
 * impossible length an error (-EINVAL). */
#include "providers/base/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "providers/base/util.h"

/* Bytes of input per EVP_EncodeBlock call (a multiple of 3), and the
 * characters per EVP_DecodeBlock call (a multiple of 4). */
#define ENC_CHUNK 768
#define DEC_CHUNK 1024

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
	unsigned char block[ENC_CHUNK / 3 * 4 + 1];
	size_t o = 0;
	for (size_t i = 0; i < len; i += ENC_CHUNK) {
		size_t n = len - i < ENC_CHUNK ? len - i : ENC_CHUNK;
		int k = EVP_EncodeBlock(block, p + i, (int)n);
		for (int j = 0; j < k; j++) {
			char c = (char)block[j];
			if (c == '=' && (flags & CS_B64_NOPAD))
				break; /* only the last block has padding */
			if (flags & CS_B64_URL)
				c = c == '+' ? '-' : c == '/' ? '_' : c;
			out[o++] = c;
		}
	}
	OPENSSL_cleanse(block, sizeof block);
}

char *cs_b64_encode(const void *data, size_t len, unsigned flags)
{
	if (len > SIZE_MAX / 4 * 3 - 3)
		cs_out_of_memory();
	size_t n = cs_b64_encoded_len(len, flags);
	char *out = cs_xmalloc(n + 1);
	encode(out, data, len, flags);
	out[n] = '\0';
	return out;
}

int cs_b64_append(struct cs_buf *out, const void *data, size_t len, unsigned flags)
{
	if (len > SIZE_MAX / 4 * 3 - 3)
		cs_out_of_memory();
	size_t n = cs_b64_encoded_len(len, flags);
	char *text = cs_xmalloc(n ? n : 1);
	encode(text, data, len, flags);
	int r = cs_buf_append(out, text, n);
	OPENSSL_cleanse(text, n);
	free(text);
	return r;
}

/* c as a character of the standard alphabet, or 0 when it is not one of
 * the alphabet flags say. */
static char standard_char(unsigned char c, unsigned flags)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return (char)c;
	if (c == (flags & CS_B64_URL ? '-' : '+'))
		return '+';
	if (c == (flags & CS_B64_URL ? '_' : '/'))
		return '/';
	return 0;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decode the n characters in text (whole groups of 4, standard alphabet,
 * a padded last group at most) and append the first keep bytes. */
static int decode_block(struct cs_buf *out, unsigned char *bytes, const char *text, size_t n, size_t keep)
{
	if (!n)
		return 0;
	int k = EVP_DecodeBlock(bytes, (const unsigned char *)text, (int)n);
	if (k < 0 || (size_t)k < keep)
		return -EINVAL;
	return cs_buf_append(out, bytes, keep);
}

int cs_b64_decode(struct cs_buf *out, const char *s, size_t len, unsigned flags)
{
	const size_t start = out->len;     /* what to go back to on an error */
	char text[DEC_CHUNK];              /* checked characters on their way to OpenSSL */
	unsigned char bytes[DEC_CHUNK / 4 * 3];
	size_t n = 0;                      /* characters in text */
	size_t chars = 0;                  /* characters of the alphabet seen */
	size_t pad = 0;                    /* '=' seen */
	int r = 0;

	for (size_t i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((flags & CS_B64_SPACE) && is_space(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		char v = standard_char(c, flags);
		if (!v || pad) { /* not base64, or data after padding */
			r = -EINVAL;
			break;
		}
		text[n++] = v;
		chars++;
		if (n == sizeof text) {
			r = decode_block(out, bytes, text, n, n / 4 * 3);
			n = 0;
		}
	}
	/* A last, short group: 2 characters carry one byte, 3 carry two; a
	 * single character can not stand alone.  Padding, unless optional,
	 * must fill the group up to 4. */
	size_t rest = chars % 4;
	if (r == 0 && (rest == 1 || (!(flags & CS_B64_NOPAD) && pad != (4 - rest) % 4)))
		r = -EINVAL;
	if (r == 0) {
		size_t keep = n / 4 * 3 + (rest ? rest - 1 : 0);
		while (n % 4)
			text[n++] = '=';
		r = decode_block(out, bytes, text, n, keep);
	}
	if (r < 0 && out->len > start) {
		OPENSSL_cleanse(out->data + start, out->len - start);
		out->len = start;
		out->data[start] = '\0';
	}
	OPENSSL_cleanse(text, sizeof text);
	OPENSSL_cleanse(bytes, sizeof bytes);
	return r;
}
