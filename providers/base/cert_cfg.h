/* A certificate as the config declares it: its name, names, key, issuer,
 * bindings and verify entries.  It sits on the ground floor because the
 * engine, the issuers (what to ask the CA for) and the binding kinds (whose
 * messages name it) all read it; the bindings and verify entries are
 * declared by those who read them (providers/platform/binding_cfg.h,
 * reconcile/config.h). */
#ifndef CS_CERT_CFG_H
#define CS_CERT_CFG_H

#include <stddef.h>
#include <stdint.h>
#include "providers/base/x509.h"
#include "providers/base/yaml_value.h"

struct cs_binding_cfg;
struct cs_verify_cfg;

/* struct cs_key_spec: providers/base/x509.h */
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

/* The declared SAN set of a certificate: common_name plus dns_names,
 * lowercased, sorted, without duplicates.  Caller frees with cs_strv_free. */
char **cs_cert_names(const struct cs_cert_cfg *cert, size_t *out_n);

#endif
