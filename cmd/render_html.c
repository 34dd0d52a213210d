/* status --format html: one page with inline CSS and SVG, no script and no
 * external reference, so it can be mailed, archived or served as it is: a
 * timeline of every certificate's validity (today, renew and remind marks),
 * each binding's state, failing hosts and owed reboots.  Every string from
 * the config or a host goes through esc(). */
#include "cmd/render_html.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "cmd/cmd.h"
#include "providers/base/util.h"

#define DAY 86400

/* Text and attribute values alike: & < > " ' are all that HTML needs. */
static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* A state as a CSS class: "in sync" → "in-sync". */
static void cls(FILE *f, const char *state)
{
	for (const char *p = state; *p; p++)
		fputc(*p == ' ' ? '-' : *p, f);
}

static bool time_of(json_t *o, const char *key, int64_t *out)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && cs_time_parse(out, s) == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_time(int64_t t, int64_t *y, int *m)
{
	char date[11];
	cs_time_date(date, t);
	long long yy = 0;
	int mm = 0;
	sscanf(date, "%lld-%d", &yy, &mm);
	*y = yy;
	*m = mm;
}

/* The timeline's geometry: viewBox units. */
#define W 1000
#define LABEL_W 190
#define X0 200
#define X1 900   /* then the expiry date */
#define AXIS_H 34
#define ROW_H 30
#define BAR_H 16

struct scale {
	int64_t t0, t1;
};

static double x_of(const struct scale *sc, int64_t t)
{
	return X0 + (double)(t - sc->t0) * (X1 - X0) / (double)(sc->t1 - sc->t0);
}

static void axis(FILE *f, const struct scale *sc, double bottom)
{
	int64_t y;
	int m;
	civil_from_time(sc->t0, &y, &m);
	int64_t first = y * 12 + (m - 1) + 1;   /* the first month start inside the range */
	int64_t last_y;
	int last_m;
	civil_from_time(sc->t1, &last_y, &last_m);
	int64_t last = last_y * 12 + (last_m - 1);
	int64_t months = last - first + 1;
	int step = months <= 12 ? 1 : months <= 24 ? 2 : months <= 48 ? 3 : months <= 96 ? 6 : 12;
	static const char *const names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	fprintf(f, "<g class=\"axis\">\n");
	for (int64_t k = first; k <= last; k++) {
		if ((k - first) % step)
			continue;
		int64_t t = days_from_civil(k / 12, (int)(k % 12) + 1, 1) * DAY;
		double x = x_of(sc, t);
		fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"tick-label\" x=\"%.1f\" y=\"%d\">%s", x, AXIS_H - 8, x, bottom, x + 3,
			AXIS_H - 12, names[k % 12]);
		/* The year at January and at the first tick. */
		if (k % 12 == 0 || k == first)
			fprintf(f, " %lld", (long long)(k / 12));
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</g>\n");
}

static void timeline(FILE *f, json_t *report)
{
	json_t *certs = json_object_get(report, "certificates");
	int64_t now = 0;
	time_of(report, "now", &now);
	struct scale sc = { now - 30 * DAY, now + 90 * DAY };
	size_t i;
	json_t *c;
	json_array_foreach(certs, i, c) {
		int64_t nb, na;
		if (time_of(c, "not_before", &nb) && nb < sc.t0)
			sc.t0 = nb;
		if (time_of(c, "not_after", &na) && na > sc.t1)
			sc.t1 = na;
	}
	int64_t pad = (sc.t1 - sc.t0) / 40;
	sc.t0 -= pad;
	sc.t1 += pad;
	size_t n = json_array_size(certs);
	double bottom = AXIS_H + (double)(n ? n : 1) * ROW_H + 6;
	int height = (int)bottom + 22;
	fprintf(f, "<svg class=\"timeline\" viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
		"aria-label=\"validity of every certificate, with today, renew and remind marks\">\n", W, height);
	axis(f, &sc, bottom);
	json_array_foreach(certs, i, c) {
		const char *name = str(c, "name"), *state = str(c, "state");
		double y = AXIS_H + (double)i * ROW_H + 4;
		fprintf(f, "<g class=\"row\" data-cert=\"");
		esc(f, name);
		fprintf(f, "\">\n<text class=\"label\" x=\"%d\" y=\"%.1f\">", LABEL_W, y + BAR_H - 3);
		esc(f, name);
		fprintf(f, "</text>\n");
		int64_t nb, na, renew, remind;
		if (!time_of(c, "not_before", &nb) || !time_of(c, "not_after", &na)) {
			fprintf(f, "<text class=\"nobar state-");
			cls(f, state);
			fprintf(f, "\" x=\"%d\" y=\"%.1f\">%s</text>\n</g>\n", X0 + 4, y + BAR_H - 3,
				!strcmp(state, "error") ? "cannot be read (see below)" : "no certificate yet");
			continue;
		}
		double xb = x_of(&sc, nb), xa = x_of(&sc, na);
		fprintf(f, "<rect class=\"bar state-");
		cls(f, state);
		fprintf(f, "\" data-cert=\"");
		esc(f, name);
		fprintf(f, "\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" rx=\"3\"><title>", xb, y,
			xa - xb > 1 ? xa - xb : 1, BAR_H);
		esc(f, name);
		fprintf(f, ": %.10s → %.10s, %s</title></rect>\n", str(c, "not_before"), str(c, "not_after"), state);
		if (time_of(c, "renew_at", &renew)) {
			double x = x_of(&sc, renew);
			fprintf(f, "<line class=\"mark renew\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\">"
				"<title>renew from %.10s</title></line>\n", x, y - 3, x, y + BAR_H + 3, str(c, "renew_at"));
		}
		if (time_of(c, "remind_at", &remind)) {
			double x = x_of(&sc, remind);
			fprintf(f, "<line class=\"mark remind\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\">"
				"<title>reminder %.10s</title></line>\n", x, y - 3, x, y + BAR_H + 3, str(c, "remind_at"));
		}
		/* The expiry date beside the bar's end (X1..W is kept for it). */
		fprintf(f, "<text class=\"end\" x=\"%.1f\" y=\"%.1f\">%.10s</text>\n</g>\n", xa + 4, y + BAR_H - 3,
			str(c, "not_after"));
	}
	double x = x_of(&sc, now);
	fprintf(f, "<line class=\"today\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>"
		"<text class=\"today-label\" x=\"%.1f\" y=\"%d\">today %.10s</text>\n</svg>\n",
		x, AXIS_H - 6, x, bottom, x, height - 6, str(report, "now"));
}

static void badge(FILE *f, const char *state, const char *text)
{
	fprintf(f, "<span class=\"badge state-");
	cls(f, state);
	fprintf(f, "\">");
	esc(f, text);
	fprintf(f, "</span>");
}

/* "unknown" means the store has no certificate yet, so the binding has
 * nothing to carry: say missing. */
static const char *binding_word(const char *state)
{
	return !strcmp(state, "unknown") ? "missing" : state;
}

static void certificates(FILE *f, json_t *report)
{
	size_t i, j;
	json_t *c, *b;
	json_array_foreach(json_object_get(report, "certificates"), i, c) {
		const char *state = str(c, "state");
		fprintf(f, "<article class=\"cert\" data-cert=\"");
		esc(f, str(c, "name"));
		fprintf(f, "\">\n<h3>");
		esc(f, str(c, "name"));
		fprintf(f, " ");
		badge(f, state, state);
		fprintf(f, "</h3>\n<p class=\"facts\">");
		esc(f, str(c, "common_name"));
		fprintf(f, " · issuer ");
		esc(f, str(c, "issuer"));
		if (json_object_get(c, "serial")) {
			long long left = (long long)json_integer_value(json_object_get(c, "days_left"));
			fprintf(f, " · serial <code>");
			esc(f, str(c, "serial"));
			fprintf(f, "</code> · valid %.10s to %.10s (", str(c, "not_before"), str(c, "not_after"));
			if (left < 0)
				fprintf(f, "expired %lld day%s ago)", -left, left == -1 ? "" : "s");
			else
				fprintf(f, "%lld day%s left)", left, left == 1 ? "" : "s");
			fprintf(f, " · renew from %.10s · reminder %.10s", str(c, "renew_at"), str(c, "remind_at"));
		}
		fprintf(f, "</p>\n");
		if (json_object_get(c, "renewal")) {
			fprintf(f, "<p class=\"note\">renewal due because ");
			esc(f, str(c, "renewal"));
			fprintf(f, "</p>\n");
		}
		if (json_object_get(c, "error")) {
			fprintf(f, "<p class=\"error\">error: ");
			esc(f, str(c, "error"));
			fprintf(f, "</p>\n");
		}
		json_t *p = json_object_get(c, "pending");
		if (p) {
			fprintf(f, "<p class=\"note\">request pending since %.10s, reply: ", str(p, "since"));
			esc(f, str(p, "reply"));
			if (json_object_get(p, "error")) {
				fprintf(f, ": ");
				esc(f, str(p, "error"));
			}
			fprintf(f, "</p>\n");
		}
		size_t nb = json_array_size(json_object_get(c, "bindings"));
		size_t ne = json_array_size(json_object_get(c, "endpoints"));
		if (!nb && !ne) {
			fprintf(f, "</article>\n");
			continue;
		}
		fprintf(f, "<table>\n<thead><tr><th>host</th><th>binding</th><th>where</th><th>state</th>"
			"<th>detail</th></tr></thead>\n<tbody>\n");
		json_array_foreach(json_object_get(c, "bindings"), j, b) {
			const char *bs = binding_word(str(b, "state"));
			fprintf(f, "<tr class=\"binding state-");
			cls(f, bs);
			fprintf(f, "\"><td>");
			esc(f, str(b, "host"));
			fprintf(f, "</td><td>");
			esc(f, str(b, "kind"));
			fprintf(f, "</td><td><code>");
			esc(f, str(b, "where"));
			fprintf(f, "</code></td><td>");
			badge(f, bs, bs);
			fprintf(f, "</td><td>");
			esc(f, str(b, "detail"));
			fprintf(f, "</td></tr>\n");
		}
		json_array_foreach(json_object_get(c, "endpoints"), j, b) {
			const char *es = str(b, "state");
			fprintf(f, "<tr class=\"endpoint state-");
			cls(f, es);
			fprintf(f, "\"><td>");
			esc(f, json_is_true(json_object_get(b, "all_hosts")) ? "(all hosts)" : str(b, "host"));
			fprintf(f, "</td><td>endpoint</td><td><code>");
			esc(f, str(b, "connect"));
			fprintf(f, "</code></td><td>");
			badge(f, es, es);
			fprintf(f, "</td><td>");
			if (json_object_get(b, "serial")) {
				fprintf(f, "serial <code>");
				esc(f, str(b, "serial"));
				fprintf(f, "</code>%s", json_object_get(b, "detail") ? ": " : "");
			}
			esc(f, str(b, "detail"));
			fprintf(f, "</td></tr>\n");
		}
		fprintf(f, "</tbody>\n</table>\n</article>\n");
	}
}

static void hosts(FILE *f, json_t *report)
{
	size_t i, failing = 0, owed = 0;
	json_t *h;
	json_array_foreach(json_object_get(report, "hosts"), i, h) {
		failing += json_object_get(h, "error") != NULL;
		owed += json_object_get(h, "reboot_owed") != NULL;
	}
	fprintf(f, "<section id=\"hosts\">\n<h2>Hosts</h2>\n");
	if (!failing && !owed)
		fprintf(f, "<p class=\"ok\">every host was reached; no reboot is owed</p>\n");
	fprintf(f, "<ul class=\"hosts\">\n");
	json_array_foreach(json_object_get(report, "hosts"), i, h) {
		json_t *r = json_object_get(h, "reboot_owed");
		bool down = json_object_get(h, "error") != NULL;
		fprintf(f, "<li class=\"host%s%s\" data-host=\"", down ? " failing" : "", r ? " reboot-owed" : "");
		esc(f, str(h, "name"));
		fprintf(f, "\"><strong>");
		esc(f, str(h, "name"));
		fprintf(f, "</strong> (");
		esc(f, str(h, "platform"));
		fprintf(f, "): ");
		if (down) {
			badge(f, "error", "unreachable");
			fprintf(f, " ");
			esc(f, str(h, "error"));
		} else {
			badge(f, "in sync", "reached");
		}
		if (r) {
			fprintf(f, " ");
			badge(f, "drifted", "reboot owed");
			fprintf(f, " since %.10s: ", str(r, "since"));
			esc(f, str(r, "why"));
			fprintf(f, " (the next apply reboots it)");
		}
		fprintf(f, "</li>\n");
	}
	fprintf(f, "</ul>\n</section>\n");
}

static const char style[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1100px;"
	"padding:0 1em;color:#1d1d1f;background:#fff}\n"
	"h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd}"
	"h3{font-size:1em;margin:1.2em 0 .2em}\n"
	".meta,.facts{color:#555;margin:.2em 0}code{font:12px ui-monospace,monospace}\n"
	".summary span{display:inline-block;margin:0 .6em .3em 0}\n"
	".badge{display:inline-block;padding:0 .5em;border-radius:.7em;font-size:12px;color:#fff;background:#777;"
	"white-space:nowrap}\n"
	".badge.state-valid,.badge.state-in-sync{background:#2e7d32}.badge.state-renewal-due,.badge.state-drifted"
	"{background:#e0a000}.badge.state-expired,.badge.state-error,.badge.state-chain-error{background:#c62828}"
	".badge.state-missing{background:#888}\n"
	"svg .bar.state-valid{fill:#43a047}svg .bar.state-renewal-due{fill:#f2b600}svg .bar.state-expired{fill:#d32f2f}"
	"svg .bar{stroke:#0003}\n"
	"svg text{font:12px system-ui,sans-serif;fill:#1d1d1f}svg .label{text-anchor:end;font-weight:600}"
	"svg .end,svg .tick-label{fill:#555;font-size:11px}svg .nobar{fill:#777;font-style:italic}\n"
	"svg .tick{stroke:#e4e4e4}svg .today{stroke:#1565c0;stroke-width:2}svg .today-label{fill:#1565c0;"
	"text-anchor:middle;font-weight:600}\n"
	"svg .mark{stroke-width:2.5}svg .mark.renew{stroke:#e65100}svg .mark.remind{stroke:#6a1b9a;"
	"stroke-dasharray:3 2}\n"
	".legend span{margin-right:1.2em}.legend i{display:inline-block;width:1.4em;height:.3em;vertical-align:middle;"
	"margin-right:.3em}\n"
	"table{border-collapse:collapse;width:100%;margin:.4em 0;table-layout:fixed;overflow-wrap:anywhere}"
	"th:nth-child(1){width:12%}th:nth-child(2){width:8%}th:nth-child(3){width:35%}th:nth-child(4){width:10%}th,td{text-align:left;padding:.25em .5em;"
	"border-bottom:1px solid #eee;vertical-align:top}th{font-weight:600;color:#555}\n"
	"tr.binding td:first-child,tr.endpoint td:first-child{border-left:4px solid #888}"
	"tr.state-in-sync td:first-child{border-left-color:#2e7d32}tr.state-drifted td:first-child"
	"{border-left-color:#e0a000}tr.state-error td:first-child,tr.state-chain-error td:first-child"
	"{border-left-color:#c62828}\n"
	".error{color:#c62828}.note{color:#8a5a00}.ok{color:#2e7d32}ul.hosts{padding-left:1.2em}"
	"li.failing{color:#c62828}footer{margin-top:2em;color:#888;font-size:12px}\n";

void cs_render_status_html(FILE *f, json_t *report, const char *config_path)
{
	json_t *certs = json_object_get(report, "certificates");
	size_t i;
	json_t *o;
	size_t count[4] = { 0 };  /* in sync, drifted, missing, error */
	size_t failing = 0, owed = 0;
	json_array_foreach(certs, i, o) {
		size_t j;
		json_t *b;
		json_array_foreach(json_object_get(o, "bindings"), j, b) {
			const char *s = binding_word(str(b, "state"));
			count[!strcmp(s, "in sync") ? 0 : !strcmp(s, "drifted") ? 1 : !strcmp(s, "missing") ? 2 : 3]++;
		}
	}
	json_array_foreach(json_object_get(report, "hosts"), i, o) {
		failing += json_object_get(o, "error") != NULL;
		owed += json_object_get(o, "reboot_owed") != NULL;
	}
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>certsync status: ");
	esc(f, config_path);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>certsync status</h1>\n"
		"<p class=\"meta\">", style);
	esc(f, config_path);
	fprintf(f, " · as of <time datetime=\"%s\">%.10s %.5s UTC</time></p>\n</header>\n",
		str(report, "now"), str(report, "now"), str(report, "now") + (strlen(str(report, "now")) >= 16 ? 11 : 0));
	fprintf(f, "<p class=\"summary\"><span>%zu certificate%s</span><span>%zu binding%s in sync</span>"
		"<span>%zu drifted</span><span>%zu missing</span><span>%zu in error</span>"
		"<span>%zu host%s failing</span><span>%zu reboot%s owed</span></p>\n",
		json_array_size(certs), json_array_size(certs) == 1 ? "" : "s", count[0], count[0] == 1 ? "" : "s",
		count[1], count[2], count[3], failing, failing == 1 ? "" : "s", owed, owed == 1 ? "" : "s");
	json_t *sp = json_object_get(report, "state_problem");
	if (sp) {
		fprintf(f, "<p class=\"error\">state folder: ");
		esc(f, str(sp, "message"));
		fprintf(f, "</p>\n");
	}
	fprintf(f, "<section id=\"timeline\">\n<h2>Validity</h2>\n");
	timeline(f, report);
	fprintf(f, "<p class=\"legend\"><span><i style=\"background:#43a047\"></i>valid</span>"
		"<span><i style=\"background:#f2b600\"></i>renewal due</span>"
		"<span><i style=\"background:#d32f2f\"></i>expired</span>"
		"<span><i style=\"background:#e65100\"></i>renew from (renew_before)</span>"
		"<span><i style=\"background:#6a1b9a\"></i>reminder (remind_before)</span>"
		"<span><i style=\"background:#1565c0\"></i>today</span></p>\n</section>\n");
	fprintf(f, "<section id=\"certificates\">\n<h2>Certificates and bindings</h2>\n");
	certificates(f, report);
	fprintf(f, "</section>\n");
	hosts(f, report);
	fprintf(f, "<footer>certsync %s · this page has no script and loads nothing</footer>\n</body>\n</html>\n",
		CERTSYNC_VERSION);
}
