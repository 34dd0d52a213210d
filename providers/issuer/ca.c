/* The local CA issuer ("ca: {cert, key, days}"): signs requests at once with
 * a CA certificate and key kept next to the config, for labs and internal
 * services.  The CA certificate and key are parsed once per run and kept
 * while their files are unchanged (see "the CA's material" below); the
 * bytes of the key are wiped as soon as it is parsed. */
#include "providers/issuer/issuer.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "providers/base/util.h"
#include "providers/base/x509.h"

/* Issued certificates start a little in the past so that a host whose clock
 * runs behind does not reject a certificate that was just installed. */
#define CLOCK_SKEW 300

/* ---- the CA's material, parsed once per run ----
 *
 * Plan asks for every certificate whether the CA can sign and whether it
 * issued the stored certificate, and apply signs every renewal: reading and
 * parsing the CA certificate and key each time cost more than all the rest
 * of a plan of thousands of certificates.  So both are kept, per CA
 * certificate path and key reference, for as long as the files are the
 * same: device, inode, size, modification and change time (chmod changes
 * the change time, so a key file made readable by others is read, and
 * refused, again).  A key from an environment variable is compared by the
 * SHA-256 of its value.  Whatever fails is not kept: the next call reads
 * and reports again.  The key is freed (and its memory cleared by OpenSSL)
 * at exit. */

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct ca_material {
	struct ca_material *next;
	char *cert_path;
	enum cs_secret_kind key_kind;
	char *key_ref;
	struct file_id cert_id;
	STACK_OF(X509) *certs;          /* NULL: not read (or failed) */
	struct file_id key_id;          /* a key file */
	unsigned char key_sha[32];      /* a key from the environment */
	EVP_PKEY *key;                  /* NULL: not read; else matches certs[0] */
	bool ready;                     /* ca_ready passed with these certs and key */
};

static pthread_mutex_t material_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ca_material *materials;

static void materials_free(void)
{
	while (materials) {
		struct ca_material *m = materials;
		materials = m->next;
		sk_X509_pop_free(m->certs, X509_free);
		EVP_PKEY_free(m->key);
		free(m->cert_path);
		free(m->key_ref);
		free(m);
	}
}

static int file_id_get(struct file_id *out, const char *path)
{
	struct stat st;
	memset(out, 0, sizeof *out);
	if (stat(path, &st) < 0)
		return -errno;
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	out->size = st.st_size;
	out->mtim = st.st_mtim;
	out->ctim = st.st_ctim;
	return 0;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtim.tv_sec == b->mtim.tv_sec &&
	       a->mtim.tv_nsec == b->mtim.tv_nsec && a->ctim.tv_sec == b->ctim.tv_sec &&
	       a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/* The entry for issuer's files, made when missing.  Called locked. */
static struct ca_material *material_for(const struct cs_issuer_cfg *issuer)
{
	static bool registered;
	const char *cert = issuer->ca.cert ? issuer->ca.cert : "";
	const char *ref = issuer->ca.key.ref ? issuer->ca.key.ref : "";
	for (struct ca_material *m = materials; m; m = m->next)
		if (!strcmp(m->cert_path, cert) && m->key_kind == issuer->ca.key.kind && !strcmp(m->key_ref, ref))
			return m;
	if (!registered)
		registered = atexit(materials_free) == 0;
	struct ca_material *m = cs_xcalloc(1, sizeof *m);
	m->cert_path = cs_xstrdup(cert);
	m->key_kind = issuer->ca.key.kind;
	m->key_ref = cs_xstrdup(ref);
	m->next = materials;
	materials = m;
	return m;
}

/* Forget m's key (and that the CA was ready). */
static void material_drop_key(struct ca_material *m)
{
	EVP_PKEY_free(m->key);
	m->key = NULL;
	m->ready = false;
}

/* The CA certificate file: the CA first, possibly followed by its own chain. */
static int read_ca_certs(STACK_OF(X509) **out, const struct cs_issuer_cfg *issuer,
			 struct cs_err *err)
{
	struct cs_buf b;
	cs_buf_init(&b, 1u << 20);
	int r = cs_file_read(&b, issuer->ca.cert, 1u << 20, err);
	if (r < 0)
		goto out;
	r = cs_certs_parse(out, b.data, b.len, err);
	if (r < 0)
		cs_err_prefix(err, "CA certificate %s", issuer->ca.cert);
out:
	cs_buf_free(&b);
	return r;
}

/* The CA certificates, from m when the file is unchanged.  Called locked;
 * the caller frees *out. */
static int load_ca_certs_locked(STACK_OF(X509) **out, struct ca_material *m,
				const struct cs_issuer_cfg *issuer, struct cs_err *err)
{
	struct file_id id;
	*out = NULL;
	bool same = file_id_get(&id, m->cert_path) == 0 && m->certs && file_id_eq(&id, &m->cert_id);
	if (!same) {
		sk_X509_pop_free(m->certs, X509_free);
		m->certs = NULL;
		material_drop_key(m); /* it was checked against the old certificate */
		STACK_OF(X509) *certs = NULL;
		int r = read_ca_certs(&certs, issuer, err);
		if (r < 0)
			return r;
		m->certs = certs;
		m->cert_id = id;
	}
	*out = X509_chain_up_ref(m->certs);
	if (!*out)
		return cs_err_errno(err, -ENOMEM, "CA certificate %s", issuer->ca.cert);
	return 0;
}

static int load_ca_certs(STACK_OF(X509) **out, const struct cs_issuer_cfg *issuer,
			 struct cs_err *err)
{
	pthread_mutex_lock(&material_lock);
	int r = load_ca_certs_locked(out, material_for(issuer), issuer, err);
	pthread_mutex_unlock(&material_lock);
	return r;
}

/* Where the key comes from, for messages: never its content. */
static char *key_origin(const struct cs_secret *s)
{
	if (s->kind == CS_SECRET_ENV)
		return cs_xasprintf("from env %s", s->ref ? s->ref : "");
	return cs_xstrdup(s->ref ? s->ref : "(none)");
}

/* Read and check the key; *out_sha (when not NULL) gets the SHA-256 of its
 * bytes. */
static int read_ca_key(EVP_PKEY **out, unsigned char *out_sha, const struct cs_issuer_cfg *issuer, X509 *ca,
		       struct cs_err *err)
{
	struct cs_buf b = CS_BUF_INIT;
	char *origin = key_origin(&issuer->ca.key);
	int r = cs_secret_resolve(&issuer->ca.key, &b, err);
	*out = NULL;
	if (r < 0) {
		cs_err_prefix(err, "CA key");
		goto out;
	}
	if (out_sha && !EVP_Digest(b.data ? b.data : "", b.len, out_sha, NULL, EVP_sha256(), NULL)) {
		r = cs_err_ssl(err, -EIO, "CA key %s", origin);
		goto out;
	}
	/* cs_key_parse's messages come from OpenSSL and never quote input. */
	r = cs_key_parse(out, b.data, b.len, err);
	if (r < 0) {
		cs_err_prefix(err, "CA key %s", origin);
		goto out;
	}
	if (!cs_key_matches_cert(*out, ca)) {
		r = cs_err_set(err, -EINVAL, "CA key %s does not belong to certificate %s",
			       origin, issuer->ca.cert);
		EVP_PKEY_free(*out);
		*out = NULL;
		goto out;
	}
out:
	cs_buf_free_secret(&b);
	free(origin);
	return r;
}

/* Is m's key still the one its reference names?  Called locked. */
static bool key_unchanged(struct ca_material *m, const struct cs_issuer_cfg *issuer, struct file_id *id)
{
	if (!m->key)
		return false;
	if (issuer->ca.key.kind == CS_SECRET_FILE)
		return file_id_get(id, m->key_ref) == 0 && file_id_eq(id, &m->key_id);
	struct cs_buf b = CS_BUF_INIT;
	unsigned char sha[32];
	bool same = cs_secret_resolve(&issuer->ca.key, &b, NULL) == 0 &&
		    EVP_Digest(b.data ? b.data : "", b.len, sha, NULL, EVP_sha256(), NULL) &&
		    !memcmp(sha, m->key_sha, sizeof sha);
	cs_buf_free_secret(&b);
	return same;
}

/* The CA key, which belongs to ca (m->certs[0]), from m when unchanged.
 * Called locked; the caller frees *out. */
static int load_ca_key_locked(EVP_PKEY **out, struct ca_material *m, const struct cs_issuer_cfg *issuer,
			      X509 *ca, struct cs_err *err)
{
	struct file_id id;
	memset(&id, 0, sizeof id);
	*out = NULL;
	if (!key_unchanged(m, issuer, &id)) {
		material_drop_key(m);
		if (issuer->ca.key.kind == CS_SECRET_FILE && file_id_get(&id, m->key_ref) < 0)
			memset(&id, 0, sizeof id);
		EVP_PKEY *key = NULL;
		int r = read_ca_key(&key, m->key_sha, issuer, ca, err);
		if (r < 0)
			return r;
		m->key = key;
		m->key_id = id;
	}
	EVP_PKEY_up_ref(m->key);
	*out = m->key;
	return 0;
}

/* The serial chosen before signing (hex), or a new random one. */
static int set_serial(X509 *x, const char *hex)
{
	BIGNUM *bn = NULL;
	if (!BN_hex2bn(&bn, hex) || BN_is_zero(bn) || BN_is_negative(bn)) {
		BN_free(bn);
		return -EINVAL;
	}
	ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
	int r = serial && X509_set_serialNumber(x, serial) ? 0 : -EIO;
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return r;
}

static int random_serial(X509 *x)
{
	unsigned char bytes[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	int r = -EIO;
	if (RAND_bytes(bytes, sizeof bytes) != 1)
		goto out;
	/* 128 random bits, top bit cleared so the DER integer is positive
	 * without a padding byte, never zero (RFC 5280 4.1.2.2). */
	bytes[0] &= 0x7f;
	bool zero = true;
	for (size_t i = 0; i < sizeof bytes; i++)
		zero = zero && bytes[i] == 0;
	if (zero)
		bytes[sizeof bytes - 1] = 1;
	bn = BN_bin2bn(bytes, sizeof bytes, NULL);
	serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (serial && X509_set_serialNumber(x, serial))
		r = 0;
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return r;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static int add_san(X509 *x, char *const *names, size_t n)
{
	GENERAL_NAMES *gens = cs_dns_general_names(names, n);
	int r = gens && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -ENOMEM;
	GENERAL_NAMES_free(gens);
	return r;
}

static int build_cert(X509 **out, const struct cs_issuer_cfg *issuer,
		      const struct cs_cert_cfg *cert, EVP_PKEY *pub, X509 *ca,
		      EVP_PKEY *ca_key, const char *serial_hex, int64_t issue_time, struct cs_err *err)
{
	X509 *x = X509_new();
	X509_NAME *subject = X509_NAME_new();
	char **names = NULL;
	size_t n_names = 0;
	int r = 0;
	*out = NULL;
	if (!x || !subject || !X509_set_version(x, X509_VERSION_3) ||
	    (serial_hex ? set_serial(x, serial_hex) : random_serial(x)) < 0) {
		r = cs_err_ssl(err, -EIO, "create certificate");
		goto out;
	}
	if (!X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cert->common_name, -1, -1, 0) ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca))) {
		r = cs_err_ssl(err, -EINVAL, "certificate subject CN=%s", cert->common_name);
		goto out;
	}
	int64_t now = issue_time ? issue_time : cs_now();
	int days = issuer->ca.days > 0 ? issuer->ca.days : 90;
	if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now - CLOCK_SKEW)) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now + (int64_t)days * 86400)) ||
	    !X509_set_pubkey(x, pub)) {
		r = cs_err_ssl(err, -EIO, "create certificate");
		goto out;
	}

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	bool rsa = EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA;
	/* keyEncipherment only matters for RSA key exchange; an EC key cannot
	 * encipher, and strict clients reject the bit on one. */
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage,
		    rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature") < 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0) {
		r = cs_err_ssl(err, -EINVAL, "certificate extensions");
		goto out;
	}
	/* The declared names, not whatever the request asks for: the config is
	 * the truth. */
	names = cs_cert_names(cert, &n_names);
	if (n_names == 0) {
		r = cs_err_set(err, -EINVAL, "certificate %s declares no names", cert->name);
		goto out;
	}
	if (add_san(x, names, n_names) < 0) {
		r = cs_err_ssl(err, -EINVAL, "certificate subject alternative names");
		goto out;
	}
	/* Ed25519/Ed448 CA keys sign without a separate digest. */
	int id = EVP_PKEY_get_base_id(ca_key);
	const EVP_MD *md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
	if (!X509_sign(x, ca_key, md)) {
		r = cs_err_ssl(err, -EIO, "sign certificate");
		goto out;
	}
	*out = x;
	x = NULL;
out:
	cs_strv_free(names, n_names);
	X509_NAME_free(subject);
	X509_free(x);
	return r;
}

int cs_ca_create_self_signed(X509 **out, EVP_PKEY *key, const char *common_name, int days, struct cs_err *err)
{
	X509 *x = X509_new();
	X509_NAME *subject = X509_NAME_new();
	int r = 0;
	*out = NULL;
	int64_t now = cs_now();
	if (!x || !subject || !X509_set_version(x, X509_VERSION_3) || random_serial(x) < 0 ||
	    !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8, (const unsigned char *)common_name,
					-1, -1, 0) ||
	    !X509_set_subject_name(x, subject) || !X509_set_issuer_name(x, subject) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now - CLOCK_SKEW)) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now + (int64_t)days * 86400)) ||
	    !X509_set_pubkey(x, key)) {
		r = cs_err_ssl(err, -EIO, "create CA certificate CN=%s", common_name);
		goto out;
	}
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0) {
		r = cs_err_ssl(err, -EINVAL, "CA certificate extensions");
		goto out;
	}
	if (!X509_sign(x, key, EVP_sha256())) {
		r = cs_err_ssl(err, -EIO, "sign CA certificate");
		goto out;
	}
	*out = x;
	x = NULL;
out:
	X509_NAME_free(subject);
	X509_free(x);
	return r;
}

static int ca_sign(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert,
		   X509_REQ *csr, const char *serial_hex, int64_t issue_time, X509 **out_cert,
		   STACK_OF(X509) **out_chain, struct cs_err *err)
{
	STACK_OF(X509) *ca_certs = NULL;
	EVP_PKEY *ca_key = NULL;
	X509 *x = NULL;
	int r = 0;
	*out_cert = NULL;
	*out_chain = NULL;

	/* The request proves possession of the key it names. */
	EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
	if (!pub || X509_REQ_verify(csr, pub) != 1) {
		r = cs_err_ssl(err, -EINVAL, "certificate request signature does not verify");
		goto out;
	}
	pthread_mutex_lock(&material_lock);
	struct ca_material *m = material_for(issuer);
	r = load_ca_certs_locked(&ca_certs, m, issuer, err);
	X509 *ca = r < 0 ? NULL : sk_X509_value(ca_certs, 0);
	if (r == 0 && X509_check_ca(ca) == 0)
		r = cs_err_set(err, -EINVAL, "CA certificate %s is not a CA certificate",
			       issuer->ca.cert);
	if (r == 0)
		r = load_ca_key_locked(&ca_key, m, issuer, ca, err);
	pthread_mutex_unlock(&material_lock);
	if (r < 0)
		goto out;
	r = build_cert(&x, issuer, cert, pub, ca, ca_key, serial_hex, issue_time, err);
	if (r < 0)
		goto out;
	*out_cert = x;
	*out_chain = ca_certs;
	ca_certs = NULL;
out:
	if (r < 0)
		cs_err_prefix(err, "issuer %s", issuer->name);
	EVP_PKEY_free(ca_key);
	sk_X509_pop_free(ca_certs, X509_free);
	ERR_clear_error();
	return r;
}

static int ca_issue(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert,
		    X509_REQ *csr, X509 **out_cert, STACK_OF(X509) **out_chain,
		    struct cs_err *err)
{
	return ca_sign(issuer, cert, csr, NULL, 0, out_cert, out_chain, err);
}

/* With the identity the caller kept before asking: signing again after a
 * crash gives the same serial and validity, so one renewal is one
 * certificate however often it is signed. */
static int ca_issue_ctx(struct cs_issue_ctx *ctx, const struct cs_issuer_cfg *issuer,
			const struct cs_cert_cfg *cert, X509_REQ *csr, X509 **out_cert,
			STACK_OF(X509) **out_chain, struct cs_err *err)
{
	return ca_sign(issuer, cert, csr, ctx->serial, ctx->issue_time, out_cert, out_chain, err);
}

static int ca_issued_by(const struct cs_issuer_cfg *issuer, X509 *cert)
{
	STACK_OF(X509) *ca_certs = NULL;
	int r = load_ca_certs(&ca_certs, issuer, NULL);
	if (r < 0)
		return -1;
	r = cs_cert_issued_by(cert, sk_X509_value(ca_certs, 0)) ? 1 : 0;
	sk_X509_pop_free(ca_certs, X509_free);
	return r;
}

/* Can this CA sign now?  Plan asks before it promises a renewal, so a
 * missing, unsafe, unparsable or mismatched key is shown in the plan rather
 * than found halfway through an apply. */
static int ca_ready(const struct cs_issuer_cfg *issuer, struct cs_err *err)
{
	STACK_OF(X509) *certs = NULL;
	pthread_mutex_lock(&material_lock);
	struct ca_material *m = material_for(issuer);
	int r = load_ca_certs_locked(&certs, m, issuer, err);
	if (r < 0)
		goto out;
	struct file_id key_id;
	if (m->ready && key_unchanged(m, issuer, &key_id))
		goto out; /* nothing changed since it passed */
	m->ready = false;
	X509 *ca = sk_X509_value(certs, 0);
	struct cs_cert_info info;
	r = cs_cert_info_get(&info, ca, err);
	if (r == 0) {
		bool is_ca = info.is_ca;
		cs_cert_info_free(&info);
		if (!is_ca)
			r = cs_err_set(err, -EINVAL,
				       "CA certificate %s is not a CA (basicConstraints CA:FALSE or missing)",
				       issuer->ca.cert);
	}
	EVP_PKEY *key = NULL;
	if (r == 0)
		r = load_ca_key_locked(&key, m, issuer, ca, err);
	EVP_PKEY_free(key);
	m->ready = r == 0;
out:
	pthread_mutex_unlock(&material_lock);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* ---- config body ---- */

static void ca_parse(struct cs_yaml *y, struct cs_issuer_cfg *is, const struct cs_ynode *m, const struct cs_issuer_refs *refs)
{
	static const char *const keys[] = { "cert", "key", "days", NULL };
	const char *where = cs_yaml_fmt(y, "in ca of issuer %s", cs_yaml_esc(y, is->name));
	struct cs_issuer_ca *ca = &is->ca;
	ca->days = 90;
	cs_yaml_check_keys(y, m, keys, where);
	cs_yaml_local_file(y, m, "cert", where, true, &ca->cert);
	cs_yaml_secret(y, m, "key", where, true, &ca->key);
	/* 0 marks a bad value, so that renew_before is not compared with it. */
	if (cs_yaml_lookup(y, m, "days", NULL) && !cs_yaml_int(y, m, "days", where, false, 1, 3650, &ca->days))
		ca->days = 0;
}

const struct cs_issuer_ops cs_issuer_ca = {
	.name = "ca",
	.parse = ca_parse,
	.asynchronous = false,
	.parallel_issue = true,     /* the CA's material is shared under material_lock */
	.issue = ca_issue,
	.issue_ctx = ca_issue_ctx,
	.collect = NULL,            /* answers at once */
	.collected = NULL,
	.issued_by = ca_issued_by,
	.request_location = NULL,   /* nothing is written anywhere */
	.ready = ca_ready,
};
