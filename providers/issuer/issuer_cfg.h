/* An issuer as the config declares it: its kind and that kind's body.
 * The issuers read it (issuer.h), so it lives with them;
 * reconcile/config.c fills it from the issuers map. */
#ifndef CS_ISSUER_CFG_H
#define CS_ISSUER_CFG_H

#include <stddef.h>
#include <stdint.h>
#include "providers/base/secret.h"
#include "providers/base/yaml_value.h"

enum cs_issuer_kind { CS_ISSUER_CA = 1, CS_ISSUER_MANUAL, CS_ISSUER_ACME };

struct cs_issuer_ca {
	char *cert;             /* absolute path of the CA certificate (PEM) */
	struct cs_secret key;   /* the CA private key: {file: ...} or {env: ...} */
	int days;               /* validity of issued certificates; default 90, 1..3650 */
};

struct cs_issuer_manual {
	char *requests;         /* absolute folder where CSRs are written; default <dir>/requests */
	char *inbox;            /* absolute folder where the CA's replies are dropped; default <dir>/inbox */
};

enum cs_challenge_kind { CS_CHALLENGE_NONE = 0, CS_CHALLENGE_HTTP01, CS_CHALLENGE_DNS01 };

struct cs_issuer_acme {
	char *directory;        /* URL */
	char **contact; size_t n_contact;
	char *ca_bundle;        /* absolute path or NULL */
	char *eab_kid;          /* NULL when no EAB */
	struct cs_secret eab_hmac;
	enum cs_challenge_kind challenge;
	char *http01_host;      /* webroot mode: host name (reference) */
	char *http01_webroot;   /* path on that host */
	char *http01_standalone;/* "addr:port" */
	char *dns01_hook;       /* absolute path */
	int64_t dns01_propagation; /* seconds; default 60 */
	char *preferred_chain;  /* issuer CN of the preferred alternate chain, or NULL */
};

struct cs_issuer_cfg {
	char *name;
	struct cs_pos pos;
	enum cs_issuer_kind kind;
	struct cs_issuer_ca ca;
	struct cs_issuer_manual manual;
	struct cs_issuer_acme acme;
};

#endif
