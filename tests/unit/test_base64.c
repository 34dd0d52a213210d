/* Tests for reconcile/base64.c: RFC 4648's own test vectors (§10) in both
 * alphabets, with and without padding; what each mode refuses; white space;
 * the output buffer on errors and at its cap; inputs longer than the
 * decoder's internal chunk. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/base64.h"

/* Decode with flags; the bytes as a string (NULL on an error). */
static char *decoded(const char *text, unsigned flags, int *r)
{
	struct cs_buf b = CS_BUF_INIT;
	*r = cs_b64_decode(&b, text, strlen(text), flags);
	char *s = *r == 0 ? strdup(b.data ? b.data : "") : NULL;
	cs_buf_free(&b);
	return s;
}

static void test_rfc4648_vectors(void)
{
	/* RFC 4648 §10 */
	static const struct { const char *in, *padded, *unpadded; } cases[] = {
		{ "", "", "" },
		{ "f", "Zg==", "Zg" },
		{ "fo", "Zm8=", "Zm8" },
		{ "foo", "Zm9v", "Zm9v" },
		{ "foob", "Zm9vYg==", "Zm9vYg" },
		{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *in = cases[i].in;
		char name[80];
		for (unsigned url = 0; url <= CS_B64_URL; url += CS_B64_URL) {
			snprintf(name, sizeof name, "encode \"%s\"%s", in, url ? " (url)" : "");
			char *s = cs_b64_encode(in, strlen(in), url);
			tap_str(s, cases[i].padded, name);
			free(s);
			s = cs_b64_encode(in, strlen(in), url | CS_B64_NOPAD);
			tap_str(s, cases[i].unpadded, "  without padding");
			free(s);
			tap_int((long long)cs_b64_encoded_len(strlen(in), url), (long long)strlen(cases[i].padded),
				"  encoded length");
			tap_int((long long)cs_b64_encoded_len(strlen(in), url | CS_B64_NOPAD),
				(long long)strlen(cases[i].unpadded), "  encoded length without padding");

			int r;
			snprintf(name, sizeof name, "decode \"%s\"%s", cases[i].padded, url ? " (url)" : "");
			s = decoded(cases[i].padded, url, &r);
			tap_str(s, in, name);
			free(s);
			/* NOPAD takes both forms. */
			s = decoded(cases[i].padded, url | CS_B64_NOPAD, &r);
			tap_str(s, in, "  padded, padding optional");
			free(s);
			s = decoded(cases[i].unpadded, url | CS_B64_NOPAD, &r);
			tap_str(s, in, "  unpadded, padding optional");
			free(s);
		}
	}
}

/* 0xfb 0xff 0xbf uses the two letters the alphabets differ in. */
static void test_alphabets(void)
{
	static const char bytes[] = "\xfb\xff\xbf";
	char *s = cs_b64_encode(bytes, 3, 0);
	tap_str(s, "+/+/", "standard alphabet: + and /");
	free(s);
	s = cs_b64_encode(bytes, 3, CS_B64_URL);
	tap_str(s, "-_-_", "url-safe alphabet: - and _");
	free(s);

	int r;
	s = decoded("+/+/", 0, &r);
	tap_str(s, bytes, "standard decodes + and /");
	free(s);
	s = decoded("-_-_", CS_B64_URL, &r);
	tap_str(s, bytes, "url-safe decodes - and _");
	free(s);
	s = decoded("-_-_", 0, &r);
	tap_int(r, -EINVAL, "standard refuses - and _");
	free(s);
	s = decoded("+/+/", CS_B64_URL, &r);
	tap_int(r, -EINVAL, "url-safe refuses + and /");
	free(s);
}

static void test_invalid(void)
{
	static const struct { const char *text; unsigned flags; int want; const char *name; } cases[] = {
		/* strict (padding required) */
		{ "Zg", 0, -EINVAL, "padding missing" },
		{ "Zm8", 0, -EINVAL, "padding missing (one)" },
		{ "Zg=", 0, -EINVAL, "padding short" },
		{ "Zg===", 0, -EINVAL, "padding too long" },
		{ "Zm9v====", 0, -EINVAL, "padding after a full group" },
		{ "Z===", 0, -EINVAL, "one character and padding" },
		{ "Zg==Zg==", 0, -EINVAL, "data after padding" },
		{ "Zg=g", 0, -EINVAL, "padding inside a group" },
		{ "=Zg=", 0, -EINVAL, "padding first" },
		{ "Zm9v\n", 0, -EINVAL, "a line end without CS_B64_SPACE" },
		{ "Zm 9v", 0, -EINVAL, "a space without CS_B64_SPACE" },
		{ "Zm9*", 0, -EINVAL, "a character outside the alphabet" },
		{ "Zm9v\xc3\xa9", 0, -EINVAL, "non-ASCII" },
		/* padding optional */
		{ "Z", CS_B64_NOPAD, -EINVAL, "one character (optional padding)" },
		{ "Zm9vY", CS_B64_NOPAD, -EINVAL, "one character after a group (optional padding)" },
		{ "Zg=g", CS_B64_NOPAD, -EINVAL, "padding inside (optional padding)" },
		{ "Zg==Zg", CS_B64_NOPAD, -EINVAL, "data after padding (optional padding)" },
		{ "ab+c", CS_B64_URL | CS_B64_NOPAD, -EINVAL, "+ in url-safe" },
		{ "a b", CS_B64_URL | CS_B64_NOPAD, -EINVAL, "a space (url, optional padding)" },
		/* white space allowed */
		{ "Zg", CS_B64_SPACE, -EINVAL, "padding missing (white space allowed)" },
		{ "Zg==\nZg==", CS_B64_SPACE, -EINVAL, "two padded blocks (white space allowed)" },
		{ "Zm9v\v", CS_B64_SPACE, -EINVAL, "vertical tab is not white space here" },
		{ "Zm9v-", CS_B64_SPACE, -EINVAL, "'-' (OpenSSL's PEM end marker) is no end" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r;
		char *s = decoded(cases[i].text, cases[i].flags, &r);
		tap_int(r, cases[i].want, cases[i].name);
		free(s);
	}
}

static void test_space(void)
{
	int r;
	char *s = decoded(" Zm9v\r\nYmFy\n\tZm8=\r\n", CS_B64_SPACE, &r);
	tap_str(s, "foobarfo", "white space skipped (line breaks, tabs, spaces)");
	free(s);
	s = decoded("Zm8\n=", CS_B64_SPACE, &r);
	tap_str(s, "fo", "white space between data and padding");
	free(s);
	s = decoded("\r\n", CS_B64_SPACE, &r);
	tap_str(s, "", "only white space: nothing");
	free(s);
}

/* On an error out keeps what it had; at its cap the append fails. */
static void test_out_buffer(void)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_puts(&b, "keep");
	tap_int(cs_b64_decode(&b, "Zm9vYmFyZm9v*", 13, 0), -EINVAL, "bad character after good groups");
	tap_str(b.data, "keep", "out as it was after the error");
	tap_int((long long)b.len, 4, "out's length as it was");
	tap_int(cs_b64_decode(&b, "Zm9v", 4, 0), 0, "decode appends");
	tap_str(b.data, "keepfoo", "appended to what was there");
	cs_buf_free(&b);

	struct cs_buf capped;
	cs_buf_init(&capped, 5);
	tap_int(cs_b64_decode(&capped, "Zm9vYmFy", 8, 0), -E2BIG, "decode past the cap");
	tap_ok(capped.len == 0, "nothing kept past the cap", "len %zu", capped.len);
	tap_int(cs_b64_append(&capped, "foo", 3, 0), 0, "append under the cap");
	tap_int(cs_b64_append(&capped, "foo", 3, 0), -E2BIG, "append past the cap");
	tap_str(capped.data, "Zm9v", "append keeps what fitted");
	cs_buf_free(&capped);
}

/* Longer than the decoder's 768-byte chunk, every length of a last group. */
static void test_long(void)
{
	for (size_t n = 760; n < 2320; n += 259) {
		unsigned char *data = malloc(n);
		for (size_t i = 0; i < n; i++)
			data[i] = (unsigned char)(i * 7 + n);
		for (unsigned flags = 0; flags <= (CS_B64_URL | CS_B64_NOPAD); flags++) {
			struct cs_buf text = CS_BUF_INIT, back = CS_BUF_INIT;
			int r1 = cs_b64_append(&text, data, n, flags);
			int r2 = cs_b64_decode(&back, text.data, text.len, flags);
			tap_ok(r1 == 0 && r2 == 0 && back.len == n && memcmp(back.data, data, n) == 0,
			       "long round trip", "%zu bytes, flags %u: %d %d, %zu back", n, flags, r1, r2,
			       back.len);
			cs_buf_free(&text);
			cs_buf_free(&back);
		}
		free(data);
	}
}

int main(void)
{
	test_rfc4648_vectors();
	test_alphabets();
	test_invalid();
	test_space();
	test_out_buffer();
	test_long();
	return tap_done();
}
