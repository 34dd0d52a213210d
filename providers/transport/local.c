/* The local transport ("local: {}"): this machine, no network.  Commands run
 * under /bin/sh in the config's folder; files are written atomically with
 * the requested owner, group and mode. */
#include "providers/transport/transport.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "providers/base/duration.h"
#include "providers/base/util.h"

extern char **environ;

struct local {
	struct cs_transport base; /* first: generic code sees a cs_transport */
	/* Grouped writes (group_begin): the files written since, made
	 * durable by group_end. */
	bool grouped;
	char **written;
	size_t n_written, cap_written;
};

static int local_open(struct cs_transport **out, const struct cs_host_cfg *host, struct cs_err *err)
{
	(void)err;
	struct local *l = cs_xcalloc(1, sizeof *l);
	l->base.ops = &cs_transport_local;
	l->base.host = host;
	*out = &l->base;
	return 0;
}

static void local_close(struct cs_transport *t)
{
	if (!t)
		return;
	struct local *l = (struct local *)t;
	cs_strv_free(l->written, l->n_written);
	free(t);
}

static void local_group_begin(struct cs_transport *t)
{
	((struct local *)t)->grouped = true;
}

static void sync_folder(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Every rename since group_begin durable (each file's content was synced
 * before its rename, so only the folders are left): a few files by an
 * fsync of each folder, more by one syncfs of each file system they are on
 * (a host's hundreds of files: one sync each instead of two).  The readers
 * saw the files at once; only which of old and new a power loss keeps
 * waited. */
static int local_group_end(struct cs_transport *t, struct cs_err *err)
{
	struct local *l = (struct local *)t;
	int r = 0;
	dev_t *devs = cs_xcalloc(l->n_written ? l->n_written : 1, sizeof *devs);
	size_t n_devs = 0;
	char *last_dir = NULL;
	for (size_t i = 0; i < l->n_written; i++) {
		char *dir = cs_path_dirname(l->written[i]);
		bool same_dir = last_dir && !strcmp(dir, last_dir);
		if (same_dir) {
			/* the previous file's folder: already synced */
		} else if (l->n_written <= CS_WGROUP_FSYNC_MAX) {
			sync_folder(dir);
		} else {
			struct stat st;
			bool seen = stat(dir, &st) < 0;
			for (size_t k = 0; k < n_devs && !seen; k++)
				seen = devs[k] == st.st_dev;
			int fd = seen ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				devs[n_devs++] = st.st_dev;
				if (syncfs(fd) < 0 && r == 0)
					r = cs_err_errno(err, -errno, "sync the file system of %s", dir);
				close(fd);
			}
		}
		free(last_dir);
		last_dir = dir;
	}
	free(last_dir);
	free(devs);
	cs_strv_free(l->written, l->n_written);
	l->written = NULL;
	l->n_written = l->cap_written = 0;
	l->grouped = false;
	return r;
}

/* Relative paths belong to the config's folder, as they do in the config. */
static char *resolve(struct cs_transport *t, const char *path)
{
	const char *base = t->host ? t->host->local_dir : NULL;
	return cs_path_join(base, path);
}

/* ---- run ---- */

/* Start /bin/sh -c with in, out and errfd as its standard descriptors, in
 * dir, through posix_spawn: a vfork-style start that does not copy
 * certsync's page tables (a fork of a process holding thousands of
 * certificates costs a copy-on-write fault per page it touches until the
 * exec).  The child gets nothing of certsync's own beyond descriptor 2
 * (sockets, the state lock: closefrom 3), an empty signal mask and SIGPIPE
 * at its default.  A folder it cannot enter, or an sh that cannot be
 * started, reads as the command exiting 127 with a message on stderr, as
 * sh says of a command it cannot find. */
static int spawn(pid_t *pid, int in, int out, int errfd, const char *dir, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int r = posix_spawn_file_actions_init(&fa);
	if (r)
		return -r;
	r = posix_spawnattr_init(&attr);
	if (r) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	/* dup2 onto itself (a standard descriptor certsync was started
	 * without) clears close-on-exec in glibc's posix_spawn, as wanted. */
	if (!(r = posix_spawn_file_actions_adddup2(&fa, in, 0)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, out, 1)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, errfd, 2)) &&
	    !(r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) &&
	    !(r = dir ? posix_spawn_file_actions_addchdir_np(&fa, dir) : 0) &&
	    !(r = posix_spawnattr_setsigmask(&attr, &none)) &&
	    !(r = posix_spawnattr_setsigdefault(&attr, &dfl)))
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (!r)
		r = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send sig to pid and everything it started that is still its descendant
 * (sh does not always exec the command it runs, so killing sh alone would
 * leave the hung command behind).  The command stays in certsync's process
 * group, so a Ctrl-C at the terminal reaches it as before. */
static void kill_tree(pid_t pid, int sig)
{
	enum { MAX_PROCS = 65536 };
	pid_t *pids = cs_xcalloc(MAX_PROCS, sizeof *pids), *ppids = cs_xcalloc(MAX_PROCS, sizeof *ppids);
	size_t n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && n < MAX_PROCS && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold spaces and ')'. */
		char *rp = strrchr(buf, ')');
		int ppid;
		if (rp && sscanf(rp + 1, " %*c %d", &ppid) == 1) {
			pids[n] = (pid_t)atoi(e->d_name);
			ppids[n++] = (pid_t)ppid;
		}
	}
	if (d)
		closedir(d);
	/* Breadth first from pid; the list grows as children are found. */
	pid_t *todo = cs_xcalloc(n + 1, sizeof *todo);
	size_t head = 0, tail = 0;
	todo[tail++] = pid;
	while (head < tail) {
		pid_t p = todo[head++];
		for (size_t i = 0; i < n && tail <= n; i++)
			if (ppids[i] == p && pids[i] != p)
				todo[tail++] = pids[i];
	}
	for (size_t i = 0; i < tail; i++)
		kill(todo[i], sig);
	free(todo);
	free(pids);
	free(ppids);
}

/* A command past its time: ask it (and what it started) to stop, then
 * make it. */
static void stop(pid_t pid)
{
	kill_tree(pid, SIGTERM);
	for (int i = 0; i < 20; i++) {
		pid_t w = waitpid(pid, NULL, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return;
		struct timespec ms100 = { 0, 100 * 1000 * 1000 };
		nanosleep(&ms100, NULL);
	}
	kill_tree(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

static int local_run(struct cs_transport *t, const char *command, const void *stdin_data,
		     size_t stdin_len, struct cs_run_result *out, struct cs_err *err)
{
	int in[2] = { -1, -1 }, o[2] = { -1, -1 }, e[2] = { -1, -1 };
	const char *dir = t->host ? t->host->local_dir : NULL;
	char *const argv[] = { "sh", "-c", (char *)command, NULL };
	sigset_t block, old;
	pid_t pid = -1;
	int pidfd = -1;
	int r = 0;

	/* A command that exits without reading its input turns our write
	 * into SIGPIPE; block it in this thread and take EPIPE instead. */
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	sigset_t pending_before;
	sigpending(&pending_before);

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
		r = cs_err_errno(err, -errno, "run: pipe");
		goto out;
	}
	r = spawn(&pid, in[0], o[1], e[1], dir, argv);
	if (r == -ENOMEM || r == -EAGAIN) {
		r = cs_err_errno(err, r, "run: start /bin/sh");
		goto out;
	}
	if (r < 0) {
		/* What the command would have met: its folder or sh missing. */
		static const char no_dir[] = "certsync: cannot enter the working folder\n";
		static const char no_sh[] = "certsync: cannot start /bin/sh\n";
		bool in_dir = dir && access(dir, X_OK) < 0;
		out->exit_status = 127;
		cs_buf_append_fit(&out->err, in_dir ? no_dir : no_sh, in_dir ? sizeof no_dir - 1 : sizeof no_sh - 1);
		r = 0;
		pid = -1;
		goto out;
	}
	close(in[0]);
	close(o[1]);
	close(e[1]);
	in[0] = o[1] = e[1] = -1;
	if (set_nonblock(in[1]) < 0 || set_nonblock(o[0]) < 0 || set_nonblock(e[0]) < 0) {
		r = cs_err_errno(err, -errno, "run: pipe");
		goto out;
	}
	if (stdin_len == 0) {
		close(in[1]);
		in[1] = -1;
	}

	/* A command that starts a daemon ("nginx &") leaves it holding our
	 * pipes; waiting for EOF would then wait for the daemon.  The pidfd
	 * says when the command itself is done.  Without one (old kernel) EOF
	 * is all there is. */
	pidfd = pidfd_open(pid, 0);

	/* Feed stdin and drain stdout/stderr together: doing them one after
	 * the other deadlocks as soon as a pipe buffer fills up. */
	const char *inp = stdin_data;
	size_t left = stdin_len;
	char chunk[65536];
	bool exited = false;
	/* A reload that hangs must not hold apply (and the state lock) forever. */
	int64_t limit_ms = (t->host && t->host->local_timeout > 0 ? t->host->local_timeout : 300) * 1000;
	int64_t deadline = monotonic_ms() + limit_ms;
	while (!exited && (in[1] >= 0 || o[0] >= 0 || e[0] >= 0)) {
		struct pollfd p[4] = {
			{ .fd = in[1], .events = POLLOUT },
			{ .fd = o[0], .events = POLLIN },
			{ .fd = e[0], .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		int64_t wait_ms = deadline - monotonic_ms();
		if (wait_ms <= 0) {
			r = cs_err_set(err, -ETIMEDOUT, "command did not finish within %llds (the host's local timeout): "
				       "stopped", (long long)(limit_ms / 1000));
			stop(pid);
			pid = -1;
			goto out;
		}
		if (poll(p, 4, wait_ms > INT_MAX ? INT_MAX : (int)wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			r = cs_err_errno(err, -errno, "run: poll");
			goto out;
		}
		if (in[1] >= 0 && p[0].revents) {
			ssize_t n = write(in[1], inp, left);
			if (n > 0) {
				inp += n;
				left -= (size_t)n;
			}
			/* EPIPE: the command did not want (all of) its input,
			 * which is its business; its exit status tells. */
			if (left == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(in[1]);
				in[1] = -1;
			}
		}
		exited = p[3].revents != 0;
		for (int i = 1; i < 3; i++) {
			int *fd = i == 1 ? &o[0] : &e[0];
			/* Once the command has exited everything it wrote is
			 * already in the pipe (it could not have exited while
			 * blocked on a full one): read what is there, bounded
			 * by the largest pipe size, and stop. */
			int rounds = exited ? 64 : 1;
			for (int k = 0; k < rounds && *fd >= 0 && (exited || p[i].revents); k++) {
				ssize_t n = read(*fd, chunk, sizeof chunk);
				if (n > 0) {
					/* Past the cap the rest is read and dropped, so a
					 * chatty command neither blocks on a full pipe
					 * nor fails the run. */
					cs_buf_append_fit(i == 1 ? &out->out : &out->err, chunk, (size_t)n);
				} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
					close(*fd);
					*fd = -1;
				} else {
					break;
				}
			}
		}
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = cs_err_errno(err, -errno, "run: wait");
			goto out;
		}
	}
	pid = -1;
	out->exit_status = WIFEXITED(status) ? WEXITSTATUS(status)
			 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
out:
	if (pidfd >= 0)
		close(pidfd);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (o[i] >= 0)
			close(o[i]);
		if (e[i] >= 0)
			close(e[i]);
	}
	if (pid > 0) {
		/* An error after fork: do not leave the command behind. */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	/* Consume a SIGPIPE this run caused before unblocking, so it is not
	 * delivered (and fatal) later. */
	sigset_t pending_now;
	sigpending(&pending_now);
	if (sigismember(&pending_now, SIGPIPE) && !sigismember(&pending_before, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&block, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* ---- files ---- */

static int local_read_file(struct cs_transport *t, const char *path, struct cs_buf *out,
			   struct cs_err *err)
{
	char *p = resolve(t, path);
	int r = cs_file_read(out, p, out->max, err);
	free(p);
	return r;
}

/* One entry of the user database (or, when group is set, the group
 * database): by name, or by *id when name is NULL.  On success *id is the
 * entry's id and *out_name (when asked for) a copy of its name.
 * getpwnam_r and its kin want a buffer whose needed size sysconf only
 * hints at, so it grows while they say ERANGE. */
static bool lookup_db(bool group, const char *name, unsigned long *id, char **out_name)
{
	long size = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
	if (size <= 0)
		size = 16384;
	char *buf = NULL;
	const char *found = NULL; /* the entry's name, inside buf */
	for (;;) {
		buf = cs_xrealloc(buf, (size_t)size);
		int rc;
		if (group) {
			struct group gr, *res = NULL;
			rc = name ? getgrnam_r(name, &gr, buf, (size_t)size, &res)
				  : getgrgid_r((gid_t)*id, &gr, buf, (size_t)size, &res);
			if (res) {
				*id = gr.gr_gid;
				found = gr.gr_name;
			}
		} else {
			struct passwd pw, *res = NULL;
			rc = name ? getpwnam_r(name, &pw, buf, (size_t)size, &res)
				  : getpwuid_r((uid_t)*id, &pw, buf, (size_t)size, &res);
			if (res) {
				*id = pw.pw_uid;
				found = pw.pw_name;
			}
		}
		if (found || rc != ERANGE || size > (1L << 20))
			break;
		size *= 2;
	}
	if (found && out_name)
		*out_name = cs_xstrdup(found);
	free(buf);
	return found != NULL;
}

/* A user or group by name, or by number when given as digits that name
 * no one (as chown(1) takes them). */
static int lookup_id(unsigned long *out, const char *name, bool group, struct cs_err *err)
{
	if (lookup_db(group, name, out, NULL))
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && errno == 0) {
		*out = v;
		return 0;
	}
	return cs_err_set(err, -EINVAL, "unknown %s %s", group ? "group" : "user", name);
}

/* Would chown(2) of a file this process just created to uid and gid
 * ((uid_t)-1, (gid_t)-1: unchanged) be allowed?  Linux: root may do
 * anything; the file's owner may keep itself as owner and choose any group
 * it is in. */
static bool may_chown(uid_t uid, gid_t gid)
{
	uid_t me = geteuid();
	if (me == 0)
		return true;
	if (uid != (uid_t)-1 && uid != me)
		return false;
	if (gid == (gid_t)-1 || gid == getegid())
		return true;
	int n = getgroups(0, NULL);
	if (n <= 0)
		return false;
	gid_t *groups = cs_xcalloc((size_t)n, sizeof *groups);
	n = getgroups(n, groups);
	bool in = false;
	for (int i = 0; i < n && !in; i++)
		in = groups[i] == gid;
	free(groups);
	return in;
}

/* lookup_id for an owner or group that is only kept: false, not an error,
 * when there is none. */
static bool soft_id(unsigned long *out, const char *name, bool group)
{
	struct cs_err e = CS_ERR_INIT;
	bool found = lookup_id(out, name, group, &e) == 0;
	cs_err_clear(&e);
	return found;
}

/* The file a write to path replaces: path itself, or, when path is a
 * symbolic link, the file it leads to (operators link names their services
 * read to files kept elsewhere; replacing the link would leave those
 * files, and whatever reads them, behind).  A dangling link or a loop
 * stays path. */
static char *write_target(const char *path)
{
	struct stat st;
	char *real;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && (real = realpath(path, NULL)) != NULL)
		return real;
	return cs_xstrdup(path);
}

static int local_write_file(struct cs_transport *t, const char *path, const void *data,
			    size_t len, const struct cs_file_attrs *attrs, struct cs_err *err)
{
	char *declared = resolve(t, path);
	char *p = write_target(declared);
	free(declared);
	char *dir = cs_path_dirname(p);
	unsigned long uid = (uid_t)-1, gid = (gid_t)-1; /* -1: leave as it is */
	mode_t mode = attrs ? attrs->mode : 0644;
	int r = 0;
	/* What is only kept (soft) is left as the new file has it where it
	 * cannot be had: a name gone meanwhile, or chown(2) refusing. */
	if (attrs && attrs->owner && !attrs->owner_soft && (r = lookup_id(&uid, attrs->owner, false, err)) < 0)
		goto out;
	if (attrs && attrs->owner && attrs->owner_soft &&
	    (!soft_id(&uid, attrs->owner, false) || !may_chown((uid_t)uid, (gid_t)-1)))
		uid = (uid_t)-1;
	if (attrs && attrs->group && !attrs->group_soft && (r = lookup_id(&gid, attrs->group, true, err)) < 0)
		goto out;
	if (attrs && attrs->group && attrs->group_soft &&
	    (!soft_id(&gid, attrs->group, true) || !may_chown((uid_t)-1, (gid_t)gid)))
		gid = (gid_t)-1;
	/* Folders are part of the host's setup (and their owners and modes
	 * matter); certsync does not invent them. */
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = cs_err_set(err, -ENOENT, "folder %s does not exist", dir);
		goto out;
	}
	/* A folder the writer may not create files in (root's, the files
	 * given to a deploy user) while the file itself is writable: rewrite
	 * it in place, keeping its owner and group (the plan said so). */
	struct stat fst;
	if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) < 0 && errno == EACCES && lstat(p, &fst) == 0 &&
	    S_ISREG(fst.st_mode) && faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) == 0) {
		if ((uid != (uid_t)-1 && uid != fst.st_uid) || (gid != (gid_t)-1 && gid != fst.st_gid))
			r = cs_err_set(err, -EPERM, "write %s: folder %s is not writable, and rewriting the file in "
				       "place cannot change its owner or group", p, dir);
		else
			r = cs_file_write_in_place(p, data, len, mode, err);
		goto out;
	}
	struct local *l = (struct local *)t;
	if (!l->grouped) {
		r = cs_file_write_atomic(p, data, len, mode, (uid_t)uid, (gid_t)gid, err);
		goto out;
	}
	/* Grouped: the content synced now, the rename at group_end (see
	 * transport.h). */
	r = cs_file_write_rename_unsynced(p, data, len, mode, (uid_t)uid, (gid_t)gid, err);
	if (r == 0) {
		if (l->n_written == l->cap_written) {
			l->cap_written = l->cap_written ? 2 * l->cap_written : 16;
			l->written = cs_xrealloc(l->written, l->cap_written * sizeof *l->written);
		}
		l->written[l->n_written++] = cs_xstrdup(p);
	}
out:
	free(dir);
	free(p);
	return r;
}

static int local_remove_temps(struct cs_transport *t, char *const *paths, size_t n, const char *tag,
			      struct cs_err *err)
{
	int removed = 0, r = 0;
	/* Each path, and the file a link there leads to (see write_target). */
	char **all = cs_xcalloc(2 * n + 1, sizeof *all);
	size_t n_all = 0;
	for (size_t i = 0; i < n; i++) {
		all[n_all++] = resolve(t, paths[i]);
		char *target = write_target(all[n_all - 1]);
		if (strcmp(target, all[n_all - 1]))
			all[n_all++] = target;
		else
			free(target);
	}
	for (size_t i = 0; i < n_all && r == 0; i++) {
		size_t n_removed = 0;
		r = cs_remove_temps_beside(all[i], tag, CS_TEMPS_OF_RUN, &n_removed, err);
		removed += (int)n_removed;
	}
	for (size_t i = 0; i < n_all; i++)
		free(all[i]);
	free(all);
	/* Folders a run's commands made under $TMPDIR, named for the run
	 * (a script binding's folder holds the key while its script runs). */
	const char *tmpdir = getenv("TMPDIR");
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	char *prefix = cs_xasprintf("certsync-%s.", tag);
	DIR *d = r == 0 ? opendir(tmpdir) : NULL;
	for (struct dirent *e; d && r == 0 && (e = readdir(d)) != NULL;) {
		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		char *folder = cs_xasprintf("%s/%s", tmpdir, e->d_name);
		struct stat st;
		if (lstat(folder, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid()) {
			if ((r = cs_remove_tree(folder, err)) == 0)
				removed++;
		}
		free(folder);
	}
	if (d)
		closedir(d);
	free(prefix);
	return r < 0 ? r : removed;
}

static int local_remove_file(struct cs_transport *t, const char *path, struct cs_err *err)
{
	char *p = resolve(t, path);
	int r = 0;
	if (unlink(p) < 0 && errno != ENOENT)
		r = cs_err_errno(err, -errno, "remove %s", p);
	free(p);
	return r;
}

/* The name of a user or group id; an id without a name stays a number, as
 * `ls -l` shows it.  The last answer per thread is kept: observing
 * thousands of files of the same owner would otherwise read the user and
 * group databases once per file. */
static char *id_name(unsigned long id, bool group)
{
	static _Thread_local struct { bool set; unsigned long id; char name[64]; } last[2];
	if (last[group].set && last[group].id == id)
		return cs_xstrdup(last[group].name);
	char *name = NULL;
	if (!lookup_db(group, NULL, &id, &name))
		name = cs_xasprintf("%lu", id);
	if (strlen(name) < sizeof last[group].name) {
		last[group].set = true;
		last[group].id = id;
		memcpy(last[group].name, name, strlen(name) + 1);
	}
	return name;
}

/* What a stat found, as the transports tell it. */
static void file_stat_from(struct cs_file_stat *out, const struct stat *st)
{
	out->exists = true;
	out->mode = st->st_mode & 07777;
	out->uid = st->st_uid;
	out->gid = st->st_gid;
	out->owner = id_name(st->st_uid, false);
	out->group = id_name(st->st_gid, true);
	out->size = (int64_t)st->st_size;
}

static int local_stat(struct cs_transport *t, const char *path, struct cs_file_stat *out,
		      struct cs_err *err)
{
	char *p = resolve(t, path);
	struct stat st;
	int r = 0;
	memset(out, 0, sizeof *out);
	/* Through a symlink, as the SSH transport (SFTP stat, stat -L) and
	 * read_file see it: a link's own mode is 0777, and a rollback that kept
	 * it would write the previous bytes (maybe a key) into a 0777 file.
	 * Writing the path replaces the link with a regular file either way. */
	if (stat(p, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			r = cs_err_errno(err, -errno, "stat %s", p);
		goto out;
	}
	file_stat_from(out, &st);
out:
	free(p);
	return r;
}

/* Open, fstat, read, close: two system calls fewer per file than a stat
 * and a read, and the same answer (through a symlink, as both). */
static int local_stat_read(struct cs_transport *t, const char *path, struct cs_file_stat *st, struct cs_buf *out,
			   struct cs_err *err)
{
	char *p = resolve(t, path);
	size_t start = out->len;
	int r = 0;
	memset(st, 0, sizeof *st);
	(void)err;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = errno == ENOENT || errno == ENOTDIR ? 0 : -ENOTSUP;
		goto out;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (out->max && (uint64_t)sb.st_size > out->max)) {
		r = -ENOTSUP;
		goto out;
	}
	char chunk[16384];
	size_t used = 0; /* of chunk, to wipe: a file is mostly far smaller */
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && (size_t)n > used)
			used = (size_t)n;
		if (n < 0 || (n > 0 && cs_buf_append(out, chunk, (size_t)n) < 0)) {
			r = -ENOTSUP;
			break;
		}
		if (n == 0 || (sb.st_size > 0 && out->len - start == (size_t)sb.st_size && (size_t)n < sizeof chunk))
			break;
	}
	OPENSSL_cleanse(chunk, used);
	if (r == 0) {
		if (!out->data)
			cs_buf_append(out, "", 0);
		file_stat_from(st, &sb);
	}
out:
	if (fd >= 0)
		close(fd);
	if (r < 0 && out->data) {
		OPENSSL_cleanse(out->data + start, out->len - start);
		out->len = start;
		out->data[start] = '\0';
	}
	free(p);
	return r;
}

/* ---- config body ---- */

static void local_parse(struct cs_yaml *y, struct cs_host_cfg *h, const struct cs_ynode *key, const struct cs_ynode *m)
{
	static const char *const local_keys[] = { "timeout", NULL };
	const char *shown = cs_yaml_esc(y, h->name);
	cs_yaml_check_keys(y, m, local_keys, cs_yaml_fmt(y, "in local of host %s", shown));
	cs_yaml_duration(y, m, "timeout", cs_yaml_fmt(y, "in local of host %s", shown), true, CS_DURATION_MAX_WAIT,
			 &h->local_timeout);
	if (h->platform == CS_PLATFORM_WINDOWS)
		cs_yaml_report(y, key, "host %s is windows: local is only for linux hosts (use ssh or winrm)", shown);
}

const struct cs_transport_ops cs_transport_local = {
	.name = "local",
	.parse = local_parse,
	.open = local_open,
	.run = local_run,                 /* fork + /bin/sh -c in host->local_dir */
	.read_file = local_read_file,
	.write_file = local_write_file,   /* atomic, owner/group by name */
	.remove_file = local_remove_file,
	.stat = local_stat,               /* stat (follows symlinks), names for owner/group */
	.stat_read = local_stat_read,     /* open, fstat, read */
	.remove_temps = local_remove_temps,
	.close = local_close,
	.group_begin = local_group_begin, /* writes without syncs, */
	.group_end = local_group_end,     /* then one syncfs */
};
