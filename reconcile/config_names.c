/* Reading the loaded model: look-ups by name, the declared SAN set of a
 * certificate, and the printable names of the enums (see config.h). */
#include "reconcile/config.h"

#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"
#include "providers/platform/binding_kind.h"

const struct cs_host_cfg *cs_config_host(const struct cs_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	size_t at;
	if (cfg->host_names.n == cfg->n_hosts && cfg->n_hosts)
		return cs_strmap_get(&cfg->host_names, name, &at) ? &cfg->hosts[at] : NULL;
	for (size_t i = 0; i < cfg->n_hosts; i++)
		if (strcmp(cfg->hosts[i].name, name) == 0)
			return &cfg->hosts[i];
	return NULL;
}

const struct cs_issuer_cfg *cs_config_issuer(const struct cs_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->n_issuers; i++)
		if (strcmp(cfg->issuers[i].name, name) == 0)
			return &cfg->issuers[i];
	return NULL;
}

const struct cs_cert_cfg *cs_config_cert(const struct cs_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	size_t at;
	if (cfg->cert_names.n == cfg->n_certs && cfg->n_certs)
		return cs_strmap_get(&cfg->cert_names, name, &at) ? &cfg->certs[at] : NULL;
	for (size_t i = 0; i < cfg->n_certs; i++)
		if (strcmp(cfg->certs[i].name, name) == 0)
			return &cfg->certs[i];
	return NULL;
}

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

const char *cs_key_spec_name(const struct cs_key_spec *spec)
{
	if (spec->type == CS_KEY_ECDSA)
		return spec->curve == CS_CURVE_P384 ? "ecdsa p384" : "ecdsa p256";
	switch (spec->bits) {
	case 3072:
		return "rsa 3072";
	case 4096:
		return "rsa 4096";
	default:
		return "rsa 2048";
	}
}

const char *cs_binding_kind_name(enum cs_binding_kind_id kind)
{
	const struct cs_binding_kind *k = cs_binding_kind_by_id(kind);
	return k ? k->name : "unknown";
}

const char *cs_platform_name(enum cs_platform p)
{
	switch (p) {
	case CS_PLATFORM_LINUX:
		return "linux";
	case CS_PLATFORM_WINDOWS:
		return "windows";
	}
	return "unknown";
}

const char *cs_issuer_kind_name(enum cs_issuer_kind k)
{
	switch (k) {
	case CS_ISSUER_CA:
		return "ca";
	case CS_ISSUER_MANUAL:
		return "manual";
	case CS_ISSUER_ACME:
		return "acme";
	}
	return "unknown";
}

char *cs_binding_where(const struct cs_binding_cfg *b)
{
	struct cs_buf s = CS_BUF_INIT;
	const struct cs_binding_kind *k = cs_binding_kind_by_id(b->kind);
	if (k && k->describe)
		k->describe(b, &s);
	char *r = cs_buf_detach(&s, NULL);
	return r ? r : cs_xstrdup("");
}
