/* Inventory for `certsync status`: per certificate what the store holds and,
 * per binding, whether the host carries it (in sync) or something else
 * (drifted).  Built as JSON so --json and the human table share one model. */
#ifndef CS_STATUS_H
#define CS_STATUS_H

#include <jansson.h>
#include "reconcile/observe.h"

/* {"now": "...", "certificates": [{"name", "common_name", "issuer", "serial",
 *   "not_after", "days_left", "not_before", "renew_at" (not_after -
 *   renew_before), "remind_at" (not_after - remind_before), "state", "renewal" (why a renewal is due, as
 *   plan gives it), "pending", "bindings": [{"host",
 *   "kind", "where", "state", "detail"}], "endpoints": [{"connect", "host",
 *   "serial", "subject", "sha256", "state", "detail"}]}], "hosts": [{"name",
 *   "platform", "reachable", "error"}]}
 * state of a certificate: "valid", "renewal due", "expired", "missing",
 * "error"; of a binding: "in sync", "drifted", "error", "unknown"; of an
 * endpoint (each verify entry, probed once now): "in sync", "drifted",
 * "chain error", "error". */
json_t *cs_status_report(const struct cs_observed *obs);

/* One binding (certificate i, binding j) against want, the current
 * certificate (NULL when the store has none): the "state" of the report, and
 * in *detail (caller frees, may be NULL) the why.  Shared with metrics so both
 * commands call the same thing drift. */
enum cs_binding_state {
	CS_BINDING_UNKNOWN = 0,  /* nothing to compare with (no certificate yet) */
	CS_BINDING_IN_SYNC,
	CS_BINDING_DRIFTED,
	CS_BINDING_ERROR,        /* the host or the binding could not be observed */
};
enum cs_binding_state cs_binding_state(const struct cs_observed *obs, size_t i, size_t j,
				      const struct cs_material *want, char **detail);

#endif
