/* The summary record `certsync apply` leaves in the journal at the end of
 * every run, and finding the latest one again (for `certsync metrics`).
 *
 * The journal (STATE/journal.jsonl, see store.h) holds one record per
 * executed action ({"time", "action", "id", "result", ...}); the summary is
 * told apart by "type": "apply", which action records never carry:
 *
 *   {"time":"2026-05-01T03:00:12Z","type":"apply","started":"2026-05-01T03:00:02Z",
 *    "result":"success","actions":4,"done":4,"waiting":0,"failed":0,
 *    "skipped":0,"rolled_back":0,"plan_errors":0}
 *
 * "time" (added by the journal) is when the run ended.  "result" is "success"
 * when apply exited 0 (nothing failed and everything could be planned),
 * "failure" otherwise.  A run with nothing to do still leaves a record: it
 * shows that apply runs and found everything as declared. */
#ifndef CS_APPLY_RECORD_H
#define CS_APPLY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "err.h"

struct cs_apply_record {
	int64_t started;        /* unix seconds */
	int64_t finished;       /* the record's "time" */
	bool success;
	size_t actions;         /* in the plan that was executed */
	size_t done, waiting, failed, skipped, rolled_back;
	size_t plan_errors;     /* parts that could not be planned */
	size_t recovered;       /* temporary files of runs that did not finish, removed
				   ("recovered", only when not 0) */
};

/* The record as a journal object (without "time": the journal adds it). */
json_t *cs_apply_record_json(const struct cs_apply_record *r);

/* The newest summary record in the journal file at path.  The journal only
 * grows, so it is read from the end, in growing windows (64 KiB, then 4
 * times more each round) up to max_bytes from the end: years of history are
 * never read to find last night's run.  1 and *out when found; 0 when there
 * is none within reach (or no journal at all); negative with a message when
 * the file cannot be read.  Lines that are not JSON are skipped. */
#define CS_APPLY_RECORD_MAX_SCAN (16u << 20)
int cs_apply_record_last(struct cs_apply_record *out, const char *path, size_t max_bytes,
			 struct cs_err *err);

#endif
