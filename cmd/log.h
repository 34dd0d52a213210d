/* Global output options (--log-format, -v) and the JSON log lines that
 * --log-format json writes on stderr for journald and log shippers. */
#ifndef CS_CMD_LOG_H
#define CS_CMD_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include "providers/base/util.h"

enum cs_log_format { CS_LOG_TEXT = 0, CS_LOG_JSON };

struct cs_log_opts {
	enum cs_log_format format;   /* --log-format text|json */
	int verbose;                 /* -v, repeatable */
};
extern struct cs_log_opts cs_log;

/* Take --log-format FMT, --log-format=FMT, -v and --verbose out of argv
 * (anywhere before "--"), so every command accepts them before or after
 * its name.  Returns 0, or prints and returns 1 for a format that is
 * neither text nor json. */
int cs_log_options(int *argc, char **argv);

static inline bool cs_log_json(void)
{
	return cs_log.format == CS_LOG_JSON;
}

/* One event a line: {"time", "level", "event", "cert", "host", "action",
 * "kind", "message"} and the extra fields of EXTRA (a JSON object, taken;
 * may be NULL); NULL and -1 arguments are left out.  level is "debug",
 * "info", "warning" or "error".  Only messages certsync makes go in, and
 * those never carry a secret's value. */
struct cs_log_event {
	const char *level, *event;
	const char *cert, *host;
	int action;                  /* the plan's action id, or 0 */
	const char *kind;            /* renew, bind, ... or NULL */
	const char *message;
};
void cs_log_emit(const struct cs_log_event *e, json_t *extra);
/* A JSON string of S, with bytes that are not UTF-8 replaced by '?'
 * (a host's stderr may hold anything). */
json_t *cs_log_string(const char *s);

#endif
