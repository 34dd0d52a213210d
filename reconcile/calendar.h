/* certsync calendar: an RFC 5545 iCalendar with one all-day reminder per
 * certificate, remind_before ahead of its expiry. */
#ifndef CS_CALENDAR_H
#define CS_CALENDAR_H

#include <stddef.h>
#include <stdint.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

/* One certificate to remind about.  All strings are borrowed. */
struct cs_calendar_entry {
	const char *cert_name;       /* config name: the UID is derived from it and
					lineage_id, so re-importing updates the event */
	const char *lineage_id;      /* stable per certificate lineage (e.g. the
					state folder's absolute path + name hashed) */
	const char *common_name;
	const char *serial;          /* current serial (hex) */
	int64_t not_after;           /* expiry, unix seconds */
	int64_t remind_before;       /* seconds */
	const char *const *where;    /* "host: binding" lines for the description */
	size_t n_where;
};

/* Append a complete VCALENDAR (CRLF line ends, lines folded at 75 octets,
 * text escaped per RFC 5545 §3.3.11) to out.  One VEVENT per entry, all-day
 * (DTSTART;VALUE=DATE) on the date of not_after - remind_before, with a
 * VALARM (DISPLAY, at the start of that day) and DTSTAMP = now.
 * Entries are written in the order given. */
int cs_calendar_write(struct cs_buf *out, const struct cs_calendar_entry *entries,
		      size_t n, int64_t now, struct cs_err *err);

struct cs_binding_cfg;
/* The "host: binding" line of binding b for an entry's where: "web1: files
 * /a.crt, /a.key (then reload)".  Caller frees. */
char *cs_calendar_where(const struct cs_binding_cfg *b);

#endif
