/* The files binding kind: PEM files, and a PKCS#12 file for Java, Tomcat
 * and .NET, written on a Linux host, then a reload command (linux.c writes
 * them). */
#include "providers/platform/binding_kind.h"
#include "providers/platform/linux_discover.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"

/* "/etc//ssl/./x.pem" is "/etc/ssl/x.pem": empty and "." parts go, so that
 * two spellings of one file are one file to the check that no two bindings
 * write it.  ".." stays: through a symbolic link it is not the parent. */
static void tidy_path(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		if (r[0] == '/' && w > s && w[-1] == '/') {
			r++;
		} else if (r[0] == '.' && (w == s || w[-1] == '/') && (r[1] == '/' || (!r[1] && w > s))) {
			r += r[1] ? 2 : 1;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Why a path on a remote Linux host is not one: the two ways a new user
 * writes one that only their own machine reads. */
static const char *not_absolute_hint(const char *path)
{
	if (path[0] == '~')
		return " (\"~\" is not expanded on other hosts: write the whole path, /home/USER/...)";
	if ((path[0] && path[1] == ':') || strchr(path, '\\'))
		return " (this looks like a Windows path, and the host is linux)";
	return " (only local hosts resolve relative paths)";
}

/* A path a files binding writes: resolved on local hosts, absolute on
 * remote ones, naming a file (not a folder), and written by no other
 * binding. */
static void files_path(struct cs_binding_parse *p, const struct cs_ynode *m, const char *role, char **out)
{
	struct cs_ynode *v = cs_yaml_str(p->y, m, role, p->where, false, out);
	if (!v || !p->host)
		return;
	size_t n = strlen(*out);
	if (p->host->platform == CS_PLATFORM_LINUX && n &&
	    ((*out)[n - 1] == '/' || (n >= 2 && !strcmp(*out + n - 2, "/.")) || !strcmp(*out, "."))) {
		cs_yaml_report(p->y, v, "\"%s\" %s names a folder (%s): write the file's name",
		       role, p->where, cs_yaml_esc(p->y, *out));
		return;
	}
	if (p->host->transport == CS_TRANSPORT_LOCAL) {
		char *abs = cs_yaml_local_path(p->y, *out);
		free(*out);
		*out = abs;
	} else if (p->host->platform == CS_PLATFORM_LINUX && (*out)[0] != '/') {
		cs_yaml_report(p->y, v, "\"%s\" %s must be an absolute path on host %s%s",
		       role, p->where, cs_yaml_esc(p->y, p->host->name), not_absolute_hint(*out));
		return;
	}
	if (p->host->platform == CS_PLATFORM_LINUX)
		tidy_path(*out);
	p->claim(p, v, role, *out);
}

/* Does the binding write a file that holds the private key? */
static bool has_key(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	return cs_yaml_lookup(p->y, m, "key", NULL) || cs_yaml_lookup(p->y, m, "pem", NULL) ||
	       cs_yaml_lookup(p->y, m, "pfx", NULL);
}

/* pfx_password (required with pfx), pfx_alias and pfx_legacy, which mean
 * nothing without pfx. */
static void parse_pfx(struct cs_binding_parse *p, const struct cs_ynode *m, struct cs_bind_files *f)
{
	static const char *const own[] = { "pfx_password", "pfx_alias", "pfx_legacy" };
	struct cs_ynode *k = NULL;
	if (!cs_yaml_lookup(p->y, m, "pfx", NULL)) {
		for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
			if (cs_yaml_lookup(p->y, m, own[i], &k))
				cs_yaml_report(p->y, k, "\"%s\" %s belongs to a pfx file, and the binding writes none: "
				       "add pfx: PATH or remove it", own[i], p->where);
		return;
	}
	if (!cs_yaml_lookup(p->y, m, "pfx_password", NULL)) {
		cs_yaml_report(p->y, m, "files binding %zu of certificate %s writes a pfx file without a password: add "
		       "pfx_password: {env: VARIABLE} or {file: PATH}", p->index, cs_yaml_esc(p->y, p->cert->name));
		return;
	}
	cs_yaml_secret(p->y, m, "pfx_password", p->where, true, &f->pfx_password);
	if (!cs_yaml_str(p->y, m, "pfx_alias", p->where, false, &f->pfx_alias))
		f->pfx_alias = cs_xstrdup(p->cert->name);
	cs_yaml_bool(p->y, m, "pfx_legacy", p->where, &f->pfx_legacy);
}

static void parse_files(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const keys[] = {
		"cert", "key", "chain", "fullchain", "pem", "pfx", "pfx_password", "pfx_alias", "pfx_legacy",
		"owner", "group", "mode", "reload", NULL,
	};
	struct cs_bind_files *f = &p->b->files;
	cs_yaml_check_keys(p->y, m, keys, p->where);
	files_path(p, m, "cert", &f->cert);
	files_path(p, m, "key", &f->key);
	files_path(p, m, "chain", &f->chain);
	files_path(p, m, "fullchain", &f->fullchain);
	files_path(p, m, "pem", &f->pem);
	files_path(p, m, "pfx", &f->pfx);
	parse_pfx(p, m, f);
	static const char *const outputs[] = { "cert", "key", "chain", "fullchain", "pem", "pfx", NULL };
	if (!cs_yaml_lookup(p->y, m, "cert", NULL) && !cs_yaml_lookup(p->y, m, "key", NULL) && !cs_yaml_lookup(p->y, m, "chain", NULL) &&
	    !cs_yaml_lookup(p->y, m, "fullchain", NULL) && !cs_yaml_lookup(p->y, m, "pem", NULL) &&
	    !cs_yaml_lookup(p->y, m, "pfx", NULL) && !cs_yaml_guessed(p->y, m, outputs))
		cs_yaml_report(p->y, m, "files binding %zu of certificate %s writes nothing: give at least one of cert, key, "
		       "chain, fullchain, pem or pfx", p->index, cs_yaml_esc(p->y, p->cert->name));
	cs_yaml_str(p->y, m, "owner", p->where, false, &f->owner);
	cs_yaml_str(p->y, m, "group", p->where, false, &f->group);
	cs_yaml_str(p->y, m, "reload", p->where, false, &f->reload);

	/* A key must not become readable by accident: the default is private
	 * whenever a key is among the files. */
	f->mode = has_key(p, m) ? 0600 : 0644;
	struct cs_ynode *v = cs_yaml_field(p->y, m, "mode", p->where, false);
	if (!v)
		return;
	/* The raw text: YAML 1.1 would read 0600 as octal and 1.2 as 600; the
	 * digits as written are what the operator means either way. */
	const char *s = cs_yaml_is_scalar(cs_yaml_kind(v)) ? cs_yaml_text(v) : NULL;
	size_t n = s ? strlen(s) : 0;
	bool ok = s && (n == 3 || n == 4);
	for (size_t i = 0; ok && i < n; i++)
		ok = s[i] >= '0' && s[i] <= '7';
	if (!ok) {
		if (!s)
			cs_yaml_type_error(p->y, v, "an octal mode such as \"0600\"", "mode", p->where);
		else
			cs_yaml_report(p->y, v, "invalid mode \"%s\" %s: expected 3 or 4 octal digits such as \"0600\"",
			       cs_yaml_esc(p->y, s), p->where);
		return;
	}
	int mode = (int)strtol(s, NULL, 8);
	/* A private key that others can change, run or read, or that carries
	 * setuid/setgid/sticky, is never what was meant: group read (0640 for
	 * a service's group) is the most a key file may grant. */
	if (has_key(p, m) && (mode & 07037)) {
		const char *what = (mode & 07000) ? "setuid, setgid or sticky bits"
				   : (mode & 0033) ? "write or execute bits for group or others"
				   : "read access for others";
		cs_yaml_report(p->y, v, "mode \"%s\" %s would give a private key %s: use \"0600\", \"0400\", \"0640\" or \"0440\"",
		       cs_yaml_esc(p->y, s), p->where, what);
		return;
	}
	f->mode = mode;
}

static void details_files(const struct cs_binding_cfg *b, cs_detail_row_fn row, void *ctx)
{
	const struct cs_bind_files *f = &b->files;
	const struct { const char *role, *path; } files[] = {
		{ "cert", f->cert }, { "key", f->key }, { "chain", f->chain },
		{ "fullchain", f->fullchain }, { "pem", f->pem }, { "pfx", f->pfx },
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (files[i].path)
			row(ctx, files[i].role, files[i].path, true);
	char *mode = cs_xasprintf("%04o%s%s%s%s", (unsigned)f->mode, f->owner ? ", owner " : "",
				  f->owner ? f->owner : "", f->group ? ", group " : "", f->group ? f->group : "");
	row(ctx, "mode", mode, false);
	free(mode);
}

static void describe_files(const struct cs_binding_cfg *b, struct cs_buf *s)
{
	const struct cs_bind_files *f = &b->files;
	const char *paths[] = { f->cert, f->key, f->chain, f->fullchain, f->pem, f->pfx };
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (paths[i])
			cs_buf_printf(s, "%s%s", s->len ? ", " : "", paths[i]);
}

static void free_files(struct cs_binding_cfg *b)
{
	struct cs_bind_files *f = &b->files;
	free(f->cert);
	free(f->key);
	free(f->chain);
	free(f->fullchain);
	free(f->pem);
	free(f->owner);
	free(f->group);
	free(f->reload);
	free(f->pfx);
	free(f->pfx_password.ref);
	f->pfx_password.ref = NULL;
	free(f->pfx_alias);
}

static const char *files_reload(const struct cs_binding_cfg *b)
{
	return b->files.reload;
}

static bool files_write_chain(const struct cs_binding_cfg *b)
{
	return b->files.chain || b->files.fullchain || b->files.pem;
}

static size_t files_paths(const struct cs_binding_cfg *b, const char **out, size_t max)
{
	const struct cs_bind_files *f = &b->files;
	const char *paths[] = { f->cert, f->key, f->chain, f->fullchain, f->pem, f->pfx };
	size_t n = 0;
	for (size_t i = 0; i < sizeof paths / sizeof paths[0] && n < max; i++)
		if (paths[i])
			out[n++] = paths[i];
	return n;
}

const struct cs_binding_kind cs_kind_files = {
	.name = "files",
	.id = CS_BIND_FILES,
	.platforms = CS_KIND_ON(CS_PLATFORM_LINUX),
	.parse = parse_files,
	.describe = describe_files,
	.details = details_files,
	.free = free_files,
	.reload = files_reload,
	.writes_chain = files_write_chain,
	.paths = files_paths,
	.discover = cs_linux_discover,
};
