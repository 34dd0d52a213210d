/* The issuance records of the state folder (STATE/issuing/), inside the
 * store: reconcile/store.c opens, checks (as key files) and closes them; the public calls
 * are cs_store_*_issuing* (store.h).
 *
 * One record file holds the issuances of up to ISSUING_PER_RECORD
 * certificates recorded together (a batch of an apply's renewals, or one):
 * for each, its name, key, request, issuer, serial and issue time.  A
 * record file is written whole (temporary, fsync, rename, folder fsync), so
 * it is there with all its issuances or not at all; one that loses
 * issuances is written again without them, and removed when it has none
 * left.  Before these files, each issuance was a folder of three files
 * (certs/NAME/issuing/): creating and removing those was a fifth of an
 * apply's file system work at 10,000 certificates.  Such folders, left by
 * an earlier version killed mid-issue, are still read and dropped by
 * store.c. */
#ifndef CS_STORE_ISSUING_H
#define CS_STORE_ISSUING_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "providers/base/err.h"
#include "reconcile/store.h"

struct cs_issuing_records;

struct cs_issuing_records *cs_issuing_records_new(void);
void cs_issuing_records_free(struct cs_issuing_records *r); /* accepts NULL */
/* The store's records (made with the store, freed with it). */
struct cs_issuing_records *cs_store_issuing_records(struct cs_store *st);
/* The RFC 3339 time at key in obj as unix seconds; 0 when missing or not
 * a time (store.c, which reads its meta.json files with it). */
int64_t cs_store_json_time(json_t *obj, const char *key);

/* Record the items whose r is 0 (as cs_store_save_issuing_many). */
void cs_issuing_records_save(struct cs_store *st, struct cs_store_item *it, size_t n);
/* The recorded issuance of name: 0, -ENOENT when there is none, another
 * negative errno with err when its record cannot be used. */
int cs_issuing_records_find(struct cs_issuing *out, struct cs_store *st, const char *name, struct cs_err *err);
/* Forget the issuances of names: each record file that held one is written
 * again without them, or removed when none is left.  The first error. */
int cs_issuing_records_drop(struct cs_store *st, const char *const *names, size_t n, struct cs_err *err);

#endif
