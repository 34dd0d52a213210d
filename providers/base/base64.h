/* base64 (RFC 4648): the one encoder and decoder certsync has, on OpenSSL's
 * EVP_EncodeBlock and EVP_DecodeBlock.
 *
 * Its users want slightly different things, said with flags:
 *
 *   - ACME/JOSE (jws.c, ari.c): the url-safe alphabet, no padding (RFC 7515
 *     §2); decoding tolerates padding.          CS_B64_URL | CS_B64_NOPAD
 *   - known_hosts and SSH key fingerprints: the standard alphabet; hashed
 *     entries and fingerprints come with or without padding. CS_B64_NOPAD
 *   - `base64` output from a Linux host (linux_batch.c): strict, padded,
 *     nothing else on the line.                                      0
 *   - PowerShell and WS-Man streams, PEM-like key files: padded, with line
 *     breaks or spaces between the characters.              CS_B64_SPACE
 *
 * Decoding never rejects the unused low bits of the last character (RFC
 * 4648 §3.5 allows either); none of the decoders this one replaced did. */
#ifndef CS_BASE64_H
#define CS_BASE64_H

#include <stddef.h>
#include "providers/base/buf.h"

enum {
	/* RFC 4648 §5: '-' and '_' instead of '+' and '/'. */
	CS_B64_URL = 1 << 0,
	/* Encoding writes no '=' padding.  Decoding accepts text with or
	 * without it: trailing '=' are dropped, whatever their number, and
	 * what is left must be a possible length. */
	CS_B64_NOPAD = 1 << 1,
	/* Decoding skips spaces, tabs, CR and LF anywhere in the text. */
	CS_B64_SPACE = 1 << 2,
};

/* Encoded length of len bytes, not counting a NUL. */
size_t cs_b64_encoded_len(size_t len, unsigned flags);

/* The encoding as a C string; the caller frees it.  Never NULL (aborts
 * when out of memory, like cs_xmalloc). */
char *cs_b64_encode(const void *data, size_t len, unsigned flags);

/* Append the encoding to out: -E2BIG past out's cap.  The
 * data may be a secret: no copy of it is left behind but in out. */
int cs_b64_append(struct cs_buf *out, const void *data, size_t len, unsigned flags);

/* Decode len characters of s and append the bytes to out.  -EINVAL when
 * the text is not base64 as flags say (a character outside the alphabet,
 * padding in the middle or missing, an impossible length), -E2BIG past
 * out's cap.  On any error out is left as it was.  The bytes may
 * be a secret: no copy of them is left behind but in out. */
int cs_b64_decode(struct cs_buf *out, const char *s, size_t len, unsigned flags);

#endif
