/* Observed state: what is actually there, gathered before every plan.
 *
 * From the store: each certificate's current key/cert, a pending request and
 * (for asynchronous issuers) the CA's reply waiting in the inbox.  From the
 * hosts, in parallel up to settings.parallelism: each binding as its platform
 * driver sees it.  A host that cannot be reached is recorded with its error;
 * the rest is observed normally.  Host transports stay open for apply. */
#ifndef CS_OBSERVE_H
#define CS_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "reconcile/config.h"
#include "reconcile/store.h"
#include "reconcile/store_hosts.h"
#include "providers/base/x509.h"
#include "providers/issuer/issuer.h"
#include "providers/platform/binding_kind.h"
#include "providers/platform/platform.h"
#include "providers/transport/transport.h"

/* --target selectors: empty lists select everything. */
struct cs_target {
	char **hosts; size_t n_hosts;
	char **certs; size_t n_certs;
};
bool cs_target_has_cert(const struct cs_target *t, const char *name);
bool cs_target_has_host(const struct cs_target *t, const char *name);

struct cs_cert_obs {
	const struct cs_cert_cfg *cfg;
	const struct cs_issuer_cfg *issuer;
	const struct cs_issuer_ops *ops;  /* NULL: issuer kind not supported yet */
	bool selected;                    /* by --target */
	char *error;                      /* the store or the issuer could not be read */
	char *issuer_error;               /* the issuer could not issue now (ops->ready) */

	bool have_current;
	struct cs_stored current;
	struct cs_cert_info current_info;
	int issued_by;                    /* ops->issued_by on current: 1, 0, -1 */
	bool have_window;                 /* the CA suggested a renewal window for current (ARI) */
	struct cs_renewal_window window;
	char *window_error;               /* the CA offers none or asking failed: renew_before applies */

	bool have_pending;
	struct cs_pending pending;
	char pending_sha256[65];          /* of the CSR PEM */

	bool have_reply;                  /* asynchronous issuer answered */
	struct cs_issuer_reply reply;
	struct cs_cert_info reply_info;
	char *reply_error;                /* a reply is there but wrong: nothing may be installed */
};

/* What bindings should carry when nothing is renewed: c's current set as
 * PEM texts (the store's bytes as they are when certsync wrote them) with
 * current_info.  c->have_current must be true. */
int cs_cert_obs_material(struct cs_material *out, const struct cs_cert_obs *c, struct cs_err *err);

struct cs_host_obs {
	const struct cs_host_cfg *cfg;
	const struct cs_platform_ops *platform;  /* NULL: not supported yet */
	bool selected;                   /* some selected binding is on it */
	struct cs_transport *transport;  /* open after a successful observe */
	struct cs_host_state *state;     /* platforms with observe_host: the whole host */
	char *error;                     /* unreachable / unsupported: message */
	/* A reboot an earlier apply left owed (store_hosts.h), still unpaid:
	 * the host has not booted since.  NULL when none. */
	struct cs_owed_reboot *owed_reboot;
	bool owed_reboot_paid;           /* a record exists but the host booted since */
	/* The run tag of an apply that asked this host to reboot and was
	 * killed before it saw the host back (the record's "run"), when the
	 * host has booted since: the reboot that run's changes waited for
	 * happened.  NULL otherwise. */
	char *rebooted_for;
};

struct cs_observed {
	const struct cs_config *cfg;
	struct cs_store *store;          /* borrowed */
	int64_t now;
	struct cs_cert_obs *certs;       /* cfg->n_certs */
	struct cs_host_obs *hosts;       /* cfg->n_hosts */
	struct cs_binding_obs **bindings;/* [cert][binding] */
	char config_sha256[65];          /* of the config file's bytes */
	char state_sha256[65];           /* of everything observed, for saved plans */
	char *running;                   /* run tag of an apply holding the lock now ("" unknown), or NULL */
};

/* Called after each host is gathered (from the gathering threads, one at a
 * time): done of total hosts. */
typedef void (*cs_progress_fn)(void *ctx, size_t done, size_t total);

/* Gather.  Fails (negative) only when nothing sensible can be observed (e.g.
 * the config file cannot be read); per-host and per-certificate problems are
 * recorded in the result.  progress may be NULL. */
int cs_observe(struct cs_observed **out, const struct cs_config *cfg, struct cs_store *store,
	       const struct cs_target *target, cs_progress_fn progress, void *progress_ctx,
	       struct cs_err *err);
void cs_observed_free(struct cs_observed *obs); /* closes transports; accepts NULL */

/* Is a host that verify entry v of certificate cert checks selected? */
bool cs_verify_selected(const struct cs_observed *obs, const struct cs_cert_cfg *cert,
			const struct cs_verify_cfg *v);
/* The name of the host a verify entry checks, or "" when it checks all of
 * its certificate's hosts. */
const char *cs_verify_host_name(const struct cs_config *cfg, const struct cs_verify_cfg *v);

#endif
