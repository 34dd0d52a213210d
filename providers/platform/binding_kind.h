/* A binding kind: how a certificate is put to use on a host (files, a
 * Windows store, an IIS site, a script...).  Each kind is one file in
 * providers/platform/ defining one struct cs_binding_kind, and one line in
 * the table cs_binding_kinds (binding_kinds.c).  The config loader finds a
 * binding's kind by its key in the table and hands the body to the kind.
 *
 * Slots (a NULL slot means the kind does not need it):
 *   name       the key in the config ("files") and the word in messages
 *   id         the kind's enum value, while the engine still keeps per-kind
 *              structs in struct cs_binding_cfg
 *   platforms  CS_KIND_ON(CS_PLATFORM_...) bits: the hosts the kind exists on
 *   parse      check the YAML body m and fill p->b; every problem is a
 *              FILE:LINE:COL diagnostic through p->y (providers/base/yaml_value.h);
 *              references (a script that must exist, a file two bindings
 *              write) are checked here too, the latter through p->claim
 *   describe   append where the binding puts the certificate, for humans
 *              (plan, status, metrics, calendar): "/a.crt, /a.key",
 *              "site Default Web Site port 443", the script's file name */
#ifndef CS_BINDING_KIND_H
#define CS_BINDING_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include "providers/base/buf.h"
#include "providers/base/yaml_value.h"
#include "reconcile/config.h"

#define CS_KIND_ON(platform) (1u << (platform))

/* What a kind's parse gets. */
struct cs_binding_parse {
	struct cs_yaml *y;
	const struct cs_cert_cfg *cert;
	struct cs_binding_cfg *b;
	size_t index;                     /* 1-based, for messages */
	const struct cs_host_cfg *host;   /* NULL when the reference is broken or the kind is not on it */
	size_t host_index;
	const char *where;                /* "in files binding 1 of certificate mail" */
	/* Claim path on the binding's host for role ("cert", "key"...): false,
	 * with the error reported at v, when another binding writes it. */
	bool (*claim)(struct cs_binding_parse *p, const yaml_node_t *v, const char *role, const char *path);
	void *claim_ctx;
};

struct cs_binding_kind {
	const char *name;
	enum cs_binding_kind_id id;
	unsigned platforms;
	void (*parse)(struct cs_binding_parse *p, const yaml_node_t *m);
	void (*describe)(const struct cs_binding_cfg *b, struct cs_buf *out);
};

/* Every kind, in the order the config lists them in messages; NULL-ended. */
extern const struct cs_binding_kind *const cs_binding_kinds[];

extern const struct cs_binding_kind cs_kind_files, cs_kind_store, cs_kind_iis, cs_kind_httpsys,
	cs_kind_exchange, cs_kind_rdp, cs_kind_script;

/* The kind called name, or NULL. */
const struct cs_binding_kind *cs_binding_kind_find(const char *name);
/* The kind with that id, or NULL. */
const struct cs_binding_kind *cs_binding_kind_by_id(enum cs_binding_kind_id id);

#endif
