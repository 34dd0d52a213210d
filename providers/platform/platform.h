/* Platform drivers: how a kind of host keeps certificates (Linux: files
 * and script bindings; Windows: the certificate store, IIS, HTTP.sys,
 * Exchange and RDP bindings).
 *
 * A driver never opens connections itself: it speaks through the host's
 * transport, so the same driver works over local, SSH or WinRM.  Per
 * binding a driver can observe what is there, say whether that matches the
 * certificate wanted (and why not), put the wanted state in place while
 * remembering how to undo it, and undo.  reconcile/ asks for the per-binding
 * work through the binding's kind (cs_binding_observe, cs_binding_diff,
 * cs_binding_apply in binding_kind.h), which does it itself or leaves it to
 * the driver, and calls the host-level slots below directly. */
#ifndef CS_PLATFORM_H
#define CS_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "providers/base/buf.h"
#include "providers/base/cert_cfg.h"
#include "providers/base/err.h"
#include "providers/base/pkcs12.h"
#include "providers/base/x509.h"
#include "providers/platform/binding_cfg.h"
#include "providers/transport/transport.h"

/* The certificate a binding should carry: PEM texts built from the store.
 * key_pem is secret: wiped when freed, never printed. */
struct cs_material {
	struct cs_buf key_pem;
	struct cs_buf cert_pem;
	struct cs_buf chain_pem;      /* may be empty */
	struct cs_cert_info info;     /* of the leaf */
	X509 *cert;                   /* owned; NULL until parsed: read it with cs_material_cert() */
	EVP_PKEY *key;                /* owned; NULL until parsed: read it with cs_material_key() */
	/* Texts not read yet (cs_material_unread()): the SHA-256 (hex) of each
	 * text, which decides whether a file on a host holds it, and how to
	 * read them when more is needed (cs_material_texts()). */
	bool unread;
	char key_sha256[65], cert_sha256[65], chain_sha256[65];
	int (*read_texts)(const void *ctx, struct cs_buf *key_pem, struct cs_buf *cert_pem, struct cs_buf *chain_pem,
			  struct cs_err *err);
	const void *read_ctx;
};
/* A material whose texts are read only when asked (cs_material_texts(), or
 * the leaf or key through the accessors below): info and the texts'
 * SHA-256 are known now.  read_texts fills the three buffers (empty on
 * entry) with texts that hash to the digests given. */
int cs_material_unread(struct cs_material *out, const struct cs_cert_info *info, const char *key_sha256,
		       const char *cert_sha256, const char *chain_sha256,
		       int (*read_texts)(const void *ctx, struct cs_buf *key_pem, struct cs_buf *cert_pem,
					 struct cs_buf *chain_pem, struct cs_err *err),
		       const void *read_ctx);
/* Read the texts of an unread material now (thread-safe; it keeps them); 0
 * at once when they are at hand. */
int cs_material_texts(const struct cs_material *m, struct cs_err *err);
/* Whether the material has a chain (without reading it). */
bool cs_material_has_chain(const struct cs_material *m);
/* The leaf and the key as objects.  A material made from texts alone
 * (cs_material_make_from() with NULL objects) parses them on first use
 * (thread-safe; the material keeps them); NULL when they do not parse. */
X509 *cs_material_cert(const struct cs_material *m);
EVP_PKEY *cs_material_key(const struct cs_material *m);
/* Build the PEM texts from key, leaf and chain (new references are taken). */
int cs_material_make(struct cs_material *out, EVP_PKEY *key, X509 *cert,
		     STACK_OF(X509) *chain, struct cs_err *err);
/* The same from what is already at hand: each PEM text whose buffer is
 * non-NULL and holds data is taken as it is (it must be the encoding
 * cs_key_to_pem() etc. give for that object), else encoded; info, when not
 * NULL, is the leaf's and is copied instead of read again.  key and cert
 * may be NULL when their texts and info are given: they are parsed when
 * asked for. */
int cs_material_make_from(struct cs_material *out, EVP_PKEY *key, const struct cs_buf *key_pem,
			  X509 *cert, const struct cs_buf *cert_pem, STACK_OF(X509) *chain,
			  const struct cs_buf *chain_pem, const struct cs_cert_info *info, struct cs_err *err);
void cs_material_free(struct cs_material *m); /* members only; accepts NULL */

/* One file a binding manages, as observed. */
struct cs_file_obs {
	const char *role;             /* "cert", "key", "chain", "fullchain", "pem", "pfx" (static) */
	char *path;
	bool exists;
	struct cs_buf content;        /* wiped when freed: may hold a key */
	char sha256[65];              /* of content, "" when missing */
	mode_t mode;
	char *owner, *group;
	uid_t uid;                    /* the ids behind owner and group */
	gid_t gid;
	/* What replacing the file will change besides what the config asks
	 * (the login user cannot keep its group, say), for the plan's reason;
	 * NULL when nothing. */
	char *note;
	/* pfx: what the file holds, opened with its password (NULL when it
	 * is missing or cannot be opened: then why in pfx_error) */
	struct cs_pkcs12_view *pfx;
	char *pfx_error;
};

/* What a Windows driver saw of one binding (store, iis, httpsys, exchange,
 * rdp, script).  Thumbprints are upper-case hex.  A copy of the store's
 * keyed thumbprints sits in every binding so that diff stays pure. */
struct cs_win_obs {
	char **store;                 /* LocalMachine\My thumbprints that have their private key */
	size_t n_store;
	char **superseded;            /* store cleanup: same subject, bound nowhere */
	int64_t *superseded_until;    /* their expiry (unix seconds, 0: unknown): one
	                               * expiring after the new certificate is no older version */
	size_t n_superseded;
	bool found;                   /* the iis binding / http.sys entry exists */
	char *hash;                   /* iis, httpsys, rdp: the hash it carries, or NULL */
	char *exchange[4];            /* exchange: thumbprint per service (POP, IMAP, SMTP, IIS), or NULL */
};

/* What a driver saw of one binding. */
struct cs_binding_obs {
	char *error;                  /* observing failed (message), or NULL */
	struct cs_file_obs *files;    /* files binding */
	size_t n_files;
	struct cs_win_obs win;        /* windows bindings */
	/* script bindings: the thumbprint of the certificate the script last
	 * ran for successfully, from the state folder (NULL: never), and when */
	char *script_ran;
	int64_t script_ran_at;
	/* An earlier apply changed this binding but could neither confirm it
	 * (reload, verify) nor put it back: why, from the state folder; NULL
	 * when not.  Such a binding is applied again whatever it looks like. */
	char *unconfirmed;
	int64_t unconfirmed_since;
	/* unconfirmed is the intent of an apply that did not finish: it wrote
	 * (or was about to write) the binding and was killed before its reload,
	 * verify or rollback.  The reload and checks are owed. */
	bool interrupted;
	/* ... and the host has rebooted since, as that apply asked (see
	 * cs_host_obs.rebooted_for): only the checks are owed. */
	bool rebooted_since;
	/* The run tag of an apply still running (holding the lock) that is
	 * changing this binding; NULL when none.  Not owed: it is that run's. */
	char *in_flight;
};
void cs_binding_obs_free(struct cs_binding_obs *o); /* members only; accepts NULL */

/* What apply changed, enough to put it back byte for byte.  Only what was
 * changed: a file apply left as it was (already right, or a write that
 * failed before replacing it) has no entry, so a failed apply that changed
 * nothing has nothing to put back. */
struct cs_undo_file {
	char *path;
	bool existed;
	struct cs_buf content;        /* wiped when freed */
	mode_t mode;
	char *owner, *group;
};
/* A Windows binding as it was: the hash to put back (NULL: there was
 * none, so remove what apply created). */
struct cs_undo_bind {
	enum cs_binding_kind_id kind;
	const struct cs_binding_cfg *cfg; /* borrowed from the config */
	char *prev_hash;
	char *appid;                  /* httpsys: the entry's application id */
	unsigned services;            /* exchange: CS_EXCH_* bits that had prev_hash */
	char *what;                   /* for humans: "iis Default Web Site *:443: back to AB12..." */
};
struct cs_undo {
	struct cs_undo_file *files;
	size_t n_files;
	struct cs_undo_bind *binds;
	size_t n_binds;
};
void cs_undo_free(struct cs_undo *u); /* members only; accepts NULL */

struct cs_host_state; /* a driver's view of a whole host (opaque) */

struct cs_platform_ops {
	const char *name;             /* "linux" */

	/* Read what the binding looks like now.  A problem reading is put in
	 * out->error and 0 returned (the plan shows it); a negative return means
	 * the host itself failed (transport down). */
	int (*observe)(struct cs_transport *t, const struct cs_binding_cfg *b,
		       struct cs_binding_obs *out, struct cs_err *err);

	/* Compare with the wanted material.  Returns 1 and appends a
	 * human-checkable reason to reason when a change is needed, 0 when in
	 * sync.  Pure: no I/O, deterministic. */
	int (*diff)(const struct cs_binding_cfg *b, const struct cs_binding_obs *obs,
		    const struct cs_material *want, struct cs_buf *reason);

	/* Put the wanted material in place.  Before changing anything it records
	 * in undo how to put back what was there, so a failure at any point can
	 * be rolled back with undo(). */
	int (*apply)(struct cs_transport *t, const struct cs_binding_cfg *b,
		     const struct cs_material *want, struct cs_undo *undo, struct cs_err *err);

	/* Optional: append to reason ("; " first) what applying b will change
	 * besides what the config asks, for the files it will rewrite: those
	 * that differ from want, or all of them when want is NULL (a renewal,
	 * whose certificate is not made yet).  Pure, like diff. */
	void (*apply_note)(const struct cs_binding_cfg *b, const struct cs_binding_obs *obs,
			   const struct cs_material *want, struct cs_buf *reason);

	/* Put back everything recorded in undo, newest first. */
	int (*undo)(struct cs_transport *t, const struct cs_undo *undo, struct cs_err *err);

	/* Run a reload command on the host; a non-zero exit is an error whose
	 * message carries the command's (truncated) stderr. */
	int (*reload)(struct cs_transport *t, const char *command, struct cs_err *err);

	/* Optional (NULL: observe each binding): observe all n bindings of one
	 * host at once, bindings[i] into outs[i], with the same results and
	 * messages as observe() on each in turn, including stopping at the first
	 * binding whose host failed (later outs stay zeroed).  For drivers that
	 * can do a whole host in fewer round trips. */
	int (*observe_bindings)(struct cs_transport *t, const struct cs_binding_cfg *const *bindings,
				struct cs_binding_obs *const *outs, size_t n, struct cs_err *err);

	/* ---- optional host-level operations (NULL for linux) ----
	 * Drivers that hold certificates in a host-wide store observe the whole
	 * host at once (one round trip per plan), import a certificate once per
	 * host before its bindings, and may reboot it. */

	/* Read the whole host; *out is the driver's, freed with host_free. */
	int (*observe_host)(struct cs_transport *t, const struct cs_host_cfg *host,
			    struct cs_host_state **out, struct cs_err *err);
	/* Fill one binding's observation from the host state (no I/O). */
	void (*observe_in)(const struct cs_host_state *st, const struct cs_cert_cfg *cert,
			   const struct cs_binding_cfg *b, struct cs_binding_obs *out);
	/* 1 and a reason when the host lacks want (import due), 0 when it has it. */
	int (*import_needed)(const struct cs_host_state *st, const struct cs_host_cfg *host,
			     const struct cs_material *want, struct cs_buf *reason);
	/* Import want into the host's store; exportable: its key may be exported. */
	int (*import)(struct cs_transport *t, const struct cs_material *want, bool exportable,
		      struct cs_err *err);
	/* Reboot and wait until the host is back (boot time changed, transport
	 * answers) or timeout seconds passed (-ETIMEDOUT). */
	int (*reboot)(struct cs_transport *t, int64_t timeout, struct cs_err *err);
	/* The host's last boot time as the driver reports it (NULL: unknown);
	 * two different values mean the host rebooted in between. */
	const char *(*host_boot)(const struct cs_host_state *st);
	/* A line describing the state, for the digest of saved plans. */
	void (*host_digest)(const struct cs_host_state *st, struct cs_buf *out);
	void (*host_free)(struct cs_host_state *st); /* accepts NULL */
};

/* Driver for a platform, or NULL when not available yet. */
const struct cs_platform_ops *cs_platform_ops_for(enum cs_platform p);

extern const struct cs_platform_ops cs_platform_linux;
extern const struct cs_platform_ops cs_platform_windows;

/* The diff of a script binding, the same on every platform: what a script
 * configures cannot be read back, so it is due whenever it has not yet run
 * successfully for the wanted certificate. */
int cs_script_diff(const struct cs_binding_obs *obs, const struct cs_material *want, struct cs_buf *reason);

/* What a failed command said, for its error message: stderr (stdout when
 * stderr is empty), trailing blanks dropped, at most max bytes kept from the
 * start, or from the end with keep_end, "…" marking the cut.  Caller frees;
 * "" when it said nothing. */
char *cs_run_failure_text(const struct cs_run_result *res, size_t max, bool keep_end);

/* SHA-1 thumbprint of a certificate as Windows shows it (40 upper-case hex). */
void cs_thumbprint(char out[41], X509 *cert);

#endif
