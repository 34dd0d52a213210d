/* Tests for the issuer registry and the manual issuer: the CSR goes out to
 * requests/, replies signed by the openssl CLI (acting as the CA) come back
 * through inbox/ in several forms, and wrong replies are refused with a
 * message a person can act on. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "providers/issuer/issuer.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"
#include "reconcile/store.h"

static char tmpdir[] = "/tmp/certsync-issuers-XXXXXX";

static int sh(const char *cmd)
{
	char *full = cs_xasprintf("cd '%s' && { %s; } >/dev/null 2>&1", tmpdir, cmd);
	int st = system(full);
	free(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *tmp_path(const char *rel)
{
	return cs_xasprintf("%s/%s", tmpdir, rel);
}

static bool exists(const char *rel)
{
	char *p = tmp_path(rel);
	struct stat st;
	bool e = stat(p, &st) == 0;
	free(p);
	return e;
}

static char *mail_dns[] = { "mail.example.org", "owa.example.org" };
static const struct cs_cert_cfg mail = {
	.name = "mail",
	.common_name = "mail.example.org",
	.dns_names = mail_dns,
	.n_dns_names = 2,
	.key = { CS_KEY_RSA, 2048, CS_CURVE_NONE },
	.issuer = "verisign",
};

static void test_registry(void)
{
	tap_ok(cs_issuer_ops_for(CS_ISSUER_CA) == &cs_issuer_ca, "registry: ca", NULL);
	tap_ok(cs_issuer_ops_for(CS_ISSUER_MANUAL) == &cs_issuer_manual, "registry: manual", NULL);
	tap_ok(cs_issuer_ops_for(CS_ISSUER_ACME) == &cs_issuer_acme, "registry: acme", NULL);
	tap_ok(!cs_issuer_acme.asynchronous && cs_issuer_acme.issue_ctx && cs_issuer_acme.renewal_window,
	       "registry: acme is synchronous with issue_ctx and renewal_window", NULL);
	/* The local CA takes a context for the identity kept before signing
	 * (one issuance per renewal); windows stay the CA's. */
	tap_ok(cs_issuer_ca.issue_ctx && !cs_issuer_ca.renewal_window && !cs_issuer_manual.issue_ctx &&
	       !cs_issuer_manual.renewal_window, "registry: ca and manual have no renewal windows, manual no issue_ctx",
	       NULL);
	tap_ok(!cs_issuer_ca.asynchronous && cs_issuer_manual.asynchronous,
	       "registry: manual is asynchronous", NULL);
	tap_ok(cs_issuer_manual.reply_location && !cs_issuer_ca.reply_location && !cs_issuer_acme.reply_location,
	       "registry: manual says where the reply goes", NULL);
	cs_issuer_reply_free(NULL);
}

/* Sign requests/<csr> as the CA with the openssl CLI; extra: extfile lines. */
static int ca_sign(const char *csr, const char *out, const char *san, const char *days_opt)
{
	char *cmd = cs_xasprintf(
		"printf 'subjectAltName=%s\\nextendedKeyUsage=serverAuth\\n' > sign.ext && "
		"openssl x509 -req -in %s -CA ca.crt -CAkey ca.key -CAcreateserial %s "
		"-extfile sign.ext -out %s", san, csr, days_opt ? days_opt : "-days 30", out);
	int r = sh(cmd);
	free(cmd);
	return r;
}

struct fixture {
	struct cs_issuer_cfg iss;
	struct cs_pending pending;
	EVP_PKEY *other_key;
};

static bool setup(struct fixture *fx)
{
	memset(fx, 0, sizeof *fx);
	fx->iss.name = "verisign";
	fx->iss.kind = CS_ISSUER_MANUAL;
	fx->iss.manual.requests = tmp_path("requests");
	fx->iss.manual.inbox = tmp_path("inbox");
	if (sh("mkdir inbox && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt"
	       " -subj '/CN=Manual Test CA' -days 3650"
	       " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign") != 0)
		return false;
	size_t n = 0;
	char **names = cs_cert_names(&mail, &n);
	cs_key_generate(&fx->pending.key, &mail.key, NULL);
	cs_key_generate(&fx->other_key, &mail.key, NULL);
	int r = cs_csr_create(&fx->pending.csr, fx->pending.key, mail.common_name, names, n, NULL);
	cs_strv_free(names, n);
	fx->pending.issuer = cs_xstrdup("verisign");
	return r == 0;
}

static void teardown(struct fixture *fx)
{
	free(fx->iss.manual.requests);
	free(fx->iss.manual.inbox);
	cs_pending_free(&fx->pending);
	EVP_PKEY_free(fx->other_key);
}

static void test_issue(struct fixture *fx)
{
	struct cs_err err = CS_ERR_INIT;
	X509 *cert = (X509 *)1;
	STACK_OF(X509) *chain = (STACK_OF(X509) *)1;
	int r = cs_issuer_manual.issue(&fx->iss, &mail, fx->pending.csr, &cert, &chain, &err);
	tap_ok(r == 0, "manual issue", "%s", cs_err_msg(&err));
	tap_ok(cert == NULL && chain == NULL, "manual issue returns no certificate", NULL);
	char *p = tmp_path("requests/mail.csr");
	struct stat st;
	tap_ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644, "request written 0644", NULL);
	struct cs_buf b = CS_BUF_INIT;
	X509_REQ *back = NULL;
	cs_file_read(&b, p, 0, NULL);
	r = cs_csr_parse(&back, b.data, b.len, &err);
	tap_ok(r == 0 && cs_key_matches_csr(fx->pending.key, back), "request is the pending csr", NULL);
	tap_ok(sh("ls -a requests | grep -q certsync-") == 1, "no temporary file left in requests/", NULL);
	char *loc = cs_issuer_manual.request_location(&fx->iss, &mail);
	tap_str(loc, p, "request location");
	free(loc);
	tap_int(cs_issuer_manual.issued_by(&fx->iss, NULL), -1, "manual issued_by cannot tell");
	X509_REQ_free(back);
	cs_buf_free(&b);
	free(p);
	cs_err_clear(&err);
}

static int collect(struct fixture *fx, struct cs_issuer_reply *reply, struct cs_err *err)
{
	return cs_issuer_manual.collect(reply, &fx->iss, &mail, fx->pending.key, err);
}

static char *serial_of_file(const char *rel)
{
	char *p = tmp_path(rel);
	struct cs_buf b = CS_BUF_INIT;
	STACK_OF(X509) *certs = NULL;
	struct cs_cert_info info;
	char *s = NULL;
	if (cs_file_read(&b, p, 0, NULL) == 0 && cs_certs_parse(&certs, b.data, b.len, NULL) == 0 &&
	    cs_cert_info_get(&info, sk_X509_value(certs, 0), NULL) == 0) {
		s = cs_xstrdup(info.serial);
		cs_cert_info_free(&info);
	}
	sk_X509_pop_free(certs, X509_free);
	cs_buf_free(&b);
	free(p);
	return s;
}

static void test_collect(struct fixture *fx)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_issuer_reply reply;
	const char *names = "DNS:mail.example.org,DNS:owa.example.org";

	int r = collect(fx, &reply, &err);
	tap_int(r, -ENOENT, "collect: empty inbox");
	cs_err_clear(&err);

	/* Good replies in each form the CA might send. */
	static const struct {
		const char *make;   /* after signing into signed.pem */
		const char *file;
		int chain;
	} forms[] = {
		{ "cp signed.pem inbox/mail.crt", "mail.crt", 0 },
		{ "cat signed.pem ca.crt > inbox/mail.pem", "mail.pem", 1 },
		{ "openssl x509 -in signed.pem -outform DER -out inbox/mail.der", "mail.der", 0 },
		{ "openssl x509 -in signed.pem -outform DER -out inbox/mail.cer", "mail.cer", 0 },
		{ "cat ca.crt signed.pem > b.pem && openssl crl2pkcs7 -nocrl -certfile b.pem -outform DER -out inbox/mail.p7b",
		  "mail.p7b", 1 },
		/* Certificate and chain sent as two files. */
		{ "cp signed.pem inbox/mail.crt && openssl crl2pkcs7 -nocrl -certfile ca.crt -out inbox/mail.p7c",
		  "mail.crt", 1 },
	};
	tap_int(ca_sign("requests/mail.csr", "signed.pem", names, NULL), 0, "openssl signs the request");
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		char name[96];
		sh("rm -f inbox/mail.*");
		sh(forms[i].make);
		r = collect(fx, &reply, &err);
		snprintf(name, sizeof name, "collect %s (%zu)", forms[i].file, i);
		if (tap_ok(r == 0, name, "%s", cs_err_msg(&err))) {
			char *want = cs_xasprintf("%s/inbox/%s", tmpdir, forms[i].file);
			tap_str(reply.path, want, "reply path");
			free(want);
			tap_ok(cs_key_matches_cert(fx->pending.key, reply.cert), "reply leaf matches the key", NULL);
			tap_int(reply.chain ? sk_X509_num(reply.chain) : -1, forms[i].chain, "reply chain");
		}
		cs_issuer_reply_free(&reply);
		cs_err_clear(&err);
	}
	sh("rm -f inbox/mail.*");

	/* A reply for another request (another key). */
	size_t n = 0;
	char **nv = cs_cert_names(&mail, &n);
	X509_REQ *other_csr = NULL;
	cs_csr_create(&other_csr, fx->other_key, mail.common_name, nv, n, NULL);
	cs_strv_free(nv, n);
	struct cs_buf pem = CS_BUF_INIT;
	cs_csr_to_pem(&pem, other_csr, NULL);
	char *op = tmp_path("other.csr");
	cs_file_write_atomic(op, pem.data, pem.len, 0644, (uid_t)-1, (gid_t)-1, NULL);
	free(op);
	cs_buf_free(&pem);
	X509_REQ_free(other_csr);
	ca_sign("other.csr", "other-signed.pem", names, NULL);
	sh("cp other-signed.pem inbox/mail.pem");
	r = collect(fx, &reply, &err);
	tap_int(r, -EINVAL, "collect: reply for another key");
	char *serial = serial_of_file("other-signed.pem");
	char *want = cs_xasprintf("issuer verisign: %s/inbox/mail.pem: certificate CN=mail.example.org, "
				  "serial %s does not match the pending key of mail (it answers another request)",
				  tmpdir, serial);
	tap_str(err.msg, want, "collect: another key message");
	free(want);
	cs_err_clear(&err);

	/* Two files that disagree about the answer. */
	sh("cp signed.pem inbox/mail.crt");
	r = collect(fx, &reply, &err);
	tap_int(r, -EINVAL, "collect: files disagree");
	want = cs_xasprintf("%s/inbox/mail.pem and %s/inbox/mail.crt hold different certificates for mail",
			    tmpdir, tmpdir);
	tap_ok(err.msg && strstr(err.msg, want), "collect: disagreement names both files", "%s", cs_err_msg(&err));
	free(want);
	free(serial);
	cs_err_clear(&err);
	sh("rm -f inbox/mail.*");

	/* Names other than the declared ones. */
	ca_sign("requests/mail.csr", "wrong-names.pem", "DNS:mail.example.org,DNS:www.example.org", NULL);
	sh("cp wrong-names.pem inbox/mail.crt");
	r = collect(fx, &reply, &err);
	tap_int(r, -EINVAL, "collect: wrong names");
	want = cs_xasprintf("issuer verisign: %s/inbox/mail.crt: certificate names do not match mail: "
			    "missing owa.example.org; unexpected www.example.org", tmpdir);
	tap_str(err.msg, want, "collect: wrong names message");
	free(want);
	cs_err_clear(&err);
	ca_sign("requests/mail.csr", "fewer-names.pem", "DNS:mail.example.org", NULL);
	sh("cp fewer-names.pem inbox/mail.crt");
	r = collect(fx, &reply, &err);
	want = cs_xasprintf("issuer verisign: %s/inbox/mail.crt: certificate names do not match mail: "
			    "missing owa.example.org", tmpdir);
	tap_str(err.msg, want, "collect: missing name message");
	free(want);
	cs_err_clear(&err);

	/* Expired (seen from a clock 40 days ahead); not yet valid is fine. */
	sh("cp signed.pem inbox/mail.crt");
	char pin[32];
	snprintf(pin, sizeof pin, "%lld", (long long)time(NULL) + 40 * 86400);
	setenv("CERTSYNC_NOW", pin, 1);
	r = collect(fx, &reply, &err);
	tap_int(r, -EINVAL, "collect: expired reply");
	tap_ok(err.msg && strstr(err.msg, " expired on "), "collect: expired message", "%s", cs_err_msg(&err));
	cs_err_clear(&err);
	snprintf(pin, sizeof pin, "%lld", (long long)time(NULL) - 40 * 86400);
	setenv("CERTSYNC_NOW", pin, 1);
	r = collect(fx, &reply, &err);
	tap_int(r, 0, "collect: not yet valid is fine");
	cs_issuer_reply_free(&reply);
	unsetenv("CERTSYNC_NOW");
	cs_err_clear(&err);

	/* Not a certificate at all. */
	sh("rm -f inbox/mail.* && echo 'thanks for your order' > inbox/mail.pem");
	r = collect(fx, &reply, &err);
	tap_int(r, -EINVAL, "collect: not a certificate");
	want = cs_xasprintf("issuer verisign: %s/inbox/mail.pem: no certificate found", tmpdir);
	tap_str(err.msg, want, "collect: not a certificate message");
	free(want);
	cs_err_clear(&err);

	/* Only the CA's certificate. */
	sh("cp ca.crt inbox/mail.pem");
	r = collect(fx, &reply, &err);
	tap_int(r, -EINVAL, "collect: only the CA certificate");
	cs_err_clear(&err);

	/* collected() moves every reply file away. */
	sh("rm -f inbox/mail.* && cp signed.pem inbox/mail.crt && openssl crl2pkcs7 -nocrl -certfile ca.crt -out inbox/mail.p7c");
	r = collect(fx, &reply, &err);
	tap_int(r, 0, "collect before collected");
	if (r == 0) {
		r = cs_issuer_manual.collected(&fx->iss, &reply, &err);
		tap_ok(r == 0, "collected", "%s", cs_err_msg(&err));
		serial = serial_of_file("signed.pem");
		char *a = cs_xasprintf("inbox/imported/mail-%s.crt", serial);
		char *b = cs_xasprintf("inbox/imported/mail-%s.p7c", serial);
		tap_ok(exists(a) && exists(b), "reply files moved to inbox/imported", "%s", a);
		tap_ok(!exists("inbox/mail.crt") && !exists("inbox/mail.p7c"), "inbox emptied", NULL);
		free(a);
		free(b);
		free(serial);
		cs_issuer_reply_free(&reply);
		tap_int(collect(fx, &reply, &err), -ENOENT, "nothing to collect afterwards");
	}
	cs_issuer_reply_free(&reply);
	cs_err_clear(&err);
}

/* Signing again with the identity kept before the first signing (as a
 * rerun after a crash does) gives the same serial and validity; without
 * one, every signing is a new certificate. */
static void test_ca_identity(struct fixture *fx)
{
	struct cs_issuer_cfg ca = { .name = "lab", .kind = CS_ISSUER_CA };
	ca.ca.cert = tmp_path("ca.crt");
	ca.ca.key.kind = CS_SECRET_FILE;
	ca.ca.key.ref = tmp_path("ca.key");
	ca.ca.days = 30;
	X509 *a = NULL, *b = NULL, *c = NULL;
	STACK_OF(X509) *ch = NULL;
	struct cs_err err = CS_ERR_INIT;
	struct cs_issue_ctx ctx = { .key = fx->pending.key, .serial = "7A11CE0F00D", .issue_time = 1767225600 };
	int r = cs_issuer_ca.issue_ctx(&ctx, &ca, &mail, fx->pending.csr, &a, &ch, &err);
	sk_X509_pop_free(ch, X509_free);
	ch = NULL;
	if (r == 0)
		r = cs_issuer_ca.issue_ctx(&ctx, &ca, &mail, fx->pending.csr, &b, &ch, &err);
	sk_X509_pop_free(ch, X509_free);
	ch = NULL;
	if (r == 0)
		r = cs_issuer_ca.issue(&ca, &mail, fx->pending.csr, &c, &ch, &err);
	sk_X509_pop_free(ch, X509_free);
	tap_ok(r == 0, "ca signs with a kept identity", "%s", cs_err_msg(&err));
	struct cs_cert_info ia, ib, ic;
	if (r == 0 && cs_cert_info_get(&ia, a, NULL) == 0 && cs_cert_info_get(&ib, b, NULL) == 0 &&
	    cs_cert_info_get(&ic, c, NULL) == 0) {
		tap_ok(!strcasecmp(ia.serial, "7A11CE0F00D") && !strcasecmp(ia.serial, ib.serial),
		       "signed twice: the kept serial both times", "%s %s", ia.serial, ib.serial);
		tap_ok(ia.not_after == ib.not_after && ia.not_before == ib.not_before &&
		       ia.not_after == 1767225600 + 30 * 86400, "signed twice: the same validity", NULL);
		tap_ok(strcasecmp(ic.serial, ia.serial) != 0, "without a kept identity: a new serial", NULL);
		cs_cert_info_free(&ia);
		cs_cert_info_free(&ib);
		cs_cert_info_free(&ic);
	}
	X509_free(a);
	X509_free(b);
	X509_free(c);
	free(ca.ca.cert);
	free(ca.ca.key.ref);
	cs_err_clear(&err);
}

/* The local CA keeps its certificate and key parsed for the run: whatever
 * changes in their files is seen at the next call all the same. */
static void test_ca_files_change(struct fixture *fx)
{
	struct cs_issuer_cfg ca = { .name = "lab", .kind = CS_ISSUER_CA, .ca.days = 30 };
	ca.ca.cert = tmp_path("lab.crt");
	ca.ca.key.kind = CS_SECRET_FILE;
	ca.ca.key.ref = tmp_path("lab.key");
	static const char make[] = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
				   "-out %s -subj '/CN=Lab CA' -days 3650 -addext basicConstraints=critical,CA:TRUE "
				   "-addext keyUsage=critical,keyCertSign 2>/dev/null && chmod 600 %s";
	char *cmd = cs_xasprintf(make, "lab.key", "lab.crt", "lab.key");
	char *cmd2 = cs_xasprintf(make, "lab2.key", "lab2.crt", "lab2.key");
	struct cs_err err = CS_ERR_INIT;
	X509 *x = NULL;
	STACK_OF(X509) *ch = NULL;
	if (!tap_ok(sh(cmd) == 0 && sh(cmd2) == 0, "ca files: two CAs made", NULL))
		goto out;
	tap_int(cs_issuer_ca.ready(&ca, &err), 0, "ca files: ready");
	int r = cs_issuer_ca.issue(&ca, &mail, fx->pending.csr, &x, &ch, &err);
	tap_ok(r == 0, "ca files: issued", "%s", cs_err_msg(&err));
	if (r < 0)
		goto out;
	tap_int(cs_issuer_ca.issued_by(&ca, x), 1, "ca files: issued by it");
	tap_int(cs_issuer_ca.ready(&ca, &err), 0, "ca files: ready again (kept)");

	sh("chmod 644 lab.key");
	cs_err_clear(&err);
	r = cs_issuer_ca.ready(&ca, &err);
	tap_ok(r < 0 && strstr(cs_err_msg(&err), "lab.key"), "ca files: a key made readable is refused at once", "%d %s",
	       r, cs_err_msg(&err));
	sh("chmod 600 lab.key");
	cs_err_clear(&err);
	tap_int(cs_issuer_ca.ready(&ca, &err), 0, "ca files: ready once private again");

	sh("cp lab2.key lab.key.new && mv lab.key.new lab.key");
	cs_err_clear(&err);
	r = cs_issuer_ca.ready(&ca, &err);
	tap_ok(r < 0 && strstr(cs_err_msg(&err), "does not belong"), "ca files: another key is seen", "%d %s", r,
	       cs_err_msg(&err));

	sh("cp lab2.crt lab.crt.new && mv lab.crt.new lab.crt");
	cs_err_clear(&err);
	tap_int(cs_issuer_ca.ready(&ca, &err), 0, "ca files: the new CA, whole, is ready");
	tap_int(cs_issuer_ca.issued_by(&ca, x), 0, "ca files: the old certificate is not the new CA's");
out:
	X509_free(x);
	sk_X509_pop_free(ch, X509_free);
	free(cmd);
	free(cmd2);
	free(ca.ca.cert);
	free(ca.ca.key.ref);
	cs_err_clear(&err);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_registry();
	struct fixture fx;
	if (tap_ok(setup(&fx), "fixtures", NULL)) {
		test_issue(&fx);
		test_collect(&fx);
		test_ca_identity(&fx);
		test_ca_files_change(&fx);
	}
	teardown(&fx);
	char *rm = cs_xasprintf("rm -rf '%s'", tmpdir);
	if (system(rm) != 0)
		tap_note("could not remove %s", tmpdir);
	free(rm);
	return tap_done();
}
