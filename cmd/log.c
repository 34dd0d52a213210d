/* --log-format json: one JSON object a line on stderr (see log.h). */
#include "cmd/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cs_log_opts cs_log;

/* Options of some command that take a value: their value is not ours to
 * take, even when it reads "-v". */
static bool takes_value(const char *arg)
{
	static const char *const with_value[] = { "-c", "--config", "-o", "--out", "--output", "--target",
						  "--format" };
	for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++)
		if (!strcmp(arg, with_value[i]))
			return true;
	return false;
}

static int set_format(const char *fmt)
{
	if (!strcmp(fmt, "text"))
		cs_log.format = CS_LOG_TEXT;
	else if (!strcmp(fmt, "json"))
		cs_log.format = CS_LOG_JSON;
	else {
		fprintf(stderr, "certsync: --log-format %s: expected text or json\n", fmt);
		return 1;
	}
	return 0;
}

int cs_log_options(int *argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			cs_log.verbose++;
			continue;
		}
		if (!strcmp(a, "--log-format")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "certsync: --log-format needs a value: text or json\n");
				return 1;
			}
			if (set_format(argv[++i]))
				return 1;
			continue;
		}
		if (!strncmp(a, "--log-format=", 13)) {
			if (set_format(a + 13))
				return 1;
			continue;
		}
		argv[out++] = argv[i];
		if (takes_value(a) && i + 1 < *argc)
			argv[out++] = argv[++i];
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

/* RFC 3339 UTC with milliseconds, from the real clock: a log line says
 * when it was written, whatever CERTSYNC_NOW pretends. */
static void stamp(char out[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

json_t *cs_log_string(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j)
		return j;
	char *copy = strdup(s);
	if (!copy)
		return json_string("");
	/* Keep ASCII, replace the rest: enough for a log line. */
	for (unsigned char *p = (unsigned char *)copy; *p; p++)
		if (*p >= 0x80 || (*p < 0x20 && *p != '\n' && *p != '\t'))
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void cs_log_emit(const struct cs_log_event *e, json_t *extra)
{
	char t[32];
	stamp(t);
	json_t *o = json_object();
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "level", json_string(e->level));
	json_object_set_new(o, "event", json_string(e->event));
	if (e->cert)
		json_object_set_new(o, "cert", cs_log_string(e->cert));
	if (e->host)
		json_object_set_new(o, "host", cs_log_string(e->host));
	if (e->action > 0)
		json_object_set_new(o, "action", json_integer(e->action));
	if (e->kind)
		json_object_set_new(o, "kind", json_string(e->kind));
	if (extra)
		json_object_update(o, extra);
	/* Last, so that a reader skimming the line finds it at the end. */
	json_object_set_new(o, "message", cs_log_string(e->message ? e->message : ""));
	json_decref(extra);
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		/* One write per line: lines of parallel hosts never interleave. */
		fprintf(stderr, "%s\n", line);
		fflush(stderr);
		free(line);
	}
	json_decref(o);
}
