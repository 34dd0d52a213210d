/* Issuer providers: where certificates come from.
 *
 * One const struct cs_issuer_ops per kind (ca.c, manual.c, later acme.c),
 * found through cs_issuer_ops_for().  An issuer either answers at once
 * (local CA) or asynchronously (manual: CSR out now, certificate in later). */
#ifndef CS_ISSUER_H
#define CS_ISSUER_H

#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "../../reconcile/config.h"
#include "../../reconcile/err.h"
#include "../../reconcile/store.h"

#define CS_ISSUER_ABI 1

/* What a reply from an asynchronous CA turned out to be. */
struct cs_issuer_reply {
	char *path;                /* the inbox file it came from */
	X509 *cert;                /* leaf, matching the pending key */
	STACK_OF(X509) *chain;     /* may be empty, never NULL */
};
void cs_issuer_reply_free(struct cs_issuer_reply *r); /* members only; accepts NULL */

struct cs_issuer_ops {
	int abi;                   /* CS_ISSUER_ABI */
	const char *name;          /* "ca", "manual" */
	bool asynchronous;         /* true: issue() only submits; collect() finds the answer */

	/* Issue for csr (made from the certificate's fresh key).
	 * Synchronous issuers fill *out_cert and *out_chain (never NULL, may be
	 * empty) and return 0.  Asynchronous ones submit the request (manual:
	 * write requests/NAME.csr) and return 0 with *out_cert NULL. */
	int (*issue)(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert,
		     X509_REQ *csr, X509 **out_cert, STACK_OF(X509) **out_chain, struct cs_err *err);

	/* Asynchronous issuers only (NULL otherwise): look for the answer to the
	 * pending request.  0 with *out filled when a reply is there and valid;
	 * -ENOENT when there is none yet; -EINVAL with a clear message when a reply
	 * is there but wrong (another key, other names, not a certificate, expired),
	 * in which case nothing may be installed. */
	int (*collect)(struct cs_issuer_reply *out, const struct cs_issuer_cfg *issuer,
		       const struct cs_cert_cfg *cert, const struct cs_pending *pending,
		       struct cs_err *err);

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
};

/* The ops for a kind, or NULL when not supported yet (acme until its issue). */
const struct cs_issuer_ops *cs_issuer_ops_for(enum cs_issuer_kind kind);

extern const struct cs_issuer_ops cs_issuer_ca;
extern const struct cs_issuer_ops cs_issuer_manual;

#endif
