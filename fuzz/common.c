/* The shared temporary folder of the fuzz harnesses (see common.h). */
#include "fuzz/common.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmpdir;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tmpdir(void)
{
	if (tmpdir)
		nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

const char *fz_tmpdir(void)
{
	if (tmpdir)
		return tmpdir;
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	size_t n = strlen(base) + sizeof "/certsync-fuzz.XXXXXX";
	char *t = malloc(n);
	if (!t)
		abort();
	snprintf(t, n, "%s/certsync-fuzz.XXXXXX", base);
	if (!mkdtemp(t)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	tmpdir = t;
	atexit(remove_tmpdir);
	return tmpdir;
}

char *fz_path(const char *name)
{
	const char *d = fz_tmpdir();
	size_t n = strlen(d) + 1 + strlen(name) + 1;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s", d, name);
	return p;
}

void fz_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w <= 0) {
			perror(path);
			abort();
		}
		p += w;
		len -= (size_t)w;
	}
	close(fd);
}
