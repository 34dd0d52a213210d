/* Shared helpers: allocation, paths, local files, hashes, time (see util.h). */
#include "providers/base/util.h"
#include "providers/base/state_mirror.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "providers/base/fault.h"

void cs_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("certsync: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void cs_out_of_memory(void)
{
	cs_die("out of memory");
}

void *cs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		cs_out_of_memory();
	return p;
}

void *cs_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		cs_out_of_memory();
	return p;
}

void *cs_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		cs_out_of_memory();
	return p;
}

char *cs_xstrdup(const char *s)
{
	if (!s)
		return NULL;
	char *p = strdup(s);
	if (!p)
		cs_out_of_memory();
	return p;
}

char *cs_xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		cs_out_of_memory();
	return s;
}

char *cs_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = cs_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

char *cs_path_join(const char *base, const char *rel)
{
	if (rel[0] == '/' || !base || !base[0])
		return cs_xstrdup(rel);
	size_t bl = strlen(base);
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	/* "./x" reads better as "x" in messages. */
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	return cs_xasprintf("%.*s/%s", (int)bl, base, rel);
}

char *cs_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return cs_xstrdup(".");
	if (slash == path)
		return cs_xstrdup("/");
	return cs_xasprintf("%.*s", (int)(slash - path), path);
}

const char *cs_path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

char *cs_path_expand_home(const char *path)
{
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		const char *home = getenv("HOME");
		if (home && home[0])
			return cs_xasprintf("%s%s", home, path + 1);
	}
	return cs_xstrdup(path);
}

const char *cs_file_type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a folder";
	if (S_ISFIFO(mode))
		return "a fifo";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a file";
}

int cs_file_open_regular(const char *path, struct cs_err *err)
{
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer, forever. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			return cs_err_set(err, -ELOOP, "read %s: symbolic link loop", path);
		return cs_err_errno(err, -errno, "read %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return cs_err_errno(err, r, "read %s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cs_err_set(err, -EINVAL, "read %s: not a regular file (it is %s)", path,
				  cs_file_type_name(st.st_mode));
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int r = -errno;
		close(fd);
		return cs_err_errno(err, r, "read %s", path);
	}
	return fd;
}

int cs_file_check_regular(const char *path, struct cs_err *err)
{
	int fd = cs_file_open_regular(path, err);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int cs_file_read(struct cs_buf *out, const char *path, size_t max, struct cs_err *err)
{
	if (!max)
		max = 64u << 20;
	/* As cs_file_open_regular(), with one fstat for the type and the size
	 * and O_NONBLOCK left on: reading a regular file ignores it, and this
	 * descriptor is never handed out.  Thousands of files are read per
	 * plan; each system call counts. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			return cs_err_set(err, -ELOOP, "read %s: symbolic link loop", path);
		return cs_err_errno(err, -errno, "read %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return cs_err_errno(err, r, "read %s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cs_err_set(err, -EINVAL, "read %s: not a regular file (it is %s)", path,
				  cs_file_type_name(st.st_mode));
	}
	/* Too large already: refused before reading any of it. */
	if (st.st_size > 0 && (uint64_t)st.st_size > max) {
		close(fd);
		return cs_err_set(err, -E2BIG, "read %s: larger than %zu bytes", path, max);
	}
	size_t start = out->len;
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			close(fd);
			return cs_err_errno(err, r, "read %s", path);
		}
		if (n == 0)
			break;
		if (out->len - start + (size_t)n > max) {
			close(fd);
			return cs_err_set(err, -E2BIG, "read %s: larger than %zu bytes", path, max);
		}
		int r = cs_buf_append(out, chunk, (size_t)n);
		if (r < 0) {
			close(fd);
			return cs_err_errno(err, r, "read %s", path);
		}
		/* A short read of the size fstat gave is the whole file (no
		 * read for the end); a file that reports no size (/proc) is
		 * read to its end. */
		if (st.st_size > 0 && out->len - start == (size_t)st.st_size && (size_t)n < sizeof chunk)
			break;
	}
	close(fd);
	if (!out->data)
		cs_buf_append(out, "", 0);
	return 0;
}

/* After ".BASENAME.certsync-": is rest a run tag and "-", and whose run? */
static bool temp_name_is(const char *rest, const char *tag, enum cs_temps_whose whose)
{
	if (strspn(rest, "0123456789abcdef") != 16 || rest[16] != '-')
		return false;
	bool of_tag = strncmp(rest, tag, 16) == 0;
	return whose == CS_TEMPS_OF_RUN ? of_tag : !of_tag;
}

int cs_remove_temps_beside(const char *path, const char *tag, enum cs_temps_whose whose, size_t *removed,
			   struct cs_err *err)
{
	char *dir = cs_path_dirname(path);
	char *prefix = cs_xasprintf(".%s.certsync-", cs_path_basename(path));
	size_t n_prefix = strlen(prefix);
	DIR *d = opendir(dir);
	int r = 0;
	*removed = 0;
	if (!d && errno != ENOENT && errno != ENOTDIR)
		r = cs_err_errno(err, -errno, "read folder %s", dir);
	for (struct dirent *e; d && r == 0 && (e = readdir(d)) != NULL;) {
		if (strncmp(e->d_name, prefix, n_prefix) || !temp_name_is(e->d_name + n_prefix, tag, whose))
			continue;
		char *tmp = cs_xasprintf("%s/%s", dir, e->d_name);
		if (unlink(tmp) == 0)
			(*removed)++;
		else if (errno != ENOENT)
			r = cs_err_errno(err, -errno, "remove %s", tmp);
		free(tmp);
	}
	if (d)
		closedir(d);
	free(prefix);
	free(dir);
	return r;
}

int cs_fd_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static char temp_tag[17] = "0000000000000000";

const char *cs_temp_tag(void)
{
	return temp_tag;
}

void cs_temp_tag_set(const char *tag)
{
	snprintf(temp_tag, sizeof temp_tag, "%s", tag);
}

void cs_temp_tag_new(char out[17])
{
	unsigned char rnd[8];
	if (RAND_bytes(rnd, sizeof rnd) != 1) {
		/* Uniqueness matters here, not unpredictability. */
		uint64_t v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &v, sizeof rnd);
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

/* All of data, half first: the harness kills between the halves
 * (write.mid) to prove a partial file is never taken for the real one. */
static int write_in_halves(int fd, const void *data, size_t len)
{
	size_t half = len / 2;
	int r = cs_fd_write_all(fd, data, half);
	if (r == 0) {
		cs_fault_point("write.mid");
		r = cs_fd_write_all(fd, (const char *)data + half, len - half);
	}
	return r;
}

/* The access control list of the file a write replaces goes onto its
 * replacement (a service given its key with setfacl -m u:haproxy:r keeps
 * it), then the mode again, so that the mask is mode's group bits and the
 * list never gives more than the mode declared.  Done before any content
 * is written.  0 also when path has no list (or is not there). */
static int keep_acl(int fd, const char *path, mode_t mode)
{
	char acl[8192];
	ssize_t n = getxattr(path, "system.posix_acl_access", acl, sizeof acl);
	if (n <= 0)
		return 0;
	if (fsetxattr(fd, "system.posix_acl_access", acl, (size_t)n, 0) < 0 || fchmod(fd, mode & 07777) < 0)
		return -errno;
	return 0;
}

/* The first half of every atomic write: the state mirror first (a state
 * file kept in a database too, state_mirror.h), then a temporary file
 * beside path with its permissions (and owner, and with acl the replaced
 * file's access control list: keep_acl) set before its content, written
 * in halves.  Returns the open descriptor and the temporary's name
 * in *tmp_out, or a negative errno with nothing left behind; the callers
 * differ only in when they fsync and rename. */
static int write_temp_beside(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
			     gid_t gid, bool acl, char **tmp_out, struct cs_err *err)
{
	*tmp_out = NULL;
	if (cs_state_mirror_active()) {
		int m = cs_state_mirror_put(path, data, len, err);
		if (m < 0)
			return m;
	}
	char *dir = cs_path_dirname(path);
	char *tmp = cs_xasprintf("%s/.%s.certsync-%s-XXXXXX", dir, cs_path_basename(path), cs_temp_tag());
	int r = 0;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = cs_err_errno(err, -errno, "write %s: create temporary file in %s", path, dir);
		free(tmp);
		free(dir);
		return r;
	}
	free(dir);
	/* Permissions before content: a key must never be readable by others,
	 * not even for a moment. */
	if (fchmod(fd, mode & 07777) < 0)
		r = cs_err_errno(err, -errno, "write %s: chmod", path);
	else if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		r = cs_err_errno(err, -errno, "write %s: chown", path);
	else if (acl && (r = keep_acl(fd, path, mode)) < 0)
		r = cs_err_errno(err, r, "write %s: keep its access control list", path);
	else if ((r = write_in_halves(fd, data, len)) < 0)
		r = cs_err_errno(err, r, "write %s", path);
	if (r < 0) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return r;
	}
	*tmp_out = tmp;
	return fd;
}

int cs_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid, struct cs_err *err)
{
	char *tmp;
	int fd = write_temp_beside(path, data, len, mode, uid, gid, true, &tmp, err);
	if (fd < 0)
		return fd;
	int r = 0;
	if (fsync(fd) < 0) {
		r = cs_err_errno(err, -errno, "write %s: fsync", path);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = cs_err_errno(err, -errno, "write %s: close", path);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = cs_err_errno(err, -errno, "write %s: rename", path);
		goto fail;
	}
	char *dir = cs_path_dirname(path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	return r;
}

int cs_file_write_rename_unsynced(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
				  gid_t gid, struct cs_err *err)
{
	char *tmp;
	int fd = write_temp_beside(path, data, len, mode, uid, gid, true, &tmp, err);
	if (fd < 0)
		return fd;
	int r = 0;
	/* The content before the name: a rename that reaches the disk ahead
	 * of the data it names would leave a service an empty key after a
	 * power loss (file systems without ext4's rename heuristic do so). */
	if (fdatasync(fd) < 0) {
		r = cs_err_errno(err, -errno, "write %s: fdatasync", path);
		close(fd);
	} else if (close(fd) < 0)
		r = cs_err_errno(err, -errno, "write %s: close", path);
	else if (rename(tmp, path) < 0)
		r = cs_err_errno(err, -errno, "write %s: rename", path);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

struct wg_file {
	char *path, *tmp; /* tmp NULL: a kept (appended) file */
	int fd;           /* open until committed, or -1 */
};

struct cs_wgroup {
	struct wg_file *f;
	size_t n, cap;
};

struct cs_wgroup *cs_wgroup_new(void)
{
	return cs_xcalloc(1, sizeof(struct cs_wgroup));
}

size_t cs_wgroup_size(const struct cs_wgroup *g)
{
	return g->n;
}

static struct wg_file *wg_add(struct cs_wgroup *g)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->f = cs_xrealloc(g->f, g->cap * sizeof *g->f);
	}
	struct wg_file *f = &g->f[g->n++];
	memset(f, 0, sizeof *f);
	f->fd = -1;
	return f;
}

/* Descriptors stay open only while a commit may still fsync them one by
 * one; past that many files the commit syncs the file system instead. */
static void wg_close_extra(struct cs_wgroup *g)
{
	if (g->n <= CS_WGROUP_FSYNC_MAX)
		return;
	for (size_t i = 0; i < g->n; i++)
		if (g->f[i].fd >= 0) {
			close(g->f[i].fd);
			g->f[i].fd = -1;
		}
}

int cs_wgroup_write(struct cs_wgroup *g, const char *path, const void *data, size_t len, mode_t mode,
		    struct cs_err *err)
{
	char *tmp;
	int fd = write_temp_beside(path, data, len, mode, (uid_t)-1, (gid_t)-1, false, &tmp, err);
	if (fd < 0)
		return fd;
	struct wg_file *f = wg_add(g);
	f->path = cs_xstrdup(path);
	f->tmp = tmp;
	f->fd = fd;
	wg_close_extra(g);
	return 0;
}

void cs_wgroup_keep(struct cs_wgroup *g, int fd, const char *path)
{
	struct wg_file *f = wg_add(g);
	f->path = cs_xstrdup(path);
	f->fd = fd;
	wg_close_extra(g);
}

static void wg_clear(struct cs_wgroup *g)
{
	for (size_t i = 0; i < g->n; i++) {
		if (g->f[i].fd >= 0)
			close(g->f[i].fd);
		if (g->f[i].tmp)
			unlink(g->f[i].tmp);
		free(g->f[i].tmp);
		free(g->f[i].path);
	}
	g->n = 0;
}

/* Sync the file system that holds path; false when that failed. */
static bool wg_syncfs(const char *path)
{
	char *dir = cs_path_dirname(path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd < 0)
		return false;
	bool ok = syncfs(dfd) == 0;
	close(dfd);
	return ok;
}

int cs_wgroup_commit(struct cs_wgroup *g, struct cs_err *err)
{
	int r = 0;
	bool one_by_one = g->n <= CS_WGROUP_FSYNC_MAX;
	/* The contents first: no rename may become durable before its data. */
	if (one_by_one) {
		for (size_t i = 0; i < g->n && r == 0; i++)
			if (fsync(g->f[i].fd) < 0)
				r = cs_err_errno(err, -errno, "write %s: fsync", g->f[i].path);
	} else if (g->n && !wg_syncfs(g->f[0].path)) {
		r = cs_err_errno(err, -errno, "write %s and %zu more: syncfs", g->f[0].path, g->n - 1);
	}
	for (size_t i = 0; i < g->n && r == 0; i++) {
		if (g->f[i].fd >= 0 && close(g->f[i].fd) < 0 && g->f[i].tmp)
			r = cs_err_errno(err, -errno, "write %s: close", g->f[i].path);
		g->f[i].fd = -1;
	}
	for (size_t i = 0; i < g->n && r == 0; i++) {
		if (!g->f[i].tmp)
			continue;
		if (rename(g->f[i].tmp, g->f[i].path) < 0) {
			r = cs_err_errno(err, -errno, "write %s: rename", g->f[i].path);
			break;
		}
		free(g->f[i].tmp);
		g->f[i].tmp = NULL;
	}
	/* Then the renames: each folder once, or the file system. */
	if (r == 0 && one_by_one) {
		for (size_t i = 0; i < g->n; i++) {
			char *dir = cs_path_dirname(g->f[i].path);
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++) {
				char *d2 = cs_path_dirname(g->f[j].path);
				seen = !strcmp(dir, d2);
				free(d2);
			}
			int dfd = seen ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				fsync(dfd);
				close(dfd);
			}
			free(dir);
		}
	} else if (r == 0 && g->n) {
		wg_syncfs(g->f[0].path);
	}
	wg_clear(g);
	return r;
}

void cs_wgroup_free(struct cs_wgroup *g)
{
	if (!g)
		return;
	wg_clear(g);
	free(g->f);
	free(g);
}

int cs_file_write_in_place(const char *path, const void *data, size_t len, mode_t mode, struct cs_err *err)
{
	/* O_NONBLOCK: a FIFO put in the file's place fails at once. */
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return cs_err_errno(err, -errno, "write %s in place", path);
	int r = 0;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = cs_err_errno(err, -errno, "write %s in place: stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = cs_err_set(err, -EINVAL, "write %s in place: it is %s, not a file", path,
			       cs_file_type_name(st.st_mode));
		goto out;
	}
	/* Permissions before content, as for a new file. */
	if ((st.st_mode & 07777) != (mode & 07777)) {
		if (st.st_uid != geteuid()) {
			r = cs_err_set(err, -EPERM, "write %s in place: mode is %04o, want %04o, and only its owner "
				       "may change it", path, (unsigned)(st.st_mode & 07777), (unsigned)(mode & 07777));
			goto out;
		}
		if (fchmod(fd, mode & 07777) < 0) {
			r = cs_err_errno(err, -errno, "write %s in place: chmod", path);
			goto out;
		}
	}
	r = write_in_halves(fd, data, len);
	if (r < 0) {
		r = cs_err_errno(err, r, "write %s in place", path);
		goto out;
	}
	if (ftruncate(fd, (off_t)len) < 0) {
		r = cs_err_errno(err, -errno, "write %s in place: truncate", path);
		goto out;
	}
	if (fsync(fd) < 0)
		r = cs_err_errno(err, -errno, "write %s in place: fsync", path);
out:
	if (close(fd) < 0 && r == 0)
		r = cs_err_errno(err, -errno, "write %s in place: close", path);
	return r;
}

int cs_mkdir_p(const char *path, mode_t mode, struct cs_err *err)
{
	/* Mostly the folder or its parent is there already: one call then,
	 * not one per component. */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return cs_err_errno(err, -errno, "create folder %s", path);
	char *p = cs_xstrdup(path);
	int r = 0;
	/* Back to the deepest folder that is there (or made now): a new
	 * certificate's folder is mostly one level below one that exists. */
	size_t i = strlen(p), from = 0;
	while (i > 0) {
		size_t k = i;
		while (--k > 0 && p[k] != '/')
			;
		if (k == 0)
			break;
		p[k] = '\0';
		int m = mkdir(p, mode);
		int e = errno;
		p[k] = '/';
		if (m == 0 || e == EEXIST) {
			from = k;
			break;
		}
		if (e != ENOENT) {
			p[k] = '\0';
			r = cs_err_errno(err, -e, "create folder %s", p);
			goto out;
		}
		i = k;
	}
	/* Then forward, one component at a time. */
	for (char *s = p + from + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				r = cs_err_errno(err, -errno, "create folder %s", p);
				break;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
out:
	free(p);
	return r;
}

static void digest_hex(char *out, const EVP_MD *md, const void *data, size_t len)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(data, len, d, &n, md, NULL);
	static const char hex[] = "0123456789ABCDEF";
	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void cs_sha256_hex(char out[65], const void *data, size_t len)
{
	digest_hex(out, EVP_sha256(), data, len);
}

void cs_sha1_hex(char out[41], const void *data, size_t len)
{
	digest_hex(out, EVP_sha1(), data, len);
}

static bool parse_pin(int64_t *out, const char *pin)
{
	if (cs_time_parse(out, pin) == 0)
		return true;
	char *end;
	errno = 0;
	long long v = strtoll(pin, &end, 10);
	if (end == pin || *end != '\0' || errno)
		return false;
	*out = v;
	return true;
}

bool cs_now_pin_valid(void)
{
	const char *pin = getenv("CERTSYNC_NOW");
	int64_t t;
	return !pin || !pin[0] || parse_pin(&t, pin);
}

int64_t cs_now(void)
{
	const char *pin = getenv("CERTSYNC_NOW");
	int64_t t;
	if (pin && pin[0] && parse_pin(&t, pin))
		return t;
	return (int64_t)time(NULL);
}

/* Broken-down UTC time of t, only for years 0..9999: the formats below (and
 * every reader of them) have four-digit years, and gmtime_r fails where
 * the year does not fit an int. */
static bool utc_tm(struct tm *out, int64_t t)
{
	time_t tt = (time_t)t;
	if ((int64_t)tt != t || !gmtime_r(&tt, out))
		return false;
	return out->tm_year >= -1900 && out->tm_year <= 9999 - 1900;
}

int cs_time_rfc3339(char out[21], int64_t t)
{
	struct tm tm;
	if (!utc_tm(&tm, t) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20) {
		memcpy(out, t < 0 ? "0000-01-01T00:00:00Z" : "9999-12-31T23:59:59Z", 21);
		return -ERANGE;
	}
	return 0;
}

int cs_time_date(char out[11], int64_t t)
{
	struct tm tm;
	if (!utc_tm(&tm, t) || strftime(out, 11, "%Y-%m-%d", &tm) != 10) {
		memcpy(out, t < 0 ? "0000-01-01" : "9999-12-31", 11);
		return -ERANGE;
	}
	return 0;
}

int cs_time_parse(int64_t *out, const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == '.') { /* fractional seconds: ignored */
		end++;
		while (*end >= '0' && *end <= '9')
			end++;
	}
	if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

void cs_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool cs_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool cs_only_digits(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Empty the folder open as dirfd (closed here), depth first. */
static int empty_dir(int dirfd, const char *shown, struct cs_err *err)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		int e = errno;
		close(dirfd);
		return cs_err_errno(err, -e, "read folder %s", shown);
	}
	int r = 0;
	for (struct dirent *e; r == 0 && (e = readdir(d)) != NULL;) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				r = cs_err_errno(err, -errno, "open folder %s/%s", shown, e->d_name);
				break;
			}
			if ((r = empty_dir(sub, shown, err)) < 0)
				break;
		}
		if (unlinkat(dirfd, e->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
			r = cs_err_errno(err, -errno, "remove %s/%s", shown, e->d_name);
	}
	closedir(d);
	return r;
}

int cs_remove_tree(const char *path, struct cs_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : cs_err_errno(err, -errno, "open folder %s", path);
	int r = empty_dir(fd, path, err);
	if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
		r = cs_err_errno(err, -errno, "remove folder %s", path);
	return r;
}
