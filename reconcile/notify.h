/* Notifications at the end of an apply (the config's `notify:` list,
 * providers/notify/notify.h for the notifiers themselves).
 *
 * While the executor runs, cs_notify_run_event() sees every event (and
 * hands it on to the caller's handler): what failed and what was rolled
 * back.  At the end cs_notify_run_finish() makes the events each notifier
 * asked for, from those, the plan's errors, the state folder's owed reboots
 * and the observed certificates, and delivers them, one JSON document per
 * event (docs/config.md, "Notifications"):
 *
 *   {"event": "failed", "time": "2026-12-04T10:00:00Z", "config": PATH,
 *    "summary": "certsync apply: 1 action failed", "items": [{...}, ...]}
 *
 * An event with no items is not sent.  A delivery that fails never changes
 * what apply did or its exit status: it comes back as a warning to show. */
#ifndef CS_NOTIFY_RUN_H
#define CS_NOTIFY_RUN_H

#include <stddef.h>
#include <jansson.h>
#include "reconcile/executor.h"
#include "reconcile/observe.h"
#include "reconcile/plan.h"

struct cs_notify_run {
	const struct cs_config *cfg;
	cs_event_fn forward;        /* the caller's handler, or NULL */
	void *forward_ctx;
	json_t *failures;           /* [{certificate, host, action, summary, message}] */
	json_t *rollbacks;          /* [{certificate, host, action, summary, what}] */
	json_t *failed_renewals;    /* {certificate: message} */
};

void cs_notify_run_init(struct cs_notify_run *r, const struct cs_config *cfg, cs_event_fn forward, void *ctx);
/* A cs_event_fn; ctx is the struct cs_notify_run. */
void cs_notify_run_event(void *ctx, const struct cs_event *ev);
/* Send what the config's notifiers asked for.  sum may be NULL (nothing
 * was executed).  *warnings gets one message per delivery that failed
 * (caller frees each and the array); none when nothing is configured. */
void cs_notify_run_finish(struct cs_notify_run *r, const struct cs_plan *plan, const struct cs_observed *obs,
			  const struct cs_exec_summary *sum, char ***warnings, size_t *n_warnings);
void cs_notify_run_free(struct cs_notify_run *r); /* members only; accepts NULL */

/* The JSON of event ev (a CS_NOTIFY_* bit) for notifier n as
 * cs_notify_run_finish() would send it, or NULL when it has no items. */
json_t *cs_notify_run_event_json(const struct cs_notify_run *r, unsigned ev, const struct cs_notify_cfg *n,
				 const struct cs_plan *plan, const struct cs_observed *obs,
				 const struct cs_exec_summary *sum);

#endif
