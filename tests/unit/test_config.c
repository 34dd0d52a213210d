/* The config loader: a table of broken configs, each with the exact first
 * diagnostic it must produce; a file with many errors that must all be
 * reported in order; the examples; defaults and resolved paths; and the
 * promise that no diagnostic ever quotes a secret. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "providers/base/buf.h"
#include "reconcile/config.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

/* Inline configs are loaded as if they sat next to the motivating example,
 * where tmg-listener.ps1 exists. */
#define EXAMPLE_DIR CS_SOURCE_ROOT "/examples/iis-exchange-isa"

#define V1 "version: 1\n"
/* Two lines: an issuer every certificate can use. */
#define MANUAL "issuers:\n  lab: {manual: {}}\n"
/* Two lines: a linux host over ssh. */
#define WEB1 "hosts:\n  web1: {platform: linux, ssh: {address: web1.example.org, user: deploy}}\n"

/* The broken configs are the corpus in tests/corpus/config: NAME.yaml and
 * NAME.expect, whose "diag:" line is the exact first diagnostic
 * ("LINE:COL: message", @DIR@ standing for the corpus folder).  The same
 * files are run through the binary, with time and memory bounds, by
 * tests/integration/test_bad_input_corpus.sh. */
#define CORPUS CS_SOURCE_ROOT "/tests/corpus/config"

/* The value of "key: value" in an .expect file, or NULL. */
static char *expect_field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':' && p[kl + 1] == ' ') {
			const char *v = p + kl + 2;
			const char *e = strchr(v, '\n');
			return cs_xasprintf("%.*s", (int)(e ? (size_t)(e - v) : strlen(v)), v);
		}
	}
	return NULL;
}

static char *replace_dir(const char *s, const char *dir)
{
	struct cs_buf b = CS_BUF_INIT;
	for (const char *p = s; *p;) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			cs_buf_puts(&b, dir);
			p += 5;
		} else {
			cs_buf_append(&b, p++, 1);
		}
	}
	char *r = cs_buf_detach(&b, NULL);
	return r ? r : cs_xstrdup("");
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_bad_cases(void)
{
	DIR *d = opendir(CORPUS);
	if (!tap_ok(d != NULL, "corpus folder " CORPUS " opens", NULL))
		return;
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 7 && strcmp(de->d_name + l - 7, ".expect") == 0) {
			names = cs_xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = cs_xasprintf("%.*s", (int)(l - 7), de->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	char *dir = realpath(CORPUS, NULL);
	size_t checked = 0;
	for (size_t i = 0; i < n; i++) {
		char *epath = cs_xasprintf("%s/%s.expect", CORPUS, names[i]);
		char *ypath = cs_xasprintf("%s/%s.yaml", CORPUS, names[i]);
		struct cs_buf e = CS_BUF_INIT;
		struct cs_err err = CS_ERR_INIT;
		char *want_raw = NULL, *want = NULL, *got = NULL;
		struct stat st;
		/* Cases the integration script prepares (a generated file, a
		 * FIFO beside the config) are left to it, and cases of other
		 * commands have no diag. */
		if (cs_file_read(&e, epath, 1 << 16, &err) < 0 || !(want_raw = expect_field(e.data, "diag")) ||
		    strstr(e.data, "\nsetup: ") || strstr(e.data, "\ngen: ") || lstat(ypath, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			goto next;
		want = replace_dir(want_raw, dir ? dir : CORPUS);
		struct cs_diags diags = CS_DIAGS_INIT;
		struct cs_config *cfg = NULL;
		int r = cs_config_load(&cfg, ypath, &diags);
		got = diags.n ? cs_xasprintf("%d:%d: %s", diags.v[0].line, diags.v[0].col, diags.v[0].msg) : NULL;
		if (tap_str(got, want, names[i]))
			tap_ok(r == -EINVAL, names[i], "returned %d, want -EINVAL", r);
		cs_config_free(cfg);
		cs_diags_free(&diags);
		checked++;
next:
		free(got);
		free(want);
		free(want_raw);
		cs_err_clear(&err);
		cs_buf_free(&e);
		free(ypath);
		free(epath);
		free(names[i]);
	}
	tap_ok(checked >= 100, "the corpus holds at least 100 configs with a diagnostic", "%zu", checked);
	free(names);
	free(dir);
}

/* One file, many problems: every one reported, sorted by position. */
static void test_all_errors_reported(void)
{
	static const char yaml[] =
		"version: 1\n"                                                        /* 1 */
		"settings: {parallelism: 2000}\n"                                      /* 2 */
		"issuers:\n"                                                           /* 3 */
		"  lab: {ca: {cert: ca.crt, key: secret-key-text}}\n"                  /* 4 */
		"hosts:\n"                                                             /* 5 */
		"  web1: {platform: linux, ssh: {address: web1, prot: 22}}\n"         /* 6 */
		"certificates:\n"                                                      /* 7 */
		"  mail:\n"                                                            /* 8 */
		"    common_name: mail..example.org\n"                                 /* 9 */
		"    issuer: lab\n"                                                    /* 10 */
		"    renew_before: soon\n"                                             /* 11 */
		"    bindings:\n"                                                      /* 12 */
		"      - {host: web1, files: {cert: rel.crt}}\n"                       /* 13 */
		"      - {host: web9, files: {cert: /x.crt}}\n";                       /* 14 */
	static const char *const want[] = {
		"2:25: \"parallelism\" in settings must be between 1 and 1024, got 2000",
		"4:33: \"key\" in ca of issuer lab is written as a literal value: a secret must be a reference, "
		"{env: VARIABLE} or {file: PATH}, so that it never lands in git",
		"6:32: missing required key \"user\" in ssh of host web1",
		"6:48: unknown key \"prot\" in ssh of host web1 (did you mean \"port\"?)",
		"9:18: invalid DNS name \"mail..example.org\" for common_name of certificate mail: it has an empty "
		"label (two dots in a row?)",
		"11:19: invalid duration \"soon\" for \"renew_before\" in certificate mail: a unit needs a number "
		"before it (write 30d)",
		"13:36: \"cert\" in files binding 1 of certificate mail must be an absolute path on host web1 (only "
		"local hosts resolve relative paths)",
		"14:16: unknown host \"web9\" in binding 2 of certificate mail (did you mean \"web1\"?)",
	};
	size_t n_want = sizeof want / sizeof want[0];
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load_string(&cfg, "many.yaml", EXAMPLE_DIR, yaml, sizeof yaml - 1, &d);
	tap_ok(r == -EINVAL && cfg == NULL, "several errors: load fails without a model", "r=%d", r);
	tap_int((long long)d.n, (long long)n_want, "several errors: all are reported");
	for (size_t i = 0; i < n_want; i++) {
		char name[64];
		snprintf(name, sizeof name, "several errors: diagnostic %zu", i + 1);
		char *got = i < d.n ? cs_xasprintf("%d:%d: %s", d.v[i].line, d.v[i].col, d.v[i].msg) : NULL;
		tap_str(got, want[i], name);
		free(got);
	}
	bool files_named = true;
	for (size_t i = 0; i < d.n; i++)
		files_named = files_named && strcmp(d.v[i].file, "many.yaml") == 0;
	tap_ok(files_named, "several errors: each names the file", NULL);
	cs_config_free(cfg);
	cs_diags_free(&d);
}

/* A misspelt required key is one mistake: "did you mean" says it all, and
 * "missing required key" would only repeat it. */
static void test_typo_reported_once(void)
{
	static const struct {
		const char *name, *yaml;
	} cases[] = {
		{ "typo of a required key", V1 MANUAL "certificates:\n  mail: {comon_name: a.example.org, issuer: lab}\n" },
		{ "typo of the version", "verison: 1\n" },
		{ "typo of a transport", V1 "hosts:\n  web1: {platform: linux, sssh: {address: a, user: u}}\n" },
		{ "typo of an issuer kind", V1 "issuers:\n  lab: {manaul: {}}\n" },
		{ "typo of a binding kind", V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
		  "certificates:\n  c: {common_name: c.example.org, issuer: lab, bindings: [{host: s, sotre: {}}]}\n" },
		{ "typo of a secret form", V1 "issuers:\n  lab: {ca: {cert: c, key: {flie: k}}}\n" },
		{ "typo of verify host", V1 MANUAL "hosts:\n  a: {platform: linux, local: {}}\n  b: {platform: linux, local: {}}\n"
		  "certificates:\n  c: {common_name: c.example.org, issuer: lab, bindings: [{host: a, files: {cert: a.crt}},"
		  " {host: b, files: {cert: b.crt}}], verify: [{connect: \"c:443\", hots: a}]}\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_diags d = CS_DIAGS_INIT;
		struct cs_config *cfg = NULL;
		int r = cs_config_load_string(&cfg, "t.yaml", EXAMPLE_DIR, cases[i].yaml, strlen(cases[i].yaml), &d);
		tap_ok(r == -EINVAL && d.n == 1 && strstr(d.v[0].msg, "did you mean") != NULL, cases[i].name,
		       "r=%d n=%zu first=%s second=%s", r, d.n, d.n ? d.v[0].msg : "", d.n > 1 ? d.v[1].msg : "");
		cs_config_free(cfg);
		cs_diags_free(&d);
	}
}

static struct cs_config *load_ok(const char *name, const char *yaml)
{
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load_string(&cfg, name, EXAMPLE_DIR, yaml, strlen(yaml), &d);
	if (!tap_ok(r == 0 && cfg && d.n == 0, name, "r=%d, %zu diagnostics, first: %d:%d: %s", r, d.n,
		    d.n ? d.v[0].line : 0, d.n ? d.v[0].col : 0, d.n ? d.v[0].msg : "")) {
		cs_config_free(cfg);
		cfg = NULL;
	}
	cs_diags_free(&d);
	return cfg;
}

static void test_motivating_example(void)
{
	const char *path = CS_SOURCE_ROOT "/examples/iis-exchange-isa/certsync.yaml";
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load(&cfg, path, &d);
	if (!tap_ok(r == 0 && cfg && d.n == 0, "iis-exchange-isa example validates", "r=%d, %zu diagnostics: %s", r,
		    d.n, d.n ? d.v[0].msg : "")) {
		cs_diags_free(&d);
		return;
	}
	const struct cs_issuer_cfg *vs = cs_config_issuer(cfg, "verisign");
	tap_ok(vs && vs->kind == CS_ISSUER_MANUAL, "example: verisign is a manual issuer", NULL);
	tap_str(vs ? vs->manual.requests : NULL, EXAMPLE_DIR "/requests", "example: requests/ resolved");
	tap_str(vs ? vs->manual.inbox : NULL, EXAMPLE_DIR "/inbox", "example: inbox/ resolved");

	const struct cs_host_cfg *sap = cs_config_host(cfg, "sapphire");
	const struct cs_host_cfg *cob = cs_config_host(cfg, "cobalt");
	tap_ok(sap && sap->platform == CS_PLATFORM_WINDOWS && sap->transport == CS_TRANSPORT_WINRM &&
	       sap->winrm.port == 5986 && sap->winrm.auth == CS_WINRM_NTLM && !sap->winrm.insecure_http &&
	       sap->winrm.timeout == 60 && sap->reboot == CS_REBOOT_NEVER && sap->local_dir == NULL,
	       "example: sapphire over winrm https with ntlm", NULL);
	tap_str(sap ? sap->winrm.user : NULL, "CORP\\svc-certsync", "example: winrm user keeps its backslash");
	tap_ok(sap && sap->winrm.password.kind == CS_SECRET_ENV && cs_streq(sap->winrm.password.ref, "SAPPHIRE_PASSWORD"),
	       "example: winrm password is an env reference", NULL);
	tap_str(sap ? sap->winrm.ca_bundle : NULL, EXAMPLE_DIR "/pki/corp-root.pem", "example: ca_bundle resolved");
	tap_ok(cob && cob->transport == CS_TRANSPORT_SSH && cob->ssh.port == 22 && cob->ssh.timeout == 30 &&
	       cob->reboot == CS_REBOOT_AFTER_CHANGE && !cob->ssh.host_key_accept_new,
	       "example: cobalt over ssh, rebooted after a change", NULL);
	char *identity = cs_path_expand_home("~/.ssh/certsync_ed25519");
	char *want_identity = cs_path_join(EXAMPLE_DIR, identity);
	tap_str(cob ? cob->ssh.identity : NULL, want_identity, "example: identity ~ expanded");
	free(identity);
	free(want_identity);

	const struct cs_cert_cfg *mail = cs_config_cert(cfg, "mail");
	if (tap_ok(mail && mail->n_bindings == 4 && mail->n_verify == 3, "example: mail has 4 bindings, 3 verify",
		   NULL)) {
		tap_ok(mail->key.type == CS_KEY_RSA && mail->key.bits == 2048, "example: rsa 2048", NULL);
		tap_ok(mail->renew_before == 30 * 86400 && mail->remind_before == 7 * 86400,
		       "example: renew 30d, remind 7d", NULL);
		tap_ok(mail->issuer_index < cfg->n_issuers && &cfg->issuers[mail->issuer_index] == vs,
		       "example: issuer resolved", NULL);
		const struct cs_binding_cfg *b = mail->bindings;
		tap_ok(b[0].kind == CS_BIND_IIS && cs_streq(b[0].iis.site, "Default Web Site") && b[0].iis.port == 443 &&
		       cs_streq(b[0].iis.ip, "*") && !b[0].iis.sni && &cfg->hosts[b[0].host_index] == sap,
		       "example: iis binding on sapphire", NULL);
		tap_ok(b[1].kind == CS_BIND_EXCHANGE && b[1].exchange.services == (CS_EXCH_POP | CS_EXCH_IMAP),
		       "example: exchange POP and IMAP", NULL);
		tap_ok(b[2].kind == CS_BIND_STORE && b[2].store.exportable && !b[2].store.cleanup &&
		       &cfg->hosts[b[2].host_index] == cob, "example: exportable store on cobalt", NULL);
		tap_ok(b[3].kind == CS_BIND_SCRIPT && b[3].script.n_args == 1 &&
		       cs_streq(b[3].script.args[0].name, "listener") && cs_streq(b[3].script.args[0].value, "OWA"),
		       "example: script with listener OWA", NULL);
		tap_str(b[3].script.path, EXAMPLE_DIR "/tmg-listener.ps1", "example: script path resolved");
		tap_ok(mail->verify[0].host_index < cfg->n_hosts && &cfg->hosts[mail->verify[0].host_index] == sap &&
		       mail->verify[1].starttls == CS_STARTTLS_IMAP && &cfg->hosts[mail->verify[2].host_index] == cob &&
		       mail->verify[0].timeout == 30, "example: verify hosts resolved", NULL);
	}
	tap_str(cfg->settings.state_dir, EXAMPLE_DIR "/.certsync", "example: default state_dir");
	tap_int(cfg->settings.parallelism, 32, "example: default parallelism");
	cs_config_free(cfg);
	cs_diags_free(&d);
}

static void test_local_example(void)
{
	const char *dir = CS_SOURCE_ROOT "/examples/local";
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load(&cfg, CS_SOURCE_ROOT "/examples/local/certsync.yaml", &d);
	if (!tap_ok(r == 0 && cfg && d.n == 0, "local example validates (pki/ need not exist)",
		    "r=%d, %zu diagnostics: %s", r, d.n, d.n ? d.v[0].msg : "")) {
		cs_diags_free(&d);
		return;
	}
	char *want = cs_xasprintf("%s/.certsync", dir);
	tap_str(cfg->settings.state_dir, want, "local: state_dir resolved");
	free(want);
	const struct cs_issuer_cfg *lab = cs_config_issuer(cfg, "lab");
	tap_ok(lab && lab->kind == CS_ISSUER_CA && lab->ca.days == 90 && lab->ca.key.kind == CS_SECRET_FILE,
	       "local: lab is a ca with a file key", NULL);
	want = cs_xasprintf("%s/pki/ca.key", dir);
	tap_str(lab ? lab->ca.key.ref : NULL, want, "local: ca key path resolved");
	free(want);
	const struct cs_host_cfg *here = cs_config_host(cfg, "here");
	tap_ok(here && here->transport == CS_TRANSPORT_LOCAL, "local: here is local", NULL);
	tap_str(here ? here->local_dir : NULL, dir, "local: local_dir is the config folder");
	const struct cs_cert_cfg *demo = cs_config_cert(cfg, "demo");
	const struct cs_cert_cfg *api = cs_config_cert(cfg, "api");
	if (tap_ok(demo && api && demo->n_bindings == 1 && api->n_bindings == 1, "local: two certificates", NULL)) {
		tap_ok(demo->key.type == CS_KEY_ECDSA && demo->key.curve == CS_CURVE_P256, "local: demo ecdsa p256",
		       NULL);
		want = cs_xasprintf("%s/out/demo.crt", dir);
		tap_str(demo->bindings[0].files.cert, want, "local: relative file path resolved on a local host");
		free(want);
		tap_int(demo->bindings[0].files.mode, 0600, "local: mode \"0600\"");
		tap_str(demo->bindings[0].files.reload, "sh reload-demo.sh", "local: reload command");
		tap_int(api->bindings[0].files.mode, 0600, "local: pem defaults to 0600");
		tap_ok(api->key.type == CS_KEY_RSA && api->key.bits == 2048, "local: api rsa 2048", NULL);
	}
	cs_config_free(cfg);
	cs_diags_free(&d);
}

static void test_defaults(void)
{
	struct cs_config *cfg = load_ok("defaults apply",
		"version: 1\n"
		"issuers:\n  lab: {manual: {}}\n"
		"hosts:\n"
		"  web1: {platform: linux, ssh: {address: web1, user: u}}\n"
		"  pc: {platform: windows, winrm: {address: pc, user: u, password: {file: pw.txt}, insecure_http: true}}\n"
		"certificates:\n"
		"  mail:\n"
		"    common_name: Mail.Example.org\n"
		"    dns_names: [owa.example.org, MAIL.example.org, autodiscover.example.org]\n"
		"    issuer: lab\n"
		"    bindings:\n"
		"      - {host: web1, files: {cert: /etc/tls/mail.crt, chain: /etc/tls/chain.pem}}\n"
		"      - {host: web1, files: {key: /etc/tls/mail.key, mode: 0640}}\n"
		"      - {host: web1, files: {fullchain: /etc/tls/full.pem, mode: 600, owner: www-data}}\n"
		"    verify:\n"
		"      - {connect: \"[2001:db8::1]:443\"}\n");
	if (!cfg)
		return;
	tap_int(cfg->settings.parallelism, 32, "defaults: parallelism 32");
	tap_str(cfg->settings.state_dir, EXAMPLE_DIR "/.certsync", "defaults: state_dir .certsync resolved");
	tap_str(cfg->issuers[0].manual.requests, EXAMPLE_DIR "/requests", "defaults: manual requests");
	tap_str(cfg->issuers[0].manual.inbox, EXAMPLE_DIR "/inbox", "defaults: manual inbox");
	const struct cs_host_cfg *web1 = cs_config_host(cfg, "web1");
	const struct cs_host_cfg *pc = cs_config_host(cfg, "pc");
	tap_ok(web1 && web1->ssh.port == 22 && web1->ssh.timeout == 30 && !web1->ssh.become_sudo &&
	       web1->local_dir == NULL && web1->reboot == CS_REBOOT_NEVER, "defaults: ssh port 22, timeout 30s", NULL);
	char *kh = cs_path_expand_home("~/.ssh/known_hosts");
	char *want_kh = cs_path_join(EXAMPLE_DIR, kh);
	tap_str(web1 ? web1->ssh.known_hosts : NULL, want_kh, "defaults: known_hosts");
	free(kh);
	free(want_kh);
	tap_ok(pc && pc->winrm.port == 5985 && pc->winrm.auth == CS_WINRM_NTLM && pc->winrm.timeout == 60,
	       "defaults: winrm over http on 5985 with ntlm", NULL);
	tap_str(pc ? pc->winrm.password.ref : NULL, EXAMPLE_DIR "/pw.txt", "defaults: file secret resolved");
	const struct cs_cert_cfg *mail = cs_config_cert(cfg, "mail");
	tap_ok(mail->key.type == CS_KEY_RSA && mail->key.bits == 2048, "defaults: key rsa 2048", NULL);
	tap_str(cs_key_spec_name(&mail->key), "rsa 2048", "defaults: key spec name");
	tap_ok(mail->renew_before == 30 * 86400 && mail->remind_before == 7 * 86400, "defaults: renew 30d, remind 7d",
	       NULL);
	tap_int(mail->bindings[0].files.mode, 0644, "defaults: mode 0644 without a key");
	tap_int(mail->bindings[1].files.mode, 0640, "defaults: YAML 0640 read as octal");
	tap_int(mail->bindings[2].files.mode, 0600, "defaults: mode 600 read as octal");
	tap_str(mail->bindings[2].files.owner, "www-data", "defaults: owner kept");
	tap_ok(mail->n_verify == 1 && mail->verify[0].timeout == 30 && cs_streq(mail->verify[0].host, "web1") &&
	       mail->verify[0].host_index < cfg->n_hosts && &cfg->hosts[mail->verify[0].host_index] == web1,
	       "defaults: verify host inferred from the only bound host", NULL);

	size_t n = 0;
	char **names = cs_cert_names(mail, &n);
	tap_ok(n == 3 && strcmp(names[0], "autodiscover.example.org") == 0 &&
	       strcmp(names[1], "mail.example.org") == 0 && strcmp(names[2], "owa.example.org") == 0,
	       "cs_cert_names: lowercased, sorted, deduplicated", "n=%zu first=%s", n, n ? names[0] : "");
	cs_strv_free(names, n);
	cs_config_free(cfg);
	/* No host: on a certificate bound on several: checked after all of
	 * them (an address in front of several hosts), as the design sketch in
	 * tests/fixtures/design-sketch writes it. */
	cfg = load_ok("verify without host on several hosts",
		"version: 1\nissuers:\n  lab: {manual: {}}\n"
		"hosts:\n  sapphire: {platform: windows, ssh: {address: s, user: u}}\n"
		"  cobalt: {platform: windows, ssh: {address: c, user: u}}\n"
		"certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n    bindings:\n"
		"      - {host: sapphire, iis: {site: Default Web Site}}\n      - {host: cobalt, store: {}}\n"
		"    verify:\n      - {connect: \"mail.example.org:443\"}\n      - {connect: \"owa.example.org:443\", host: cobalt}\n");
	const struct cs_cert_cfg *m2 = cfg ? cs_config_cert(cfg, "mail") : NULL;
	tap_ok(m2 && m2->verify[0].all_hosts && !m2->verify[0].host && !m2->verify[1].all_hosts &&
	       cs_verify_covers(m2, &m2->verify[0], 0) && cs_verify_covers(m2, &m2->verify[0], 1) &&
	       !cs_verify_covers(m2, &m2->verify[1], 0) && cs_verify_covers(m2, &m2->verify[1], 1),
	       "verify without host on several hosts covers all of them", NULL);
	cs_config_free(cfg);

	cfg = load_ok("ecdsa and iis defaults",
		"version: 1\nissuers:\n  lab: {ca: {cert: ca.crt, key: {env: CA_KEY}}}\n"
		"hosts:\n  s: {platform: windows, ssh: {address: s, user: u, host_key_policy: accept-new}}\n"
		"certificates:\n  c:\n    common_name: \"*.example.org\"\n    issuer: lab\n"
		"    key: {type: ecdsa}\n    renew_before: 1d12h\n"
		"    bindings:\n      - {host: s, iis: {site: Intranet, hostname: intra.example.org, sni: true}}\n"
		"      - {host: s, httpsys: {hostnameport: \"intra.example.org:8443\", appid: 4dc3e181-e14b-4a21-b022-59fc669b0914}}\n");
	if (!cfg)
		return;
	const struct cs_cert_cfg *c = &cfg->certs[0];
	tap_ok(c->key.type == CS_KEY_ECDSA && c->key.curve == CS_CURVE_P256, "defaults: ecdsa means p256", NULL);
	tap_str(cs_key_spec_name(&c->key), "ecdsa p256", "defaults: ecdsa key spec name");
	tap_int(c->renew_before, 129600, "defaults: renew_before 1d12h");
	tap_int(cfg->issuers[0].ca.days, 90, "defaults: ca days 90");
	tap_ok(c->bindings[0].iis.port == 443 && cs_streq(c->bindings[0].iis.ip, "*") && c->bindings[0].iis.sni,
	       "defaults: iis port 443, ip *", NULL);
	tap_str(c->bindings[1].httpsys.appid, "{4dc3e181-e14b-4a21-b022-59fc669b0914}", "defaults: appid braced");
	/* Plan lines tell bindings of one site and port apart. */
	char *where = cs_binding_where(&c->bindings[0]);
	tap_str(where, "site Intranet port 443 hostname intra.example.org (SNI)", "iis where: hostname and SNI shown");
	free(where);
	struct cs_binding_cfg by_ip = c->bindings[0];
	by_ip.iis.ip = "10.0.0.5";
	by_ip.iis.hostname = NULL;
	by_ip.iis.sni = false;
	where = cs_binding_where(&by_ip);
	tap_str(where, "site Intranet port 443 ip 10.0.0.5", "iis where: an ip other than * shown");
	free(where);
	tap_ok(cfg->hosts[0].ssh.host_key_accept_new, "defaults: host_key_policy accept-new", NULL);
	cs_config_free(cfg);
}

/* Whatever is written where a secret belongs, the value never shows up in
 * a message. */
static void test_no_secret_in_diagnostics(void)
{
	static const char *const configs[] = {
		"version: 1\nhosts:\n  w: {platform: windows, winrm: {address: w, user: u, password: Tr0ub4dor-and-3}}\n",
		"version: 1\nhosts:\n  w: {platform: windows, winrm: {address: w, user: u, password: \"Tr0ub4dor-and-3\"}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, password: [Tr0ub4dor-and-3]}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, passphrase: {value: Tr0ub4dor-and-3}}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, passphrase: {env: \"Tr0ub4dor-and-3\"}}}\n",
		"version: 1\nissuers:\n  lab: {ca: {cert: c, key: \"-----BEGIN PRIVATE KEY----- Tr0ub4dor-and-3\"}}\n",
		"version: 1\nissuers:\n  le: {acme: {directory: https://a/d, eab: {kid: k, hmac: Tr0ub4dor-and-3}}}\n",
		"version: 1\nissuers:\n  le: {acme: {directory: https://a/d, eab: {kid: k, hmac: {env: E, file: Tr0ub4dor-and-3}}}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, password: {env: {Tr0ub4dor-and-3: 1}}}}\n",
	};
	for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
		struct cs_diags d = CS_DIAGS_INIT;
		struct cs_config *cfg = NULL;
		int r = cs_config_load_string(&cfg, "s.yaml", EXAMPLE_DIR, configs[i], strlen(configs[i]), &d);
		bool leaked = false;
		for (size_t j = 0; j < d.n; j++)
			leaked = leaked || strstr(d.v[j].msg, "Tr0ub4dor") != NULL;
		char name[64];
		snprintf(name, sizeof name, "secret %zu: refused without quoting the value", i + 1);
		tap_ok(r == -EINVAL && d.n > 0 && !leaked, name, "r=%d n=%zu first=%s", r, d.n, d.n ? d.v[0].msg : "");
		cs_config_free(cfg);
		cs_diags_free(&d);
	}
}

static void test_misc(void)
{
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load(&cfg, CS_SOURCE_ROOT "/examples/no-such-folder/certsync.yaml", &d);
	tap_ok(r == -ENOENT && cfg == NULL && d.n == 1 && d.v[0].line == 0 &&
	       strcmp(d.v[0].msg, "cannot read the config file: No such file or directory (start one with `certsync init`, or name another with -c FILE)") == 0,
	       "missing file: -ENOENT and one diagnostic", "r=%d n=%zu msg=%s", r, d.n, d.n ? d.v[0].msg : "");
	cs_diags_free(&d);

	tap_str(cs_binding_kind_name(CS_BIND_HTTPSYS), "httpsys", "cs_binding_kind_name");
	tap_str(cs_platform_name(CS_PLATFORM_WINDOWS), "windows", "cs_platform_name");
	tap_str(cs_issuer_kind_name(CS_ISSUER_ACME), "acme", "cs_issuer_kind_name");
	struct cs_key_spec p384 = { CS_KEY_ECDSA, 0, CS_CURVE_P384 };
	tap_str(cs_key_spec_name(&p384), "ecdsa p384", "cs_key_spec_name p384");

	/* Anchors and aliases are plain YAML and work; keys come out as if
	 * written twice. */
	cfg = load_ok("anchors and aliases",
		"version: 1\nissuers:\n  lab: {manual: {}}\n"
		"hosts:\n  web1: {platform: linux, ssh: &ssh {address: web1, user: deploy}}\n"
		"  web2: {platform: linux, ssh: *ssh}\n"
		"certificates:\n  a: {common_name: a.example.org, issuer: lab}\n");
	if (cfg) {
		tap_ok(cs_config_host(cfg, "web2") && cs_streq(cs_config_host(cfg, "web2")->ssh.user, "deploy"),
		       "anchors: alias copied", NULL);
		tap_ok(cs_config_host(cfg, "nope") == NULL && cs_config_cert(cfg, "b") == NULL &&
		       cs_config_issuer(cfg, NULL) == NULL, "look-ups of absent names give NULL", NULL);
	}
	cs_config_free(cfg);

	cfg = load_ok("acme issuer parses (refused later, at plan time)",
		"version: 1\nhosts:\n  web1: {platform: linux, local: {}}\n"
		"issuers:\n  le:\n    acme:\n      directory: https://acme.example/directory\n"
		"      contact: [\"mailto:ops@example.org\"]\n      eab: {kid: KID, hmac: {env: EAB_HMAC}}\n"
		"      challenge: {http-01: {host: web1, webroot: /var/www/acme}}\n      preferred_chain: ISRG Root X1\n"
		"  le2:\n    acme: {directory: https://localhost:14000/dir, challenge: {dns-01: {hook: hooks/dns.sh, propagation: 2m}}}\n");
	if (cfg) {
		const struct cs_issuer_cfg *le = cs_config_issuer(cfg, "le");
		const struct cs_issuer_cfg *le2 = cs_config_issuer(cfg, "le2");
		tap_ok(le && le->kind == CS_ISSUER_ACME && le->acme.challenge == CS_CHALLENGE_HTTP01 &&
		       le->acme.n_contact == 1 && cs_streq(le->acme.eab_kid, "KID") &&
		       cs_streq(le->acme.http01_webroot, "/var/www/acme"), "acme: http-01 webroot", NULL);
		tap_ok(le2 && le2->acme.challenge == CS_CHALLENGE_DNS01 && le2->acme.dns01_propagation == 120 &&
		       cs_streq(le2->acme.dns01_hook, EXAMPLE_DIR "/hooks/dns.sh"), "acme: dns-01 hook", NULL);
	}
	cs_config_free(cfg);
}

/* Secret references, as the rest of certsync reads them (secret.c has no
 * test program of its own; it belongs to the config module). */
static char *write_temp(const char *content, mode_t mode)
{
	char *path = cs_xstrdup("/tmp/certsync-secret-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	size_t len = strlen(content);
	bool ok = write(fd, content, len) == (ssize_t)len && fchmod(fd, mode) == 0;
	close(fd);
	if (!ok) {
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

static void test_secrets(void)
{
	struct cs_buf b = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	struct cs_secret env = { CS_SECRET_ENV, (char *)"CERTSYNC_TEST_SECRET" };
	char desc[128];
	tap_str(cs_secret_describe(&env, desc, sizeof desc), "env CERTSYNC_TEST_SECRET", "secret: describe env");

	unsetenv("CERTSYNC_TEST_SECRET");
	int r = cs_secret_resolve(&env, &b, &err);
	tap_ok(r == -ENOENT && strcmp(cs_err_msg(&err), "environment variable CERTSYNC_TEST_SECRET is not set") == 0,
	       "secret: unset variable", "r=%d msg=%s", r, cs_err_msg(&err));
	cs_err_clear(&err);
	setenv("CERTSYNC_TEST_SECRET", "", 1);
	r = cs_secret_resolve(&env, &b, &err);
	tap_ok(r == -ENOENT && strcmp(cs_err_msg(&err), "environment variable CERTSYNC_TEST_SECRET is empty") == 0,
	       "secret: empty variable", "r=%d msg=%s", r, cs_err_msg(&err));
	cs_err_clear(&err);
	setenv("CERTSYNC_TEST_SECRET", "Tr0ub4dor-and-3", 1);
	r = cs_secret_resolve(&env, &b, &err);
	tap_ok(r == 0 && b.len == 15 && strcmp(b.data, "Tr0ub4dor-and-3") == 0, "secret: env value", "r=%d", r);
	cs_buf_free_secret(&b);
	unsetenv("CERTSYNC_TEST_SECRET");

	char *path = write_temp("Tr0ub4dor-and-3\n", 0600);
	if (!path) { /* spelled out so the compiler sees path is set below */
		tap_ok(false, "secret: temporary file", NULL);
		return;
	}
	tap_ok(true, "secret: temporary file", NULL);
	struct cs_secret file = { CS_SECRET_FILE, path };
	r = cs_secret_resolve(&file, &b, &err);
	tap_ok(r == 0 && strcmp(b.data, "Tr0ub4dor-and-3\n") == 0, "secret: file keeps its newline", "r=%d", r);
	cs_buf_free_secret(&b);
	r = cs_secret_resolve_line(&file, &b, &err);
	tap_ok(r == 0 && strcmp(b.data, "Tr0ub4dor-and-3") == 0 && b.len == 15, "secret: one line without newline",
	       "r=%d", r);
	cs_buf_free_secret(&b);

	chmod(path, 0640);
	r = cs_secret_resolve(&file, &b, &err);
	char *want = cs_xasprintf("secret file %s is readable by others (mode 0640; run chmod 600 %s)", path, path);
	tap_ok(r == -EPERM && b.len == 0 && strcmp(cs_err_msg(&err), want) == 0, "secret: group-readable file refused",
	       "r=%d msg=%s", r, cs_err_msg(&err));
	free(want);
	cs_err_clear(&err);
	unlink(path);
	free(path);

	path = write_temp("line one\nline two\n", 0400);
	if (path) {
		file.ref = path;
		r = cs_secret_resolve_line(&file, &b, &err);
		tap_ok(r == -EINVAL && b.len == 0 && strstr(cs_err_msg(&err), "line one") == NULL,
		       "secret: several lines refused for a password", "r=%d msg=%s", r, cs_err_msg(&err));
		cs_err_clear(&err);
		cs_buf_free_secret(&b);
		unlink(path);
		free(path);
	}
	path = write_temp("", 0600);
	if (path) {
		file.ref = path;
		r = cs_secret_resolve(&file, &b, &err);
		tap_ok(r == -ENOENT, "secret: empty file", "r=%d msg=%s", r, cs_err_msg(&err));
		cs_err_clear(&err);
		unlink(path);
		file.ref = path;
		r = cs_secret_resolve(&file, &b, &err);
		tap_ok(r == -ENOENT, "secret: missing file", "r=%d msg=%s", r, cs_err_msg(&err));
		cs_err_clear(&err);
		free(path);
	}
	struct cs_secret none = { CS_SECRET_NONE, NULL };
	r = cs_secret_resolve(&none, &b, &err);
	tap_ok(r == -ENOENT, "secret: none configured", "r=%d", r);
	cs_err_clear(&err);
	cs_buf_free_secret(&b);
}

/* Files that are not regular files are refused at once: opening a FIFO
 * for reading used to wait for a writer forever (alarm() turns a hang into
 * a failure here). */
static void test_nonregular_files(void)
{
	char dir[] = "/tmp/certsync-test-nonreg.XXXXXX";
	if (!tap_ok(mkdtemp(dir) != NULL, "non-regular: temporary folder", NULL))
		return;
	char *fifo = cs_xasprintf("%s/fifo", dir), *folder = cs_xasprintf("%s/folder", dir);
	char *dev = cs_xasprintf("%s/zero", dir), *loop = cs_xasprintf("%s/loop", dir);
	tap_ok(mkfifo(fifo, 0600) == 0 && mkdir(folder, 0700) == 0 && symlink("/dev/zero", dev) == 0 &&
	       symlink(loop, loop) == 0, "non-regular: made", NULL);
	static const struct {
		const char *which;
		int code;
		const char *tail;
	} cases[] = {
		{ "fifo", -EINVAL, ": not a regular file (it is a fifo)" },
		{ "folder", -EINVAL, ": not a regular file (it is a folder)" },
		{ "zero", -EINVAL, ": not a regular file (it is a character device)" },
		{ "loop", -ELOOP, ": symbolic link loop" },
	};
	alarm(20);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = cs_xasprintf("%s/%s", dir, cases[i].which);
		char *want = cs_xasprintf("read %s%s", path, cases[i].tail);
		struct cs_buf b = CS_BUF_INIT;
		struct cs_err err = CS_ERR_INIT;
		int r = cs_file_read(&b, path, 0, &err);
		tap_int(r, cases[i].code, cases[i].which);
		tap_str(cs_err_msg(&err), want, cases[i].which);
		cs_err_clear(&err);
		tap_int(cs_file_check_regular(path, &err), cases[i].code, cases[i].which);
		cs_err_clear(&err);
		cs_buf_free(&b);
		free(want);
		free(path);
	}
	struct cs_secret s = { CS_SECRET_FILE, fifo };
	struct cs_buf b = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	char *want = cs_xasprintf("secret file %s is not a regular file (it is a fifo)", fifo);
	tap_int(cs_secret_resolve(&s, &b, &err), -EINVAL, "non-regular: secret file that is a fifo");
	tap_str(cs_err_msg(&err), want, "non-regular: secret fifo message");
	alarm(0);
	cs_err_clear(&err);
	cs_buf_free_secret(&b);
	free(want);
	unlink(fifo);
	rmdir(folder);
	unlink(dev);
	unlink(loop);
	rmdir(dir);
	free(fifo);
	free(folder);
	free(dev);
	free(loop);
}

/* The node limits: a large file may use aliases up to twice its own size
 * (beyond the million an alias bomb is held to), and a file is refused
 * past five million written nodes; positions are of the first node over. */
static char *big_lists(size_t lists, size_t per_list, size_t aliases)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_puts(&b, V1 "x:\n");
	for (size_t l = 0; l < lists; l++) {
		cs_buf_puts(&b, l == 0 ? "  - &a [" : "  - [");
		for (size_t i = 0; i < per_list; i++)
			cs_buf_puts(&b, i ? ",a" : "a");
		cs_buf_puts(&b, "]\n");
	}
	for (size_t k = 0; k < aliases; k++)
		cs_buf_puts(&b, "  - *a\n");
	return cs_buf_detach(&b, NULL);
}

static void test_node_limits(void)
{
	static const struct {
		size_t lists, per_list, aliases;
		const char *want; /* first diagnostic, after "LINE:COL: " */
	} cases[] = {
		/* 1.2 million written, 2.0 million with the aliases: allowed */
		{ 12, 100000, 8, "unknown key \"x\" at the top level" },
		/* a small file is held to a million with aliases */
		{ 1, 1000, 1000, "the config has more than 1000000 YAML nodes (aliases counted as their content): "
				   "certsync reads at most that many" },
		/* 1.2 million written, 2.5 million with aliases: more than twice */
		{ 12, 100000, 13, "the config has more than 24000" },
		{ 51, 100000, 0, "the config has more than 5000000 YAML nodes: certsync reads at most that many" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = big_lists(cases[i].lists, cases[i].per_list, cases[i].aliases);
		struct cs_diags d = CS_DIAGS_INIT;
		struct cs_config *cfg = NULL;
		cs_config_load_string(&cfg, "big.yaml", ".", text, strlen(text), &d);
		char name[96];
		snprintf(name, sizeof name, "%zu lists of %zu, %zu aliases", cases[i].lists, cases[i].per_list,
			 cases[i].aliases);
		const char *msg = d.n ? d.v[0].msg : "";
		tap_ok(d.n && strstr(msg, cases[i].want) != NULL, name, "got %s", msg);
		cs_config_free(cfg);
		cs_diags_free(&d);
		free(text);
	}
}

/* Diagnostics come sorted by position, those at one position in the order
 * reported; a broken file of 100,000 certificates has hundreds of
 * thousands of them, in any order, sorted in n log n (an insertion sort
 * took minutes on this list). */
/* Each certificate's issuer is found by name, not by scanning every
 * issuer: 20,000 issuers and 20,000 certificates took 4e8 comparisons. */
static void test_many_issuers(void)
{
	enum { N = 20000 };
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_puts(&b, "version: 1\nissuers:\n");
	for (int i = 0; i < N; i++)
		cs_buf_printf(&b, "  lab%d: {manual: {}}\n", i);
	cs_buf_puts(&b, "certificates:\n");
	for (int i = 0; i < N; i++)
		cs_buf_printf(&b, "  c%d: {common_name: c%d.example.com, issuer: lab%d}\n", i, i, N - 1 - i);
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	clock_t t0 = clock();
	int r = cs_config_load_string(&cfg, "t.yaml", EXAMPLE_DIR, b.data, b.len, &d);
	double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
	tap_ok(r == 0 && cfg && cfg->n_certs == N && cfg->certs[0].issuer_index == N - 1 &&
	       cfg->certs[N - 1].issuer_index == 0, "20,000 certificates of 20,000 issuers: each finds its own",
	       "r=%d, %zu diagnostics", r, d.n);
	tap_ok(s < 1.0, "20,000 certificates of 20,000 issuers loaded in under 1 s of CPU", "%.2f s", s);
	cs_config_free(cfg);
	cs_diags_free(&d);
	cs_buf_free(&b);
}

static void test_diags_sort(void)
{
	struct cs_diags d = CS_DIAGS_INIT;
	size_t n = 200000;
	/* two per line, the lines from the last to the first; the message is
	 * the order reported */
	for (size_t k = 0; k < n; k++)
		cs_diags_add(&d, "f.yaml", (int)((n - 1 - k) / 2) + 1, 1, "%zu", k);
	clock_t t0 = clock();
	cs_diags_sort(&d);
	double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
	bool sorted = d.n == n;
	for (size_t i = 1; sorted && i < d.n; i++) {
		sorted = d.v[i - 1].line < d.v[i].line ||
			 (d.v[i - 1].line == d.v[i].line && strtoul(d.v[i - 1].msg, NULL, 10) < strtoul(d.v[i].msg, NULL, 10));
	}
	tap_ok(sorted, "200,000 diagnostics in reverse order: sorted by position, stable", NULL);
	tap_ok(s < 2.0, "200,000 diagnostics sorted in under 2 s of CPU", "%.2f s", s);
	cs_diags_free(&d);
}

int main(void)
{
	test_bad_cases();
	test_all_errors_reported();
	test_typo_reported_once();
	test_motivating_example();
	test_local_example();
	test_defaults();
	test_no_secret_in_diagnostics();
	test_misc();
	test_secrets();
	test_nonregular_files();
	test_node_limits();
	test_diags_sort();
	test_many_issuers();
	return tap_done();
}
