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
#include "../../reconcile/buf.h"
#include "platform.h"

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

#endif
