/* Diagnostics: the list of FILE:LINE:COL: message problems that validation
 * collects, so that every error of a file is reported at once.  cmd/ prints
 * them (cs_diags_print in cmd/render.c). */
#ifndef CS_DIAG_H
#define CS_DIAG_H

#include <stddef.h>
#include "providers/base/err.h"

struct cs_diag {
	char *file;
	int line, col;   /* 1-based; 0 when the problem is not tied to a place */
	char *msg;       /* lowercase, no trailing period */
};

struct cs_diags {
	struct cs_diag *v;
	size_t n;
	size_t cap;             /* room in v */
};

#define CS_DIAGS_INIT { NULL, 0, 0 }

void cs_diags_add(struct cs_diags *d, const char *file, int line, int col,
		  const char *fmt, ...) CS_PRINTF(5, 6);
/* Sort by line then column (stable), as validate prints them. */
void cs_diags_sort(struct cs_diags *d);
void cs_diags_free(struct cs_diags *d);

#endif
