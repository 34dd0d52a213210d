/* Fuzzes the config loader: the input is the bytes of a certsync.yaml, fed
 * to cs_config_load_string() (reconcile/config.c: libyaml, the schema,
 * every reference and value check, the diagnostics), as `certsync validate`
 * would load it.  A config that loads is also walked the way plan and the
 * renderers do (SAN sets, binding descriptions, kind names), and the
 * diagnostics of one that does not are formatted.
 *
 * Relative paths resolve against a private temporary folder, so script
 * bindings' stat() finds nothing real; nothing is written. */
#include "fuzz/common.h"

#include <stdio.h>
#include <stdlib.h>
#include "reconcile/config.h"
#include "providers/base/util.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	fz_tmpdir();
	return 0;
}

static void walk(const struct cs_config *cfg)
{
	for (size_t i = 0; i < cfg->n_issuers; i++)
		(void)cs_issuer_kind_name(cfg->issuers[i].kind);
	for (size_t i = 0; i < cfg->n_hosts; i++)
		(void)cs_platform_name(cfg->hosts[i].platform);
	for (size_t i = 0; i < cfg->n_certs; i++) {
		const struct cs_cert_cfg *c = &cfg->certs[i];
		size_t n = 0;
		char **names = cs_cert_names(c, &n);
		cs_strv_free(names, n);
		(void)cs_key_spec_name(&c->key);
		if (!cs_config_issuer(cfg, c->issuer) || !cs_config_cert(cfg, c->name))
			abort(); /* a loaded config's references resolve */
		for (size_t b = 0; b < c->n_bindings; b++) {
			if (c->bindings[b].host_index >= cfg->n_hosts)
				abort();
			free(cs_binding_where(&c->bindings[b]));
			(void)cs_binding_kind_name(c->bindings[b].kind);
		}
		for (size_t v = 0; v < c->n_verify; v++)
			for (size_t h = 0; h < cfg->n_hosts; h++)
				(void)cs_verify_covers(c, &c->verify[v], h);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_diags diags = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load_string(&cfg, "fuzz.yaml", fz_tmpdir(), (const char *)data, size, &diags);
	if (r == 0)
		walk(cfg);
	else if (!diags.n)
		abort(); /* a refused config says why */
	/* What validate prints: sorted, every message a whole string. */
	cs_diags_sort(&diags);
	for (size_t i = 0; i < diags.n; i++)
		fprintf(devnull, "%s:%d:%d: %s\n", diags.v[i].file, diags.v[i].line, diags.v[i].col, diags.v[i].msg);
	cs_config_free(cfg);
	cs_diags_free(&diags);
	return 0;
}
