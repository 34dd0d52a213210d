/* Tests for cs_ps_quote: the exact literal for hostile inputs (quotes of
 * every kind PowerShell knows, $ and subexpressions, backticks, newlines,
 * smart quotes, invalid UTF-8), and that each literal, read the way
 * PowerShell's tokenizer reads a single-quoted string, ends exactly at its
 * last character and gives back the input: nothing in it can escape. */
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/quote.h"
#include "providers/base/buf.h"

#define LQ "\xE2\x80\x98" /* U+2018 left single quotation mark */
#define RQ "\xE2\x80\x99" /* U+2019 right single quotation mark */
#define LOW "\xE2\x80\x9A" /* U+201A single low-9 quotation mark */
#define REV "\xE2\x80\x9B" /* U+201B single high-reversed-9 quotation mark */
#define LDQ "\xE2\x80\x9C" /* U+201C: a double quote, not special in '...' */

static const struct {
	const char *name, *in, *want;
} cases[] = {
	{ "empty", "", "''" },
	{ "plain", "Default Web Site", "'Default Web Site'" },
	{ "apostrophe", "it's", "'it''s'" },
	{ "only a quote", "'", "''''" },
	{ "two quotes", "''", "''''''" },
	{ "closing and injecting", "'; Remove-Item C:\\ -Recurse; '",
	  "'''; Remove-Item C:\\ -Recurse; '''" },
	{ "variable", "$env:PATH", "'$env:PATH'" },
	{ "subexpression", "$(Stop-Computer)", "'$(Stop-Computer)'" },
	{ "backtick escapes", "a`nb`'c", "'a`nb`''c'" },
	{ "trailing backtick", "x`", "'x`'" },
	{ "newline and CR", "line1\nline2\r\n'", "'line1\nline2\r\n'''" },
	{ "double quotes", "say \"hi\"", "'say \"hi\"'" },
	{ "left smart quote", LQ "x", "'" LQ LQ "x'" },
	{ "right smart quote", "x" RQ "; calc; " RQ, "'x" RQ RQ "; calc; " RQ RQ "'" },
	{ "low-9 quote", LOW, "'" LOW LOW "'" },
	{ "reversed-9 quote", REV "$x" REV, "'" REV REV "$x" REV REV "'" },
	{ "smart double quote untouched", LDQ "x" LDQ, "'" LDQ "x" LDQ "'" },
	{ "mixed quotes", "'" RQ "'", "'''" RQ RQ "'''" },
	{ "non-quote neighbour of U+2018 (U+2017)", "\xE2\x80\x97", "'\xE2\x80\x97'" },
	{ "non-quote neighbour of U+201B (U+201C)", "\xE2\x80\x9C", "'\xE2\x80\x9C'" },
	{ "truncated UTF-8 at the end", "a\xE2\x80", "'a\xE2\x80'" },
	{ "lone lead byte before a quote", "\xE2'", "'\xE2'''" },
	{ "here-string opener", "@'\n'@", "'@''\n''@'" },
	{ "pipeline and redirection", "a | Out-File x; b > c", "'a | Out-File x; b > c'" },
	{ "windows path", "C:\\Program Files\\x\\", "'C:\\Program Files\\x\\'" },
	{ "japanese", "\xE3\x81\x93\xE3\x82\x93", "'\xE3\x81\x93\xE3\x82\x93'" },
};

/* PowerShell's quote characters (tokenizer: IsSingleQuote). */
static size_t is_quote(const unsigned char *s)
{
	if (s[0] == '\'')
		return 1;
	if (s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x98 && s[2] <= 0x9B)
		return 3;
	return 0;
}

/* Read a single-quoted literal as PowerShell does: starting after the
 * opening quote, a quote followed by another quote is one literal quote (the
 * second one), a quote followed by anything else ends the string.  Returns
 * the length consumed (opening and closing quote included) and the value. */
static size_t ps_read_literal(const char *lit, struct cs_buf *value)
{
	const unsigned char *p = (const unsigned char *)lit;
	size_t q = is_quote(p);
	if (!q)
		return 0;
	p += q;
	for (;;) {
		if (!*p)
			return 0; /* unterminated */
		size_t a = is_quote(p);
		if (a) {
			size_t b = is_quote(p + a);
			if (!b)
				return (size_t)((const char *)(p + a) - lit);
			cs_buf_append(value, p + a, b);
			p += a + b;
			continue;
		}
		cs_buf_append(value, p, 1);
		p++;
	}
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[160];
		char *got = cs_ps_quote(cases[i].in);
		snprintf(name, sizeof name, "quote: %s", cases[i].name);
		tap_str(got, cases[i].want, name);

		struct cs_buf v = CS_BUF_INIT;
		cs_buf_puts(&v, "");
		size_t used = ps_read_literal(got, &v);
		snprintf(name, sizeof name, "inert: %s ends at its last quote", cases[i].name);
		tap_int((long long)used, (long long)strlen(got), name);
		snprintf(name, sizeof name, "inert: %s reads back as the input", cases[i].name);
		tap_str(v.data, cases[i].in, name);
		cs_buf_free(&v);
		free(got);
	}

	/* The checker itself must be able to fail: a literal with one
	 * undoubled quote ends early. */
	struct cs_buf v = CS_BUF_INIT;
	tap_ok(ps_read_literal("'it's'", &v) == 4, "checker: an undoubled quote ends the literal", NULL);
	cs_buf_reset(&v);
	tap_ok(ps_read_literal("'x" RQ "y'", &v) == 5, "checker: an undoubled smart quote ends it too", NULL);
	cs_buf_free(&v);
	return tap_done();
}
