/* The list of what discover found (see discover.h). */
#include "providers/platform/discover.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

struct cs_found *cs_found_add(struct cs_found_list *l)
{
	l->v = cs_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	struct cs_found *f = &l->v[l->n++];
	memset(f, 0, sizeof *f);
	return f;
}

struct cs_found_binding *cs_found_binding_add(struct cs_found *f, const char *kind)
{
	f->bindings = cs_xrealloc(f->bindings, (f->n_bindings + 1) * sizeof *f->bindings);
	struct cs_found_binding *b = &f->bindings[f->n_bindings++];
	memset(b, 0, sizeof *b);
	b->kind = kind;
	return b;
}

void cs_found_row(struct cs_found_binding *b, const char *key, const char *value)
{
	if (b->n == CS_FOUND_MAX_ROWS)
		return;
	b->keys[b->n] = cs_xstrdup(key);
	b->values[b->n] = cs_xstrdup(value);
	b->n++;
}

void cs_found_row_plain(struct cs_found_binding *b, const char *key, const char *value)
{
	if (b->n == CS_FOUND_MAX_ROWS)
		return;
	b->plain[b->n] = true;
	cs_found_row(b, key, value);
}

void cs_found_problem(struct cs_found_list *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = cs_xvasprintf(fmt, ap);
	va_end(ap);
	l->problems = cs_xrealloc(l->problems, (l->n_problems + 1) * sizeof *l->problems);
	l->problems[l->n_problems++] = s;
}

void cs_found_free(struct cs_found *f)
{
	if (!f)
		return;
	free(f->service);
	free(f->source);
	for (size_t i = 0; i < f->n_bindings; i++)
		for (size_t k = 0; k < f->bindings[i].n; k++) {
			free(f->bindings[i].keys[k]);
			free(f->bindings[i].values[k]);
		}
	free(f->bindings);
	free(f->reload);
	X509_free(f->cert);
	if (f->chain)
		sk_X509_pop_free(f->chain, X509_free);
	EVP_PKEY_free(f->key);
	free(f->key_problem);
	memset(f, 0, sizeof *f);
}

void cs_found_list_free(struct cs_found_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		cs_found_free(&l->v[i]);
	free(l->v);
	cs_strv_free(l->problems, l->n_problems);
	memset(l, 0, sizeof *l);
}
