/* certsync validate: check the config's schema and references, no network.
 * With --list-targets it prints what --target can select instead, one
 * "host=NAME" / "cert=NAME" a line: what the shell completions offer. */
#include <getopt.h>
#include <stdio.h>
#include "cmd/cmd.h"

#define OPT_LIST_TARGETS 2001

static void list_targets(const struct cs_config *cfg)
{
	for (size_t i = 0; i < cfg->n_hosts; i++)
		printf("host=%s\n", cfg->hosts[i].name);
	for (size_t i = 0; i < cfg->n_certs; i++)
		printf("cert=%s\n", cfg->certs[i].name);
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		CS_COMMON_LONG_OPTIONS,
		{ "list-targets", no_argument, NULL, OPT_LIST_TARGETS },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	bool list = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cs_common_option(&common, opt, optarg))
			continue;
		if (opt != OPT_LIST_TARGETS)
			return cs_cli_error("usage: certsync validate %s", cs_cmd_validate.usage);
		list = true;
	}
	if (optind < argc)
		return cs_cli_error("validate takes no arguments (use -c FILE)");
	struct cs_config *cfg = NULL;
	int status = cs_cli_load_config(&cfg, &common);
	if (status == 0 && list) {
		list_targets(cfg);
	} else if (status == 0) {
		printf("%s: valid (%zu issuer%s, %zu host%s, %zu certificate%s)\n", cfg->path,
		       cfg->n_issuers, cfg->n_issuers == 1 ? "" : "s", cfg->n_hosts,
		       cfg->n_hosts == 1 ? "" : "s", cfg->n_certs, cfg->n_certs == 1 ? "" : "s");
		status = cs_cli_check_targets(cfg, &common);
	}
	cs_config_free(cfg);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_validate = {
	.name = "validate",
	.usage = "[-c FILE] [--list-targets]",
	.summary = "check the config (schema, references, values) without touching any host",
	.exec = run,
};
