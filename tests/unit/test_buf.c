/* Tests for reconcile/buf.c: appending, the size cap that guards everything
 * read from hosts and files, detaching, and wiping secrets. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/buf.h"

static void test_cap(void)
{
	static const struct {
		size_t max;
		const char *first, *second;
		int want;            /* result of appending second */
		const char *content; /* afterwards */
	} cases[] = {
		{ 0, "abc", "def", 0, "abcdef" },
		{ 6, "abc", "def", 0, "abcdef" },
		{ 5, "abc", "def", -E2BIG, "abc" },
		{ 3, "abc", "", 0, "abc" },
		{ 3, "abc", "d", -E2BIG, "abc" },
		{ 1, "", "ab", -E2BIG, "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_buf b;
		char name[80];
		cs_buf_init(&b, cases[i].max);
		cs_buf_puts(&b, cases[i].first);
		int r = cs_buf_append(&b, cases[i].second, strlen(cases[i].second));
		snprintf(name, sizeof name, "cap %zu: \"%s\" + \"%s\"", cases[i].max, cases[i].first,
			 cases[i].second);
		tap_int(r, cases[i].want, name);
		tap_str(b.data ? b.data : "", cases[i].content, "content after append");
		tap_int((long long)b.len, (long long)strlen(cases[i].content), "length after append");
		cs_buf_free(&b);
	}
}

static void test_printf(void)
{
	struct cs_buf b = CS_BUF_INIT;
	tap_int(cs_buf_printf(&b, "%s=%d", "n", 42), 0, "printf");
	tap_int(cs_buf_printf(&b, ", %05.1f", 3.14159), 0, "printf appends");
	tap_str(b.data, "n=42, 003.1", "printf content");
	/* Growing well past the first allocation keeps the content. */
	for (int i = 0; i < 1000; i++)
		cs_buf_printf(&b, "%d,", i % 10);
	tap_int((long long)b.len, 11 + 2000, "printf grows");
	tap_ok(b.data[b.len] == '\0', "always NUL-terminated", NULL);
	cs_buf_free(&b);

	struct cs_buf c;
	cs_buf_init(&c, 4);
	tap_int(cs_buf_printf(&c, "%s", "hello"), -E2BIG, "printf past the cap");
	tap_ok(c.len == 0, "nothing appended past the cap", NULL);
	cs_buf_free(&c);
}

static void test_binary_and_detach(void)
{
	struct cs_buf b = CS_BUF_INIT;
	tap_int(cs_buf_append(&b, "a\0b", 3), 0, "binary append");
	tap_ok(b.len == 3 && memcmp(b.data, "a\0b", 3) == 0 && b.data[3] == '\0', "binary kept, NUL after", NULL);
	size_t n = 0;
	char *p = cs_buf_detach(&b, &n);
	tap_ok(p && n == 3 && memcmp(p, "a\0b", 3) == 0, "detach hands over the bytes", NULL);
	tap_ok(b.data == NULL && b.len == 0 && b.cap == 0, "detach empties the buffer", NULL);
	free(p);

	p = cs_buf_detach(&b, &n);
	tap_ok(p && n == 0 && p[0] == '\0', "detach of an empty buffer is an empty string", NULL);
	free(p);

	cs_buf_puts(&b, "keep memory");
	size_t cap = b.cap;
	cs_buf_reset(&b);
	tap_ok(b.len == 0 && b.cap == cap && b.data && b.data[0] == '\0', "reset keeps memory", NULL);
	cs_buf_puts(&b, "x");
	tap_str(b.data, "x", "append after reset");
	cs_buf_free(&b);
	tap_ok(b.data == NULL && b.len == 0, "free resets", NULL);
	cs_buf_free(NULL);
	cs_buf_free_secret(NULL);

	cs_buf_puts(&b, "secret value");
	cs_buf_free_secret(&b);
	tap_ok(b.data == NULL && b.len == 0 && b.cap == 0, "free_secret resets", NULL);

	tap_int(cs_buf_append(&b, "", 0), 0, "empty append");
	tap_ok(b.data && b.data[0] == '\0', "empty append gives an empty string", NULL);
	cs_buf_free(&b);
}

static void test_append_fit(void)
{
	static const struct {
		size_t max;
		const char *first, *second;
		int want;            /* 1: something was dropped */
		const char *content; /* afterwards */
	} cases[] = {
		{ 0, "abc", "def", 0, "abcdef" },
		{ 6, "abc", "def", 0, "abcdef" },
		{ 5, "abc", "def", 1, "abcde" },
		{ 3, "abc", "d", 1, "abc" },
		{ 3, "abc", "", 0, "abc" },
		{ 2, "", "abc", 1, "ab" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_buf b;
		char name[80];
		cs_buf_init(&b, cases[i].max);
		cs_buf_puts(&b, cases[i].first);
		int r = cs_buf_append_fit(&b, cases[i].second, strlen(cases[i].second));
		snprintf(name, sizeof name, "append_fit cap %zu: \"%s\" + \"%s\"", cases[i].max,
			 cases[i].first, cases[i].second);
		tap_int(r, cases[i].want, name);
		tap_str(b.data ? b.data : "", cases[i].content, "content after append_fit");
		cs_buf_free(&b);
	}
}

int main(void)
{
	test_cap();
	test_printf();
	test_append_fit();
	test_binary_and_detach();
	return tap_done();
}
