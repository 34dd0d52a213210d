/* certsync status: per certificate and host what is installed and bound,
 * serial, expiry, days left, in sync or drifted. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmd.h"
#include "cmd/render_html.h"
#include "providers/base/util.h"
#include "reconcile/status.h"

#define OPT_JSON 4001
#define OPT_FORMAT 4002

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The error of a host that could not be reached, or NULL. */
static const char *host_error(json_t *report, const char *name)
{
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(report, "hosts"), i, h)
		if (cs_streq(str(h, "name"), name) && json_object_get(h, "error"))
			return str(h, "error");
	return NULL;
}

static const char *state_color(const char *state)
{
	if (!strcmp(state, "valid") || !strcmp(state, "in sync"))
		return "green";
	if (!strcmp(state, "renewal due") || !strcmp(state, "drifted"))
		return "yellow";
	return "red";
}

static void render(const struct cs_ui *ui, json_t *report)
{
	const char *reset = cs_ui_color(ui, "reset");
	size_t i, j;
	json_t *c, *b;
	json_array_foreach(json_object_get(report, "certificates"), i, c) {
		const char *state = str(c, "state");
		fprintf(ui->f, "%s%s%s (%s, issuer %s): %s%s%s\n", cs_ui_color(ui, "bold"), str(c, "name"), reset,
			str(c, "common_name"), str(c, "issuer"), cs_ui_color(ui, state_color(state)), state, reset);
		if (json_object_get(c, "serial")) {
			long long left = (long long)json_integer_value(json_object_get(c, "days_left"));
			if (left < 0)
				fprintf(ui->f, "  serial %s, expired %s (%lld day%s ago)\n", str(c, "serial"),
					str(c, "not_after"), -left, left == -1 ? "" : "s");
			else
				fprintf(ui->f, "  serial %s, expires %s (%lld day%s left)\n", str(c, "serial"),
					str(c, "not_after"), left, left == 1 ? "" : "s");
		}
		if (json_object_get(c, "renewal"))
			fprintf(ui->f, "  renewal due because %s\n", str(c, "renewal"));
		if (json_object_get(c, "error"))
			fprintf(ui->f, "  error: %s\n", str(c, "error"));
		json_t *p = json_object_get(c, "pending");
		if (p)
			fprintf(ui->f, "  request pending since %s, reply: %s%s%s\n", str(p, "since"), str(p, "reply"),
				json_object_get(p, "error") ? ": " : "", str(p, "error"));
		json_array_foreach(json_object_get(c, "bindings"), j, b) {
			const char *bs = str(b, "state");
			fprintf(ui->f, "  %-12s %s %s: %s%s%s", str(b, "host"), str(b, "kind"), str(b, "where"),
				cs_ui_color(ui, state_color(bs)), bs, reset);
			const char *down = host_error(report, str(b, "host"));
			if (down && cs_streq(down, str(b, "detail")))
				fprintf(ui->f, " (host unreachable, below)");
			else if (json_object_get(b, "detail"))
				fprintf(ui->f, " (%s)", str(b, "detail"));
			fputc('\n', ui->f);
		}
		json_array_foreach(json_object_get(c, "endpoints"), j, b) {
			const char *es = str(b, "state");
			fprintf(ui->f, "  %-12s endpoint %s: %s%s%s",
				json_is_true(json_object_get(b, "all_hosts")) ? "(all hosts)" : str(b, "host"), str(b, "connect"),
				cs_ui_color(ui, state_color(es)), es, reset);
			/* One parenthesis: "(serial 1A2B: presents another certificate than the current one)". */
			bool serial = json_object_get(b, "serial"), detail = json_object_get(b, "detail");
			if (serial || detail)
				fprintf(ui->f, " (%s%s%s%s)", serial ? "serial " : "", serial ? str(b, "serial") : "",
					serial && detail ? ": " : "", detail ? str(b, "detail") : "");
			fputc('\n', ui->f);
		}
	}
	json_t *sp = json_object_get(report, "state_problem");
	if (sp)
		fprintf(ui->f, "%sstate folder:%s %s\n", cs_ui_color(ui, "red"), reset, str(sp, "message"));
	json_array_foreach(json_object_get(report, "hosts"), i, c) {
		if (json_object_get(c, "error")) {
			/* Transport errors name the host already: "host web9 (addr): ...". */
			char *lead = cs_xasprintf("host %s", str(c, "name"));
			bool named = !strncmp(str(c, "error"), lead, strlen(lead));
			fprintf(ui->f, "%s%s%sunreachable:%s %s\n", cs_ui_color(ui, "red"), named ? "" : lead,
				named ? "" : " ", reset, str(c, "error"));
			free(lead);
		}
		json_t *owed = json_object_get(c, "reboot_owed");
		if (owed)
			fprintf(ui->f, "%shost %s owes a reboot%s since %s: %s (the next apply reboots it)\n",
				cs_ui_color(ui, "yellow"), str(c, "name"), reset, str(owed, "since"), str(owed, "why"));
	}
}

/* Write the report in format to f. */
static void emit(FILE *f, const char *format, json_t *report, const char *config_path)
{
	if (!strcmp(format, "json")) {
		cs_print_json(report, f);
	} else if (!strcmp(format, "html")) {
		cs_render_status_html(f, report, config_path);
	} else {
		struct cs_ui ui;
		cs_ui_init(&ui, f);
		render(&ui, report);
	}
}

/* -o FILE: the whole output, written atomically (a page a web server
 * serves is never seen half written). */
static int write_out(const char *path, const char *format, json_t *report, const char *config_path)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);
	if (!f)
		return cs_cli_error("status -o %s: %s", path, strerror(errno));
	emit(f, format, report, config_path);
	int status = 0;
	if (fclose(f) != 0) {
		status = cs_cli_error("status -o %s: %s", path, strerror(errno));
	} else {
		struct cs_err err = CS_ERR_INIT;
		if (cs_file_write_atomic(path, data, len, 0644, (uid_t)-1, (gid_t)-1, &err) < 0)
			status = cs_cli_error("status -o %s: %s", path, cs_err_msg(&err));
		cs_err_clear(&err);
	}
	free(data);
	return status;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		CS_COMMON_LONG_OPTIONS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	const char *format = "text", *out_path = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
		if (cs_common_option(&common, opt, optarg))
			continue;
		if (opt == OPT_JSON) {
			format = "json";
		} else if (opt == OPT_FORMAT) {
			if (strcmp(optarg, "text") && strcmp(optarg, "json") && strcmp(optarg, "html")) {
				cs_common_free(&common);
				return cs_cli_error("status --format %s: expected text, json or html", optarg);
			}
			format = optarg;
		} else if (opt == 'o') {
			out_path = optarg;
		} else {
			cs_common_free(&common);
			return cs_cli_error("usage: certsync status %s", cs_cmd_status.usage);
		}
	}
	if (optind < argc) {
		cs_common_free(&common);
		return cs_cli_error("status takes no arguments (use -c FILE)");
	}
	struct cs_session s;
	/* A state folder with an unsafe key still gets a report: the rest of
	 * the fleet is worth seeing, and the problem is part of it. */
	int status = cs_cli_open_report(&s, &common);
	if (status == 0) {
		json_t *report = cs_status_report(s.obs);
		if (s.state_problem) {
			json_object_set_new(report, "state_problem",
					    json_pack("{s:s, s:s}", "reason", s.state_reason, "message", s.state_problem));
			status = 1;
		}
		int written = out_path ? write_out(out_path, format, report, s.cfg->path) : 0;
		if (!out_path)
			emit(stdout, format, report, s.cfg->path);
		/* Unreachable hosts and broken stores are errors, drift is not. */
		size_t i;
		json_t *o;
		json_array_foreach(json_object_get(report, "hosts"), i, o)
			if (json_object_get(o, "error"))
				status = 1;
		json_array_foreach(json_object_get(report, "certificates"), i, o)
			if (!strcmp(str(o, "state"), "error"))
				status = 1;
		if (written)
			status = written;
		json_decref(report);
	}
	cs_cli_close(&s);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_status = {
	.name = "status",
	.usage = "[-c FILE] [--json] [--format text|json|html] [-o FILE] [--target host=NAME|cert=NAME]...",
	.summary = "inventory: per certificate and host what is installed and bound, expiry, days left, drift",
	.exec = run,
};
