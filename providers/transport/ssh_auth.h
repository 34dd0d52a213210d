/* User authentication for the SSH transport: ssh-agent, identity file,
 * password (see ssh_auth.c). */
#ifndef CS_SSH_AUTH_H
#define CS_SSH_AUTH_H

#include <libssh2.h>
#include "providers/transport/host_cfg.h"
#include "providers/base/err.h"

/* Authenticate session as cfg->user with what cfg and the environment offer,
 * in this order: ssh-agent (when SSH_AUTH_SOCK is set), identity file,
 * password.  On failure (-EACCES) the message says what was tried and what
 * the server accepts, never a secret; an RSA identity gets the libssh2 1.10
 * explanation. */
int cs_ssh_auth(LIBSSH2_SESSION *session, const struct cs_ssh_cfg *cfg, struct cs_err *err);

#endif
