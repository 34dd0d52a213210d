/* Where the state lives besides the state folder.
 *
 * With settings.state.postgres the state folder certsync works on is a
 * private copy made for one run; every change to it is written through to
 * the backend first (the authority), then to the copy.  The writers of the
 * state (reconcile/store*.c, providers/issuer/acme_store.c) call the three
 * functions below with the absolute path they change: paths outside the
 * mirrored root, and every path when no backend is set (the default state
 * folder), are left alone and cost nothing.
 *
 * Nothing here prints; errors name the path and the cause. */
#ifndef CS_STATE_MIRROR_H
#define CS_STATE_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include "providers/base/err.h"

struct cs_state_mirror {
	void *ctx;
	/* rel: the path relative to the root ("certs/web/key.pem").  secret:
	 * a private key, to be sealed before it leaves the process. */
	int (*put)(void *ctx, const char *rel, const void *data, size_t len, bool secret, struct cs_err *err);
	int (*append)(void *ctx, const char *rel, const void *data, size_t len, struct cs_err *err);
	int (*remove)(void *ctx, const char *rel, struct cs_err *err);
};

/* Mirror changes under root to m; NULL m (or root) stops mirroring.  m is
 * kept by reference. */
void cs_state_mirror_set(const char *root, const struct cs_state_mirror *m);
bool cs_state_mirror_active(void);

/* A file under the root that holds a private key ("key.pem", "NAME.key.pem",
 * the issuance records in "issuing/"). */
bool cs_state_path_secret(const char *rel);

int cs_state_mirror_put(const char *path, const void *data, size_t len, struct cs_err *err);
int cs_state_mirror_append(const char *path, const void *data, size_t len, struct cs_err *err);
int cs_state_mirror_remove(const char *path, struct cs_err *err);
/* Remove a state file: from the backend, then unlink(); a missing file is
 * fine.  Errors "remove PATH: cause". */
int cs_state_unlink(const char *path, struct cs_err *err);

#endif
