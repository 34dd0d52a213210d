/* The state folder (settings.state_dir): everything certsync keeps between
 * runs.
 *
 *   STATE/                 0700, refused when group/other can access it
 *     lock                 flock()ed by apply; holds "pid host command since",
 *                          then "run TAG" on a line of its own
 *     journal.jsonl        append-only, one JSON object per line, fsync'd
 *                          (an apply's lines per phase: cs_store_journal_group)
 *     certs/NAME/          0700
 *       key.pem            0600 current private key (refused if group/other can read it)
 *       cert.pem           current certificate (leaf)
 *       chain.pem          its chain (may be empty)
 *       meta.json          {"issuer": "lab", "issued_at": "...", "serial": "..."}
 *       pending/           a request waiting for a CA: key.pem, request.csr, meta.json
 *       issuing/           an issuance in progress, as versions before the
 *                          records below kept it (read and dropped only)
 *       issued.jsonl       ledger: every certificate a CA returned, by serial
 *       archive/SERIAL/    previous key/cert/chain/meta, kept on every renewal
 *     issuing/TAG-N.json   0600 issuances in progress, up to 64 per file: each
 *                          one's name, key, request, serial and issue time
 *                          (store_issuing.h)
 *
 * Nothing here prints; errors name the file and the cause. */
#ifndef CS_STORE_H
#define CS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"
#include "providers/base/x509.h"

struct cs_store;

/* Open the state folder.  With create, make it (0700) when missing; without,
 * a missing folder is fine (an empty store: every load returns -ENOENT).
 * -EPERM when the folder or a key file is accessible by group/other. */
int cs_store_open(struct cs_store **out, const char *dir, bool create, struct cs_err *err);
/* For read-only reports (status, metrics), which must say what is wrong
 * rather than go blind: as cs_store_open without create, but a state
 * folder that is not private (or not a folder) goes into folder_problem and
 * an unsafe key file into key_problem, and the store is opened anyway
 * (loading an unsafe certificate still fails, so it shows as an error). */
int cs_store_open_report(struct cs_store **out, const char *dir, struct cs_err *folder_problem,
			 struct cs_err *key_problem, struct cs_err *err);
void cs_store_close(struct cs_store *st); /* releases the lock; accepts NULL */
const char *cs_store_dir(const struct cs_store *st);

/* Take the exclusive lock (non-blocking).  -EBUSY with a message naming the
 * holder ("state folder X is locked by certsync apply (pid 123 on host
 * since 2026-...)") when another process has it. */
int cs_store_lock(struct cs_store *st, const char *command, struct cs_err *err);
/* This run's tag (16 hex digits, also cs_temp_tag()) once cs_store_lock()
 * succeeded; NULL before.  It names the run's intents and temporary files. */
const char *cs_store_run(const struct cs_store *st);
/* When another process holds the lock (an apply still running): its run tag
 * ("" when its lock file names none), caller frees; NULL when nobody else
 * holds it. */
char *cs_store_running(const struct cs_store *st);

/* The certificate currently in force for a config certificate.
 *
 * When its files are the ones certsync saved (each hashes to the SHA-256 in
 * meta.json) and meta.json describes the certificate (store_facts.h), the
 * load parses nothing: key, cert and chain stay NULL until one of the
 * accessors below asks, and info comes from meta.json.  A set written by an
 * older certsync, or changed since, is parsed as it is read. */
struct cs_stored {
	EVP_PKEY *key;           /* NULL until parsed: use cs_stored_key() */
	X509 *cert;              /* NULL until parsed: use cs_stored_cert() */
	STACK_OF(X509) *chain;   /* NULL until parsed: use cs_stored_chain() (may be empty) */
	char *issuer;            /* name of the config issuer that produced it */
	char *requested_cn;      /* the common name certsync asked for, or NULL (stores
				    from before it was recorded): a CA may write
				    another CN, or none, into the certificate */
	int64_t issued_at;
	/* The files' bytes, each only when it is what certsync wrote (its
	 * SHA-256 in meta.json matches), else empty (data NULL): the same
	 * bytes cs_key_to_pem() etc. give for key, cert and chain. */
	struct cs_buf key_pem, cert_pem, chain_pem;
	bool have_info;          /* info is the leaf's, from meta.json (else: cs_cert_info_get) */
	struct cs_cert_info info;
	/* SHA-256 of the public key that verified the leaf's signature when it
	 * was saved (the first chain certificate's), or NULL: see store_facts.h */
	char *signed_by;
	bool key_matches;        /* the key belongs to the certificate */
	/* meta.json names the certificate in cert.pem (by its bytes' SHA-256
	 * or its serial): the save that wrote it finished.  False after a save
	 * cut short (cert.pem written, meta.json missing or still the previous
	 * certificate's); true for a meta.json from before either was
	 * recorded. */
	bool complete;
	/* Not read at all: key.pem, cert.pem and chain.pem are what certsync
	 * saved (none changed since meta.json was written, whose SHA-256 of
	 * each is below), so key_pem, cert_pem and chain_pem stay empty until
	 * cs_stored_texts() (or an accessor above) reads them from dir and
	 * checks each against its SHA-256. */
	bool unread;
	char key_sha256[65], cert_sha256[65], chain_sha256[65];
	char *dir;               /* the set's folder, while unread */
};
int cs_store_load(struct cs_stored *out, struct cs_store *st, const char *name, struct cs_err *err); /* -ENOENT */
/* Make key/cert/chain current; the previous ones move to archive/SERIAL/.
 * Written atomically file by file, key first. */
int cs_store_save(struct cs_store *st, const char *name, EVP_PKEY *key, X509 *cert,
		  STACK_OF(X509) *chain, const char *issuer, const char *requested_cn, struct cs_err *err);
void cs_stored_free(struct cs_stored *s); /* members only; accepts NULL */
/* The parsed key, leaf and chain of a loaded set, parsed from the kept bytes
 * on first use (thread-safe; the set keeps them).  NULL with err when they
 * do not parse. */
EVP_PKEY *cs_stored_key(const struct cs_stored *s, struct cs_err *err);
X509 *cs_stored_cert(const struct cs_stored *s, struct cs_err *err);
STACK_OF(X509) *cs_stored_chain(const struct cs_stored *s, struct cs_err *err);
/* The texts of a set loaded unread: key_pem, cert_pem and chain_pem read
 * now (thread-safe; the set keeps them), each refused when it no longer
 * hashes to meta.json's SHA-256 (changed since it was loaded).  0 at once
 * for a set whose texts are at hand. */
int cs_stored_texts(const struct cs_stored *s, struct cs_err *err);

/* Many certificates at once (an apply's renewals).  cs_store_save_many()
 * saves each item as cs_store_save() does, cs_store_save_issuing_many()
 * records each as cs_store_save_issuing() does and
 * cs_store_issued_append_many() appends each to its ledger: the same files
 * changed in the same order, but each step (archive, key.pem, cert.pem,
 * chain.pem, meta.json) made durable for all items at once (cs_wgroup,
 * util.h) instead of file by file.  An item whose r is negative on entry
 * is left out; on return r is its outcome and err its error. */
struct cs_store_item {
	const char *name;
	EVP_PKEY *key;
	X509 *cert;              /* save */
	STACK_OF(X509) *chain;   /* save */
	X509_REQ *csr;           /* issuing */
	const char *issuer;
	const char *requested_cn; /* save */
	const char *serial;      /* issuing, ledger */
	int64_t issue_time;      /* issuing */
	bool keep_pem;           /* save, issuing: hand back the bytes written, in key_pem etc. */
	/* save: a key_pem holding data on entry is the key's encoding (what
	 * cs_key_to_pem() gives: the issuing record's) and is written as it is */
	struct cs_buf key_pem, cert_pem, chain_pem;
	int r;
	struct cs_err err;
};
void cs_store_save_many(struct cs_store *st, struct cs_store_item *items, size_t n);

/* A request waiting for a CA (manual issuer). */
struct cs_pending {
	EVP_PKEY *key;
	X509_REQ *csr;
	char *issuer;
	int64_t created_at;
};
int cs_store_load_pending(struct cs_pending *out, struct cs_store *st, const char *name, struct cs_err *err); /* -ENOENT */
int cs_store_save_pending(struct cs_store *st, const char *name, EVP_PKEY *key, X509_REQ *csr,
			  const char *issuer, struct cs_err *err);
/* Forget the pending request (after its certificate was saved).  The key is
 * not lost: cs_store_save() already holds it. */
int cs_store_drop_pending(struct cs_store *st, const char *name, struct cs_err *err);
void cs_pending_free(struct cs_pending *p);

/* An issuance in progress: the key, the request and the certificate's
 * identity (serial, the time validity counts from), fsync'd before the CA
 * is asked, so that a run killed before the signed certificate is saved
 * signs the same certificate again instead of a second one.  Dropped once
 * the certificate is saved.  Kept in record files of up to 64 issuances,
 * STATE/issuing/NAME.json, written whole (store_issuing.h); a folder
 * certs/NAME/issuing/ left by an earlier version is read and dropped too.
 * cs_store_drop_issuing_many() drops many at once: each record file is
 * written once for all of them (dropping one by one writes it again each
 * time). */
struct cs_issuing {
	struct cs_pending req;   /* key, csr, issuer, created_at */
	char *serial;            /* hex */
	int64_t issue_time;
};
int cs_store_save_issuing(struct cs_store *st, const char *name, EVP_PKEY *key, X509_REQ *csr,
			  const char *issuer, const char *serial, int64_t issue_time, struct cs_err *err);
void cs_store_save_issuing_many(struct cs_store *st, struct cs_store_item *items, size_t n);
int cs_store_load_issuing(struct cs_issuing *out, struct cs_store *st, const char *name,
			  struct cs_err *err); /* -ENOENT */
int cs_store_drop_issuing(struct cs_store *st, const char *name, struct cs_err *err);
int cs_store_drop_issuing_many(struct cs_store *st, const char *const *names, size_t n, struct cs_err *err);
void cs_issuing_free(struct cs_issuing *i); /* members only; accepts NULL */

/* The ledger certs/NAME/issued.jsonl: one {"time", "serial", "issuer"} line
 * (fsync'd) per certificate a CA returned for NAME, written before it is
 * saved or used.  The same serial twice is one certificate signed twice. */
int cs_store_issued_append(struct cs_store *st, const char *name, const char *serial, const char *issuer,
			   struct cs_err *err);
void cs_store_issued_append_many(struct cs_store *st, struct cs_store_item *items, size_t n);

/* Names from the config become folder names in the state folder: refuse
 * anything that could step outside it.  what: "certificate", "host". */
int cs_store_check_name(const char *what, const char *name, struct cs_err *err);

/* Append one record (an object; "time" is added) to journal.jsonl and fsync. */
int cs_store_journal(struct cs_store *st, json_t *record, struct cs_err *err);
/* Group the journal's fsyncs (an apply's many records): from
 * cs_store_journal_group(st, true) on, each record is still written at once
 * (a killed process loses none) but made durable by the next
 * cs_store_journal_sync() or cs_store_journal_group(st, false) instead of
 * one fsync per line.  Recovery does not read the journal: a power loss
 * between syncs loses the newest lines, never state. */
void cs_store_journal_group(struct cs_store *st, bool on);
int cs_store_journal_sync(struct cs_store *st, struct cs_err *err);

#endif
