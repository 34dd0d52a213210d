/* Fault points for the reliability harness (see fault.h). */
#include "providers/base/fault.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool enabled;
static char target[128];      /* NAME of CERTSYNC_FAULT, "" when unset */
static unsigned long target_nth = 1;
static unsigned long target_seen;
static int trace_fd = -1;

static void setup(void)
{
	const char *spec = getenv("CERTSYNC_FAULT");
	const char *trace = getenv("CERTSYNC_FAULT_TRACE");
	if (spec && *spec) {
		const char *at = strchr(spec, '@');
		size_t n = at ? (size_t)(at - spec) : strlen(spec);
		if (n < sizeof target) {
			memcpy(target, spec, n);
			target[n] = '\0';
			if (at) {
				char *end;
				unsigned long nth = strtoul(at + 1, &end, 10);
				target_nth = (*end == '\0' && nth > 0) ? nth : 1;
			}
		}
	}
	if (trace && *trace)
		trace_fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	enabled = target[0] != '\0' || trace_fd >= 0;
}

void cs_fault_point(const char *name)
{
	pthread_once(&once, setup);
	if (!enabled)
		return;
	pthread_mutex_lock(&lock);
	if (trace_fd >= 0) {
		/* One write per line, so lines of parallel hosts never mix. */
		size_t n = strlen(name);
		char line[160];
		if (n > sizeof line - 2)
			n = sizeof line - 2;
		memcpy(line, name, n);
		line[n] = '\n';
		ssize_t w = write(trace_fd, line, n + 1);
		(void)w;
	}
	bool die = target[0] && !strcmp(target, name) && ++target_seen == target_nth;
	pthread_mutex_unlock(&lock);
	if (die)
		raise(SIGKILL);
}
