/* Platform driver table and the data types shared by every driver. */
#include "providers/platform/platform.h"

#include <errno.h>
#include <pthread.h>

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "providers/base/util.h"

const struct cs_platform_ops *cs_platform_ops_for(enum cs_platform p)
{
	switch (p) {
	case CS_PLATFORM_LINUX:
		return &cs_platform_linux;
	case CS_PLATFORM_WINDOWS:
		return &cs_platform_windows;
	}
	return NULL;
}

int cs_material_make(struct cs_material *out, EVP_PKEY *key, X509 *cert,
		     STACK_OF(X509) *chain, struct cs_err *err)
{
	return cs_material_make_from(out, key, NULL, cert, NULL, chain, NULL, NULL, err);
}

static bool have_text(const struct cs_buf *b)
{
	return b && b->data && b->len;
}

static int copy_text(struct cs_buf *out, const struct cs_buf *in, struct cs_err *err)
{
	int r = cs_buf_append(out, in->data, in->len);
	return r < 0 ? cs_err_errno(err, r, "material") : 0;
}

int cs_material_make_from(struct cs_material *out, EVP_PKEY *key, const struct cs_buf *key_pem,
			  X509 *cert, const struct cs_buf *cert_pem, STACK_OF(X509) *chain,
			  const struct cs_buf *chain_pem, const struct cs_cert_info *info, struct cs_err *err)
{
	memset(out, 0, sizeof *out);
	int r = have_text(key_pem) ? copy_text(&out->key_pem, key_pem, err)
				   : cs_key_to_pem(&out->key_pem, key, err);
	if (r == 0)
		r = have_text(cert_pem) ? copy_text(&out->cert_pem, cert_pem, err)
					: cs_cert_to_pem(&out->cert_pem, cert, err);
	if (r == 0)
		r = have_text(chain_pem) ? copy_text(&out->chain_pem, chain_pem, err)
					 : cs_chain_to_pem(&out->chain_pem, chain, err);
	if (r == 0 && info)
		cs_cert_info_copy(&out->info, info);
	else if (r == 0 && cert)
		r = cs_cert_info_get(&out->info, cert, err);
	else if (r == 0)
		r = cs_err_set(err, -EINVAL, "material: no certificate");
	if (r < 0) {
		cs_material_free(out);
		return r;
	}
	/* Empty buffers still read as "" */
	cs_buf_append(&out->key_pem, "", 0);
	cs_buf_append(&out->cert_pem, "", 0);
	cs_buf_append(&out->chain_pem, "", 0);
	if (cert)
		X509_up_ref(cert);
	if (key)
		EVP_PKEY_up_ref(key);
	out->cert = cert;
	out->key = key;
	return 0;
}

/* Parsing on first use: hosts are worked in parallel. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

int cs_material_unread(struct cs_material *out, const struct cs_cert_info *info, const char *key_sha256,
		       const char *cert_sha256, const char *chain_sha256,
		       int (*read_texts)(const void *ctx, struct cs_buf *key_pem, struct cs_buf *cert_pem,
					 struct cs_buf *chain_pem, struct cs_err *err),
		       const void *read_ctx)
{
	memset(out, 0, sizeof *out);
	cs_cert_info_copy(&out->info, info);
	out->unread = true;
	memcpy(out->key_sha256, key_sha256, 65);
	memcpy(out->cert_sha256, cert_sha256, 65);
	memcpy(out->chain_sha256, chain_sha256, 65);
	out->read_texts = read_texts;
	out->read_ctx = read_ctx;
	return 0;
}

/* With parse_lock held. */
static int texts_locked(struct cs_material *w, struct cs_err *err)
{
	if (!w->unread)
		return 0;
	struct cs_buf k = CS_BUF_INIT, c = CS_BUF_INIT, ch = CS_BUF_INIT;
	int r = w->read_texts(w->read_ctx, &k, &c, &ch, err);
	if (r < 0) {
		cs_buf_free_secret(&k);
		cs_buf_free(&c);
		cs_buf_free(&ch);
		return r;
	}
	cs_buf_append(&k, "", 0);
	cs_buf_append(&c, "", 0);
	cs_buf_append(&ch, "", 0);
	w->key_pem = k;
	w->cert_pem = c;
	w->chain_pem = ch;
	w->unread = false;
	return 0;
}

int cs_material_texts(const struct cs_material *m, struct cs_err *err)
{
	struct cs_material *w = (struct cs_material *)m; /* the cache only */
	pthread_mutex_lock(&parse_lock);
	int r = texts_locked(w, err);
	pthread_mutex_unlock(&parse_lock);
	return r;
}

bool cs_material_has_chain(const struct cs_material *m)
{
	/* SHA-256 of nothing */
	static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	return m->unread ? strcmp(m->chain_sha256, empty) != 0 : m->chain_pem.len > 0;
}

X509 *cs_material_cert(const struct cs_material *m)
{
	struct cs_material *w = (struct cs_material *)m; /* the cache only */
	pthread_mutex_lock(&parse_lock);
	struct cs_err terr = CS_ERR_INIT;
	if (!w->cert)
		texts_locked(w, &terr);
	cs_err_clear(&terr);
	if (!w->cert && w->cert_pem.len) {
		STACK_OF(X509) *certs = NULL;
		struct cs_err err = CS_ERR_INIT;
		if (cs_certs_parse(&certs, w->cert_pem.data, w->cert_pem.len, &err) == 0)
			w->cert = sk_X509_shift(certs);
		sk_X509_pop_free(certs, X509_free);
		cs_err_clear(&err);
	}
	pthread_mutex_unlock(&parse_lock);
	return w->cert;
}

EVP_PKEY *cs_material_key(const struct cs_material *m)
{
	struct cs_material *w = (struct cs_material *)m;
	pthread_mutex_lock(&parse_lock);
	struct cs_err terr = CS_ERR_INIT;
	if (!w->key)
		texts_locked(w, &terr);
	cs_err_clear(&terr);
	if (!w->key && w->key_pem.len) {
		struct cs_err err = CS_ERR_INIT;
		cs_key_parse(&w->key, w->key_pem.data, w->key_pem.len, &err);
		cs_err_clear(&err);
	}
	pthread_mutex_unlock(&parse_lock);
	return w->key;
}

void cs_material_free(struct cs_material *m)
{
	if (!m)
		return;
	cs_buf_free_secret(&m->key_pem);
	cs_buf_free(&m->cert_pem);
	cs_buf_free(&m->chain_pem);
	cs_cert_info_free(&m->info);
	X509_free(m->cert);
	EVP_PKEY_free(m->key);
	memset(m, 0, sizeof *m);
}

void cs_binding_obs_free(struct cs_binding_obs *o)
{
	if (!o)
		return;
	free(o->error);
	free(o->script_ran);
	free(o->unconfirmed);
	free(o->in_flight);
	for (size_t i = 0; i < o->n_files; i++) {
		free(o->files[i].path);
		cs_buf_free_secret(&o->files[i].content);
		free(o->files[i].owner);
		free(o->files[i].group);
		free(o->files[i].note);
		cs_pkcs12_view_free(o->files[i].pfx);
		free(o->files[i].pfx);
		free(o->files[i].pfx_error);
	}
	free(o->files);
	cs_strv_free(o->win.store, o->win.n_store);
	cs_strv_free(o->win.superseded, o->win.n_superseded);
	free(o->win.superseded_until);
	free(o->win.hash);
	for (size_t i = 0; i < 4; i++)
		free(o->win.exchange[i]);
	memset(o, 0, sizeof *o);
}

void cs_undo_free(struct cs_undo *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n_files; i++) {
		free(u->files[i].path);
		cs_buf_free_secret(&u->files[i].content);
		free(u->files[i].owner);
		free(u->files[i].group);
	}
	free(u->files);
	for (size_t i = 0; i < u->n_binds; i++) {
		free(u->binds[i].prev_hash);
		free(u->binds[i].appid);
		free(u->binds[i].what);
	}
	free(u->binds);
	memset(u, 0, sizeof *u);
}

void cs_thumbprint(char out[41], X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	out[0] = '\0';
	if (!cert || !X509_digest(cert, EVP_sha1(), md, &n) || n != 20)
		return;
	static const char hex[] = "0123456789ABCDEF";
	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[40] = '\0';
}

int cs_script_diff(const struct cs_binding_obs *obs, const struct cs_material *want, struct cs_buf *reason)
{
	if (obs->script_ran && !strcmp(obs->script_ran, want->info.sha1))
		return 0;
	if (!obs->script_ran) {
		cs_buf_printf(reason, "the script has not run for certificate %s", want->info.sha1);
	} else {
		char date[11];
		cs_time_date(date, obs->script_ran_at);
		cs_buf_printf(reason, "the script last ran for certificate %s (%s), not %s", obs->script_ran,
			      date, want->info.sha1);
	}
	return 1;
}

char *cs_run_failure_text(const struct cs_run_result *res, size_t max, bool keep_end)
{
	const char *text = res->err.len ? res->err.data : (res->out.len ? res->out.data : "");
	size_t n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	if (n <= max)
		return cs_xasprintf("%.*s", (int)n, text);
	return keep_end ? cs_xasprintf("…%.*s", (int)max, text + n - max) : cs_xasprintf("%.*s…", (int)max, text);
}
