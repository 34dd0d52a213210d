/* certsync calendar: writes the RFC 5545 iCalendar of renewal reminders (see
 * calendar.h).  Everything here is about getting the format exactly right so
 * that any calendar client imports it, and re-imports it as an update: CRLF
 * line ends, content lines folded at 75 octets without splitting a UTF-8
 * sequence, TEXT escaped, and a UID that stays the same across renewals while
 * SEQUENCE grows with the expiry. */
#include "reconcile/calendar.h"

#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "providers/base/duration.h"
#include "providers/base/util.h"
#include "providers/platform/binding_kind.h"

char *cs_calendar_where(const struct cs_binding_cfg *b)
{
	char *where = cs_binding_where(b);
	char *line = cs_xasprintf("%s: %s %s%s", b->host, b->kind_ops->name, where,
				  cs_binding_reload(b) ? " (then reload)" : "");
	free(where);
	return line;
}

/* RFC 5545 §3.1: lines SHOULD NOT be longer than 75 octets, excluding CRLF. */
#define LINE_MAX_OCTETS 75

/* The reminder pops up at 09:00 on the (all-day) reminder date. */
#define ALARM_TRIGGER "PT9H"

/* Output with a sticky error, so each property is one call and the caller
 * checks once. */
struct writer {
	struct cs_buf *out;
	int r;
};

static void put(struct writer *w, const char *s, size_t len)
{
	if (w->r == 0)
		w->r = cs_buf_append(w->out, s, len);
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when the bytes
 * there are not one (stray continuation, overlong form, surrogate, beyond
 * U+10FFFF, or cut short by the end of the string). */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else
		return 0;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Append s as an RFC 5545 TEXT value (§3.3.11): backslash, semicolon and
 * comma are escaped, any line break becomes "\n".  Other control characters
 * are not allowed in TEXT and are dropped; malformed UTF-8 becomes U+FFFD so
 * the file stays valid UTF-8 and the folding below can trust it. */
static int put_text(struct cs_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);
	int r = 0;
	while (left && r == 0) {
		unsigned char c = *p;
		size_t n = 1;
		if (c == '\\' || c == ';' || c == ',') {
			char esc[2] = { '\\', (char)c };
			r = cs_buf_append(b, esc, 2);
		} else if (c == '\r' || c == '\n') {
			if (c == '\r' && left > 1 && p[1] == '\n')
				n = 2;
			r = cs_buf_append(b, "\\n", 2);
		} else if (c == '\t' || (c >= 0x20 && c != 0x7F && c < 0x80)) {
			r = cs_buf_append(b, p, 1);
		} else if (c < 0x20 || c == 0x7F) {
			/* dropped: not representable in TEXT */
		} else {
			n = utf8_seq_len(p, left);
			if (n)
				r = cs_buf_append(b, p, n);
			else {
				r = cs_buf_append(b, "\xEF\xBF\xBD", 3);
				n = 1;
			}
		}
		p += n;
		left -= n;
	}
	return r;
}

/* Write one content line, folded: after at most 75 octets a CRLF and a single
 * space start a continuation line (whose 75 octets include that space).  A
 * fold never lands inside a UTF-8 sequence, because clients that unfold
 * byte-wise would otherwise see two broken characters. */
static void put_line(struct writer *w, const char *line, size_t len)
{
	size_t pos = 0;
	bool first = true;
	for (;;) {
		size_t room = first ? LINE_MAX_OCTETS : LINE_MAX_OCTETS - 1;
		size_t end = pos + room;
		if (end >= len) {
			if (!first)
				put(w, " ", 1);
			put(w, line + pos, len - pos);
			put(w, "\r\n", 2);
			return;
		}
		/* Back up to a character boundary; the text is valid UTF-8,
		 * so at most three continuation bytes are skipped. */
		while (end > pos && ((unsigned char)line[end] & 0xC0) == 0x80)
			end--;
		if (!first)
			put(w, " ", 1);
		put(w, line + pos, end - pos);
		put(w, "\r\n", 2);
		pos = end;
		first = false;
	}
}

/* name (with any parameters) ":" value, value written as is. */
static void prop_raw(struct writer *w, const char *name, const char *value)
{
	struct cs_buf line = CS_BUF_INIT;
	int r = cs_buf_puts(&line, name);
	if (r == 0)
		r = cs_buf_puts(&line, ":");
	if (r == 0)
		r = cs_buf_puts(&line, value);
	if (r < 0 && w->r == 0)
		w->r = r;
	if (r == 0)
		put_line(w, line.data, line.len);
	cs_buf_free(&line);
}

/* name ":" value, value escaped as TEXT. */
static void prop_text(struct writer *w, const char *name, const char *value)
{
	struct cs_buf esc = CS_BUF_INIT;
	int r = put_text(&esc, value);
	if (r < 0 && w->r == 0)
		w->r = r;
	prop_raw(w, name, esc.data ? esc.data : "");
	cs_buf_free(&esc);
}

/* "20261127" / "20261127T050420Z" in UTC; -ERANGE outside the years
 * 0000..9999 (out then holds an empty string), which iCalendar cannot
 * write. */
static int format_utc(char *out, size_t size, const char *fmt, size_t want, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	out[0] = '\0';
	if ((int64_t)tt != t || !gmtime_r(&tt, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -ERANGE;
	if (strftime(out, size, fmt, &tm) != want) {
		out[0] = '\0';
		return -ERANGE;
	}
	return 0;
}

static int format_date(char out[9], int64_t t)
{
	return format_utc(out, 9, "%Y%m%d", 8, t);
}

static int format_stamp(char out[17], int64_t t)
{
	return format_utc(out, 17, "%Y%m%dT%H%M%SZ", 16, t);
}

/* SEQUENCE must grow when the certificate is renewed so that a client
 * re-importing the file replaces the old reminder rather than keeping it:
 * minutes of not_after, which fit the 31 bits clients expect until the year
 * 6053 and still tell apart two certificates issued the same day. */
static long long sequence_of(int64_t not_after)
{
	if (not_after <= 0)
		return 0;
	int64_t m = not_after / 60;
	return m > INT32_MAX ? INT32_MAX : (long long)m;
}

static void write_event(struct writer *w, const struct cs_calendar_entry *e, const char *stamp)
{
	char digest[65], when[9], next[9], expires_date[11], expires_at[21];
	cs_sha256_hex(digest, e->lineage_id, strlen(e->lineage_id));
	for (int i = 0; i < 16; i++)
		digest[i] = (char)(digest[i] >= 'A' ? digest[i] - 'A' + 'a' : digest[i]);
	digest[16] = '\0';
	/* All-day event on the UTC date of the reminder; a date in the past is
	 * written the same way, the client shows it as overdue. */
	int64_t remind_at = e->not_after - e->remind_before;
	format_date(when, remind_at);
	format_date(next, remind_at + 86400);
	cs_time_date(expires_date, e->not_after);
	cs_time_rfc3339(expires_at, e->not_after);

	char *uid = cs_xasprintf("certsync-%s-%s@certsync", e->cert_name, digest);
	char *summary;
	if (e->common_name && e->common_name[0])
		summary = cs_xasprintf("Renew certificate %s (%s) \xE2\x80\x94 expires %s",
				       e->cert_name, e->common_name, expires_date);
	else
		summary = cs_xasprintf("Renew certificate %s \xE2\x80\x94 expires %s",
				       e->cert_name, expires_date);

	struct cs_buf desc = CS_BUF_INIT;
	int r = cs_buf_printf(&desc, "Certificate %s", e->cert_name);
	if (r == 0 && e->common_name && e->common_name[0])
		r = cs_buf_printf(&desc, " (%s)", e->common_name);
	if (r == 0)
		r = cs_buf_printf(&desc, " expires %s.\nserial: %s\nexpires: %s", expires_date,
				  e->serial && e->serial[0] ? e->serial : "unknown", expires_at);
	if (r == 0 && e->n_where)
		r = cs_buf_puts(&desc, "\ninstalled on:");
	for (size_t i = 0; r == 0 && i < e->n_where; i++)
		r = cs_buf_printf(&desc, "\n- %s", e->where[i] ? e->where[i] : "");
	if (r == 0)
		r = cs_buf_puts(&desc, "\nrenew with: certsync plan && certsync apply");
	if (r < 0 && w->r == 0)
		w->r = r;
	char seq[24];
	snprintf(seq, sizeof seq, "%lld", sequence_of(e->not_after));

	prop_raw(w, "BEGIN", "VEVENT");
	prop_text(w, "UID", uid);
	prop_raw(w, "DTSTAMP", stamp);
	prop_raw(w, "DTSTART;VALUE=DATE", when);
	prop_raw(w, "DTEND;VALUE=DATE", next);
	prop_raw(w, "SEQUENCE", seq);
	prop_text(w, "SUMMARY", summary);
	prop_text(w, "DESCRIPTION", desc.data ? desc.data : "");
	prop_raw(w, "TRANSP", "TRANSPARENT");
	prop_raw(w, "CATEGORIES", "certificates");
	prop_raw(w, "BEGIN", "VALARM");
	prop_raw(w, "ACTION", "DISPLAY");
	prop_text(w, "DESCRIPTION", summary);
	prop_raw(w, "TRIGGER;RELATED=START", ALARM_TRIGGER);
	prop_raw(w, "END", "VALARM");
	prop_raw(w, "END", "VEVENT");

	cs_buf_free(&desc);
	free(summary);
	free(uid);
}

int cs_calendar_write(struct cs_buf *out, const struct cs_calendar_entry *entries,
		      size_t n, int64_t now, struct cs_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct cs_calendar_entry *e = &entries[i];
		if (!e->cert_name || !e->cert_name[0])
			return cs_err_set(err, -EINVAL, "calendar: entry %zu has no certificate name", i);
		if (!e->lineage_id || !e->lineage_id[0])
			return cs_err_set(err, -EINVAL, "calendar: certificate %s has no lineage id",
					  e->cert_name);
		/* Every date the event holds must be writable, checked before
		 * anything is written so that no half calendar comes out. */
		char d[17], expiry[21], before[64];
		if (e->remind_before < 0 || e->not_after < INT64_MIN + e->remind_before ||
		    format_date(d, e->not_after - e->remind_before) < 0 ||
		    format_date(d, e->not_after - e->remind_before + 86400) < 0 ||
		    format_stamp(d, e->not_after) < 0) {
			cs_time_rfc3339(expiry, e->not_after);
			cs_duration_format(before, sizeof before, e->remind_before);
			return cs_err_set(err, -ERANGE, "calendar: certificate %s: a reminder %s before its expiry "
					  "%s falls outside the years 0000 to 9999", e->cert_name, before, expiry);
		}
	}

	struct writer w = { out, 0 };
	char stamp[17];
	if (format_stamp(stamp, now) < 0)
		return cs_err_set(err, -ERANGE, "calendar: the current time %lld is outside the years 0000 to 9999",
				  (long long)now);
	prop_raw(&w, "BEGIN", "VCALENDAR");
	prop_raw(&w, "VERSION", "2.0");
	prop_raw(&w, "PRODID", "-//certsync//certsync 0.1//EN");
	prop_raw(&w, "CALSCALE", "GREGORIAN");
	prop_raw(&w, "METHOD", "PUBLISH");
	prop_raw(&w, "X-WR-CALNAME", "certsync");
	for (size_t i = 0; i < n; i++)
		write_event(&w, &entries[i], stamp);
	prop_raw(&w, "END", "VCALENDAR");
	if (w.r < 0)
		return cs_err_errno(err, w.r, "calendar: write");
	return 0;
}
