/* Small helpers shared by the core: strings, paths, local files, hashes, time.
 *
 * Memory policy (all of certsync): allocation failure aborts.  cs_xmalloc,
 * cs_xcalloc, cs_xrealloc, cs_xstrdup, cs_xasprintf and every cs_buf_*
 * function never return for want of memory: they call cs_out_of_memory(),
 * which prints "certsync: out of memory" and aborts.  Callers do not check
 * for NULL or -ENOMEM from them.  What a library allocates (OpenSSL,
 * libyaml, jansson, libxml2, curl) is checked where it is called, and an
 * allocation failure there ends in cs_out_of_memory() too where nothing can
 * be rolled back, or in a cs_err where the caller can report it.
 *
 * Strings are formatted with cs_xasprintf (a new string) or cs_buf_printf
 * (appended to a buffer); cs_err_set formats error messages. */
#ifndef CS_UTIL_H
#define CS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

/* The one way certsync stops on a condition it cannot go on from (a bug in
 * its own tables, memory exhausted): "certsync: MESSAGE" on stderr, then
 * abort().  The only printing below cmd/. */
_Noreturn void cs_die(const char *fmt, ...) CS_PRINTF(1, 2);
/* cs_die("out of memory"): what every allocation failure ends in. */
_Noreturn void cs_out_of_memory(void);

/* Allocation that never returns NULL: aborts with a message when memory is
 * exhausted.  Used for small bookkeeping allocations where there is nothing
 * sensible to roll back. */
void *cs_xmalloc(size_t n);
void *cs_xcalloc(size_t n, size_t size);
void *cs_xrealloc(void *p, size_t n);
char *cs_xstrdup(const char *s);      /* NULL in, NULL out */
char *cs_xasprintf(const char *fmt, ...) CS_PRINTF(1, 2);
char *cs_xvasprintf(const char *fmt, va_list ap) CS_PRINTF(1, 0);

/* true when s is one or more ASCII digits and nothing else. */
bool cs_only_digits(const char *s);

/* Path helpers.  cs_path_join returns base/rel, or rel when rel is absolute. */
char *cs_path_join(const char *base, const char *rel);
char *cs_path_dirname(const char *path);   /* "." when no slash */
const char *cs_path_basename(const char *path);
/* Expand a leading "~/" with $HOME. */
char *cs_path_expand_home(const char *path);

/* Read a whole local file into out (capped at max bytes, 0 = 64 MiB).
 * -ENOENT when it does not exist; -EINVAL when it is not a regular file
 * (a FIFO, device or folder is refused at once instead of waited on). */
int cs_file_read(struct cs_buf *out, const char *path, size_t max, struct cs_err *err);

/* Open a local file for reading, refusing anything but a regular file
 * without blocking on it: O_NONBLOCK (cleared again after the check), fstat.
 * The fd, or a negative errno with err set ("read PATH: ..."). */
int cs_file_open_regular(const char *path, struct cs_err *err);
/* Check only (for files a library opens by name: libssh2, OpenSSL, curl). */
int cs_file_check_regular(const char *path, struct cs_err *err);
/* "a fifo", "a folder", "a character device", ... for messages. */
const char *cs_file_type_name(mode_t mode);

/* Write a local file atomically: temporary file in the same folder, fchmod to
 * mode, optional fchown (uid/gid -1 = leave), fsync, rename, fsync the folder.
 * Never leaves a partial file at path.  The temporary file is named
 * ".BASENAME.certsync-TAG-XXXXXX" (cs_temp_tag()), so that the next apply can
 * remove exactly what a killed run left behind. */
int cs_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid, struct cs_err *err);

/* The same replacement with the content synced before the rename but not
 * the rename itself (the folder): readers see the old or the new file,
 * never a partial one, and after a power loss the path holds the old file
 * or the whole new one, never a name with lost content; only which of the
 * two may go back.  For a caller that syncs the folders later (syncfs,
 * fsync) and whose records let the next run put right a rename a power
 * loss undid (a host's files written under a recorded intent: the local
 * transport's grouped writes). */
int cs_file_write_rename_unsynced(const char *path, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
			   struct cs_err *err);

/* A group of atomic writes made durable together, for many files at once
 * (an apply's renewals): cs_wgroup_write() writes the temporary file as
 * cs_file_write_atomic() does (same name, permissions first, write.mid)
 * but neither syncs nor renames it; cs_wgroup_keep() adds a file appended
 * to (its descriptor, which the group closes).  cs_wgroup_commit() makes
 * every temporary and kept file durable, renames the temporaries in the
 * order written, and makes the renames durable before it returns: up to
 * CS_WGROUP_FSYNC_MAX files by fsync of each file and folder, more by two
 * syncfs() of the file system (one write-back instead of one per file).
 * Callers keep their order of steps by committing between steps that
 * must not be reordered.  On error, and in cs_wgroup_free(), temporaries
 * not renamed are removed. */
#define CS_WGROUP_FSYNC_MAX 8
struct cs_wgroup;
struct cs_wgroup *cs_wgroup_new(void);
size_t cs_wgroup_size(const struct cs_wgroup *g);
int cs_wgroup_write(struct cs_wgroup *g, const char *path, const void *data, size_t len, mode_t mode,
		    struct cs_err *err);
void cs_wgroup_keep(struct cs_wgroup *g, int fd, const char *path);
int cs_wgroup_commit(struct cs_wgroup *g, struct cs_err *err);
void cs_wgroup_free(struct cs_wgroup *g);

/* Rewrite an existing regular file in place (open without creating,
 * write, truncate to len, fsync), for a folder the writer may not create
 * files in while the file itself is writable (a login user that is not
 * root, the folder root's).  The file keeps its owner and group; mode is
 * set when the writer owns the file (otherwise it must already be mode,
 * or -EPERM).  Unlike cs_file_write_atomic, a reader may see the file half
 * written while this runs: the plan says so before it is chosen. */
int cs_file_write_in_place(const char *path, const void *data, size_t len, mode_t mode, struct cs_err *err);

/* The run tag every temporary file certsync creates carries in its name
 * (16 lowercase hex digits; "0000000000000000" until set).  Set once, by the
 * apply that holds the state folder's lock, before any thread starts. */
const char *cs_temp_tag(void);
void cs_temp_tag_set(const char *tag);
/* A new random tag (17 bytes with the NUL). */
void cs_temp_tag_new(char out[17]);

/* Remove the temporary files cs_file_write_atomic() left beside path
 * (".BASENAME.certsync-TAG-XXXXXX"): those of run tag, or those of every run
 * but tag (what killed runs left; never a file the live run is writing).
 * A missing folder is nothing to remove.  *removed counts the files. */
enum cs_temps_whose { CS_TEMPS_OF_RUN, CS_TEMPS_OF_OTHER_RUNS };
int cs_remove_temps_beside(const char *path, const char *tag, enum cs_temps_whose whose, size_t *removed,
			   struct cs_err *err);

/* write() all of data, retrying on EINTR and short writes; -errno on failure. */
int cs_fd_write_all(int fd, const void *data, size_t len);

/* mkdir -p with mode for the folders it creates. */
int cs_mkdir_p(const char *path, mode_t mode, struct cs_err *err);

/* Remove the folder path and everything in it, never following a symbolic
 * link (a link inside is removed, not what it points at).  A missing path
 * is not an error.  For certsync's own temporary folders only. */
int cs_remove_tree(const char *path, struct cs_err *err);

/* SHA-256 / SHA-1 of data as uppercase hex (65 / 41 bytes incl. NUL). */
void cs_sha256_hex(char out[65], const void *data, size_t len);
void cs_sha1_hex(char out[41], const void *data, size_t len);

/* Time.  cs_now() honours CERTSYNC_NOW (unix seconds or RFC 3339 UTC) so
 * tests can pin the clock; otherwise time(NULL). */
int64_t cs_now(void);
/* False when CERTSYNC_NOW is set to something cs_now() can not read (it
 * would silently fall back to the real clock). */
bool cs_now_pin_valid(void);
/* Format unix time as RFC 3339 UTC "2026-11-27T05:04:20Z" into out[21].
 * Outside the years 0000..9999: -ERANGE, and out holds the nearest end of
 * that range (always a terminated string of the usual length). */
int cs_time_rfc3339(char out[21], int64_t t);
/* Format as date only "2026-11-27" into out[11]; -ERANGE as above. */
int cs_time_date(char out[11], int64_t t);
/* Parse RFC 3339 UTC ("...Z" or "+00:00"); -EINVAL on anything else. */
int cs_time_parse(int64_t *out, const char *s);

/* String list helpers (NULL-terminated arrays are not used: lists carry n). */
void cs_strv_free(char **v, size_t n);
bool cs_streq(const char *a, const char *b); /* NULL-safe */

#endif
