/* TEMPORARY stand-in from the wt-crypto branch so the issuers link and can be
 * tested; the config branch's config_names.c replaces this file on merge. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **cs_cert_names(const struct cs_cert_cfg *cert, size_t *out_n)
{
	size_t n = 0;
	char **v = cs_xcalloc(cert->n_dns_names + 1, sizeof *v);
	if (cert->common_name)
		v[n++] = cs_xstrdup(cert->common_name);
	for (size_t i = 0; i < cert->n_dns_names; i++)
		v[n++] = cs_xstrdup(cert->dns_names[i]);
	for (size_t i = 0; i < n; i++)
		for (char *c = v[i]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	qsort(v, n, sizeof *v, cmp_str);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w > 0 && strcmp(v[i], v[w - 1]) == 0)
			free(v[i]);
		else
			v[w++] = v[i];
	}
	*out_n = w;
	return v;
}
