/* Unit tests for the apply summary record: its JSON form, and finding the
 * newest one from the end of a journal: among action records, past a cut
 * first line, beyond the first read window, not beyond the scan limit, with
 * no journal at all, and not fooled by the marker quoted inside a string. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconcile/apply_record.h"
#include "providers/base/buf.h"
#include "providers/base/util.h"

static char tmpdir[] = "/tmp/certsync-apply-record-XXXXXX";

static char *journal_path(void)
{
	return cs_xasprintf("%s/journal.jsonl", tmpdir);
}

/* Rewrite the journal with text. */
static void write_journal(const char *text)
{
	char *p = journal_path();
	FILE *f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		tap_note("cannot write %s", p);
		abort();
	}
	free(p);
}

static void append_journal(const char *text)
{
	char *p = journal_path();
	FILE *f = fopen(p, "a");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		tap_note("cannot append to %s", p);
		abort();
	}
	free(p);
}

static const char action_line[] =
	"{\"time\":\"2026-05-01T03:00:05Z\",\"action\":\"bind\",\"id\":2,\"certificate\":\"web\","
	"\"host\":\"here\",\"binding\":0,\"result\":\"done\"}\n";

/* A summary line as apply writes it: the record plus the journal's "time". */
static char *summary_line(const char *time, const struct cs_apply_record *r)
{
	json_t *line = json_object();
	json_object_set_new(line, "time", json_string(time));
	json_t *rec = cs_apply_record_json(r);
	json_object_update_missing(line, rec);
	json_decref(rec);
	char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(line);
	char *s = cs_xasprintf("%s\n", text);
	free(text);
	return s;
}

static int64_t ts(const char *rfc3339)
{
	int64_t t = 0;
	cs_time_parse(&t, rfc3339);
	return t;
}

static int last(struct cs_apply_record *r, size_t max)
{
	char *p = journal_path();
	struct cs_err err = CS_ERR_INIT;
	int found = cs_apply_record_last(r, p, max, &err);
	if (found < 0)
		tap_note("error: %s", cs_err_msg(&err));
	cs_err_clear(&err);
	free(p);
	return found;
}

static void test_json_form(void)
{
	struct cs_apply_record r = { .started = ts("2026-05-01T03:00:02Z"), .success = false, .actions = 5,
				     .done = 2, .waiting = 0, .failed = 1, .skipped = 1, .rolled_back = 1,
				     .plan_errors = 0 };
	json_t *o = cs_apply_record_json(&r);
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	tap_str(text, "{\"type\":\"apply\",\"started\":\"2026-05-01T03:00:02Z\",\"result\":\"failure\","
		      "\"actions\":5,\"done\":2,\"waiting\":0,\"failed\":1,\"skipped\":1,\"rolled_back\":1,"
		      "\"plan_errors\":0}",
		"summary record JSON (no time: the journal adds it)");
	free(text);
	json_decref(o);
}

static void test_find(void)
{
	struct cs_apply_record r;
	char *p = journal_path();
	unlink(p);
	free(p);
	tap_int(last(&r, CS_APPLY_RECORD_MAX_SCAN), 0, "no journal: nothing found, not an error");

	write_journal(action_line);
	tap_int(last(&r, CS_APPLY_RECORD_MAX_SCAN), 0, "only action records: nothing found");

	struct cs_apply_record first = { .started = ts("2026-05-01T03:00:00Z"), .success = true, .actions = 3, .done = 3 };
	struct cs_apply_record second = { .started = ts("2026-05-02T03:00:00Z"), .success = false, .actions = 4,
					  .done = 1, .failed = 1, .skipped = 1, .rolled_back = 1, .plan_errors = 2 };
	char *l1 = summary_line("2026-05-01T03:00:07Z", &first);
	char *l2 = summary_line("2026-05-02T03:00:09Z", &second);
	write_journal(action_line);
	append_journal(l1);
	append_journal(action_line);
	append_journal(l2);
	append_journal(action_line);
	tap_int(last(&r, CS_APPLY_RECORD_MAX_SCAN), 1, "summary found among action records");
	tap_int(r.finished, ts("2026-05-02T03:00:09Z"), "the newest one: its time");
	tap_int(r.started, ts("2026-05-02T03:00:00Z"), "started");
	tap_ok(!r.success, "result failure read", NULL);
	tap_int((long long)(r.actions * 1000000 + r.done * 100000 + r.failed * 10000 + r.skipped * 1000 +
			    r.rolled_back * 100 + r.plan_errors * 10 + r.waiting),
		4111120, "every count read back");

	/* A crash mid-write leaves half a line at the end; a detail quoting the
	 * marker is not a summary. */
	append_journal("{\"time\":\"2026-05-03T03:00:00Z\",\"action\":\"bind\",\"result\":\"failed\","
		       "\"detail\":\"saw \\\"type\\\":\\\"apply\\\" in a file\"}\n");
	append_journal("{\"time\":\"2026-05-03T03:00:01Z\",\"type\":\"apply\",\"resu");
	tap_int(last(&r, CS_APPLY_RECORD_MAX_SCAN), 1, "cut last line and quoted marker skipped");
	tap_int(r.finished, ts("2026-05-02T03:00:09Z"), "... the last whole summary wins");

	/* The summary far from the end: more than the first 64 KiB window of
	 * action records after it. */
	write_journal(action_line);
	append_journal(l1);
	struct cs_buf many = CS_BUF_INIT;
	while (many.len < 300 * 1024)
		cs_buf_puts(&many, action_line);
	append_journal(many.data);
	tap_int(last(&r, CS_APPLY_RECORD_MAX_SCAN), 1, "summary 300 KiB before the end found (window grows)");
	tap_int(r.finished, ts("2026-05-01T03:00:07Z"), "... and it is the right one");
	tap_int(last(&r, 128 * 1024), 0, "but not beyond the scan limit");

	/* Summary as the very first line of a file bigger than the window,
	 * found when the window reaches the start. */
	write_journal(l2);
	append_journal(many.data);
	tap_int(last(&r, CS_APPLY_RECORD_MAX_SCAN), 1, "summary on the first line of a big journal");
	cs_buf_free(&many);
	free(l1);
	free(l2);
}

static void test_unreadable(void)
{
	if (geteuid() == 0) {
		tap_ok(true, "unreadable journal (skipped as root: root reads anything)", NULL);
		return;
	}
	char *p = journal_path();
	chmod(p, 0);
	struct cs_apply_record r;
	struct cs_err err = CS_ERR_INIT;
	int found = cs_apply_record_last(&r, p, CS_APPLY_RECORD_MAX_SCAN, &err);
	tap_ok(found == -EACCES && strstr(cs_err_msg(&err), "journal.jsonl"), "unreadable journal is an error naming it",
	       "%d %s", found, cs_err_msg(&err));
	cs_err_clear(&err);
	free(p);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_json_form();
	test_find();
	test_unreadable();
	char *cmd = cs_xasprintf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		tap_note("could not remove %s", tmpdir);
	free(cmd);
	return tap_done();
}
