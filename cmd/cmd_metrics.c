/* certsync metrics: the fleet's certificate state in Prometheus text format,
 * for the node_exporter textfile collector (cron) or any exporter that runs
 * a command.  See docs/metrics.md. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cmd/cmd.h"
#include "reconcile/apply_record.h"
#include "reconcile/metrics.h"
#include "providers/base/util.h"

#define OPT_NO_PROBE 5001

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		CS_COMMON_LONG_OPTIONS,
		{ "no-probe", no_argument, NULL, OPT_NO_PROBE },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_metrics_input in = { .version = CERTSYNC_VERSION, .probe = true };
	clock_gettime(CLOCK_MONOTONIC, &in.started);
	struct cs_common common = { 0 };
	int opt;
	while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cs_common_option(&common, opt, optarg))
			continue;
		if (opt == OPT_NO_PROBE)
			in.probe = false;
		else
			return cs_cli_error("usage: certsync metrics %s", cs_cmd_metrics.usage);
	}
	if (optind < argc)
		return cs_cli_error("metrics takes no arguments (use -c FILE)");

	struct cs_err err = CS_ERR_INIT;
	struct cs_plan *plan = NULL;
	struct cs_buf out = CS_BUF_INIT;
	struct cs_apply_record last;
	char *journal = NULL;
	/* A config that cannot be read is an error (exit 1, no output, so
	 * `metrics > f.$$ && mv f.$$ f` keeps the last good file).  Unreachable
	 * hosts are not: reporting them is what metrics are for; nor is a state
	 * folder with an unsafe key or an unreadable journal, which shows as
	 * certsync_state_ok 0 (and the certificates it affects as errors). */
	struct cs_session s;
	int status = cs_cli_open_report(&s, &common);
	if (status)
		goto done;
	in.state_problem = s.state_reason;
	if (cs_plan_make(&plan, s.obs, &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
		goto done;
	}
	journal = cs_xasprintf("%s/journal.jsonl", cs_store_dir(s.store));
	int found = cs_apply_record_last(&last, journal, CS_APPLY_RECORD_MAX_SCAN, &err);
	if (found < 0) {
		/* Reported, not fatal: the rest is still worth seeing. */
		fprintf(stderr, "certsync: warning: %s\n", cs_err_msg(&err));
		cs_err_clear(&err);
		if (!in.state_problem)
			in.state_problem = "journal_unreadable";
		found = 0;
	}
	in.obs = s.obs;
	in.plan = plan;
	in.last_apply = found ? &last : NULL;
	cs_metrics_write(&out, &in);
	/* One write at the end: a failing command never leaves half a file. */
	if (out.len && (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0))
		status = cs_cli_error("writing the metrics: %s", strerror(ferror(stdout) ? errno : EIO));
done:
	free(journal);
	cs_buf_free(&out);
	cs_plan_free(plan);
	cs_err_clear(&err);
	cs_cli_close(&s);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_metrics = {
	.name = "metrics",
	.usage = "[-c FILE] [--no-probe] [--target host=NAME|cert=NAME]...",
	.summary = "Prometheus text format: expiry, drift, hosts, endpoints, last apply (docs/metrics.md)",
	.exec = run,
};
