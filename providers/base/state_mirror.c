/* Write-through of state changes to a backend: see state_mirror.h. */
#include "providers/base/state_mirror.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include "providers/base/util.h"

static char *mirror_root;
static const struct cs_state_mirror *mirror;

void cs_state_mirror_set(const char *root, const struct cs_state_mirror *m)
{
	free(mirror_root);
	mirror_root = NULL;
	mirror = NULL;
	if (!root || !m)
		return;
	mirror_root = cs_xstrdup(root);
	size_t n = strlen(mirror_root);
	while (n > 1 && mirror_root[n - 1] == '/')
		mirror_root[--n] = '\0';
	mirror = m;
}

bool cs_state_mirror_active(void)
{
	return mirror != NULL;
}

bool cs_state_path_secret(const char *rel)
{
	size_t n = strlen(rel);
	/* issuing/: the issuance records, each with the keys of its issuances */
	return (n >= 7 && strcmp(rel + n - 7, "key.pem") == 0) || strncmp(rel, "issuing/", 8) == 0;
}

/* The path relative to the root, or NULL when it is outside. */
static const char *relative(const char *path)
{
	if (!mirror)
		return NULL;
	size_t n = strlen(mirror_root);
	if (strncmp(path, mirror_root, n) != 0 || path[n] != '/')
		return NULL;
	path += n;
	while (*path == '/')
		path++;
	return *path ? path : NULL;
}

int cs_state_mirror_put(const char *path, const void *data, size_t len, struct cs_err *err)
{
	const char *rel = relative(path);
	if (!rel)
		return 0;
	return mirror->put(mirror->ctx, rel, data, len, cs_state_path_secret(rel), err);
}

int cs_state_mirror_append(const char *path, const void *data, size_t len, struct cs_err *err)
{
	const char *rel = relative(path);
	return rel ? mirror->append(mirror->ctx, rel, data, len, err) : 0;
}

int cs_state_mirror_remove(const char *path, struct cs_err *err)
{
	const char *rel = relative(path);
	return rel ? mirror->remove(mirror->ctx, rel, err) : 0;
}

int cs_state_unlink(const char *path, struct cs_err *err)
{
	int r = cs_state_mirror_remove(path, err);
	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return cs_err_errno(err, -errno, "remove %s", path);
	return 0;
}
