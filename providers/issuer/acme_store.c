/* ACME accounts and orders in flight in the state folder (see acme_store.h). */
#include "providers/issuer/acme_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/pem.h>
#include "providers/base/util.h"
#include "providers/base/state_mirror.h"

#define DIR_MODE 0700
#define KEY_MODE 0600
#define FILE_MODE 0600
#define MAX_FILE (1u << 20)

/* One folder per directory URL and contact list: changing either means
 * another account, as the CA sees it. */
static char *account_dir(const char *state_dir, const char *directory, char *const *contact, size_t n)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_puts(&b, directory);
	for (size_t i = 0; i < n; i++)
		cs_buf_printf(&b, "\n%s", contact[i]);
	char hex[65];
	cs_sha256_hex(hex, b.data, b.len);
	cs_buf_free(&b);
	hex[16] = '\0';
	for (char *c = hex; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
	return cs_xasprintf("%s/acme/accounts/%s", state_dir, hex);
}

/* The rule and the message of the state folder's cs_store_check_name(). */
static int check_name(const char *name, struct cs_err *err)
{
	if (!name || !name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cs_err_set(err, -EINVAL, "invalid certificate name \"%s\" for the state folder",
				  name ? name : "");
	return 0;
}

static int read_key(EVP_PKEY **out, const char *path, struct cs_err *err)
{
	struct stat sb;
	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? -ENOENT : cs_err_errno(err, -errno, "key file %s", path);
	if (!S_ISREG(sb.st_mode))
		return cs_err_set(err, -EPERM, "key file %s is not a regular file", path);
	if (sb.st_mode & 077)
		return cs_err_set(err, -EPERM, "key file %s is accessible by others (mode %04o); run chmod 600 %s",
				  path, (unsigned)(sb.st_mode & 07777), path);
	struct cs_buf b = CS_BUF_INIT;
	int r = cs_file_read(&b, path, MAX_FILE, err);
	if (r < 0)
		goto out;
	BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
	*out = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	r = *out ? 0 : cs_err_ssl(err, -EINVAL, "key file %s", path);
out:
	cs_buf_free_secret(&b);
	return r;
}

static int write_key(const char *path, EVP_PKEY *key, struct cs_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r;
	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		r = cs_err_ssl(err, -EIO, "key file %s", path);
		goto out;
	}
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	r = cs_file_write_atomic(path, data, (size_t)len, KEY_MODE, (uid_t)-1, (gid_t)-1, err);
	OPENSSL_cleanse(data, (size_t)len);
out:
	BIO_free(bio);
	return r;
}

static int read_json(json_t **out, const char *path, struct cs_err *err)
{
	struct cs_buf b = CS_BUF_INIT;
	int r = cs_file_read(&b, path, MAX_FILE, err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		goto out;
	}
	if (r < 0)
		goto out;
	json_error_t jerr;
	*out = json_loadb(b.data, b.len, 0, &jerr);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		r = cs_err_set(err, -EINVAL, "%s:%d: %s", path, jerr.line, jerr.text);
	}
out:
	cs_buf_free(&b);
	return r;
}

static int write_json(const char *path, json_t *v, struct cs_err *err)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return cs_err_set(err, -ENOMEM, "%s: out of memory", path);
	int r = cs_file_write_atomic(path, text, strlen(text), FILE_MODE, (uid_t)-1, (gid_t)-1, err);
	free(text);
	return r;
}

int cs_acme_store_account_load(EVP_PKEY **out_key, char **out_url, const char *state_dir,
			       const char *directory, char *const *contact, size_t n_contact,
			       struct cs_err *err)
{
	char *dir = account_dir(state_dir, directory, contact, n_contact);
	char *key_path = cs_xasprintf("%s/key.pem", dir);
	char *meta_path = cs_xasprintf("%s/account.json", dir);
	json_t *meta = NULL;
	*out_key = NULL;
	*out_url = NULL;
	int r = read_key(out_key, key_path, err);
	if (r < 0)
		goto out;
	if ((r = read_json(&meta, meta_path, err)) < 0) {
		if (r == -ENOENT)
			r = 0; /* key kept, account not confirmed yet */
		goto out;
	}
	/* The folder name is a hash: make sure it is really this account. */
	if (!cs_streq(json_string_value(json_object_get(meta, "directory")), directory)) {
		r = cs_err_set(err, -EINVAL, "%s belongs to another acme directory", meta_path);
		goto out;
	}
	*out_url = cs_xstrdup(json_string_value(json_object_get(meta, "url")));
out:
	if (r < 0) {
		EVP_PKEY_free(*out_key);
		*out_key = NULL;
	}
	json_decref(meta);
	free(dir);
	free(key_path);
	free(meta_path);
	return r;
}

int cs_acme_store_account_save(const char *state_dir, const char *directory, char *const *contact,
			       size_t n_contact, EVP_PKEY *key, const char *url, struct cs_err *err)
{
	char *dir = account_dir(state_dir, directory, contact, n_contact);
	char *key_path = cs_xasprintf("%s/key.pem", dir);
	char *meta_path = cs_xasprintf("%s/account.json", dir);
	json_t *meta = NULL;
	int r = cs_mkdir_p(dir, DIR_MODE, err);
	if (r < 0)
		goto out;
	if ((r = write_key(key_path, key, err)) < 0)
		goto out;
	if (!url)
		goto out;
	meta = json_pack("{s:s, s:[], s:s}", "directory", directory, "contact", "url", url);
	for (size_t i = 0; i < n_contact; i++)
		json_array_append_new(json_object_get(meta, "contact"), json_string(contact[i]));
	r = write_json(meta_path, meta, err);
out:
	if (r < 0)
		cs_err_prefix(err, "acme account in the state folder");
	json_decref(meta);
	free(dir);
	free(key_path);
	free(meta_path);
	return r;
}

void cs_acme_order_rec_free(struct cs_acme_order_rec *rec)
{
	if (!rec)
		return;
	free(rec->directory);
	free(rec->account);
	free(rec->url);
	cs_strv_free(rec->names, rec->n_names);
	EVP_PKEY_free(rec->key);
	memset(rec, 0, sizeof *rec);
}

static char *order_path(const char *state_dir, const char *name, const char *suffix)
{
	return cs_xasprintf("%s/acme/orders/%s%s", state_dir, name, suffix);
}

int cs_acme_store_order_load(struct cs_acme_order_rec *out, const char *state_dir, const char *name,
			     struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	int r = check_name(name, err);
	if (r < 0)
		return r;
	char *path = order_path(state_dir, name, ".json");
	char *key_path = order_path(state_dir, name, ".key.pem");
	json_t *rec = NULL;
	if ((r = read_json(&rec, path, err)) < 0)
		goto out;
	const char *directory = json_string_value(json_object_get(rec, "directory"));
	const char *account = json_string_value(json_object_get(rec, "account"));
	const char *url = json_string_value(json_object_get(rec, "url"));
	json_t *names = json_object_get(rec, "names");
	if (!directory || !account || !url || !json_is_array(names)) {
		r = cs_err_set(err, -EINVAL, "%s: not an acme order record", path);
		goto out;
	}
	out->directory = cs_xstrdup(directory);
	out->account = cs_xstrdup(account);
	out->url = cs_xstrdup(url);
	out->created = json_integer_value(json_object_get(rec, "created"));
	out->n_names = json_array_size(names);
	out->names = cs_xcalloc(out->n_names ? out->n_names : 1, sizeof *out->names);
	for (size_t i = 0; i < out->n_names; i++)
		out->names[i] = cs_xstrdup(json_string_value(json_array_get(names, i)));
	r = read_key(&out->key, key_path, err);
	if (r == -ENOENT)
		r = 0; /* not finalized yet */
out:
	if (r < 0)
		cs_acme_order_rec_free(out);
	json_decref(rec);
	free(path);
	free(key_path);
	return r;
}

int cs_acme_store_order_save(const char *state_dir, const char *name, const struct cs_acme_order_rec *rec,
			     struct cs_err *err)
{
	int r = check_name(name, err);
	if (r < 0)
		return r;
	char *dir = cs_xasprintf("%s/acme/orders", state_dir);
	char *path = order_path(state_dir, name, ".json");
	char *key_path = order_path(state_dir, name, ".key.pem");
	json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:[]}", "directory", rec->directory, "account",
			      rec->account, "url", rec->url, "created", (json_int_t)rec->created, "names");
	for (size_t i = 0; v && i < rec->n_names; i++)
		json_array_append_new(json_object_get(v, "names"), json_string(rec->names[i]));
	if (!v) {
		r = cs_err_set(err, -ENOMEM, "acme order record: out of memory");
		goto out;
	}
	if ((r = cs_mkdir_p(dir, DIR_MODE, err)) < 0)
		goto out;
	/* Key first: a record that says "finalized" must find its key.  A new
	 * order must not inherit the key of an older one. */
	if (rec->key)
		r = write_key(key_path, rec->key, err);
	else
		r = cs_state_unlink(key_path, err);
	if (r < 0)
		goto out;
	r = write_json(path, v, err);
out:
	if (r < 0)
		cs_err_prefix(err, "acme order record for %s", name);
	json_decref(v);
	free(dir);
	free(path);
	free(key_path);
	return r;
}

int cs_acme_store_order_drop(const char *state_dir, const char *name, struct cs_err *err)
{
	int r = check_name(name, err);
	if (r < 0)
		return r;
	char *path = order_path(state_dir, name, ".json");
	char *key_path = order_path(state_dir, name, ".key.pem");
	/* Record first: a key without a record is ignored, not the reverse. */
	r = cs_state_unlink(path, err);
	if (r == 0)
		r = cs_state_unlink(key_path, err);
	free(path);
	free(key_path);
	return r;
}
