/* The declared SAN set of a certificate (see cert_cfg.h). */
#include "providers/base/cert_cfg.h"

#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

static char *lowercase_dup(const char *s)
{
	char *d = cs_xstrdup(s);
	/* DNS names are ASCII (validation refuses anything else), so a plain
	 * ASCII fold is exact and independent of the locale. */
	for (char *p = d; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **cs_cert_names(const struct cs_cert_cfg *cert, size_t *out_n)
{
	size_t n = 0;
	char **v = cs_xcalloc(cert->n_dns_names + 1, sizeof *v);
	if (cert->common_name)
		v[n++] = lowercase_dup(cert->common_name);
	for (size_t i = 0; i < cert->n_dns_names; i++)
		v[n++] = lowercase_dup(cert->dns_names[i]);
	qsort(v, n, sizeof *v, cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	*out_n = k;
	return v;
}

