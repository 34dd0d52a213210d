/* Durations as written in the config ("30d", "1d12h") and back (see
 * duration.h).  The parser is strict on purpose: a duration decides when a
 * certificate is renewed, so "1.5d", "-3d" or a bare "30" are refused with a
 * reason instead of being guessed at. */
#include "providers/base/duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct unit {
	char c;
	int64_t seconds;
};

/* Largest first: the parser requires units in this order, each at most once,
 * so that "1d12h" has exactly one spelling per meaning. */
static const struct unit units[] = {
	{ 'w', 604800 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};
#define N_UNITS (sizeof units / sizeof units[0])

static int unit_index(char c)
{
	for (size_t i = 0; i < N_UNITS; i++)
		if (units[i].c == c)
			return (int)i;
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

int cs_duration_parse(int64_t *out, const char *s, const char **why)
{
	if (!s || !s[0])
		return fail(why, "empty duration");
	if (s[0] == '-' || s[0] == '+')
		return fail(why, "a duration has no sign");

	int64_t total = 0;
	int last = -1; /* index in units of the previous component */
	const char *p = s;
	while (*p) {
		if (*p == ' ' || *p == '\t')
			return fail(why, "a duration has no spaces (write 1d12h)");
		if (!is_digit(*p)) {
			bool letter = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
			if (p == s)
				return fail(why, letter ? "a unit needs a number before it (write 30d)"
							: "a duration starts with a number (write 30d)");
			return fail(why, letter ? "units are one letter, each after its number (write 30d or 1d12h)"
						: "unexpected character (write 30d or 1d12h)");
		}
		int64_t n = 0;
		while (is_digit(*p)) {
			int d = *p - '0';
			if (n > (INT64_MAX - d) / 10)
				return fail(why, "duration is too large");
			n = n * 10 + d;
			p++;
		}
		if (*p == '.' || *p == ',')
			return fail(why, "a duration has no fractions (use a smaller unit: 90m, not 1.5h)");
		if (*p == '\0')
			return fail(why, "number without a unit (add s, m, h, d or w)");
		if (*p == ' ' || *p == '\t')
			return fail(why, "a duration has no spaces (write 1d12h)");
		int u = unit_index(*p);
		if (u < 0) {
			if (unit_index((char)(*p | 0x20)) >= 0)
				return fail(why, "units are lowercase (s, m, h, d, w)");
			return fail(why, "unknown unit (use s, m, h, d or w)");
		}
		if (u <= last)
			return fail(why, "units must go from largest to smallest, each once (write 1d12h)");
		last = u;
		p++;
		if (n > INT64_MAX / units[u].seconds ||
		    total > INT64_MAX - n * units[u].seconds)
			return fail(why, "duration is too large");
		total += n * units[u].seconds;
	}
	*out = total;
	return 0;
}

/* Greedy form starting at units[top]: every smaller unit takes what it can. */
static void greedy(char *buf, size_t size, uint64_t v, size_t top)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = top; i < N_UNITS && v; i++) {
		uint64_t n = v / (uint64_t)units[i].seconds;
		if (!n)
			continue;
		v -= n * (uint64_t)units[i].seconds;
		int k = snprintf(buf + used, used < size ? size - used : 0, "%llu%c",
				 (unsigned long long)n, units[i].c);
		if (k > 0)
			used += (size_t)k;
	}
}

/* Below one day the shortest spelling wins ("90m" rather than "1h30m");
 * from one day up, days lead ("1d12h" rather than "36h") because certificate
 * lifetimes and renewal windows are thought of in days; whole weeks read as
 * weeks ("2w"). */
static void format_positive(char *buf, size_t size, uint64_t v)
{
	const uint64_t day = 86400, week = 604800;
	if (v % week == 0) {
		snprintf(buf, size, "%llu%c", (unsigned long long)(v / week), 'w');
		return;
	}
	char head[32] = "";
	if (v >= day) {
		snprintf(head, sizeof head, "%llud", (unsigned long long)(v / day));
		v %= day;
	}
	char best[64] = "";
	if (v) {
		/* Candidates start at h, m and s; ties go to the larger unit. */
		for (size_t top = 2; top < N_UNITS; top++) {
			char cand[64];
			greedy(cand, sizeof cand, v, top);
			if (!best[0] || strlen(cand) < strlen(best))
				memcpy(best, cand, sizeof best);
		}
	}
	snprintf(buf, size, "%s%s", head, best);
}

void cs_duration_format(char *buf, size_t size, int64_t seconds)
{
	if (!size)
		return;
	if (seconds == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	if (seconds < 0) {
		/* Negative only appears in reports ("expired 3d ago" style
		 * arithmetic); the config never holds one. */
		char tmp[64];
		format_positive(tmp, sizeof tmp, (uint64_t)0 - (uint64_t)seconds);
		snprintf(buf, size, "-%s", tmp);
		return;
	}
	format_positive(buf, size, (uint64_t)seconds);
}
