/* Issuer providers: where certificates come from.
 *
 * One const struct cs_issuer_ops per kind (ca.c, manual.c, later acme.c),
 * found through cs_issuer_ops_for().  An issuer either answers at once
 * (local CA) or asynchronously (manual: CSR out now, certificate in later). */
#ifndef CS_ISSUER_H
#define CS_ISSUER_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "providers/base/cert_cfg.h"
#include "providers/base/err.h"
#include "providers/base/yaml_value.h"

#include "providers/issuer/issuer_cfg.h"
#include "providers/transport/host_cfg.h"

/* What a reply from an asynchronous CA turned out to be. */
struct cs_issuer_reply {
	char *path;                /* the inbox file it came from */
	X509 *cert;                /* leaf, matching the pending key */
	STACK_OF(X509) *chain;     /* may be empty, never NULL */
};
void cs_issuer_reply_free(struct cs_issuer_reply *r); /* members only; accepts NULL */

/* What issue_ctx() gets besides the request. */
struct cs_issue_ctx {
	const struct cs_host_cfg *hosts; /* the config's hosts, for challenges (http-01 webroot) */
	size_t n_hosts;
	/* The state folder (absolute path).  The engine owns it (keys, pending
	 * requests, the issuance ledger, issuing/ records: reconcile/store.c);
	 * an issuer that keeps state of its own keeps it in a subfolder of it
	 * named after the issuer (acme: acme/, see acme_store.h).  Passing the
	 * path instead of the store keeps providers/ from including the engine. */
	const char *state_dir;
	EVP_PKEY *key;                 /* the private key csr was made from */
	X509 *current;                 /* the certificate being replaced, or NULL */
	const char *current_issuer;    /* the issuer the store says produced current */
	/* Set by the issuer (the caller frees it) when the certificate it returns
	 * is for another key than key: an order interrupted after finalize and
	 * resumed now was finalized with the key kept from that earlier run. */
	EVP_PKEY *out_key;
	/* The certificate's identity, chosen and kept (fsync'd) by the caller
	 * before the CA is asked, so that signing again after a crash gives
	 * the same certificate: serial as hex (NULL: the issuer picks one) and
	 * the time validity counts from (0: now).  Issuers that do not choose
	 * serials (acme) ignore them. */
	const char *serial;
	int64_t issue_time;
};

/* A renewal window suggested by the CA. */
struct cs_renewal_window {
	int64_t start;                 /* unix seconds */
	int64_t end;
	char *source;                  /* for the plan: "acme renewal info <url>" and the
					  CA's explanation URL when given; caller frees */
};

/* What an issuer's body may refer to, checked by the config document:
 * host() reports an unknown host name at v and returns false. */
struct cs_issuer_refs {
	void *ctx;
	bool (*host)(void *ctx, const struct cs_ynode *v, const char *name, const char *where);
};

struct cs_issuer_ops {
	const char *name;          /* "ca", "manual" */
	/* Parse the issuer's body (the mapping under its kind's key) into
	 * is->KIND, with defaults; every problem becomes a FILE:LINE:COL
	 * diagnostic in y, and parsing goes on. */
	void (*parse)(struct cs_yaml *y, struct cs_issuer_cfg *is, const struct cs_ynode *body,
		      const struct cs_issuer_refs *refs);

	/* The capability the engine asks about: true when issue() only submits
	 * a request and collect() finds the CA's answer on a later run (manual);
	 * plan and apply then wait instead of installing. */
	bool asynchronous;
	/* issue_ctx() may run in several threads at once, for different
	 * certificates (an apply's batch of renewals signs in parallel). */
	bool parallel_issue;

	/* Issue for csr (made from the certificate's fresh key).
	 * Synchronous issuers fill *out_cert and *out_chain (never NULL, may be
	 * empty) and return 0.  Asynchronous ones submit the request (manual:
	 * write requests/NAME.csr) and return 0 with *out_cert NULL. */
	int (*issue)(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert,
		     X509_REQ *csr, X509 **out_cert, STACK_OF(X509) **out_chain, struct cs_err *err);

	/* Asynchronous issuers only (NULL otherwise): look for the answer to the
	 * pending request (made from pending_key).  0 with *out filled when a reply is there and valid;
	 * -ENOENT when there is none yet; -EINVAL with a clear message when a reply
	 * is there but wrong (another key, other names, not a certificate, expired),
	 * in which case nothing may be installed. */
	int (*collect)(struct cs_issuer_reply *out, const struct cs_issuer_cfg *issuer,
		       const struct cs_cert_cfg *cert, EVP_PKEY *pending_key, struct cs_err *err);

	/* Asynchronous issuers only: the reply was saved in the store; tidy up
	 * (manual: move the inbox file to inbox/imported/).  May be NULL. */
	int (*collected)(const struct cs_issuer_cfg *issuer, const struct cs_issuer_reply *reply,
			 struct cs_err *err);

	/* Was cert issued by this issuer as configured now?  1 yes, 0 no, -1 can't
	 * tell (manual: the store's record is all there is).  For ca: the
	 * signature verifies with the configured CA certificate.  May be NULL. */
	int (*issued_by)(const struct cs_issuer_cfg *issuer, X509 *cert);

	/* Where the request was written, for messages (manual: requests/NAME.csr);
	 * caller frees; may be NULL. */
	char *(*request_location)(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert);

	/* Where the CA's reply is to be put, for messages (manual: "INBOX/ as
	 * NAME.pem (or .crt, .cer, .der, .p7b)"); caller frees; NULL: "the
	 * inbox". */
	char *(*reply_location)(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert);

	/* ---- optional, added for acme (NULL for ca and manual) ---- */

	/* Like issue(), for issuers that keep state or reach other hosts
	 * (acme: the account key and the order in flight live in the store,
	 * http-01 webroot writes through a host's transport).  Callers use it
	 * instead of issue() when it is set. */
	int (*issue_ctx)(struct cs_issue_ctx *ctx, const struct cs_issuer_cfg *issuer,
			 const struct cs_cert_cfg *cert, X509_REQ *csr, X509 **out_cert,
			 STACK_OF(X509) **out_chain, struct cs_err *err);

	/* The certificate issue_ctx() returned is saved as cert's current one:
	 * forget what was kept to resume its issuance (acme: the order record).
	 * Kept until then so that a run killed between the download and the
	 * save fetches the same certificate again.  NULL: nothing kept. */
	void (*saved)(struct cs_issue_ctx *ctx, const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert);

	/* The CA's suggested renewal window for cert (acme: RFC 9773 renewal
	 * information).  0 with out filled; -ENOTSUP when the CA offers none
	 * (then renew_before applies); another negative code when asking
	 * failed (message in err; renew_before applies too). */
	int (*renewal_window)(struct cs_renewal_window *out, const struct cs_issuer_cfg *issuer,
			      X509 *cert, struct cs_err *err);

	/* Could this issuer issue now, as far as can be told without using a
	 * secret?  Called by plan, so a missing CA file is an error of the plan,
	 * not a surprise in the middle of apply.  0 when ready; negative with
	 * the reason.  May be NULL (always ready). */
	int (*ready)(const struct cs_issuer_cfg *issuer, struct cs_err *err);
};

/* The ops for a kind, or NULL when not supported. */
const struct cs_issuer_ops *cs_issuer_ops_for(enum cs_issuer_kind kind);

extern const struct cs_issuer_ops cs_issuer_ca;

/* A new self-signed CA certificate for key (CA:TRUE, keyCertSign|cRLSign,
 * SKI), valid from now for days: what `certsync init` makes for a local
 * `ca` issuer. */
int cs_ca_create_self_signed(X509 **out, EVP_PKEY *key, const char *common_name, int days, struct cs_err *err);
extern const struct cs_issuer_ops cs_issuer_manual;
extern const struct cs_issuer_ops cs_issuer_acme;

#endif
