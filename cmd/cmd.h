/* The command table and what the command files share: loading the config
 * and state the same way, rendering plans and errors. */
#ifndef CS_CMD_H
#define CS_CMD_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "reconcile/config.h"
#include "reconcile/observe.h"
#include "reconcile/plan.h"
#include "reconcile/store.h"

/* What `certsync version` prints and build_info reports. */
#define CERTSYNC_VERSION "0.1.0"

struct cs_cmd {
	const char *name;
	const char *usage;     /* arguments after the command name */
	const char *summary;   /* one line for `certsync help` */
	int (*exec)(int argc, char **argv); /* returns the exit status */
};

extern const struct cs_cmd cs_cmd_apply;
extern const struct cs_cmd cs_cmd_calendar;
extern const struct cs_cmd cs_cmd_discover;
extern const struct cs_cmd cs_cmd_init;
extern const struct cs_cmd cs_cmd_metrics;
extern const struct cs_cmd cs_cmd_plan;
extern const struct cs_cmd cs_cmd_state;
extern const struct cs_cmd cs_cmd_status;
extern const struct cs_cmd cs_cmd_validate;

/* Options every command that reads the config understands. */
struct cs_common {
	const char *config;        /* -c FILE; default $CERTSYNC_CONFIG or certsync.yaml */
	struct cs_target target;   /* --target host=NAME / cert=NAME, repeatable */
	int64_t lock_timeout;      /* apply --lock-timeout: seconds to wait for the state database's locks */
};

/* Exit statuses: 0 done, 1 error, 2 changes present (plan
 * --detailed-exitcode), 3 the state folder is locked by another run, so a
 * timer can tell "try again later" from "broken". */
#define CS_EXIT_ERROR 1
#define CS_EXIT_LOCKED 3

/* "certsync: <message>" on stderr; returns 1 (the error exit status). */
int cs_cli_error(const char *fmt, ...) CS_PRINTF(1, 2);

/* Handle -c and --target for getopt_long loops: returns true when opt was
 * one of them (and stores it), so each command keeps its own loop. */
bool cs_common_option(struct cs_common *c, int opt, const char *arg);
#define CS_OPT_TARGET 1000
#define CS_COMMON_LONG_OPTIONS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "target", required_argument, NULL, CS_OPT_TARGET }
const char *cs_common_config_path(const struct cs_common *c);
void cs_common_free(struct cs_common *c);

/* Load and validate the config; on failure print every diagnostic and
 * return 1 (exit status), else 0. */
int cs_cli_load_config(struct cs_config **out, const struct cs_common *c);
/* Validation diagnostics, one a line: "FILE:LINE:COL: message" (FILE:
 * message when line is 0). */
void cs_diags_print(const struct cs_diags *d, FILE *f);
/* Check --target names against the config; prints and returns 1 on error. */
int cs_cli_check_targets(const struct cs_config *cfg, const struct cs_common *c);

/* Config + state folder + observed state, the way plan, apply and status
 * need them.  With for_apply the state folder is created and locked. */
struct cs_session {
	struct cs_config *cfg;
	struct cs_store *store;
	struct cs_observed *obs;
	/* cs_cli_open_report only: what is wrong with the state folder (NULL
	 * when nothing), and a fixed word for it ("unsafe_key_file", ...). */
	char *state_problem;
	const char *state_reason;
};
int cs_cli_open(struct cs_session *s, const struct cs_common *c, bool for_apply);
/* For status and metrics: a state folder that is open to others or holds
 * an unsafe key does not stop the report; it is kept in state_problem
 * (and printed as a warning on stderr) and the rest is observed. */
int cs_cli_open_report(struct cs_session *s, const struct cs_common *c);
void cs_cli_close(struct cs_session *s);
/* settings.state.postgres: connect, take the locks of what the run touches
 * (for_apply) and point cfg's state_dir at the run's working copy; the
 * session ends at exit.  Returns an exit status (3: locked).  A config
 * without it is left alone. */
int cs_cli_state_attach(struct cs_config *cfg, const struct cs_common *c, const char *command, bool for_apply);

/* Output helpers. */
struct cs_ui {
	FILE *f;
	bool color;                /* a terminal and NO_COLOR unset */
};
void cs_ui_init(struct cs_ui *ui, FILE *f);
const char *cs_ui_color(const struct cs_ui *ui, const char *name); /* "red", "green", ..., "reset", "bold", "dim" */

void cs_render_plan(const struct cs_ui *ui, const struct cs_plan *plan);
/* The plan as Markdown for a pull request (cmd/render_markdown.c); cfg
 * (may be NULL) adds the files and places bindings write. */
void cs_render_plan_markdown(FILE *f, const struct cs_plan *plan, const struct cs_config *cfg);
void cs_print_json(json_t *value, FILE *f);

#endif
