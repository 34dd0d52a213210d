/* The SSH transport's own shell commands (see ssh_commands.h). */
#include "ssh_commands.h"

#include <stdlib.h>
#include "../../reconcile/buf.h"
#include "../../reconcile/util.h"

const char cs_ssh_cmd_mkdtemp[] = "umask 077 && mktemp -d \"${TMPDIR:-/tmp}/certsync.XXXXXXXX\"";

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

char *cs_ssh_cmd_chown_mv(const char *spec, const char *tmp, const char *path)
{
	char *qs = cs_sh_quote(spec), *qt = cs_sh_quote(tmp), *qp = cs_sh_quote(path);
	char *s = cs_xasprintf("chown -- %s %s && mv -f -- %s %s", qs, qt, qt, qp);
	free(qs);
	free(qt);
	free(qp);
	return s;
}

char *cs_ssh_cmd_mv(const char *tmp, const char *path)
{
	char *qt = cs_sh_quote(tmp), *qp = cs_sh_quote(path);
	char *s = cs_xasprintf("mv -f -- %s %s", qt, qp);
	free(qt);
	free(qp);
	return s;
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
		r = cs_buf_printf(&cmd, " -- %s %s && { sudo -n sync -- %s 2>/dev/null || :; } && "
				  "sudo -n mv -f -- %s %s; rc=$?; rm -f -- %s; "
				  "[ $rc -eq 0 ] || sudo -n rm -f -- %s 2>/dev/null; exit $rc",
				  qu, qt, qt, qt, qp, qu, qt);
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
