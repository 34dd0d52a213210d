/* PowerShell that the Windows transports send (see winrm_scripts.h for the
 * framing contract).  Each constant is kept verbatim as a golden file under
 * tests/golden/powershell/; tests fail when the two differ. */
#include "providers/transport/winrm_scripts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/base64.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"
#include "providers/transport/wsman.h"

const char *const cs_ps_command = "powershell.exe";
const char *const cs_ps_arguments[] = {
	"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-",
};
const size_t cs_ps_n_arguments = sizeof cs_ps_arguments / sizeof cs_ps_arguments[0];

/* One line.  $args instead of param() so the script sees no stray
 * variables; progress records are switched off because they would only
 * reach stderr as CLIXML noise (and slow cmdlets down).  Decoding and
 * parsing sit in try/catch and report only the exception's message:
 * PowerShell's own error display would quote this line, which carries the
 * input (maybe a secret) in base64.  Errors inside the script are shown by
 * PowerShell with the script's own line, which holds no input. */
const char cs_ps_bootstrap[] =
	"$ProgressPreference = 'SilentlyContinue'; & { try { "
	"$CertsyncInput = [Convert]::FromBase64String($args[1]); "
	"$CertsyncScript = [ScriptBlock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($args[0]))) "
	"} catch { [Console]::Error.WriteLine('certsync: ' + $_.Exception.Message); exit 1 }; "
	"& $CertsyncScript }";

/* Output before an explicit exit is avoided in scripts that print: the
 * exit code of a script that ends normally is already 0. */
const char cs_ps_read_file[] =
	"$ErrorActionPreference = 'Stop'\n"
	"if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { exit 44 }\n"
	"[Convert]::ToBase64String([IO.File]::ReadAllBytes($Path))\n";

/* A temporary file in the same folder, flushed to disk, then swapped in:
 * File.Replace when the target exists (it keeps the target's ACL), Move
 * otherwise; readers see the old or the new file, never a part.  $null
 * would reach File.Replace as "" (PowerShell's string conversion), hence
 * [NullString]::Value for "no backup". */
const char cs_ps_write_file[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$dir = [IO.Path]::GetDirectoryName($Path)\n"
	"if (-not (Test-Path -LiteralPath $dir -PathType Container)) { exit 44 }\n"
	"$tmp = Join-Path $dir ('.certsync-' + $CertsyncRun + '-' + [Guid]::NewGuid().ToString('N') + '.tmp')\n"
	"try {\n"
	"    $fs = [IO.FileStream]::new($tmp, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::None)\n"
	"    try {\n"
	"        $fs.Write($CertsyncInput, 0, $CertsyncInput.Length)\n"
	"        $fs.Flush($true)\n"
	"    } finally {\n"
	"        $fs.Dispose()\n"
	"    }\n"
	"    if (Test-Path -LiteralPath $Path -PathType Leaf) {\n"
	"        [IO.File]::Replace($tmp, $Path, [NullString]::Value)\n"
	"    } else {\n"
	"        [IO.File]::Move($tmp, $Path)\n"
	"    }\n"
	"} finally {\n"
	"    if (Test-Path -LiteralPath $tmp) { Remove-Item -LiteralPath $tmp -Force }\n"
	"}\n"
	"exit 0\n";

/* What a killed run (tag $CertsyncRun) may have left: its temporary files
 * beside each of $Paths and its PFX files in the temp folder (see
 * cs_win_import); nothing else.  Prints how many went. */
const char cs_ps_remove_temps[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$n = 0\n"
	"$dirs = @(foreach ($p in $Paths) { [IO.Path]::GetDirectoryName($p) })\n"
	"foreach ($d in $dirs) {\n"
	"    if (-not $d -or -not (Test-Path -LiteralPath $d -PathType Container)) { continue }\n"
	"    foreach ($f in @(Get-ChildItem -Path $d -Force -File)) {\n"
	"        if ($f.Name.StartsWith('.certsync-' + $CertsyncRun + '-') -and $f.Name.EndsWith('.tmp')) {\n"
	"            Remove-Item -LiteralPath $f.FullName -Force\n"
	"            $n = $n + 1\n"
	"        }\n"
	"    }\n"
	"}\n"
	"foreach ($f in @(Get-ChildItem -Path ([IO.Path]::GetTempPath()) -Force -File)) {\n"
	"    if ($f.Name.StartsWith('certsync-' + $CertsyncRun + '-') -and $f.Name.EndsWith('.pfx')) {\n"
	"        Remove-Item -LiteralPath $f.FullName -Force\n"
	"        $n = $n + 1\n"
	"    }\n"
	"}\n"
	"'removed ' + $n\n";

const char cs_ps_remove_file[] =
	"$ErrorActionPreference = 'Stop'\n"
	"if (Test-Path -LiteralPath $Path -PathType Leaf) { Remove-Item -LiteralPath $Path -Force }\n"
	"exit 0\n";

const char cs_ps_stat[] =
	"$ErrorActionPreference = 'Stop'\n"
	"if (Test-Path -LiteralPath $Path -PathType Leaf) {\n"
	"    'file ' + (Get-Item -LiteralPath $Path -Force).Length\n"
	"} elseif (Test-Path -LiteralPath $Path -PathType Container) {\n"
	"    'dir'\n"
	"} else {\n"
	"    'missing'\n"
	"}\n";

const struct cs_ps_script cs_ps_scripts[] = {
	{ "bootstrap.ps1", cs_ps_bootstrap },
	{ "read_file.ps1", cs_ps_read_file },
	{ "remove_file.ps1", cs_ps_remove_file },
	{ "remove_temps.ps1", cs_ps_remove_temps },
	{ "stat.ps1", cs_ps_stat },
	{ "write_file.ps1", cs_ps_write_file },
};
const size_t cs_ps_n_scripts = sizeof cs_ps_scripts / sizeof cs_ps_scripts[0];

int cs_ps_frame(struct cs_buf *out, const char *script, const void *input, size_t len)
{
	/* Base64 needs no quoting inside '...'; the literals are still
	 * single-quoted so nothing in them could ever be expanded. */
	int r = cs_buf_puts(out, cs_ps_bootstrap);
	if (r == 0)
		r = cs_buf_puts(out, " '");
	if (r == 0)
		r = cs_b64_append(out, script, strlen(script), 0);
	if (r == 0)
		r = cs_buf_puts(out, "' '");
	if (r == 0)
		r = cs_b64_append(out, input, len, 0);
	if (r == 0)
		r = cs_buf_puts(out, "'\r\n");
	return r;
}

char *cs_ps_with_path(const char *path, const char *body)
{
	char *q = cs_ps_quote(path);
	char *s = cs_xasprintf("$Path = %s\n%s", q, body);
	free(q);
	return s;
}

void cs_ps_stderr_text(struct cs_buf *out, const char *raw, size_t len)
{
	struct cs_buf text = CS_BUF_INIT;
	cs_wsman_decode_clixml(&text, raw ? raw : "", len);
	cs_buf_append_fit(out, text.data, text.len);
	cs_buf_free(&text);
}

char *cs_ps_first_line(const struct cs_buf *err)
{
	const char *s = err->data ? err->data : "";
	while (*s == '\n' || *s == '\r' || *s == ' ')
		s++;
	size_t n = strcspn(s, "\r\n");
	if (n == 0)
		return cs_xstrdup("no message");
	if (n > 400)
		return cs_xasprintf("%.400s...", s);
	return cs_xasprintf("%.*s", (int)n, s);
}

int cs_transport_run_ps(struct cs_transport *t, const char *script, const void *in, size_t len,
			struct cs_run_result *res, struct cs_err *err)
{
	if (t->ops == &cs_transport_winrm)
		return t->ops->run(t, script, in, len, res, err);
	struct cs_buf cmd = CS_BUF_INIT, frame = CS_BUF_INIT;
	int r = cs_buf_puts(&cmd, cs_ps_command);
	for (size_t i = 0; r == 0 && i < cs_ps_n_arguments; i++)
		r = cs_buf_printf(&cmd, " %s", cs_ps_arguments[i]);
	if (r == 0)
		r = cs_ps_frame(&frame, script, in, len);
	if (r < 0) {
		r = cs_err_errno(err, r, "host %s: powershell", t->host && t->host->name ? t->host->name : "?");
		goto out;
	}
	if ((r = t->ops->run(t, cmd.data, frame.data, frame.len, res, err)) < 0)
		goto out;
	/* WinRM's transport hands stderr over as text already; over SSH (or
	 * locally) it is still powershell.exe's CLIXML. */
	struct cs_buf raw = res->err;
	cs_buf_init(&res->err, raw.max);
	cs_ps_stderr_text(&res->err, raw.data, raw.len);
	cs_buf_free(&raw);
out:
	cs_buf_free(&cmd);
	cs_buf_free_secret(&frame);
	return r;
}

int cs_ps_remove_temps_run(struct cs_transport *t, char *const *paths, size_t n, const char *tag,
			   struct cs_err *err)
{
	const char *host = t->host && t->host->name ? t->host->name : "?";
	if (strlen(tag) != 16 || strspn(tag, "0123456789abcdef") != 16)
		return cs_err_set(err, -EINVAL, "host %s: invalid run tag", host);
	struct cs_buf script = CS_BUF_INIT;
	cs_buf_puts(&script, "$Paths = @(");
	for (size_t i = 0; i < n; i++) {
		char *q = cs_ps_quote(paths[i]);
		cs_buf_printf(&script, "%s%s", i ? ", " : "", q);
		free(q);
	}
	cs_buf_printf(&script, ")\n$CertsyncRun = '%s'\n%s", tag, cs_ps_remove_temps);
	struct cs_run_result res;
	cs_run_result_init(&res, 4096);
	res.err.max = 1u << 20;
	int r = cs_transport_run_ps(t, script.data, NULL, 0, &res, err);
	cs_buf_free(&script);
	if (r == 0 && res.exit_status != 0) {
		char *line = cs_ps_first_line(&res.err);
		r = cs_err_set(err, -EIO, "host %s: remove temporary files of run %s: exit %d: %s", host, tag,
			       res.exit_status, line);
		free(line);
	}
	/* The count, on the last line of output. */
	const char *said = NULL;
	if (r == 0 && res.out.data) {
		size_t len = res.out.len;
		while (len && (res.out.data[len - 1] == '\n' || res.out.data[len - 1] == '\r' ||
			       res.out.data[len - 1] == ' '))
			len--;
		size_t start = len;
		while (start && res.out.data[start - 1] != '\n')
			start--;
		res.out.data[len] = '\0';
		said = res.out.data + start;
	}
	if (said && !strncmp(said, "removed ", 8) && said[8] >= '0' && said[8] <= '9')
		r = (int)strtol(said + 8, NULL, 10);
	else if (r == 0)
		r = cs_err_set(err, -EPROTO, "host %s: remove temporary files of run %s: unexpected answer", host,
			       tag);
	cs_run_result_free(&res);
	return r;
}
