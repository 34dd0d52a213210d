/* certsync discover (see discover.h).
 *
 * Every kind with a discover slot is asked, per host of its platforms,
 * what the host already uses (providers/platform/discover.h); endpoints
 * are read with a TLS handshake.  What was found is grouped into lineages:
 * the same leaf, or the same public key and names (a host still serving
 * the older certificate of the same lineage), is one certificate of the
 * config, its newest leaf the current one.  Issuers: a config issuer that
 * says it issued the leaf (the local CA: the signature), else a manual
 * issuer proposed per issuing CA. */
#include "reconcile/discover.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "providers/base/util.h"
#include "providers/base/x509.h"
#include "providers/issuer/issuer.h"
#include "providers/platform/binding_kind.h"
#include "providers/platform/discover.h"
#include "providers/transport/transport.h"
#include "reconcile/tls_verify.h"

#define ENDPOINT_TIMEOUT_MS 10000

/* One place the certificate is bound or served. */
struct place {
	size_t host;                  /* index into cfg->hosts, or (size_t)-1: an endpoint */
	struct cs_found *found;       /* borrowed from the per-host lists */
	const char *endpoint;         /* endpoints: as given */
	enum cs_starttls starttls;
	X509 *cert;                   /* borrowed */
	STACK_OF(X509) *chain;        /* borrowed */
	struct cs_cert_info info;
};

struct lineage {
	char *name;
	struct place **places;
	size_t n_places;
	struct place *newest;         /* the leaf that becomes current */
	EVP_PKEY *key;                /* borrowed: a key that matches newest's leaf */
	STACK_OF(X509) *chain;        /* borrowed */
	const char *key_problem;
	char *issuer;                 /* config or proposed issuer name */
	bool issuer_proposed;
	char spki[65];
};

struct proposed_issuer {
	char *name;
	char *ca;                     /* the issuing CA's subject */
};

struct run {
	const struct cs_discover_req *rq;
	struct cs_discover_result *out;
	struct cs_found_list *found;  /* per host */
	struct place *places;
	size_t n_places;
	struct lineage *lin;
	size_t n_lin;
	struct proposed_issuer *iss;
	size_t n_iss;
	STACK_OF(X509) **served;      /* what each endpoint sent (owned) */
	size_t n_served;
};

static void warn(struct cs_discover_result *out, const char *fmt, ...) CS_PRINTF(2, 3);
static void warn(struct cs_discover_result *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = cs_xvasprintf(fmt, ap);
	va_end(ap);
	out->warnings = cs_xrealloc(out->warnings, (out->n_warnings + 1) * sizeof *out->warnings);
	out->warnings[out->n_warnings++] = s;
}

static bool wanted_host(const struct cs_discover_req *rq, const char *name)
{
	if (!rq->n_hosts)
		return true;
	for (size_t i = 0; i < rq->n_hosts; i++)
		if (!strcmp(rq->hosts[i], name))
			return true;
	return false;
}

static void discover_host(struct run *R, size_t h)
{
	const struct cs_config *cfg = R->rq->cfg;
	const struct cs_host_cfg *host = &cfg->hosts[h];
	struct cs_found_list *l = &R->found[h];
	struct cs_err err = CS_ERR_INIT;
	struct cs_transport *t = NULL;
	bool any = false;
	for (const struct cs_binding_kind *const *k = cs_binding_kind_table(); *k; k++)
		any |= (*k)->discover && ((*k)->platforms & CS_KIND_ON(host->platform));
	if (!any) {
		warn(R->out, "host %s: %s hosts are not discovered yet: declare its certificates by hand", host->name,
		     cs_platform_name(host->platform));
		return;
	}
	if (cs_transport_open(&t, host, &err) < 0) {
		warn(R->out, "host %s: %s (nothing discovered there)", host->name, cs_err_msg(&err));
		cs_err_clear(&err);
		return;
	}
	/* {host} in the root is the host's name: one staged copy per host. */
	struct cs_buf root = CS_BUF_INIT;
	for (const char *p = R->rq->root ? R->rq->root : ""; *p;) {
		if (!strncmp(p, "{host}", 6)) {
			cs_buf_puts(&root, host->name);
			p += 6;
		} else {
			cs_buf_append(&root, p++, 1);
		}
	}
	cs_buf_append(&root, "", 1);
	struct cs_discover_opts o = { .root = root.data, .host = host->name };
	for (const struct cs_binding_kind *const *k = cs_binding_kind_table(); *k; k++) {
		if (!(*k)->discover || !((*k)->platforms & CS_KIND_ON(host->platform)))
			continue;
		if ((*k)->discover(t, &o, l, &err) < 0) {
			/* A message that names the host names its step too. */
			char *lead = cs_xasprintf("host %s: ", host->name);
			const char *m = cs_err_msg(&err);
			if (!strncmp(m, lead, strlen(lead)))
				warn(R->out, "%s (nothing discovered there)", m);
			else
				warn(R->out, "host %s: %s bindings: %s", host->name, (*k)->name, m);
			free(lead);
			cs_err_clear(&err);
			break;
		}
	}
	for (size_t i = 0; i < l->n_problems; i++)
		warn(R->out, "host %s: %s", host->name, l->problems[i]);
	cs_buf_free(&root);
	cs_transport_close(t);
}

static void spki_hex(char out[65], X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	out[0] = 0;
	if (X509_pubkey_digest(cert, EVP_sha256(), md, &n) == 1)
		for (unsigned i = 0; i < n && i < 32; i++)
			snprintf(out + 2 * i, 3, "%02X", md[i]);
}

static bool same_names(const struct cs_cert_info *a, const struct cs_cert_info *b)
{
	if (a->n_dns_names != b->n_dns_names || !cs_streq(a->common_name, b->common_name))
		return false;
	for (size_t i = 0; i < a->n_dns_names; i++)
		if (strcmp(a->dns_names[i], b->dns_names[i]))
			return false;
	return true;
}

static void add_place(struct run *R, size_t host, struct cs_found *f, X509 *cert, STACK_OF(X509) *chain,
		      const char *endpoint, enum cs_starttls st)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_cert_info info = { 0 };
	if (cs_cert_info_get(&info, cert, &err) < 0) {
		warn(R->out, "%s: %s", endpoint ? endpoint : R->rq->cfg->hosts[host].name, cs_err_msg(&err));
		cs_err_clear(&err);
		return;
	}
	R->places = cs_xrealloc(R->places, (R->n_places + 1) * sizeof *R->places);
	R->places[R->n_places++] = (struct place){ host, f, endpoint, st, cert, chain, info };
}

/* A lineage name from the certificate's names, unique in the config. */
static char *lineage_name(struct run *R, const struct cs_cert_info *info)
{
	const char *base = info->common_name ? info->common_name
			   : info->n_dns_names ? info->dns_names[0] : "certificate";
	char *s = cs_xstrdup(base);
	if (!strncmp(s, "*.", 2)) {
		char *w = cs_xasprintf("wildcard%s", s + 1);
		free(s);
		s = w;
	}
	for (char *p = s; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			*p = '-';
	}
	if (!isalnum((unsigned char)s[0])) {
		char *w = cs_xasprintf("cert%s", s);
		free(s);
		s = w;
	}
	char *name = cs_xstrdup(s);
	for (int n = 2;; n++) {
		bool taken = cs_config_cert(R->rq->cfg, name) != NULL;
		for (size_t i = 0; i < R->n_lin && !taken; i++)
			taken = !strcmp(R->lin[i].name, name);
		if (!taken)
			break;
		free(name);
		name = cs_xasprintf("%s-%d", s, n);
	}
	free(s);
	return name;
}

static void group(struct run *R)
{
	for (size_t i = 0; i < R->n_places; i++) {
		struct place *p = &R->places[i];
		char spki[65];
		spki_hex(spki, p->cert);
		struct lineage *l = NULL;
		for (size_t k = 0; k < R->n_lin && !l; k++) {
			struct lineage *c = &R->lin[k];
			if (!strcmp(c->newest->info.sha256, p->info.sha256) ||
			    (!strcmp(c->spki, spki) && same_names(&c->newest->info, &p->info)))
				l = c;
		}
		if (!l) {
			R->lin = cs_xrealloc(R->lin, (R->n_lin + 1) * sizeof *R->lin);
			l = &R->lin[R->n_lin];
			memset(l, 0, sizeof *l);
			l->newest = p;
			memcpy(l->spki, spki, sizeof spki);
			l->name = lineage_name(R, &p->info);
			R->n_lin++;
		}
		l->places = cs_xrealloc(l->places, (l->n_places + 1) * sizeof *l->places);
		l->places[l->n_places++] = p;
		if (p->info.not_after > l->newest->info.not_after)
			l->newest = p;
	}
}

/* "smtp://mail:25" → mail:25 with STARTTLS smtp; "mail:587" → smtp too
 * by its port (25, 587: smtp; 143: imap; 110: pop3). */
static int parse_endpoint(const char *arg, char **connect, enum cs_starttls *st, struct cs_err *err)
{
	static const struct {
		const char *scheme;
		enum cs_starttls st;
	} schemes[] = { { "smtp://", CS_STARTTLS_SMTP }, { "imap://", CS_STARTTLS_IMAP },
			{ "pop3://", CS_STARTTLS_POP3 }, { "tls://", CS_STARTTLS_NONE } };
	const char *rest = arg;
	bool scheme = false;
	*st = CS_STARTTLS_NONE;
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (!strncmp(arg, schemes[i].scheme, strlen(schemes[i].scheme))) {
			rest = arg + strlen(schemes[i].scheme);
			*st = schemes[i].st;
			scheme = true;
		}
	const char *colon = strrchr(rest, ':');
	long port = colon && colon[1] && strlen(colon + 1) <= 5 && cs_only_digits(colon + 1) ? strtol(colon + 1, NULL, 10) : 0;
	if (!colon || colon == rest || port < 1 || port > 65535 || strpbrk(rest, "/ \t"))
		return cs_err_set(err, -EINVAL,
				  "--endpoint %s: expected HOST:PORT, optionally smtp://, imap://, pop3:// or tls:// before it",
				  arg);
	if (!scheme)
		*st = port == 25 || port == 587 ? CS_STARTTLS_SMTP
		      : port == 143	      ? CS_STARTTLS_IMAP
		      : port == 110	      ? CS_STARTTLS_POP3
					      : CS_STARTTLS_NONE;
	*connect = cs_xstrdup(rest);
	return 0;
}

static const char *starttls_name(enum cs_starttls st)
{
	return st == CS_STARTTLS_SMTP ? "smtp" : st == CS_STARTTLS_IMAP ? "imap" : st == CS_STARTTLS_POP3 ? "pop3" : NULL;
}

static enum cs_starttls starttls_of(const char *s)
{
	return !s ? CS_STARTTLS_NONE
	       : !strcmp(s, "smtp") ? CS_STARTTLS_SMTP
	       : !strcmp(s, "imap") ? CS_STARTTLS_IMAP
	       : !strcmp(s, "pop3") ? CS_STARTTLS_POP3
				    : CS_STARTTLS_NONE;
}

static int read_endpoints(struct run *R, char **connects, enum cs_starttls *sts, struct cs_err *err)
{
	const struct cs_discover_req *rq = R->rq;
	for (size_t i = 0; i < rq->n_endpoints; i++)
		if (parse_endpoint(rq->endpoints[i], &connects[i], &sts[i], err) < 0)
			return -EINVAL;
	R->served = cs_xcalloc(2 * rq->n_endpoints + 1, sizeof *R->served);
	for (size_t i = 0; i < rq->n_endpoints; i++) {
		struct cs_tls_seen seen = { 0 };
		struct cs_err e = CS_ERR_INIT;
		/* The host part as the server name: a name-based server picks
		 * its certificate by it. */
		char *host = cs_xstrdup(connects[i]);
		*strrchr(host, ':') = 0;
		if (host[0] == '[') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = 0;
		}
		if (cs_tls_probe(&seen, connects[i], host, sts[i], NULL, ENDPOINT_TIMEOUT_MS, &e) < 0) {
			warn(R->out, "endpoint %s: %s", rq->endpoints[i], cs_err_msg(&e));
			cs_err_clear(&e);
		} else if (seen.served && sk_X509_num(seen.served) > 0) {
			STACK_OF(X509) *chain = seen.served;
			seen.served = NULL;
			R->served[R->n_served++] = chain;
			X509 *leaf = sk_X509_shift(chain);
			/* kept: the chain's owner frees the leaf pushed back last */
			sk_X509_push(chain, leaf);
			STACK_OF(X509) *rest = sk_X509_new_null();
			for (int k = 0; k + 1 < sk_X509_num(chain); k++)
				sk_X509_push(rest, sk_X509_value(chain, k));
			R->served[R->n_served++] = rest;
			add_place(R, (size_t)-1, NULL, leaf, rest, rq->endpoints[i], sts[i]);
			R->places[R->n_places - 1].endpoint = connects[i];
		}
		free(host);
		cs_tls_seen_free(&seen);
	}
	return 0;
}

/* Which issuer: one of the config that says it issued the leaf, else a
 * manual one proposed per issuing CA. */
static void choose_issuer(struct run *R, struct lineage *l)
{
	const struct cs_config *cfg = R->rq->cfg;
	for (size_t i = 0; i < cfg->n_issuers; i++) {
		const struct cs_issuer_ops *ops = cs_issuer_ops_for(cfg->issuers[i].kind);
		if (ops && ops->issued_by && ops->issued_by(&cfg->issuers[i], l->newest->cert) == 1) {
			l->issuer = cs_xstrdup(cfg->issuers[i].name);
			return;
		}
	}
	const char *ca = l->newest->info.issuer ? l->newest->info.issuer : "";
	for (size_t i = 0; i < R->n_iss; i++)
		if (!strcmp(R->iss[i].ca, ca)) {
			l->issuer = cs_xstrdup(R->iss[i].name);
			l->issuer_proposed = true;
			return;
		}
	const char *cn = l->newest->info.issuer_cn ? l->newest->info.issuer_cn : "ca";
	char *base = cs_xasprintf("manual-%s", cn);
	for (char *p = base; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && *p != '-')
			*p = '-';
	}
	char *name = cs_xstrdup(base);
	for (int n = 2;; n++) {
		bool taken = cs_config_issuer(cfg, name) != NULL;
		for (size_t i = 0; i < R->n_iss && !taken; i++)
			taken = !strcmp(R->iss[i].name, name);
		if (!taken)
			break;
		free(name);
		name = cs_xasprintf("%s-%d", base, n);
	}
	free(base);
	R->iss = cs_xrealloc(R->iss, (R->n_iss + 1) * sizeof *R->iss);
	R->iss[R->n_iss++] = (struct proposed_issuer){ name, cs_xstrdup(ca) };
	l->issuer = cs_xstrdup(name);
	l->issuer_proposed = true;
}

/* The key of the newest leaf, from any place that has it. */
static void choose_key(struct lineage *l)
{
	l->chain = l->newest->chain;
	for (size_t i = 0; i < l->n_places; i++) {
		struct cs_found *f = l->places[i]->found;
		if (f && f->key && X509_check_private_key(l->newest->cert, f->key) == 1) {
			l->key = f->key;
			if (!sk_X509_num(l->chain) && f->chain)
				l->chain = f->chain;
			return;
		}
	}
	l->key_problem = "the key was not found";
	for (size_t i = 0; i < l->n_places; i++)
		if (l->places[i]->found && l->places[i]->found->key_problem)
			l->key_problem = l->places[i]->found->key_problem;
	for (size_t i = 0; i < l->n_places; i++)
		if (!l->places[i]->found)
			l->key_problem = l->n_places == 1 ? "seen only at an endpoint: its key is on a host not declared here"
							   : l->key_problem;
}

/* ---- the YAML ---------------------------------------------------------- */

/* A double-quoted YAML scalar. */
static void q(struct cs_buf *b, const char *s)
{
	cs_buf_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			cs_buf_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			cs_buf_printf(b, "\\x%02x", (unsigned char)*s);
		else
			cs_buf_append(b, s, 1);
	}
	cs_buf_puts(b, "\"");
}

/* Is line (at its start) the top-level key? */
static bool top_key(const char *line, const char *key)
{
	size_t n = strlen(key);
	return !strncmp(line, key, n) && line[n] == ':';
}

/* The config text without its schema line; where the issuers block
 * begins (after its key line), or NULL when it has none. */
static int split_config(const struct cs_discover_req *rq, struct cs_buf *head, size_t *issuers_at, bool *has_issuers,
			struct cs_err *err)
{
	const char *s = rq->config_text;
	const char *end = s + rq->config_len;
	*has_issuers = false;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
		if (!strncmp(s, "# yaml-language-server:", 23)) {
			s += len;
			continue;
		}
		if (top_key(s, "certificates"))
			return cs_err_set(err, -EINVAL,
					  "%s declares certificates already: discover writes them; start from a config "
					  "that lists the hosts (and issuers) only", rq->cfg->path);
		cs_buf_append(head, s, len);
		if (len && s[len - 1] != '\n')
			cs_buf_puts(head, "\n");
		if (top_key(s, "issuers")) {
			const char *v = s + 8;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v != '\n' && *v != '#' && *v != '\r')
				return cs_err_set(err, -EINVAL,
						  "%s: write issuers: as a block (one issuer a line below it) for discover to "
						  "add to it", rq->cfg->path);
			*issuers_at = head->len;
			*has_issuers = true;
		}
		s += len;
	}
	return 0;
}

static void put_binding(struct cs_buf *b, const struct cs_config *cfg, const struct place *p,
			const struct cs_found_binding *fb, const char *reload)
{
	cs_buf_printf(b, "      - { host: %s, %s: {%s", cfg->hosts[p->host].name, fb->kind, fb->n || reload ? " " : "");
	for (size_t k = 0; k < fb->n; k++) {
		cs_buf_printf(b, "%s%s: ", k ? ", " : "", fb->keys[k]);
		if (fb->plain[k])
			cs_buf_puts(b, fb->values[k]);
		else
			q(b, fb->values[k]);
	}
	if (reload) {
		cs_buf_printf(b, "%sreload: ", fb->n ? ", " : "");
		q(b, reload);
	}
	cs_buf_puts(b, fb->n || reload ? " } }\n" : "} }\n");
}

static bool same_rows(const struct cs_found_binding *a, const struct cs_found_binding *b)
{
	if (strcmp(a->kind, b->kind) || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->keys[i], b->keys[i]) || strcmp(a->values[i], b->values[i]) || a->plain[i] != b->plain[i])
			return false;
	return true;
}

static const char *host_address(const struct cs_host_cfg *h)
{
	if (h->transport == CS_TRANSPORT_SSH && h->ssh.address)
		return h->ssh.address;
	if (h->transport == CS_TRANSPORT_WINRM && h->winrm.address)
		return h->winrm.address;
	return "127.0.0.1";
}

static void put_lineage(struct cs_buf *b, struct run *R, struct lineage *l)
{
	const struct cs_config *cfg = R->rq->cfg;
	const struct cs_cert_info *in = &l->newest->info;
	char date[11];
	cs_time_date(date, in->not_after);
	cs_buf_printf(b, "\n  # %s, issued by %s, expires %s\n", in->subject ? in->subject : "(no subject)",
		      in->issuer ? in->issuer : "?", date);
	for (size_t i = 0; i < l->n_places; i++) {
		const struct place *p = l->places[i];
		if (p->found)
			cs_buf_printf(b, "  # %s on %s (%s)%s\n", p->found->service, cfg->hosts[p->host].name,
				      p->found->source,
				      strcmp(p->info.sha256, in->sha256) ? ": an older certificate of the same key" : "");
		else
			cs_buf_printf(b, "  # served at %s\n", p->endpoint);
	}
	if (!l->key)
		cs_buf_printf(b, "  # its key could not be read (%s): the first apply renews it\n", l->key_problem);
	else if (R->rq->adopt)
		cs_buf_puts(b, "  # adopted: the state holds this certificate and its key as current\n");
	cs_buf_printf(b, "  %s:\n", l->name);
	const char *cn = in->common_name;
	if (!cn && in->n_dns_names)
		cn = in->dns_names[0];
	if (cn) {
		cs_buf_puts(b, "    common_name: ");
		q(b, cn);
		cs_buf_puts(b, "\n");
	}
	if (in->n_dns_names) {
		cs_buf_puts(b, "    dns_names: [");
		for (size_t i = 0; i < in->n_dns_names; i++) {
			if (i)
				cs_buf_puts(b, ", ");
			q(b, in->dns_names[i]);
		}
		cs_buf_puts(b, "]\n");
	}
	if (in->key.type == CS_KEY_ECDSA)
		cs_buf_printf(b, "    key: { type: ecdsa, curve: %s }\n", in->key.curve == CS_CURVE_P384 ? "p384" : "p256");
	else if (in->key.type == CS_KEY_RSA)
		cs_buf_printf(b, "    key: { type: rsa, bits: %d }\n", in->key.bits);
	else
		cs_buf_puts(b, "    key: { type: rsa, bits: 2048 }   # its key type is not one certsync makes: renewed as rsa 2048\n");
	cs_buf_printf(b, "    issuer: %s%s\n", l->issuer,
		      l->issuer_proposed ? "   # proposed: the CA of this certificate has no issuer in the config" : "");
	cs_buf_puts(b, "    renew_before: 30d\n");

	/* Bindings: one per place and binding, the same files named by two
	 * services once (their reloads one after the other). */
	bool any = false;
	for (size_t i = 0; i < l->n_places; i++) {
		const struct place *p = l->places[i];
		if (!p->found)
			continue;
		for (size_t k = 0; k < p->found->n_bindings; k++) {
			const struct cs_found_binding *fb = &p->found->bindings[k];
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++) {
				const struct place *o = l->places[j];
				if (o->found && o->host == p->host)
					for (size_t m = 0; m < o->found->n_bindings; m++)
						seen |= same_rows(&o->found->bindings[m], fb);
			}
			if (seen)
				continue;
			struct cs_buf reload = CS_BUF_INIT;
			for (size_t j = i; j < l->n_places; j++) {
				const struct place *o = l->places[j];
				if (!o->found || o->host != p->host || !o->found->reload)
					continue;
				bool has = false;
				for (size_t m = 0; m < o->found->n_bindings; m++)
					has |= same_rows(&o->found->bindings[m], fb);
				if (has && !(reload.data && strstr(reload.data, o->found->reload)))
					cs_buf_printf(&reload, "%s%s", reload.len ? " && " : "", o->found->reload);
			}
			if (!any)
				cs_buf_puts(b, "    bindings:\n");
			any = true;
			put_binding(b, cfg, p, fb, reload.len ? reload.data : NULL);
			cs_buf_free(&reload);
		}
	}
	if (!any)
		cs_buf_puts(b, "    bindings: []\n");

	/* Verify what was seen served. */
	bool vhead = false;
	size_t verify_at = 0;
	for (size_t i = 0; i < l->n_places && any; i++) {
		const struct place *p = l->places[i];
		size_t n = p->found ? p->found->n_ports : 1;
		for (size_t k = 0; k < n; k++) {
			char *connect = p->found ? cs_xasprintf("%s:%d", host_address(&cfg->hosts[p->host]), p->found->ports[k].port)
						 : cs_xstrdup(p->endpoint);
			enum cs_starttls st = p->found ? starttls_of(p->found->ports[k].starttls) : p->starttls;
			struct cs_buf line = CS_BUF_INIT;
			cs_buf_puts(&line, "      - { connect: ");
			q(&line, connect);
			if (cn) {
				cs_buf_puts(&line, ", servername: ");
				q(&line, cn);
			}
			if (starttls_name(st))
				cs_buf_printf(&line, ", starttls: %s", starttls_name(st));
			if (p->found)
				cs_buf_printf(&line, ", host: %s", cfg->hosts[p->host].name);
			cs_buf_puts(&line, " }\n");
			if (!vhead) {
				cs_buf_puts(b, "    verify:\n");
				verify_at = b->len;
			}
			vhead = true;
			cs_buf_append(b, "", 1);
			b->len--;
			if (!strstr(b->data + verify_at, line.data))
				cs_buf_puts(b, line.data);
			cs_buf_free(&line);
			free(connect);
		}
	}
}

static void put_issuers(struct cs_buf *b, const struct run *R)
{
	for (size_t i = 0; i < R->n_iss; i++)
		cs_buf_printf(b,
			      "  %s:   # proposed by discover for certificates from %s: requests go to\n"
			      "        # requests/, the CA's reply into inbox/\n"
			      "    manual: { requests: requests/%s/, inbox: inbox/%s/ }\n",
			      R->iss[i].name, R->iss[i].ca, R->iss[i].name, R->iss[i].name);
}

/* Comment out every line of b from start on ("# " after the indent). */
static void comment_from(struct cs_buf *b, size_t start)
{
	struct cs_buf tail = CS_BUF_INIT;
	cs_buf_append(&tail, b->data + start, b->len - start);
	cs_buf_append(&tail, "", 1);
	b->len = start;
	char *save = NULL;
	for (char *line = strtok_r(tail.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "  #", 3))
			cs_buf_printf(b, "%s\n", line);
		else
			cs_buf_printf(b, "  # %s\n", line + (strncmp(line, "  ", 2) ? 0 : 2));
	}
	cs_buf_free(&tail);
}

static bool bound(const struct lineage *l)
{
	for (size_t k = 0; k < l->n_places; k++)
		if (l->places[k]->found)
			return true;
	return false;
}

static int adopt(struct run *R, struct lineage *l, struct cs_err *err)
{
	if (!l->key)
		return 0;
	const char *cn = l->newest->info.common_name;
	if (!cn && l->newest->info.n_dns_names)
		cn = l->newest->info.dns_names[0];
	int r = cs_store_save(R->rq->adopt, l->name, l->key, l->newest->cert, l->chain, l->issuer, cn, err);
	if (r < 0)
		return cs_err_prefix(err, "adopt certificate %s", l->name);
	R->out->n_adopted++;
	return 0;
}

int cs_discover(const struct cs_discover_req *rq, struct cs_discover_result *out, struct cs_err *err)
{
	const struct cs_config *cfg = rq->cfg;
	memset(out, 0, sizeof *out);
	cs_buf_init(&out->yaml, 0);
	for (size_t i = 0; i < rq->n_hosts; i++)
		if (!cs_config_host(cfg, rq->hosts[i]))
			return cs_err_set(err, -EINVAL, "--host %s: no such host in %s", rq->hosts[i], cfg->path);
	struct run R = { .rq = rq, .out = out };
	struct cs_buf head = CS_BUF_INIT;
	size_t issuers_at = 0;
	bool has_issuers = false;
	char **connects = cs_xcalloc(rq->n_endpoints + 1, sizeof *connects);
	enum cs_starttls *sts = cs_xcalloc(rq->n_endpoints + 1, sizeof *sts);
	int r = split_config(rq, &head, &issuers_at, &has_issuers, err);
	R.found = cs_xcalloc(cfg->n_hosts + 1, sizeof *R.found);
	if (r == 0)
		r = read_endpoints(&R, connects, sts, err);
	if (r < 0)
		goto out;
	for (size_t h = 0; h < cfg->n_hosts; h++)
		if (wanted_host(rq, cfg->hosts[h].name))
			discover_host(&R, h);
	for (size_t h = 0; h < cfg->n_hosts; h++)
		for (size_t i = 0; i < R.found[h].n; i++)
			add_place(&R, h, &R.found[h].v[i], R.found[h].v[i].cert, R.found[h].v[i].chain, NULL,
				  CS_STARTTLS_NONE);
	/* Endpoints were read first; put them last, after what the hosts
	 * say, so a lineage is named and described from its bindings. */
	size_t n_ep = 0;
	for (size_t i = 0; i < R.n_places; i++)
		if (!R.places[i].found)
			n_ep++;
	if (n_ep && n_ep < R.n_places) {
		struct place *v = cs_xcalloc(R.n_places, sizeof *v);
		size_t k = 0;
		for (size_t i = 0; i < R.n_places; i++)
			if (R.places[i].found)
				v[k++] = R.places[i];
		for (size_t i = 0; i < R.n_places; i++)
			if (!R.places[i].found)
				v[k++] = R.places[i];
		memcpy(R.places, v, R.n_places * sizeof *v);
		free(v);
	}
	group(&R);
	for (size_t i = 0; i < R.n_lin; i++) {
		choose_key(&R.lin[i]);
		choose_issuer(&R, &R.lin[i]);
	}

	struct cs_buf *y = &out->yaml;
	if (rq->schema)
		cs_buf_printf(y, "# yaml-language-server: $schema=%s\n", rq->schema);
	char now[21];
	cs_time_rfc3339(now, cs_now());
	cs_buf_printf(y, "# Written by `certsync discover` from %s on %s: the certificates the hosts\n"
			 "# use now, one a lineage.  Check the names, issuers and reloads, then\n"
			 "# `certsync validate` and `certsync plan`.\n",
		      cs_path_basename(cfg->path), now);
	if (has_issuers) {
		cs_buf_append(y, head.data, issuers_at);
		put_issuers(y, &R);
		cs_buf_append(y, head.data + issuers_at, head.len - issuers_at);
	} else {
		cs_buf_append(y, head.data, head.len);
		if (R.n_iss) {
			cs_buf_puts(y, "\nissuers:\n");
			put_issuers(y, &R);
		}
	}
	struct cs_buf certs = CS_BUF_INIT;
	size_t declared = 0;
	for (size_t i = 0; i < R.n_lin; i++) {
		struct lineage *l = &R.lin[i];
		size_t start = certs.len;
		put_lineage(&certs, &R, l);
		if (!bound(l)) {
			warn(out, "certificate %s was seen only at an endpoint: written commented out", l->name);
			comment_from(&certs, start);
			continue;
		}
		declared++;
		if (!l->key)
			warn(out, "certificate %s: its key could not be read (%s): the first apply renews it", l->name,
			     l->key_problem);
	}
	cs_buf_printf(y, "\ncertificates:%s\n", declared ? "" : " {}");
	if (certs.len)
		cs_buf_append(y, certs.data, certs.len);
	cs_buf_free(&certs);
	out->n_lineages = declared;

	/* What is written must load: checked before anything is adopted. */
	struct cs_diags diags = { 0 };
	struct cs_config *check = NULL;
	if (cs_config_load_string(&check, cfg->path, cfg->dir, y->data ? y->data : "", y->len, &diags) < 0) {
		r = cs_err_set(err, -EINVAL, "the config discover wrote does not validate (nothing was adopted): line %d: %s",
			       diags.n ? diags.v[0].line : 0, diags.n ? diags.v[0].msg : "unknown problem");
		cs_diags_free(&diags);
		goto out;
	}
	cs_config_free(check);
	cs_diags_free(&diags);
	if (rq->adopt)
		for (size_t i = 0; i < R.n_lin && r == 0; i++)
			if (bound(&R.lin[i]))
				r = adopt(&R, &R.lin[i], err);
out:
	for (size_t i = 0; i < R.n_lin; i++) {
		free(R.lin[i].name);
		free(R.lin[i].places);
		free(R.lin[i].issuer);
	}
	free(R.lin);
	for (size_t i = 0; i < R.n_places; i++)
		cs_cert_info_free(&R.places[i].info);
	free(R.places);
	for (size_t h = 0; h < cfg->n_hosts; h++)
		cs_found_list_free(&R.found[h]);
	free(R.found);
	for (size_t i = 0; i < R.n_iss; i++) {
		free(R.iss[i].name);
		free(R.iss[i].ca);
	}
	free(R.iss);
	/* served: full chains (owning) and the views after their leaf */
	for (size_t i = 0; i < R.n_served; i += 2) {
		sk_X509_pop_free(R.served[i], X509_free);
		sk_X509_free(R.served[i + 1]);
	}
	free(R.served);
	cs_strv_free(connects, rq->n_endpoints);
	free(sts);
	cs_buf_free(&head);
	return r;
}

void cs_discover_result_free(struct cs_discover_result *r)
{
	if (!r)
		return;
	cs_buf_free(&r->yaml);
	cs_strv_free(r->warnings, r->n_warnings);
	memset(r, 0, sizeof *r);
}
