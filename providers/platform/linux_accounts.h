/* Plan-time checks of a files binding's owner, group and folder: the
 * declared `owner` and `group` exist on the host, so a typo ("ngnix") is an
 * error in the plan rather than a failed chown halfway through an apply;
 * and what the login user (not root: no become: sudo) cannot do to the
 * files is said by the plan, as an error or in the bind's reason, instead
 * of failing an apply. */
#ifndef CS_LINUX_ACCOUNTS_H
#define CS_LINUX_ACCOUNTS_H

#include "providers/platform/linux_batch.h"
#include "providers/platform/platform.h"

/* Check the declared owners and groups of bindings[0..n) with at most one
 * run() on t; a name that does not exist sets outs[i]->error (unless it is
 * set already).  Names that an observed file already carries, and numeric
 * ids, are taken as existing without asking.  When the host cannot be
 * asked, nothing is reported: apply will say. */
void cs_linux_check_accounts(struct cs_transport *t, const struct cs_binding_cfg *const *bindings,
			     struct cs_binding_obs *const *outs, size_t n);

/* What who (the host's login user) cannot do to the files of
 * bindings[0..n), set as outs[i]->error (unless set already) or as the
 * files' notes; nothing when who is root.  No I/O. */
void cs_linux_check_permissions(const struct cs_transport *t, const struct cs_linux_who *who,
				const struct cs_binding_cfg *const *bindings,
				struct cs_binding_obs *const *outs, size_t n);

/* The way to do as root what the user certsync runs as may not:
 * "become: sudo" over SSH, "run certsync as root" on a local host. */
const char *cs_linux_root_fix(const struct cs_transport *t);

/* The script that asks: for each name that does not exist, a line
 * "user NAME" or "group NAME" (getent where there is one; id and
 * /etc/group where there is not, as on busybox). */
int cs_linux_accounts_script(struct cs_buf *out, const char *const *users, size_t n_users,
			     const char *const *groups, size_t n_groups);

#endif
