/* Plan: the diff between declared and observed state, as a list of actions
 * with dependencies and a human-checkable reason each.
 *
 *   renew (per certificate) → import (per certificate and host, on platforms
 *   with a host-wide store) → bind (per binding) → reload (per host, once per
 *   command) → reboot (per host, once) → verify (per verify entry)
 *
 * Deterministic: the same config and observed state give the same plan, byte
 * for byte, in both renderings.  Reasons quote dates, never "N days left", so
 * they do not change while the decision stays the same. */
#ifndef CS_PLAN_H
#define CS_PLAN_H

#include <stddef.h>
#include <jansson.h>
#include "reconcile/observe.h"

enum cs_action_kind {
	CS_ACT_RENEW = 1, CS_ACT_BIND, CS_ACT_RELOAD, CS_ACT_VERIFY,
	CS_ACT_IMPORT,             /* into a host's store, once per certificate, before its bindings */
	CS_ACT_REBOOT,             /* a host with reboot: after-change, once after all its changes */
};
#define CS_ACT_LAST CS_ACT_REBOOT

enum cs_renew_mode {
	CS_RENEW_NONE = 0,
	CS_RENEW_ISSUE,     /* new key, CSR, synchronous issuer answers at once */
	CS_RENEW_REQUEST,   /* new key, CSR sent to an asynchronous CA: then wait */
	CS_RENEW_COLLECT,   /* the CA's reply in the inbox becomes current */
};

struct cs_action {
	int id;                    /* 1-based, in plan order */
	enum cs_action_kind kind;
	char *cert;                /* certificate name (NULL for reload) */
	char *host;                /* host name (NULL for renew) */
	int binding;               /* index in the certificate's bindings, or -1 */
	int verify;                /* index in the certificate's verify list, or -1 */
	enum cs_renew_mode renew_mode;
	char *command;             /* reload command */
	char *summary;             /* one line: what */
	char *reason;              /* one line: why */
	int *deps; size_t n_deps;  /* ids this waits for */
};

enum cs_notice_level { CS_NOTICE_INFO = 1, CS_NOTICE_WAIT, CS_NOTICE_ERROR };

struct cs_notice {
	enum cs_notice_level level;
	char *cert;                /* or NULL */
	char *host;                /* or NULL */
	char *text;
};

struct cs_plan {
	struct cs_action *actions; size_t n_actions;
	struct cs_notice *notices; size_t n_notices;
	size_t n_errors;           /* notices of level ERROR */
	char config_sha256[65];
	char state_sha256[65];
	char *config_path;
	struct cs_target target;   /* the --target selection it was made with (empty: all) */
};

int cs_plan_make(struct cs_plan **out, const struct cs_observed *obs, struct cs_err *err);
void cs_plan_free(struct cs_plan *plan); /* accepts NULL */
/* Record the --target selection in the plan (copied). */
void cs_plan_set_target(struct cs_plan *plan, const struct cs_target *target);
/* Why c's current certificate must be replaced (expiry, names, key type,
 * issuer), as a plan's renew action gives it; NULL when it need not be. */
char *cs_plan_renewal_reason(const struct cs_observed *obs, const struct cs_cert_obs *c);

/* Counts per kind, for summaries. */
size_t cs_plan_count(const struct cs_plan *plan, enum cs_action_kind kind);
const char *cs_action_kind_name(enum cs_action_kind kind); /* "renew", ... */

/* JSON form (docs/plan-json.md).  Also the saved plan file format. */
json_t *cs_plan_to_json(const struct cs_plan *plan);
int cs_plan_from_json(struct cs_plan **out, json_t *root, struct cs_err *err);

/* Saved plans: write (0600, atomic) and read back. */
int cs_plan_save(const struct cs_plan *plan, const char *path, struct cs_err *err);
int cs_plan_load(struct cs_plan **out, const char *path, struct cs_err *err);

#endif
