/* The SSH transport's own shell commands (see ssh_commands.h). */
#include "providers/transport/ssh_commands.h"

#include <stdlib.h>
#include "providers/base/buf.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"

char *cs_ssh_cmd_mkdtemp(const char *tag)
{
	/* tag is the run's hex tag (cs_temp_tag), so the next run finds a
	 * folder this one left when it was killed. */
	char *name = cs_xasprintf("certsync-%s.XXXXXXXX", tag);
	char *q = cs_sh_quote(name);
	char *s = cs_xasprintf("umask 077 && mktemp -d \"${TMPDIR:-/tmp}\"/%s", q);
	free(q);
	free(name);
	return s;
}

/* fmt with one %s, filled with the quoted value. */
static char *with_quoted(const char *fmt, const char *value)
{
	char *q = cs_sh_quote(value);
	char *s = cs_xasprintf(fmt, q);
	free(q);
	return s;
}

char *cs_ssh_cmd_sudo_wrap(const char *command)
{
	return with_quoted("sudo -n sh -c %s", command);
}

char *cs_ssh_cmd_rm_dir(const char *dir)
{
	return with_quoted("rm -rf -- %s", dir);
}

char *cs_ssh_cmd_sudo_cat(const char *path)
{
	return with_quoted("sudo -n cat -- %s", path);
}

char *cs_ssh_cmd_sudo_rm(const char *path)
{
	return with_quoted("sudo -n rm -f -- %s", path);
}

char *cs_ssh_cmd_sudo_stat(const char *path)
{
	return with_quoted("sudo -n stat -L -c '%%a %%u %%g %%s %%U %%G' -- %s", path);
}

/* A condition that is true when tmp holds the named entries of path's
 * access control list (user:nginx:r--, as setfacl -m u:nginx:r left them),
 * with mode set again after them (the mask follows the mode, so an ACL
 * never gives more than the declared mode's group bits): a rename would
 * drop them, and the service they let read the key would lose it.  True at
 * once without getfacl (no acl package: no ACLs set either), or when path
 * has none. */
static void keep_acl(struct cs_buf *cmd, const char *sudo, const char *qt, const char *qp, mode_t mode)
{
	cs_buf_printf(cmd,
		      "{ ! command -v getfacl >/dev/null 2>&1 || "
		      "! a=$(%sgetfacl -sp --omit-header -- %s 2>/dev/null | grep -E '^(user|group):[^:]+:') || "
		      "[ -z \"$a\" ] || { printf '%%s\\n' \"$a\" | %ssetfacl -M- -- %s && %schmod %04o -- %s; }; } && ",
		      sudo, qp, sudo, qt, sudo, (unsigned)(mode & 07777), qt);
}

char *cs_ssh_cmd_chown_mv(const char *owner, bool owner_soft, const char *group, bool group_soft,
			  const char *tmp, const char *path, mode_t mode)
{
	const char *hard_owner = owner && !owner_soft ? owner : NULL;
	const char *hard_group = group && !group_soft ? group : NULL;
	char *qt = cs_sh_quote(tmp), *qp = cs_sh_quote(path);
	struct cs_buf cmd = CS_BUF_INIT;
	char *spec = hard_owner && hard_group ? cs_xasprintf("%s:%s", hard_owner, hard_group)
		   : hard_owner ? cs_xstrdup(hard_owner) : hard_group ? cs_xasprintf(":%s", hard_group) : NULL;
	if (spec) {
		char *q = cs_sh_quote(spec);
		cs_buf_printf(&cmd, "chown -- %s %s && ", q, qt);
		free(q);
	}
	/* Soft: keep the previous owner or group where the login user may,
	 * and let the plan's note stand where it may not. */
	for (int i = 0; i < 2; i++) {
		const char *name = i == 0 ? owner : group;
		if (!name || !(i == 0 ? owner_soft : group_soft))
			continue;
		char *soft = cs_xasprintf("%s%s", i == 0 ? "" : ":", name);
		char *q = cs_sh_quote(soft);
		cs_buf_printf(&cmd, "{ chown -- %s %s 2>/dev/null || :; } && ", q, qt);
		free(q);
		free(soft);
	}
	keep_acl(&cmd, "", qt, qp, mode);
	cs_buf_printf(&cmd, "mv -f -- %s %s", qt, qp);
	free(spec);
	free(qt);
	free(qp);
	return cs_buf_detach(&cmd, NULL);
}

char *cs_ssh_cmd_mv(const char *tmp, const char *path, mode_t mode)
{
	char *qt = cs_sh_quote(tmp), *qp = cs_sh_quote(path);
	struct cs_buf cmd = CS_BUF_INIT;
	keep_acl(&cmd, "", qt, qp, mode);
	cs_buf_printf(&cmd, "mv -f -- %s %s", qt, qp);
	free(qt);
	free(qp);
	return cs_buf_detach(&cmd, NULL);
}

char *cs_ssh_cmd_sudo_install(const char *upload, const char *tmp, const char *path, mode_t mode,
			      const char *owner, const char *group)
{
	struct cs_buf cmd = CS_BUF_INIT;
	char *qu = cs_sh_quote(upload), *qt = cs_sh_quote(tmp), *qp = cs_sh_quote(path);
	/* install copies into a temporary name in the target folder with mode
	 * and owner already set, sync flushes it, mv renames it over the target:
	 * readers never see a partial file.  Whatever happens, the upload goes
	 * and a failed step takes its temporary file with it. */
	int r = cs_buf_printf(&cmd, "sudo -n install -m %04o", (unsigned)(mode & 07777));
	if (r == 0 && owner) {
		char *q = cs_sh_quote(owner);
		r = cs_buf_printf(&cmd, " -o %s", q);
		free(q);
	}
	if (r == 0 && group) {
		char *q = cs_sh_quote(group);
		r = cs_buf_printf(&cmd, " -g %s", q);
		free(q);
	}
	if (r == 0)
		r = cs_buf_printf(&cmd, " -- %s %s && { sudo -n sync -- %s 2>/dev/null || :; } && ", qu, qt, qt);
	if (r == 0)
		keep_acl(&cmd, "sudo -n ", qt, qp, mode);
	if (r == 0)
		r = cs_buf_printf(&cmd, "sudo -n mv -f -- %s %s; rc=$?; rm -f -- %s; "
				  "[ $rc -eq 0 ] || sudo -n rm -f -- %s 2>/dev/null; exit $rc",
				  qt, qp, qu, qt);
	free(qu);
	free(qt);
	free(qp);
	char *s = r == 0 ? cs_buf_detach(&cmd, NULL) : NULL;
	if (!s)
		abort();
	return s;
}

char *cs_ssh_cmd_names(unsigned long uid, unsigned long gid)
{
	return cs_xasprintf("printf '%%s\\n%%s\\n' \"$(getent passwd %lu | cut -d: -f1)\" "
			    "\"$(getent group %lu | cut -d: -f1)\"", uid, gid);
}
