/* Diff → plan, table-driven: each case builds real state (a local CA, the
 * store, files on this machine through the local transport), changes one
 * thing, and checks the actions, their reasons and the notices. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "reconcile/config.h"
#include "reconcile/executor.h"
#include "reconcile/observe.h"
#include "reconcile/plan.h"
#include "reconcile/store.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

static char root[] = "/tmp/certsync-test-diff-XXXXXX";
static int case_no;

struct fx {
	char *dir;
	char *config;                   /* path */
};

static void sh(const char *fmt, ...) CS_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	int r = system(cmd);
	if (r != 0)
		tap_note("command failed (%d): %s", r, cmd);
	free(cmd);
}

/* A CA made with the openssl CLI, as an operator would. */
static void make_ca(const char *dir, const char *name)
{
	sh("cd %s && mkdir -p pki && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout pki/%s.key -out pki/%s.crt -subj '/CN=%s test CA' -days 3650 2>/dev/null && chmod 600 pki/%s.key",
	   dir, name, name, name, name);
}

static const char *base_yaml =
	"version: 1\n"
	"issuers:\n"
	"  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }\n"
	"  other: { ca: { cert: pki/ca2.crt, key: { file: pki/ca2.key }, days: 90 } }\n"
	"  corp: { manual: { requests: requests/, inbox: inbox/ } }\n"
	"hosts:\n"
	"  here: { platform: linux, local: {} }\n"
	"certificates:\n"
	"  web:\n"
	"    common_name: web.test\n"
	"    dns_names: [web.test, www.web.test]\n"
	"    key: { type: %s }\n"
	"    issuer: %s\n"
	"    bindings:\n"
	"      - { host: here, files: { cert: out/web.crt, key: out/web.key, chain: out/chain.pem, fullchain: out/full.pem, reload: 'echo web >> out/reload.log' } }\n"
	"      - { host: here, files: { pem: out/web.pem, reload: 'echo web >> out/reload.log' } }\n"
	"%s";

static void fx_init(struct fx *f)
{
	case_no++;
	f->dir = cs_xasprintf("%s/case%d", root, case_no);
	sh("mkdir -p %s/out %s/inbox %s/requests", f->dir, f->dir, f->dir);
	make_ca(f->dir, "ca");
	make_ca(f->dir, "ca2");
	f->config = cs_xasprintf("%s/certsync.yaml", f->dir);
	unsetenv("CERTSYNC_NOW");
}

static void fx_config(struct fx *f, const char *key_type, const char *issuer, const char *extra)
{
	FILE *o = fopen(f->config, "w");
	fprintf(o, base_yaml, key_type, issuer, extra ? extra : "");
	fclose(o);
}

static void fx_free(struct fx *f)
{
	free(f->dir);
	free(f->config);
}

/* Observe and plan; optionally apply.  Returns the plan (caller frees). */
static struct cs_plan *run(struct fx *f, const struct cs_target *target, bool apply)
{
	struct cs_diags diags = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	if (cs_config_load(&cfg, f->config, &diags) < 0) {
		for (size_t i = 0; i < diags.n; i++)
			tap_note("config: %d:%d: %s", diags.v[i].line, diags.v[i].col, diags.v[i].msg);
		cs_diags_free(&diags);
		return NULL;
	}
	cs_diags_free(&diags);
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *store = NULL;
	struct cs_observed *obs = NULL;
	struct cs_plan *plan = NULL;
	if (cs_store_open(&store, cfg->settings.state_dir, true, &err) < 0 ||
	    cs_observe(&obs, cfg, store, target, NULL, NULL, &err) < 0 || cs_plan_make(&plan, obs, &err) < 0) {
		tap_note("plan: %s", cs_err_msg(&err));
		goto out;
	}
	if (apply) {
		struct cs_exec_summary sum;
		if (cs_execute(&sum, plan, obs, NULL, NULL) < 0)
			tap_note("apply had failures: %zu", sum.failed);
	}
out:
	cs_err_clear(&err);
	cs_observed_free(obs);
	cs_store_close(store);
	cs_config_free(cfg);
	return plan;
}

/* "renew:issue bind bind reload" — the plan's shape in one string. */
static char *shape(const struct cs_plan *p)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_append(&b, "", 0);
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct cs_action *a = &p->actions[i];
		cs_buf_printf(&b, "%s%s", i ? " " : "", cs_action_kind_name(a->kind));
		if (a->kind == CS_ACT_RENEW)
			cs_buf_printf(&b, ":%s", a->renew_mode == CS_RENEW_ISSUE ? "issue" :
				      a->renew_mode == CS_RENEW_REQUEST ? "request" : "collect");
	}
	for (size_t i = 0; i < p->n_notices; i++)
		cs_buf_printf(&b, "%s!%s", b.len ? " " : "",
			      p->notices[i].level == CS_NOTICE_ERROR ? "error" :
			      p->notices[i].level == CS_NOTICE_WAIT ? "wait" : "info");
	return cs_buf_detach(&b, NULL);
}

/* Every reason and notice text, for substring checks. */
static char *texts(const struct cs_plan *p)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_append(&b, "", 0);
	for (size_t i = 0; i < p->n_actions; i++)
		cs_buf_printf(&b, "%s | %s\n", p->actions[i].summary, p->actions[i].reason);
	for (size_t i = 0; i < p->n_notices; i++)
		cs_buf_printf(&b, "! %s\n", p->notices[i].text);
	return cs_buf_detach(&b, NULL);
}

static void check(const char *name, struct cs_plan *p, const char *want_shape, const char *want_text)
{
	if (!p) {
		tap_ok(false, name, "no plan");
		return;
	}
	char *s = shape(p), *t = texts(p);
	bool ok = !strcmp(s, want_shape) && (!want_text || strstr(t, want_text));
	tap_ok(ok, name, "shape \"%s\" (want \"%s\")\n# want text \"%s\" in:\n%s", s, want_shape,
	       want_text ? want_text : "", t);
	free(s);
	free(t);
	cs_plan_free(p);
}

#define DAY 86400LL

static void set_now(long long t)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", t);
	setenv("CERTSYNC_NOW", buf, 1);
}

/* A fixture with the certificate issued and bound; time is pinned at t0. */
static long long t0;
static void converged(struct fx *f, const char *key, const char *issuer, const char *extra)
{
	fx_init(f);
	set_now(t0);
	fx_config(f, key, issuer, extra);
	cs_plan_free(run(f, NULL, true));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *o = fopen(path, "w");
	fputs(text, o);
	fclose(o);
	chmod(path, mode);
}

static void manual_reply(struct fx *f, const char *ca, const char *names)
{
	/* openssl plays the commercial CA: sign the CSR certsync wrote. */
	sh("cd %s && printf 'subjectAltName=%s\\n' > ext.cnf && openssl x509 -req -in requests/web.csr "
	   "-CA pki/%s.crt -CAkey pki/%s.key -CAcreateserial -days 365 -extfile ext.cnf -out inbox/web.crt 2>/dev/null",
	   f->dir, names, ca, ca);
}

int main(void)
{
	if (!mkdtemp(root))
		return 1;
	t0 = (long long)cs_now();
	struct fx f;

	/* 1 missing */
	fx_init(&f);
	fx_config(&f, "rsa", "lab", NULL);
	check("missing certificate: issue, bind both, reload once", run(&f, NULL, false),
	      "renew:issue bind bind reload", "no certificate issued yet");
	fx_free(&f);

	/* 2 converged: nothing to do */
	converged(&f, "rsa", "lab", NULL);
	check("after apply: no changes", run(&f, NULL, false), "", NULL);

	/* 3 deterministic */
	{
		struct cs_plan *a = run(&f, NULL, false), *b;
		char *crt = cs_xasprintf("%s/out/web.crt", f.dir);
		write_file(crt, "junk\n", 0600);
		free(crt);
		a = (cs_plan_free(a), run(&f, NULL, false));
		b = run(&f, NULL, false);
		json_t *ja = cs_plan_to_json(a), *jb = cs_plan_to_json(b);
		char *sa = json_dumps(ja, JSON_INDENT(2)), *sb = json_dumps(jb, JSON_INDENT(2));
		tap_ok(sa && sb && !strcmp(sa, sb) && a->n_actions == 2, "same state: byte-identical plans",
		       "%s\n---\n%s", sa, sb);
		free(sa);
		free(sb);
		json_decref(ja);
		json_decref(jb);
		cs_plan_free(a);
		cs_plan_free(b);
	}
	/* 4 file drifted */
	check("cert file replaced by junk: bind with reason", run(&f, NULL, false), "bind reload",
	      "differs from the current certificate");
	fx_free(&f);

	/* 5 expiring inside renew_before */
	converged(&f, "rsa", "lab", NULL);
	set_now(t0 + 70 * DAY);
	check("expires inside renew_before 30d", run(&f, NULL, false), "renew:issue bind bind reload",
	      "inside renew_before 30d");
	/* 6 expired */
	set_now(t0 + 100 * DAY);
	check("expired", run(&f, NULL, false), "renew:issue bind bind reload", "expired on");
	/* 6b due, and a bound file is gone as well: the bind says both */
	sh("mv %s/out/web.crt %s/out/web.crt.away", f.dir, f.dir);
	check("expired, and a bound file missing: the bind says so too", run(&f, NULL, false),
	      "renew:issue bind bind reload", "the certificate is being renewed; and already: cert ");
	sh("mv %s/out/web.crt.away %s/out/web.crt", f.dir, f.dir);
	/* 7 not yet due */
	set_now(t0 + 50 * DAY);
	check("59 days left, renew_before 30d: nothing", run(&f, NULL, false), "", NULL);
	fx_free(&f);

	/* 8 names changed */
	converged(&f, "rsa", "lab", NULL);
	{
		char *p = cs_xasprintf("sed -i 's/dns_names: \\[web.test, www.web.test\\]/dns_names: [web.test, api.web.test]/' %s", f.config);
		sh("%s", p);
		free(p);
	}
	check("names changed", run(&f, NULL, false), "renew:issue bind bind reload",
	      "names changed: add api.web.test, remove www.web.test");
	fx_free(&f);

	/* 8b the common name moves to another of the same names: re-issued
	 * (the SAN set alone would not show it) */
	converged(&f, "rsa", "lab", NULL);
	sh("sed -i 's/common_name: web.test/common_name: www.web.test/' %s", f.config);
	check("common name changed, same names", run(&f, NULL, false), "renew:issue bind bind reload",
	      "common_name changed: web.test → www.web.test");
	fx_free(&f);

	/* 9 key type changed */
	converged(&f, "rsa", "lab", NULL);
	fx_config(&f, "ecdsa", "lab", NULL);
	check("key type changed", run(&f, NULL, false), "renew:issue bind bind reload",
	      "key type changed: rsa 2048 → ecdsa p256");
	fx_free(&f);

	/* 10 other issuer declared */
	converged(&f, "rsa", "lab", NULL);
	fx_config(&f, "rsa", "other", NULL);
	check("issued by another issuer", run(&f, NULL, false), "renew:issue bind bind reload",
	      "issued by lab, declared issuer is other");
	fx_free(&f);

	/* 11 the CA behind the issuer changed */
	converged(&f, "rsa", "lab", NULL);
	make_ca(f.dir, "ca"); /* a new CA key and certificate under the same name */
	check("CA replaced under the same issuer", run(&f, NULL, false), "renew:issue bind bind reload",
	      "not signed by issuer lab's current CA certificate");
	fx_free(&f);

	/* 12 file missing */
	converged(&f, "ecdsa", "lab", NULL);
	sh("rm %s/out/chain.pem", f.dir);
	check("chain file missing", run(&f, NULL, false), "bind reload", "chain");
	/* 13 key from another key pair */
	sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/out/web.key 2>/dev/null", f.dir);
	check("key file holds another key", run(&f, NULL, false), "bind reload",
	      "does not match the certificate");
	fx_free(&f);

	/* 14 mode drift */
	converged(&f, "ecdsa", "lab", NULL);
	sh("chmod 644 %s/out/web.pem", f.dir);
	check("pem mode drifted", run(&f, NULL, false), "bind reload", "mode of");
	/* 15 key file holds no key */
	sh("chmod 600 %s/out/web.pem; echo nonsense > %s/out/web.key", f.dir, f.dir);
	check("key file is garbage", run(&f, NULL, false), "bind reload", "holds no private key");
	fx_free(&f);

	/* 16 chain drifted */
	converged(&f, "ecdsa", "lab", NULL);
	sh("cp %s/pki/ca2.crt %s/out/chain.pem", f.dir, f.dir);
	check("chain drifted", run(&f, NULL, false), "bind reload", "differs from the certificate's chain");
	fx_free(&f);

	/* 17 manual: request */
	fx_init(&f);
	fx_config(&f, "rsa", "corp", NULL);
	check("manual, nothing yet: request", run(&f, NULL, false), "renew:request",
	      "no certificate issued yet");
	cs_plan_free(run(&f, NULL, true));
	{
		char *csr = cs_xasprintf("%s/requests/web.csr", f.dir);
		tap_ok(access(csr, R_OK) == 0, "manual: apply wrote requests/web.csr", "missing %s", csr);
		free(csr);
	}
	/* 18 manual: waiting */
	check("manual, request out: waiting, no action", run(&f, NULL, false), "!wait", "waiting for the CA");
	/* 19 manual: reply for the wrong names */
	manual_reply(&f, "ca", "DNS:web.test");
	check("manual reply with missing names: error, nothing installed", run(&f, NULL, false), "!error",
	      "www.web.test");
	/* 20 manual: good reply */
	manual_reply(&f, "ca", "DNS:web.test,DNS:www.web.test");
	/* The reply is the certificate alone, and chain files are bound: noted. */
	check("manual reply: collect, bind, reload (and a note: no intermediates)", run(&f, NULL, false),
	      "renew:collect bind bind reload !info", "the CA answered");
	cs_plan_free(run(&f, NULL, true));
	check("manual: after collecting, no changes", run(&f, NULL, false), "", NULL);
	{
		char *moved = cs_xasprintf("ls %s/inbox/imported/ | grep -q '^web-'", f.dir);
		tap_ok(system(moved) == 0, "manual: reply moved to inbox/imported/", NULL);
		free(moved);
	}
	fx_free(&f);

	/* 21 manual: reply for another key */
	fx_init(&f);
	fx_config(&f, "rsa", "corp", NULL);
	cs_plan_free(run(&f, NULL, true));
	sh("cd %s && openssl req -new -newkey rsa:2048 -nodes -keyout other.key -subj /CN=web.test -out other.csr 2>/dev/null"
	   " && printf 'subjectAltName=DNS:web.test,DNS:www.web.test\\n' > ext.cnf && openssl x509 -req -in other.csr"
	   " -CA pki/ca.crt -CAkey pki/ca.key -CAcreateserial -days 365 -extfile ext.cnf -out inbox/web.pem 2>/dev/null",
	   f.dir);
	check("manual reply for another key: error", run(&f, NULL, false), "!error", "pending key");
	/* 22 manual: pending request stale after names change */
	sh("rm %s/inbox/web.pem; sed -i 's/www.web.test\\]/www.web.test, new.web.test]/' %s", f.dir, f.config);
	check("manual: pending request for other names → new request", run(&f, NULL, false), "renew:request",
	      "the pending request has other names");
	fx_free(&f);

	/* 23 an acme issuer is asked for its directory at plan time: one that
	 * cannot be reached is an error, no renewal is promised.  (That a
	 * reachable one plans a synchronous issue is tested against Pebble in
	 * test_acme_http01.sh.) */
	fx_init(&f);
	fx_config(&f, "rsa", "lab", NULL);
	sh("sed -i 's|^  corp: .*|  corp: { acme: { directory: \"https://acme.test/dir\" } }|; s/issuer: lab/issuer: corp/' %s", f.config);
	check("acme issuer whose directory cannot be reached: error at plan time", run(&f, NULL, false), "!error",
	      "renewal due (no certificate issued yet), but issuer corp cannot issue: acme directory: GET https://acme.test/dir");
	fx_free(&f);

	/* 24 verify planned after bind and reload */
	fx_init(&f);
	fx_config(&f, "rsa", "lab", "    verify:\n      - { connect: \"127.0.0.1:1\", timeout: 1s }\n");
	{
		struct cs_plan *p = run(&f, NULL, false);
		bool deps = p && p->n_actions == 5 && p->actions[4].kind == CS_ACT_VERIFY &&
			    p->actions[4].n_deps == 3;
		tap_ok(deps, "verify depends on both binds and the reload", NULL);
		check("verify planned", p, "renew:issue bind bind reload verify", "must present");
	}
	fx_free(&f);

	/* 25 two reload commands */
	fx_init(&f);
	fx_config(&f, "rsa", "lab", NULL);
	sh("sed -i '0,/echo web >> out\\/reload.log/s//echo other >> out\\/reload.log/' %s", f.config);
	check("two distinct reload commands: two reloads", run(&f, NULL, false),
	      "renew:issue bind bind reload reload", NULL);
	fx_free(&f);

	/* 26 --target */
	fx_init(&f);
	fx_config(&f, "rsa", "lab", "  api:\n    common_name: api.test\n    issuer: lab\n");
	{
		char *names[] = { "api" };
		struct cs_target t = { .certs = names, .n_certs = 1 };
		check("--target cert=api: only api", run(&f, &t, false), "renew:issue", "no certificate");
		/* api is bound nowhere, web on here: host=here is web alone. */
		char *hosts[] = { "here" };
		struct cs_target th = { .hosts = hosts, .n_hosts = 1 };
		check("--target host=here: only the certificates bound on here", run(&f, &th, false),
		      "renew:issue bind bind reload", NULL);
	}
	fx_free(&f);

	/* 27 windows host that cannot be opened: error, other hosts planned */
	fx_init(&f);
	fx_config(&f, "rsa", "lab", "  win:\n    common_name: win.test\n    issuer: lab\n"
		  "    bindings: [ { host: sap, store: {} } ]\n");
	sh("sed -i 's/^  here: .*/&\\n  sap: { platform: windows, winrm: { address: sap.test, user: u, password: { env: P } } }/' %s",
	   f.config);
	check("windows host cannot be opened: error notice naming it, rest planned", run(&f, NULL, false),
	      "renew:issue renew:issue bind bind reload !error", "host sap: winrm password: environment variable P is not set");
	fx_free(&f);

	/* 28 expiry check uses the declared renew_before */
	converged(&f, "rsa", "lab", NULL);
	sh("sed -i 's/issuer: lab/issuer: lab\\n    renew_before: 60d/' %s", f.config);
	set_now(t0 + 31 * DAY);
	check("renew_before 60d: 59 days left is due", run(&f, NULL, false), "renew:issue bind bind reload",
	      "inside renew_before 60d");
	fx_free(&f);

	/* 29 the issuer cannot issue: said by plan, not discovered by apply */
	fx_init(&f);
	fx_config(&f, "rsa", "lab", NULL);
	sh("rm %s/pki/ca.crt", f.dir);
	check("CA certificate missing: error at plan time, no renew", run(&f, NULL, false), "!error",
	      "issuer lab cannot issue: read");
	make_ca(f.dir, "ca");
	sh("chmod 644 %s/pki/ca.key", f.dir);
	check("CA key readable by others: error at plan time", run(&f, NULL, false), "!error",
	      "is readable by others (mode 0644");
	sh("chmod 600 %s/pki/ca.key", f.dir);
	check("CA usable again: renew planned", run(&f, NULL, false), "renew:issue bind bind reload", NULL);
	/* A key that is not a key, or another CA's: said by plan too. */
	sh("cp %s/pki/ca.key %s/pki/ca.key.good && echo not-a-key >%s/pki/ca.key", f.dir, f.dir, f.dir);
	check("CA key unparsable: error at plan time", run(&f, NULL, false), "!error", "issuer lab cannot issue: CA key");
	sh("cd %s/pki && openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null && chmod 600 ca.key",
	   f.dir);
	check("CA key of another CA: error at plan time", run(&f, NULL, false), "!error",
	      "does not belong to certificate");
	sh("mv %s/pki/ca.key.good %s/pki/ca.key", f.dir, f.dir);
	fx_free(&f);

	char *rm = cs_xasprintf("rm -rf %s", root);
	sh("%s", rm);
	free(rm);
	return tap_done();
}
