/* certsync apply: carry out a plan (made now, or saved by plan -o and still
 * matching what is observed), then report what happened. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "reconcile/apply_record.h"
#include "reconcile/executor.h"
#include "reconcile/notify.h"
#include "providers/base/util.h"

#define OPT_YES 3001

/* TEXT with every line after the first indented under the action, so that
 * a command's multi-line stderr in a message does not look like a line of
 * certsync's own. */
static void put_text(FILE *f, const char *text)
{
	const char *p = text ? text : "";
	for (const char *nl; (nl = strchr(p, '\n')) != NULL && nl[1]; p = nl + 1)
		fprintf(f, "%.*s\n           ", (int)(nl - p), p);
	fputs(p, f);
}

static void on_event(void *ctx, const struct cs_event *ev)
{
	const struct cs_ui *ui = ctx;
	const struct cs_action *a = ev->action;
	const char *reset = cs_ui_color(ui, "reset");
	switch (ev->kind) {
	case CS_EV_START:
		return; /* hosts run in parallel: one line per outcome reads better */
	case CS_EV_DONE:
		fprintf(ui->f, "  %sdone%s     #%d %s%s", cs_ui_color(ui, "green"), reset, a->id,
			a->summary, ev->text ? ": " : "");
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_WAITING:
		fprintf(ui->f, "  %swaiting%s  #%d %s: ", cs_ui_color(ui, "magenta"), reset, a->id,
			a->summary);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_FAILED:
		fprintf(ui->f, "  %sFAILED%s   #%d %s: ", cs_ui_color(ui, "red"), reset, a->id,
			a->summary);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_SKIPPED:
		fprintf(ui->f, "  %sskipped%s  #%d %s ", cs_ui_color(ui, "yellow"), reset, a->id,
			a->summary);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_ROLLBACK:
		fprintf(ui->f, "  %srollback%s #%d ", cs_ui_color(ui, "yellow"), reset, a->id);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_ROLLBACK_FAILED:
		fprintf(ui->f, "  %sROLLBACK FAILED%s #%d ", cs_ui_color(ui, "red"), reset, a->id);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_WARNING:
		fprintf(ui->f, "  %sWARNING%s  #%d ", cs_ui_color(ui, "red"), reset, a->id);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	}
	fflush(ui->f);
}

/* An interrupt in the middle of an apply would leave files written without
 * their reload, check or rollback, and the next plan would see nothing to do.
 * So the first SIGINT/SIGTERM/SIGHUP only says so and apply goes on to the
 * end (a reload the same Ctrl-C killed counts as failed and is rolled back);
 * a second one stops at once. */
static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig)
{
	if (interrupts++) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	static const char msg[] = "\ncertsync: interrupted: apply goes on to the end so that no changed "
				  "binding is left without its reload, check or rollback; interrupt again to "
				  "stop at once (unsafe)\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)n;
}

static void catch_interrupts(bool on)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on ? on_interrupt : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static bool confirm(size_t n)
{
	printf("\nApply these %zu action%s? Only 'yes' is accepted: ", n, n == 1 ? "" : "s");
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return !strcmp(line, "yes");
}

/* Leave the run's summary in the journal, for `certsync metrics` (see
 * apply_record.h).  Failing to write it does not change what apply did or
 * its exit status; it is said on stderr. */
static void record_run(struct cs_store *store, int64_t started, const struct cs_plan *plan,
		       const struct cs_exec_summary *sum, int status, size_t recovered)
{
	struct cs_apply_record r = {
		.started = started,
		.success = status == 0,
		.actions = plan->n_actions,
		.done = sum->done, .waiting = sum->waiting, .failed = sum->failed,
		.skipped = sum->skipped, .rolled_back = sum->rolled_back,
		.plan_errors = plan->n_errors,
		.recovered = recovered,
	};
	json_t *rec = cs_apply_record_json(&r);
	struct cs_err err = CS_ERR_INIT;
	if (cs_store_journal(store, rec, &err) < 0)
		cs_cli_error("the run's summary was not recorded: %s", cs_err_msg(&err));
	cs_err_clear(&err);
	json_decref(rec);
}

/* Tell the config's notifiers (reconcile/notify.h); one that cannot be
 * reached is a warning, never a failure of the apply. */
static void notify(struct cs_notify_run *nr, const struct cs_plan *plan, const struct cs_observed *obs,
		   const struct cs_exec_summary *sum)
{
	char **warnings;
	size_t n;
	cs_notify_run_finish(nr, plan, obs, sum, &warnings, &n);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "certsync: warning: %s\n", warnings[i]);
		free(warnings[i]);
	}
	free(warnings);
}

static int run(int argc, char **argv)
{
	int64_t started = cs_now();
	static const struct option longopts[] = {
		CS_COMMON_LONG_OPTIONS,
		{ "yes", no_argument, NULL, OPT_YES },
		{ "auto-approve", no_argument, NULL, OPT_YES },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	bool yes = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:y", longopts, NULL)) != -1) {
		if (cs_common_option(&common, opt, optarg))
			continue;
		if (opt == OPT_YES || opt == 'y')
			yes = true;
		else
			return cs_cli_error("usage: certsync apply %s", cs_cmd_apply.usage);
	}
	if (argc - optind > 1)
		return cs_cli_error("apply takes at most one saved plan");
	const char *plan_path = optind < argc ? argv[optind] : NULL;

	struct cs_err err = CS_ERR_INIT;
	struct cs_plan *saved = NULL, *plan = NULL;
	struct cs_session s;
	memset(&s, 0, sizeof s);
	struct cs_notify_run nr;
	memset(&nr, 0, sizeof nr);
	int status = 0;
	if (plan_path) {
		if (cs_plan_load(&saved, plan_path, &err) < 0) {
			status = cs_cli_error("%s", cs_err_msg(&err));
			goto out;
		}
		/* The saved plan names its config; -c may still point elsewhere. */
		if (!common.config && saved->config_path)
			common.config = saved->config_path;
		/* ... and the --target selection it was made with. */
		if (common.target.n_hosts || common.target.n_certs) {
			status = cs_cli_error("apply %s: a saved plan keeps the --target selection it was made "
					      "with; leave out --target", plan_path);
			goto out;
		}
		for (size_t i = 0; i < saved->target.n_hosts + saved->target.n_certs; i++) {
			bool host = i < saved->target.n_hosts;
			char *sel = cs_xasprintf("%s=%s", host ? "host" : "cert",
						 host ? saved->target.hosts[i] : saved->target.certs[i - saved->target.n_hosts]);
			cs_common_option(&common, CS_OPT_TARGET, sel);
			free(sel);
		}
	}
	/* Without --yes and without a terminal to ask at, nothing will be
	 * applied: show the plan, but do not create or lock the state folder. */
	bool can_apply = plan_path || yes || isatty(STDIN_FILENO);
	if ((status = cs_cli_open(&s, &common, can_apply)))
		goto out;
	/* What a killed apply left behind goes first (only under the lock). */
	size_t recovered = 0;
	char *recover_note = NULL;
	if (can_apply && cs_recover_temps(&recovered, &recover_note, s.obs, &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
		goto out;
	}
	if (recover_note)
		printf("certsync: %s\n", recover_note);
	free(recover_note);
	if (cs_plan_make(&plan, s.obs, &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
		goto out;
	}
	if (saved) {
		if (strcmp(saved->config_sha256, plan->config_sha256) != 0) {
			status = cs_cli_error("saved plan %s was made from another version of %s; "
					      "run certsync plan again", plan_path, s.cfg->path);
			goto out;
		}
		if (strcmp(saved->state_sha256, plan->state_sha256) != 0) {
			status = cs_cli_error("saved plan %s is stale: the observed state changed since it was made "
					      "(a host's files, certificates or bindings, the state folder or a CA reply); "
					      "run certsync plan again", plan_path);
			goto out;
		}
		cs_plan_free(plan);
		plan = saved; /* exactly what was reviewed */
		saved = NULL;
	}

	struct cs_ui ui;
	cs_ui_init(&ui, stdout);
	cs_render_plan(&ui, plan);
	cs_notify_run_init(&nr, s.cfg, on_event, &ui);
	struct cs_exec_summary sum;
	memset(&sum, 0, sizeof sum);
	if (!plan->n_actions) {
		status = plan->n_errors ? 1 : 0;
		/* Nothing to do is a run too: metrics show apply ran and found
		 * everything as declared. */
		if (can_apply) {
			record_run(s.store, started, plan, &sum, status, recovered);
			notify(&nr, plan, s.obs, NULL);
		}
		goto out;
	}
	if (!plan_path && !yes) {
		if (!isatty(STDIN_FILENO)) {
			status = cs_cli_error("not applying: confirm with --yes when not running at a terminal");
			goto out;
		}
		if (!confirm(plan->n_actions)) {
			status = cs_cli_error("not applying: not confirmed");
			goto out;
		}
	}
	printf("\n");
	catch_interrupts(true);
	int r = cs_execute(&sum, plan, s.obs, cs_notify_run_event, &nr);
	catch_interrupts(false);
	printf("\n%sApply %s:%s %zu done, %zu failed, %zu skipped", cs_ui_color(&ui, "bold"),
	       sum.failed ? "finished with failures" : plan->n_errors ? "finished with errors"
	       : sum.warnings ? "finished with warnings" : "complete",
	       cs_ui_color(&ui, "reset"), sum.done,
	       sum.failed, sum.skipped);
	if (sum.waiting)
		printf(", %zu waiting for a CA", sum.waiting);
	if (sum.rolled_back)
		printf(", %zu rolled back", sum.rolled_back);
	if (sum.warnings)
		printf(", %zu warning%s", sum.warnings, sum.warnings == 1 ? "" : "s");
	if (plan->n_errors)
		printf("; %zu part%s could not be planned (errors above)", plan->n_errors,
		       plan->n_errors == 1 ? "" : "s");
	printf(".\n");
	if (r < 0 || plan->n_errors)
		status = 1;
	record_run(s.store, started, plan, &sum, status, recovered);
	notify(&nr, plan, s.obs, &sum);
out:
	cs_notify_run_free(&nr);
	cs_err_clear(&err);
	cs_plan_free(saved);
	cs_plan_free(plan);
	cs_cli_close(&s);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_apply = {
	.name = "apply",
	.usage = "[-c FILE] [PLAN] [--yes] [--target host=NAME|cert=NAME]...",
	.summary = "carry out the plan: renew, install, bind, reload, verify, roll back on failure",
	.exec = run,
};
