/* `certsync metrics`: what status knows, plus the plan's verdict and the
 * last apply's outcome, as Prometheus metrics (docs/metrics.md lists them).
 *
 * Output order is fixed: families in the order of docs/metrics.md, samples
 * in config order (certificates, their bindings and verify entries, hosts),
 * so two runs over the same state differ only in the values that changed
 * (and the scrape duration).  Labels only carry names and places from the
 * config (and fixed words such as certsync_state_problem's reason), never
 * error texts: those would make a new series for every new message, and
 * could quote things no dashboard should keep. */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stdbool.h>
#include <time.h>
#include "reconcile/apply_record.h"
#include "providers/base/buf.h"
#include "reconcile/observe.h"
#include "reconcile/plan.h"

struct cs_metrics_input {
	const struct cs_observed *obs;
	const struct cs_plan *plan;            /* made from obs */
	const struct cs_apply_record *last_apply; /* NULL: no apply recorded yet */
	const char *version;
	bool probe;                            /* connect to verify endpoints */
	const char *state_problem;             /* NULL when the state folder is fine, else a
						  fixed word: "unsafe_key_file", "folder_open_to_others",
						  "not_a_folder", "folder_unreadable", "journal_unreadable" */
	struct timespec started;               /* CLOCK_MONOTONIC when the command began */
};

void cs_metrics_write(struct cs_buf *out, const struct cs_metrics_input *in);

#endif
