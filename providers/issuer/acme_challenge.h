/* Answering ACME challenges (RFC 8555 §8.3, §8.4): http-01 from a tiny
 * HTTP server of our own (standalone) or from files under a web server's
 * root on any host (webroot, through the host's transport), and dns-01
 * through an operator's hook command.  Internal to the acme issuer. */
#ifndef CS_ACME_CHALLENGE_H
#define CS_ACME_CHALLENGE_H

#include <stdbool.h>
#include "providers/base/err.h"
#include "providers/transport/transport.h"

/* Is token safe to use as a file name and URL path segment?  ACME tokens
 * are base64url (RFC 8555 §8.1); anything else is refused rather than
 * written anywhere. */
bool cs_acme_token_ok(const char *token);

/* ---- http-01 standalone ---- */
struct cs_acme_responder;

/* Listen on addr ("0.0.0.0:80", "127.0.0.1:5002", "[::]:80", ":80") and
 * answer GET /.well-known/acme-challenge/TOKEN from a thread until stopped. */
int cs_acme_responder_start(struct cs_acme_responder **out, const char *addr, struct cs_err *err);
void cs_acme_responder_add(struct cs_acme_responder *s, const char *token, const char *key_auth);
void cs_acme_responder_stop(struct cs_acme_responder *s); /* joins the thread; accepts NULL */

/* ---- http-01 webroot ---- */
/* Write WEBROOT/.well-known/acme-challenge/TOKEN (0644), creating the two
 * folders on Linux hosts. */
int cs_acme_webroot_put(struct cs_transport *t, const char *webroot, const char *token,
			const char *key_auth, struct cs_err *err);
/* The command that makes the challenge folder dir (and its parents) on a
 * Linux host; the caller frees it. */
char *cs_acme_webroot_mkdir_command(const char *dir);
int cs_acme_webroot_remove(struct cs_transport *t, const char *webroot, const char *token,
			   struct cs_err *err);

/* ---- dns-01 ---- */
/* Run `HOOK ACTION NAME VALUE` (ACTION present or cleanup) with
 * CERTSYNC_DNS_ACTION, CERTSYNC_DNS_NAME and CERTSYNC_DNS_VALUE in its
 * environment, in folder cwd (NULL: ours).  A non-zero exit is an error that
 * quotes the end of the hook's output. */
int cs_acme_dns_hook(const char *hook, const char *action, const char *name, const char *value,
		     const char *cwd, struct cs_err *err);

#endif
