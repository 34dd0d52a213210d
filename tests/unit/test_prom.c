/* Unit tests for the Prometheus exposition writer: label and HELP escaping
 * (backslash, double quote, newline, and nothing else), value formatting
 * (exact integers, shortest round-trip decimals, NaN and infinities), the
 * HELP/TYPE lines, and the name checks. */
#include "tests/unit/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/base/buf.h"
#include "reconcile/prom.h"

static void test_label_escaping(void)
{
	static const struct { const char *in, *want, *name; } cases[] = {
		{ "web", "web", "plain value unchanged" },
		{ "", "", "empty value" },
		{ "a\\b", "a\\\\b", "backslash doubled" },
		{ "say \"hi\"", "say \\\"hi\\\"", "double quotes escaped" },
		{ "two\nlines", "two\\nlines", "newline as \\n" },
		{ "C:\\\"x\"\n", "C:\\\\\\\"x\\\"\\n", "all three together" },
		{ "tab\there 'q' {a=b},ü", "tab\there 'q' {a=b},ü", "tab, single quotes, braces, UTF-8 kept" },
		{ "\\n", "\\\\n", "a literal backslash-n is not a newline" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_buf b = CS_BUF_INIT;
		cs_prom_escape_label(&b, cases[i].in);
		tap_str(b.data ? b.data : "", cases[i].want, cases[i].name);
		cs_buf_free(&b);
	}
	struct cs_buf b = CS_BUF_INIT;
	cs_prom_escape_label(&b, NULL);
	tap_str(b.data ? b.data : "", "", "NULL label value is empty");
	cs_buf_free(&b);
}

static void test_help_escaping(void)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_prom_family(&b, "certsync_x", "gauge", "a \"quoted\" \\ and a\nnewline");
	tap_str(b.data, "# HELP certsync_x a \"quoted\" \\\\ and a\\nnewline\n# TYPE certsync_x gauge\n",
		"HELP escapes backslash and newline, not quotes");
	cs_buf_free(&b);
}

static void test_values(void)
{
	static const struct { double v; const char *want, *name; } cases[] = {
		{ 0, "0", "zero" },
		{ -0.0, "0", "negative zero prints as 0" },
		{ 1, "1", "one" },
		{ -3, "-3", "negative integer" },
		{ 1795767678, "1795767678", "unix time stays exact, no exponent" },
		{ 9007199254740992.0, "9007199254740992", "2^53 still exact" },
		{ 0.5, "0.5", "half" },
		{ 0.007, "0.007", "shortest decimal that reads back" },
		{ 0.1 + 0.2, "0.30000000000000004", "round-trip precision when needed" },
		{ 1e300, "1e+300", "huge value in exponent form" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_buf b = CS_BUF_INIT;
		cs_prom_value(&b, cases[i].v);
		tap_str(b.data, cases[i].want, cases[i].name);
		cs_buf_free(&b);
	}
	static const struct { double v; const char *want; } special[] = {
		{ NAN, "NaN" }, { INFINITY, "+Inf" }, { -INFINITY, "-Inf" },
	};
	for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
		struct cs_buf b = CS_BUF_INIT;
		cs_prom_value(&b, special[i].v);
		tap_str(b.data, special[i].want, special[i].want);
		cs_buf_free(&b);
	}
}

static void test_samples(void)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_prom_sample(&b, "certsync_plan_errors", 0, NULL);
	tap_str(b.data, "certsync_plan_errors 0\n", "sample without labels");
	cs_buf_reset(&b);
	cs_prom_sample(&b, "certsync_binding_in_sync", 1, "certificate", "web", "target", "/srv/a\"b\\c.crt", NULL);
	tap_str(b.data, "certsync_binding_in_sync{certificate=\"web\",target=\"/srv/a\\\"b\\\\c.crt\"} 1\n",
		"labels in the order given, values escaped");
	cs_buf_reset(&b);
	cs_prom_sample(&b, "certsync_certificate_info", 1, "serial", (const char *)NULL, NULL);
	tap_str(b.data, "certsync_certificate_info{serial=\"\"} 1\n", "NULL label value written empty");
	cs_buf_free(&b);
}

static void test_names(void)
{
	static const struct { const char *name; bool metric, label; } cases[] = {
		{ "certsync_host_reachable", true, true },
		{ "_x", true, true },
		{ "a:b", true, false },
		{ "__reserved", true, false },
		{ "9lives", false, false },
		{ "has-dash", false, false },
		{ "has space", false, false },
		{ "", false, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "metric name \"%s\" %s", cases[i].name, cases[i].metric ? "ok" : "refused");
		tap_ok(cs_prom_metric_name_ok(cases[i].name) == cases[i].metric, name, NULL);
		snprintf(name, sizeof name, "label name \"%s\" %s", cases[i].name, cases[i].label ? "ok" : "refused");
		tap_ok(cs_prom_label_name_ok(cases[i].name) == cases[i].label, name, NULL);
	}
}

int main(void)
{
	test_label_escaping();
	test_help_escaping();
	test_values();
	test_samples();
	test_names();
	return tap_done();
}
