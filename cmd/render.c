/* Shared command plumbing: config loading, --target, colours, plan output. */
#include "cmd/cmd.h"
#include "cmd/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "providers/base/diag.h"
#include "providers/base/util.h"
#include "reconcile/state_pg.h"

int cs_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (cs_log_json()) {
		char *msg = cs_xvasprintf(fmt, ap);
		cs_log_emit(&(struct cs_log_event){ .level = "error", .event = "error", .message = msg }, NULL);
		free(msg);
		va_end(ap);
		return 1;
	}
	fputs("certsync: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static void strv_push(char ***v, size_t *n, const char *s)
{
	*v = cs_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = cs_xstrdup(s);
}

bool cs_common_option(struct cs_common *c, int opt, const char *arg)
{
	if (opt == 'c') {
		c->config = arg;
		return true;
	}
	if (opt != CS_OPT_TARGET)
		return false;
	if (!strncmp(arg, "host=", 5) && arg[5])
		strv_push(&c->target.hosts, &c->target.n_hosts, arg + 5);
	else if (!strncmp(arg, "cert=", 5) && arg[5])
		strv_push(&c->target.certs, &c->target.n_certs, arg + 5);
	else {
		cs_cli_error("--target %s: expected host=NAME or cert=NAME", arg);
		exit(1);
	}
	return true;
}

const char *cs_common_config_path(const struct cs_common *c)
{
	if (c->config)
		return c->config;
	const char *env = getenv("CERTSYNC_CONFIG");
	return env && env[0] ? env : "certsync.yaml";
}

void cs_common_free(struct cs_common *c)
{
	cs_strv_free(c->target.hosts, c->target.n_hosts);
	cs_strv_free(c->target.certs, c->target.n_certs);
	memset(&c->target, 0, sizeof c->target);
}

void cs_diags_print(const struct cs_diags *d, FILE *f)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].line > 0)
			fprintf(f, "%s:%d:%d: %s\n", d->v[i].file, d->v[i].line, d->v[i].col, d->v[i].msg);
		else
			fprintf(f, "%s: %s\n", d->v[i].file, d->v[i].msg);
	}
}

int cs_cli_load_config(struct cs_config **out, const struct cs_common *c)
{
	struct cs_diags diags = CS_DIAGS_INIT;
	int r = cs_config_load(out, cs_common_config_path(c), &diags);
	if (cs_log_json())
		for (size_t i = 0; i < diags.n; i++)
			cs_log_emit(&(struct cs_log_event){ .level = "error", .event = "diagnostic",
							    .message = diags.v[i].msg },
				    diags.v[i].line > 0 ? json_pack("{s:s, s:i, s:i}", "file", diags.v[i].file, "line",
								    diags.v[i].line, "col", diags.v[i].col)
				    : json_pack("{s:s}", "file", diags.v[i].file));
	else
		cs_diags_print(&diags, stderr);
	cs_diags_free(&diags);
	return r < 0 ? 1 : 0;
}

/* "a, b, c" of the names there are, for a --target that names none. */
static char *names_of(const struct cs_config *cfg, bool hosts)
{
	struct cs_buf b = CS_BUF_INIT;
	size_t n = hosts ? cfg->n_hosts : cfg->n_certs;
	for (size_t i = 0; i < n; i++)
		cs_buf_printf(&b, "%s%s", i ? ", " : "", hosts ? cfg->hosts[i].name : cfg->certs[i].name);
	return cs_buf_detach(&b, NULL);
}

int cs_cli_check_targets(const struct cs_config *cfg, const struct cs_common *c)
{
	int status = 0;
	for (size_t i = 0; i < c->target.n_hosts; i++)
		if (!cs_config_host(cfg, c->target.hosts[i])) {
			char *there = names_of(cfg, true);
			status = cs_cli_error("--target host=%s: no such host in %s (hosts: %s)", c->target.hosts[i],
					      cfg->path, there);
			free(there);
		}
	for (size_t i = 0; i < c->target.n_certs; i++)
		if (!cs_config_cert(cfg, c->target.certs[i])) {
			char *there = names_of(cfg, false);
			status = cs_cli_error("--target cert=%s: no such certificate in %s (certificates: %s)",
					      c->target.certs[i], cfg->path, there);
			free(there);
		}
	return status;
}

void cs_ui_init(struct cs_ui *ui, FILE *f)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	ui->f = f;
	ui->color = isatty(fileno(f)) && !(no_color && no_color[0]) && !(term && !strcmp(term, "dumb"));
}

const char *cs_ui_color(const struct cs_ui *ui, const char *name)
{
	static const struct { const char *name, *code; } colors[] = {
		{ "bold", "\033[1m" }, { "dim", "\033[2m" }, { "red", "\033[31m" },
		{ "green", "\033[32m" }, { "yellow", "\033[33m" }, { "blue", "\033[34m" },
		{ "magenta", "\033[35m" }, { "cyan", "\033[36m" }, { "reset", "\033[0m" },
	};
	if (!ui->color)
		return "";
	for (size_t i = 0; i < sizeof colors / sizeof colors[0]; i++)
		if (!strcmp(colors[i].name, name))
			return colors[i].code;
	return "";
}

static void action_mark(const struct cs_action *a, const char **mark, const char **color)
{
	switch (a->kind) {
	case CS_ACT_RENEW: *mark = "+"; *color = "green"; return;
	case CS_ACT_BIND: *mark = "~"; *color = "yellow"; return;
	case CS_ACT_RELOAD: *mark = ">"; *color = "cyan"; return;
	case CS_ACT_VERIFY: *mark = "?"; *color = "blue"; return;
	case CS_ACT_IMPORT: *mark = "+"; *color = "yellow"; return;
	case CS_ACT_REBOOT: *mark = "!"; *color = "magenta"; return;
	}
	*mark = " ";
	*color = "reset";
}

void cs_render_plan(const struct cs_ui *ui, const struct cs_plan *plan)
{
	FILE *f = ui->f;
	const char *reset = cs_ui_color(ui, "reset"), *dim = cs_ui_color(ui, "dim");
	if (plan->n_actions)
		fprintf(f, "certsync will perform these actions:\n\n");
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct cs_action *a = &plan->actions[i];
		const char *mark, *color;
		action_mark(a, &mark, &color);
		fprintf(f, "  %s%s #%d %s%s\n", cs_ui_color(ui, color), mark, a->id, a->summary, reset);
		fprintf(f, "       %sbecause %s%s\n", dim, a->reason ? a->reason : "", reset);
		if (a->n_deps) {
			fprintf(f, "       %safter", dim);
			for (size_t d = 0; d < a->n_deps; d++)
				fprintf(f, "%s #%d", d ? "," : "", a->deps[d]);
			fprintf(f, "%s\n", reset);
		}
	}
	if (plan->n_actions && plan->n_notices)
		fputc('\n', f);
	for (size_t i = 0; i < plan->n_notices; i++) {
		const struct cs_notice *n = &plan->notices[i];
		const char *color = n->level == CS_NOTICE_ERROR ? "red" :
				    n->level == CS_NOTICE_WAIT ? "magenta" : "reset";
		const char *label = n->level == CS_NOTICE_ERROR ? "error" :
				    n->level == CS_NOTICE_WAIT ? "waiting" : "note";
		fprintf(f, "  %s! %s%s%s%s: %s%s\n", cs_ui_color(ui, color), label,
			n->cert ? " (" : "", n->cert ? n->cert : "", n->cert ? ")" : "", n->text, reset);
	}
	if (plan->n_notices)
		fputc('\n', f);
	if (!plan->n_actions) {
		size_t waiting = 0;
		for (size_t i = 0; i < plan->n_notices; i++)
			waiting += plan->notices[i].level == CS_NOTICE_WAIT;
		fprintf(f, "%sNo changes.%s Everything selected is as declared%s%s.\n", cs_ui_color(ui, "green"),
			reset, plan->n_errors ? " (except what the errors above hide)" : "",
			waiting ? ", but for what waits for a CA (above)" : "");
		return;
	}
	fprintf(f, "%s%sPlan:%s %zu to renew, %zu to bind, %zu to reload, %zu to verify",
		plan->n_notices ? "" : "\n", cs_ui_color(ui, "bold"), reset, cs_plan_count(plan, CS_ACT_RENEW),
		cs_plan_count(plan, CS_ACT_BIND), cs_plan_count(plan, CS_ACT_RELOAD),
		cs_plan_count(plan, CS_ACT_VERIFY));
	/* Only plans with Windows hosts have these; others read as before. */
	if (cs_plan_count(plan, CS_ACT_IMPORT) || cs_plan_count(plan, CS_ACT_REBOOT))
		fprintf(f, ", %zu to import, %zu to reboot", cs_plan_count(plan, CS_ACT_IMPORT),
			cs_plan_count(plan, CS_ACT_REBOOT));
	if (plan->n_errors)
		fprintf(f, "; %s%zu error%s%s", cs_ui_color(ui, "red"), plan->n_errors,
			plan->n_errors == 1 ? "" : "s", reset);
	fprintf(f, ".\n");
}

void cs_print_json(json_t *value, FILE *f)
{
	json_dumpf(value, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
}

/* "gathered 37/120 hosts" on a terminal, rewritten in place; nothing when
 * stderr is not a terminal (logs and pipes stay clean). */
static void show_progress(void *ctx, size_t done, size_t total)
{
	(void)ctx;
	fprintf(stderr, "\rgathered %zu/%zu host%s", done, total, total == 1 ? "" : "s");
	if (done == total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static struct cs_state_pg *state_db;

static void state_detach(void)
{
	cs_state_pg_close(state_db);
	state_db = NULL;
}

/* Is certificate cert touched by a run with this --target selection? */
static bool cert_in_scope(const struct cs_cert_cfg *cert, const struct cs_target *t)
{
	if (!cs_target_has_cert(t, cert->name))
		return false;
	if (!t->n_hosts)
		return true;
	for (size_t j = 0; j < cert->n_bindings; j++)
		if (cs_target_has_host(t, cert->bindings[j].host))
			return true;
	return false;
}

static int state_lock(const struct cs_config *cfg, const struct cs_common *c, struct cs_err *err)
{
	/* Config order for everyone: two runs never wait on each other in a
	 * circle. */
	int r = 0;
	for (size_t i = 0; r == 0 && i < cfg->n_certs; i++)
		if (cert_in_scope(&cfg->certs[i], &c->target))
			r = cs_state_pg_lock(state_db, "certificate", cfg->certs[i].name, c->lock_timeout, err);
	for (size_t h = 0; r == 0 && h < cfg->n_hosts; h++) {
		const char *host = cfg->hosts[h].name;
		bool touched = false;
		for (size_t i = 0; !touched && i < cfg->n_certs; i++) {
			if (!cert_in_scope(&cfg->certs[i], &c->target))
				continue;
			for (size_t j = 0; !touched && j < cfg->certs[i].n_bindings; j++)
				touched = !strcmp(cfg->certs[i].bindings[j].host, host) &&
					  cs_target_has_host(&c->target, host);
		}
		if (touched)
			r = cs_state_pg_lock(state_db, "host", host, c->lock_timeout, err);
	}
	return r;
}

int cs_cli_state_attach(struct cs_config *cfg, const struct cs_common *c, const char *command, bool for_apply)
{
	if (!cfg->settings.pg.set)
		return 0;
	struct cs_err err = CS_ERR_INIT;
	int migrated = -1, status = 0;
	const char *dir = NULL;
	if (!state_db)
		atexit(state_detach);
	state_detach();
	int r = cs_state_pg_open(&state_db, &cfg->settings.pg.dsn, &cfg->settings.pg.key, command, for_apply,
				 &migrated, &err);
	if (r == 0 && migrated >= 0)
		fprintf(stderr, "certsync: state database: schema created (version %d)\n", CS_STATE_PG_SCHEMA);
	if (r == 0 && for_apply)
		r = state_lock(cfg, c, &err);
	if (r == 0)
		r = cs_state_pg_attach(state_db, &dir, &err);
	if (r < 0) {
		status = r == -EBUSY ? CS_EXIT_LOCKED : CS_EXIT_ERROR;
		cs_cli_error("%s", cs_err_msg(&err));
		cs_err_clear(&err);
		state_detach();
		return status;
	}
	free(cfg->settings.state_dir);
	cfg->settings.state_dir = cs_xstrdup(dir);
	return 0;
}

int cs_cli_open(struct cs_session *s, const struct cs_common *c, bool for_apply)
{
	memset(s, 0, sizeof *s);
	int status = cs_cli_load_config(&s->cfg, c);
	if (status)
		return status;
	if ((status = cs_cli_check_targets(s->cfg, c)))
		return status;
	if ((status = cs_cli_state_attach(s->cfg, c, for_apply ? "apply" : "plan", for_apply)))
		return status;
	struct cs_err err = CS_ERR_INIT;
	int locked = 0;
	if (cs_store_open(&s->store, s->cfg->settings.state_dir, for_apply, &err) < 0 ||
	    (for_apply && (locked = cs_store_lock(s->store, "apply", &err)) < 0) ||
	    cs_observe(&s->obs, s->cfg, s->store, &c->target,
		       isatty(STDERR_FILENO) && !cs_log_json() ? show_progress : NULL, NULL, &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
		/* Another run holds the lock: not broken, try again later. */
		if (locked == -EBUSY)
			status = CS_EXIT_LOCKED;
		cs_err_clear(&err);
	}
	return status;
}

int cs_cli_open_report(struct cs_session *s, const struct cs_common *c)
{
	memset(s, 0, sizeof *s);
	int status = cs_cli_load_config(&s->cfg, c);
	if (status)
		return status;
	if ((status = cs_cli_check_targets(s->cfg, c)))
		return status;
	if ((status = cs_cli_state_attach(s->cfg, c, "status", false)))
		return status;
	struct cs_err err = CS_ERR_INIT, folder = CS_ERR_INIT, key = CS_ERR_INIT;
	cs_store_open_report(&s->store, s->cfg->settings.state_dir, &folder, &key, &err);
	if (folder.code) {
		s->state_problem = cs_xstrdup(cs_err_msg(&folder));
		s->state_reason = folder.code == -EPERM ? "folder_open_to_others"
				  : folder.code == -ENOTDIR ? "not_a_folder" : "folder_unreadable";
	} else if (key.code) {
		s->state_problem = cs_xstrdup(cs_err_msg(&key));
		s->state_reason = "unsafe_key_file";
	}
	if (s->state_problem && cs_log_json())
		cs_log_emit(&(struct cs_log_event){ .level = "warning", .event = "state_problem",
						    .message = s->state_problem }, NULL);
	else if (s->state_problem)
		fprintf(stderr, "certsync: warning: %s\n", s->state_problem);
	if (cs_observe(&s->obs, s->cfg, s->store, &c->target,
		       isatty(STDERR_FILENO) && !cs_log_json() ? show_progress : NULL, NULL,
		       &err) < 0)
		status = cs_cli_error("%s", cs_err_msg(&err));
	cs_err_clear(&err);
	cs_err_clear(&folder);
	cs_err_clear(&key);
	return status;
}

void cs_cli_close(struct cs_session *s)
{
	free(s->state_problem);
	cs_observed_free(s->obs);
	cs_store_close(s->store);
	cs_config_free(s->cfg);
	memset(s, 0, sizeof *s);
	state_detach();
}
