/* The manual issuer ("manual: {requests, inbox}"): for CAs without an API.
 * issue() writes requests/NAME.csr for a person to submit; the CA's answer
 * is dropped into inbox/ in whatever form the CA sends (PEM, DER, PKCS#7),
 * and collect() checks it really answers the pending request before
 * anything is installed. */
#include "providers/issuer/issuer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/x509v3.h>
#include "providers/base/util.h"
#include "providers/base/x509.h"

/* Reply file extensions, in the order they are looked for. */
static const char *const reply_exts[] = { "pem", "crt", "cer", "der", "p7b", "p7c" };
#define N_EXTS (sizeof reply_exts / sizeof reply_exts[0])
#define MAX_REPLY (1u << 20)

static char *request_path(const struct cs_issuer_cfg *issuer, const char *name)
{
	char *file = cs_xasprintf("%s.csr", name);
	char *path = cs_path_join(issuer->manual.requests, file);
	free(file);
	return path;
}

static char *reply_path(const struct cs_issuer_cfg *issuer, const char *name, const char *ext)
{
	char *file = cs_xasprintf("%s.%s", name, ext);
	char *path = cs_path_join(issuer->manual.inbox, file);
	free(file);
	return path;
}

static int manual_issue(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert,
			X509_REQ *csr, X509 **out_cert, STACK_OF(X509) **out_chain,
			struct cs_err *err)
{
	struct cs_buf pem = CS_BUF_INIT;
	char *path = request_path(issuer, cert->name);
	int r = 0;
	*out_cert = NULL;
	*out_chain = NULL;
	r = cs_csr_to_pem(&pem, csr, err);
	if (r < 0)
		goto out;
	r = cs_mkdir_p(issuer->manual.requests, 0755, err);
	/* The inbox too, so the operator finds where the reply goes. */
	if (r == 0)
		r = cs_mkdir_p(issuer->manual.inbox, 0755, err);
	if (r < 0)
		goto out;
	/* A request holds no secret; the person sending it to the CA may be
	 * another user. */
	r = cs_file_write_atomic(path, pem.data, pem.len, 0644, (uid_t)-1, (gid_t)-1, err);
out:
	if (r < 0)
		cs_err_prefix(err, "issuer %s: write request", issuer->name);
	cs_buf_free(&pem);
	free(path);
	return r;
}

/* "CN=mail.example.org, serial 1A2B" for messages about a certificate. */
static char *describe(X509 *cert)
{
	struct cs_cert_info info;
	if (cs_cert_info_get(&info, cert, NULL) < 0)
		return cs_xstrdup("(unreadable certificate)");
	char *s = cs_xasprintf("%s, serial %s", info.subject, info.serial);
	cs_cert_info_free(&info);
	return s;
}

/* The certificate in one reply file that answers a request: the one for the
 * pending key, else the first end-entity certificate (answering another
 * request), else NULL when the file holds only CA certificates (a chain). */
static X509 *file_leaf(STACK_OF(X509) *certs, EVP_PKEY *key, bool *out_matches)
{
	*out_matches = false;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (cs_key_matches_cert(key, sk_X509_value(certs, i))) {
			*out_matches = true;
			return sk_X509_value(certs, i);
		}
	}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		if (!(X509_get_extension_flags(c) & EXFLAG_CA))
			return c;
	}
	return NULL;
}

/* The names in the certificate must be exactly the declared ones: a reply
 * with a name missing would break a binding, one with an extra name means
 * the CA answered something else than what was asked. */
static int check_names(const char *path, const struct cs_cert_cfg *cert,
		       const struct cs_cert_info *info, struct cs_err *err)
{
	size_t n_want = 0;
	char **want = cs_cert_names(cert, &n_want);
	struct cs_buf missing = CS_BUF_INIT, unexpected = CS_BUF_INIT;
	int r = 0;
	/* Both lists are sorted and unique: one merge pass finds the
	 * differences. */
	size_t i = 0, j = 0;
	while (i < n_want || j < info->n_dns_names) {
		int c = i == n_want ? 1 : j == info->n_dns_names ? -1
			: strcmp(want[i], info->dns_names[j]);
		if (c < 0)
			cs_buf_printf(&missing, "%s%s", missing.len ? ", " : "", want[i++]);
		else if (c > 0)
			cs_buf_printf(&unexpected, "%s%s", unexpected.len ? ", " : "",
				      info->dns_names[j++]);
		else
			i++, j++;
	}
	if (missing.len || unexpected.len) {
		r = cs_err_set(err, -EINVAL,
			       "%s: certificate names do not match %s:%s%s%s%s%s", path, cert->name,
			       missing.len ? " missing " : "", missing.len ? missing.data : "",
			       missing.len && unexpected.len ? ";" : "",
			       unexpected.len ? " unexpected " : "",
			       unexpected.len ? unexpected.data : "");
	}
	cs_buf_free(&missing);
	cs_buf_free(&unexpected);
	cs_strv_free(want, n_want);
	return r;
}

static int read_reply(STACK_OF(X509) **out, const char *path, struct cs_err *err)
{
	struct cs_buf b;
	cs_buf_init(&b, MAX_REPLY);
	int r = cs_file_read(&b, path, MAX_REPLY, err);
	/* The caller saw something there (lstat): missing now means a link
	 * to nowhere, a broken reply rather than none. */
	if (r == -ENOENT) {
		cs_err_clear(err);
		r = cs_err_set(err, -EINVAL, "%s: a symbolic link to a file that does not exist", path);
	}
	/* A huge file is a wrong reply like any other, not a local failure. */
	if (r == -E2BIG && err)
		err->code = -EINVAL;
	if (r == -E2BIG)
		r = -EINVAL;
	if (r == 0) {
		r = cs_certs_parse(out, b.data, b.len, err);
		if (r < 0)
			cs_err_prefix(err, "%s", path);
	}
	cs_buf_free(&b);
	return r;
}

static int manual_collect(struct cs_issuer_reply *out, const struct cs_issuer_cfg *issuer,
			  const struct cs_cert_cfg *cert, EVP_PKEY *pending_key,
			  struct cs_err *err)
{
	STACK_OF(X509) *bag = sk_X509_new_null();
	STACK_OF(X509) *certs = NULL;
	char *path = NULL, *first_path = NULL, *leaf_path = NULL, *a = NULL, *b = NULL;
	X509 *leaf = NULL;      /* the first file's answer, borrowed from bag */
	bool matches = false;
	struct cs_cert_info info;
	int r = 0;
	memset(out, 0, sizeof *out);
	memset(&info, 0, sizeof info);
	if (!bag) {
		r = cs_err_errno(err, -ENOMEM, "collect %s", cert->name);
		goto out;
	}
	/* Every reply file for this certificate goes into one bag (a CA may
	 * send the certificate and its chain separately), but the files must
	 * not disagree about which certificate is the answer. */
	for (size_t e = 0; e < N_EXTS; e++) {
		free(path);
		path = reply_path(issuer, cert->name, reply_exts[e]);
		/* lstat: a dangling link or a link loop is a broken reply to
		 * report, not an absent one (the read below says which). */
		struct stat st;
		if (lstat(path, &st) < 0)
			continue;
		r = read_reply(&certs, path, err);
		if (r < 0)
			goto out;
		if (!first_path)
			first_path = cs_xstrdup(path);
		bool m = false;
		X509 *l = file_leaf(certs, pending_key, &m);
		if (l && leaf && X509_cmp(l, leaf) != 0) {
			a = describe(leaf);
			b = describe(l);
			r = cs_err_set(err, -EINVAL, "%s and %s hold different certificates for %s (%s; %s)",
				       leaf_path, path, cert->name, a, b);
			goto out;
		}
		if (l && !leaf) {
			leaf = l;
			matches = m;
			leaf_path = cs_xstrdup(path);
		}
		while (sk_X509_num(certs) > 0) {
			X509 *c = sk_X509_shift(certs);
			if (!sk_X509_push(bag, c)) {
				X509_free(c);
				r = cs_err_errno(err, -ENOMEM, "collect %s", cert->name);
				goto out;
			}
		}
		sk_X509_free(certs);
		certs = NULL;
	}
	if (!first_path) {
		r = cs_err_set(err, -ENOENT, "no reply for %s in %s yet", cert->name,
			       issuer->manual.inbox);
		goto out;
	}
	if (!leaf) {
		r = cs_err_set(err, -EINVAL, "%s: only CA certificates, none for %s", first_path,
			       cert->name);
		goto out;
	}
	if (!matches) {
		a = describe(leaf);
		r = cs_err_set(err, -EINVAL,
			       "%s: certificate %s does not match the pending key of %s "
			       "(it answers another request)", leaf_path, a, cert->name);
		goto out;
	}
	r = cs_certs_split(&out->cert, &out->chain, bag, pending_key, err);
	if (r < 0) {
		cs_err_prefix(err, "%s", leaf_path);
		r = -EINVAL;
		goto out;
	}
	r = cs_cert_info_get(&info, out->cert, err);
	if (r < 0) {
		cs_err_prefix(err, "%s", leaf_path);
		goto out;
	}
	r = check_names(leaf_path, cert, &info, err);
	if (r < 0)
		goto out;
	/* Not yet valid is fine (the CA's clock, or a dated certificate): it
	 * is installed and becomes valid on its own.  Expired never is. */
	if (info.not_after <= cs_now()) {
		char when[21];
		cs_time_rfc3339(when, info.not_after);
		r = cs_err_set(err, -EINVAL, "%s: certificate serial %s expired on %s", leaf_path,
			       info.serial, when);
		goto out;
	}
	out->path = leaf_path;
	leaf_path = NULL;
out:
	if (r < 0) {
		cs_issuer_reply_free(out);
		cs_err_prefix(err, "issuer %s", issuer->name);
	}
	cs_cert_info_free(&info);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(bag, X509_free);
	free(path);
	free(first_path);
	free(leaf_path);
	free(a);
	free(b);
	return r;
}

/* The certificate's name is the reply file's name without its extension. */
static char *name_of_reply(const char *path)
{
	const char *base = cs_path_basename(path);
	const char *dot = strrchr(base, '.');
	return cs_xasprintf("%.*s", (int)(dot ? dot - base : (long)strlen(base)), base);
}

static int manual_collected(const struct cs_issuer_cfg *issuer,
			    const struct cs_issuer_reply *reply, struct cs_err *err)
{
	char *name = name_of_reply(reply->path);
	char *imported = cs_path_join(issuer->manual.inbox, "imported");
	char *from = NULL, *to = NULL;
	struct cs_cert_info info;
	int r = cs_cert_info_get(&info, reply->cert, err);
	if (r < 0)
		goto out;
	r = cs_mkdir_p(imported, 0755, err);
	if (r < 0)
		goto out;
	/* Every reply file was part of the answer; move them all so the next
	 * plan does not find them again. */
	for (size_t e = 0; e < N_EXTS; e++) {
		free(from);
		free(to);
		from = reply_path(issuer, name, reply_exts[e]);
		to = cs_xasprintf("%s/%s-%s.%s", imported, name, info.serial, reply_exts[e]);
		if (rename(from, to) < 0 && errno != ENOENT) {
			r = cs_err_errno(err, -errno, "move %s to %s", from, to);
			goto out;
		}
	}
out:
	if (r < 0)
		cs_err_prefix(err, "issuer %s", issuer->name);
	cs_cert_info_free(&info);
	free(from);
	free(to);
	free(imported);
	free(name);
	return r;
}

/* Only the store knows what came from a manual CA. */
static int manual_issued_by(const struct cs_issuer_cfg *issuer, X509 *cert)
{
	(void)issuer;
	(void)cert;
	return -1;
}

static char *manual_request_location(const struct cs_issuer_cfg *issuer,
				     const struct cs_cert_cfg *cert)
{
	return request_path(issuer, cert->name);
}

static char *manual_reply_location(const struct cs_issuer_cfg *issuer, const struct cs_cert_cfg *cert)
{
	return cs_xasprintf("%s/ as %s.pem (or .crt, .cer, .der, .p7b)", issuer->manual.inbox, cert->name);
}

/* ---- config body ---- */

static void manual_parse(struct cs_yaml *y, struct cs_issuer_cfg *is, const struct cs_ynode *m, const struct cs_issuer_refs *refs)
{
	static const char *const keys[] = { "requests", "inbox", NULL };
	const char *where = cs_yaml_fmt(y, "in manual of issuer %s", cs_yaml_esc(y, is->name));
	struct cs_issuer_manual *man = &is->manual;
	man->requests = cs_yaml_local_path(y, "requests/");
	man->inbox = cs_yaml_local_path(y, "inbox/");
	cs_yaml_check_keys(y, m, keys, where);
	cs_yaml_path(y, m, "requests", where, false, &man->requests);
	cs_yaml_path(y, m, "inbox", where, false, &man->inbox);
}

const struct cs_issuer_ops cs_issuer_manual = {
	.name = "manual",
	.parse = manual_parse,
	.asynchronous = true,
	.issue = manual_issue,                       /* writes requests/NAME.csr */
	.collect = manual_collect,                   /* reads inbox/NAME.{pem,crt,cer,der,p7b,p7c} */
	.collected = manual_collected,               /* moves them to inbox/imported/ */
	.issued_by = manual_issued_by,
	.request_location = manual_request_location,
	.reply_location = manual_reply_location,
};
