/* The shell commands the SSH transport runs for itself (sudo wrapping,
 * renames, sudo reads, writes, stats and removals), built in one place so
 * tests can print them for hostile paths and names (tests/tools/
 * hostile_scripts.c) and parse them with a real shell.  Every value in
 * them goes through cs_sh_quote; nothing else of a value reaches the text.
 * Each function returns a new string the caller frees (never NULL). */
#ifndef CS_SSH_COMMANDS_H
#define CS_SSH_COMMANDS_H

#include <stdbool.h>
#include <sys/types.h>

/* become: sudo: command run as root by sh. */
char *cs_ssh_cmd_sudo_wrap(const char *command);
/* The private upload folder of a sudo host, removed at close. */
char *cs_ssh_cmd_rm_dir(const char *dir);
/* Makes that folder, named after the run's tag, and prints its path. */
char *cs_ssh_cmd_mkdtemp(const char *tag);
char *cs_ssh_cmd_sudo_cat(const char *path);
/* Give tmp its owner and group (either may be NULL), then rename it over
 * path.  A soft one is kept only where the login user may set it. */
char *cs_ssh_cmd_chown_mv(const char *owner, bool owner_soft, const char *group, bool group_soft,
			  const char *tmp, const char *path, mode_t mode);
char *cs_ssh_cmd_mv(const char *tmp, const char *path, mode_t mode);
/* install the upload as tmp (mode, owner and group set; NULL: leave), sync,
 * rename over path; the upload and a failed tmp are removed. */
char *cs_ssh_cmd_sudo_install(const char *upload, const char *tmp, const char *path, mode_t mode,
			      const char *owner, const char *group);
char *cs_ssh_cmd_sudo_rm(const char *path);
char *cs_ssh_cmd_sudo_stat(const char *path);
/* The user and group names of uid and gid, one per line. */
char *cs_ssh_cmd_names(unsigned long uid, unsigned long gid);

#endif
