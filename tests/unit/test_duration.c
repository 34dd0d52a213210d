/* Durations: every accepted spelling with its value, every refused one with
 * its exact reason, and the formatter (shortest exact form, round trips). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "providers/base/duration.h"
#include "tests/unit/tap.h"

struct parse_case {
	const char *in;
	int64_t want;        /* when why is NULL */
	const char *why;     /* expected reason, or NULL when it must parse */
};

static const struct parse_case parse_cases[] = {
	{ "45s", 45, NULL },
	{ "90m", 5400, NULL },
	{ "12h", 43200, NULL },
	{ "30d", 2592000, NULL },
	{ "2w", 1209600, NULL },
	{ "1d12h", 129600, NULL },
	{ "1h30m", 5400, NULL },
	{ "1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5, NULL },
	{ "0s", 0, NULL },
	{ "007m", 420, NULL },
	{ "15250284452471w", 15250284452471LL * 604800, NULL },
	{ "", 0, "empty duration" },
	{ "30", 0, "number without a unit (add s, m, h, d or w)" },
	{ "1d12", 0, "number without a unit (add s, m, h, d or w)" },
	{ "-3d", 0, "a duration has no sign" },
	{ "+3d", 0, "a duration has no sign" },
	{ "1.5h", 0, "a duration has no fractions (use a smaller unit: 90m, not 1.5h)" },
	{ "1,5h", 0, "a duration has no fractions (use a smaller unit: 90m, not 1.5h)" },
	{ "30D", 0, "units are lowercase (s, m, h, d, w)" },
	{ "30x", 0, "unknown unit (use s, m, h, d or w)" },
	{ "30days", 0, "units are one letter, each after its number (write 30d or 1d12h)" },
	{ "d", 0, "a unit needs a number before it (write 30d)" },
	{ "1dh", 0, "units are one letter, each after its number (write 30d or 1d12h)" },
	{ "1d_2h", 0, "unexpected character (write 30d or 1d12h)" },
	{ "#3d", 0, "a duration starts with a number (write 30d)" },
	{ "1d 12h", 0, "a duration has no spaces (write 1d12h)" },
	{ " 30d", 0, "a duration has no spaces (write 1d12h)" },
	{ "12h1d", 0, "units must go from largest to smallest, each once (write 1d12h)" },
	{ "1d1d", 0, "units must go from largest to smallest, each once (write 1d12h)" },
	{ "99999999999999999999s", 0, "duration is too large" },
	{ "15250284452472w", 0, "duration is too large" },
	{ "15250284452471w4d", 0, "duration is too large" },
};

struct format_case {
	int64_t in;
	const char *want;
};

static const struct format_case format_cases[] = {
	{ 2592000, "30d" },
	{ 5400, "90m" },
	{ 129600, "1d12h" },
	{ 0, "0s" },
	{ 45, "45s" },
	{ 3600, "1h" },
	{ 1209600, "2w" },
	{ 604800 + 86400, "8d" },
	{ 3661, "61m1s" },
	{ 86401, "1d1s" },
	{ 90000, "1d1h" },
	{ 7 * 86400 * 3, "3w" },
	{ -86400, "-1d" },
};

int main(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		const struct parse_case *tc = &parse_cases[i];
		int64_t got = -1;
		const char *why = NULL;
		int r = cs_duration_parse(&got, tc->in, &why);
		char name[128];
		snprintf(name, sizeof name, "parse \"%s\"", tc->in);
		if (!tc->why)
			tap_ok(r == 0 && got == tc->want, name, "r=%d got %lld want %lld (%s)", r, (long long)got,
			       (long long)tc->want, why ? why : "");
		else
			tap_ok(r == -EINVAL && why && strcmp(why, tc->why) == 0, name, "r=%d why \"%s\" want \"%s\"", r,
			       why ? why : "(null)", tc->why);
	}

	for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
		char buf[64], name[64];
		cs_duration_format(buf, sizeof buf, format_cases[i].in);
		snprintf(name, sizeof name, "format %lld", (long long)format_cases[i].in);
		tap_str(buf, format_cases[i].want, name);
	}

	/* Round trips over a spread of values: whatever the formatter writes,
	 * the parser must read back exactly. */
	int bad = 0;
	int64_t first_bad = 0;
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t v = (int64_t)(x % (i < 10000 ? 10000000ULL : 100000000000ULL));
		char buf[64];
		cs_duration_format(buf, sizeof buf, v);
		int64_t back = -1;
		if (cs_duration_parse(&back, buf, NULL) != 0 || back != v) {
			if (!bad)
				first_bad = v;
			bad++;
		}
	}
	tap_ok(bad == 0, "format then parse gives the value back (20000 values)", "%d failures, first %lld", bad,
	       (long long)first_bad);

	/* The formatter never writes something longer than the plain seconds. */
	int longer = 0;
	for (int64_t v = 1; v < 200000; v += 37) {
		char buf[64], secs[64];
		cs_duration_format(buf, sizeof buf, v);
		snprintf(secs, sizeof secs, "%llds", (long long)v);
		if (v < 86400 && strlen(buf) > strlen(secs))
			longer++;
	}
	tap_ok(longer == 0, "below a day the form is never longer than seconds", "%d values", longer);

	char small[4];
	cs_duration_format(small, sizeof small, 129600);
	tap_str(small, "1d1", "format truncates into a small buffer");
	return tap_done();
}
