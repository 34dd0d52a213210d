/* Unit tests for the iCalendar writer: the RFC 5545 line rules (CRLF,
 * 75-octet folding that keeps UTF-8 whole, TEXT escaping), the stable UID,
 * the reminder date arithmetic, and a round trip through a real parser
 * (python3-icalendar) so that "valid" means what clients mean by it. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "providers/base/buf.h"
#include "reconcile/calendar.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"

#define DAY 86400

static int64_t ts(const char *rfc3339)
{
	int64_t t = 0;
	if (cs_time_parse(&t, rfc3339) < 0) {
		tap_note("bad timestamp in test table: %s", rfc3339);
		abort();
	}
	return t;
}

static const char *const mail_where[] = {
	"sapphire: iis Default Web Site:443",
	"cobalt: store LocalMachine\\My",
};

static struct cs_calendar_entry mail_entry(int64_t not_after)
{
	struct cs_calendar_entry e = {
		.cert_name = "mail",
		.lineage_id = "/srv/certsync/.certsync/mail",
		.common_name = "mail.example.org",
		.serial = "1A2B",
		.not_after = not_after,
		.remind_before = 7 * DAY,
		.where = mail_where,
		.n_where = 2,
	};
	return e;
}

/* Write entries; the caller frees the returned text. */
static char *render(const struct cs_calendar_entry *e, size_t n, int64_t now)
{
	struct cs_buf b = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_calendar_write(&b, e, n, now, &err);
	if (r < 0) {
		tap_note("cs_calendar_write: %s", cs_err_msg(&err));
		cs_err_clear(&err);
		cs_buf_free(&b);
		return NULL;
	}
	return cs_buf_detach(&b, NULL);
}

/* Undo RFC 5545 folding: CRLF followed by one space or tab disappears. */
static char *unfold(const char *s)
{
	struct cs_buf b = CS_BUF_INIT;
	while (*s) {
		if (s[0] == '\r' && s[1] == '\n' && (s[2] == ' ' || s[2] == '\t')) {
			s += 3;
			continue;
		}
		cs_buf_append(&b, s, 1);
		s++;
	}
	return cs_buf_detach(&b, NULL);
}

/* The value of the first property named name (exactly, parameters allowed)
 * in unfolded text, starting the search at from; NULL when absent.  Caller
 * frees. */
static char *prop(const char *unfolded, const char *name)
{
	size_t nl = strlen(name);
	const char *line = unfolded;
	while (line && *line) {
		const char *eol = strstr(line, "\r\n");
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > nl && strncmp(line, name, nl) == 0 && (line[nl] == ':' || line[nl] == ';')) {
			const char *colon = memchr(line, ':', len);
			if (colon)
				return cs_xasprintf("%.*s", (int)(len - (size_t)(colon + 1 - line)), colon + 1);
		}
		line = eol ? eol + 2 : NULL;
	}
	return NULL;
}

static bool check_prop(const char *unfolded, const char *name, const char *want, const char *what)
{
	char *got = prop(unfolded, name);
	bool ok = tap_str(got, want, what);
	free(got);
	return ok;
}

/* ---- line rules ---- */

static void test_line_rules(void)
{
	/* A long where-line full of two-, three- and four-byte characters, so
	 * that some fold positions would otherwise fall inside a sequence. */
	static const char *const where[] = {
		"web1: files /etc/nginx/tls/été-€-𝄞-ünïcödé-a-very-long-path-that-goes-on/"
		"and-on-and-on/ééééééééééééééééééééééééééééééééééééééé/€€€€€€€€€€€€€€€€€/mail.crt",
		"sapphire: iis Default Web Site:443",
	};
	struct cs_calendar_entry e = mail_entry(ts("2027-01-03T10:00:00Z"));
	e.where = where;
	e.n_where = 2;
	char *ics = render(&e, 1, ts("2026-06-01T12:00:00Z"));
	tap_ok(ics != NULL, "render with long description", NULL);
	if (!ics)
		return;

	bool crlf = true, bare_cr = false;
	size_t longest = 0, folds = 0;
	bool utf8_whole = true, fold_space = true;
	const char *line = ics;
	while (*line) {
		const char *eol = strstr(line, "\r\n");
		if (!eol) {
			crlf = false; /* text after the last CRLF */
			break;
		}
		size_t len = (size_t)(eol - line);
		if (memchr(line, '\n', len))
			crlf = false;
		if (memchr(line, '\r', len))
			bare_cr = true;
		if (len > longest)
			longest = len;
		/* A continuation line: one space, then a character start. */
		if (line[0] == ' ') {
			folds++;
			if (len < 2 || ((unsigned char)line[1] & 0xC0) == 0x80)
				utf8_whole = false;
		} else if (((unsigned char)line[0] & 0xC0) == 0x80)
			fold_space = false;
		/* A line must not end with a lead byte or inside a sequence:
		 * the next byte after the line would be a continuation byte. */
		if (len && ((unsigned char)line[len - 1] & 0xC0) == 0xC0)
			utf8_whole = false;
		line = eol + 2;
	}
	tap_ok(crlf, "every line ends with CRLF", NULL);
	tap_ok(!bare_cr, "no bare CR", NULL);
	tap_ok(longest <= 75, "no line longer than 75 octets", "longest %zu", longest);
	tap_ok(folds >= 3, "long description is folded", "%zu folds", folds);
	tap_ok(utf8_whole, "folds never split a UTF-8 sequence", NULL);
	tap_ok(fold_space, "continuation lines start with a space", NULL);

	char *flat = unfold(ics);
	char *want = cs_xasprintf(
		"Certificate mail (mail.example.org) expires 2027-01-03.\\nserial: 1A2B\\n"
		"expires: 2027-01-03T10:00:00Z\\ninstalled on:\\n- %s\\n- %s\\n"
		"renew with: certsync plan && certsync apply",
		where[0], where[1]);
	check_prop(flat, "DESCRIPTION", want, "unfolded description is the whole text");
	free(want);

	/* The calendar header, in order. */
	static const char header[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
				     "PRODID:-//certsync//certsync 0.1//EN\r\nCALSCALE:GREGORIAN\r\n"
				     "METHOD:PUBLISH\r\nX-WR-CALNAME:certsync\r\nBEGIN:VEVENT\r\n";
	tap_ok(strncmp(ics, header, sizeof header - 1) == 0, "calendar header", "got:\n%.160s", ics);
	size_t n = strlen(ics);
	tap_ok(n > 15 && strcmp(ics + n - 15, "END:VCALENDAR\r\n") == 0, "calendar footer", NULL);
	check_prop(flat, "TRANSP", "TRANSPARENT", "TRANSP");
	check_prop(flat, "CATEGORIES", "certificates", "CATEGORIES");
	check_prop(flat, "DTSTAMP", "20260601T120000Z", "DTSTAMP is now in UTC");
	check_prop(flat, "TRIGGER;RELATED=START", "PT9H", "alarm at 09:00 on the day");
	check_prop(flat, "ACTION", "DISPLAY", "alarm action");
	free(flat);
	free(ics);
}

/* ---- escaping ---- */

static void test_escaping(void)
{
	static const char *const where[] = { "host: a,b;c\\d\nsecond line\r\nthird\x01" };
	struct cs_calendar_entry e = mail_entry(ts("2027-01-03T10:00:00Z"));
	e.common_name = "x,y;z\\w";
	e.where = where;
	e.n_where = 1;
	char *ics = render(&e, 1, 0);
	tap_ok(ics != NULL, "render with hostile text", NULL);
	if (!ics)
		return;
	char *flat = unfold(ics);
	check_prop(flat, "SUMMARY",
		   "Renew certificate mail (x\\,y\\;z\\\\w) \xE2\x80\x94 expires 2027-01-03",
		   "summary escapes comma, semicolon, backslash");
	char *desc = prop(flat, "DESCRIPTION");
	tap_ok(desc && strstr(desc, "- host: a\\,b\\;c\\\\d\\nsecond line\\nthird\\nrenew"),
	       "description escapes , ; \\ and turns CRLF/LF into \\n, drops controls",
	       "got %s", desc ? desc : "(null)");
	free(desc);
	free(flat);
	free(ics);
}

/* ---- UID and SEQUENCE ---- */

static void test_uid_sequence(void)
{
	struct cs_calendar_entry a = mail_entry(ts("2026-03-01T00:00:00Z"));
	struct cs_calendar_entry b = mail_entry(ts("2027-03-01T00:00:00Z"));
	struct cs_calendar_entry c = mail_entry(ts("2026-03-01T00:00:00Z"));
	c.cert_name = "web";
	c.lineage_id = "/srv/certsync/.certsync/web";
	char *ia = render(&a, 1, 0), *ib = render(&b, 1, 0), *ic = render(&c, 1, 0);
	char *fa = ia ? unfold(ia) : NULL, *fb = ib ? unfold(ib) : NULL, *fc = ic ? unfold(ic) : NULL;
	char *ua = fa ? prop(fa, "UID") : NULL;
	char *ub = fb ? prop(fb, "UID") : NULL;
	char *uc = fc ? prop(fc, "UID") : NULL;

	char digest[65];
	cs_sha256_hex(digest, a.lineage_id, strlen(a.lineage_id));
	for (int i = 0; i < 16; i++)
		digest[i] = (char)(digest[i] >= 'A' ? digest[i] - 'A' + 'a' : digest[i]);
	digest[16] = '\0';
	char *want = cs_xasprintf("certsync-mail-%s@certsync", digest);
	tap_str(ua, want, "UID is certsync-NAME-<sha256(lineage)[:16]>@certsync");
	tap_str(ub, ua, "UID stays the same across renewals");
	tap_ok(ua && uc && strcmp(ua, uc) != 0, "UID differs across certificates", "%s vs %s",
	       ua ? ua : "(null)", uc ? uc : "(null)");

	char *sa = fa ? prop(fa, "SEQUENCE") : NULL;
	char *sb = fb ? prop(fb, "SEQUENCE") : NULL;
	long long qa = sa ? strtoll(sa, NULL, 10) : -1, qb = sb ? strtoll(sb, NULL, 10) : -1;
	tap_ok(qa >= 0 && qb > qa && qb <= 2147483647LL, "SEQUENCE grows with not_after, 31 bits",
	       "%lld then %lld", qa, qb);

	/* Two renewals on the same day still supersede each other. */
	struct cs_calendar_entry d = mail_entry(ts("2027-03-01T06:00:00Z"));
	char *id = render(&d, 1, 0), *fd = id ? unfold(id) : NULL;
	char *sd = fd ? prop(fd, "SEQUENCE") : NULL;
	long long qd = sd ? strtoll(sd, NULL, 10) : -1;
	tap_ok(qd > qb, "SEQUENCE grows within a day", "%lld then %lld", qb, qd);

	free(sd); free(fd); free(id);
	free(sa); free(sb); free(want);
	free(ua); free(ub); free(uc);
	free(fa); free(fb); free(fc);
	free(ia); free(ib); free(ic);
}

/* ---- reminder dates ---- */

static const struct {
	const char *not_after;
	int64_t remind_before;
	const char *dtstart, *dtend, *expires;
} date_cases[] = {
	{ "2027-01-03T10:00:00Z", 7 * DAY, "20261227", "20261228", "2027-01-03" }, /* year back */
	{ "2026-12-31T23:59:59Z", 0, "20261231", "20270101", "2026-12-31" },       /* DTEND next year */
	{ "2028-03-01T00:30:00Z", DAY, "20280229", "20280301", "2028-03-01" },     /* leap day */
	{ "2026-03-01T05:00:00Z", DAY, "20260228", "20260301", "2026-03-01" },     /* no leap day */
	{ "2026-05-01T00:00:00Z", 1, "20260430", "20260501", "2026-05-01" },       /* one second back */
	{ "2026-08-15T12:00:00Z", 30 * DAY, "20260716", "20260717", "2026-08-15" },
	{ "2100-03-01T00:00:00Z", DAY, "21000228", "21000301", "2100-03-01" },     /* 2100 not leap */
	{ "2020-01-10T00:00:00Z", 7 * DAY, "20200103", "20200104", "2020-01-10" }, /* in the past */
};

static void test_dates(void)
{
	for (size_t i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
		struct cs_calendar_entry e = mail_entry(ts(date_cases[i].not_after));
		e.remind_before = date_cases[i].remind_before;
		char *ics = render(&e, 1, ts("2026-06-01T00:00:00Z"));
		char *flat = ics ? unfold(ics) : NULL;
		char *name = cs_xasprintf("%s - %llds: DTSTART", date_cases[i].not_after,
					  (long long)date_cases[i].remind_before);
		char *got = flat ? prop(flat, "DTSTART;VALUE=DATE") : NULL;
		tap_str(got, date_cases[i].dtstart, name);
		free(got);
		free(name);
		name = cs_xasprintf("%s: DTEND the next day", date_cases[i].not_after);
		got = flat ? prop(flat, "DTEND;VALUE=DATE") : NULL;
		tap_str(got, date_cases[i].dtend, name);
		free(got);
		free(name);
		char *want = cs_xasprintf("Renew certificate mail (mail.example.org) \xE2\x80\x94 expires %s",
					  date_cases[i].expires);
		name = cs_xasprintf("%s: summary date", date_cases[i].not_after);
		got = flat ? prop(flat, "SUMMARY") : NULL;
		tap_str(got, want, name);
		free(got);
		free(name);
		free(want);
		free(flat);
		free(ics);
	}
}

/* ---- input errors and the empty calendar ---- */

static void test_errors(void)
{
	struct cs_calendar_entry e = mail_entry(ts("2027-01-03T10:00:00Z"));
	e.lineage_id = NULL;
	struct cs_buf b = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_calendar_write(&b, &e, 1, 0, &err);
	tap_int(r, -EINVAL, "missing lineage id is refused");
	tap_str(err.msg, "calendar: certificate mail has no lineage id", "missing lineage message");
	cs_err_clear(&err);
	cs_buf_free(&b);

	/* remind_before far beyond any lifetime: the reminder date would be
	 * before year 0 (strftime wrote "-180602" into a 9-byte buffer). */
	static const struct {
		const char *name;
		int64_t not_after, remind_before;
	} far[] = {
		{ "reminder 200000w before expiry", 1798970400, 200000LL * 7 * DAY },
		{ "reminder before the earliest time", 1798970400, INT64_MAX },
		{ "expiry after year 9999", 253402300800 + DAY, 7 * DAY },
		{ "expiry beyond gmtime", INT64_MAX, 7 * DAY },
		{ "negative remind_before", 1798970400, -1 },
	};
	for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
		e = mail_entry(far[i].not_after);
		e.remind_before = far[i].remind_before;
		r = cs_calendar_write(&b, &e, 1, ts("2026-06-01T00:00:00Z"), &err);
		tap_int(r, -ERANGE, far[i].name);
		tap_ok(err.msg && strstr(err.msg, "calendar: certificate mail: a reminder ") &&
		       strstr(err.msg, "falls outside the years 0000 to 9999"), far[i].name, "got %s", err.msg);
		tap_int((long long)b.len, 0, "nothing written");
		cs_err_clear(&err);
		cs_buf_free(&b);
	}
	e = mail_entry(ts("2027-01-03T10:00:00Z"));
	r = cs_calendar_write(&b, &e, 1, INT64_MAX, &err);
	tap_int(r, -ERANGE, "a current time beyond year 9999 is refused");
	cs_err_clear(&err);
	cs_buf_free(&b);

	/* The shared formatters: a terminated string of the usual length and
	 * -ERANGE, whatever the time. */
	char iso[21], date[11];
	tap_int(cs_time_rfc3339(iso, INT64_MAX), -ERANGE, "rfc3339 beyond gmtime");
	tap_str(iso, "9999-12-31T23:59:59Z", "rfc3339 clamps high");
	tap_int(cs_time_rfc3339(iso, -200000LL * 7 * DAY * 400), -ERANGE, "rfc3339 before year 0");
	tap_str(iso, "0000-01-01T00:00:00Z", "rfc3339 clamps low");
	tap_int(cs_time_date(date, 253402300800), -ERANGE, "date in year 10000");
	tap_str(date, "9999-12-31", "date clamps high");
	tap_int(cs_time_date(date, 1798970400), 0, "ordinary date");
	tap_str(date, "2027-01-03", "ordinary date text");

	char *ics = render(NULL, 0, 0);
	tap_ok(ics && !strstr(ics, "VEVENT") && strstr(ics, "END:VCALENDAR\r\n"),
	       "no entries: an empty but valid calendar", NULL);
	free(ics);
}

/* ---- a real parser ---- */

/* Prints, per event, the fields the C side compares; newlines and
 * backslashes in the description are re-escaped so each field is one line. */
static const char py_script[] =
	"import sys, icalendar\n"
	"data = open(sys.argv[1], 'rb').read()\n"
	"cal = icalendar.Calendar.from_ical(data)\n"
	"out = []\n"
	"for ev in cal.walk('VEVENT'):\n"
	"    out.append('DTSTART=' + ev.decoded('DTSTART').isoformat())\n"
	"    out.append('DTEND=' + ev.decoded('DTEND').isoformat())\n"
	"    out.append('UID=' + str(ev['UID']))\n"
	"    out.append('SUMMARY=' + str(ev['SUMMARY']))\n"
	"    out.append('ALARMS=%d' % len([c for c in ev.subcomponents if c.name == 'VALARM']))\n"
	"    d = str(ev['DESCRIPTION']).replace('\\\\', '\\\\\\\\').replace('\\n', '\\\\n')\n"
	"    out.append('DESCRIPTION=' + d)\n"
	"sys.stdout.buffer.write(('\\n'.join(out) + '\\n').encode('utf-8'))\n";

#define PYTHON "/usr/bin/python3"

static void test_real_parser(void)
{
	if (system(PYTHON " -c 'import icalendar' >/dev/null 2>&1") != 0) {
		/* Reported as a failure: a silently skipped parser check would
		 * hide a broken calendar. */
		tap_ok(false, "python3-icalendar is installed",
		       "run scripts/install-deps.sh (apt-get install -y python3-icalendar)");
		return;
	}
#define TAIL " listener=OWA — ünïcödé and a long tail that certainly needs folding " \
	"more than once to fit in seventy-five octets"
	static const char *const where[] = {
		"sapphire: iis Default Web Site:443, exchange POP;IMAP",
		"cobalt: script tmg-listener.ps1 \\" TAIL,
	};
	/* As the script prints it: the backslash doubled again. */
	static const char where1_printed[] = "cobalt: script tmg-listener.ps1 \\\\" TAIL;
	struct cs_calendar_entry e = mail_entry(ts("2027-01-03T10:00:00Z"));
	e.where = where;
	e.n_where = 2;
	e.common_name = "mail.example.org, owa";
	struct cs_calendar_entry e2 = mail_entry(ts("2026-01-01T00:00:00Z"));
	e2.cert_name = "web";
	e2.lineage_id = "web-lineage";
	e2.where = NULL;
	e2.n_where = 0;
	struct cs_calendar_entry both[2] = { e, e2 };
	char *ics = render(both, 2, ts("2026-06-01T00:00:00Z"));
	tap_ok(ics != NULL, "render for parser", NULL);
	if (!ics)
		return;

	char path[] = "/tmp/certsync-test-calendar-XXXXXX";
	int fd = mkstemp(path);
	FILE *pipe = NULL;
	char *cmd = NULL;
	struct cs_buf got = CS_BUF_INIT;
	if (!tap_ok(fd >= 0, "temporary .ics file", "mkstemp: %s", strerror(errno)))
		goto out;
	size_t len = strlen(ics);
	bool wrote = write(fd, ics, len) == (ssize_t)len;
	close(fd);
	if (!tap_ok(wrote, "write temporary .ics", NULL))
		goto out;
	char *qscript = cs_sh_quote(py_script), *qpath = cs_sh_quote(path);
	cmd = cs_xasprintf(PYTHON " -c %s %s 2>&1", qscript, qpath);
	free(qscript);
	free(qpath);
	pipe = popen(cmd, "r");
	if (!tap_ok(pipe != NULL, "run python3-icalendar", "popen: %s", strerror(errno)))
		goto out;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0)
		cs_buf_append(&got, chunk, n);
	int status = pclose(pipe);
	pipe = NULL;
	if (!tap_ok(status == 0, "icalendar parses the file", "python said:\n%s",
		    got.data ? got.data : ""))
		goto out;

	char digest[65];
	cs_sha256_hex(digest, "/srv/certsync/.certsync/mail", strlen("/srv/certsync/.certsync/mail"));
	for (int i = 0; i < 16; i++)
		digest[i] = (char)(digest[i] >= 'A' ? digest[i] - 'A' + 'a' : digest[i]);
	digest[16] = '\0';
	char *want = cs_xasprintf(
		"DTSTART=2026-12-27\n"
		"DTEND=2026-12-28\n"
		"UID=certsync-mail-%s@certsync\n"
		"SUMMARY=Renew certificate mail (mail.example.org, owa) \xE2\x80\x94 expires 2027-01-03\n"
		"ALARMS=1\n"
		"DESCRIPTION=Certificate mail (mail.example.org, owa) expires 2027-01-03.\\n"
		"serial: 1A2B\\nexpires: 2027-01-03T10:00:00Z\\ninstalled on:\\n- %s\\n- %s\\n"
		"renew with: certsync plan && certsync apply\n",
		digest, where[0], where1_printed);
	/* Only the first event's block; the second is checked by prefix. */
	const char *second = got.data ? strstr(got.data, "DTSTART=2025-12-25\n") : NULL;
	char *first = got.data ? cs_xasprintf("%.*s", (int)(second ? second - got.data : (long)got.len),
					      got.data) : NULL;
	tap_str(first, want, "parser sees date, UID, summary, one alarm, unfolded description");
	tap_ok(second && strstr(second, "UID=certsync-web-") && strstr(second, "ALARMS=1\n"),
	       "parser sees the second event (reminder already past)", "python said:\n%s",
	       got.data ? got.data : "");
	free(first);
	free(want);
out:
	if (pipe)
		pclose(pipe);
	unlink(path);
	cs_buf_free(&got);
	free(cmd);
	free(ics);
}

int main(void)
{
	test_line_rules();
	test_escaping();
	test_uid_sequence();
	test_dates();
	test_errors();
	test_real_parser();
	return tap_done();
}
