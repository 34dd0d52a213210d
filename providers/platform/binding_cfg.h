/* A binding as the config declares it: the host, the kind and the kind's
 * settings.  Read by the config loader and the engine (reconcile/), the
 * kinds that parse and describe it (kind_*.c) and the platform drivers
 * that observe and apply it (linux.c, windows.c). */
#ifndef CS_BINDING_CFG_H
#define CS_BINDING_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include "providers/base/secret.h"
#include "providers/base/yaml_value.h"

struct cs_binding_kind;

enum cs_binding_kind_id {
	CS_BIND_FILES = 1, CS_BIND_STORE, CS_BIND_IIS, CS_BIND_HTTPSYS,
	CS_BIND_EXCHANGE, CS_BIND_RDP, CS_BIND_SCRIPT,
};

struct cs_bind_files {
	char *cert, *key, *chain, *fullchain, *pem; /* absolute paths on the host, any may be NULL (at least one, or pfx) */
	char *owner, *group;     /* NULL = leave as the transport creates them */
	int mode;                /* permission bits for every file; default 0600 when key, pem or pfx is set, else 0644 */
	char *reload;            /* shell command, or NULL */
	char *pfx;               /* PKCS#12 file (key + cert + chain), or NULL; then: */
	struct cs_secret pfx_password; /* its password (required with pfx) */
	char *pfx_alias;         /* the friendly name; default the certificate's name */
	bool pfx_legacy;         /* 3DES and SHA-1 MAC for old readers instead of AES-256 and SHA-256 */
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
	enum cs_binding_kind_id kind;  /* for the platform drivers; 0 for a kind without an id */
	const struct cs_binding_kind *kind_ops; /* its entry in the table (binding_kind.h) */
	void *data;                  /* a kind's own settings, when they have no struct here
					(freed by the kind's free slot) */
	struct cs_bind_files files;
	struct cs_bind_store store;
	struct cs_bind_iis iis;
	struct cs_bind_httpsys httpsys;
	struct cs_bind_exchange exchange;
	struct cs_bind_rdp rdp;
	struct cs_bind_script script;
};

/* A `script` argument name: letters, digits, _ and -, starting with a
 * letter or _ (safe as a PowerShell parameter and an sh --option). */
bool cs_script_arg_name_ok(const char *s);

/* The kind's name of an id: "files", "iis", ... ("unknown" for none). */
const char *cs_binding_kind_name(enum cs_binding_kind_id kind);

/* Where a binding puts the certificate, for humans: "/a.crt, /a.key" for
 * files, "site Default Web Site port 443" for iis, "services POP IMAP" for
 * exchange, the script's file name...  Caller frees. */
char *cs_binding_where(const struct cs_binding_cfg *b);

#endif
