/* Tests for providers/base/pkcs12.c: files built in the default and the
 * legacy format hold the key, the certificate and the chain under the
 * friendly name, read back to the view the inputs predict whatever the
 * random salts, are refused with another password, and are what the
 * openssl CLI reads and describes. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "providers/base/pkcs12.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"

static char tmpdir[] = "/tmp/certsync-pkcs12-XXXXXX";

/* Run a shell command inside tmpdir (PASS in its environment); its exit
 * status. */
static int sh(const char *cmd)
{
	char *full = cs_xasprintf("cd '%s' && { %s; } >/dev/null 2>&1", tmpdir, cmd);
	int st = system(full);
	free(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Everything a command prints (stdout and stderr), run inside tmpdir. */
static char *sh_out(const char *cmd)
{
	char *full = cs_xasprintf("cd '%s' && { %s; } 2>&1", tmpdir, cmd);
	FILE *f = popen(full, "r");
	free(full);
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_append(&b, "", 0);
	char line[1024];
	while (f && fgets(line, sizeof line, f))
		cs_buf_puts(&b, line);
	if (f)
		pclose(f);
	return cs_buf_detach(&b, NULL);
}

static char *tmp_path(const char *name)
{
	return cs_xasprintf("%s/%s", tmpdir, name);
}

static void write_tmp(const char *name, const void *data, size_t len)
{
	char *p = tmp_path(name);
	cs_file_write_atomic(p, data, len, 0600, (uid_t)-1, (gid_t)-1, NULL);
	free(p);
}

static STACK_OF(X509) *load_certs(const char *name)
{
	struct cs_buf b = CS_BUF_INIT;
	STACK_OF(X509) *certs = NULL;
	char *p = tmp_path(name);
	if (cs_file_read(&b, p, 0, NULL) == 0)
		cs_certs_parse(&certs, b.data, b.len, NULL);
	free(p);
	cs_buf_free(&b);
	return certs;
}

static EVP_PKEY *load_key(const char *name)
{
	struct cs_buf b = CS_BUF_INIT;
	EVP_PKEY *k = NULL;
	char *p = tmp_path(name);
	if (cs_file_read(&b, p, 0, NULL) == 0)
		cs_key_parse(&k, b.data, b.len, NULL);
	free(p);
	cs_buf_free_secret(&b);
	return k;
}

/* A root, an intermediate, a leaf with an RSA key, and an unrelated key. */
static bool make_fixtures(void)
{
	static const char *const steps[] = {
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.crt"
		" -subj '/CN=Test Root' -days 3650"
		" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
		"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key"
		" -out inter.csr -subj '/CN=Test Intermediate'",
		"printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n' > ca.ext",
		"openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key -CAcreateserial"
		" -days 3650 -extfile ca.ext -out inter.crt",
		"openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj '/CN=app.example.org'",
		"openssl x509 -req -in leaf.csr -CA inter.crt -CAkey inter.key -CAcreateserial -days 30 -out leaf.crt",
		"cat inter.crt root.crt > chain.crt",
		"cat root.crt inter.crt > chain-reversed.crt",
		"openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out other.key",
		/* a serial whose first byte is below 0x10: whole-byte hex would print "0A…" */
		"openssl x509 -req -in leaf.csr -CA inter.crt -CAkey inter.key -set_serial 0x0A1B2C3D"
		" -days 30 -out low-serial.crt",
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (sh(steps[i]) != 0) {
			tap_note("fixture step failed: %s", steps[i]);
			return false;
		}
	}
	return true;
}

/* A case's name (valid until the next call). */
static const char *nm(const char *fmt, ...) CS_PRINTF(1, 2);
static const char *nm(const char *fmt, ...)
{
	static char name[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	return name;
}

static const char password[] = "s3cret pass \"with' quotes";

static void test_build(EVP_PKEY *key, X509 *leaf, STACK_OF(X509) *chain, STACK_OF(X509) *reversed,
		       EVP_PKEY *other)
{
	static const struct {
		const char *name;
		bool legacy;
		const char *format;
		const char *cli_says;    /* in `openssl pkcs12 -info` */
	} formats[] = {
		{ "default", false, "key aes-256-cbc, certificates aes-256-cbc, mac sha256",
		  "PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256" },
		{ "legacy", true, "key 3des, certificates 3des, mac sha1",
		  "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048" },
	};
	setenv("PASS", password, 1);
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		const char *fmt = formats[i].name;
		struct cs_buf a = CS_BUF_INIT, b = CS_BUF_INIT;
		struct cs_err err = CS_ERR_INIT;
		int r = cs_pkcs12_build(&a, key, leaf, chain, "app", password, formats[i].legacy, &err);
		tap_ok(r == 0, nm("%s: built", fmt), "%s", cs_err_msg(&err));
		cs_pkcs12_build(&b, key, leaf, chain, "app", password, formats[i].legacy, &err);
		tap_ok(a.len != b.len || memcmp(a.data, b.data, a.len) != 0,
		       nm("%s: two builds differ in their bytes (random salts)", fmt), NULL);

		struct cs_pkcs12_view want, got, got_b, want_rev;
		cs_pkcs12_expect(&want, key, leaf, chain, "app", formats[i].legacy, &err);
		r = cs_pkcs12_read(&got, a.data, a.len, password, &err);
		tap_ok(r == 0, nm("%s: read back with the password", fmt), "%s", cs_err_msg(&err));
		tap_str(got.format, formats[i].format, nm("%s: format seen", fmt));
		tap_str(got.name, "app", nm("%s: friendly name", fmt));
		tap_ok(cs_pkcs12_view_equal(&got, &want), nm("%s: holds what the inputs predict", fmt),
		       "got %s %s %s %s / want %s %s %s %s", got.format, got.key, got.cert, got.chain, want.format,
		       want.key, want.cert, want.chain);
		cs_pkcs12_read(&got_b, b.data, b.len, password, &err);
		tap_ok(cs_pkcs12_view_equal(&got_b, &want), nm("%s: the other build too", fmt), NULL);
		tap_ok(got.chain && strchr(got.chain, ',') != NULL, nm("%s: both chain certificates", fmt),
		       "%s", got.chain ? got.chain : "(null)");
		cs_pkcs12_expect(&want_rev, key, leaf, reversed, "app", formats[i].legacy, &err);
		tap_ok(cs_pkcs12_view_equal(&got, &want_rev),
		       nm("%s: the chain's order does not matter", fmt), NULL);

		struct cs_pkcs12_view wrong;
		r = cs_pkcs12_read(&wrong, a.data, a.len, "another password", &err);
		tap_int(r, -EACCES, nm("%s: another password is refused", fmt));
		tap_ok(!strstr(cs_err_msg(&err), password), nm("%s: the message has no password", fmt),
		       "%s", cs_err_msg(&err));
		cs_err_clear(&err);
		cs_pkcs12_view_free(&wrong);

		/* What differs is seen. */
		struct cs_pkcs12_view v;
		cs_pkcs12_expect(&v, other, leaf, chain, "app", formats[i].legacy, &err);
		tap_ok(!cs_pkcs12_view_equal(&got, &v), nm("%s: another key differs", fmt), NULL);
		cs_pkcs12_view_free(&v);
		cs_pkcs12_expect(&v, key, leaf, NULL, "app", formats[i].legacy, &err);
		tap_ok(!cs_pkcs12_view_equal(&got, &v), nm("%s: no chain differs", fmt), NULL);
		cs_pkcs12_view_free(&v);
		cs_pkcs12_expect(&v, key, leaf, chain, "other", formats[i].legacy, &err);
		tap_ok(!cs_pkcs12_view_equal(&got, &v), nm("%s: another name differs", fmt), NULL);
		cs_pkcs12_view_free(&v);
		cs_pkcs12_expect(&v, key, leaf, chain, "app", !formats[i].legacy, &err);
		tap_ok(!cs_pkcs12_view_equal(&got, &v), nm("%s: the other format differs", fmt), NULL);
		cs_pkcs12_view_free(&v);

		/* The openssl CLI reads it and names the algorithms. */
		char *file = cs_xasprintf("%s.p12", fmt);
		write_tmp(file, a.data, a.len);
		char *cmd = cs_xasprintf("openssl pkcs12 -in %s -passin env:PASS -nodes -info", file);
		char *said = sh_out(cmd);
		tap_ok(strstr(said, formats[i].cli_says) != NULL, nm("%s: openssl -info names it", fmt),
		       "%s", said ? said : "");
		tap_ok(strstr(said, "friendlyName: app") != NULL && strstr(said, "BEGIN PRIVATE KEY") &&
			       strstr(said, "CN = Test Intermediate") && strstr(said, "CN = Test Root"),
		       nm("%s: openssl finds the name, the key and the chain", fmt), NULL);
		free(said);
		free(cmd);
		cmd = cs_xasprintf("openssl pkcs12 -in %s -passin pass:wrong -noout", file);
		tap_ok(sh(cmd) != 0, nm("%s: openssl refuses another password", fmt), NULL);
		free(cmd);
		free(file);

		cs_pkcs12_view_free(&want);
		cs_pkcs12_view_free(&want_rev);
		cs_pkcs12_view_free(&got);
		cs_pkcs12_view_free(&got_b);
		cs_buf_free_secret(&a);
		cs_buf_free_secret(&b);
	}

	/* A file made by the openssl CLI in its own default format reads too,
	 * with that format named. */
	if (sh("openssl pkcs12 -export -in leaf.crt -inkey leaf.key -certfile chain.crt -name app"
	       " -passout env:PASS -out cli.p12") == 0) {
		struct cs_buf b = CS_BUF_INIT;
		char *p = tmp_path("cli.p12");
		cs_file_read(&b, p, 0, NULL);
		struct cs_pkcs12_view got, want;
		struct cs_err err = CS_ERR_INIT;
		int r = cs_pkcs12_read(&got, b.data, b.len, password, &err);
		cs_pkcs12_expect(&want, key, leaf, chain, "app", false, &err);
		tap_ok(r == 0 && !strcmp(got.key, want.key) && !strcmp(got.cert, want.cert) &&
			       cs_streq(got.chain, want.chain) && cs_streq(got.name, "app"),
		       "a file the openssl CLI made reads", "%s", cs_err_msg(&err));
		cs_pkcs12_view_free(&got);
		cs_pkcs12_view_free(&want);
		cs_buf_free(&b);
		free(p);
	} else {
		tap_ok(false, "openssl pkcs12 -export", NULL);
	}

	static const struct {
		const char *name;
		const char *data;
		size_t len;
	} junk[] = {
		{ "empty", "", 0 },
		{ "PEM text", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 58 },
		{ "DER that is not PKCS#12", "\x30\x03\x02\x01\x01", 5 },
	};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		struct cs_pkcs12_view v;
		struct cs_err err = CS_ERR_INIT;
		int r = cs_pkcs12_read(&v, junk[i].data, junk[i].len, password, &err);
		tap_int(r, -EINVAL, nm("junk (%s) is not PKCS#12", junk[i].name));
		tap_str(cs_err_msg(&err), "not a PKCS#12 file", nm("junk (%s): message", junk[i].name));
		cs_err_clear(&err);
		cs_pkcs12_view_free(&v);
	}
	unsetenv("PASS");
}

/* The view shows a serial as every other place does (x509.h: no leading
 * zeros), so a plan reason about a PFX names the same serial as the rest. */
static void test_serial_form(EVP_PKEY *key, X509 *cert)
{
	struct cs_buf pfx = CS_BUF_INIT;
	struct cs_pkcs12_view got = { 0 }, want = { 0 };
	struct cs_err err = CS_ERR_INIT;
	struct cs_cert_info info = { 0 };
	int r = cs_pkcs12_build(&pfx, key, cert, NULL, "app", password, false, &err);
	if (r == 0)
		r = cs_pkcs12_read(&got, pfx.data, pfx.len, password, &err);
	if (r == 0)
		r = cs_pkcs12_expect(&want, key, cert, NULL, "app", false, &err);
	if (r == 0)
		r = cs_cert_info_get(&info, cert, &err);
	if (tap_int(r, 0, "serial form: build, read, expect")) {
		tap_str(info.serial, "A1B2C3D", "serial form: x509 writes no leading zero");
		tap_str(got.serial, info.serial, "serial form: a PFX read shows the serial as x509 does");
		tap_str(want.serial, info.serial, "serial form: the expected PFX shows it the same way");
	} else
		tap_note("%s", cs_err_msg(&err));
	cs_cert_info_free(&info);
	cs_pkcs12_view_free(&got);
	cs_pkcs12_view_free(&want);
	cs_buf_free(&pfx);
	cs_err_clear(&err);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (tap_ok(make_fixtures(), "fixtures made with the openssl CLI", NULL)) {
		EVP_PKEY *key = load_key("leaf.key"), *other = load_key("other.key");
		STACK_OF(X509) *leaf = load_certs("leaf.crt"), *chain = load_certs("chain.crt"),
			       *reversed = load_certs("chain-reversed.crt"), *low = load_certs("low-serial.crt");
		if (tap_ok(key && other && leaf && chain && reversed, "fixtures loaded", NULL))
			test_build(key, sk_X509_value(leaf, 0), chain, reversed, other);
		if (tap_ok(low != NULL, "fixture with a low serial loaded", NULL))
			test_serial_form(key, sk_X509_value(low, 0));
		sk_X509_pop_free(low, X509_free);
		EVP_PKEY_free(key);
		EVP_PKEY_free(other);
		sk_X509_pop_free(leaf, X509_free);
		sk_X509_pop_free(chain, X509_free);
		sk_X509_pop_free(reversed, X509_free);
	}
	char *rm = cs_xasprintf("rm -rf '%s'", tmpdir);
	if (system(rm) != 0)
		tap_note("could not remove %s", tmpdir);
	free(rm);
	return tap_done();
}
