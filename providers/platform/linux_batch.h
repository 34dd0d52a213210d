/* One command that observes every file a Linux host's `files` bindings name
 * (stat and content of each), and the parser of what it prints.
 *
 * Over SSH each SFTP stat or read is a round trip, and owner names cost a
 * command of their own; a fleet-wide plan then spends its time waiting.  The
 * batch script does the whole host in one run(): POSIX sh with GNU/busybox
 * `stat -c` and `base64`.  It answers only the plain cases (the file is
 * there and readable, or it does not exist); for anything else (permission
 * denied, too large, a failed read, a missing tool) it says so and the
 * driver observes that file the per-file way, so messages stay exactly the
 * ones the transport gives. */
#ifndef CS_LINUX_BATCH_H
#define CS_LINUX_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "providers/base/buf.h"
#include "providers/platform/platform.h"

/* Append to out the sh script that observes paths[0..n) (absolute paths,
 * quoted here).  Files larger than max_size are left to the per-file way. */
int cs_linux_batch_script(struct cs_buf *out, const char *const *paths, size_t n, size_t max_size);

/* Read the script's output (text, len).  For every file k the script
 * answered, got[k] is set and files[k] gets exists, mode, owner, group,
 * content and sha256 (files[k].content initialised by the caller, with
 * max_size as its cap; role and path are left alone).  Returns 0, or
 * -EPROTO when the output is not complete and well formed: then no got[k]
 * is set and every file is left as it was. */
int cs_linux_batch_parse(struct cs_file_obs *files, bool *got, size_t n, const char *text,
			 size_t len, size_t max_size);

/* ---- who the host's commands and files act as ----
 *
 * What the login user can do to a file depends on who it is (root under
 * become: sudo), the groups it is in and the folder the file is in.  The
 * same few lines answer that ahead of the batch script of a remote host,
 * or on their own. */

/* A folder the files go into, as the login user sees it. */
struct cs_linux_dir {
	const char *path;             /* the caller's */
	bool seen;                    /* stat answered (false: missing, or not reachable) */
	bool writable;                /* the user may create and rename files in it (test -w and -x) */
	mode_t mode;                  /* with the set-group-id (02000) and sticky (01000) bits */
	unsigned long uid, gid;
	char *group;                  /* name, or the number as text */
};

struct cs_linux_who {
	unsigned long uid, gid;       /* gid: the primary group, which a new file gets */
	char *user, *group;           /* their names, or the numbers as text */
	unsigned long *gids;          /* every group the user is in */
	char **group_names;           /* their names in the same order (NULL: that id has none) */
	size_t n_groups;
	struct cs_linux_dir *dirs;    /* as many as the script was asked about, in order */
	size_t n_dirs;
};

/* Append to out the sh script that tells who runs it, its groups, and how
 * each of dirs[0..n) looks to it (quoted here).  Output, lines up to ".":
 *
 *   I uid=N(NAME) gid=N(NAME) groups=N(NAME),...   id, in the C locale
 *   D k W MODE UID GID GROUP   folder k: W 1 when writable, GROUP to the end
 *   D k -                      folder k: not a folder, or not reachable
 *   .
 *
 * One `id` and one `stat` per folder: the shell's own tests do the rest. */
int cs_linux_who_script(struct cs_buf *out, const char *const *dirs, size_t n);

/* Append the who script for dirs followed by the files' script for paths
 * (cs_linux_batch_script): the same output as the two one after the other,
 * but when every folder is there and every file a readable regular file
 * (the steady state) the folders and the files are stat'ed by one `stat`,
 * so the whole host costs three processes: `id`, `stat` and `cat`.
 * Anything else (or a stat line it cannot split) takes the two scripts'
 * own way. */
int cs_linux_observe_script(struct cs_buf *out, const char *const *dirs, size_t n_dirs,
			    const char *const *paths, size_t n_paths, size_t max_size);

/* Read that output from the start of text: 0 when whole and well formed,
 * else -EPROTO and out left empty.  *used is the length up to and
 * including the "." line, set whenever there is one (where what follows
 * starts).  dirs are the ones the script was made for (borrowed). */
int cs_linux_who_parse(struct cs_linux_who *out, const char *const *dirs, size_t n, const char *text,
		       size_t len, size_t *used);
void cs_linux_who_free(struct cs_linux_who *w); /* members only; accepts NULL */

/* Is the user in group gid (primary or supplementary)? */
bool cs_linux_who_in_group(const struct cs_linux_who *w, unsigned long gid);

#endif
