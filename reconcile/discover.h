/* certsync discover: what certificates the declared hosts (and endpoints)
 * already use, grouped into lineages and written as the certificates of a
 * config; with adopt, saved as the current certificates in the state.
 * Nothing here prints: the text and the warnings are data for cmd/. */
#ifndef CS_DISCOVER_H
#define CS_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"
#include "reconcile/config.h"
#include "reconcile/store.h"

struct cs_discover_req {
	const struct cs_config *cfg;
	const char *config_text;      /* the config as read, which the output extends */
	size_t config_len;
	char *const *hosts;           /* only these hosts (none: every host) */
	size_t n_hosts;
	char *const *endpoints;       /* "HOST:PORT" or "smtp|imap|pop3://HOST:PORT" */
	size_t n_endpoints;
	const char *root;             /* read service configs under this folder (NULL: /) */
	const char *schema;           /* the $schema reference of the first line */
	struct cs_store *adopt;       /* save what was found as current (NULL: do not) */
};

struct cs_discover_result {
	struct cs_buf yaml;           /* the config */
	char **warnings;              /* one line each */
	size_t n_warnings;
	size_t n_lineages, n_adopted;
};

/* 0 and the config in out->yaml; a host that cannot be reached is a
 * warning, not an error.  Errors: a bad --host or --endpoint, a config
 * the output cannot extend (it declares certificates already, or issuers
 * in flow style), saving into the state failed. */
int cs_discover(const struct cs_discover_req *rq, struct cs_discover_result *out, struct cs_err *err);
void cs_discover_result_free(struct cs_discover_result *r);

#endif
