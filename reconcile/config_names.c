/* Reading the loaded model: look-ups by name and the printable names of
 * the enums (see config.h). */
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

bool cs_verify_covers(const struct cs_cert_cfg *cert, const struct cs_verify_cfg *v, size_t h)
{
	if (!v->all_hosts)
		return v->host_index == h;
	for (size_t j = 0; j < cert->n_bindings; j++)
		if (cert->bindings[j].host_index == h)
			return true;
	return false;
}

const char *cs_binding_kind_label(const struct cs_binding_cfg *b)
{
	return b->kind_ops ? b->kind_ops->name : "?";
}

void cs_binding_details(const struct cs_binding_cfg *b,
			void (*row)(void *ctx, const char *name, const char *value, bool literal), void *ctx)
{
	if (!b->kind_ops)
		return;
	if (b->kind_ops->details) {
		b->kind_ops->details(b, row, ctx);
		return;
	}
	if (!b->kind_ops->describe)
		return;
	struct cs_buf s = CS_BUF_INIT;
	b->kind_ops->describe(b, &s);
	row(ctx, b->kind_ops->name, s.data ? s.data : "", false);
	cs_buf_free(&s);
}
