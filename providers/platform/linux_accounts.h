/* Plan-time check that the `owner` and `group` a files binding declares
 * exist on its host, so a typo ("ngnix") is an error in the plan rather
 * than a failed chown halfway through an apply. */
#ifndef CS_LINUX_ACCOUNTS_H
#define CS_LINUX_ACCOUNTS_H

#include "platform.h"

/* Check the declared owners and groups of bindings[0..n) with at most one
 * run() on t; a name that does not exist sets outs[i]->error (unless it is
 * set already).  Names that an observed file already carries, and numeric
 * ids, are taken as existing without asking.  When the host cannot be
 * asked, nothing is reported: apply will say. */
void cs_linux_check_accounts(struct cs_transport *t, const struct cs_binding_cfg *const *bindings,
			     struct cs_binding_obs *const *outs, size_t n);

/* The script that asks: for each name that does not exist, a line
 * "user NAME" or "group NAME" (getent where there is one; id and
 * /etc/group where there is not, as on busybox). */
int cs_linux_accounts_script(struct cs_buf *out, const char *const *users, size_t n_users,
			     const char *const *groups, size_t n_groups);

#endif
