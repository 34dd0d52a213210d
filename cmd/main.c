/* certsync: entry point and command table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmd.h"
#include "cmd/log.h"
#include "providers/base/util.h"

/* Alphabetical; `help` and `version` are handled here. */
static const struct cs_cmd *const commands[] = {
	&cs_cmd_apply,
	&cs_cmd_calendar,
	&cs_cmd_discover,
	&cs_cmd_init,
	&cs_cmd_metrics,
	&cs_cmd_plan,
	&cs_cmd_state,
	&cs_cmd_status,
	&cs_cmd_validate,
};

#define EXIT_STATUS "Exit status: 0 done, 1 error, 2 changes present (plan --detailed-exitcode),\n" \
	"3 the state folder is locked by another run (apply: try again later)."

static void usage(FILE *f)
{
	fprintf(f, "usage: certsync COMMAND [OPTIONS]\n\n"
		   "Keeps TLS certificates on Windows and Linux hosts as declared in YAML.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "  %-9s %s\n  %-9s %s\n\n", "help", "this text, or `help COMMAND`", "version",
		"print the version");
	fprintf(f, "Common options: -c FILE (default $CERTSYNC_CONFIG or ./certsync.yaml),\n"
		   "--target host=NAME | cert=NAME (repeatable).\n"
		   "Global options: --log-format text|json (json: one event a line on stderr, for\n"
		   "journald and log shippers), -v (more detail, e.g. each step's time).\n"
		   "See README.md and docs/.\n\n%s\n",
		   EXIT_STATUS);
}

static const struct cs_cmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	if (cs_log_options(&argc, argv))
		return 1;
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	const char *name = argv[1];
	if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
		const struct cs_cmd *c = argc > 2 ? find(argv[2]) : NULL;
		if (c) {
			printf("usage: certsync %s %s\n\n%s\n\n%s\n", c->name, c->usage, c->summary, EXIT_STATUS);
		} else if (argc > 2 && strcmp(argv[2], "help") && strcmp(argv[2], "version")) {
			fprintf(stderr, "certsync: unknown command \"%s\"\n\n", argv[2]);
			usage(stderr);
			return 1;
		} else {
			usage(stdout);
		}
		return 0;
	}
	if (!strcmp(name, "version") || !strcmp(name, "--version")) {
		printf("certsync %s\n", CERTSYNC_VERSION);
		return 0;
	}
	const struct cs_cmd *c = find(name);
	if (!c) {
		fprintf(stderr, "certsync: unknown command \"%s\"\n\n", name);
		usage(stderr);
		return 1;
	}
	if (!cs_now_pin_valid()) {
		fprintf(stderr, "certsync: CERTSYNC_NOW=\"%s\" is neither unix seconds nor an RFC 3339 UTC time "
			"(e.g. 2027-01-20T00:00:00Z); unset it to use the real clock\n", getenv("CERTSYNC_NOW"));
		return 1;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: certsync %s %s\n\n%s\n", c->name, c->usage, c->summary);
			return 0;
		}
	return c->exec(argc - 1, argv + 1);
}
