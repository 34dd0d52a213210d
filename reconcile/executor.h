/* Executor: carry out a plan.
 *
 * Renewals first (in plan order), then every host in parallel up to
 * settings.parallelism, each host's actions in plan order: bindings, reload
 * commands, verifications.  A failure stops only what depends on it:
 *   - a failed renew skips that certificate's bindings everywhere;
 *   - a failed bind is undone at once (its files put back byte for byte); the
 *     verifications of that certificate on that host are skipped;
 *   - a failed reload puts back the files of the bindings that named it and
 *     runs the command again, so the service is back on the old files;
 *   - a failed verify puts back that certificate's files on that host and
 *     runs their reload commands again.
 * Every action's outcome goes to the journal and is reported as an event;
 * the executor prints nothing itself. */
#ifndef CS_EXECUTOR_H
#define CS_EXECUTOR_H

#include <stddef.h>
#include "observe.h"
#include "plan.h"

enum cs_event_kind {
	CS_EV_START = 1,      /* an action begins */
	CS_EV_DONE,           /* ... succeeded (text: details, may be NULL) */
	CS_EV_WAITING,        /* ... succeeded and now waits for someone (manual CA) */
	CS_EV_FAILED,         /* ... failed (text: the error) */
	CS_EV_SKIPPED,        /* not run (text: because ...) */
	CS_EV_ROLLBACK,       /* changes were put back (text: what) */
	CS_EV_ROLLBACK_FAILED,/* putting back failed: needs a human (text: error) */
	CS_EV_WARNING,        /* the work stands, but certsync's own records about it
				 (journal, state folder) could not be kept (text: what) */
};

struct cs_event {
	enum cs_event_kind kind;
	const struct cs_action *action;  /* never NULL */
	const char *text;
};

/* Called from several threads, but never concurrently (the executor holds a
 * lock around it). */
typedef void (*cs_event_fn)(void *ctx, const struct cs_event *ev);

struct cs_exec_summary {
	size_t done, waiting, failed, skipped, rolled_back;
	size_t warnings;                 /* CS_EV_WARNING events: apply exits 1 */
};

/* Run plan against what obs observed (its transports are used and stay
 * open).  Returns 0 when nothing failed and there was no warning, -EIO
 * otherwise (details were reported as events).  The caller holds the store lock. */
int cs_execute(struct cs_exec_summary *out, const struct cs_plan *plan, struct cs_observed *obs,
	       cs_event_fn on_event, void *ctx);

/* Apply, holding the lock, before it plans: remove the temporary files that
 * runs which did not finish left (their records, see store_runs.h) in the
 * state folder and on every host of obs that is reachable, and forget the
 * records that are then settled.  *removed counts the files; *note (caller
 * frees) says what was done, or NULL when there was nothing.  Negative with
 * err when a record cannot be read; a host that cannot be cleaned keeps its
 * record for the next apply and is named in *note. */
int cs_recover_temps(size_t *removed, char **note, struct cs_observed *obs, struct cs_err *err);

#endif
