/* certsync apply: carry out a plan (made now, or saved by plan -o and still
 * matching what is observed), then report what happened. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "cmd/log.h"
#include "reconcile/apply_record.h"
#include "reconcile/executor.h"
#include "reconcile/notify.h"
#include "providers/base/duration.h"
#include "providers/base/util.h"

#define OPT_YES 3001
#define OPT_LOCK_TIMEOUT 3002

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

/* What apply's event callback needs: where and how to print, and for the
 * progress line and -v when each action started. */
struct apply_out {
	struct cs_ui ui;
	const struct cs_plan *plan;
	bool progress;            /* stdout is a terminal: "[3/12] bind ..." rewritten in place */
	bool shown;               /* the progress line is on the screen now */
	size_t started, ended;    /* actions started, and of those ended */
	const struct cs_action *last;  /* the last one started: what the line shows */
	int64_t *start_ms;        /* by action id - 1; 0 when it did not start */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the action started, or -1 when it did not start. */
static int64_t took_ms(const struct apply_out *o, const struct cs_action *a)
{
	int64_t t0 = o->start_ms[a->id - 1];
	return t0 ? mono_ms() - t0 : -1;
}

static void clear_progress(struct apply_out *o)
{
	if (o->shown)
		fputs("\r\033[K", o->ui.f);
	o->shown = false;
}

static void show_progress(struct apply_out *o)
{
	if (!o->progress || !o->last || o->ended >= o->started)
		return;
	/* One screen line, or \r would not take it back: cut to the width,
	 * counting UTF-8 characters (the arrow in "bind www → web1"). */
	struct winsize ws;
	size_t width = ioctl(fileno(o->ui.f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col : 80;
	char *line = cs_xasprintf("[%zu/%zu] %s", o->started, o->plan->n_actions, o->last->summary);
	size_t chars = 0, cut = 0;
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if ((*p & 0xC0) != 0x80 && ++chars == width)
			cut = (size_t)((const char *)p - line);
	if (cut)
		line[cut] = '\0';
	fprintf(o->ui.f, "\r\033[K%s", line);
	free(line);
	o->shown = true;
}

static void log_event(struct apply_out *o, const struct cs_event *ev)
{
	static const struct { const char *level, *event; } names[] = {
		[CS_EV_START] = { "debug", "started" },
		[CS_EV_DONE] = { "info", "done" },
		[CS_EV_WAITING] = { "info", "waiting" },
		[CS_EV_FAILED] = { "error", "failed" },
		[CS_EV_SKIPPED] = { "warning", "skipped" },
		[CS_EV_ROLLBACK] = { "warning", "rolled_back" },
		[CS_EV_ROLLBACK_FAILED] = { "error", "rollback_failed" },
		[CS_EV_WARNING] = { "warning", "warning" },
	};
	const struct cs_action *a = ev->action;
	if (ev->kind == CS_EV_START && !cs_log.verbose)
		return;
	json_t *extra = json_object();
	if (ev->text)
		json_object_set_new(extra, "summary", cs_log_string(a->summary));
	int64_t ms = ev->kind == CS_EV_START ? -1 : took_ms(o, a);
	if (ms >= 0 && ev->kind != CS_EV_ROLLBACK && ev->kind != CS_EV_ROLLBACK_FAILED && ev->kind != CS_EV_WARNING)
		json_object_set_new(extra, "duration_ms", json_integer(ms));
	cs_log_emit(&(struct cs_log_event){ .level = names[ev->kind].level, .event = names[ev->kind].event,
					    .cert = a->cert, .host = a->host, .action = a->id,
					    .kind = cs_action_kind_name(a->kind),
					    .message = ev->text ? ev->text : a->summary },
		    extra);
}

static void on_event(void *ctx, const struct cs_event *ev)
{
	struct apply_out *o = ctx;
	const struct cs_ui *ui = &o->ui;
	const struct cs_action *a = ev->action;
	const char *reset = cs_ui_color(ui, "reset");
	bool outcome = ev->kind == CS_EV_DONE || ev->kind == CS_EV_WAITING || ev->kind == CS_EV_FAILED ||
		       ev->kind == CS_EV_SKIPPED;
	if (ev->kind == CS_EV_START) {
		o->start_ms[a->id - 1] = mono_ms();
		o->started++;
		o->last = a;
	}
	if (cs_log_json()) {
		log_event(o, ev);
		if (outcome && o->start_ms[a->id - 1])
			o->ended++;
		return;
	}
	/* "(0.4 s)" after the action with -v, for what ran. */
	char took[32] = "";
	int64_t ms = outcome ? took_ms(o, a) : -1;
	if (cs_log.verbose && ms >= 0)
		snprintf(took, sizeof took, " (%.1f s)", (double)ms / 1000);
	if (ev->kind != CS_EV_START)
		clear_progress(o);
	switch (ev->kind) {
	case CS_EV_START:
		/* Hosts run in parallel: one line per outcome reads better, and
		 * on a terminal the progress line says what runs now. */
		break;
	case CS_EV_DONE:
		fprintf(ui->f, "  %sdone%s     #%d %s%s%s", cs_ui_color(ui, "green"), reset, a->id,
			a->summary, took, ev->text ? ": " : "");
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_WAITING:
		fprintf(ui->f, "  %swaiting%s  #%d %s%s: ", cs_ui_color(ui, "magenta"), reset, a->id,
			a->summary, took);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_FAILED:
		fprintf(ui->f, "  %sFAILED%s   #%d %s%s: ", cs_ui_color(ui, "red"), reset, a->id,
			a->summary, took);
		put_text(ui->f, ev->text);
		fputc('\n', ui->f);
		break;
	case CS_EV_SKIPPED:
		fprintf(ui->f, "  %sskipped%s  #%d %s%s ", cs_ui_color(ui, "yellow"), reset, a->id,
			a->summary, took);
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
	if (outcome && o->start_ms[a->id - 1])
		o->ended++;
	show_progress(o);
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

/* The plan as --log-format json events: one "planned" a action, one
 * "notice" a notice. */
static void log_plan(const struct cs_plan *plan)
{
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct cs_action *a = &plan->actions[i];
		json_t *extra = json_object();
		json_object_set_new(extra, "reason", cs_log_string(a->reason));
		cs_log_emit(&(struct cs_log_event){ .level = "info", .event = "planned", .cert = a->cert,
						    .host = a->host, .action = a->id,
						    .kind = cs_action_kind_name(a->kind), .message = a->summary },
			    extra);
	}
	for (size_t i = 0; i < plan->n_notices; i++) {
		const struct cs_notice *n = &plan->notices[i];
		cs_log_emit(&(struct cs_log_event){ .level = n->level == CS_NOTICE_ERROR ? "error" : "info",
						    .event = n->level == CS_NOTICE_ERROR ? "plan_error"
						    : n->level == CS_NOTICE_WAIT ? "waiting" : "notice",
						    .cert = n->cert, .host = n->host, .message = n->text },
			    NULL);
	}
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
		if (cs_log_json())
			cs_log_emit(&(struct cs_log_event){ .level = "warning", .event = "notify_failed",
							    .message = warnings[i] }, NULL);
		else
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
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	bool yes = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:y", longopts, NULL)) != -1) {
		if (cs_common_option(&common, opt, optarg))
			continue;
		if (opt == OPT_YES || opt == 'y') {
			yes = true;
		} else if (opt == OPT_LOCK_TIMEOUT) {
			const char *why = NULL;
			if (cs_duration_parse(&common.lock_timeout, optarg, &why) < 0)
				return cs_cli_error("--lock-timeout %s: %s", optarg, why ? why : "not a duration");
		} else
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
	if (recover_note && cs_log_json())
		cs_log_emit(&(struct cs_log_event){ .level = "info", .event = "recovered", .message = recover_note },
			    json_pack("{s:I}", "files", (json_int_t)recovered));
	else if (recover_note)
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

	struct apply_out out = { .plan = plan };
	struct cs_ui *ui = &out.ui;
	cs_ui_init(ui, stdout);
	const char *term = getenv("TERM");
	out.progress = isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb"));
	bool ask = plan->n_actions && !plan_path && !yes;
	/* JSON logs: the plan is events on stderr; shown as text only when
	 * someone is asked to confirm it. */
	if (cs_log_json())
		log_plan(plan);
	if (!cs_log_json() || ask)
		cs_render_plan(ui, plan);
	cs_notify_run_init(&nr, s.cfg, on_event, &out);
	struct cs_exec_summary sum;
	memset(&sum, 0, sizeof sum);
	if (!plan->n_actions) {
		status = plan->n_errors ? 1 : 0;
		if (cs_log_json())
			cs_log_emit(&(struct cs_log_event){ .level = status ? "error" : "info", .event = "finished",
							    .message = plan->n_errors ? "nothing to do but for errors"
							    : "no changes" },
				    json_pack("{s:i, s:I}", "exit", status, "errors", (json_int_t)plan->n_errors));
		/* Nothing to do is a run too: metrics show apply ran and found
		 * everything as declared. */
		if (can_apply) {
			record_run(s.store, started, plan, &sum, status, recovered);
			notify(&nr, plan, s.obs, NULL);
		}
		goto out;
	}
	if (ask) {
		if (!isatty(STDIN_FILENO)) {
			status = cs_cli_error("not applying: confirm with --yes when not running at a terminal");
			goto out;
		}
		if (!confirm(plan->n_actions)) {
			status = cs_cli_error("not applying: not confirmed");
			goto out;
		}
	}
	out.start_ms = cs_xcalloc(plan->n_actions, sizeof *out.start_ms);
	if (!cs_log_json())
		printf("\n");
	catch_interrupts(true);
	int r = cs_execute(&sum, plan, s.obs, cs_notify_run_event, &nr);
	catch_interrupts(false);
	clear_progress(&out);
	free(out.start_ms);
	if (r < 0 || plan->n_errors)
		status = 1;
	if (cs_log_json()) {
		char *msg = cs_xasprintf("apply %s: %zu done, %zu failed, %zu skipped, %zu waiting for a CA, "
					 "%zu rolled back, %zu warnings",
					 sum.failed ? "finished with failures" : plan->n_errors ? "finished with errors"
					 : sum.warnings ? "finished with warnings" : "complete",
					 sum.done, sum.failed, sum.skipped, sum.waiting, sum.rolled_back, sum.warnings);
		cs_log_emit(&(struct cs_log_event){ .level = status ? "error" : "info", .event = "finished",
						    .message = msg },
			    json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "exit", status,
				      "done", (json_int_t)sum.done, "failed", (json_int_t)sum.failed,
				      "skipped", (json_int_t)sum.skipped, "waiting", (json_int_t)sum.waiting,
				      "rolled_back", (json_int_t)sum.rolled_back, "warnings", (json_int_t)sum.warnings,
				      "errors", (json_int_t)plan->n_errors));
		free(msg);
		record_run(s.store, started, plan, &sum, status, recovered);
		goto out;
	}
	printf("\n%sApply %s:%s %zu done, %zu failed, %zu skipped", cs_ui_color(ui, "bold"),
	       sum.failed ? "finished with failures" : plan->n_errors ? "finished with errors"
	       : sum.warnings ? "finished with warnings" : "complete",
	       cs_ui_color(ui, "reset"), sum.done,
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
	.usage = "[-c FILE] [PLAN] [--yes] [--lock-timeout DURATION] [--log-format text|json] [-v] [--target host=NAME|cert=NAME]...",
	.summary = "carry out the plan: renew, install, bind, reload, verify, roll back on failure",
	.exec = run,
};
