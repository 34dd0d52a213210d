/* Prometheus text exposition format (version 0.0.4), the writing side only:
 * metric families with their HELP and TYPE lines, then samples with labels.
 *
 *   # HELP certsync_host_reachable 1 when the host could be reached ...
 *   # TYPE certsync_host_reachable gauge
 *   certsync_host_reachable{host="web1"} 1
 *
 * Label values are escaped as the format demands (backslash, double quote,
 * newline), HELP text likewise (backslash, newline).  Metric and label names
 * are constants chosen by the caller: they are checked, and a bad one aborts
 * (it is a programming error, not something a config can cause). */
#ifndef CS_PROM_H
#define CS_PROM_H

#include <stdbool.h>
#include "providers/base/buf.h"

/* "# HELP name help" and "# TYPE name type" (type: "gauge", "counter", ...).
 * Every sample of a family must follow its cs_prom_family() without another
 * family in between: the format requires a family's samples to be together. */
void cs_prom_family(struct cs_buf *out, const char *name, const char *type, const char *help);

/* One sample line: name{label="value",...} value.  The variable arguments
 * are label name / value pairs (const char *), ended by NULL; a NULL value
 * writes an empty one.  Integral values print as integers (timestamps stay
 * exact), others with the fewest digits that read back to the same double;
 * NaN and infinities as "NaN", "+Inf", "-Inf". */
void cs_prom_sample(struct cs_buf *out, const char *name, double value, ...);

/* The escaping, for tests and for anyone building lines by hand. */
void cs_prom_escape_label(struct cs_buf *out, const char *value);
void cs_prom_escape_help(struct cs_buf *out, const char *text);
void cs_prom_value(struct cs_buf *out, double value);

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metrics; labels the same without ':' and not
 * starting with "__" (reserved). */
bool cs_prom_metric_name_ok(const char *name);
bool cs_prom_label_name_ok(const char *name);

#endif
