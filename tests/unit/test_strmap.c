/* Tests for providers/base/strmap.c: put and get, the first value kept for a
 * duplicate key, growth past many keys, keys that differ only late or are
 * empty, and a map reused after free. */
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/strmap.h"

static void test_table(void)
{
	static const struct {
		const char *key;
		size_t value;
		bool want_new;
		size_t want_value; /* what get returns afterwards */
	} cases[] = {
		{ "web", 1, true, 1 },
		{ "api", 2, true, 2 },
		{ "web", 3, false, 1 },      /* the first one wins */
		{ "", 4, true, 4 },          /* the empty string is a key like any */
		{ "webx", 5, true, 5 },
		{ "we", 6, true, 6 },
	};
	struct cs_strmap m = CS_STRMAP_INIT;
	tap_ok(!cs_strmap_get(&m, "web", NULL), "empty map has nothing", " ");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t old = 99, got = 99;
		bool fresh = cs_strmap_put(&m, cases[i].key, cases[i].value, &old);
		char name[80];
		snprintf(name, sizeof name, "put \"%s\" %zu", cases[i].key, cases[i].value);
		tap_int(fresh, cases[i].want_new, name);
		if (!fresh)
			tap_int((long long)old, (long long)cases[i].want_value, "old value reported");
		tap_ok(cs_strmap_get(&m, cases[i].key, &got) && got == cases[i].want_value, name, "get gives %zu",
		       got);
	}
	tap_int((long long)m.n, 5, "five keys held");
	tap_ok(!cs_strmap_get(&m, "w", NULL), "absent key", " ");
	tap_ok(!cs_strmap_get(&m, NULL, NULL), "NULL key is absent", " ");
	cs_strmap_free(&m);
	tap_ok(!cs_strmap_get(&m, "web", NULL), "nothing after free", " ");
	tap_ok(cs_strmap_put(&m, "web", 7, NULL), "usable after free", " ");
	cs_strmap_free(&m);
	cs_strmap_free(NULL);
}

static void test_many(void)
{
	enum { N = 100000 };
	char **keys = calloc(N, sizeof *keys);
	struct cs_strmap m = CS_STRMAP_INIT;
	bool all = true;
	for (size_t i = 0; i < N; i++) {
		char k[32];
		snprintf(k, sizeof k, "cert-%zu", i);
		keys[i] = strdup(k);
		all = all && cs_strmap_put(&m, keys[i], i, NULL);
	}
	tap_ok(all, "100000 distinct keys all new", " ");
	size_t bad = 0;
	for (size_t i = 0; i < N; i++) {
		size_t v;
		char k[32];
		snprintf(k, sizeof k, "cert-%zu", i); /* another pointer, same text */
		if (!cs_strmap_get(&m, k, &v) || v != i)
			bad++;
	}
	tap_int((long long)bad, 0, "every key finds its value");
	tap_ok(!cs_strmap_get(&m, "cert-100000", NULL), "one past the end is absent", " ");
	tap_ok(m.n * 2 <= m.cap, "at most half full", "n %zu cap %zu", m.n, m.cap);
	cs_strmap_free(&m);
	for (size_t i = 0; i < N; i++)
		free(keys[i]);
	free(keys);
}

int main(void)
{
	test_table();
	test_many();
	return tap_done();
}
