/* Per-host records in the state folder (an addition to store.h):
 *
 *   STATE/hosts/NAME/             0700
 *     reboot-owed.json            {"boot", "since", "why"[, "run"]}: changes
 *                                 went through on host NAME but the reboot
 *                                 that `reboot: after-change` asks for did
 *                                 not happen (skipped because another change
 *                                 failed, or it never came back).  With
 *                                 "run", apply TAG wrote it (fsync'd) just
 *                                 before asking for the reboot: if TAG is
 *                                 killed while the host restarts, the next
 *                                 run sees the new boot time and knows the
 *                                 reboot TAG's changes waited for happened.
 *     unconfirmed.json            {KEY: {"since", "why"[, "run"]}}: bindings
 *                                 an apply changed but could neither confirm
 *                                 (reload, verify) nor put back: the next
 *                                 plan binds, reloads and verifies them again
 *                                 even though their files look right.  With
 *                                 "run" the entry is an intent: apply TAG
 *                                 wrote it (fsync'd) before changing the
 *                                 binding and removes it once the binding is
 *                                 reloaded and verified or put back; left
 *                                 behind, that apply did not finish (unless
 *                                 it still holds the lock).
 *     scripts.json                {KEY: {"thumbprint", "at"}}: the
 *                                 certificate each `script` binding last
 *                                 ran for successfully (what a script
 *                                 configures cannot be read back).
 *
 * A record only says "this host owes a reboot since it last booted at
 * `boot`"; once the host reports another boot time, the debt is paid,
 * whoever rebooted it. */
#ifndef CS_STORE_HOSTS_H
#define CS_STORE_HOSTS_H

#include <stdint.h>
#include "reconcile/config.h"
#include "providers/base/err.h"
#include "reconcile/store.h"

struct cs_owed_reboot {
	char *boot;      /* the host's boot time when the changes were made, as its driver reports it */
	int64_t since;   /* when the record was written */
	char *why;       /* which changes wait for the reboot and why it did not happen */
	char *run;       /* the apply that asked for the reboot after writing this, or NULL */
};
void cs_owed_reboot_free(struct cs_owed_reboot *r); /* members only; accepts NULL */

int cs_store_reboot_owed_load(struct cs_owed_reboot *out, struct cs_store *st, const char *host,
			      struct cs_err *err); /* -ENOENT */
/* Keep an existing record's boot and since (the first unpaid change counts);
 * replace its why and run. */
int cs_store_reboot_owed_save(struct cs_store *st, const char *host, const struct cs_owed_reboot *r,
			      struct cs_err *err);
int cs_store_reboot_owed_drop(struct cs_store *st, const char *host, struct cs_err *err);

/* The record key of a binding of certificate cert (what it is and where). */
char *cs_binding_key(const char *cert, const struct cs_binding_cfg *b);
/* *why (caller frees) and *since when the binding is unconfirmed; -ENOENT
 * when it is not. */
int cs_store_unconfirmed_load(char **why, int64_t *since, struct cs_store *st, const char *host, const char *key,
			      struct cs_err *err);
int cs_store_unconfirmed_save(struct cs_store *st, const char *host, const char *key, const char *why,
			      struct cs_err *err);
/* The intent of apply run (its tag) to change the binding: an entry with
 * why "files changed by an apply that did not finish" that the next plan
 * reads as owed reload/verify when run is no longer running. */
int cs_store_intent_save(struct cs_store *st, const char *host, const char *key, const char *run,
			 struct cs_err *err);
/* The run tag of the entry (caller frees); NULL when there is no entry or it
 * is not an intent. */
char *cs_store_unconfirmed_run(struct cs_store *st, const char *host, const char *key);
/* The intents of run for the bindings keys[0..n) of one host, in one
 * write: what cs_store_intent_save() records for each, made durable once.
 * An apply records every binding of a host it is about to change this way
 * before changing the first, instead of one write per binding. */
int cs_store_intents_save(struct cs_store *st, const char *host, char *const *keys, size_t n, const char *run,
			  struct cs_err *err);
/* Drop those of keys[0..n) that are intents (have a run), in one write;
 * plain unconfirmed entries stay.  No record is not an error. */
int cs_store_intents_close(struct cs_store *st, const char *host, char *const *keys, size_t n, struct cs_err *err);
/* The same for many bindings of one host with one read: *all is the host's
 * record (NULL when it has none; caller json_decref()s), then
 * cs_store_unconfirmed_get() answers as cs_store_unconfirmed_load() (why,
 * since; -ENOENT) and cs_store_unconfirmed_run() (*run, NULL when none)
 * do, for one key. */
int cs_store_unconfirmed_read(json_t **all, struct cs_store *st, const char *host, struct cs_err *err);
int cs_store_unconfirmed_get(char **why, int64_t *since, char **run, json_t *all, const char *key);
/* Forget it (the binding was applied again); no record is not an error. */
int cs_store_unconfirmed_drop(struct cs_store *st, const char *host, const char *key, struct cs_err *err);

/* For a binding whose kind gives a ran_key (script): under that key, the
 * thumbprint (SHA-1, upper-case hex) the script last succeeded for and
 * when; -ENOENT when it never did (as far as this state folder knows). */
int cs_store_script_ran_load(char **thumbprint, int64_t *at, struct cs_store *st, const char *host,
			     const char *key, struct cs_err *err);
int cs_store_script_ran_save(struct cs_store *st, const char *host, const char *key,
			     const char *thumbprint, int64_t at, struct cs_err *err);

#endif
