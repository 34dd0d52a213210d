/* certsync plan: gather the actual state, diff it with the config and show
 * every action with its reason (as text, JSON or Markdown for a pull
 * request); optionally save the plan for apply. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"

#define OPT_JSON 2001
#define OPT_DETAILED 2002
#define OPT_FORMAT 2003

enum format { FORMAT_NONE, FORMAT_TEXT, FORMAT_JSON, FORMAT_MARKDOWN };

static enum format format_named(const char *s)
{
	if (!strcmp(s, "text"))
		return FORMAT_TEXT;
	if (!strcmp(s, "json"))
		return FORMAT_JSON;
	if (!strcmp(s, "markdown"))
		return FORMAT_MARKDOWN;
	return FORMAT_NONE;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		CS_COMMON_LONG_OPTIONS,
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "detailed-exitcode", no_argument, NULL, OPT_DETAILED },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	const char *out_path = NULL;
	bool json = false, detailed = false;
	enum format format = FORMAT_NONE;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
		if (cs_common_option(&common, opt, optarg))
			continue;
		switch (opt) {
		case 'o': out_path = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_DETAILED: detailed = true; break;
		case OPT_FORMAT:
			format = format_named(optarg);
			if (format == FORMAT_NONE) {
				cs_common_free(&common);
				return cs_cli_error("--format %s: expected text, json or markdown", optarg);
			}
			break;
		default: return cs_cli_error("usage: certsync plan %s", cs_cmd_plan.usage);
		}
	}
	if (optind < argc) {
		cs_common_free(&common);
		return cs_cli_error("plan takes no arguments (use -c FILE)");
	}
	if (json && format != FORMAT_NONE && format != FORMAT_JSON) {
		cs_common_free(&common);
		return cs_cli_error("--json and --format %s contradict each other (--json is --format json)",
				    format == FORMAT_TEXT ? "text" : "markdown");
	}
	if (json)
		format = FORMAT_JSON;

	struct cs_session s;
	int status = cs_cli_open(&s, &common, false);
	struct cs_plan *plan = NULL;
	struct cs_err err = CS_ERR_INIT;
	if (status)
		goto out;
	if (cs_plan_make(&plan, s.obs, &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
		goto out;
	}
	cs_plan_set_target(plan, &common.target);
	if (format == FORMAT_JSON) {
		json_t *j = cs_plan_to_json(plan);
		cs_print_json(j, stdout);
		json_decref(j);
	} else if (format == FORMAT_MARKDOWN) {
		cs_render_plan_markdown(stdout, plan, s.cfg);
	} else {
		struct cs_ui ui;
		cs_ui_init(&ui, stdout);
		cs_render_plan(&ui, plan);
	}
	if (out_path) {
		if (cs_plan_save(plan, out_path, &err) < 0) {
			status = cs_cli_error("%s", cs_err_msg(&err));
			goto out;
		}
		/* JSON and Markdown stay whole on stdout (a pipe, a PR comment). */
		if (format == FORMAT_MARKDOWN)
			fprintf(stderr, "Saved the plan to %s; run `certsync apply %s` to carry it out.\n",
				out_path, out_path);
		else if (format != FORMAT_JSON)
			printf("\nSaved the plan to %s; run `certsync apply %s` to carry it out.\n",
			       out_path, out_path);
	}
	if (plan->n_errors)
		status = 1;
	else if (detailed && plan->n_actions)
		status = 2;
out:
	cs_err_clear(&err);
	cs_plan_free(plan);
	cs_cli_close(&s);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_plan = {
	.name = "plan",
	.usage = "[-c FILE] [-o PLAN] [--json | --format text|json|markdown] [--detailed-exitcode] "
		 "[--target host=NAME|cert=NAME]...",
	.summary = "gather the actual state, diff it with the config and show every action with its reason "
		   "(as text, JSON, or Markdown for a pull request)",
	.exec = run,
};
