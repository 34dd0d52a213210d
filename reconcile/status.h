/* Inventory for `certsync status`: per certificate what the store holds and,
 * per binding, whether the host carries it (in sync) or something else
 * (drifted).  Built as JSON so --json and the human table share one model. */
#ifndef CS_STATUS_H
#define CS_STATUS_H

#include <jansson.h>
#include "observe.h"

/* {"now": "...", "certificates": [{"name", "common_name", "issuer", "serial",
 *   "not_after", "days_left", "state", "renewal" (why a renewal is due, as
 *   plan gives it), "pending", "bindings": [{"host",
 *   "kind", "where", "state", "detail"}], "endpoints": [{"connect", "host",
 *   "serial", "subject", "sha256", "state", "detail"}]}], "hosts": [{"name",
 *   "platform", "reachable", "error"}]}
 * state of a certificate: "valid", "renewal due", "expired", "missing",
 * "error"; of a binding: "in sync", "drifted", "error", "unknown"; of an
 * endpoint (each verify entry, probed once now): "in sync", "drifted",
 * "chain error", "error". */
json_t *cs_status_report(const struct cs_observed *obs);

#endif
