/* A binding kind: how a certificate is put to use on a host (files, a
 * Windows store, an IIS site, a script...).  Each kind is one file in
 * providers/platform/ defining one struct cs_binding_kind, and one line in
 * the table cs_binding_kinds (binding_kinds.c).  The config loader finds a
 * binding's kind by its key in the table and hands the body to the kind.
 *
 * Slots (a NULL slot means the kind does not need it):
 *   name       the key in the config ("files") and the word in messages
 *   id         the kind's enum value, while the platform drivers still
 *              switch on it (0 for a kind they do not know)
 *   platforms  CS_KIND_ON(CS_PLATFORM_...) bits: the hosts the kind exists on
 *   parse      check the YAML body m and fill p->b; every problem is a
 *              FILE:LINE:COL diagnostic through p->y (providers/base/yaml_value.h);
 *              references (a script that must exist, a file two bindings
 *              write) are checked here too, the latter through p->claim
 *   describe   append where the binding puts the certificate, for humans
 *              (plan, status, metrics, calendar): "/a.crt, /a.key",
 *              "site Default Web Site port 443", the script's file name
 *   details    row by row, what the binding writes or sets, for a detailed
 *              display (plan --format markdown): row(ctx, NAME, VALUE,
 *              literal), literal for a path or command shown as code;
 *              without it the display shows describe's text
 *   free       free what parse allocated in b (called for every kind of the
 *              table, whichever parsed: accept what another kind left)
 *
 * Questions the engine asks instead of naming a kind (NULL or false: no):
 *   reload     the command to run on the host after the binding changed
 *              (once per host, after every binding naming it), or NULL
 *   bind_last  bound after the host's other bindings: it may clean up what
 *              they have just moved off (store)
 *   no_reboot  changing it is nothing a reboot is for (store: the import is
 *              an action of its own, removing old certificates restarts
 *              nothing)
 *   key_exportable  the host's import of the certificate must let its key
 *              be exported
 *   writes_chain    it writes the CA's intermediates (chain, fullchain or
 *              pem files): the plan warns when the CA sent none
 *   ran_key    for a kind whose effect cannot be read back from the host:
 *              the key under which the state folder remembers the
 *              certificate it last ran for successfully (caller frees);
 *              the engine loads that into obs->script_ran before diff and
 *              saves it after a successful apply
 *   paths      the files it writes on the host, appended to out (at most
 *              max); the count.  A run record names them as what a killed
 *              apply may leave behind
 *
 * Finding it (certsync discover; NULL: the kind finds nothing):
 *   discover   append to out what the host already uses that a binding of
 *              this kind would declare (providers/platform/discover.h):
 *              the certificate, its key when readable, the binding's rows.
 *              Called once per host of one of the kind's platforms; what
 *              could not be read goes into out->problems, and a negative
 *              return means the host itself failed
 *
 * Doing it (NULL: the platform driver of the host does it, see platform.h):
 *   observe, diff, apply  with the meaning of the same slots of struct
 *              cs_platform_ops.  What apply records in undo is put back by
 *              the driver's undo (files and Windows bindings). */
#ifndef CS_BINDING_KIND_H
#define CS_BINDING_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include "providers/base/buf.h"
#include "providers/base/yaml_value.h"
#include "providers/base/cert_cfg.h"
#include "providers/platform/binding_cfg.h"
#include "providers/platform/discover.h"
#include "providers/platform/platform.h"
#include "providers/transport/host_cfg.h"

#define CS_KIND_ON(platform) (1u << (platform))

/* One row of a binding's details (see the details slot). */
typedef void (*cs_detail_row_fn)(void *ctx, const char *name, const char *value, bool literal);

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
	bool (*claim)(struct cs_binding_parse *p, const struct cs_ynode *v, const char *role, const char *path);
	void *claim_ctx;
};

struct cs_binding_kind {
	const char *name;
	enum cs_binding_kind_id id;
	unsigned platforms;
	void (*parse)(struct cs_binding_parse *p, const struct cs_ynode *m);
	void (*describe)(const struct cs_binding_cfg *b, struct cs_buf *out);
	void (*details)(const struct cs_binding_cfg *b, cs_detail_row_fn row, void *ctx);
	void (*free)(struct cs_binding_cfg *b);

	const char *(*reload)(const struct cs_binding_cfg *b);
	bool bind_last;
	bool no_reboot;
	bool (*key_exportable)(const struct cs_binding_cfg *b);
	bool (*writes_chain)(const struct cs_binding_cfg *b);
	char *(*ran_key)(const char *cert, const struct cs_binding_cfg *b);
	size_t (*paths)(const struct cs_binding_cfg *b, const char **out, size_t max);

	int (*discover)(struct cs_transport *t, const struct cs_discover_opts *o, struct cs_found_list *out,
			struct cs_err *err);

	int (*observe)(struct cs_transport *t, const struct cs_binding_cfg *b, struct cs_binding_obs *out,
		       struct cs_err *err);
	int (*diff)(const struct cs_binding_cfg *b, const struct cs_binding_obs *obs, const struct cs_material *want,
		    struct cs_buf *reason);
	int (*apply)(struct cs_transport *t, const struct cs_binding_cfg *b, const struct cs_material *want,
		     struct cs_undo *undo, struct cs_err *err);
};

/* Most paths a kind's paths slot gives. */
#define CS_KIND_MAX_PATHS 8

/* Every kind, in the order the config lists them in messages; NULL-ended.
 * The config loader reads the table through cs_binding_kind_table(). */
extern const struct cs_binding_kind *const cs_binding_kinds[];

/* The table in use: cs_binding_kinds unless a test put another in place
 * with cs_binding_kinds_use() (NULL: back to cs_binding_kinds).  The way
 * a test shows that the engine runs a kind it does not know. */
const struct cs_binding_kind *const *cs_binding_kind_table(void);
void cs_binding_kinds_use(const struct cs_binding_kind *const *table);

extern const struct cs_binding_kind cs_kind_files, cs_kind_store, cs_kind_iis, cs_kind_httpsys,
	cs_kind_exchange, cs_kind_rdp, cs_kind_script;

/* The kind called name, or NULL. */
const struct cs_binding_kind *cs_binding_kind_find(const char *name);
/* The kind with that id, or NULL. */
const struct cs_binding_kind *cs_binding_kind_by_id(enum cs_binding_kind_id id);

/* The engine's questions about binding b (its kind_ops), answered "no"
 * where the kind has no slot. */
const char *cs_binding_reload(const struct cs_binding_cfg *b);
bool cs_binding_bind_last(const struct cs_binding_cfg *b);
bool cs_binding_no_reboot(const struct cs_binding_cfg *b);
bool cs_binding_key_exportable(const struct cs_binding_cfg *b);
bool cs_binding_writes_chain(const struct cs_binding_cfg *b);
char *cs_binding_ran_key(const char *cert, const struct cs_binding_cfg *b); /* NULL: not such a kind */
size_t cs_binding_paths(const struct cs_binding_cfg *b, const char **out, size_t max);

/* Observe, diff and apply b through its kind, or through the host's
 * driver p when the kind leaves that to the driver. */
int cs_binding_observe(const struct cs_platform_ops *p, struct cs_transport *t, const struct cs_binding_cfg *b,
		       struct cs_binding_obs *out, struct cs_err *err);
int cs_binding_diff(const struct cs_platform_ops *p, const struct cs_binding_cfg *b,
		    const struct cs_binding_obs *obs, const struct cs_material *want, struct cs_buf *reason);
int cs_binding_apply(const struct cs_platform_ops *p, struct cs_transport *t, const struct cs_binding_cfg *b,
		     const struct cs_material *want, struct cs_undo *undo, struct cs_err *err);

#endif
