/* Tests for the one-command observation of a Linux host's files
 * (providers/platform/linux_batch.c): the parser against a table of outputs,
 * well formed and not; the script run by the real /bin/sh on files in every
 * state (hostile names included); and the driver's observe_bindings over a
 * transport that counts round trips, which must give exactly what observe()
 * gives binding by binding. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pwd.h>
#include <grp.h>
#include <unistd.h>
#include "providers/platform/linux_batch.h"
#include "providers/platform/platform.h"
#include "providers/transport/transport.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

static char tmpdir[] = "/tmp/certsync-batch-XXXXXX";

/* ---- the parser ---- */

struct want_file {
	bool got;
	bool exists;
	unsigned mode;
	const char *owner, *group;
	const char *content;          /* NULL: not checked */
};

static void test_parse(void)
{
	static const struct {
		const char *name;
		size_t n;
		const char *text;
		int rc;
		struct want_file want[3];
	} cases[] = {
		{ "found, missing, per file", 3,
		  "F 0 644 0 0 6 root root\naGVsbG8K\n\nE 0 0\nM 1\nX 2\nEND\n", 0,
		  { { true, true, 0644, "root", "root", "hello\n" }, { true, false, 0, NULL, NULL, NULL },
		    { false, false, 0, NULL, NULL, NULL } } },
		{ "any order", 2, "M 1\nF 0 600 1001 1001 3 deploy ssl-cert\nYWJj\n\nE 0 0\nEND\n", 0,
		  { { true, true, 0600, "deploy", "ssl-cert", "abc" }, { true, false, 0, NULL, NULL, NULL } } },
		{ "empty file", 1, "F 0 640 0 0 0 root root\n\nE 0 0\nEND\n", 0,
		  { { true, true, 0640, "root", "root", "" } } },
		{ "content over several lines", 1,
		  "F 0 644 0 0 9 root root\nYWJj\nZGVm\nZ2hp\n\nE 0 0\nEND\n", 0,
		  { { true, true, 0644, "root", "root", "abcdefghi" } } },
		{ "ids without names stay numbers", 1,
		  "F 0 4755 4000000 4000001 1 UNKNOWN UNKNOWN\neA==\n\nE 0 0\nEND\n", 0,
		  { { true, true, 04755, "4000000", "4000001", "x" } } },
		{ "base64 failed: per file", 2,
		  "F 0 644 0 0 5 root root\n\nE 0 1\nF 1 644 0 0 5 root root\nYWJj\nE 1 0\nEND\n", 0,
		  { { false, false, 0, NULL, NULL, NULL }, { true, true, 0644, "root", "root", "abc" } } },
		{ "half a line, then the failure", 1, "F 0 644 0 0 5 root root\nYWJ\nE 0 1\nEND\n", 0,
		  { { false } } },
		{ "grew past the cap: per file", 1, "F 0 644 0 0 5 root root\nYWJjZGVmZ2hpamts\n\nE 0 0\nEND\n", 0,
		  { { false } } },
		{ "bad base64 in a file: per file", 1, "F 0 644 0 0 5 root root\nYW=j\n\nE 0 0\nEND\n", 0,
		  { { false } } },
		{ "no END", 1, "M 0\n", -EPROTO, { { false } } },
		{ "cut short in the content", 1, "F 0 644 0 0 5 root root\nYWJj\n", -EPROTO, { { false } } },
		{ "no final newline", 1, "M 0\nEND", -EPROTO, { { false } } },
		{ "a file not answered", 2, "M 0\nEND\n", -EPROTO, { { false }, { false } } },
		{ "answered twice", 1, "M 0\nX 0\nEND\n", -EPROTO, { { false } } },
		{ "index out of range", 1, "M 0\nM 1\nEND\n", -EPROTO, { { false } } },
		{ "negative index", 1, "M -0\nEND\n", -EPROTO, { { false } } },
		{ "something after END", 1, "M 0\nEND\nM 0\n", -EPROTO, { { false } } },
		{ "unknown record", 1, "Q 0\nEND\n", -EPROTO, { { false } } },
		{ "a name with a space", 1, "F 0 644 0 0 1 a b root\neA==\n\nE 0 0\nEND\n", -EPROTO, { { false } } },
		{ "mode not octal", 1, "F 0 689 0 0 1 root root\neA==\n\nE 0 0\nEND\n", -EPROTO, { { false } } },
		{ "mode too large", 1, "F 0 17777 0 0 1 root root\neA==\n\nE 0 0\nEND\n", -EPROTO, { { false } } },
		{ "E for another file", 2, "F 0 644 0 0 1 root root\neA==\nE 1 0\nM 1\nEND\n", -EPROTO,
		  { { false }, { false } } },
		{ "a header inside the content", 1, "F 0 644 0 0 1 root root\nM 0\nE 0 0\nEND\n", -EPROTO,
		  { { false } } },
		{ "an empty line outside a file", 1, "M 0\n\nEND\n", -EPROTO, { { false } } },
		{ "a shell error message", 1, "sh: 1: stat: not found\nX 0\nEND\n", -EPROTO, { { false } } },
		{ "nothing at all", 1, "", -EPROTO, { { false } } },
		{ "a NUL byte", 1, "M 0\0\nEND\n", -EPROTO, { { false } } },
		/* the steady state: one stat, one cat */
		{ "all at once", 2, "S\n644 0 0 3 root root\n600 1001 1002 2 deploy ssl-cert\nC\nabcde", 0,
		  { { true, true, 0644, "root", "root", "abc" }, { true, true, 0600, "deploy", "ssl-cert", "de" } } },
		{ "all at once: bytes are bytes", 1, "S\n644 0 0 4 root root\nC\na\0\nb", 0,
		  { { true, true, 0644, "root", "root", NULL } } },
		{ "all at once: an empty file", 2, "S\n644 0 0 0 root root\n640 7 8 1 UNKNOWN UNKNOWN\nC\nx", 0,
		  { { true, true, 0644, "root", "root", "" }, { true, true, 0640, "7", "8", "x" } } },
		{ "all at once: over the cap, per file", 2, "S\n644 0 0 11 root root\n644 0 0 1 root root\nC\nabcdefghijkx", 0,
		  { { false }, { true, true, 0644, "root", "root", "x" } } },
		{ "all at once: bytes missing", 1, "S\n644 0 0 4 root root\nC\nabc", -EPROTO, { { false } } },
		{ "all at once: bytes too many", 1, "S\n644 0 0 2 root root\nC\nabc", -EPROTO, { { false } } },
		{ "all at once: a stat line short", 2, "S\n644 0 0 2 root root\nC\nab", -EPROTO, { { false }, { false } } },
		{ "all at once: no C", 1, "S\n644 0 0 2 root root\nab", -EPROTO, { { false } } },
		{ "all at once: a field short", 1, "S\n644 0 0 root root\nC\n", -EPROTO, { { false } } },
		{ "all at once: a name with a space", 1, "S\n644 0 0 1 a b root\nC\nx", -EPROTO, { { false } } },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		size_t n = cases[c].n;
		/* Two texts hold a NUL: their length is not strlen's. */
		size_t len = strlen(cases[c].text);
		if (!strcmp(cases[c].name, "a NUL byte"))
			len = sizeof "M 0\0\nEND\n" - 1;
		else if (!strcmp(cases[c].name, "all at once: bytes are bytes"))
			len = sizeof "S\n644 0 0 4 root root\nC\na\0\nb" - 1;
		struct cs_file_obs files[3];
		bool got[3] = { false, false, false };
		memset(files, 0, sizeof files);
		for (size_t k = 0; k < n; k++)
			cs_buf_init(&files[k].content, 10);
		char name[160];
		int rc = cs_linux_batch_parse(files, got, n, cases[c].text, len, 10);
		snprintf(name, sizeof name, "parse %s: status", cases[c].name);
		tap_int(rc, cases[c].rc, name);
		for (size_t k = 0; k < n; k++) {
			const struct want_file *w = &cases[c].want[k];
			snprintf(name, sizeof name, "parse %s: file %zu", cases[c].name, k);
			bool same = got[k] == w->got && files[k].exists == w->exists;
			if (same && w->exists)
				same = files[k].mode == w->mode && cs_streq(files[k].owner, w->owner) &&
				       cs_streq(files[k].group, w->group) &&
				       (!w->content || (files[k].content.len == strlen(w->content) &&
							!memcmp(files[k].content.data, w->content, files[k].content.len)));
			if (same && w->exists && !w->content) /* the one with a NUL */
				same = files[k].content.len == 4 && !memcmp(files[k].content.data, "a\0\nb", 4);
			if (same && w->exists && w->content) {
				char sha[65];
				cs_sha256_hex(sha, w->content, strlen(w->content));
				same = !strcmp(sha, files[k].sha256);
			}
			if (same && !got[k])
				same = !files[k].owner && !files[k].content.len && !files[k].sha256[0];
			tap_ok(same, name, "got=%d exists=%d mode=%o owner=%s group=%s len=%zu", got[k],
			       files[k].exists, (unsigned)files[k].mode, files[k].owner ? files[k].owner : "-",
			       files[k].group ? files[k].group : "-", files[k].content.len);
			free(files[k].owner);
			free(files[k].group);
			cs_buf_free_secret(&files[k].content);
		}
	}
}

/* ---- the script, run by /bin/sh ---- */

static char *path_in(const char *name)
{
	return cs_xasprintf("%s/%s", tmpdir, name);
}

static void write_bytes(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		tap_note("cannot write %s", path);
	chmod(path, mode);
}

/* Run the script for paths with /bin/sh; its output in out. */
static int run_script(struct cs_buf *out, const char *const *paths, size_t n, size_t max)
{
	struct cs_buf script = CS_BUF_INIT;
	cs_linux_batch_script(&script, paths, n, max);
	char *file = path_in("script.sh");
	write_bytes(file, script.data, script.len, 0600);
	char *cmd = cs_xasprintf("/bin/sh %s", file);
	FILE *p = popen(cmd, "r");
	char chunk[4096];
	size_t got;
	while (p && (got = fread(chunk, 1, sizeof chunk, p)) > 0)
		cs_buf_append(out, chunk, got);
	int status = p ? pclose(p) : -1;
	free(cmd);
	free(file);
	cs_buf_free(&script);
	return status;
}

static void test_script(void)
{
	unsigned char binary[256];
	for (int i = 0; i < 256; i++)
		binary[i] = (unsigned char)i;
	const char *me = getpwuid(geteuid()) ? getpwuid(geteuid())->pw_name : "?";
	const char *my_group = getgrgid(getegid()) ? getgrgid(getegid())->gr_name : "?";
	static const char *hostile = "it's a \"$(touch pwned)\" `x` name\nwith a newline; -rf *";
	char *p_plain = path_in("plain.crt"), *p_empty = path_in("empty.key"),
	     *p_missing = path_in("missing.pem"), *p_dangling = path_in("dangling.pem"),
	     *p_link = path_in("link.pem"), *p_dir = path_in("a-dir"), *p_big = path_in("big.pem"),
	     *p_under = path_in("plain.crt/below"), *p_hostile = path_in(hostile),
	     *p_dash = path_in("-n"), *p_nodir = path_in("no-such-dir/x.pem");
	write_bytes(p_plain, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 59, 0644);
	write_bytes(p_empty, "", 0, 0600);
	write_bytes(p_hostile, binary, sizeof binary, 04751);
	write_bytes(p_dash, "dash", 4, 0640);
	char big[2000];
	memset(big, 'A', sizeof big);
	write_bytes(p_big, big, sizeof big, 0644);
	if (symlink(p_missing, p_dangling) != 0 || symlink(p_plain, p_link) != 0 || mkdir(p_dir, 0755) != 0)
		tap_note("cannot set up links and folders");

	const struct {
		const char *path;
		bool got, exists;
		unsigned mode;
		const void *content;
		size_t len;
	} cases[] = {
		{ p_plain, true, true, 0644, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 59 },
		{ p_empty, true, true, 0600, "", 0 },
		{ p_missing, true, false, 0, NULL, 0 },
		{ p_nodir, true, false, 0, NULL, 0 },
		{ p_dangling, true, false, 0, NULL, 0 },        /* stat follows links, as SFTP stat does */
		{ p_link, true, true, 0644, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 59 },
		{ p_hostile, true, true, 04751, binary, sizeof binary },
		{ p_dash, true, true, 0640, "dash", 4 },
		{ p_dir, false, false, 0, NULL, 0 },             /* base64 fails: per file */
		{ p_big, false, false, 0, NULL, 0 },             /* over the cap: per file */
		{ p_under, false, false, 0, NULL, 0 },           /* "Not a directory": per file */
	};
	enum { N = sizeof cases / sizeof cases[0] };
	const char *paths[N];
	for (size_t k = 0; k < N; k++)
		paths[k] = cases[k].path;
	struct cs_buf out = CS_BUF_INIT;
	int status = run_script(&out, paths, N, 1024);
	tap_int(status, 0, "script: sh exits 0");
	struct cs_file_obs files[N];
	bool got[N];
	memset(files, 0, sizeof files);
	memset(got, 0, sizeof got);
	for (size_t k = 0; k < N; k++)
		cs_buf_init(&files[k].content, 1024);
	int rc = cs_linux_batch_parse(files, got, N, out.data ? out.data : "", out.len, 1024);
	tap_ok(rc == 0, "script: output parses", "rc %d, output:\n%s", rc, out.data ? out.data : "");
	for (size_t k = 0; k < N; k++) {
		char name[160];
		snprintf(name, sizeof name, "script: file %zu", k);
		bool same = got[k] == cases[k].got && files[k].exists == cases[k].exists;
		if (same && cases[k].exists)
			same = files[k].mode == cases[k].mode && cs_streq(files[k].owner, me) &&
			       cs_streq(files[k].group, my_group) && files[k].content.len == cases[k].len &&
			       !memcmp(files[k].content.data, cases[k].content, cases[k].len);
		tap_ok(same, name, "%s: got=%d exists=%d mode=%o owner=%s group=%s len=%zu", cases[k].path,
		       got[k], files[k].exists, (unsigned)files[k].mode, files[k].owner ? files[k].owner : "-",
		       files[k].group ? files[k].group : "-", files[k].content.len);
		free(files[k].owner);
		free(files[k].group);
		cs_buf_free_secret(&files[k].content);
	}
	tap_ok(access("pwned", F_OK) != 0, "script: a hostile name runs nothing", NULL);

	/* Every file there and readable: the steady state, all at once. */
	const char *plain[] = { p_plain, p_hostile, p_link, p_empty, p_dash };
	enum { NP = sizeof plain / sizeof plain[0] };
	struct cs_buf fast = CS_BUF_INIT;
	run_script(&fast, plain, NP, 1024);
	tap_ok(fast.len > 2 && !memcmp(fast.data, "S\n", 2), "script: readable files take the fast way",
	       "%.200s", fast.data ? fast.data : "");
	struct cs_file_obs pf[NP];
	bool pgot[NP];
	memset(pf, 0, sizeof pf);
	memset(pgot, 0, sizeof pgot);
	for (size_t k = 0; k < NP; k++)
		cs_buf_init(&pf[k].content, 1024);
	rc = cs_linux_batch_parse(pf, pgot, NP, fast.data ? fast.data : "", fast.len, 1024);
	tap_int(rc, 0, "script: the fast way parses");
	const size_t from_case[NP] = { 0, 6, 5, 1, 7 }; /* the same files in cases[] */
	for (size_t k = 0; k < NP; k++) {
		char name[160];
		snprintf(name, sizeof name, "script: fast way, file %zu", k);
		size_t c = from_case[k];
		tap_ok(pgot[k] && pf[k].exists && pf[k].mode == cases[c].mode && cs_streq(pf[k].owner, me) &&
		       cs_streq(pf[k].group, my_group) && pf[k].content.len == cases[c].len &&
		       !memcmp(pf[k].content.data, cases[c].content, cases[c].len),
		       name, "got=%d mode=%o len=%zu", pgot[k], (unsigned)pf[k].mode, pf[k].content.len);
		free(pf[k].owner);
		free(pf[k].group);
		cs_buf_free_secret(&pf[k].content);
	}
	cs_buf_free(&fast);
	tap_ok(access("pwned", F_OK) != 0, "script: fast way, a hostile name runs nothing", NULL);

	/* An id without a name (needs root to give the file away). */
	if (geteuid() == 0) {
		char *p = path_in("orphan.pem");
		write_bytes(p, "x", 1, 0644);
		if (chown(p, 3999999, 3999998) != 0)
			tap_note("chown failed");
		const char *one[] = { p };
		struct cs_buf o = CS_BUF_INIT;
		run_script(&o, one, 1, 1024);
		struct cs_file_obs f;
		bool g = false;
		memset(&f, 0, sizeof f);
		cs_buf_init(&f.content, 1024);
		cs_linux_batch_parse(&f, &g, 1, o.data ? o.data : "", o.len, 1024);
		tap_ok(g && cs_streq(f.owner, "3999999") && cs_streq(f.group, "3999998"),
		       "script: ids without names stay numbers", "owner %s group %s",
		       f.owner ? f.owner : "-", f.group ? f.group : "-");
		free(f.owner);
		free(f.group);
		cs_buf_free_secret(&f.content);
		cs_buf_free(&o);
		free(p);
	}
	cs_buf_free(&out);
	free(p_plain), free(p_empty), free(p_missing), free(p_dangling), free(p_link), free(p_dir);
	free(p_big), free(p_under), free(p_hostile), free(p_dash), free(p_nodir);
}

/* ---- who and files in one script (cs_linux_observe_script) ---- */

/* Run a script text with /bin/sh, PATH starting with path_first when not
 * NULL; its output in out, its exit status returned. */
static int run_text(struct cs_buf *out, const struct cs_buf *script, const char *path_first)
{
	char *file = path_in("observe.sh");
	write_bytes(file, script->data, script->len, 0600);
	char *cmd = path_first ? cs_xasprintf("PATH='%s':\"$PATH\" /bin/sh '%s'", path_first, file)
			       : cs_xasprintf("/bin/sh '%s'", file);
	FILE *p = popen(cmd, "r");
	char chunk[4096];
	size_t got;
	while (p && (got = fread(chunk, 1, sizeof chunk, p)) > 0)
		cs_buf_append(out, chunk, got);
	int status = p ? pclose(p) : -1;
	free(cmd);
	free(file);
	return status;
}

/* The combined script and the two scripts one after the other, both run:
 * the same bytes and the same exit status. */
static void same_as_two(const char *name, const char *const *dirs, size_t nd, const char *const *paths,
			size_t np, const char *path_first)
{
	char title[160];
	struct cs_buf one = CS_BUF_INIT, two = CS_BUF_INIT, out1 = CS_BUF_INIT, out2 = CS_BUF_INIT;
	snprintf(title, sizeof title, "observe script %s: made", name);
	tap_int(cs_linux_observe_script(&one, dirs, nd, paths, np, 1024), 0, title);
	cs_linux_who_script(&two, dirs, nd);
	cs_linux_batch_script(&two, paths, np, 1024);
	int s1 = run_text(&out1, &one, path_first), s2 = run_text(&out2, &two, path_first);
	snprintf(title, sizeof title, "observe script %s: the same output as who + files", name);
	tap_ok(s1 == s2 && out1.len == out2.len && out1.len > 0 && !memcmp(out1.data, out2.data, out1.len), title,
	       "status %d / %d\n--- one script:\n%s\n--- two:\n%s", s1, s2, out1.data ? out1.data : "",
	       out2.data ? out2.data : "");
	cs_buf_free(&one), cs_buf_free(&two), cs_buf_free(&out1), cs_buf_free(&out2);
}

/* How many of id, stat, cat, base64 a script starts: wrappers in a folder
 * first on PATH append their names to a log. */
static int processes(const struct cs_buf *script, char *log_out, size_t log_size)
{
	char *bin = path_in("wrap-bin"), *log = path_in("wrap.log");
	mkdir(bin, 0755);
	static const char *tools[] = { "id", "stat", "cat", "base64" };
	for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
		char *w = cs_xasprintf("%s/%s", bin, tools[i]);
		char *real = cs_xasprintf("#!/bin/sh\necho %s >>'%s'\nPATH=${PATH#*:}\nexport PATH\nexec %s \"$@\"\n", tools[i],
					  log, tools[i]);
		write_bytes(w, real, strlen(real), 0755);
		free(real);
		free(w);
	}
	unlink(log);
	struct cs_buf out = CS_BUF_INIT;
	run_text(&out, script, bin);
	cs_buf_free(&out);
	int n = 0;
	size_t used = 0;
	log_out[0] = '\0';
	FILE *f = fopen(log, "r");
	char line[64];
	while (f && fgets(line, sizeof line, f)) {
		n++;
		line[strcspn(line, "\n")] = ' ';
		if (used + strlen(line) < log_size) {
			memcpy(log_out + used, line, strlen(line) + 1);
			used += strlen(line);
		}
	}
	if (f)
		fclose(f);
	free(bin);
	free(log);
	return n;
}

static void test_observe_script(void)
{
	static const char *odd = "odd dir 'x' $(touch pwned)\nline";
	char *d1 = path_in("o1"), *d2 = path_in(odd), *nodir = path_in("o-none");
	mkdir(d1, 0755);
	mkdir(d2, 0750);
	char *a = cs_xasprintf("%s/a.crt", d1), *b = cs_xasprintf("%s/b.key", d1), *c = cs_xasprintf("%s/c.pem", d2),
	     *m = cs_xasprintf("%s/missing.pem", d1), *x = cs_xasprintf("%s/x.pem", nodir);
	write_bytes(a, "cert\n", 5, 0644);
	write_bytes(b, "key\n", 4, 0600);
	write_bytes(c, "odd\n", 4, 0640);

	const char *dirs2[] = { d1, d2 }, *steady[] = { a, b, c };
	same_as_two("steady state", dirs2, 2, steady, 3, NULL);
	const char *dirs1[] = { d1 }, *with_missing[] = { a, m };
	same_as_two("a missing file", dirs1, 1, with_missing, 2, NULL);
	const char *dirs_none[] = { d1, nodir }, *in_none[] = { a, x };
	same_as_two("a missing folder", dirs_none, 2, in_none, 2, NULL);
	tap_ok(access("pwned", F_OK) != 0, "observe script: a hostile folder name runs nothing", NULL);

	/* The steady state costs id, one stat and cat; the two scripts one
	 * after the other stat the folders apart. */
	struct cs_buf one = CS_BUF_INIT, two = CS_BUF_INIT;
	cs_linux_observe_script(&one, dirs2, 2, steady, 3, 1024);
	cs_linux_who_script(&two, dirs2, 2);
	cs_linux_batch_script(&two, steady, 3, 1024);
	char log1[256], log2[256];
	int n1 = processes(&one, log1, sizeof log1), n2 = processes(&two, log2, sizeof log2);
	tap_ok(n1 == 3 && strstr(log1, "id ") && strstr(log1, "stat ") && strstr(log1, "cat "),
	       "observe script: the steady state starts id, stat and cat, nothing else", "started: %s", log1);
	tap_ok(n2 == 5, "observe script: (the two scripts apart start five: a stat per folder)", "started: %s", log2);
	/* A missing file: the per-file way, as the two scripts do. */
	cs_buf_free(&one);
	cs_linux_observe_script(&one, dirs1, 1, with_missing, 2, 1024);
	n1 = processes(&one, log1, sizeof log1);
	tap_ok(n1 > 3, "observe script: a missing file takes the per-file way", "started: %s", log1);

	/* A folder whose stat line does not split into six words (a group
	 * name with a space, as NSS may give) takes the per-folder way: made
	 * here with a stat that prints such a name. */
	char *fake = path_in("fake-bin"), *fake_stat = path_in("fake-bin/stat");
	mkdir(fake, 0755);
	static const char fake_text[] = "#!/bin/sh\nPATH=${PATH#*:}\nexport PATH\n"
					"stat \"$@\" | sed 's/ [^ ]*$/ a group/'\n";
	write_bytes(fake_stat, fake_text, strlen(fake_text), 0755);
	same_as_two("a group name with a space", dirs2, 2, steady, 3, fake);
	free(fake), free(fake_stat);
	cs_buf_free(&one);
	cs_buf_free(&two);
	free(a), free(b), free(c), free(m), free(x), free(d1), free(d2), free(nodir);
}

/* ---- the driver: observe_bindings against observe() ---- */

/* The local transport dressed up as a remote one that counts its calls. */
struct counting {
	struct cs_transport base;
	struct cs_transport *local;
	int runs, stats, reads;
	bool fail_run;                /* run() fails as a dead connection would */
};
static struct cs_transport_ops counting_ops;

static struct counting *C(struct cs_transport *t)
{
	return (struct counting *)t;
}

static int c_run(struct cs_transport *t, const char *command, const void *in, size_t in_len,
		 struct cs_run_result *out, struct cs_err *err)
{
	C(t)->runs++;
	if (C(t)->fail_run)
		return cs_err_set(err, -EIO, "host fake: connection lost");
	return C(t)->local->ops->run(C(t)->local, command, in, in_len, out, err);
}

static int c_stat(struct cs_transport *t, const char *path, struct cs_file_stat *out, struct cs_err *err)
{
	C(t)->stats++;
	return C(t)->local->ops->stat(C(t)->local, path, out, err);
}

static int c_read(struct cs_transport *t, const char *path, struct cs_buf *out, struct cs_err *err)
{
	C(t)->reads++;
	return C(t)->local->ops->read_file(C(t)->local, path, out, err);
}

static bool same_obs(const struct cs_binding_obs *a, const struct cs_binding_obs *b)
{
	if (!cs_streq(a->error, b->error) || a->n_files != b->n_files)
		return false;
	for (size_t k = 0; k < a->n_files; k++) {
		const struct cs_file_obs *x = &a->files[k], *y = &b->files[k];
		if (strcmp(x->role, y->role) || strcmp(x->path, y->path) || x->exists != y->exists ||
		    x->mode != y->mode || !cs_streq(x->owner, y->owner) || !cs_streq(x->group, y->group) ||
		    strcmp(x->sha256, y->sha256) || x->content.len != y->content.len ||
		    (x->content.len && memcmp(x->content.data, y->content.data, x->content.len)))
			return false;
	}
	return true;
}

static void test_observe_bindings(void)
{
	const struct cs_platform_ops *linux_ops = cs_platform_ops_for(CS_PLATFORM_LINUX);
	tap_ok(linux_ops && linux_ops->observe_bindings, "linux has observe_bindings", NULL);
	counting_ops = (struct cs_transport_ops){
		.name = "counting", .run = c_run, .stat = c_stat,
		.read_file = c_read, .remote = true,
	};
	struct cs_host_cfg host = { .name = "here", .transport = CS_TRANSPORT_LOCAL };
	struct cs_err err = CS_ERR_INIT;
	struct counting ct = { .base = { .ops = &counting_ops, .host = &host } };
	if (cs_transport_open(&ct.local, &host, &err) < 0) {
		tap_ok(false, "open the local transport", "%s", cs_err_msg(&err));
		return;
	}
	char *d = path_in("obs");
	mkdir(d, 0755);
	char *crt = cs_xasprintf("%s/site.crt", d), *key = cs_xasprintf("%s/site.key", d),
	     *full = cs_xasprintf("%s/full.pem", d), *gone = cs_xasprintf("%s/gone.pem", d),
	     *folder = cs_xasprintf("%s/folder", d);
	write_bytes(crt, "CERT\n", 5, 0644);
	write_bytes(key, "KEY\n", 4, 0600);
	write_bytes(full, "CERT\nCHAIN\n", 11, 0640);
	mkdir(folder, 0755);

	struct cs_binding_cfg b[4];
	memset(b, 0, sizeof b);
	b[0].kind = CS_BIND_FILES;
	b[0].files.cert = crt;
	b[0].files.key = key;
	b[1].kind = CS_BIND_SCRIPT;
	b[2].kind = CS_BIND_FILES;
	b[2].files.fullchain = full;
	b[2].files.chain = gone;
	b[3].kind = CS_BIND_FILES;
	b[3].files.pem = folder;      /* a folder: the script leaves it to the per-file way */
	const struct cs_binding_cfg *bp[4] = { &b[0], &b[1], &b[2], &b[3] };

	/* The folder's read fails in both ways with the transport's message. */
	static const struct {
		const char *name;
		bool fail_run;
		int runs, stats, reads;   /* calls observe_bindings makes */
	} cases[] = {
		/* + 1 stat: the missing gone.pem's folder is looked at */
		{ "one run for the host", false, 1, 2, 1 },
		{ "run fails: every file the per-file way", true, 1, 6, 4 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct cs_binding_obs want[4], have[4];
		struct cs_binding_obs *outs[4] = { &have[0], &have[1], &have[2], &have[3] };
		memset(want, 0, sizeof want);
		memset(have, 0, sizeof have);
		ct.fail_run = false;
		/* The reference: observe() binding by binding. */
		for (size_t i = 0; i < 4; i++)
			if (linux_ops->observe(&ct.base, bp[i], &want[i], &err) < 0)
				tap_note("observe %zu: %s", i, cs_err_msg(&err));
		ct.fail_run = cases[c].fail_run;
		ct.runs = ct.stats = ct.reads = 0;
		int r = linux_ops->observe_bindings(&ct.base, bp, outs, 4, &err);
		char name[160];
		snprintf(name, sizeof name, "observe_bindings %s: status", cases[c].name);
		tap_ok(r == 0, name, "%s", cs_err_msg(&err));
		for (size_t i = 0; i < 4; i++) {
			snprintf(name, sizeof name, "observe_bindings %s: binding %zu as observe() sees it",
				 cases[c].name, i);
			tap_ok(same_obs(&want[i], &have[i]), name, "error %s / %s, %zu / %zu files",
			       want[i].error ? want[i].error : "-", have[i].error ? have[i].error : "-",
			       want[i].n_files, have[i].n_files);
			cs_binding_obs_free(&want[i]);
			cs_binding_obs_free(&have[i]);
		}
		snprintf(name, sizeof name, "observe_bindings %s: %d run, %d stat, %d read", cases[c].name,
			 cases[c].runs, cases[c].stats, cases[c].reads);
		tap_ok(ct.runs == cases[c].runs && ct.stats == cases[c].stats && ct.reads == cases[c].reads,
		       name, "%d run, %d stat, %d read", ct.runs, ct.stats, ct.reads);
	}
	/* Only readable files: one run and nothing else. */
	struct cs_binding_obs want0, have0;
	struct cs_binding_obs *out0[1] = { &have0 };
	memset(&want0, 0, sizeof want0);
	memset(&have0, 0, sizeof have0);
	linux_ops->observe(&ct.base, bp[0], &want0, &err);
	ct.fail_run = false;
	ct.runs = ct.stats = ct.reads = 0;
	tap_int(linux_ops->observe_bindings(&ct.base, bp, out0, 1, &err), 0, "observe_bindings readable files: status");
	tap_ok(same_obs(&want0, &have0), "observe_bindings readable files: as observe() sees them", NULL);
	tap_ok(ct.runs == 1 && ct.stats == 0 && ct.reads == 0, "observe_bindings readable files: 1 run, 0 stat, 0 read",
	       "%d run, %d stat, %d read", ct.runs, ct.stats, ct.reads);
	cs_binding_obs_free(&want0);
	cs_binding_obs_free(&have0);

	/* A missing file in a missing folder: the binding says so, both ways. */
	struct cs_binding_cfg nb;
	memset(&nb, 0, sizeof nb);
	nb.kind = CS_BIND_FILES;
	char *nowhere = cs_xasprintf("%s/nowhere", d);
	nb.files.cert = cs_xasprintf("%s/site.crt", nowhere);
	const struct cs_binding_cfg *nbp[1] = { &nb };
	char *why = cs_xasprintf("folder %s does not exist (certsync writes files into existing folders only: "
				 "create it first)", nowhere);
	for (int batch = 0; batch < 2; batch++) {
		struct cs_binding_obs o;
		struct cs_binding_obs *op[1] = { &o };
		memset(&o, 0, sizeof o);
		int r = batch ? linux_ops->observe_bindings(&ct.base, nbp, op, 1, &err)
			      : linux_ops->observe(&ct.base, &nb, &o, &err);
		tap_ok(r == 0 && cs_streq(o.error, why), batch ? "observe_bindings: missing folder" :
		       "observe: missing folder", "r %d error %s", r, o.error ? o.error : "-");
		cs_binding_obs_free(&o);
	}
	free(why);
	free(nb.files.cert);
	free(nowhere);
	cs_err_clear(&err);
	cs_transport_close(ct.local);
	free(crt), free(key), free(full), free(gone), free(folder), free(d);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (chdir(tmpdir) != 0)
		return 1;
	test_parse();
	test_script();
	test_observe_script();
	test_observe_bindings();
	char *rm = cs_xasprintf("rm -rf '%s'", tmpdir);
	if (system(rm) != 0)
		tap_note("cannot remove %s", tmpdir);
	free(rm);
	return tap_done();
}
