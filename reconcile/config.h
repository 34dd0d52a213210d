/* The typed configuration model (config version 1) and its loader.
 *
 * cs_config_load() parses the YAML with libyaml, checks the schema and every
 * reference, and collects *all* problems as diagnostics (FILE:LINE:COL:
 * message) instead of stopping at the first.  The model is only usable when
 * no error diagnostic was produced.  Paths in the config that name local files
 * (state_dir, requests/, inbox/, pki files, script paths) are stored already
 * resolved against the config file's folder; paths on hosts stay as written.
 *
 * Key names are a contract with the configs users write (docs/config.md):
 * extend, never rename. */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "providers/base/diag.h"
#include "providers/base/yaml_value.h"
#include "providers/base/secret.h"
#include "providers/base/strmap.h"
#include "providers/base/x509.h"
#include "providers/base/cert_cfg.h"
#include "providers/issuer/issuer_cfg.h"
#include "providers/platform/binding_cfg.h"
#include "providers/notify/notify.h"
#include "providers/transport/host_cfg.h"

/* struct cs_pos: providers/base/yaml_value.h */

/* ---- settings ---- */
/* settings.state.postgres: the state in PostgreSQL (reconcile/state_pg.h). */
struct cs_state_pg_cfg {
	bool set;
	struct cs_secret dsn;   /* libpq connection string or URI */
	struct cs_secret key;   /* 64 hex digits: the AES-256-GCM key sealing private keys */
};

struct cs_settings {
	char *state_dir;     /* absolute; default "<config dir>/.certsync" */
	int parallelism;     /* hosts at once; default 32, 1..1024 */
	struct cs_state_pg_cfg pg;
};

/* ---- issuers: struct cs_issuer_cfg, providers/issuer/issuer_cfg.h ---- */

/* ---- hosts: struct cs_host_cfg, providers/transport/host_cfg.h ---- */

/* ---- certificates ---- */
/* struct cs_key_spec: providers/base/x509.h */
/* enum cs_binding_kind_id, struct cs_binding_cfg: providers/platform/binding_cfg.h */

enum cs_starttls { CS_STARTTLS_NONE = 0, CS_STARTTLS_SMTP, CS_STARTTLS_IMAP, CS_STARTTLS_POP3 };

struct cs_verify_cfg {
	struct cs_pos pos;
	char *connect;               /* "host:port" or "[v6]:port" */
	char *servername;            /* SNI; NULL = the certificate's common_name */
	enum cs_starttls starttls;
	char *ca_bundle;             /* absolute path or NULL: chain then checked against it */
	int64_t timeout;             /* seconds; default 30 */
	char *host;                  /* host whose changes this checks (rolled back on failure);
					NULL when left out: the one host the certificate is bound on,
					or all of them (all_hosts) */
	size_t host_index;           /* resolved: index into cs_config.hosts; (size_t)-1 with all_hosts */
	bool all_hosts;              /* no host: and bound on several: checked once after every host
					of the certificate, and a failure puts all of them back */
};

/* Does verify entry v check the changes of host h? */
bool cs_verify_covers(const struct cs_cert_cfg *cert, const struct cs_verify_cfg *v, size_t h);

/* struct cs_cert_cfg: providers/base/cert_cfg.h */

/* For displays in cmd/: a binding's kind name ("files"), and row by row
 * what it writes or sets (row(ctx, NAME, VALUE, literal); literal: a path
 * or command, shown as code).  A kind without details gives one row, its
 * name and where it puts the certificate. */
const char *cs_binding_kind_label(const struct cs_binding_cfg *b);
void cs_binding_details(const struct cs_binding_cfg *b,
			void (*row)(void *ctx, const char *name, const char *value, bool literal), void *ctx);

struct cs_config {
	char *path;                  /* the config file as given */
	char *dir;                   /* its folder, absolute */
	struct cs_settings settings;
	struct cs_issuer_cfg *issuers; size_t n_issuers;   /* in file order */
	struct cs_host_cfg *hosts; size_t n_hosts;
	struct cs_cert_cfg *certs; size_t n_certs;
	struct cs_notify_cfg *notify; size_t n_notify;     /* providers/notify/notify.h */
	/* name → index, built when loading succeeds (a model built otherwise
	 * leaves them empty and the look-ups below scan) */
	struct cs_strmap host_names, cert_names;
};

/* Load and validate path.  Returns 0 and a model in *out when there is no
 * error diagnostic; -EINVAL when there are errors (all of them in diags, *out
 * NULL); another negative code when the file cannot be read (message in
 * diags too).  diags must be initialised by the caller. */
int cs_config_load(struct cs_config **out, const char *path, struct cs_diags *diags);

/* The same from a string; name is used in diagnostics and dir for relative
 * paths (tests). */
int cs_config_load_string(struct cs_config **out, const char *name, const char *dir,
			  const char *text, size_t len, struct cs_diags *diags);

void cs_config_free(struct cs_config *cfg); /* accepts NULL */

/* Look-ups by name; NULL when absent. */
const struct cs_host_cfg *cs_config_host(const struct cs_config *cfg, const char *name);
const struct cs_issuer_cfg *cs_config_issuer(const struct cs_config *cfg, const char *name);
const struct cs_cert_cfg *cs_config_cert(const struct cs_config *cfg, const char *name);



/* "rsa 2048", "ecdsa p256": static strings. */
const char *cs_key_spec_name(const struct cs_key_spec *spec);
const char *cs_platform_name(enum cs_platform p);              /* "linux", "windows" */
const char *cs_issuer_kind_name(enum cs_issuer_kind k);        /* "ca", "manual", "acme" */

#endif
