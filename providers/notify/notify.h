/* Notifiers: how certsync tells people that something needs them (the
 * top-level `notify:` list of the config).
 *
 *   webhook  a JSON POST (libcurl) signed with HMAC-SHA256 over the body,
 *            the key a secret reference: X-Certsync-Signature: sha256=HEX;
 *            retried with exponential backoff on connection errors,
 *            timeouts, 408, 429 and 5xx
 *   command  a local program run with the event's JSON on stdin
 *
 * Each entry names the events it wants (`on:`).  Sending never prints and
 * never fails anything but itself: a delivery that did not succeed is an
 * error for the caller to show as a warning.  Messages name the notifier
 * (its index, and the webhook's host, not its URL, which may carry a
 * token), never the secret. */
#ifndef CS_NOTIFY_H
#define CS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "providers/base/err.h"
#include "providers/base/secret.h"
#include "providers/base/yaml_value.h"

enum cs_notify_event {
	CS_NOTIFY_FAILED = 1,           /* apply: an action failed, or a part could not be planned */
	CS_NOTIFY_ROLLED_BACK = 2,      /* apply put a binding's previous state back */
	CS_NOTIFY_REBOOT_OWED = 4,      /* a host owes a reboot for a change */
	CS_NOTIFY_RENEWAL_FAILING = 8,  /* inside its renewal window, the renewal failed again */
	CS_NOTIFY_EXPIRING = 16,        /* the current certificate expires within expiring_within */
};
#define CS_NOTIFY_N_EVENTS 5

/* "failed", "rolled_back", ... for the bit ev; NULL for anything else. */
const char *cs_notify_event_name(unsigned ev);

enum cs_notifier_kind { CS_NOTIFIER_WEBHOOK = 1, CS_NOTIFIER_COMMAND };

struct cs_notify_cfg {
	struct cs_pos pos;
	enum cs_notifier_kind kind;
	unsigned on;                 /* CS_NOTIFY_* bits, at least one */
	int64_t expiring_within;     /* seconds; default 14d */
	/* webhook */
	char *url;                   /* http:// or https:// */
	struct cs_secret secret;     /* HMAC key */
	char *ca_bundle;             /* local path or NULL: trust for https */
	int64_t timeout;             /* seconds per attempt; default 10 (command: whole run, default 60) */
	int retries;                 /* attempts after the first; default 3 */
	/* command */
	char *path;                  /* absolute local path */
	char **args; size_t n_args;
};

/* Parse the top-level `notify:` value v (a list) into *out (n entries). */
void cs_notify_cfg_parse(struct cs_yaml *y, const struct cs_ynode *v, struct cs_notify_cfg **out, size_t *n);
void cs_notify_cfg_free(struct cs_notify_cfg *v, size_t n); /* accepts NULL */

/* "notify 2 (webhook to hooks.example)", "notify 1 (command page.sh)":
 * safe to print.  Caller frees. */
char *cs_notify_describe(const struct cs_notify_cfg *n, size_t index);

/* Deliver body (JSON) for event name through n; dir: the working folder of
 * a command (the config's folder).  0 once delivered; negative with the
 * last attempt's error.  *attempts: how many were made. */
int cs_notify_send(const struct cs_notify_cfg *n, const char *event, const char *body, size_t len,
		   const char *dir, int *attempts, struct cs_err *err);

/* HMAC-SHA256 of body under key as lower-case hex (65 bytes with the NUL). */
void cs_notify_signature(char out[65], const void *key, size_t key_len, const void *body, size_t len);

#endif
