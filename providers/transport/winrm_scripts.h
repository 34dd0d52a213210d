/* The PowerShell certsync itself sends to Windows hosts for transport work
 * (framing a script and its input on stdin; reading, writing, removing and
 * stat-ing files), kept as named constants in one file so tests can keep
 * them as golden files and review sees every change.
 *
 * Framing (the contract every script relies on, over WinRM and over SSH):
 * powershell.exe runs as
 *
 *     powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -
 *
 * and its stdin is ONE line:
 *
 *     CS_PS_BOOTSTRAP 'BASE64(UTF-8 script)' 'BASE64(input bytes)' CRLF
 *
 * after which stdin ends.  Why one line: with "-Command -" powershell.exe
 * runs stdin statement by statement as if typed at a prompt (a multi-line
 * statement waits for an empty line, EAP is per line, an unfinished
 * statement at EOF is silently dropped), so a script sent as text would not
 * run as a script.  One complete statement runs at once and whole.  The
 * bootstrap decodes the script and runs it as one script block; the script
 * finds its input as $CertsyncInput, a [byte[]] (empty when there is none),
 * and never reads the console itself.  Base64 keeps both independent of
 * the console code page, and no quoting of either is involved.  Nothing of
 * the script or its input is on any command line: the command line above
 * is fixed, so there is no length limit and no secret in a process list.
 *
 * Exit status: what the script passes to `exit`; otherwise 0 when its last
 * statement succeeded and 1 when it failed (powershell.exe's rule), so
 * scripts set $ErrorActionPreference = 'Stop' and end with an explicit exit.
 * Errors reach stderr as CLIXML, which the transport turns back into text. */
#ifndef CS_WINRM_SCRIPTS_H
#define CS_WINRM_SCRIPTS_H

#include <stddef.h>
#include "providers/base/buf.h"
#include "providers/transport/transport.h"

/* powershell.exe and its arguments (WinRS joins them with spaces). */
extern const char *const cs_ps_command;
extern const char *const cs_ps_arguments[];
extern const size_t cs_ps_n_arguments;

/* The start of the stdin line (see above), followed by the two literals. */
extern const char cs_ps_bootstrap[];

/* Exit status the file scripts use for "no such file" / "no such folder". */
#define CS_PS_EXIT_ENOENT 44

/* File scripts: run with "$Path = '<path>'" (cs_ps_quote) in front. */
extern const char cs_ps_read_file[];   /* stdout: the content, base64 */
extern const char cs_ps_write_file[];  /* input: the new content */
extern const char cs_ps_remove_file[];
extern const char cs_ps_remove_temps[];
extern const char cs_ps_stat[];        /* stdout: "missing", "file SIZE" or "dir" */

struct cs_ps_script {
	const char *name;  /* golden file name, e.g. "read_file.ps1" */
	const char *text;
};
/* Every script above, for the golden-file test. */
extern const struct cs_ps_script cs_ps_scripts[];
extern const size_t cs_ps_n_scripts;

/* Append the stdin line for script and input to out. */
int cs_ps_frame(struct cs_buf *out, const char *script, const void *input, size_t len);

/* "$Path = '<quoted path>'\n" + body: a file script bound to a path. */
char *cs_ps_with_path(const char *path, const char *body);

/* PowerShell's stderr as a console would show it, whichever transport
 * carried it: powershell.exe writes its errors as CLIXML when stderr is
 * not a console (cs_wsman_decode_clixml turns that back into text).
 * Appends the text to out, as much as fits under out's cap. */
void cs_ps_stderr_text(struct cs_buf *out, const char *raw, size_t len);

/* Remove what apply TAG (16 hex digits) may have left on a Windows host,
 * whichever transport reaches it (cs_ps_remove_temps, run through
 * cs_transport_run_ps): its temporary files beside paths and its PFX files
 * in the temp folder.  The number removed, or negative with err set. */
int cs_ps_remove_temps_run(struct cs_transport *t, char *const *paths, size_t n, const char *tag,
			   struct cs_err *err);

/* cs_ps_first_line(), cs_transport_run_ps(): transport.h */

#endif
