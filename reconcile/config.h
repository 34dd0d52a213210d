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
#include "providers/issuer/issuer_cfg.h"
#include "providers/transport/host_cfg.h"

/* struct cs_pos: providers/base/yaml_value.h */

/* ---- settings ---- */
struct cs_settings {
	char *state_dir;     /* absolute; default "<config dir>/.certsync" */
	int parallelism;     /* hosts at once; default 32, 1..1024 */
};

/* ---- issuers: struct cs_issuer_cfg, providers/issuer/issuer_cfg.h ---- */

/* ---- hosts: struct cs_host_cfg, providers/transport/host_cfg.h ---- */

/* ---- certificates ---- */
/* struct cs_key_spec: providers/base/x509.h */
enum cs_binding_kind_id {
	CS_BIND_FILES = 1, CS_BIND_STORE, CS_BIND_IIS, CS_BIND_HTTPSYS,
	CS_BIND_EXCHANGE, CS_BIND_RDP, CS_BIND_SCRIPT,
};

struct cs_bind_files {
	char *cert, *key, *chain, *fullchain, *pem; /* absolute paths on the host, any may be NULL (at least one set) */
	char *owner, *group;     /* NULL = leave as the transport creates them */
	int mode;                /* permission bits for every file; default 0600 when key or pem is set, else 0644 */
	char *reload;            /* shell command, or NULL */
};

struct cs_bind_store { bool exportable; bool cleanup; };
struct cs_bind_iis { char *site; int port; char *ip; char *hostname; bool sni; }; /* port 443, ip "*" */
struct cs_bind_httpsys { char *ipport; char *hostnameport; char *appid; };
enum { CS_EXCH_POP = 1, CS_EXCH_IMAP = 2, CS_EXCH_SMTP = 4, CS_EXCH_IIS = 8 };
struct cs_bind_exchange { unsigned services; /* CS_EXCH_* bits */ };
struct cs_bind_rdp { int unused; };
struct cs_script_arg { char *name; char *value; };
struct cs_bind_script {
	char *path;              /* absolute local path of the script certsync sends */
	struct cs_script_arg *args; size_t n_args; /* in the order written */
};

struct cs_binding_cfg {
	struct cs_pos pos;
	char *host;                  /* host name */
	size_t host_index;           /* index into cs_config.hosts */
	enum cs_binding_kind_id kind;
	const struct cs_binding_kind *kind_ops; /* its entry in providers/platform/binding_kind.h */
	struct cs_bind_files files;
	struct cs_bind_store store;
	struct cs_bind_iis iis;
	struct cs_bind_httpsys httpsys;
	struct cs_bind_exchange exchange;
	struct cs_bind_rdp rdp;
	struct cs_bind_script script;
};

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
/* A `script` argument name: letters, digits, _ and -, starting with a
 * letter or _ (safe as a PowerShell parameter and an sh --option). */
bool cs_script_arg_name_ok(const char *s);

struct cs_cert_cfg;
/* Does verify entry v check the changes of host h? */
bool cs_verify_covers(const struct cs_cert_cfg *cert, const struct cs_verify_cfg *v, size_t h);

struct cs_cert_cfg {
	char *name;
	struct cs_pos pos;
	char *common_name;
	char **dns_names; size_t n_dns_names; /* as written; common_name is always added to the SAN set */
	struct cs_key_spec key;
	char *issuer;                /* issuer name */
	size_t issuer_index;         /* index into cs_config.issuers */
	int64_t renew_before;        /* seconds; default 30d */
	int64_t remind_before;       /* seconds; default 7d */
	struct cs_binding_cfg *bindings; size_t n_bindings;
	struct cs_verify_cfg *verify; size_t n_verify;
};

struct cs_config {
	char *path;                  /* the config file as given */
	char *dir;                   /* its folder, absolute */
	struct cs_settings settings;
	struct cs_issuer_cfg *issuers; size_t n_issuers;   /* in file order */
	struct cs_host_cfg *hosts; size_t n_hosts;
	struct cs_cert_cfg *certs; size_t n_certs;
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

/* The declared SAN set of a certificate: common_name plus dns_names,
 * lowercased, sorted, without duplicates.  Caller frees with cs_strv_free. */
char **cs_cert_names(const struct cs_cert_cfg *cert, size_t *out_n);

/* Where a binding puts the certificate, for humans: "/a.crt, /a.key" for
 * files, "site Default Web Site port 443" for iis, "services POP IMAP" for
 * exchange, the script's file name...  Caller frees. */
char *cs_binding_where(const struct cs_binding_cfg *b);

/* "rsa 2048", "ecdsa p256": static strings. */
const char *cs_key_spec_name(const struct cs_key_spec *spec);
const char *cs_binding_kind_name(enum cs_binding_kind_id kind);  /* "files", "iis", ... */
const char *cs_platform_name(enum cs_platform p);              /* "linux", "windows" */
const char *cs_issuer_kind_name(enum cs_issuer_kind k);        /* "ca", "manual", "acme" */

#endif
