/* certsync discover on Linux: the TLS files nginx, Apache, haproxy,
 * Dovecot and Postfix are configured with, found by reading their
 * configuration in the usual places (following includes) through the
 * host's transport, and the files binding that would declare each.
 *
 * Only the directives that name certificate and key files, and the ports
 * they are served on, are read; everything else in the files is skipped.
 * Configuration files are read under opts->root (a staged copy of /etc);
 * the certificate and key paths in them are read as written. */
#include "providers/platform/linux_discover.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "providers/base/quote.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"

#define MAX_CONF (4u << 20)
#define MAX_PEM (1u << 20)
#define MAX_DEPTH 8
#define MAX_FILES 256

/* One set of files a service names. */
struct tls_set {
	char *cert, *key, *chain;
	struct cs_found_port ports[CS_FOUND_MAX_PORTS];
	size_t n_ports;
	char *source;
};

struct ctx {
	struct cs_transport *t;
	const char *root;
	struct cs_found_list *out;
	const char *service;
	size_t n_read;                 /* config files read, against include loops */
	struct tls_set *sets;
	size_t n_sets;
};

static char *strip(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

static char *unquote(const char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0])
		return cs_xasprintf("%.*s", (int)(n - 2), s + 1);
	return cs_xstrdup(s);
}

/* Path of a configuration file on the host: under root. */
static char *conf_path(const struct ctx *c, const char *path)
{
	return cs_xasprintf("%s%s", c->root, path);
}

/* Read a configuration file (already under root); 1 read, 0 missing, -1
 * problem (recorded). */
static int read_conf(struct ctx *c, const char *path, struct cs_buf *out)
{
	struct cs_err err = CS_ERR_INIT;
	if (++c->n_read > MAX_FILES) {
		cs_found_problem(c->out, "%s: more than %u configuration files, the rest skipped", c->service, MAX_FILES);
		return -1;
	}
	cs_buf_init(out, MAX_CONF);
	int r = c->t->ops->read_file(c->t, path, out, &err);
	if (r == -ENOENT) {
		cs_err_clear(&err);
		return 0;
	}
	if (r < 0) {
		cs_found_problem(c->out, "%s: %s", c->service, cs_err_msg(&err));
		cs_err_clear(&err);
		cs_buf_free(out);
		return -1;
	}
	cs_buf_append(out, "", 1);
	out->len--;
	return 1;
}

static bool glob_char(char ch)
{
	return ch == '*' || ch == '?' || ch == '[';
}

/* The files an include pattern (absolute, under root already) names, in
 * the order the shell sorts them. */
static size_t expand(struct ctx *c, const char *pattern, char ***out)
{
	*out = NULL;
	const char *g = pattern;
	while (*g && !glob_char(*g))
		g++;
	if (!*g) {
		*out = cs_xcalloc(1, sizeof **out);
		(*out)[0] = cs_xstrdup(pattern);
		return 1;
	}
	const char *slash = g;
	while (slash > pattern && *slash != '/')
		slash--;
	for (const char *p = slash; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("._-*?[]/", *p))) {
			cs_found_problem(c->out, "%s: include pattern %s not followed (only letters, digits and . _ - * ? [ ] /)",
					 c->service, pattern);
			return 0;
		}
	char *dir = cs_xasprintf("%.*s", (int)(slash - pattern), pattern);
	char *q = cs_sh_quote(dir[0] ? dir : "/");
	char *cmd = cs_xasprintf("for f in %s%s; do [ -f \"$f\" ] && printf '%%s\\n' \"$f\"; done; exit 0", q, slash);
	free(q);
	free(dir);
	struct cs_run_result res;
	cs_run_result_init(&res, MAX_CONF);
	struct cs_err err = CS_ERR_INIT;
	size_t n = 0;
	if (c->t->ops->run(c->t, cmd, NULL, 0, &res, &err) < 0) {
		cs_found_problem(c->out, "%s: list %s: %s", c->service, pattern, cs_err_msg(&err));
		cs_err_clear(&err);
	} else {
		cs_buf_append(&res.out, "", 1);
		char *save = NULL;
		for (char *line = strtok_r(res.out.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			*out = cs_xrealloc(*out, (n + 1) * sizeof **out);
			(*out)[n++] = cs_xstrdup(line);
		}
	}
	free(cmd);
	cs_run_result_free(&res);
	return n;
}

/* base is the folder relative includes are taken from (not under root). */
static char *include_path(const struct ctx *c, const char *base, const char *inc)
{
	if (inc[0] == '/')
		return conf_path(c, inc);
	char *rel = cs_path_join(base, inc);
	char *p = conf_path(c, rel);
	free(rel);
	return p;
}

static void set_port(struct tls_set *s, int port, const char *starttls)
{
	if (port <= 0 || port > 65535 || s->n_ports == CS_FOUND_MAX_PORTS)
		return;
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].port == port)
			return;
	s->ports[s->n_ports].port = port;
	s->ports[s->n_ports].starttls = starttls;
	s->n_ports++;
}

/* A port number of decimal digits only, 0 when s is none. */
static int port_num(const char *s)
{
	if (!*s || strlen(s) > 5 || !cs_only_digits(s))
		return 0;
	long v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535 ? (int)v : 0;
}

/* The port of "443", "*:443", "[::]:443", "127.0.0.1:8443", 0 when none. */
static int port_of(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	return port_num(colon ? colon + 1 : addr);
}

static struct tls_set *add_set(struct ctx *c, const char *base, const char *cert, const char *key,
			       const char *chain, const char *source)
{
	c->sets = cs_xrealloc(c->sets, (c->n_sets + 1) * sizeof *c->sets);
	struct tls_set *s = &c->sets[c->n_sets++];
	memset(s, 0, sizeof *s);
	s->cert = cert && cert[0] != '/' ? cs_path_join(base, cert) : cs_xstrdup(cert);
	s->key = key && key[0] != '/' ? cs_path_join(base, key) : cs_xstrdup(key);
	s->chain = chain && chain[0] != '/' ? cs_path_join(base, chain) : cs_xstrdup(chain);
	s->source = cs_xstrdup(source);
	return s;
}

/* ---- nginx: tokens, with includes spliced in ---------------------------- */

struct toks {
	char **v;
	const char **file;   /* the file each token came from (in files) */
	size_t n;
	char **files;        /* owned, paths without the root */
	size_t n_files;
};

static void tok_push(struct toks *t, char *s, const char *file)
{
	t->v = cs_xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	t->file = cs_xrealloc(t->file, (t->n + 1) * sizeof *t->file);
	t->file[t->n] = file;
	t->v[t->n++] = s;
}

static void nginx_tokens(struct ctx *c, const char *path, const char *base, struct toks *out, int depth);

static void nginx_tokenize(struct ctx *c, const char *text, const char *file, const char *base, struct toks *out,
			   int depth)
{
	struct toks local = { 0 };
	const char *p = text;
	while (*p) {
		if (isspace((unsigned char)*p)) {
			p++;
		} else if (*p == '#') {
			while (*p && *p != '\n')
				p++;
		} else if (*p == ';' || *p == '{' || *p == '}') {
			tok_push(&local, cs_xasprintf("%c", *p), file);
			p++;
		} else if (*p == '"' || *p == '\'') {
			char q = *p++;
			const char *s = p;
			while (*p && *p != q)
				p++;
			tok_push(&local, cs_xasprintf("%.*s", (int)(p - s), s), file);
			if (*p)
				p++;
		} else {
			const char *s = p;
			while (*p && !isspace((unsigned char)*p) && *p != ';' && *p != '{' && *p != '}')
				p++;
			tok_push(&local, cs_xasprintf("%.*s", (int)(p - s), s), file);
		}
	}
	for (size_t i = 0; i < local.n; i++) {
		if (!strcmp(local.v[i], "include") && i + 2 < local.n && !strcmp(local.v[i + 2], ";") &&
		    (i == 0 || !strcmp(local.v[i - 1], ";") || !strcmp(local.v[i - 1], "{") ||
		     !strcmp(local.v[i - 1], "}"))) {
			char *pat = include_path(c, base, local.v[i + 1]);
			char **files = NULL;
			size_t n = depth < MAX_DEPTH ? expand(c, pat, &files) : 0;
			if (depth >= MAX_DEPTH)
				cs_found_problem(c->out, "nginx: includes nested deeper than %d at %s", MAX_DEPTH, pat);
			for (size_t k = 0; k < n; k++)
				nginx_tokens(c, files[k], base, out, depth + 1);
			cs_strv_free(files, n);
			free(pat);
			free(local.v[i]);
			free(local.v[i + 1]);
			free(local.v[i + 2]);
			i += 2;
			continue;
		}
		tok_push(out, local.v[i], file);
	}
	free(local.v);
	free(local.file);
}

static void nginx_tokens(struct ctx *c, const char *path, const char *base, struct toks *out, int depth)
{
	struct cs_buf text;
	if (read_conf(c, path, &text) <= 0)
		return;
	out->files = cs_xrealloc(out->files, (out->n_files + 1) * sizeof *out->files);
	const char *file = out->files[out->n_files++] = cs_xstrdup(path + strlen(c->root));
	nginx_tokenize(c, text.data, file, base, out, depth);
	cs_buf_free(&text);
}

static void nginx(struct ctx *c)
{
	c->service = "nginx";
	const char *base = "/etc/nginx";
	char *main_conf = conf_path(c, "/etc/nginx/nginx.conf");
	struct toks t = { 0 };
	nginx_tokens(c, main_conf, base, &t, 0);
	/* Walk statements; the server blocks take the http level's files. */
	char *http_cert = NULL, *http_key = NULL;
	char *srv_cert = NULL, *srv_key = NULL;
	int depth = 0, server_depth = -1;
	const char *server_file = NULL;
	struct tls_set tmp = { 0 };
	for (size_t i = 0; i < t.n;) {
		size_t j = i;
		while (j < t.n && strcmp(t.v[j], ";") && strcmp(t.v[j], "{") && strcmp(t.v[j], "}"))
			j++;
		const char *end = j < t.n ? t.v[j] : ";";
		size_t nw = j - i;
		if (!strcmp(end, "}") && nw == 0) {
			if (depth == server_depth) {
				const char *cert = srv_cert ? srv_cert : http_cert;
				const char *key = srv_key ? srv_key : http_key;
				if (cert) {
					struct tls_set *s = add_set(c, base, cert, key, NULL, server_file);
					memcpy(s->ports, tmp.ports, sizeof tmp.ports);
					s->n_ports = tmp.n_ports;
				}
				server_depth = -1;
				free(srv_cert);
				free(srv_key);
				srv_cert = srv_key = NULL;
			}
			depth--;
			i = j + 1;
			continue;
		}
		if (!strcmp(end, "{")) {
			if (nw >= 1 && !strcmp(t.v[i], "server") && server_depth < 0) {
				server_depth = depth + 1;
				server_file = t.file[i];
				memset(&tmp, 0, sizeof tmp);
			}
			depth++;
		} else if (nw >= 2) {
			const char *d = t.v[i];
			char **cert = server_depth >= 0 ? &srv_cert : &http_cert;
			char **key = server_depth >= 0 ? &srv_key : &http_key;
			if (!strcmp(d, "ssl_certificate")) {
				free(*cert);
				*cert = cs_xstrdup(t.v[i + 1]);
			} else if (!strcmp(d, "ssl_certificate_key")) {
				free(*key);
				*key = cs_xstrdup(t.v[i + 1]);
			} else if (!strcmp(d, "listen") && server_depth >= 0) {
				bool ssl = false;
				for (size_t k = i + 2; k < j; k++)
					ssl |= !strcmp(t.v[k], "ssl") || !strcmp(t.v[k], "quic");
				if (ssl)
					set_port(&tmp, port_of(t.v[i + 1]), NULL);
			}
		}
		i = j + 1;
	}
	free(http_cert);
	free(http_key);
	free(srv_cert);
	free(srv_key);
	for (size_t i = 0; i < t.n; i++)
		free(t.v[i]);
	free(t.v);
	free(t.file);
	cs_strv_free(t.files, t.n_files);
	free(main_conf);
}

/* ---- line-based configs (Apache, haproxy, Dovecot, Postfix) ------------ */

struct lines {
	char **v;
	char **file;   /* which file each line came from (not owned: src) */
	size_t n;
	char **src;
	size_t n_src;
};

static void lines_free(struct lines *l)
{
	cs_strv_free(l->v, l->n);
	free(l->file);
	cs_strv_free(l->src, l->n_src);
	memset(l, 0, sizeof *l);
}

/* Is line an include directive of the service?  Its argument, or NULL. */
typedef const char *(*include_fn)(const char *line, char *arg, size_t cap);

static void read_lines(struct ctx *c, const char *path, const char *base, include_fn inc, struct lines *out,
		       int depth)
{
	struct cs_buf text;
	if (read_conf(c, path, &text) <= 0)
		return;
	out->src = cs_xrealloc(out->src, (out->n_src + 1) * sizeof *out->src);
	char *file = out->src[out->n_src++] = cs_xstrdup(path + strlen(c->root));
	char *save = NULL;
	for (char *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char arg[4096];
		char *s = strip(line);
		if (!*s || *s == '#')
			continue;
		if (inc && inc(s, arg, sizeof arg)) {
			if (depth >= MAX_DEPTH) {
				cs_found_problem(c->out, "%s: includes nested deeper than %d in %s", c->service, MAX_DEPTH, file);
				continue;
			}
			/* Dovecot's includes are relative to the including file. */
			char *dir = base ? NULL : cs_path_dirname(file);
			char *pat = include_path(c, base ? base : dir, arg);
			char **files;
			size_t n = expand(c, pat, &files);
			for (size_t k = 0; k < n; k++)
				read_lines(c, files[k], base, inc, out, depth + 1);
			cs_strv_free(files, n);
			free(pat);
			free(dir);
			continue;
		}
		out->v = cs_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		out->file = cs_xrealloc(out->file, (out->n + 1) * sizeof *out->file);
		out->v[out->n] = cs_xstrdup(s);
		out->file[out->n] = file;
		out->n++;
	}
	cs_buf_free(&text);
}

/* The first word of line and the rest (unquoted), or false. */
static bool directive(const char *line, char *word, size_t wcap, char *rest, size_t rcap)
{
	size_t n = strcspn(line, " \t");
	if (n == 0 || n >= wcap)
		return false;
	memcpy(word, line, n);
	word[n] = 0;
	const char *r = line + n;
	while (*r == ' ' || *r == '\t')
		r++;
	char *u = unquote(r);
	bool ok = strlen(u) < rcap;
	if (ok)
		memcpy(rest, u, strlen(u) + 1);
	free(u);
	return ok;
}

static const char *apache_include(const char *line, char *arg, size_t cap)
{
	char word[64], rest[4096];
	if (!directive(line, word, sizeof word, rest, sizeof rest))
		return NULL;
	if (strcasecmp(word, "Include") && strcasecmp(word, "IncludeOptional"))
		return NULL;
	if (strlen(rest) >= cap)
		return NULL;
	memcpy(arg, rest, strlen(rest) + 1);
	return arg;
}

static void apache(struct ctx *c, const char *root_dir, const char *main_rel)
{
	c->service = "apache";
	char *main_conf = conf_path(c, main_rel);
	struct lines l = { 0 };
	read_lines(c, main_conf, root_dir, apache_include, &l, 0);
	char *g_cert = NULL, *g_key = NULL, *g_chain = NULL;
	char *v_cert = NULL, *v_key = NULL, *v_chain = NULL;
	bool in_vhost = false;
	struct tls_set tmp = { 0 };
	const char *vsrc = NULL;
	for (size_t i = 0; i < l.n; i++) {
		char word[64], rest[4096];
		if (!directive(l.v[i], word, sizeof word, rest, sizeof rest))
			continue;
		if (!strcasecmp(word, "<VirtualHost")) {
			in_vhost = true;
			vsrc = l.file[i];
			memset(&tmp, 0, sizeof tmp);
			char *save = NULL;
			for (char *a = strtok_r(rest, " \t>", &save); a; a = strtok_r(NULL, " \t>", &save))
				set_port(&tmp, port_of(a), NULL);
			continue;
		}
		if (!strcasecmp(word, "</VirtualHost>")) {
			const char *cert = v_cert ? v_cert : g_cert;
			if (in_vhost && cert) {
				struct tls_set *s = add_set(c, root_dir, cert, v_key ? v_key : g_key,
							    v_chain ? v_chain : g_chain, vsrc);
				memcpy(s->ports, tmp.ports, sizeof tmp.ports);
				s->n_ports = tmp.n_ports;
			}
			in_vhost = false;
			free(v_cert);
			free(v_key);
			free(v_chain);
			v_cert = v_key = v_chain = NULL;
			continue;
		}
		char **slot = NULL;
		if (!strcasecmp(word, "SSLCertificateFile"))
			slot = in_vhost ? &v_cert : &g_cert;
		else if (!strcasecmp(word, "SSLCertificateKeyFile"))
			slot = in_vhost ? &v_key : &g_key;
		else if (!strcasecmp(word, "SSLCertificateChainFile"))
			slot = in_vhost ? &v_chain : &g_chain;
		if (slot) {
			free(*slot);
			*slot = cs_xstrdup(rest);
		}
	}
	for (size_t i = 0; i < c->n_sets; i++)
		if (!c->sets[i].n_ports)
			set_port(&c->sets[i], 443, NULL);
	free(g_cert);
	free(g_key);
	free(g_chain);
	free(v_cert);
	free(v_key);
	free(v_chain);
	lines_free(&l);
	free(main_conf);
}

static void haproxy(struct ctx *c)
{
	c->service = "haproxy";
	char *main_conf = conf_path(c, "/etc/haproxy/haproxy.cfg");
	struct lines l = { 0 };
	read_lines(c, main_conf, "/etc/haproxy", NULL, &l, 0);
	for (size_t i = 0; i < l.n; i++) {
		char word[64], rest[4096];
		if (!directive(l.v[i], word, sizeof word, rest, sizeof rest) || strcmp(word, "bind"))
			continue;
		char *save = NULL;
		char *addr = strtok_r(rest, " \t", &save);
		bool ssl = false;
		char *crt = NULL;
		for (char *a = strtok_r(NULL, " \t", &save); a; a = strtok_r(NULL, " \t", &save)) {
			if (!strcmp(a, "ssl"))
				ssl = true;
			else if (!strcmp(a, "crt") && !crt)
				crt = strtok_r(NULL, " \t", &save);
		}
		if (!ssl || !crt)
			continue;
		struct tls_set *s = add_set(c, "/etc/haproxy", crt, NULL, NULL, l.file[i]);
		if (addr)
			set_port(s, port_of(addr), NULL);
	}
	lines_free(&l);
	free(main_conf);
}

static const char *dovecot_include(const char *line, char *arg, size_t cap)
{
	const char *p = NULL;
	if (!strncmp(line, "!include_try ", 13))
		p = line + 13;
	else if (!strncmp(line, "!include ", 9))
		p = line + 9;
	if (!p)
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	char *u = unquote(p);
	char *s = strip(u);
	if (strlen(s) >= cap) {
		free(u);
		return NULL;
	}
	memcpy(arg, s, strlen(s) + 1);
	free(u);
	return arg;
}

/* "key = value" → key and value, or false. */
static bool assignment(const char *line, char *key, size_t kcap, char *value, size_t vcap)
{
	const char *eq = strchr(line, '=');
	if (!eq)
		return false;
	size_t n = (size_t)(eq - line);
	while (n && isspace((unsigned char)line[n - 1]))
		n--;
	if (!n || n >= kcap)
		return false;
	memcpy(key, line, n);
	key[n] = 0;
	const char *v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	if (strlen(v) >= vcap)
		return false;
	memcpy(value, v, strlen(v) + 1);
	return true;
}

static void dovecot(struct ctx *c)
{
	c->service = "dovecot";
	char *main_conf = conf_path(c, "/etc/dovecot/dovecot.conf");
	struct lines l = { 0 };
	read_lines(c, main_conf, NULL, dovecot_include, &l, 0);
	char *cert = NULL, *key = NULL;
	const char *src = NULL;
	struct tls_set tmp = { 0 };
	bool imap = true, pop3 = false, listeners = false;
	const char *block[16] = { 0 };
	char names[16][128];
	int depth = 0;
	for (size_t i = 0; i < l.n; i++) {
		const char *s = l.v[i];
		size_t n = strlen(s);
		if (n && s[n - 1] == '{') {
			if (depth < 16) {
				snprintf(names[depth], sizeof names[depth], "%.*s", (int)(n - 1), s);
				block[depth] = strip(names[depth]);
			}
			depth++;
			continue;
		}
		if (!strcmp(s, "}")) {
			if (depth > 0)
				depth--;
			continue;
		}
		char k[128], v[4096];
		if (!assignment(s, k, sizeof k, v, sizeof v))
			continue;
		if (depth == 0 && (!strcmp(k, "ssl_cert") || !strcmp(k, "ssl_key"))) {
			char **slot = !strcmp(k, "ssl_cert") ? &cert : &key;
			free(*slot);
			*slot = cs_xstrdup(strip(v[0] == '<' ? v + 1 : v));
			src = l.file[i];
		} else if (depth == 0 && !strcmp(k, "protocols")) {
			imap = strstr(v, "imap") != NULL;
			pop3 = strstr(v, "pop3") != NULL;
		} else if (!strcmp(k, "port") && depth >= 1 && depth <= 16 && block[depth - 1] &&
			   !strncmp(block[depth - 1], "inet_listener ", 14)) {
			const char *which = strip((char *)block[depth - 1] + 14);
			int port = port_num(strip(v));
			listeners = true;
			if (!strcmp(which, "imap"))
				set_port(&tmp, port, "imap");
			else if (!strcmp(which, "pop3"))
				set_port(&tmp, port, "pop3");
			else if (!strcmp(which, "imaps") || !strcmp(which, "pop3s"))
				set_port(&tmp, port, NULL);
		}
	}
	if (cert) {
		struct tls_set *s = add_set(c, "/etc/dovecot", cert, key, NULL, src);
		if (listeners) {
			memcpy(s->ports, tmp.ports, sizeof tmp.ports);
			s->n_ports = tmp.n_ports;
		} else {
			if (imap)
				set_port(s, 143, "imap");
			if (pop3)
				set_port(s, 110, "pop3");
		}
	}
	free(cert);
	free(key);
	lines_free(&l);
	free(main_conf);
}

static void postfix(struct ctx *c)
{
	c->service = "postfix";
	char *main_conf = conf_path(c, "/etc/postfix/main.cf");
	struct lines l = { 0 };
	read_lines(c, main_conf, "/etc/postfix", NULL, &l, 0);
	char *cert = NULL, *key = NULL, *chain_files = NULL;
	const char *src = NULL;
	for (size_t i = 0; i < l.n; i++) {
		char k[128], v[4096];
		if (!assignment(l.v[i], k, sizeof k, v, sizeof v) || !v[0])
			continue;
		char **slot = !strcmp(k, "smtpd_tls_cert_file")   ? &cert
			      : !strcmp(k, "smtpd_tls_key_file")   ? &key
			      : !strcmp(k, "smtpd_tls_chain_files") ? &chain_files
								   : NULL;
		if (slot) {
			free(*slot);
			*slot = cs_xstrdup(strip(v));
			src = l.file[i];
		}
	}
	struct tls_set *s = NULL;
	if (chain_files && !strpbrk(chain_files, ", \t"))
		s = add_set(c, "/etc/postfix", chain_files, chain_files, NULL, src);
	else if (chain_files)
		cs_found_problem(c->out, "postfix: smtpd_tls_chain_files with several files (%s) is not read", chain_files);
	else if (cert)
		s = add_set(c, "/etc/postfix", cert, key ? key : cert, NULL, src);
	if (s)
		set_port(s, 25, "smtp");
	free(cert);
	free(key);
	free(chain_files);
	lines_free(&l);
	free(main_conf);
}

/* ---- from the file sets to what was found ------------------------------ */

static int read_pem(struct ctx *c, const char *path, struct cs_buf *out, struct cs_err *err)
{
	cs_buf_init(out, MAX_PEM);
	int r = c->t->ops->read_file(c->t, path, out, err);
	if (r < 0)
		cs_buf_free_secret(out);
	return r;
}

/* The files binding rows for the set, split by file mode (one mode per
 * binding: the one the files have now). */
struct role {
	const char *name;
	const char *path;
	bool has_key;
};

static void add_bindings(struct ctx *c, struct cs_found *f, const struct role *roles, size_t n)
{
	int modes[8];
	bool keyed[8] = { 0 };
	for (size_t i = 0; i < n; i++) {
		struct cs_file_stat st = { 0 };
		struct cs_err err = CS_ERR_INIT;
		modes[i] = c->t->ops->stat(c->t, roles[i].path, &st, &err) == 0 && st.exists ? (int)st.mode : -1;
		cs_file_stat_free(&st);
		cs_err_clear(&err);
		keyed[i] = roles[i].has_key;
	}
	bool done[8] = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		struct cs_found_binding *b = cs_found_binding_add(f, "files");
		bool key = false;
		for (size_t k = i; k < n; k++)
			if (!done[k] && modes[k] == modes[i]) {
				cs_found_row(b, roles[k].name, roles[k].path);
				key |= keyed[k];
				done[k] = true;
			}
		int def = key ? 0600 : 0644;
		/* A key file open to others is not declared so: the default
		 * (private) shows as a change in the plan. */
		if (modes[i] >= 0 && modes[i] != def && !(key && (modes[i] & 07037))) {
			char m[16];
			snprintf(m, sizeof m, "%04o", (unsigned)modes[i] & 07777u);
			cs_found_row(b, "mode", m);
		}
	}
}

static void resolve_set(struct ctx *c, const struct tls_set *s, const char *reload)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_buf certtext;
	if (read_pem(c, s->cert, &certtext, &err) < 0) {
		cs_found_problem(c->out, "%s (%s): certificate %s: %s", c->service, s->source, s->cert, cs_err_msg(&err));
		cs_err_clear(&err);
		return;
	}
	STACK_OF(X509) *certs = NULL;
	if (cs_certs_parse(&certs, certtext.data, certtext.len, &err) < 0) {
		cs_found_problem(c->out, "%s (%s): certificate %s: %s", c->service, s->source, s->cert, cs_err_msg(&err));
		cs_err_clear(&err);
		cs_buf_free_secret(&certtext);
		return;
	}
	struct cs_found *f = cs_found_add(c->out);
	f->service = cs_xstrdup(c->service);
	f->source = cs_xstrdup(s->source);
	f->reload = cs_xstrdup(reload);
	f->cert = X509_dup(sk_X509_value(certs, 0));
	f->chain = sk_X509_new_null();
	for (int i = 1; i < sk_X509_num(certs); i++)
		sk_X509_push(f->chain, X509_dup(sk_X509_value(certs, i)));
	bool full = sk_X509_num(certs) > 1;
	sk_X509_pop_free(certs, X509_free);
	memcpy(f->ports, s->ports, sizeof s->ports);
	f->n_ports = s->n_ports;

	/* The key: in the certificate's file (pem), in its own file, or
	 * beside it as haproxy looks for it (PATH.key). */
	bool key_in_cert = false;
	const char *keypath = s->key;
	char *beside = NULL;
	if (!keypath || !strcmp(keypath, s->cert)) {
		if (cs_key_parse(&f->key, certtext.data, certtext.len, &err) == 0) {
			key_in_cert = true;
		} else {
			cs_err_clear(&err);
			if (!keypath)
				keypath = beside = cs_xasprintf("%s.key", s->cert);
		}
	}
	cs_buf_free_secret(&certtext);
	if (!key_in_cert && keypath) {
		struct cs_buf keytext;
		if (read_pem(c, keypath, &keytext, &err) < 0) {
			f->key_problem = cs_xasprintf("key file %s cannot be read: %s", keypath, cs_err_msg(&err));
			cs_err_clear(&err);
		} else {
			if (cs_key_parse(&f->key, keytext.data, keytext.len, &err) < 0) {
				f->key_problem = cs_xasprintf("key file %s: %s", keypath, cs_err_msg(&err));
				cs_err_clear(&err);
			}
			cs_buf_free_secret(&keytext);
		}
	} else if (!key_in_cert) {
		f->key_problem = cs_xasprintf("%s names no key for %s", s->source, s->cert);
	}
	if (f->key && X509_check_private_key(f->cert, f->key) != 1) {
		f->key_problem = cs_xasprintf("the key in %s does not match the certificate in %s",
					      key_in_cert ? s->cert : keypath, s->cert);
		EVP_PKEY_free(f->key);
		f->key = NULL;
	}
	struct role roles[4];
	size_t n = 0;
	if (key_in_cert) {
		roles[n++] = (struct role){ "pem", s->cert, true };
	} else {
		roles[n++] = (struct role){ full ? "fullchain" : "cert", s->cert, false };
		if (keypath)
			roles[n++] = (struct role){ "key", keypath, true };
	}
	if (s->chain && strcmp(s->chain, s->cert)) {
		struct cs_buf chaintext;
		STACK_OF(X509) *chain = NULL;
		if (read_pem(c, s->chain, &chaintext, &err) == 0 &&
		    cs_certs_parse(&chain, chaintext.data, chaintext.len, &err) == 0) {
			for (int i = 0; i < sk_X509_num(chain); i++)
				sk_X509_push(f->chain, X509_dup(sk_X509_value(chain, i)));
			sk_X509_pop_free(chain, X509_free);
			roles[n++] = (struct role){ "chain", s->chain, false };
		} else {
			cs_found_problem(c->out, "%s (%s): chain %s: %s", c->service, s->source, s->chain, cs_err_msg(&err));
		}
		cs_err_clear(&err);
		if (chaintext.data)
			cs_buf_free(&chaintext);
	}
	add_bindings(c, f, roles, n);
	free(beside);
}

static void flush(struct ctx *c, const char *reload)
{
	for (size_t i = 0; i < c->n_sets; i++) {
		resolve_set(c, &c->sets[i], reload);
		free(c->sets[i].cert);
		free(c->sets[i].key);
		free(c->sets[i].chain);
		free(c->sets[i].source);
	}
	free(c->sets);
	c->sets = NULL;
	c->n_sets = 0;
}

int cs_linux_discover(struct cs_transport *t, const struct cs_discover_opts *o, struct cs_found_list *out,
		      struct cs_err *err)
{
	(void)err;
	struct ctx c = { .t = t, .root = o && o->root ? o->root : "", .out = out };
	nginx(&c);
	flush(&c, "systemctl reload nginx");
	apache(&c, "/etc/apache2", "/etc/apache2/apache2.conf");
	flush(&c, "systemctl reload apache2");
	apache(&c, "/etc/httpd", "/etc/httpd/conf/httpd.conf");
	flush(&c, "systemctl reload httpd");
	haproxy(&c);
	flush(&c, "systemctl reload haproxy");
	dovecot(&c);
	flush(&c, "systemctl reload dovecot");
	postfix(&c);
	flush(&c, "systemctl reload postfix");
	return 0;
}
