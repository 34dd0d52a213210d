/* Transports: how certsync talks to a host.
 *
 * A transport is a vtable (struct cs_transport_ops) plus a handle.
 * reconcile/ and the platform drivers only use these calls, never a concrete
 * transport, so a driver works over local, SSH or WinRM alike.  One handle per
 * host, opened once and reused from gathering through apply.
 *
 * Ownership: buffers passed as out parameters are the caller's (initialised
 * by the caller with a size cap); the transport appends to them. */
#ifndef CS_TRANSPORT_H
#define CS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "providers/base/buf.h"
#include "providers/transport/host_cfg.h"
#include "providers/base/err.h"
#include "providers/base/yaml_value.h"

struct cs_transport;

struct cs_run_result {
	int exit_status;         /* exit code, or 128+signal */
	struct cs_buf out;       /* stdout (capped) */
	struct cs_buf err;       /* stderr (capped) */
	bool login_noise;        /* ssh: the login shell printed text on stdout before the command ran
				  * (cut off from out): SFTP cannot work on that host */
};
/* Why a host whose login shell prints before every command (login_noise)
 * cannot be written to: "the login shell of USER prints ...". */
#define CS_LOGIN_NOISE_FMT                                                                                        \
	"the login shell of %s prints text on its standard output before every command (a start-up file such as "  \
	"~/.bashrc or ~/.profile prints when the shell is not interactive), which breaks SFTP, the way certsync "  \
	"writes files: make it print only in interactive shells (in ~/.bashrc, put case $- in *i*) ;; *) return ;; " \
	"esac before any output), or give %s /bin/sh as login shell"
void cs_run_result_init(struct cs_run_result *r, size_t cap);
void cs_run_result_free(struct cs_run_result *r);

struct cs_file_stat {
	bool exists;
	mode_t mode;             /* permission bits only (07777) */
	uid_t uid;
	gid_t gid;
	char *owner;             /* user name, or the number as text; owned by the struct */
	char *group;
	int64_t size;
};
void cs_file_stat_free(struct cs_file_stat *st);

/* Attributes for a written file.  owner/group NULL: leave as created. */
struct cs_file_attrs {
	mode_t mode;
	const char *owner;
	const char *group;
	/* owner or group are the replaced file's, not declared: set them where
	 * the writer may, else leave the new file's (a user that is not root
	 * cannot give a file away, nor to a group it is not in); never an
	 * error.  Declared ones are: a failed chown fails the write. */
	bool owner_soft, group_soft;
};

struct cs_transport_ops {
	const char *name;        /* "local", "ssh", "winrm" */

	/* Parse the transport's block of a host (the mapping under its name)
	 * into h (h->platform already set), with defaults; every problem
	 * becomes a FILE:LINE:COL diagnostic in y (key: the block's key node,
	 * for "not on this platform"). */
	void (*parse)(struct cs_yaml *y, struct cs_host_cfg *h, const struct cs_ynode *key, const struct cs_ynode *block);

	/* Connect/authenticate.  *out is a new handle owned by the caller. */
	int (*open)(struct cs_transport **out, const struct cs_host_cfg *host, struct cs_err *err);

	/* Run a shell command (sh -c on Linux) with stdin_data on its standard
	 * input; fills out.  A non-zero exit status is not an error of run()
	 * itself: it returns 0 and the caller looks at out->exit_status. */
	int (*run)(struct cs_transport *t, const char *command, const void *stdin_data,
		   size_t stdin_len, struct cs_run_result *out, struct cs_err *err);

	/* Append the file's content to out.  -ENOENT when it does not exist. */
	int (*read_file)(struct cs_transport *t, const char *path, struct cs_buf *out,
			 struct cs_err *err);

	/* Replace the file atomically (temporary file in the same folder, fsync,
	 * rename) with mode and owner/group applied before the rename: readers
	 * see either the old or the new file, never a partial one.  A failure
	 * before the rename leaves the target as it was.  One exception: a
	 * folder the login user may not create files in while the file itself
	 * is writable (files given to a deploy user in root's folder) gets the
	 * file rewritten in place, keeping its owner and group; the Linux
	 * platform's plan says so beforehand (linux_accounts.c). */
	int (*write_file)(struct cs_transport *t, const char *path, const void *data,
			  size_t len, const struct cs_file_attrs *attrs, struct cs_err *err);

	/* Remove a file (for rolling back a file that did not exist before);
	 * a missing file is not an error. */
	int (*remove_file)(struct cs_transport *t, const char *path, struct cs_err *err);

	/* Stat; out->exists false (and 0 returned) when missing. */
	int (*stat)(struct cs_transport *t, const char *path, struct cs_file_stat *out,
		    struct cs_err *err);

	/* Optional: stat and read_file in one, for a file that is a readable
	 * regular file or missing (then st->exists false, 0): st as stat gives
	 * it, the content appended to out (within out->max).  -ENOTSUP, with
	 * nothing kept, for anything else (a folder it cannot enter, an
	 * unreadable or too large file, not a regular file): the caller then
	 * asks stat and read_file, whose answers say what is wrong. */
	int (*stat_read)(struct cs_transport *t, const char *path, struct cs_file_stat *st, struct cs_buf *out,
			 struct cs_err *err);

	/* Remove the temporary files run tag may have left beside each of
	 * paths[0..n) (".BASENAME.certsync-TAG-*", see cs_temp_tag()) and the
	 * transport's own upload folders of that run; the count removed, or
	 * negative.  Nothing else is touched.  NULL: the transport leaves
	 * nothing behind that it could name. */
	int (*remove_temps)(struct cs_transport *t, char *const *paths, size_t n, const char *tag,
			    struct cs_err *err);

	void (*close)(struct cs_transport *t); /* accepts NULL */

	/* Grouped writes (NULL: every write_file is durable on its own, as
	 * for ssh and winrm).  After group_begin, write_file still replaces
	 * each file atomically for readers and syncs its content before the
	 * rename (a power loss keeps the old or the whole new file, never a
	 * name without its content), but may leave the rename's durability
	 * to group_end, which syncs the folders of every file written since
	 * at once.  Only for a caller whose records make a power
	 * loss before group_end recoverable: the executor calls them around
	 * a host's actions, each bind writing only after its intent is
	 * durable in the state folder, and closes no intent before
	 * group_end returned. */
	void (*group_begin)(struct cs_transport *t);
	int (*group_end)(struct cs_transport *t, struct cs_err *err);

	/* Every call is a round trip to another machine (ssh, winrm), so a
	 * driver does better asking for many things in one run() (see the
	 * platform's observe_host); false for local, where calls are cheap. */
	bool remote;
};

/* Every transport's handle starts with this, so generic code can find the
 * ops and the host. */
struct cs_transport {
	const struct cs_transport_ops *ops;
	const struct cs_host_cfg *host;
};

/* For the transports' parse(): "address" WHERE must be a host name or IP
 * address (no URL, no spaces or slashes); reported at v. */
void cs_transport_check_address(struct cs_yaml *y, const struct cs_ynode *v, const char *addr, const char *where);

/* Ops for a kind (local, ssh, winrm), or NULL for a kind that has none. */
const struct cs_transport_ops *cs_transport_ops_for(enum cs_transport_kind kind);

/* Open the host's transport (per its config).  -ENOTSUP with a message when
 * the kind is not supported yet. */
int cs_transport_open(struct cs_transport **out, const struct cs_host_cfg *host, struct cs_err *err);
void cs_transport_close(struct cs_transport *t);

/* Run a PowerShell script on a Windows host, whichever transport t is:
 * WinRM runs it itself; over SSH (or locally) it goes to powershell.exe's
 * stdin in the frame of winrm_scripts.h, with a fixed command line, so no
 * script text or secret is ever on a command line.  stdin gets in[0..len);
 * res->err comes back as the text a console shows (not CLIXML). */
int cs_transport_run_ps(struct cs_transport *t, const char *script, const void *in, size_t len,
			struct cs_run_result *res, struct cs_err *err);

/* The first line of PowerShell's error text that says something (it puts
 * the message first, position lines after it), as one line of an error
 * message: cut at 400 characters with "...", "no message" when there is
 * none.  The caller frees it. */
char *cs_ps_first_line(const struct cs_buf *err);

extern const struct cs_transport_ops cs_transport_local;
extern const struct cs_transport_ops cs_transport_ssh;
extern const struct cs_transport_ops cs_transport_winrm;

#endif
