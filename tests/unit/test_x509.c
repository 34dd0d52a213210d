/* Tests for reconcile/x509.c and the local CA issuer: key generation per
 * spec, CSRs, reading certificates in every form a CA sends, chain ordering,
 * and certificates the CA issuer signs, checked against the openssl CLI. */
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include "providers/issuer/issuer.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"

static char tmpdir[] = "/tmp/certsync-x509-XXXXXX";

/* Run a shell command inside tmpdir; its exit status. */
static int sh(const char *cmd)
{
	char *full = cs_xasprintf("cd '%s' && { %s; } >/dev/null 2>&1", tmpdir, cmd);
	int st = system(full);
	free(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* First line of a command's output (run inside tmpdir), trailing newline cut. */
static char *sh_line(const char *cmd)
{
	char *full = cs_xasprintf("cd '%s' && %s 2>/dev/null", tmpdir, cmd);
	FILE *f = popen(full, "r");
	free(full);
	if (!f)
		return NULL;
	char line[1024] = "";
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	return cs_xstrdup(line);
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

static int read_tmp(struct cs_buf *out, const char *name)
{
	char *p = tmp_path(name);
	cs_buf_init(out, 0);
	int r = cs_file_read(out, p, 0, NULL);
	free(p);
	return r;
}

static X509 *load_cert(const char *name)
{
	struct cs_buf b;
	STACK_OF(X509) *certs = NULL;
	X509 *c = NULL;
	if (read_tmp(&b, name) == 0 && cs_certs_parse(&certs, b.data, b.len, NULL) == 0)
		c = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	cs_buf_free(&b);
	return c;
}

static EVP_PKEY *load_key(const char *name)
{
	struct cs_buf b;
	EVP_PKEY *k = NULL;
	if (read_tmp(&b, name) == 0)
		cs_key_parse(&k, b.data, b.len, NULL);
	cs_buf_free_secret(&b);
	return k;
}

/* A root, an intermediate signed by it (the CA the issuer uses), and an
 * unrelated self-signed certificate. */
static bool make_fixtures(void)
{
	static const char *const steps[] = {
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt"
		" -subj '/CN=Test Root' -days 3650"
		" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
		"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key"
		" -out inter.csr -subj '/CN=Test Intermediate'",
		"printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n"
		"subjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n' > ca.ext",
		"openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key -CAcreateserial"
		" -days 3650 -extfile ca.ext -out inter.crt",
		"cat inter.crt root.crt > ca-chain.crt",
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key"
		" -out other.crt -subj '/CN=Unrelated' -days 30",
		"chmod 600 root.key inter.key other.key",
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (sh(steps[i]) != 0) {
			tap_note("fixture step failed: %s", steps[i]);
			return false;
		}
	}
	return true;
}

static void make_issuer(struct cs_issuer_cfg *iss, const char *cert, const char *key)
{
	memset(iss, 0, sizeof *iss);
	iss->name = "lab";
	iss->kind = CS_ISSUER_CA;
	iss->ca.cert = tmp_path(cert);
	iss->ca.key.kind = CS_SECRET_FILE;
	iss->ca.key.ref = tmp_path(key);
	iss->ca.days = 90;
}

static void free_issuer(struct cs_issuer_cfg *iss)
{
	free(iss->ca.cert);
	free(iss->ca.key.ref);
}

static char *mail_dns[] = { "Mail.Example.org", "owa.example.org", "mail.example.org" };
static const struct cs_cert_cfg mail_cfg = {
	.name = "mail",
	.common_name = "mail.example.org",
	.dns_names = mail_dns,
	.n_dns_names = 3,
	.key = { CS_KEY_ECDSA, 0, CS_CURVE_P256 },
	.issuer = "lab",
};

/* ---- keys ---- */

static void test_keys(void)
{
	static const struct {
		struct cs_key_spec spec;
		const char *name;
	} cases[] = {
		{ { CS_KEY_RSA, 2048, CS_CURVE_NONE }, "rsa 2048" },
		{ { CS_KEY_RSA, 3072, CS_CURVE_NONE }, "rsa 3072" },
		{ { CS_KEY_RSA, 4096, CS_CURVE_NONE }, "rsa 4096" },
		{ { CS_KEY_ECDSA, 0, CS_CURVE_P256 }, "ecdsa p256" },
		{ { CS_KEY_ECDSA, 0, CS_CURVE_P384 }, "ecdsa p384" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_err err = CS_ERR_INIT;
		EVP_PKEY *key = NULL, *back = NULL;
		struct cs_buf pem = CS_BUF_INIT;
		struct cs_key_spec got;
		char name[80];
		int r = cs_key_generate(&key, &cases[i].spec, &err);
		snprintf(name, sizeof name, "generate %s", cases[i].name);
		if (!tap_ok(r == 0 && key, name, "%s", cs_err_msg(&err)))
			goto next;
		snprintf(name, sizeof name, "spec of %s", cases[i].name);
		tap_ok(cs_key_spec_of(&got, key) == 0 && cs_key_spec_equal(&got, &cases[i].spec), name,
		       "type %d bits %d curve %d", got.type, got.bits, got.curve);
		if (cases[i].spec.type == CS_KEY_RSA) {
			BIGNUM *e = NULL;
			EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
			snprintf(name, sizeof name, "%s exponent 65537", cases[i].name);
			tap_ok(e && BN_get_word(e) == 65537, name, "wrong exponent");
			BN_free(e);
		} else {
			char enc[32] = "";
			EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof enc, NULL);
			snprintf(name, sizeof name, "%s named curve", cases[i].name);
			tap_str(enc, "named_curve", name);
		}
		r = cs_key_to_pem(&pem, key, &err);
		snprintf(name, sizeof name, "%s PEM is unencrypted PKCS#8", cases[i].name);
		tap_ok(r == 0 && strncmp(pem.data, "-----BEGIN PRIVATE KEY-----\n", 28) == 0, name,
		       "%.40s", pem.data ? pem.data : "(none)");
		r = cs_key_parse(&back, pem.data, pem.len, &err);
		snprintf(name, sizeof name, "%s PEM round trip", cases[i].name);
		tap_ok(r == 0 && EVP_PKEY_eq(key, back) == 1, name, "%s", cs_err_msg(&err));
next:
		EVP_PKEY_free(key);
		EVP_PKEY_free(back);
		cs_buf_free_secret(&pem);
		cs_err_clear(&err);
	}

	static const struct {
		struct cs_key_spec spec;
		const char *msg;
	} bad[] = {
		{ { CS_KEY_RSA, 1024, CS_CURVE_NONE }, "unsupported rsa key size 1024 (2048, 3072 or 4096)" },
		{ { CS_KEY_ECDSA, 0, CS_CURVE_NONE }, "unsupported ecdsa curve (p256 or p384)" },
		{ { 0, 0, CS_CURVE_NONE }, "unsupported key type" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cs_err err = CS_ERR_INIT;
		EVP_PKEY *key = NULL;
		int r = cs_key_generate(&key, &bad[i].spec, &err);
		tap_int(r, -EINVAL, "bad key spec refused");
		tap_str(err.msg, bad[i].msg, "bad key spec message");
		tap_ok(key == NULL, "bad key spec gives no key", NULL);
		cs_err_clear(&err);
	}

	static const struct {
		struct cs_key_spec a, b;
		bool equal;
	} eq[] = {
		{ { CS_KEY_RSA, 2048, 0 }, { CS_KEY_RSA, 2048, 0 }, true },
		{ { CS_KEY_RSA, 2048, 0 }, { CS_KEY_RSA, 4096, 0 }, false },
		{ { CS_KEY_ECDSA, 256, CS_CURVE_P256 }, { CS_KEY_ECDSA, 0, CS_CURVE_P256 }, true },
		{ { CS_KEY_ECDSA, 0, CS_CURVE_P256 }, { CS_KEY_ECDSA, 0, CS_CURVE_P384 }, false },
		{ { CS_KEY_RSA, 2048, 0 }, { CS_KEY_ECDSA, 0, CS_CURVE_P256 }, false },
	};
	for (size_t i = 0; i < sizeof eq / sizeof eq[0]; i++)
		tap_ok(cs_key_spec_equal(&eq[i].a, &eq[i].b) == eq[i].equal, "key spec equality", "case %zu", i);

	/* Keys in the other forms people keep them in. */
	EVP_PKEY *k = load_key("other.key");
	struct cs_err err = CS_ERR_INIT;
	unsigned char *der = NULL;
	int n = k ? i2d_PrivateKey(k, &der) : -1;
	EVP_PKEY *back = NULL;
	int r = n > 0 ? cs_key_parse(&back, der, (size_t)n, &err) : -1;
	tap_ok(r == 0 && EVP_PKEY_eq(k, back) == 1, "DER private key parses", "%s", cs_err_msg(&err));
	EVP_PKEY_free(back);
	back = NULL;
	sh("openssl ec -in other.key -out other-trad.key");
	EVP_PKEY *trad = load_key("other-trad.key");
	tap_ok(trad && EVP_PKEY_eq(k, trad) == 1, "traditional EC PEM key parses", NULL);
	r = cs_key_parse(&back, "not a key", 9, &err);
	tap_int(r, -EINVAL, "garbage is not a key");
	OPENSSL_free(der);
	EVP_PKEY_free(trad);
	EVP_PKEY_free(k);
	cs_err_clear(&err);
}

/* ---- CSR ---- */

static void test_csr(void)
{
	static const struct cs_key_spec spec = { CS_KEY_ECDSA, 0, CS_CURVE_P256 };
	char *names[] = { "mail.example.org", "owa.example.org" };
	struct cs_err err = CS_ERR_INIT;
	EVP_PKEY *key = NULL, *other = NULL;
	X509_REQ *csr = NULL, *back = NULL;
	struct cs_buf pem = CS_BUF_INIT;
	cs_key_generate(&key, &spec, &err);
	cs_key_generate(&other, &spec, &err);
	int r = cs_csr_create(&csr, key, "mail.example.org", names, 2, &err);
	if (!tap_ok(r == 0, "csr create", "%s", cs_err_msg(&err)))
		goto out;
	r = cs_csr_to_pem(&pem, csr, &err);
	tap_ok(r == 0 && strncmp(pem.data, "-----BEGIN CERTIFICATE REQUEST-----", 35) == 0,
	       "csr PEM", "%s", cs_err_msg(&err));
	r = cs_csr_parse(&back, pem.data, pem.len, &err);
	if (!tap_ok(r == 0, "csr parse", "%s", cs_err_msg(&err)))
		goto out;
	tap_int(X509_REQ_get_version(back), 0, "csr version 1 (value 0)");
	tap_ok(X509_REQ_verify(back, X509_REQ_get0_pubkey(back)) == 1, "csr signature verifies", NULL);
	tap_int(X509_REQ_get_signature_nid(back), NID_ecdsa_with_SHA256, "csr signed with SHA-256");
	tap_ok(cs_key_matches_csr(key, back), "csr matches its key", NULL);
	tap_ok(!cs_key_matches_csr(other, back), "csr does not match another key", NULL);
	char cn[128] = "";
	X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(back), NID_commonName, cn, sizeof cn);
	tap_str(cn, "mail.example.org", "csr subject CN");
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(back);
	GENERAL_NAMES *gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	struct cs_buf got = CS_BUF_INIT;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS)
			cs_buf_printf(&got, "%s%s", got.len ? "," : "",
				      (const char *)ASN1_STRING_get0_data(g->d.dNSName));
	}
	tap_str(got.data, "mail.example.org,owa.example.org", "csr SAN lists every name");
	cs_buf_free(&got);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	/* The openssl CLI agrees the request is well-formed. */
	write_tmp("t.csr", pem.data, pem.len);
	tap_int(sh("openssl req -in t.csr -verify -noout"), 0, "openssl req -verify accepts the csr");
	X509_REQ *none = NULL;
	tap_int(cs_csr_parse(&none, "junk", 4, &err), -EINVAL, "junk is not a csr");
out:
	cs_buf_free(&pem);
	X509_REQ_free(csr);
	X509_REQ_free(back);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	cs_err_clear(&err);
}

/* ---- the CA issuer and certificate info ---- */

static bool is_serial_hex(const char *s)
{
	if (!s || !s[0] || strlen(s) > 32 || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* "sha256 Fingerprint=AB:CD:..." → "ABCD..." */
static char *openssl_fingerprint(const char *file, const char *alg)
{
	char *cmd = cs_xasprintf("openssl x509 -in %s -noout -fingerprint -%s", file, alg);
	char *line = sh_line(cmd);
	free(cmd);
	const char *eq = line ? strchr(line, '=') : NULL;
	struct cs_buf b = CS_BUF_INIT;
	for (const char *p = eq ? eq + 1 : ""; *p; p++)
		if (*p != ':')
			cs_buf_append(&b, p, 1);
	free(line);
	return cs_buf_detach(&b, NULL);
}

static int issue(X509 **out, STACK_OF(X509) **chain, const struct cs_issuer_cfg *iss,
		 const struct cs_cert_cfg *cert, EVP_PKEY *key, struct cs_err *err)
{
	X509_REQ *csr = NULL;
	/* The request asks for a name the config does not declare: the issuer
	 * must sign the declared set, not this. */
	char *asked[] = { "mail.example.org", "evil.example.org" };
	int r = cs_csr_create(&csr, key, cert->common_name, asked, 2, err);
	if (r == 0)
		r = cs_issuer_ca.issue(iss, cert, csr, out, chain, err);
	X509_REQ_free(csr);
	return r;
}

static void check_issued(X509 *leaf, STACK_OF(X509) *chain, EVP_PKEY *key, int64_t now,
			 const char *label)
{
	struct cs_cert_info info;
	struct cs_err err = CS_ERR_INIT;
	char name[128];
#define NAME(s) (snprintf(name, sizeof name, "%s: %s", label, s), name)
	if (!tap_ok(cs_cert_info_get(&info, leaf, &err) == 0, NAME("info"), "%s", cs_err_msg(&err)))
		return;
	tap_str(info.common_name, "mail.example.org", NAME("common name"));
	tap_str(info.subject, "CN=mail.example.org", NAME("subject"));
	tap_str(info.issuer, "CN=Test Intermediate", NAME("issuer"));
	tap_str(info.issuer_cn, "Test Intermediate", NAME("issuer CN"));
	struct cs_buf names = CS_BUF_INIT;
	for (size_t i = 0; i < info.n_dns_names; i++)
		cs_buf_printf(&names, "%s%s", i ? "," : "", info.dns_names[i]);
	tap_str(names.data, "mail.example.org,owa.example.org", NAME("declared names, sorted, unique"));
	cs_buf_free(&names);
	tap_ok(is_serial_hex(info.serial), NAME("serial is uppercase hex without leading zeros"),
	       "%s", info.serial);
	tap_int(info.not_before, now - 300, NAME("not before = now - 5 min"));
	tap_int(info.not_after, now + 90 * 86400, NAME("not after = now + 90 days"));
	tap_ok(!info.is_ca, NAME("not a CA"), NULL);
	tap_ok(info.ski && strlen(info.ski) == 40, NAME("subject key identifier"), "%s", info.ski ? info.ski : "(null)");
	struct cs_cert_info ca;
	if (cs_cert_info_get(&ca, sk_X509_value(chain, 0), NULL) == 0) {
		tap_str(info.aki, ca.ski, NAME("authority key identifier = CA's SKI"));
		cs_cert_info_free(&ca);
	}
	/* A copy is deep and equal: the plan copies what observe read. */
	struct cs_cert_info copy;
	cs_cert_info_copy(&copy, &info);
	bool same = copy.n_dns_names == info.n_dns_names && copy.dns_names != info.dns_names &&
		    copy.subject != info.subject && !strcmp(copy.subject, info.subject) &&
		    !strcmp(copy.issuer, info.issuer) && !strcmp(copy.common_name, info.common_name) &&
		    !strcmp(copy.issuer_cn, info.issuer_cn) && !strcmp(copy.serial, info.serial) &&
		    !strcmp(copy.ski, info.ski) && !strcmp(copy.aki, info.aki) &&
		    !strcmp(copy.sha256, info.sha256) && copy.not_after == info.not_after &&
		    cs_key_spec_equal(&copy.key, &info.key);
	for (size_t i = 0; same && i < info.n_dns_names; i++)
		same = !strcmp(copy.dns_names[i], info.dns_names[i]);
	cs_cert_info_free(&copy);
	tap_ok(same, NAME("info copies deep and equal"), NULL);
	struct cs_key_spec spec;
	cs_key_spec_of(&spec, key);
	tap_ok(cs_key_spec_equal(&info.key, &spec), NAME("key spec in info"), NULL);
	tap_ok(cs_key_matches_cert(key, leaf), NAME("public key from the csr"), NULL);
	uint32_t xku = X509_get_extended_key_usage(leaf);
	tap_ok(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE && xku == XKU_SSL_SERVER,
	       NAME("extended key usage serverAuth only"), "xku %x", xku);
	uint32_t ku = X509_get_key_usage(leaf);
	bool rsa = spec.type == CS_KEY_RSA;
	tap_ok(ku == (rsa ? (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT) : KU_DIGITAL_SIGNATURE),
	       NAME("key usage"), "ku %x", ku);
	int bc = X509_get_ext_by_NID(leaf, NID_basic_constraints, -1);
	int kui = X509_get_ext_by_NID(leaf, NID_key_usage, -1);
	tap_ok(bc >= 0 && X509_EXTENSION_get_critical(X509_get_ext(leaf, bc)) &&
	       kui >= 0 && X509_EXTENSION_get_critical(X509_get_ext(leaf, kui)),
	       NAME("basicConstraints and keyUsage critical"), NULL);
	tap_int(X509_get_version(leaf), X509_VERSION_3, NAME("version 3"));
	tap_int(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256, NAME("signed with SHA-256"));

	struct cs_buf pem = CS_BUF_INIT;
	cs_cert_to_pem(&pem, leaf, NULL);
	write_tmp("leaf.pem", pem.data, pem.len);
	cs_buf_free(&pem);
	char *sha256 = openssl_fingerprint("leaf.pem", "sha256");
	char *sha1 = openssl_fingerprint("leaf.pem", "sha1");
	tap_str(info.sha256, sha256, NAME("sha256 fingerprint = openssl"));
	tap_str(info.sha1, sha1, NAME("sha1 thumbprint = openssl"));
	char *serial = sh_line("openssl x509 -in leaf.pem -noout -serial | sed 's/^serial=0*//'");
	tap_str(info.serial, serial, NAME("serial = openssl"));
	tap_int(sh("openssl verify -CAfile root.crt -untrusted inter.crt leaf.pem"), 0,
		NAME("openssl verify accepts the certificate"));
	free(serial);
	free(sha256);
	free(sha1);
	cs_cert_info_free(&info);
#undef NAME
}

static void test_ca_issuer(void)
{
	struct cs_issuer_cfg iss;
	struct cs_err err = CS_ERR_INIT;
	int64_t now = (int64_t)time(NULL);
	char pin[32];
	snprintf(pin, sizeof pin, "%lld", (long long)now);
	setenv("CERTSYNC_NOW", pin, 1);
	make_issuer(&iss, "ca-chain.crt", "inter.key");

	static const struct cs_key_spec specs[] = {
		{ CS_KEY_ECDSA, 0, CS_CURVE_P256 },
		{ CS_KEY_RSA, 2048, CS_CURVE_NONE },
	};
	for (size_t i = 0; i < 2; i++) {
		EVP_PKEY *key = NULL;
		X509 *leaf = NULL;
		STACK_OF(X509) *chain = NULL;
		cs_key_generate(&key, &specs[i], NULL);
		int r = issue(&leaf, &chain, &iss, &mail_cfg, key, &err);
		const char *label = i == 0 ? "ca issue ecdsa" : "ca issue rsa";
		if (tap_ok(r == 0 && leaf && chain, label, "%s", cs_err_msg(&err))) {
			tap_int(sk_X509_num(chain), 2, "chain = the CA file's certificates");
			X509 *inter = load_cert("inter.crt");
			tap_ok(X509_cmp(sk_X509_value(chain, 0), inter) == 0, "chain starts with the CA", NULL);
			X509_free(inter);
			check_issued(leaf, chain, key, now, label);
			tap_int(cs_issuer_ca.issued_by(&iss, leaf), 1, "issued_by: our certificate");
		}
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		EVP_PKEY_free(key);
		cs_err_clear(&err);
	}

	/* Serials are random. */
	EVP_PKEY *key = NULL;
	X509 *a = NULL, *b = NULL;
	STACK_OF(X509) *ca_chain = NULL, *cb = NULL;
	cs_key_generate(&key, &specs[0], NULL);
	issue(&a, &ca_chain, &iss, &mail_cfg, key, NULL);
	issue(&b, &cb, &iss, &mail_cfg, key, NULL);
	tap_ok(a && b && ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)) != 0,
	       "two issues get different serials", NULL);

	X509 *other = load_cert("other.crt");
	tap_int(cs_issuer_ca.issued_by(&iss, other), 0, "issued_by: unrelated certificate");
	struct cs_issuer_cfg missing;
	make_issuer(&missing, "no-such.crt", "inter.key");
	tap_int(cs_issuer_ca.issued_by(&missing, a), -1, "issued_by: unreadable CA certificate");
	X509 *c = NULL;
	STACK_OF(X509) *cc = NULL;
	int r = issue(&c, &cc, &missing, &mail_cfg, key, &err);
	tap_int(r, -ENOENT, "issue with a missing CA certificate");
	free_issuer(&missing);

	/* A CA key that belongs to another certificate. */
	struct cs_issuer_cfg wrong;
	make_issuer(&wrong, "ca-chain.crt", "other.key");
	r = issue(&c, &cc, &wrong, &mail_cfg, key, &err);
	tap_int(r, -EINVAL, "wrong CA key refused");
	char *want = cs_xasprintf("issuer lab: CA key %s/other.key does not belong to certificate %s/ca-chain.crt",
				  tmpdir, tmpdir);
	tap_str(err.msg, want, "wrong CA key message");
	free(want);
	tap_ok(c == NULL && cc == NULL, "nothing issued with a wrong key", NULL);
	free_issuer(&wrong);
	cs_err_clear(&err);

	/* A CA key readable by others is a secret leak waiting to happen. */
	sh("cp inter.key open.key && chmod 644 open.key");
	make_issuer(&wrong, "ca-chain.crt", "open.key");
	r = issue(&c, &cc, &wrong, &mail_cfg, key, &err);
	tap_int(r, -EPERM, "CA key readable by others refused");
	free_issuer(&wrong);
	cs_err_clear(&err);

	/* A request whose signature does not verify. */
	X509_REQ *csr = NULL;
	char *names[] = { "mail.example.org" };
	cs_csr_create(&csr, key, "mail.example.org", names, 1, NULL);
	X509_NAME *nm = X509_NAME_new();
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"forged", -1, -1, 0);
	X509_REQ_set_subject_name(csr, nm);
	X509_NAME_free(nm);
	r = cs_issuer_ca.issue(&iss, &mail_cfg, csr, &c, &cc, &err);
	tap_int(r, -EINVAL, "csr with a bad signature refused");
	tap_ok(err.msg && strstr(err.msg, "certificate request signature does not verify"),
	       "bad csr message", "%s", cs_err_msg(&err));
	X509_REQ_free(csr);
	cs_err_clear(&err);

	X509_free(other);
	X509_free(a);
	X509_free(b);
	sk_X509_pop_free(ca_chain, X509_free);
	sk_X509_pop_free(cb, X509_free);
	EVP_PKEY_free(key);
	free_issuer(&iss);
	unsetenv("CERTSYNC_NOW");
}

/* ---- parsing and splitting ---- */

/* Issue a leaf into leaf.pem / leaf.key for the parse and split tests. */
static bool make_leaf(EVP_PKEY **out_key, X509 **out_leaf)
{
	struct cs_issuer_cfg iss;
	STACK_OF(X509) *chain = NULL;
	static const struct cs_key_spec spec = { CS_KEY_ECDSA, 0, CS_CURVE_P256 };
	make_issuer(&iss, "ca-chain.crt", "inter.key");
	cs_key_generate(out_key, &spec, NULL);
	int r = issue(out_leaf, &chain, &iss, &mail_cfg, *out_key, NULL);
	struct cs_buf pem = CS_BUF_INIT;
	if (r == 0) {
		cs_cert_to_pem(&pem, *out_leaf, NULL);
		write_tmp("leaf.pem", pem.data, pem.len);
	}
	cs_buf_free(&pem);
	sk_X509_pop_free(chain, X509_free);
	free_issuer(&iss);
	return r == 0;
}

static void test_parse(void)
{
	static const struct {
		const char *prepare;  /* shell, in tmpdir */
		const char *file;
		int want;             /* certificates, or negative error */
	} cases[] = {
		{ "cat leaf.pem inter.crt root.crt > bundle.pem", "bundle.pem", 3 },
		{ "cat leaf.pem > one.pem", "one.pem", 1 },
		{ "openssl x509 -in leaf.pem -outform DER -out leaf.der", "leaf.der", 1 },
		{ "openssl crl2pkcs7 -nocrl -certfile bundle.pem -outform DER -out bundle.p7b", "bundle.p7b", 3 },
		{ "openssl crl2pkcs7 -nocrl -certfile bundle.pem -outform PEM -out bundle-p7.pem", "bundle-p7.pem", 3 },
		/* Content decides, not the name: DER in a .pem, PEM in a .der. */
		{ "cp leaf.der leaf-der.pem", "leaf-der.pem", 1 },
		{ "cp bundle.pem bundle.der", "bundle.der", 3 },
		{ "cat other.key leaf.pem > key-and-cert.pem", "key-and-cert.pem", 1 },
		{ "printf 'junk\\n' > junk.txt", "junk.txt", -EINVAL },
		{ ": > empty.pem", "empty.pem", -EINVAL },
		{ "cp other.key only-key.pem", "only-key.pem", -EINVAL },
		{ "head -c 100 leaf.der > truncated.der", "truncated.der", -EINVAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_err err = CS_ERR_INIT;
		struct cs_buf b;
		STACK_OF(X509) *certs = NULL;
		char name[96];
		sh(cases[i].prepare);
		read_tmp(&b, cases[i].file);
		int r = cs_certs_parse(&certs, b.data ? b.data : "", b.len, &err);
		int got = r < 0 ? r : sk_X509_num(certs);
		snprintf(name, sizeof name, "parse %s", cases[i].file);
		tap_int(got, cases[i].want, name);
		if (cases[i].want < 0) {
			snprintf(name, sizeof name, "parse %s message", cases[i].file);
			tap_str(err.msg, "no certificate found", name);
		}
		sk_X509_pop_free(certs, X509_free);
		cs_buf_free(&b);
		cs_err_clear(&err);
	}
}

static void shuffle(STACK_OF(X509) *s, unsigned seed)
{
	int n = sk_X509_num(s);
	srand(seed);
	for (int i = n - 1; i > 0; i--) {
		int j = rand() % (i + 1);
		X509 *a = sk_X509_value(s, i);
		sk_X509_set(s, i, sk_X509_value(s, j));
		sk_X509_set(s, j, a);
	}
}

static void test_split(EVP_PKEY *key, X509 *leaf)
{
	X509 *root = load_cert("root.crt"), *inter = load_cert("inter.crt"), *other = load_cert("other.crt");
	static const struct {
		const char *name;
		bool with_root, with_inter, with_other;
		int chain_len;
	} cases[] = {
		{ "split full bag", true, true, true, 2 },
		{ "split without root", false, true, true, 1 },
		{ "split leaf and root only", true, false, false, 0 },
		{ "split leaf only", false, false, false, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (unsigned seed = 1; seed <= 4; seed++) {
			STACK_OF(X509) *bag = sk_X509_new_null();
			sk_X509_push(bag, leaf);
			if (cases[i].with_root)
				sk_X509_push(bag, root);
			if (cases[i].with_inter)
				sk_X509_push(bag, inter);
			if (cases[i].with_other)
				sk_X509_push(bag, other);
			shuffle(bag, seed);
			X509 *got = NULL;
			STACK_OF(X509) *chain = NULL;
			struct cs_err err = CS_ERR_INIT;
			int r = cs_certs_split(&got, &chain, bag, key, &err);
			bool ok = r == 0 && X509_cmp(got, leaf) == 0;
			ok = ok && sk_X509_num(chain) == (cases[i].with_inter ? 1 : 0) + (cases[i].with_root && cases[i].with_inter ? 1 : 0);
			if (ok && cases[i].with_inter)
				ok = X509_cmp(sk_X509_value(chain, 0), inter) == 0;
			if (ok && cases[i].with_inter && cases[i].with_root)
				ok = X509_cmp(sk_X509_value(chain, 1), root) == 0;
			tap_ok(ok, cases[i].name, "seed %u r %d chain %d: %s", seed, r,
			       chain ? sk_X509_num(chain) : -1, cs_err_msg(&err));
			X509_free(got);
			sk_X509_pop_free(chain, X509_free);
			sk_X509_free(bag); /* borrowed references */
			cs_err_clear(&err);
		}
	}
	/* A bag without the key's certificate. */
	static const struct cs_key_spec spec = { CS_KEY_ECDSA, 0, CS_CURVE_P256 };
	EVP_PKEY *stranger = NULL;
	cs_key_generate(&stranger, &spec, NULL);
	STACK_OF(X509) *bag = sk_X509_new_null();
	sk_X509_push(bag, leaf);
	sk_X509_push(bag, inter);
	X509 *got = NULL;
	STACK_OF(X509) *chain = NULL;
	struct cs_err err = CS_ERR_INIT;
	tap_int(cs_certs_split(&got, &chain, bag, stranger, &err), -ENOENT, "split: key mismatch");
	tap_str(err.msg, "no certificate matches the private key", "split: key mismatch message");
	tap_ok(!got && !chain, "split: nothing returned on mismatch", NULL);
	sk_X509_free(bag);
	cs_err_clear(&err);

	tap_ok(cs_cert_issued_by(leaf, inter), "issued_by: leaf by intermediate", NULL);
	tap_ok(!cs_cert_issued_by(leaf, root), "issued_by: leaf not by root", NULL);
	tap_ok(cs_cert_issued_by(inter, root), "issued_by: intermediate by root", NULL);
	tap_ok(!cs_cert_issued_by(leaf, other), "issued_by: not by an unrelated cert", NULL);
	tap_ok(cs_key_matches_cert(key, leaf) && !cs_key_matches_cert(stranger, leaf),
	       "key matches cert", NULL);

	/* Info of the CA certificates. */
	struct cs_cert_info info;
	if (cs_cert_info_get(&info, root, NULL) == 0) {
		tap_ok(info.is_ca, "root is a CA", NULL);
		tap_int(info.n_dns_names, 0, "root has no names");
		tap_ok(info.key.type == CS_KEY_RSA && info.key.bits == 2048, "root key spec", NULL);
		cs_cert_info_free(&info);
	}
	EVP_PKEY_free(stranger);
	X509_free(root);
	X509_free(inter);
	X509_free(other);
}

/* Serial formatting on serials chosen to trip it: zero, a leading zero
 * nibble, a byte with the top bit set (DER pads it with 0x00). */
static void test_serials(void)
{
	static const struct {
		const char *set;
		const char *want;
	} cases[] = {
		{ "0", "0" }, { "2748", "ABC" }, { "128", "80" }, { "255", "FF" },
		{ "0x0100000000000000000000000000000001", "100000000000000000000000000000001" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *cmd = cs_xasprintf("openssl req -x509 -key other.key -subj /CN=s -days 1 -set_serial %s -out serial.pem",
					 cases[i].set);
		int st = sh(cmd);
		free(cmd);
		X509 *c = st == 0 ? load_cert("serial.pem") : NULL;
		struct cs_cert_info info;
		memset(&info, 0, sizeof info);
		if (c)
			cs_cert_info_get(&info, c, NULL);
		char name[64];
		snprintf(name, sizeof name, "serial %s formatted", cases[i].set);
		tap_str(info.serial, cases[i].want, name);
		cs_cert_info_free(&info);
		X509_free(c);
	}
}

/* A dNSName with a NUL in it ("good\0.evil") must not read as the name
 * before the NUL: that would make a certificate for another name look like
 * the declared one. */
static void test_san_nul(EVP_PKEY *key)
{
	static const char raw[] = "mail.example.org\0.evil.example";
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	ASN1_STRING_set(ia5, raw, (int)sizeof raw - 1);
	GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
	sk_GENERAL_NAME_push(gens, g);
	X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
	GENERAL_NAMES_free(gens);
	X509_sign(x, key, EVP_sha256());
	struct cs_cert_info info;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_cert_info_get(&info, x, &err);
	tap_int(r, 0, "a certificate with a NUL in a DNS name is read");
	if (r == 0) {
		tap_int((long long)info.n_dns_names, 1, "one DNS name");
		if (info.n_dns_names == 1) {
			tap_ok(strcmp(info.dns_names[0], "mail.example.org") != 0,
			       "the name is not cut at the NUL", "got %s", info.dns_names[0]);
			tap_str(info.dns_names[0], "mail.example.org\\x00.evil.example", "the NUL is shown escaped");
		}
		cs_cert_info_free(&info);
	}
	cs_err_clear(&err);
	X509_free(x);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (!tap_ok(make_fixtures(), "fixtures made with the openssl CLI", NULL))
		return tap_done();
	test_keys();
	test_csr();
	test_ca_issuer();
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	if (tap_ok(make_leaf(&key, &leaf), "leaf for parse/split", NULL)) {
		test_parse();
		test_split(key, leaf);
		test_san_nul(key);
	}
	test_serials();
	X509_free(leaf);
	EVP_PKEY_free(key);
	char *rm = cs_xasprintf("rm -rf '%s'", tmpdir);
	if (system(rm) != 0)
		tap_note("could not remove %s", tmpdir);
	free(rm);
	return tap_done();
}
