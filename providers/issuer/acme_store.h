/* ACME state in the state folder.  The engine owns the state folder
 * (reconcile/store.c) and hands issuers its path (cs_issue_ctx.state_dir);
 * an issuer that keeps state of its own keeps it in a subfolder named after
 * it, read and written only here, so the engine need not know its layout
 * and providers/ need not include the engine:
 *
 *   STATE/acme/                     0700
 *     accounts/ID/key.pem           0600 the account key; ID names the directory
 *                                   URL and contact list (one account per pair)
 *     accounts/ID/account.json      {"directory","contact","url"}: url is the kid
 *     orders/NAME.json              the order in flight for certificate NAME,
 *                                   written before any challenge is answered
 *     orders/NAME.key.pem           0600 the key of the CSR, written before
 *                                   finalize so a finalized order can be resumed
 *
 * An order record is dropped once its certificate is downloaded. */
#ifndef CS_ACME_STORE_H
#define CS_ACME_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "providers/base/err.h"

/* -ENOENT when there is no account for this directory and contact.  *out_url
 * is NULL when the key was kept but the account was never confirmed. */
int cs_acme_store_account_load(EVP_PKEY **out_key, char **out_url, const char *state_dir,
			       const char *directory, char *const *contact, size_t n_contact,
			       struct cs_err *err);
/* Keep the key (and the account URL once known; NULL before). */
int cs_acme_store_account_save(const char *state_dir, const char *directory, char *const *contact,
			       size_t n_contact, EVP_PKEY *key, const char *url, struct cs_err *err);

struct cs_acme_order_rec {
	char *directory;           /* ACME directory URL the order belongs to */
	char *account;             /* account URL (kid) that created it */
	char *url;                 /* the order URL */
	char **names; size_t n_names; /* identifiers, sorted */
	int64_t created;
	EVP_PKEY *key;             /* the CSR's key once finalize was sent, else NULL */
};
void cs_acme_order_rec_free(struct cs_acme_order_rec *rec); /* members only; accepts NULL */

int cs_acme_store_order_load(struct cs_acme_order_rec *out, const char *state_dir, const char *name,
			     struct cs_err *err); /* -ENOENT */
/* Write the record (and rec->key when set: the key file first). */
int cs_acme_store_order_save(const char *state_dir, const char *name, const struct cs_acme_order_rec *rec,
			     struct cs_err *err);
int cs_acme_store_order_drop(const char *state_dir, const char *name, struct cs_err *err);

#endif
