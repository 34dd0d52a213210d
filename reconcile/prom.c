/* Prometheus text exposition writer (see prom.h). */
#include "reconcile/prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

static bool name_ok(const char *name, bool colon)
{
	if (!name || !name[0])
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
		bool digit = c >= '0' && c <= '9';
		if (!alpha && !(digit && p != name))
			return false;
	}
	return true;
}

bool cs_prom_metric_name_ok(const char *name)
{
	return name_ok(name, true);
}

bool cs_prom_label_name_ok(const char *name)
{
	return name_ok(name, false) && strncmp(name, "__", 2) != 0;
}

/* Names are string constants in certsync's own code: a bad one must fail
 * loudly in the first test run, not produce output a scraper rejects. */
static void require(bool ok, const char *what, const char *name)
{
	if (!ok)
		cs_die("internal error: invalid Prometheus %s name \"%s\"", what, name ? name : "(null)");
}

void cs_prom_escape_label(struct cs_buf *out, const char *value)
{
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\')
			cs_buf_puts(out, "\\\\");
		else if (*p == '"')
			cs_buf_puts(out, "\\\"");
		else if (*p == '\n')
			cs_buf_puts(out, "\\n");
		else
			cs_buf_append(out, p, 1);
	}
}

void cs_prom_escape_help(struct cs_buf *out, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == '\\')
			cs_buf_puts(out, "\\\\");
		else if (*p == '\n')
			cs_buf_puts(out, "\\n");
		else
			cs_buf_append(out, p, 1);
	}
}

void cs_prom_value(struct cs_buf *out, double v)
{
	if (isnan(v)) {
		cs_buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		cs_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Whole numbers up to 2^53 are exact in a double: print them as
	 * integers, so a timestamp reads 1767225600 and not 1.7672256e+09. */
	if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
		cs_buf_printf(out, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
		return;
	}
	/* Otherwise the shortest form that reads back to the same double. */
	char s[32];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	cs_buf_puts(out, s);
}

void cs_prom_family(struct cs_buf *out, const char *name, const char *type, const char *help)
{
	require(cs_prom_metric_name_ok(name), "metric", name);
	cs_buf_printf(out, "# HELP %s ", name);
	cs_prom_escape_help(out, help);
	cs_buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void cs_prom_sample(struct cs_buf *out, const char *name, double value, ...)
{
	require(cs_prom_metric_name_ok(name), "metric", name);
	cs_buf_puts(out, name);
	va_list ap;
	va_start(ap, value);
	const char *label;
	bool first = true;
	while ((label = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		require(cs_prom_label_name_ok(label), "label", label);
		cs_buf_printf(out, "%s%s=\"", first ? "{" : ",", label);
		cs_prom_escape_label(out, v);
		cs_buf_puts(out, "\"");
		first = false;
	}
	va_end(ap);
	cs_buf_puts(out, first ? " " : "} ");
	cs_prom_value(out, value);
	cs_buf_puts(out, "\n");
}
