/* The apply summary record in the journal (see apply_record.h). */
#include "apply_record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"

#define FIRST_WINDOW (64u << 10)

/* The marker a line must contain to be worth parsing.  The journal writes
 * compact JSON, so a summary always contains it verbatim; inside a string
 * (an error text quoting it) the quotes would be escaped and not match. */
#define MARKER "\"type\":\"apply\""

json_t *cs_apply_record_json(const struct cs_apply_record *r)
{
	char started[21];
	cs_time_rfc3339(started, r->started);
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string("apply"));
	json_object_set_new(o, "started", json_string(started));
	json_object_set_new(o, "result", json_string(r->success ? "success" : "failure"));
	json_object_set_new(o, "actions", json_integer((json_int_t)r->actions));
	json_object_set_new(o, "done", json_integer((json_int_t)r->done));
	json_object_set_new(o, "waiting", json_integer((json_int_t)r->waiting));
	json_object_set_new(o, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
	json_object_set_new(o, "rolled_back", json_integer((json_int_t)r->rolled_back));
	json_object_set_new(o, "plan_errors", json_integer((json_int_t)r->plan_errors));
	if (r->recovered)
		json_object_set_new(o, "recovered", json_integer((json_int_t)r->recovered));
	return o;
}

static size_t count(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (size_t)v : 0;
}

/* Parse one journal line; true when it is a well-formed summary. */
static bool parse_line(struct cs_apply_record *out, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL);
	bool ok = false;
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *time = json_string_value(json_object_get(o, "time"));
	const char *started = json_string_value(json_object_get(o, "started"));
	const char *result = json_string_value(json_object_get(o, "result"));
	memset(out, 0, sizeof *out);
	if (type && !strcmp(type, "apply") && time && cs_time_parse(&out->finished, time) == 0 && result) {
		if (!started || cs_time_parse(&out->started, started) < 0)
			out->started = out->finished;
		out->success = !strcmp(result, "success");
		out->actions = count(o, "actions");
		out->done = count(o, "done");
		out->waiting = count(o, "waiting");
		out->failed = count(o, "failed");
		out->skipped = count(o, "skipped");
		out->rolled_back = count(o, "rolled_back");
		out->plan_errors = count(o, "plan_errors");
		ok = true;
	}
	json_decref(o);
	return ok;
}

/* The last summary among the whole lines of data[0..len). */
static bool scan(struct cs_apply_record *out, const char *data, size_t len)
{
	size_t end = len;
	while (end > 0) {
		size_t start = end;
		while (start > 0 && data[start - 1] != '\n')
			start--;
		size_t n = end - start;
		if (n && memmem(data + start, n, MARKER, strlen(MARKER)) && parse_line(out, data + start, n))
			return true;
		end = start ? start - 1 : 0;
	}
	return false;
}

int cs_apply_record_last(struct cs_apply_record *out, const char *path, size_t max_bytes,
			 struct cs_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return cs_err_errno(err, -errno, "journal %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = cs_err_errno(err, -errno, "journal %s", path);
		close(fd);
		return r;
	}
	size_t size = (size_t)st.st_size;
	char *buf = NULL;
	int found = 0;
	for (size_t window = FIRST_WINDOW;; window *= 4) {
		if (window > size)
			window = size;
		if (window > max_bytes)
			window = max_bytes;
		size_t off = size - window;
		buf = cs_xrealloc(buf, window + 1);
		size_t got = 0;
		while (got < window) {
			ssize_t n = pread(fd, buf + got, window - got, (off_t)(off + got));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				found = cs_err_errno(err, -errno, "journal %s", path);
				goto out;
			}
			if (n == 0)
				break; /* truncated under us: use what is there */
			got += (size_t)n;
		}
		/* Not at the start of the file: the first line is cut, skip it. */
		size_t skip = 0;
		if (off > 0) {
			const char *nl = memchr(buf, '\n', got);
			skip = nl ? (size_t)(nl - buf) + 1 : got;
		}
		if (scan(out, buf + skip, got - skip)) {
			found = 1;
			break;
		}
		if (off == 0 || window >= max_bytes)
			break;
	}
out:
	free(buf);
	close(fd);
	return found;
}
