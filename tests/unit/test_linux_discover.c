/* Tests for certsync discover on Linux (providers/platform/linux_discover.c)
 * through the local transport, with the services' configs staged under a
 * temporary root: what each service's files become (rows of the files
 * binding, mode, reload, ports), keys beside, inside or missing, a key that
 * does not match, and includes that loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "providers/base/util.h"
#include "providers/platform/linux_discover.h"
#include "providers/transport/transport.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/certsync-discover-XXXXXX";

static void put(const char *rel, const char *text, mode_t mode)
{
	char *path = cs_xasprintf("%s/%s", dir, rel);
	char *d = cs_path_dirname(path);
	struct cs_err err = CS_ERR_INIT;
	cs_mkdir_p(d, 0755, &err);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, mode);
	free(d);
	free(path);
	cs_err_clear(&err);
}

static void sh(const char *fmt, const char *a, const char *b)
{
	char *cmd = cs_xasprintf(fmt, a, b, a, b, a, b);
	if (system(cmd) != 0)
		tap_note("command failed: %s", cmd);
	free(cmd);
}

/* The row key of f's binding i, "" when absent. */
static const char *row(const struct cs_found *f, size_t i, const char *key)
{
	if (i >= f->n_bindings)
		return "";
	for (size_t k = 0; k < f->bindings[i].n; k++)
		if (!strcmp(f->bindings[i].keys[k], key))
			return f->bindings[i].values[k];
	return "";
}

static const struct cs_found *by_service(const struct cs_found_list *l, const char *service, size_t nth)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].service, service) && nth-- == 0)
			return &l->v[i];
	return NULL;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	/* Two certificates with their keys (PKCS#8), one more key. */
	sh("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout a.key0 -subj /CN=a.test -days 30 -out a.crt 2>/dev/null"
	   " && openssl pkey -in a.key0 -out a.key && rm a.key0", dir, "");
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout b.key0 -subj /CN=b.test"
	   " -days 30 -out b.crt 2>/dev/null && openssl pkey -in b.key0 -out b.key && rm b.key0", dir, "");
	sh("cd %s && openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null", dir, "");
	sh("cd %s && cat a.crt b.crt > a-full.pem && cat b.key b.crt > b.pem && cp a.crt hap.pem && cp a.key hap.pem.key"
	   " && chmod 600 *.key b.pem hap.pem.key && chmod 640 a.crt", dir, "");
	char *conf = NULL;

	/* nginx: the http level's certificate for a server without one, a
	 * quoted path, a comment, an include of itself, a plain listen. */
	conf = cs_xasprintf("events {}\nhttp {\n  ssl_certificate %s/a-full.pem;   # shared\n"
			    "  ssl_certificate_key \"%s/a.key\";\n  include conf.d/*.conf;\n}\n", dir, dir);
	put("root/etc/nginx/nginx.conf", conf, 0644);
	free(conf);
	conf = cs_xasprintf("server { listen 80; listen [::]:443 ssl; }\n"
			    "server { listen 127.0.0.1:8443 ssl; ssl_certificate '%s/b.crt'; ssl_certificate_key %s/other.key; }\n"
			    "include /etc/nginx/conf.d/loop.conf;\n", dir, dir);
	put("root/etc/nginx/conf.d/sites.conf", conf, 0644);
	free(conf);
	put("root/etc/nginx/conf.d/loop.conf", "include /etc/nginx/conf.d/loop.conf;\n", 0644);
	/* Apache, directives in any case. */
	conf = cs_xasprintf("IncludeOptional sites/*.conf\n");
	put("root/etc/apache2/apache2.conf", conf, 0644);
	free(conf);
	conf = cs_xasprintf("<VirtualHost 10.0.0.1:4443>\n  sslcertificatefile %s/a.crt\n  SSLCertificateKeyFile %s/a.key\n"
			    "</VirtualHost>\n", dir, dir);
	put("root/etc/apache2/sites/a.conf", conf, 0644);
	free(conf);
	/* haproxy: the key beside the certificate (PATH.key). */
	conf = cs_xasprintf("frontend x\n    bind :443 ssl crt %s/hap.pem\n    bind :80\n", dir);
	put("root/etc/haproxy/haproxy.cfg", conf, 0644);
	free(conf);
	/* Postfix: one smtpd_tls_chain_files file (key, then certificates). */
	conf = cs_xasprintf("smtpd_tls_chain_files = %s/b.pem\n", dir);
	put("root/etc/postfix/main.cf", conf, 0644);
	free(conf);

	struct cs_host_cfg host = { .name = "here", .platform = CS_PLATFORM_LINUX, .transport = CS_TRANSPORT_LOCAL };
	struct cs_transport *t = NULL;
	struct cs_err err = CS_ERR_INIT;
	if (cs_transport_open(&t, &host, &err) < 0) {
		tap_ok(false, "open the local transport", "%s", cs_err_msg(&err));
		return tap_done();
	}
	char *root = cs_xasprintf("%s/root", dir);
	struct cs_discover_opts o = { .root = root };
	struct cs_found_list l = { 0 };
	tap_int(cs_linux_discover(t, &o, &l, &err), 0, "discover returns 0");

	const struct cs_found *n0 = by_service(&l, "nginx", 0), *n1 = by_service(&l, "nginx", 1);
	tap_ok(n0 && n1 && !by_service(&l, "nginx", 2), "nginx: two TLS servers", "%zu found", l.n);
	if (n0 && n1) {
		char *want = cs_xasprintf("%s/a-full.pem", dir);
		tap_str(row(n0, 0, "fullchain"), want, "nginx: the http level's file, leaf and chain: fullchain");
		free(want);
		tap_ok(n0->key != NULL, "nginx: the quoted key path is read", "%s", n0->key_problem ? n0->key_problem : "");
		tap_int(n0->n_ports == 1 ? n0->ports[0].port : -1, 443, "nginx: listen ... ssl counts, listen 80 not");
		tap_int(sk_X509_num(n0->chain), 1, "nginx: the chain after the leaf");
		tap_str(n0->reload, "systemctl reload nginx", "nginx: reload");
		tap_ok(n1->key == NULL && n1->key_problem && strstr(n1->key_problem, "does not match"),
		       "nginx: a key that does not match is said so", "%s", n1->key_problem ? n1->key_problem : "(none)");
		want = cs_xasprintf("%s/b.crt", dir);
		tap_str(row(n1, 0, "cert"), want, "nginx: a lone leaf: cert");
		free(want);
		tap_int(n1->n_ports == 1 ? n1->ports[0].port : -1, 8443, "nginx: the port of 127.0.0.1:8443");
		tap_str(n1->source, "/etc/nginx/conf.d/sites.conf", "nginx: the file of the server block, not the main one");
	}
	bool loop = false;
	for (size_t i = 0; i < l.n_problems; i++)
		loop |= strstr(l.problems[i], "nested deeper") != NULL;
	tap_ok(loop, "nginx: an include of itself stops, said so", "%zu problems", l.n_problems);

	const struct cs_found *a = by_service(&l, "apache", 0);
	tap_ok(a != NULL, "apache: found", "%s", "");
	if (a) {
		char *want = cs_xasprintf("%s/a.crt", dir);
		tap_str(row(a, 0, "cert"), want, "apache: the certificate in its own binding (its mode differs)");
		tap_str(row(a, 0, "mode"), "0640", "apache: the certificate's mode 0640 is declared");
		free(want);
		want = cs_xasprintf("%s/a.key", dir);
		tap_str(row(a, 1, "key"), want, "apache: the key (0600, the default, not declared)");
		tap_str(row(a, 1, "mode"), "", "apache: no mode for the key");
		free(want);
		tap_int(a->n_ports ? a->ports[0].port : -1, 4443, "apache: the VirtualHost's port");
	}
	const struct cs_found *h = by_service(&l, "haproxy", 0);
	tap_ok(h != NULL, "haproxy: found (bind :80 without ssl is not)", "%s", "");
	if (h) {
		char *want = cs_xasprintf("%s/hap.pem.key", dir);
		tap_str(row(h, 1, "key"), want, "haproxy: the key beside the certificate");
		tap_ok(h->key != NULL, "haproxy: ... and read", "%s", h->key_problem ? h->key_problem : "");
		free(want);
	}
	const struct cs_found *p = by_service(&l, "postfix", 0);
	tap_ok(p != NULL, "postfix: found", "%s", "");
	if (p) {
		char *want = cs_xasprintf("%s/b.pem", dir);
		tap_str(row(p, 0, "pem"), want, "postfix: the chain file holding the key: pem");
		free(want);
		tap_ok(p->key != NULL, "postfix: the key in the pem", "%s", p->key_problem ? p->key_problem : "");
		tap_ok(p->n_ports == 1 && p->ports[0].port == 25 && p->ports[0].starttls &&
			       !strcmp(p->ports[0].starttls, "smtp"),
		       "postfix: port 25 with STARTTLS smtp", "%s", "");
	}
	tap_ok(!by_service(&l, "dovecot", 0), "dovecot: nothing when its config is missing", "%s", "");

	cs_found_list_free(&l);
	cs_transport_close(t);
	free(root);
	cs_err_clear(&err);
	char *rm = cs_xasprintf("rm -rf %s", dir);
	if (system(rm) != 0)
		tap_note("could not remove %s", dir);
	free(rm);
	return tap_done();
}
