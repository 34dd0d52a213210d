/* What a binding kind found already in use on a host (certsync discover):
 * the certificate, its key when it could be read, and the binding that
 * would declare it, as rows of the kind's YAML body.  reconcile/discover.c
 * groups what every kind found into lineages and writes the config. */
#ifndef CS_DISCOVER_FOUND_H
#define CS_DISCOVER_FOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define CS_FOUND_MAX_ROWS 12
#define CS_FOUND_MAX_PORTS 8

/* One binding's body: KIND: { key: value, ... }, values written quoted. */
struct cs_found_binding {
	const char *kind;             /* the kind's name (static) */
	char *keys[CS_FOUND_MAX_ROWS];
	char *values[CS_FOUND_MAX_ROWS];
	bool plain[CS_FOUND_MAX_ROWS];  /* written as is (a number, true, a [list]) */
	size_t n;
};

/* A port a service serves the certificate on, for a proposed verify entry. */
struct cs_found_port {
	int port;
	const char *starttls;         /* "smtp", "imap", "pop3" or NULL (static) */
};

struct cs_found {
	char *service;                /* "nginx", for the comment */
	char *source;                 /* the config file that names it */
	struct cs_found_binding *bindings;
	size_t n_bindings;
	char *reload;                 /* command after a change, or NULL */
	X509 *cert;                   /* the leaf (owned) */
	STACK_OF(X509) *chain;        /* the certificates after it (owned, may be empty) */
	EVP_PKEY *key;                /* NULL when it could not be read: key_problem says why */
	char *key_problem;
	struct cs_found_port ports[CS_FOUND_MAX_PORTS];
	size_t n_ports;
};

struct cs_found_list {
	struct cs_found *v;
	size_t n;
	char **problems;              /* what could not be read, for warnings */
	size_t n_problems;
};

/* A new zeroed entry at the end of l. */
struct cs_found *cs_found_add(struct cs_found_list *l);
/* A new binding of f with kind; rows go in with cs_found_row. */
struct cs_found_binding *cs_found_binding_add(struct cs_found *f, const char *kind);
void cs_found_row(struct cs_found_binding *b, const char *key, const char *value);
/* A row whose value is YAML already: a port, true, [POP, IMAP]. */
void cs_found_row_plain(struct cs_found_binding *b, const char *key, const char *value);
void cs_found_problem(struct cs_found_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cs_found_free(struct cs_found *f);           /* members only */
void cs_found_list_free(struct cs_found_list *l); /* members only */

/* What a kind's discover slot gets. */
struct cs_discover_opts {
	const char *root;             /* look for service configs under this folder, "" for / */
	const char *host;             /* the host's name, for messages */
};

#endif
