/* Diagnostics list for validation (see diag.h). */
#include "providers/base/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

void cs_diags_add(struct cs_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = cs_xvasprintf(fmt, ap);
	va_end(ap);
	d->v = cs_xrealloc(d->v, (d->n + 1) * sizeof *d->v);
	d->v[d->n].file = cs_xstrdup(file ? file : "");
	d->v[d->n].line = line;
	d->v[d->n].col = col;
	d->v[d->n].msg = text;
	d->n++;
}

void cs_diags_sort(struct cs_diags *d)
{
	/* Insertion sort: stable, and lists are short. */
	for (size_t i = 1; i < d->n; i++) {
		struct cs_diag x = d->v[i];
		size_t j = i;
		while (j > 0 && (d->v[j - 1].line > x.line ||
				 (d->v[j - 1].line == x.line && d->v[j - 1].col > x.col))) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = x;
	}
}

void cs_diags_free(struct cs_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}
