/* The local CA `certsync init` makes (see local_ca.h). */
#include "reconcile/local_ca.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "providers/base/util.h"
#include "providers/base/x509.h"
#include "providers/issuer/issuer.h"

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int cs_local_ca_make(const char *dir, bool *made, struct cs_err *err)
{
	char *pki = cs_path_join(dir, "pki");
	char *key_path = cs_path_join(pki, "ca.key"), *crt_path = cs_path_join(pki, "ca.crt");
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;
	struct cs_buf key_pem = CS_BUF_INIT, crt_pem = CS_BUF_INIT;
	int r = 0;
	*made = false;
	bool have_key = exists(key_path), have_crt = exists(crt_path);
	if (have_key && have_crt)
		goto out;
	if (have_key || have_crt) {
		r = cs_err_set(err, -EEXIST, "%s exists without %s: put the pair back or move it away",
			       have_key ? key_path : crt_path, have_key ? crt_path : key_path);
		goto out;
	}
	struct cs_key_spec spec = { .type = CS_KEY_ECDSA, .curve = CS_CURVE_P256 };
	if ((r = cs_mkdir_p(pki, 0755, err)) < 0 || (r = cs_key_generate(&key, &spec, err)) < 0 ||
	    (r = cs_ca_create_self_signed(&ca, key, "certsync local CA", 3650, err)) < 0 ||
	    (r = cs_key_to_pem(&key_pem, key, err)) < 0 || (r = cs_cert_to_pem(&crt_pem, ca, err)) < 0)
		goto out;
	/* The key first, private from the start: a secret file must be 0600. */
	if ((r = cs_file_write_atomic(key_path, key_pem.data, key_pem.len, 0600, (uid_t)-1, (gid_t)-1, err)) < 0 ||
	    (r = cs_file_write_atomic(crt_path, crt_pem.data, crt_pem.len, 0644, (uid_t)-1, (gid_t)-1, err)) < 0)
		goto out;
	*made = true;
out:
	EVP_PKEY_free(key);
	X509_free(ca);
	cs_buf_free_secret(&key_pem);
	cs_buf_free(&crt_pem);
	free(key_path);
	free(crt_path);
	free(pki);
	return r;
}
