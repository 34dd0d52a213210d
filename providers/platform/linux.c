/* Linux platform driver: `files` bindings (cert, key, chain, fullchain, pem
 * and a PKCS#12 pfx written atomically with mode and owner), `script`
 * bindings (linux_script.h) and reload commands.
 *
 * Every file is compared byte for byte with what certsync would write, so a
 * plan is clean exactly when the files are what the store holds.  Except
 * the pfx: PKCS#12 encryption is salted at random, so no two writes give
 * the same bytes.  A pfx is opened with its password and what it holds (the
 * key, the certificate, the chain, the alias and the algorithms) compared
 * instead; that also sees a file someone else replaced, and a changed
 * password (the file no longer opens), which a digest of the inputs kept
 * in the state folder would not. */
#include "providers/platform/platform.h"
#include "providers/platform/linux_accounts.h"
#include "providers/platform/linux_batch.h"
#include "providers/platform/linux_script.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

/* Files larger than this are not certificate files: refuse to slurp them. */
#define MAX_CERT_FILE (1u << 20)
/* How much of a failing reload's stderr goes into the message. */
#define MAX_STDERR_SHOWN 600

struct file_role {
	const char *role;
	size_t offset; /* of the path in struct cs_bind_files */
};

static const struct file_role roles[] = {
	{ "cert", offsetof(struct cs_bind_files, cert) },
	{ "key", offsetof(struct cs_bind_files, key) },
	{ "chain", offsetof(struct cs_bind_files, chain) },
	{ "fullchain", offsetof(struct cs_bind_files, fullchain) },
	{ "pem", offsetof(struct cs_bind_files, pem) },
	{ "pfx", offsetof(struct cs_bind_files, pfx) },
};

static const char *role_path(const struct cs_bind_files *f, const struct file_role *r)
{
	return *(char *const *)((const char *)f + r->offset);
}

/* The SHA-256 of what a role's file should hold when the material knows it
 * (one made unread, its texts read since or not), else NULL. */
static const char *wanted_sha256(const char *role, const struct cs_material *m)
{
	if (!m->cert_sha256[0])
		return NULL;
	if (!strcmp(role, "cert"))
		return m->cert_sha256;
	if (!strcmp(role, "key"))
		return m->key_sha256;
	if (!strcmp(role, "chain"))
		return m->chain_sha256;
	return NULL;
}

/* Does fo hold what want says, by SHA-256 when that decides (an unread
 * material, and the file's digest is the wanted one), else by the bytes
 * (texts read now: a different file, or a role made of several texts)?
 * Not for pfx. */
static int wanted_content(struct cs_buf *out, const char *role, const struct cs_material *m);
static bool content_same(const struct cs_file_obs *fo, const struct cs_material *want)
{
	const char *sum = wanted_sha256(fo->role, want);
	if (sum && !strcmp(sum, fo->sha256))
		return true;
	struct cs_buf w = CS_BUF_INIT;
	wanted_content(&w, fo->role, want);
	bool same = w.len == fo->content.len && !memcmp(w.data, fo->content.data, w.len);
	cs_buf_free_secret(&w);
	return same;
}

/* The exact bytes a role's file should hold. */
static int wanted_content(struct cs_buf *out, const char *role, const struct cs_material *m)
{
	struct cs_err err = CS_ERR_INIT;
	int r = cs_material_texts(m, &err); /* an unread material's, read now */
	cs_err_clear(&err);
	if (r < 0)
		return r;
	r = cs_buf_append(out, "", 0);
	if (!strcmp(role, "cert"))
		r = cs_buf_append(out, m->cert_pem.data, m->cert_pem.len);
	else if (!strcmp(role, "key"))
		r = cs_buf_append(out, m->key_pem.data, m->key_pem.len);
	else if (!strcmp(role, "chain"))
		r = cs_buf_append(out, m->chain_pem.data, m->chain_pem.len);
	else if (!strcmp(role, "fullchain")) {
		r = cs_buf_append(out, m->cert_pem.data, m->cert_pem.len);
		if (r == 0)
			r = cs_buf_append(out, m->chain_pem.data, m->chain_pem.len);
	} else if (!strcmp(role, "pem")) {
		r = cs_buf_append(out, m->key_pem.data, m->key_pem.len);
		if (r == 0)
			r = cs_buf_append(out, m->cert_pem.data, m->cert_pem.len);
		if (r == 0)
			r = cs_buf_append(out, m->chain_pem.data, m->chain_pem.len);
	}
	return r;
}

/* ---- pfx ---- */

/* The password of f's pfx into pw; the message names the file and the
 * reference, never the value. */
static int pfx_password(struct cs_buf *pw, const struct cs_bind_files *f, struct cs_err *err)
{
	int r = cs_secret_resolve_line(&f->pfx_password, pw, err);
	if (r < 0)
		return cs_err_prefix(err, "password of pfx %s (pfx_password)", f->pfx);
	return 0;
}

/* want's chain as certificates (NULL when it has none). */
static int material_chain(STACK_OF(X509) **out, const struct cs_material *want, struct cs_err *err)
{
	*out = NULL;
	int r = cs_material_texts(want, err);
	if (r < 0)
		return r;
	if (want->chain_pem.len == 0)
		return 0;
	return cs_certs_parse(out, want->chain_pem.data, want->chain_pem.len, err);
}

/* What a pfx of want made for f holds. */
static int pfx_expected(struct cs_pkcs12_view *out, const struct cs_bind_files *f, const struct cs_material *want,
			struct cs_err *err)
{
	STACK_OF(X509) *chain = NULL;
	memset(out, 0, sizeof *out);
	int r = material_chain(&chain, want, err);
	if (r == 0)
		r = cs_pkcs12_expect(out, cs_material_key(want), cs_material_cert(want), chain, f->pfx_alias, f->pfx_legacy, err);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

static int pfx_content(struct cs_buf *out, const struct cs_bind_files *f, const struct cs_material *want,
		       const char *password, struct cs_err *err)
{
	STACK_OF(X509) *chain = NULL;
	int r = material_chain(&chain, want, err);
	if (r == 0)
		r = cs_pkcs12_build(out, cs_material_key(want), cs_material_cert(want), chain, f->pfx_alias, password, f->pfx_legacy, err);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

/* Does the pfx seen (NULL: it did not open) hold what want would give? */
static bool pfx_same(const struct cs_bind_files *f, const struct cs_pkcs12_view *seen, const struct cs_material *want)
{
	struct cs_pkcs12_view w = { 0 };
	struct cs_err err = CS_ERR_INIT;
	bool same = seen && pfx_expected(&w, f, want, &err) == 0 && cs_pkcs12_view_equal(seen, &w);
	cs_pkcs12_view_free(&w);
	cs_err_clear(&err);
	return same;
}

/* Why the pfx fo is not what want would give, for the plan. */
static void pfx_reason(struct cs_buf *reason, const struct cs_bind_files *f, const struct cs_file_obs *fo,
		       const struct cs_material *want)
{
	if (!fo->pfx) {
		cs_buf_printf(reason, "pfx %s %s", fo->path, fo->pfx_error ? fo->pfx_error : "was not read");
		return;
	}
	struct cs_pkcs12_view w;
	struct cs_err err = CS_ERR_INIT;
	if (pfx_expected(&w, f, want, &err) < 0) {
		cs_buf_printf(reason, "pfx %s: %s", fo->path, cs_err_msg(&err));
		cs_err_clear(&err);
		return;
	}
	const struct cs_pkcs12_view *s = fo->pfx;
	const char *sep = "";
	cs_buf_printf(reason, "pfx %s ", fo->path);
	if (strcmp(s->cert, w.cert)) {
		if (s->serial)
			cs_buf_printf(reason, "holds another certificate (serial %s), want serial %s", s->serial,
				      w.serial ? w.serial : "?");
		else
			cs_buf_printf(reason, "holds no certificate, want serial %s", w.serial ? w.serial : "?");
		sep = ", ";
	}
	if (strcmp(s->key, w.key)) {
		cs_buf_printf(reason, "%sholds %s private key", sep, s->key[0] ? "another" : "no");
		sep = ", ";
	}
	if (!cs_streq(s->chain, w.chain)) {
		cs_buf_printf(reason, "%sholds another chain", sep);
		sep = ", ";
	}
	if (!cs_streq(s->name, w.name)) {
		cs_buf_printf(reason, "%shas alias %s%s%s, want \"%s\"", sep, s->name ? "\"" : "",
			      s->name ? s->name : "none", s->name ? "\"" : "", w.name ? w.name : "");
		sep = ", ";
	}
	if (strcmp(s->format, w.format))
		cs_buf_printf(reason, "%sis encrypted with %s, want %s (pfx_legacy: %s)", sep, s->format, w.format,
			      f->pfx_legacy ? "true" : "false");
	cs_pkcs12_view_free(&w);
}

/* Open b's pfx with its password: what it holds into fo->pfx, or why it
 * does not open into fo->pfx_error (the plan's reason to write it).  A
 * password that cannot be read is the binding's error: the plan writes
 * none of its files then. */
static void observe_pfx(const struct cs_binding_cfg *b, struct cs_binding_obs *out)
{
	if (b->kind != CS_BIND_FILES || !b->files.pfx || out->error)
		return;
	struct cs_buf pw = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	if (pfx_password(&pw, &b->files, &err) < 0) {
		out->error = cs_xstrdup(cs_err_msg(&err));
		goto out;
	}
	for (size_t i = 0; i < out->n_files; i++) {
		struct cs_file_obs *fo = &out->files[i];
		if (strcmp(fo->role, "pfx") || !fo->exists)
			continue;
		fo->pfx = cs_xcalloc(1, sizeof *fo->pfx);
		int r = cs_pkcs12_read(fo->pfx, fo->content.data ? fo->content.data : "", fo->content.len, pw.data, &err);
		if (r < 0) {
			char ref[512];
			cs_pkcs12_view_free(fo->pfx);
			free(fo->pfx);
			fo->pfx = NULL;
			cs_secret_describe(&b->files.pfx_password, ref, sizeof ref);
			if (r == -EACCES)
				fo->pfx_error = cs_xasprintf("does not open with the password from %s (another password, "
							     "or a damaged file)", ref);
			else
				fo->pfx_error = cs_xasprintf("cannot be read as PKCS#12 with the password from %s: %s", ref,
							     cs_err_msg(&err));
			cs_err_clear(&err);
		}
	}
out:
	cs_err_clear(&err);
	cs_buf_free_secret(&pw);
}

static void file_obs_start(struct cs_file_obs *fo, const char *role, const char *path)
{
	fo->role = role;
	fo->path = cs_xstrdup(path);
	cs_buf_init(&fo->content, MAX_CERT_FILE);
}

/* Observe one file through the transport: a stat, then a read. */
static int observe_file(struct cs_transport *t, struct cs_file_obs *fo, struct cs_binding_obs *out,
			struct cs_err *err)
{
	struct cs_file_stat st = { 0 };
	/* Both at once when the transport can and the file is plain. */
	if (t->ops->stat_read && t->ops->stat_read(t, fo->path, &st, &fo->content, err) == 0) {
		fo->exists = st.exists;
		if (st.exists) {
			fo->mode = st.mode;
			fo->uid = st.uid;
			fo->gid = st.gid;
			fo->owner = st.owner;
			fo->group = st.group;
			st.owner = st.group = NULL;
			cs_sha256_hex(fo->sha256, fo->content.data, fo->content.len);
		}
		cs_file_stat_free(&st);
		return 0;
	}
	cs_err_clear(err);
	int r = t->ops->stat(t, fo->path, &st, err);
	if (r == -EACCES) {
		/* A folder the user cannot enter (/etc/ssl/private, 0710
		 * root:ssl-cert): that binding's error, not the host's. */
		char *dir = cs_path_dirname(fo->path);
		if (!out->error)
			out->error = cs_xasprintf("%s (the user certsync runs as cannot enter folder %s: let it, or %s)",
						  cs_err_msg(err), dir, cs_linux_root_fix(t));
		cs_err_clear(err);
		free(dir);
		return 0;
	}
	if (r < 0)
		return cs_err_prefix(err, "stat %s", fo->path);
	fo->exists = st.exists;
	if (st.exists) {
		fo->mode = st.mode;
		fo->uid = st.uid;
		fo->gid = st.gid;
		fo->owner = cs_xstrdup(st.owner);
		fo->group = cs_xstrdup(st.group);
		struct cs_err rerr = CS_ERR_INIT;
		r = t->ops->read_file(t, fo->path, &fo->content, &rerr);
		if (r == -ENOENT) {
			fo->exists = false; /* removed between stat and read */
		} else if (r < 0) {
			/* Unreadable: the plan shows it; not the host's fault. */
			if (!out->error)
				out->error = cs_xstrdup(cs_err_msg(&rerr));
		} else {
			cs_sha256_hex(fo->sha256, fo->content.data, fo->content.len);
		}
		cs_err_clear(&rerr);
	}
	cs_file_stat_free(&st);
	return 0;
}

/* A missing file whose folder is missing too can not be written (certsync
 * does not create folders: they are the service's setup): say so in the
 * plan rather than fail halfway through an apply.  One stat per folder,
 * only for missing files. */
static void check_folders(struct cs_transport *t, struct cs_binding_obs *out)
{
	char *checked = NULL;
	for (size_t i = 0; i < out->n_files && !out->error; i++) {
		const struct cs_file_obs *fo = &out->files[i];
		if (fo->exists)
			continue;
		char *dir = cs_path_dirname(fo->path);
		if (!checked || strcmp(checked, dir)) {
			struct cs_file_stat st = { 0 };
			struct cs_err serr = CS_ERR_INIT;
			/* A folder that can not be looked at is left to apply. */
			if (t->ops->stat(t, dir, &st, &serr) == 0 && !st.exists)
				out->error = cs_xasprintf("folder %s does not exist (certsync writes files into "
							  "existing folders only: create it first)", dir);
			cs_err_clear(&serr);
			cs_file_stat_free(&st);
			free(checked);
			checked = dir;
		} else {
			free(dir);
		}
	}
	free(checked);
}

/* The distinct folders of the files bindings[0..n) name, in order. */
static size_t folders_of(const struct cs_binding_cfg *const *bindings, size_t n, char ***out)
{
	const size_t n_roles = sizeof roles / sizeof roles[0];
	char **dirs = cs_xcalloc(n * n_roles + 1, sizeof *dirs);
	size_t n_dirs = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; bindings[i]->kind == CS_BIND_FILES && j < n_roles; j++) {
			const char *path = role_path(&bindings[i]->files, &roles[j]);
			if (!path)
				continue;
			char *dir = cs_path_dirname(path);
			bool seen = false;
			for (size_t k = 0; k < n_dirs && !seen; k++)
				seen = !strcmp(dirs[k], dir);
			if (seen)
				free(dir);
			else
				dirs[n_dirs++] = dir;
		}
	*out = dirs;
	return n_dirs;
}

/* Run the who script (linux_batch.h) for dirs on its own; false when the
 * host did not answer it (then nothing is predicted: apply will say). */
static bool ask_who(struct cs_transport *t, const char *const *dirs, size_t n_dirs, struct cs_linux_who *who)
{
	struct cs_buf script = CS_BUF_INIT;
	struct cs_run_result res;
	struct cs_err err = CS_ERR_INIT;
	size_t used;
	cs_run_result_init(&res, 64 * 1024 + n_dirs * 4096);
	bool ok = cs_linux_who_script(&script, dirs, n_dirs) == 0 &&
		  t->ops->run(t, script.data, NULL, 0, &res, &err) == 0 && res.exit_status == 0 &&
		  cs_linux_who_parse(who, dirs, n_dirs, res.out.data ? res.out.data : "", res.out.len, &used) == 0;
	cs_err_clear(&err);
	cs_run_result_free(&res);
	cs_buf_free(&script);
	return ok;
}

/* What the login user cannot do to the files (linux_accounts.h).  who:
 * what the batch script said, or NULL to ask now. */
static void check_permissions(struct cs_transport *t, const struct cs_linux_who *who,
			      const struct cs_binding_cfg *const *bindings, struct cs_binding_obs *const *outs,
			      size_t n)
{
	struct cs_linux_who asked;
	char **dirs = NULL;
	size_t n_dirs = folders_of(bindings, n, &dirs);
	if (!who && n_dirs > 0 && ask_who(t, (const char *const *)dirs, n_dirs, &asked))
		who = &asked;
	if (who && n_dirs > 0)
		cs_linux_check_permissions(t, who, bindings, outs, n);
	if (who == &asked)
		cs_linux_who_free(&asked);
	cs_strv_free(dirs, n_dirs);
}

/* Start out for a files binding, or say why the binding can not be
 * observed here (false: out->error set, nothing to read). */
static bool observe_start(const struct cs_binding_cfg *b, struct cs_binding_obs *out)
{
	memset(out, 0, sizeof *out);
	if (b->kind == CS_BIND_SCRIPT)
		return false; /* nothing to read: the state folder remembers its runs */
	if (b->kind != CS_BIND_FILES) {
		out->error = cs_xasprintf("%s bindings on linux are not supported yet",
					  cs_binding_kind_name(b->kind));
		return false;
	}
	out->files = cs_xcalloc(sizeof roles / sizeof roles[0], sizeof *out->files);
	return true;
}

static int observe(struct cs_transport *t, const struct cs_binding_cfg *b,
		   struct cs_binding_obs *out, struct cs_err *err)
{
	if (!observe_start(b, out))
		return 0;
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		const char *path = role_path(&b->files, &roles[i]);
		if (!path)
			continue;
		struct cs_file_obs *fo = &out->files[out->n_files++];
		file_obs_start(fo, roles[i].role, path);
		int r = observe_file(t, fo, out, err);
		if (r < 0)
			return r;
	}
	check_folders(t, out);
	observe_pfx(b, out);
	struct cs_binding_obs *const outs[] = { out };
	cs_linux_check_accounts(t, &b, outs, 1);
	check_permissions(t, NULL, &b, outs, 1);
	return 0;
}

/* Every file of a host's bindings in one run() (linux_batch.h).  Files the
 * script did not answer, or all of them when the run itself failed or its
 * output is not whole, are observed the per-file way, in the same order as
 * observe() would: results and messages are the same either way. */
static int observe_bindings(struct cs_transport *t, const struct cs_binding_cfg *const *bindings,
			    struct cs_binding_obs *const *outs, size_t n, struct cs_err *err)
{
	const size_t n_roles = sizeof roles / sizeof roles[0];
	const char **paths = cs_xcalloc(n * n_roles + 1, sizeof *paths);
	size_t n_paths = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; bindings[i]->kind == CS_BIND_FILES && j < n_roles; j++)
			if (role_path(&bindings[i]->files, &roles[j]))
				paths[n_paths++] = role_path(&bindings[i]->files, &roles[j]);
	struct cs_file_obs *batch = cs_xcalloc(n_paths + 1, sizeof *batch);
	bool *got = cs_xcalloc(n_paths + 1, sizeof *got);
	for (size_t k = 0; k < n_paths; k++)
		cs_buf_init(&batch[k].content, MAX_CERT_FILE);

	int sudo_r = 0;
	char **dirs = NULL;
	size_t n_dirs = folders_of(bindings, n, &dirs);
	struct cs_linux_who who;
	bool have_who = false, noisy = false;
	char *shell_err = NULL;
	if (t->ops->remote && n_paths > 0) {
		struct cs_buf script = CS_BUF_INIT;
		struct cs_run_result res;
		struct cs_err rerr = CS_ERR_INIT;
		/* Room for every file in base64 with its headers, and for who. */
		cs_run_result_init(&res, n_paths * (MAX_CERT_FILE / 3 * 4 + MAX_CERT_FILE / 57 + 4096) + 64 * 1024 +
					 n_dirs * 4096);
		/* Who the login user is goes first, in the same run. */
		int rr = cs_linux_observe_script(&script, (const char *const *)dirs, n_dirs, paths, n_paths,
						 MAX_CERT_FILE);
		if (rr == 0)
			rr = t->ops->run(t, script.data, NULL, 0, &res, &rerr);
		size_t used = (size_t)-1;
		/* The files' part may have failed (a race with a change): who
		 * stands anyway. */
		if (rr == 0)
			have_who = cs_linux_who_parse(&who, (const char *const *)dirs, n_dirs,
						      res.out.data ? res.out.data : "", res.out.len, &used) == 0;
		if (rr == 0 && res.exit_status == 0 && used != (size_t)-1)
			cs_linux_batch_parse(batch, got, n_paths, res.out.data + used, res.out.len - used,
					     MAX_CERT_FILE);
		/* become: sudo refused: every command of an apply goes through
		 * sudo, so the host cannot be worked on; say so now rather than
		 * after a renewal. */
		if (rr == -EACCES && t->host->ssh.become_sudo)
			sudo_r = cs_err_set(err, rr, "%s", cs_err_msg(&rerr));
		noisy = rr == 0 && res.login_noise;
		/* fish or csh: nothing certsync runs there means what it says. */
		if (rr == -ENOEXEC)
			shell_err = cs_xstrdup(cs_err_msg(&rerr));
		cs_err_clear(&rerr);
		cs_buf_free_secret(&res.out);
		cs_run_result_free(&res);
		cs_buf_free(&script);
	}

	int r = sudo_r;
	if (shell_err && r == 0)
		r = cs_err_set(err, -ENOEXEC, "%s", shell_err);
	free(shell_err);
	size_t k = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct cs_binding_obs *out = outs[i];
		if (!observe_start(bindings[i], out))
			continue;
		for (size_t j = 0; j < n_roles && r == 0; j++) {
			const char *path = role_path(&bindings[i]->files, &roles[j]);
			if (!path)
				continue;
			struct cs_file_obs *fo = &out->files[out->n_files++];
			if (got[k]) {
				*fo = batch[k];
				memset(&batch[k], 0, sizeof batch[k]);
				fo->role = roles[j].role;
				fo->path = cs_xstrdup(path);
			} else {
				file_obs_start(fo, roles[j].role, path);
				r = observe_file(t, fo, out, err);
			}
			k++;
		}
		if (r == 0)
			check_folders(t, out);
		if (r == 0)
			observe_pfx(bindings[i], out);
	}
	/* Files go over SFTP, which the shell's chatter breaks: said now, not
	 * halfway through an apply (also while the files are in sync: their
	 * next replacement would fail). */
	for (size_t i = 0; i < n && r == 0 && noisy; i++)
		if (bindings[i]->kind == CS_BIND_FILES && !outs[i]->error)
			outs[i]->error = cs_xasprintf("host %s: " CS_LOGIN_NOISE_FMT, t->host->name,
						      t->host->ssh.user, t->host->ssh.user);
	if (r == 0)
		cs_linux_check_accounts(t, bindings, outs, n);
	/* A remote host that did not answer the batch is not asked again. */
	if (r == 0 && (have_who || !t->ops->remote))
		check_permissions(t, have_who ? &who : NULL, bindings, outs, n);
	if (have_who)
		cs_linux_who_free(&who);
	cs_strv_free(dirs, n_dirs);
	for (k = 0; k < n_paths; k++) {
		free(batch[k].owner);
		free(batch[k].group);
		cs_buf_free_secret(&batch[k].content);
	}
	free(batch);
	free(got);
	free(paths);
	return r;
}

/* Describe what an unexpected certificate file holds, for the reason. */
static void describe_found(struct cs_buf *reason, const struct cs_file_obs *fo)
{
	struct cs_err err = CS_ERR_INIT;
	STACK_OF(X509) *certs = NULL;
	if (cs_certs_parse(&certs, fo->content.data, fo->content.len, &err) == 0 &&
	    sk_X509_num(certs) > 0) {
		struct cs_cert_info info;
		if (cs_cert_info_get(&info, sk_X509_value(certs, 0), &err) == 0) {
			char date[11];
			cs_time_date(date, info.not_after);
			cs_buf_printf(reason, " (holds serial %s, expires %s)", info.serial, date);
			cs_cert_info_free(&info);
		}
	} else {
		cs_buf_puts(reason, " (holds no certificate)");
	}
	sk_X509_pop_free(certs, X509_free);
	cs_err_clear(&err);
}

static void add_reason(struct cs_buf *reason, bool *first)
{
	if (!*first)
		cs_buf_puts(reason, "; ");
	*first = false;
}

static int diff(const struct cs_binding_cfg *b, const struct cs_binding_obs *obs,
		const struct cs_material *want, struct cs_buf *reason)
{
	if (b->kind == CS_BIND_SCRIPT)
		return cs_script_diff(obs, want, reason);
	bool first = true, changed = false;
	for (size_t i = 0; i < obs->n_files; i++) {
		const struct cs_file_obs *fo = &obs->files[i];
		const char *sum = wanted_sha256(fo->role, want);
		if (fo->exists && want->unread && !(sum && !strcmp(sum, fo->sha256))) {
			/* Not decided by the digests: the texts, to compare and say why. */
			struct cs_err err = CS_ERR_INIT;
			if (cs_material_texts(want, &err) < 0) {
				add_reason(reason, &first);
				cs_buf_puts(reason, cs_err_msg(&err));
				cs_err_clear(&err);
				return 1;
			}
		}
		if (!fo->exists) {
			add_reason(reason, &first);
			cs_buf_printf(reason, "%s %s is missing", fo->role, fo->path);
			changed = true;
			continue;
		}
		bool pfx = !strcmp(fo->role, "pfx"), same;
		if (pfx) {
			same = pfx_same(&b->files, fo->pfx, want);
		} else {
			same = content_same(fo, want);
		}
		if (!same) {
			changed = true;
			add_reason(reason, &first);
			if (pfx) {
				pfx_reason(reason, &b->files, fo, want);
			} else if (!strcmp(fo->role, "key")) {
				EVP_PKEY *k = NULL;
				struct cs_err err = CS_ERR_INIT;
				bool parsed = cs_key_parse(&k, fo->content.data, fo->content.len, &err) == 0;
				if (!parsed)
					cs_buf_printf(reason, "key %s holds no private key", fo->path);
				else if (!cs_key_matches_cert(k, cs_material_cert(want)))
					cs_buf_printf(reason, "key %s does not match the certificate (serial %s)",
						      fo->path, want->info.serial);
				else
					cs_buf_printf(reason, "key %s is encoded differently from the stored key",
						      fo->path);
				EVP_PKEY_free(k);
				cs_err_clear(&err);
			} else if (!strcmp(fo->role, "chain")) {
				cs_buf_printf(reason, "chain %s differs from the certificate's chain", fo->path);
			} else {
				cs_buf_printf(reason, "%s %s differs from the current certificate (serial %s)",
					      fo->role, fo->path, want->info.serial);
				describe_found(reason, fo);
			}
		}
		if ((fo->mode & 07777) != (mode_t)b->files.mode) {
			changed = true;
			add_reason(reason, &first);
			cs_buf_printf(reason, "mode of %s is %04o, want %04o", fo->path,
				      (unsigned)(fo->mode & 07777), (unsigned)b->files.mode);
		}
		if (b->files.owner && !cs_streq(fo->owner, b->files.owner)) {
			changed = true;
			add_reason(reason, &first);
			cs_buf_printf(reason, "owner of %s is %s, want %s", fo->path,
				      fo->owner ? fo->owner : "?", b->files.owner);
		}
		if (b->files.group && !cs_streq(fo->group, b->files.group)) {
			changed = true;
			add_reason(reason, &first);
			cs_buf_printf(reason, "group of %s is %s, want %s", fo->path,
				      fo->group ? fo->group : "?", b->files.group);
		}
	}
	return changed ? 1 : 0;
}

/* Will apply rewrite fo (want NULL: a renewal, every file)?  The same
 * test as apply's: content, mode, declared owner and group. */
static bool rewrites(const struct cs_binding_cfg *b, const struct cs_file_obs *fo, const struct cs_material *want)
{
	if (!want || !fo->exists)
		return true;
	bool pfx = !strcmp(fo->role, "pfx");
	bool same = (pfx ? pfx_same(&b->files, fo->pfx, want) : content_same(fo, want)) &&
		    (fo->mode & 07777) == (mode_t)b->files.mode &&
		    (!b->files.owner || cs_streq(fo->owner, b->files.owner)) &&
		    (!b->files.group || cs_streq(fo->group, b->files.group));
	return !same;
}

static void apply_note(const struct cs_binding_cfg *b, const struct cs_binding_obs *obs,
		       const struct cs_material *want, struct cs_buf *reason)
{
	if (b->kind != CS_BIND_FILES)
		return;
	for (size_t i = 0; i < obs->n_files; i++)
		if (obs->files[i].note && rewrites(b, &obs->files[i], want))
			cs_buf_printf(reason, "; %s", obs->files[i].note);
}

static void undo_file_free(struct cs_undo_file *u)
{
	free(u->path);
	cs_buf_free_secret(&u->content);
	free(u->owner);
	free(u->group);
	memset(u, 0, sizeof *u);
}

/* Remember a file as it is now, before it is replaced. */
static int record(struct cs_transport *t, const char *path, struct cs_undo *undo, struct cs_err *err)
{
	struct cs_file_stat st = { 0 };
	int r = t->ops->stat(t, path, &st, err);
	if (r < 0)
		return r;
	undo->files = cs_xrealloc(undo->files, (undo->n_files + 1) * sizeof *undo->files);
	struct cs_undo_file *u = &undo->files[undo->n_files];
	memset(u, 0, sizeof *u);
	u->path = cs_xstrdup(path);
	u->existed = st.exists;
	cs_buf_init(&u->content, MAX_CERT_FILE);
	if (st.exists) {
		u->mode = st.mode;
		u->owner = cs_xstrdup(st.owner);
		u->group = cs_xstrdup(st.group);
		r = t->ops->read_file(t, path, &u->content, err);
		if (r < 0) {
			cs_file_stat_free(&st);
			undo_file_free(u);
			return cs_err_prefix(err, "keep a copy of %s for rollback", path);
		}
		cs_buf_append(&u->content, "", 0);
	}
	undo->n_files++;
	cs_file_stat_free(&st);
	return 0;
}

/* Forget the newest record: that file was not changed. */
static void drop_last(struct cs_undo *undo)
{
	undo_file_free(&undo->files[--undo->n_files]);
}

/* Does the recorded file already hold content, with the declared mode,
 * owner and group? */
static bool already(const struct cs_undo_file *u, const struct cs_buf *content, const struct cs_bind_files *f)
{
	return u->existed && u->content.len == content->len &&
	       !memcmp(u->content.data ? u->content.data : "", content->data ? content->data : "", content->len) &&
	       (u->mode & 07777) == (mode_t)f->mode && (!f->owner || cs_streq(u->owner, f->owner)) &&
	       (!f->group || cs_streq(u->group, f->group));
}

/* Does the recorded pfx already open with password and hold what want
 * gives, with the declared mode, owner and group?  (Its bytes never
 * match a new build: see the top of the file.) */
static bool pfx_already(const struct cs_undo_file *u, const struct cs_bind_files *f, const struct cs_material *want,
			const char *password)
{
	if (!u->existed || (u->mode & 07777) != (mode_t)f->mode || (f->owner && !cs_streq(u->owner, f->owner)) ||
	    (f->group && !cs_streq(u->group, f->group)))
		return false;
	struct cs_pkcs12_view seen;
	struct cs_err err = CS_ERR_INIT;
	bool same = cs_pkcs12_read(&seen, u->content.data ? u->content.data : "", u->content.len, password, &err) == 0 &&
		    pfx_same(f, &seen, want);
	cs_pkcs12_view_free(&seen);
	cs_err_clear(&err);
	return same;
}

/* Is the file still exactly as recorded (false also when that cannot be
 * seen)? */
static bool untouched(struct cs_transport *t, const struct cs_undo_file *u)
{
	struct cs_file_stat st = { 0 };
	struct cs_err err = CS_ERR_INIT;
	bool same = false;
	if (t->ops->stat(t, u->path, &st, &err) == 0) {
		if (!st.exists || !u->existed) {
			same = st.exists == u->existed;
		} else if (st.mode == u->mode && cs_streq(st.owner, u->owner) && cs_streq(st.group, u->group)) {
			struct cs_buf now = CS_BUF_INIT;
			cs_buf_init(&now, MAX_CERT_FILE);
			same = t->ops->read_file(t, u->path, &now, &err) == 0 && now.len == u->content.len &&
			       !memcmp(now.data ? now.data : "", u->content.data ? u->content.data : "", now.len);
			cs_buf_free_secret(&now);
		}
	}
	cs_file_stat_free(&st);
	cs_err_clear(&err);
	return same;
}

static int apply(struct cs_transport *t, const struct cs_binding_cfg *b,
		 const struct cs_material *want, struct cs_undo *undo, struct cs_err *err)
{
	/* A script's effect cannot be put back: nothing goes into undo. */
	if (b->kind == CS_BIND_SCRIPT)
		return cs_linux_script_run(t, b, want, err);
	if (b->kind != CS_BIND_FILES)
		return cs_err_set(err, -ENOTSUP, "%s bindings on linux are not supported yet",
				  cs_binding_kind_name(b->kind));
	const struct cs_bind_files *f = &b->files;
	struct cs_file_attrs attrs = { .mode = (mode_t)f->mode, .owner = f->owner, .group = f->group };
	struct cs_buf pw = CS_BUF_INIT;
	/* Read before anything is written: a password that cannot be read
	 * leaves every file of the binding as it was. */
	int r = f->pfx ? pfx_password(&pw, f, err) : 0;
	for (size_t i = 0; r == 0 && i < sizeof roles / sizeof roles[0]; i++) {
		const char *path = role_path(f, &roles[i]);
		if (!path)
			continue;
		r = record(t, path, undo, err);
		if (r < 0)
			break;
		/* Owner and group not declared: "unchanged" means the replacement
		 * keeps the previous file's, not the writer's, where the writer
		 * may (the plan said what changes hands where it may not). */
		struct cs_undo_file *prev = &undo->files[undo->n_files - 1];
		struct cs_file_attrs fa = attrs;
		if (prev->existed && !fa.owner) {
			fa.owner = prev->owner;
			fa.owner_soft = true;
		}
		if (prev->existed && !fa.group) {
			fa.group = prev->group;
			fa.group_soft = true;
		}
		struct cs_buf content = CS_BUF_INIT;
		bool pfx = !strcmp(roles[i].role, "pfx");
		if (pfx && pfx_already(prev, f, want, pw.data)) {
			drop_last(undo);
			continue;
		}
		r = pfx ? pfx_content(&content, f, want, pw.data, err) : wanted_content(&content, roles[i].role, want);
		/* A file that is already what would be written is left alone: no
		 * write that could fail, nothing to put back. */
		if (r == 0 && !pfx && already(prev, &content, f)) {
			cs_buf_free_secret(&content);
			drop_last(undo);
			continue;
		}
		if (r == 0)
			r = t->ops->write_file(t, path, content.data, content.len, &fa, err);
		cs_buf_free_secret(&content);
		if (r < 0) {
			/* A write fails before its rename: the file is as it was and
			 * there is nothing to put back.  Unless that cannot be seen
			 * (the connection is gone): then the rollback tries. */
			if (untouched(t, prev))
				drop_last(undo);
			r = cs_err_prefix(err, "write %s", roles[i].role);
		}
	}
	cs_buf_free_secret(&pw);
	return r;
}

static int undo_changes(struct cs_transport *t, const struct cs_undo *undo, struct cs_err *err)
{
	int first_error = 0;
	for (size_t i = undo->n_files; i-- > 0;) {
		const struct cs_undo_file *u = &undo->files[i];
		struct cs_err e = CS_ERR_INIT;
		int r;
		if (u->existed) {
			/* Owner and group back where the writer may: a user that
			 * is not root could not keep them when it replaced the
			 * file either (the plan said so); the bytes and the mode
			 * are what matter to the service. */
			struct cs_file_attrs attrs = { .mode = u->mode, .owner = u->owner, .group = u->group,
						       .owner_soft = true, .group_soft = true };
			r = t->ops->write_file(t, u->path, u->content.data, u->content.len, &attrs, &e);
		} else {
			r = t->ops->remove_file(t, u->path, &e);
		}
		/* Failed, but there is nothing to put back after all. */
		if (r < 0 && untouched(t, u))
			r = 0;
		/* Keep going: put back as much as possible, report the first failure. */
		if (r < 0 && !first_error) {
			first_error = r;
			cs_err_set(err, r, "restore %s: %s", u->path, cs_err_msg(&e));
		}
		cs_err_clear(&e);
	}
	return first_error;
}

/* Over SSH a command is done when its channel closes, that is when nothing
 * holds its stdout and stderr any more: a reload that starts a daemon
 * ("dovecot", "apachectl start", "nginx &") would keep the channel open
 * until the run timed out, and the timed-out connection would then be
 * unusable for the rollback.  The local transport watches the process
 * instead; for remote hosts the command writes into files that are shown
 * once it exits, so a daemon it leaves behind holds only those. */
static char *detach_output(const char *command)
{
	return cs_xasprintf("certsync_out=$(mktemp -d) || exit 125\n"
			    "(\n%s\n) >\"$certsync_out/o\" 2>\"$certsync_out/e\" </dev/null\n"
			    "certsync_status=$?\n"
			    "cat \"$certsync_out/o\"; cat \"$certsync_out/e\" >&2; rm -rf \"$certsync_out\"\n"
			    "exit $certsync_status\n",
			    command);
}

static int reload(struct cs_transport *t, const char *command, struct cs_err *err)
{
	struct cs_run_result res;
	cs_run_result_init(&res, 64 * 1024);
	char *wrapped = t->ops->remote ? detach_output(command) : NULL;
	int r = t->ops->run(t, wrapped ? wrapped : command, NULL, 0, &res, err);
	free(wrapped);
	if (r < 0) {
		cs_run_result_free(&res);
		return cs_err_prefix(err, "reload `%s`", command);
	}
	if (res.exit_status != 0) {
		char *said = cs_run_failure_text(&res, MAX_STDERR_SHOWN, false);
		r = cs_err_set(err, -EIO, "reload `%s` exited with status %d%s%s", command, res.exit_status,
			       said[0] ? ": " : "", said);
		free(said);
	}
	cs_run_result_free(&res);
	return r;
}

const struct cs_platform_ops cs_platform_linux = {
	.name = "linux",
	.observe = observe,
	.diff = diff,
	.apply = apply,
	.apply_note = apply_note,
	.undo = undo_changes,
	.reload = reload,
	.observe_bindings = observe_bindings,
};
