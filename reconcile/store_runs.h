/* Run records in the state folder (an addition to store.h): what an apply
 * may leave behind if it is killed, so that the next apply removes exactly
 * that and nothing else.
 *
 *   STATE/runs/TAG.json    {"pid", "started", "hosts": {HOST: [PATH, ...]}}
 *
 * Written (fsync'd) by the apply with run tag TAG before it changes
 * anything; removed when it ends.  Every temporary file certsync creates
 * carries TAG in its name (".BASENAME.certsync-TAG-XXXXXX" beside PATH, and
 * in the state folder), so a record left behind names precisely what the
 * killed run may have left: the next apply, holding the lock, removes those
 * files on every host it can reach and drops the record once all are done. */
#ifndef CS_STORE_RUNS_H
#define CS_STORE_RUNS_H

#include <stddef.h>
#include <jansson.h>
#include "providers/base/err.h"
#include "reconcile/store.h"

/* Record this run (cs_store_run(st)) with hosts: {HOST: [PATH, ...]}. */
int cs_store_run_begin(struct cs_store *st, json_t *hosts, struct cs_err *err);
/* The run ended: its temporaries are gone. */
int cs_store_run_end(struct cs_store *st, struct cs_err *err);

/* Records of other runs: {TAG: record}, empty when there are none. */
int cs_store_runs_load(json_t **out, struct cs_store *st, struct cs_err *err);
/* Replace (record non-NULL) or remove (NULL) run TAG's record. */
int cs_store_run_update(struct cs_store *st, const char *tag, json_t *record, struct cs_err *err);

/* Remove the temporary files of every run but tag (this run's, the lock
 * holder's) anywhere in the state folder; *removed counts them.  Only
 * certsync writes there, and only under the lock: another run's temporary
 * file is one a killed run left, including those of its run record. */
int cs_store_remove_temps(struct cs_store *st, const char *tag, size_t *removed, struct cs_err *err);

/* Is name a temporary file of run tag (".X.certsync-TAG-...")? */
bool cs_is_temp_of(const char *name, const char *tag);

#endif
