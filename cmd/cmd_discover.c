/* certsync discover: from a config that lists the hosts, print a config
 * that declares the certificates they already use (reconcile/discover.c);
 * with --adopt those become the current certificates in the state, so the
 * first plan renews only what needs it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmd.h"
#include "providers/base/util.h"
#include "reconcile/discover.h"

#define OPT_HOST 2101
#define OPT_ENDPOINT 2102
#define OPT_ADOPT 2103
#define OPT_ROOT 2104

static void push(char ***v, size_t *n, const char *s)
{
	*v = cs_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = cs_xstrdup(s);
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
		{ "adopt", no_argument, NULL, OPT_ADOPT },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	char **hosts = NULL, **endpoints = NULL;
	size_t n_hosts = 0, n_endpoints = 0;
	bool adopt = false;
	const char *root = NULL, *output = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
		if (opt != CS_OPT_TARGET && cs_common_option(&common, opt, optarg))
			continue;
		switch (opt) {
		case OPT_HOST:
			push(&hosts, &n_hosts, optarg);
			break;
		case OPT_ENDPOINT:
			push(&endpoints, &n_endpoints, optarg);
			break;
		case OPT_ADOPT:
			adopt = true;
			break;
		case OPT_ROOT:
			root = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			cs_strv_free(hosts, n_hosts);
			cs_strv_free(endpoints, n_endpoints);
			cs_common_free(&common);
			return cs_cli_error("usage: certsync discover %s", cs_cmd_discover.usage);
		}
	}
	int status = 0;
	struct cs_config *cfg = NULL;
	struct cs_store *store = NULL;
	struct cs_buf text = CS_BUF_INIT;
	struct cs_discover_result res = { 0 };
	struct cs_err err = CS_ERR_INIT;
	if (optind < argc) {
		status = cs_cli_error("discover takes no arguments (use -c FILE, --host NAME, --endpoint HOST:PORT)");
		goto out;
	}
	if (root && root[0] != '/') {
		status = cs_cli_error("--root %s: must be an absolute path", root);
		goto out;
	}
	if ((status = cs_cli_load_config(&cfg, &common)) != 0)
		goto out;
	cs_buf_init(&text, 16u << 20);
	if (cs_file_read(&text, cfg->path, 16u << 20, &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
		goto out;
	}
	if (adopt) {
		int r = cs_store_open(&store, cfg->settings.state_dir, true, &err);
		if (r == 0)
			r = cs_store_lock(store, "discover", &err);
		if (r < 0) {
			cs_cli_error("%s", cs_err_msg(&err));
			status = r == -EBUSY ? CS_EXIT_LOCKED : CS_EXIT_ERROR;
			goto out;
		}
	}
	struct cs_discover_req rq = {
		.cfg = cfg,
		.config_text = text.data ? text.data : "",
		.config_len = text.len,
		.hosts = hosts,
		.n_hosts = n_hosts,
		.endpoints = endpoints,
		.n_endpoints = n_endpoints,
		.root = root,
		.schema = CERTSYNC_SCHEMA_PATH,
		.adopt = store,
	};
	int r = cs_discover(&rq, &res, &err);
	for (size_t i = 0; i < res.n_warnings; i++)
		fprintf(stderr, "certsync: warning: %s\n", res.warnings[i]);
	if (r < 0) {
		status = cs_cli_error("discover: %s", cs_err_msg(&err));
		goto out;
	}
	if (output) {
		if (cs_file_write_atomic(output, res.yaml.data ? res.yaml.data : "", res.yaml.len, 0644, (uid_t)-1,
					 (gid_t)-1, &err) < 0) {
			status = cs_cli_error("%s", cs_err_msg(&err));
			goto out;
		}
	} else {
		fwrite(res.yaml.data ? res.yaml.data : "", 1, res.yaml.len, stdout);
	}
	fprintf(stderr, "certsync: discovered %zu certificate%s", res.n_lineages, res.n_lineages == 1 ? "" : "s");
	if (adopt)
		fprintf(stderr, ", %zu adopted into %s", res.n_adopted, cfg->settings.state_dir);
	if (output)
		fprintf(stderr, ", written to %s", output);
	fprintf(stderr, "\n");
out:
	cs_err_clear(&err);
	cs_discover_result_free(&res);
	cs_buf_free(&text);
	cs_store_close(store);
	cs_config_free(cfg);
	cs_strv_free(hosts, n_hosts);
	cs_strv_free(endpoints, n_endpoints);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_discover = {
	.name = "discover",
	.usage = "[-c FILE] [--host NAME]... [--endpoint HOST:PORT]... [--adopt] [--root DIR] [-o FILE]",
	.summary = "find the certificates the hosts already use and print a config declaring them",
	.exec = run,
};
