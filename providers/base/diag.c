/* Diagnostics list for validation (see diag.h). */
#include "providers/base/diag.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

void cs_diags_add(struct cs_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = cs_xvasprintf(fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		/* Geometric: a broken file of 100,000 certificates has 200,000 diagnostics. */
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = cs_xrealloc(d->v, d->cap * sizeof *d->v);
	}
	d->v[d->n].file = cs_xstrdup(file ? file : "");
	d->v[d->n].line = line;
	d->v[d->n].col = col;
	d->v[d->n].msg = text;
	d->n++;
}

static bool diag_before(const struct cs_diag *a, const struct cs_diag *b)
{
	return a->line < b->line || (a->line == b->line && a->col < b->col);
}

void cs_diags_sort(struct cs_diags *d)
{
	/* A stable merge sort, bottom up: the order of diagnostics at one
	 * position stays as reported, and a list of 200,000 in any order
	 * costs n log n. */
	if (d->n < 2)
		return;
	struct cs_diag *tmp = cs_xcalloc(d->n, sizeof *tmp);
	struct cs_diag *from = d->v, *to = tmp;
	for (size_t width = 1; width < d->n; width *= 2) {
		for (size_t lo = 0; lo < d->n; lo += 2 * width) {
			size_t mid = lo + width < d->n ? lo + width : d->n;
			size_t hi = lo + 2 * width < d->n ? lo + 2 * width : d->n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				to[k++] = diag_before(&from[j], &from[i]) ? from[j++] : from[i++];
			while (i < mid)
				to[k++] = from[i++];
			while (j < hi)
				to[k++] = from[j++];
		}
		struct cs_diag *t = from;
		from = to;
		to = t;
	}
	if (from != d->v)
		memcpy(d->v, from, d->n * sizeof *d->v);
	free(tmp);
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
	d->n = d->cap = 0;
}
