/* A tiny TAP producer for the table-driven unit tests: one "ok N - name" or
 * "not ok N - name" per case, the plan line at the end.  tests/run counts
 * these lines; meson reads them with protocol: 'tap'. */
#ifndef CS_TAP_H
#define CS_TAP_H

#include <stdbool.h>
#include "providers/base/err.h"

/* Report one case; on failure the formatted detail is printed as a TAP
 * comment.  Returns cond. */
bool tap_ok(bool cond, const char *name, const char *fmt, ...) CS_PRINTF(3, 4);
/* Compare strings; NULL-safe; prints both on mismatch. */
bool tap_str(const char *got, const char *want, const char *name);
bool tap_int(long long got, long long want, const char *name);
/* Print the plan line and return the exit status for main(). */
int tap_done(void);
/* Note that goes to the TAP stream as a comment. */
void tap_note(const char *fmt, ...) CS_PRINTF(1, 2);

#endif
