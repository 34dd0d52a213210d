/* Tests for the transport registry and the local transport: commands with
 * input and large output both ways, exit codes and signals, descriptor
 * hygiene, and file operations with modes and owners. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <pwd.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "providers/transport/transport.h"
#include "providers/base/util.h"

static char tmpdir[] = "/tmp/certsync-local-XXXXXX";

static void test_registry(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_transport *t = (struct cs_transport *)1;
	tap_ok(cs_transport_ops_for(CS_TRANSPORT_LOCAL) == &cs_transport_local, "registry: local", NULL);
	tap_ok(cs_transport_ops_for(CS_TRANSPORT_SSH) == &cs_transport_ssh, "registry: ssh", NULL);
	tap_ok(cs_transport_ops_for(CS_TRANSPORT_WINRM) == &cs_transport_winrm, "registry: winrm", NULL);
	struct cs_host_cfg h = { .name = "web1", .transport = CS_TRANSPORT_SSH };
	/* The ssh transport itself is tested against sshd in
	 * tests/integration/test_ssh_transport.sh; here only that the registry
	 * reaches it. */
	tap_int(cs_transport_open(&t, &h, &err), -EINVAL, "open ssh without an address: -EINVAL");
	tap_str(err.msg, "host web1: ssh needs an address and a user", "open ssh: message");
	tap_ok(t == NULL, "open ssh: no handle", NULL);
	cs_err_clear(&err);
	h.transport = CS_TRANSPORT_WINRM;
	h.name = "sapphire";
	tap_int(cs_transport_open(&t, &h, &err), -EINVAL, "open winrm without an address: -EINVAL");
	tap_str(err.msg, "host sapphire: winrm needs an address", "open winrm: message");
	tap_ok(t == NULL, "open winrm: no handle", NULL);
	cs_err_clear(&err);
	cs_transport_close(NULL);
}

static void test_run(struct cs_transport *t)
{
	static const struct {
		const char *cmd;
		const char *in;
		int status;
		const char *out, *err;
	} cases[] = {
		{ "true", NULL, 0, "", "" },
		{ "exit 3", NULL, 3, "", "" },
		{ "echo hello", NULL, 0, "hello\n", "" },
		{ "echo oops >&2; exit 1", NULL, 1, "", "oops\n" },
		{ "cat", "from stdin", 0, "from stdin", "" },
		{ "tr a-z A-Z", "shout", 0, "SHOUT", "" },
		{ "read x; echo \"got $x\"", "line\nrest\n", 0, "got line\n", "" },
		{ "kill -TERM $$", NULL, 128 + 15, "", "" },
		{ "kill -KILL $$", NULL, 128 + 9, "", "" },
		{ "basename \"$(pwd)\"", NULL, 0, NULL /* checked below */, "" },
		{ "exit 0", "input nobody reads", 0, "", "" },
		{ "/no/such/program", NULL, 127, "", NULL },
		{ "printf 'a\\0b'", NULL, 0, NULL, "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_run_result res;
		struct cs_err err = CS_ERR_INIT;
		char name[96];
		cs_run_result_init(&res, 1 << 16);
		const char *in = cases[i].in;
		int r = t->ops->run(t, cases[i].cmd, in, in ? strlen(in) : 0, &res, &err);
		snprintf(name, sizeof name, "run \"%s\"", cases[i].cmd);
		if (tap_ok(r == 0, name, "%s", cs_err_msg(&err))) {
			snprintf(name, sizeof name, "run \"%s\": exit status", cases[i].cmd);
			tap_int(res.exit_status, cases[i].status, name);
			snprintf(name, sizeof name, "run \"%s\": stdout", cases[i].cmd);
			if (cases[i].out)
				tap_str(res.out.data ? res.out.data : "", cases[i].out, name);
			snprintf(name, sizeof name, "run \"%s\": stderr", cases[i].cmd);
			if (cases[i].err)
				tap_str(res.err.data ? res.err.data : "", cases[i].err, name);
		}
		if (i == 9) {
			char *want = cs_xasprintf("%s\n", cs_path_basename(tmpdir));
			tap_str(res.out.data, want, "run: working folder is the config folder");
			free(want);
		}
		if (i == 12)
			tap_ok(res.out.len == 3 && memcmp(res.out.data, "a\0b", 3) == 0, "run: binary output", NULL);
		cs_run_result_free(&res);
		cs_err_clear(&err);
	}

	/* 1 MiB in, 1 MiB back on stdout and 1 MiB on stderr at the same time:
	 * only works when all three pipes are served together. */
	size_t big = 1 << 20;
	char *in = cs_xmalloc(big);
	for (size_t i = 0; i < big; i++)
		in[i] = (char)('a' + (i * 7919) % 26);
	struct cs_run_result res;
	struct cs_err err = CS_ERR_INIT;
	cs_run_result_init(&res, 4u << 20);
	int r = t->ops->run(t, "tee /dev/stderr", in, big, &res, &err);
	tap_ok(r == 0 && res.exit_status == 0, "run 1 MiB both ways", "%s", cs_err_msg(&err));
	tap_ok(res.out.len == big && memcmp(res.out.data, in, big) == 0, "1 MiB stdout intact",
	       "len %zu", res.out.len);
	tap_ok(res.err.len == big && memcmp(res.err.data, in, big) == 0, "1 MiB stderr intact",
	       "len %zu", res.err.len);
	cs_run_result_free(&res);

	/* Output past the cap is drained and dropped, not an error. */
	cs_run_result_init(&res, 1000);
	r = t->ops->run(t, "head -c 3000000 /dev/zero; head -c 5000 /dev/zero >&2; exit 4", NULL, 0, &res, &err);
	tap_ok(r == 0 && res.exit_status == 4, "capped run completes", "%s", cs_err_msg(&err));
	tap_int((long long)res.out.len, 1000, "stdout capped");
	tap_int((long long)res.err.len, 1000, "stderr capped");
	cs_run_result_free(&res);

	/* A command that stops reading early: our write gets EPIPE, no
	 * SIGPIPE kills the test. */
	cs_run_result_init(&res, 1000);
	r = t->ops->run(t, "head -c 10 >/dev/null; echo done", in, big, &res, &err);
	tap_ok(r == 0 && res.exit_status == 0, "early reader: no SIGPIPE", "%s", cs_err_msg(&err));
	tap_str(res.out.data, "done\n", "early reader: output");
	cs_run_result_free(&res);
	free(in);

	/* A command that leaves a background process holding its output
	 * returns when the command itself is done, with what it wrote. */
	cs_run_result_init(&res, 1000);
	time_t start = time(NULL);
	r = t->ops->run(t, "sleep 5 & echo started; echo warn >&2; exit 2", NULL, 0, &res, &err);
	tap_ok(r == 0 && res.exit_status == 2 && time(NULL) - start < 3,
	       "background child does not hold run()", "r %d status %d after %lds", r, res.exit_status,
	       (long)(time(NULL) - start));
	tap_str(res.out.data, "started\n", "background: stdout of the command");
	tap_str(res.err.data, "warn\n", "background: stderr of the command");
	cs_run_result_free(&res);

	/* Descriptors of certsync do not leak into commands. */
	int leak = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
	char *cmd = cs_xasprintf("if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo closed; fi", leak);
	cs_run_result_init(&res, 1000);
	r = t->ops->run(t, cmd, NULL, 0, &res, &err);
	tap_str(res.out.data, "closed\n", "descriptors closed in the child");
	cs_run_result_free(&res);
	free(cmd);
	close(leak);

	/* The command starts with SIGPIPE at its default and nothing blocked,
	 * whatever certsync's own signal state. */
	void (*was)(int) = signal(SIGPIPE, SIG_IGN);
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	cs_run_result_init(&res, 1000);
	r = t->ops->run(t, "kill -PIPE $$; exit 0", NULL, 0, &res, &err);
	tap_ok(r == 0 && res.exit_status == 128 + SIGPIPE, "SIGPIPE at its default in the child", "r %d status %d", r,
	       res.exit_status);
	cs_run_result_free(&res);
	cs_run_result_init(&res, 1000);
	r = t->ops->run(t, "kill -TERM $$; exit 0", NULL, 0, &res, &err);
	tap_ok(r == 0 && res.exit_status == 128 + SIGTERM, "no signal blocked in the child", "r %d status %d", r,
	       res.exit_status);
	cs_run_result_free(&res);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, was);
	cs_err_clear(&err);
}

/* stat_read answers as stat and read_file do, or -ENOTSUP (nothing kept)
 * when they must say what is wrong. */
static void test_stat_read(struct cs_transport *t)
{
	struct cs_err err = CS_ERR_INIT;
	char *f = cs_xasprintf("%s/sr.pem", tmpdir), *l = cs_xasprintf("%s/sr-link", tmpdir);
	char *d = cs_xasprintf("%s/sr-dir", tmpdir), *gone = cs_xasprintf("%s/sr-gone", tmpdir);
	FILE *fp = fopen(f, "w");
	if (fp) {
		fputs("certificate bytes\n", fp);
		fclose(fp);
	}
	chmod(f, 0640);
	symlink(f, l);
	mkdir(d, 0700);
	const char *paths[] = { f, l };
	for (size_t i = 0; i < 2; i++) {
		struct cs_file_stat a = { 0 }, b = { 0 };
		struct cs_buf ca, cb;
		cs_buf_init(&ca, 1 << 16);
		cs_buf_init(&cb, 1 << 16);
		int r = t->ops->stat_read(t, paths[i], &a, &ca, &err);
		t->ops->stat(t, paths[i], &b, &err);
		t->ops->read_file(t, paths[i], &cb, &err);
		tap_ok(r == 0 && a.exists && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.size == b.size &&
		       cs_streq(a.owner, b.owner) && cs_streq(a.group, b.group) && ca.len == cb.len &&
		       !memcmp(ca.data, cb.data, cb.len),
		       i ? "stat_read through a symlink: as stat and read_file" : "stat_read: as stat and read_file",
		       "r %d", r);
		cs_file_stat_free(&a);
		cs_file_stat_free(&b);
		cs_buf_free(&ca);
		cs_buf_free(&cb);
		cs_err_clear(&err);
	}
	struct cs_file_stat st = { 0 };
	struct cs_buf c;
	cs_buf_init(&c, 1 << 16);
	tap_ok(t->ops->stat_read(t, gone, &st, &c, &err) == 0 && !st.exists && c.len == 0, "stat_read: missing", NULL);
	cs_file_stat_free(&st);
	tap_int(t->ops->stat_read(t, d, &st, &c, &err), -ENOTSUP, "stat_read: a folder is left to stat and read_file");
	tap_ok(c.len == 0 && !st.exists, "stat_read: nothing kept", NULL);
	cs_buf_free(&c);
	cs_buf_init(&c, 4);
	tap_int(t->ops->stat_read(t, f, &st, &c, &err), -ENOTSUP, "stat_read: larger than the buffer's cap");
	tap_ok(c.len == 0, "stat_read: nothing kept of a large file", NULL);
	cs_buf_free(&c);
	cs_err_clear(&err);
	unlink(l);
	unlink(f);
	rmdir(d);
	free(f);
	free(l);
	free(d);
	free(gone);
}

/* A working folder that is gone: the command does not run, as if sh could
 * not find it (127), and says why on stderr. */
static void test_run_no_folder(void)
{
	char *gone = cs_xasprintf("%s/gone", tmpdir);
	struct cs_host_cfg host = {
		.name = "there", .platform = CS_PLATFORM_LINUX, .transport = CS_TRANSPORT_LOCAL, .local_dir = gone,
	};
	struct cs_transport *t = NULL;
	struct cs_err err = CS_ERR_INIT;
	struct cs_run_result res;
	cs_run_result_init(&res, 1000);
	if (cs_transport_open(&t, &host, &err) == 0) {
		int r = t->ops->run(t, "echo ran", NULL, 0, &res, &err);
		tap_ok(r == 0 && res.exit_status == 127, "run in a missing folder: exit 127", "r %d status %d: %s", r,
		       res.exit_status, cs_err_msg(&err));
		tap_str(res.out.data ? res.out.data : "", "", "run in a missing folder: nothing ran");
		tap_str(res.err.data ? res.err.data : "", "certsync: cannot enter the working folder\n",
			"run in a missing folder: stderr says why");
	}
	cs_run_result_free(&res);
	cs_transport_close(t);
	cs_err_clear(&err);
	free(gone);
}

static int mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void test_files(struct cs_transport *t)
{
	struct cs_err err = CS_ERR_INIT;
	char *sub = cs_xasprintf("%s/tls", tmpdir);
	mkdir(sub, 0755);
	char *abs = cs_xasprintf("%s/tls/site.crt", tmpdir);

	/* Modes are applied exactly, whatever the umask. */
	static const int modes[] = { 0600, 0640, 0644, 0400 };
	mode_t old = umask(077);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		struct cs_file_attrs a = { .mode = (mode_t)modes[i] };
		char name[64];
		int r = t->ops->write_file(t, "tls/site.crt", "CERT\n", 5, &a, &err);
		snprintf(name, sizeof name, "write relative path with mode %04o", modes[i]);
		tap_ok(r == 0 && mode_of(abs) == modes[i], name, "r %d mode %04o: %s", r, mode_of(abs),
		       cs_err_msg(&err));
	}
	umask(old);
	struct cs_buf b;
	cs_buf_init(&b, 1000);
	int r = t->ops->read_file(t, abs, &b, &err);
	tap_ok(r == 0 && b.len == 5 && strcmp(b.data, "CERT\n") == 0, "read back (absolute path)", "%s",
	       cs_err_msg(&err));
	cs_buf_free(&b);
	cs_buf_init(&b, 3);
	r = t->ops->read_file(t, "tls/site.crt", &b, &err);
	tap_int(r, -E2BIG, "read larger than the buffer cap");
	cs_buf_free(&b);
	cs_err_clear(&err);
	cs_buf_init(&b, 1000);
	tap_int(t->ops->read_file(t, "tls/missing.crt", &b, &err), -ENOENT, "read missing: -ENOENT");
	cs_buf_free(&b);
	cs_err_clear(&err);
	char *ls = cs_xasprintf("ls -a '%s/tls' | grep -q certsync- ", tmpdir);
	tap_ok(system(ls) != 0, "no temporary files left", NULL);
	free(ls);

	/* Owner and group by name: our own, which we may always set. */
	struct passwd *pw = getpwuid(getuid());
	struct group *gr = getgrgid(getgid());
	char *user = cs_xstrdup(pw ? pw->pw_name : "0");
	char *group = cs_xstrdup(gr ? gr->gr_name : "0");
	struct cs_file_attrs a = { .mode = 0640, .owner = user, .group = group };
	r = t->ops->write_file(t, "tls/site.crt", "NEW\n", 4, &a, &err);
	tap_ok(r == 0, "write with owner and group names", "%s", cs_err_msg(&err));
	struct cs_file_stat st;
	r = t->ops->stat(t, "tls/site.crt", &st, &err);
	tap_ok(r == 0 && st.exists && st.mode == 0640 && st.size == 4 && st.uid == getuid(), "stat",
	       "r %d exists %d mode %04o size %lld", r, st.exists, (unsigned)st.mode, (long long)st.size);
	tap_str(st.owner, user, "stat owner name");
	tap_str(st.group, group, "stat group name");
	cs_file_stat_free(&st);

	struct cs_file_attrs bad_user = { .mode = 0644, .owner = "no-such-user-certsync" };
	r = t->ops->write_file(t, "tls/site.crt", "X", 1, &bad_user, &err);
	tap_int(r, -EINVAL, "unknown owner refused");
	tap_str(err.msg, "unknown user no-such-user-certsync", "unknown owner message");
	cs_err_clear(&err);
	struct cs_file_attrs bad_group = { .mode = 0644, .group = "no-such-group-certsync" };
	r = t->ops->write_file(t, "tls/site.crt", "X", 1, &bad_group, &err);
	tap_int(r, -EINVAL, "unknown group refused");
	tap_str(err.msg, "unknown group no-such-group-certsync", "unknown group message");
	cs_err_clear(&err);
	cs_buf_init(&b, 100);
	t->ops->read_file(t, "tls/site.crt", &b, NULL);
	tap_str(b.data, "NEW\n", "refused writes left the file alone");
	cs_buf_free(&b);

	/* An owner or group that is only kept (the replaced file's): one that
	 * names nobody any more is no error, the file stays the writer's. */
	struct cs_file_attrs gone = { .mode = 0644, .owner = "no-such-user-certsync", .group = "no-such-group-certsync",
				      .owner_soft = true, .group_soft = true };
	r = t->ops->write_file(t, "tls/kept.crt", "K", 1, &gone, &err);
	tap_ok(r == 0, "kept owner and group that name nobody: written", "%s", cs_err_msg(&err));
	r = t->ops->stat(t, "tls/kept.crt", &st, &err);
	tap_ok(r == 0 && st.uid == geteuid() && st.gid == getegid(), "kept owner and group that name nobody: the writer's",
	       "uid %lu gid %lu", (unsigned long)st.uid, (unsigned long)st.gid);
	cs_file_stat_free(&st);
	t->ops->remove_file(t, "tls/kept.crt", NULL);
	cs_err_clear(&err);

	/* A user that is not root keeps what chown(2) lets it and leaves the
	 * rest (owner root, a group it is not in) as the new file has it; a
	 * declared one it cannot set fails the write. */
	if (geteuid() == 0) {
		char *open_dir = cs_xasprintf("%s/open", tmpdir);
		mkdir(open_dir, 0777);
		chmod(open_dir, 0777);
		chmod(tmpdir, 0711);
		pid_t pid = fork();
		if (pid == 0) {
			if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
				_exit(10);
			struct cs_err e = CS_ERR_INIT;
			struct cs_file_attrs keep = { .mode = 0640, .owner = "0", .group = "0",
						      .owner_soft = true, .group_soft = true };
			if (t->ops->write_file(t, "open/soft.crt", "S", 1, &keep, &e) < 0)
				_exit(11);
			struct stat sb;
			char *written = cs_xasprintf("%s/soft.crt", open_dir);
			if (stat(written, &sb) < 0 || sb.st_uid != 65534 || sb.st_gid != 65534 ||
			    (sb.st_mode & 07777) != 0640)
				_exit(12);
			struct cs_file_attrs hard = { .mode = 0640, .group = "0" };
			if (t->ops->write_file(t, "open/soft.crt", "H", 1, &hard, &e) != -EPERM)
				_exit(13);
			_exit(0);
		}
		int status = -1;
		waitpid(pid, &status, 0);
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "not root: kept owner and group it may not set are left, declared ones refused",
		       "child status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		chmod(tmpdir, 0700);
		free(open_dir);
	}

	/* Digits that name no user or group are taken as the id itself (as
	 * chown does), and stat shows an id without a name as the number.
	 * Only root may give a file away. */
	if (geteuid() == 0) {
		struct cs_file_attrs ids = { .mode = 0600, .owner = "4242424", .group = "4242425" };
		r = t->ops->write_file(t, "tls/ids.crt", "X", 1, &ids, &err);
		tap_ok(r == 0, "write with numeric owner and group", "%s", cs_err_msg(&err));
		r = t->ops->stat(t, "tls/ids.crt", &st, &err);
		tap_ok(r == 0 && st.uid == 4242424, "numeric owner set", "r %d uid %lu", r, (unsigned long)st.uid);
		tap_str(st.owner, "4242424", "stat: an owner without a name is its number");
		tap_str(st.group, "4242425", "stat: a group without a name is its number");
		cs_file_stat_free(&st);
		t->ops->remove_file(t, "tls/ids.crt", NULL);
	}

	r = t->ops->write_file(t, "nowhere/site.crt", "X", 1, &a, &err);
	tap_int(r, -ENOENT, "missing folder refused");
	char *want = cs_xasprintf("folder %s/nowhere does not exist", tmpdir);
	tap_str(err.msg, want, "missing folder message");
	free(want);
	cs_err_clear(&err);

	/* A symlink is seen through, as over SSH: the target's mode, not 0777. */
	char *link_path = cs_xasprintf("%s/tls/link.crt", tmpdir);
	if (tap_ok(symlink("site.crt", link_path) == 0, "make a symlink", NULL)) {
		r = t->ops->stat(t, "tls/link.crt", &st, &err);
		tap_ok(r == 0 && st.exists && st.mode == 0640, "stat follows a symlink",
		       "r %d exists %d mode %04o", r, st.exists, (unsigned)st.mode);
		cs_file_stat_free(&st);
		unlink(link_path);
	}
	free(link_path);

	/* stat of a missing file, remove. */
	r = t->ops->stat(t, "tls/missing.crt", &st, &err);
	tap_ok(r == 0 && !st.exists, "stat missing: exists false", NULL);
	cs_file_stat_free(&st);
	tap_int(t->ops->remove_file(t, "tls/site.crt", &err), 0, "remove");
	tap_ok(mode_of(abs) == -1, "removed", NULL);
	tap_int(t->ops->remove_file(t, "tls/site.crt", &err), 0, "remove missing is fine");

	free(user);
	free(group);
	free(abs);
	free(sub);
	cs_err_clear(&err);
}

/* Grouped writes: each file in place at once (readers see it), with its
 * mode; group_end syncs them (a few by fsync, many by syncfs) and ends the
 * group; nothing temporary is left; a failed write in a group fails as
 * outside one. */
static void test_group(struct cs_transport *t)
{
	struct cs_err err = CS_ERR_INIT;
	tap_ok(t->ops->group_begin && t->ops->group_end, "local groups writes", NULL);
	if (!t->ops->group_begin || !t->ops->group_end)
		return;
	char *sub = cs_xasprintf("%s/grp", tmpdir);
	mkdir(sub, 0755);
	static const size_t counts[] = { 2, 20 };
	for (size_t c = 0; c < 2; c++) {
		t->ops->group_begin(t);
		size_t good = 0;
		for (size_t i = 0; i < counts[c]; i++) {
			char rel[64], want[32], *abs;
			snprintf(rel, sizeof rel, "grp/f%zu-%zu.pem", c, i);
			snprintf(want, sizeof want, "file %zu", i);
			struct cs_file_attrs a = { .mode = i % 2 ? 0600 : 0644 };
			int r = t->ops->write_file(t, rel, want, strlen(want), &a, &err);
			abs = cs_xasprintf("%s/%s", tmpdir, rel);
			struct cs_buf b;
			cs_buf_init(&b, 100);
			if (r == 0 && cs_file_read(&b, abs, 100, &err) == 0 && b.len == strlen(want) &&
			    !memcmp(b.data, want, b.len) && mode_of(abs) == (int)a.mode)
				good++;
			cs_buf_free(&b);
			free(abs);
			cs_err_clear(&err);
		}
		char name[80];
		snprintf(name, sizeof name, "group of %zu: each file in place with its mode before the sync", counts[c]);
		tap_ok(good == counts[c], name, "%zu of %zu", good, counts[c]);
		snprintf(name, sizeof name, "group of %zu: synced", counts[c]);
		tap_int(t->ops->group_end(t, &err), 0, name);
		cs_err_clear(&err);
	}
	char *ls = cs_xasprintf("ls -a '%s/grp' | grep -q certsync- ", tmpdir);
	tap_ok(system(ls) != 0, "group: no temporary files left", NULL);
	free(ls);
	t->ops->group_begin(t);
	struct cs_file_attrs a = { .mode = 0644 };
	tap_int(t->ops->write_file(t, "nowhere/site.crt", "X", 1, &a, &err), -ENOENT, "group: missing folder refused");
	cs_err_clear(&err);
	tap_int(t->ops->group_end(t, &err), 0, "group: nothing written, nothing to sync");
	cs_err_clear(&err);
	free(sub);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_registry();
	struct cs_host_cfg host = {
		.name = "here", .platform = CS_PLATFORM_LINUX, .transport = CS_TRANSPORT_LOCAL,
		.local_dir = tmpdir,
	};
	struct cs_transport *t = NULL;
	struct cs_err err = CS_ERR_INIT;
	if (tap_ok(cs_transport_open(&t, &host, &err) == 0 && t, "open local", "%s", cs_err_msg(&err))) {
		tap_ok(t->ops == &cs_transport_local && t->host == &host, "handle knows ops and host", NULL);
		test_run(t);
		test_files(t);
		test_group(t);
		test_stat_read(t);
	}
	test_run_no_folder();
	cs_transport_close(t);
	char *rm = cs_xasprintf("rm -rf '%s'", tmpdir);
	if (system(rm) != 0)
		tap_note("could not remove %s", tmpdir);
	free(rm);
	return tap_done();
}
