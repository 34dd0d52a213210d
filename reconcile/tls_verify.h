/* Live endpoint check: connect to a TLS service (optionally after STARTTLS
 * for SMTP, IMAP or POP3), and report what it presents. */
#ifndef CS_TLS_VERIFY_H
#define CS_TLS_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "reconcile/config.h"
#include "providers/base/err.h"

/* What the endpoint presented. */
struct cs_tls_seen {
	char sha256[65];        /* uppercase hex fingerprint of the leaf's DER */
	char *subject;          /* leaf subject, one line */
	char *serial;           /* uppercase hex */
	bool chain_checked;     /* a ca_bundle was given */
	bool chain_ok;          /* ... and the chain verified against it (name checked too) */
	char *chain_error;      /* X509_verify_cert_error_string when !chain_ok, or NULL */
	STACK_OF(X509) *served; /* what the server sent, leaf first (owned; certsync discover) */
};
void cs_tls_seen_free(struct cs_tls_seen *s); /* members only; accepts NULL */

/* One attempt: TCP connect to connect ("host:port", "[v6]:port"), STARTTLS if
 * asked, TLS handshake with SNI servername, read the leaf.  timeout_ms bounds
 * the whole attempt.  Errors name the endpoint and the step ("connect
 * 127.0.0.1:8443: Connection refused", "imap STARTTLS at 127.0.0.1:143:
 * server said: ...").  A chain that fails to verify is NOT an error of this
 * call: it is reported in out. */
int cs_tls_probe(struct cs_tls_seen *out, const char *connect, const char *servername,
		 enum cs_starttls starttls, const char *ca_bundle, int timeout_ms,
		 struct cs_err *err);

/* Probe until the leaf's SHA-256 equals want_sha256 (and the chain verifies
 * when a ca_bundle is given), retrying with backoff (0.25 s doubling to 2 s)
 * until timeout_s.  0 when it matched; -ETIMEDOUT with a message describing
 * the last thing seen (subject, serial, fingerprint, chain error, or the last
 * connection error) otherwise.  *out holds the last thing seen. */
int cs_tls_wait_for(struct cs_tls_seen *out, const char *connect, const char *servername,
		    enum cs_starttls starttls, const char *ca_bundle, int64_t timeout_s,
		    const char *want_sha256, struct cs_err *err);

#endif
