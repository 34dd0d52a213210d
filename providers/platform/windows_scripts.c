/* PowerShell the Windows platform driver sends (see windows_scripts.h).
 * Each constant is kept, rendered for a fixed example, as a golden file
 * under tests/golden/windows/; the unit test fails when they differ.
 *
 * Every script sets $ErrorActionPreference = 'Stop' so that the first
 * failing cmdlet ends it with exit 1 and its message on stderr, which the
 * driver shows; nothing runs on after a failure. */
#include "providers/platform/windows_scripts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/quote.h"

/* The inventory's parts: the store loop's head, the fields of a store
 * entry (the discover script adds one), and everything after the loop. */
#define INVENTORY_HEAD \
	"$ErrorActionPreference = 'Stop'\n" \
	"$store = @()\n" \
	"foreach ($c in @(Get-ChildItem -Path 'Cert:\\LocalMachine\\My')) {\n"
#define INVENTORY_STORE_FIELDS \
	"    $store += [pscustomobject]@{ thumbprint = [string]$c.Thumbprint; subject = [string]$c.Subject; not_after = $c.NotAfter.ToUniversalTime().ToString('o'); has_key = [bool]$c.HasPrivateKey"
#define INVENTORY_TAIL \
	"}\n" \
	"$sites = $null\n" \
	"$iis = $null\n" \
	"$haveIis = $true\n" \
	"try { Import-Module IISAdministration } catch { $haveIis = $false }\n" \
	"if ($haveIis) {\n" \
	"    $sites = @()\n" \
	"    $iis = @()\n" \
	"    foreach ($s in @(Get-IISSite)) {\n" \
	"        $sites += [string]$s.Name\n" \
	"        foreach ($b in @(Get-IISSiteBinding -Name $s.Name -Protocol https)) {\n" \
	"            $hash = ''\n" \
	"            if ($null -ne $b.CertificateHash) { $hash = [BitConverter]::ToString($b.CertificateHash).Replace('-', '') }\n" \
	"            $iis += [pscustomobject]@{ site = [string]$s.Name; info = [string]$b.BindingInformation; hash = $hash; flags = [string]$b.SslFlags }\n" \
	"        }\n" \
	"    }\n" \
	"}\n" \
	"$sslcert = (netsh http show sslcert) -join \"`n\"\n" \
	"$exchange = $null\n" \
	"$haveExchange = $true\n" \
	"try { Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn } catch { $haveExchange = $false }\n" \
	"if ($haveExchange) {\n" \
	"    $exchange = @()\n" \
	"    foreach ($e in @(Get-ExchangeCertificate)) { $exchange += [pscustomobject]@{ thumbprint = [string]$e.Thumbprint; services = [string]$e.Services } }\n" \
	"}\n" \
	"$rdp = $null\n" \
	"try {\n" \
	"    $ts = Get-CimInstance -Namespace 'root\\cimv2\\terminalservices' -ClassName Win32_TSGeneralSetting -Filter \"TerminalName='RDP-tcp'\"\n" \
	"    $rdp = [string]$ts.SSLCertificateSHA1Hash\n" \
	"} catch { $rdp = $null }\n" \
	"$boot = (Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')\n" \
	"ConvertTo-Json -Compress -Depth 4 -InputObject ([pscustomobject]@{ boot = $boot; store = $store; sites = $sites; iis = $iis; sslcert = $sslcert; exchange = $exchange; rdp = $rdp })\n"

/* One JSON line: the store, IIS https bindings, http.sys (netsh's own
 * text: there is no cmdlet for it on older servers), Exchange certificate
 * assignments, the RDP listener's hash and the boot time.  A component
 * that is not installed is null rather than an error: the bindings that
 * need it say so. */
const char cs_win_inventory[] = INVENTORY_HEAD INVENTORY_STORE_FIELDS " }\n" INVENTORY_TAIL;

/* certsync discover: the inventory with each store certificate itself
 * (RawData, base64), which certsync parses rather than trusting the
 * host's fields. */
const char cs_win_discover[] =
	INVENTORY_HEAD INVENTORY_STORE_FIELDS "; raw = [Convert]::ToBase64String($c.RawData) }\n" INVENTORY_TAIL;

/* certsync discover --adopt: the certificate $Thumbprint with its key as
 * a PFX under the one-time password that comes as input, base64 on
 * stdout.  A key that is not exportable fails here as on Windows
 * ("Key not valid for use in specified state"). */
const char cs_win_export[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$password = [Text.Encoding]::UTF8.GetString($CertsyncInput).Trim()\n"
	"$c = Get-Item -Path ('Cert:\\LocalMachine\\My\\' + $Thumbprint)\n"
	"if (-not $c.HasPrivateKey) { throw ('certificate ' + $Thumbprint + ' has no private key in LocalMachine\\My') }\n"
	"[Convert]::ToBase64String($c.Export('Pfx', $password))\n";

/* Import-PfxCertificate needs a file: the PFX (encrypted with the one-time
 * password) lives in the temp folder only for the import, named with the
 * run's tag ($CertsyncRun) so that the next apply can remove it if this one
 * is killed (winrm transport's remove_temps).  The password
 * and the PFX come as input, never in this text. */
const char cs_win_import[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$lines = [Text.Encoding]::UTF8.GetString($CertsyncInput).Split(\"`n\")\n"
	"$password = ConvertTo-SecureString -String $lines[0].Trim() -AsPlainText -Force\n"
	"$path = Join-Path -Path ([IO.Path]::GetTempPath()) -ChildPath ('certsync-' + $CertsyncRun + '-' + [Guid]::NewGuid().ToString('N') + '.pfx')\n"
	"try {\n"
	"    [IO.File]::WriteAllBytes($path, [Convert]::FromBase64String($lines[1].Trim()))\n"
	"    $null = Import-PfxCertificate -FilePath $path -CertStoreLocation 'Cert:\\LocalMachine\\My' -Password $password -Exportable:$Exportable\n"
	"} finally {\n"
	"    if (Test-Path -Path $path) { Remove-Item -LiteralPath $path -Force }\n"
	"}\n"
	"$c = Get-Item -Path ('Cert:\\LocalMachine\\My\\' + $Thumbprint)\n"
	"if (-not $c.HasPrivateKey) { throw ('certificate ' + $Thumbprint + ' was imported without its private key') }\n"
	"exit 0\n";

/* Replace rather than edit the binding (as win-acme does): remove it from
 * the configuration only (the http.sys entry is then overwritten by the
 * new binding), add it with the new certificate.  IISAdministration only;
 * WebAdministration is used when IISAdministration is missing (IIS 8.5 and
 * older), through the binding's own AddSslCertificate. */
const char cs_win_iis_set[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$haveIis = $true\n"
	"try { Import-Module IISAdministration } catch { $haveIis = $false }\n"
	"if ($haveIis) {\n"
	"    $null = Get-IISSite -Name $Site\n"
	"    $old = @(Get-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https)\n"
	"    if ($old.Count -gt 0) { Remove-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -RemoveConfigOnly -Confirm:$false }\n"
	"    if ($Sni) {\n"
	"        New-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -CertificateThumbPrint $Thumbprint -CertStoreLocation 'Cert:\\LocalMachine\\My' -SslFlag Sni\n"
	"    } else {\n"
	"        New-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -CertificateThumbPrint $Thumbprint -CertStoreLocation 'Cert:\\LocalMachine\\My'\n"
	"    }\n"
	"} else {\n"
	"    Import-Module WebAdministration\n"
	"    $parts = $BindingInformation.Split(':')\n"
	"    $b = Get-WebBinding -Name $Site -Protocol https -Port $parts[1] -IPAddress $parts[0] -HostHeader $parts[2]\n"
	"    if ($null -eq $b) {\n"
	"        $flags = 0\n"
	"        if ($Sni) { $flags = 1 }\n"
	"        New-WebBinding -Name $Site -Protocol https -Port $parts[1] -IPAddress $parts[0] -HostHeader $parts[2] -SslFlags $flags\n"
	"        $b = Get-WebBinding -Name $Site -Protocol https -Port $parts[1] -IPAddress $parts[0] -HostHeader $parts[2]\n"
	"    } elseif ($b.certificateHash) {\n"
	"        $b.RemoveSslCertificate()\n"
	"    }\n"
	"    $b.AddSslCertificate($Thumbprint, 'My')\n"
	"}\n"
	"exit 0\n";

/* Undo of a binding that did not exist before apply. */
const char cs_win_iis_remove[] =
	"$ErrorActionPreference = 'Stop'\n"
	"Import-Module IISAdministration\n"
	"Remove-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -Confirm:$false\n"
	"exit 0\n";

/* update when the entry exists (its appid is kept: the driver passes the
 * one netsh showed), add otherwise. */
const char cs_win_httpsys_set[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$null = netsh http show sslcert \"$Kind=$Endpoint\"\n"
	"$verb = 'add'\n"
	"if ($LASTEXITCODE -eq 0) { $verb = 'update' }\n"
	"$out = netsh http $verb sslcert \"$Kind=$Endpoint\" \"certhash=$Thumbprint\" \"appid=$AppId\" certstorename=MY\n"
	"if ($LASTEXITCODE -ne 0) { throw ('netsh http ' + $verb + ' sslcert ' + $Kind + '=' + $Endpoint + ' failed (' + $LASTEXITCODE + '): ' + (($out -join ' ').Trim())) }\n"
	"exit 0\n";

const char cs_win_httpsys_remove[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$out = netsh http delete sslcert \"$Kind=$Endpoint\"\n"
	"if ($LASTEXITCODE -ne 0) { throw ('netsh http delete sslcert ' + $Kind + '=' + $Endpoint + ' failed (' + $LASTEXITCODE + '): ' + (($out -join ' ').Trim())) }\n"
	"exit 0\n";

/* -Force: replacing the SMTP certificate would otherwise prompt, which
 * fails non-interactively.  POP3 and IMAP4 only read their certificate at
 * start, hence the restarts. */
const char cs_win_exchange_set[] =
	"$ErrorActionPreference = 'Stop'\n"
	"Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn\n"
	"Enable-ExchangeCertificate -Thumbprint $Thumbprint -Services $Services -Force\n"
	"if ($Services -contains 'POP') { Restart-Service -Name MSExchangePOP3 -Force }\n"
	"if ($Services -contains 'IMAP') { Restart-Service -Name MSExchangeIMAP4 -Force }\n"
	"exit 0\n";

const char cs_win_rdp_set[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$ts = Get-CimInstance -Namespace 'root\\cimv2\\terminalservices' -ClassName Win32_TSGeneralSetting -Filter \"TerminalName='RDP-tcp'\"\n"
	"Set-CimInstance -InputObject $ts -Property @{ SSLCertificateSHA1Hash = $Thumbprint }\n"
	"exit 0\n";

/* The user's script (sent as text: it need not exist on the host) gets
 * -Thumbprint, -PfxPath and -PfxPassword (a SecureString; the PFX is
 * removed afterwards) and its args as named parameters.  The driver writes
 * the call line between head and tail from identifiers only (the values
 * are variables set in front, quoted); the variables also serve a script
 * without param(), which sees its caller's scope.
 *
 * The user's script is a script block, not a script file, and this relies
 * on what `exit` does there in Windows PowerShell: `exit N` anywhere in it
 * (in a function it calls too) is not caught by catch blocks and is not
 * stopped at the script block; it unwinds through the finally below, so
 * the PFX is still removed, and ends powershell.exe with exit code N.
 * (Were the script a file run with `& $path`, exit would end the file
 * only and the tail would go on with $LASTEXITCODE = N.)  So `exit 0`
 * succeeds and any other N fails the binding; the tail's `$?` check and
 * `exit 0` matter for a script that ends without exit.  Checked against
 * the model in tests/winrm (test_interpreter_transport.py, ScriptBinding). */
const char cs_win_script_head[] =
	"$ErrorActionPreference = 'Stop'\n"
	"$CertsyncLines = [Text.Encoding]::UTF8.GetString($CertsyncInput).Split(\"`n\")\n"
	"$PfxPassword = ConvertTo-SecureString -String $CertsyncLines[0].Trim() -AsPlainText -Force\n"
	"$PfxPath = Join-Path -Path ([IO.Path]::GetTempPath()) -ChildPath ('certsync-' + $CertsyncRun + '-' + [Guid]::NewGuid().ToString('N') + '.pfx')\n"
	"try {\n"
	"    [IO.File]::WriteAllBytes($PfxPath, [Convert]::FromBase64String($CertsyncLines[1].Trim()))\n";
/* then: "    & ([scriptblock]::Create($CertsyncUserScript)) -Thumbprint $Thumbprint ... -Name $Name\n" */
const char cs_win_script_tail[] =
	"    if (-not $?) { throw 'the script failed' }\n"
	"} finally {\n"
	"    if (Test-Path -Path $PfxPath) { Remove-Item -LiteralPath $PfxPath -Force }\n"
	"}\n"
	"exit 0\n";

/* The driver only lists certificates bound nowhere (IIS, http.sys,
 * Exchange, RDP) that it saw a moment before. */
const char cs_win_store_remove[] =
	"$ErrorActionPreference = 'Stop'\n"
	"foreach ($t in $Thumbprints) { Remove-Item -LiteralPath ('Cert:\\LocalMachine\\My\\' + $t) -DeleteKey }\n"
	"exit 0\n";

const char cs_win_boot_time[] =
	"$ErrorActionPreference = 'Stop'\n"
	"(Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')\n";

const char cs_win_reboot[] =
	"$ErrorActionPreference = 'Stop'\n"
	"Restart-Computer -Force\n"
	"exit 0\n";

const struct cs_win_script cs_win_scripts[] = {
	{ "boot_time.ps1", cs_win_boot_time },
	{ "exchange_set.ps1", cs_win_exchange_set },
	{ "httpsys_remove.ps1", cs_win_httpsys_remove },
	{ "httpsys_set.ps1", cs_win_httpsys_set },
	{ "iis_remove.ps1", cs_win_iis_remove },
	{ "iis_set.ps1", cs_win_iis_set },
	{ "import.ps1", cs_win_import },
	{ "inventory.ps1", cs_win_inventory },
	{ "rdp_set.ps1", cs_win_rdp_set },
	{ "reboot.ps1", cs_win_reboot },
	{ "script_head.ps1", cs_win_script_head },
	{ "script_tail.ps1", cs_win_script_tail },
	{ "store_remove.ps1", cs_win_store_remove },
};
const size_t cs_win_n_scripts = sizeof cs_win_scripts / sizeof cs_win_scripts[0];

int cs_win_identifier(const char *s)
{
	if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static int put_quoted(struct cs_buf *out, const char *s)
{
	char *q = cs_ps_quote(s ? s : "");
	int r = cs_buf_puts(out, q);
	free(q);
	return r;
}

int cs_win_render(struct cs_buf *out, const struct cs_win_var *vars, size_t n_vars, const char *body)
{
	int r = 0;
	for (size_t i = 0; i < n_vars && r == 0; i++) {
		const struct cs_win_var *v = &vars[i];
		if (!cs_win_identifier(v->name))
			return -EINVAL;
		r = cs_buf_printf(out, "$%s = ", v->name);
		switch (v->type) {
		case CS_WIN_STR:
			if (r == 0)
				r = put_quoted(out, v->str);
			break;
		case CS_WIN_BOOL:
			if (r == 0)
				r = cs_buf_puts(out, v->boolean ? "$true" : "$false");
			break;
		case CS_WIN_STRV:
			if (r == 0)
				r = cs_buf_puts(out, "@(");
			for (size_t k = 0; k < v->n && r == 0; k++) {
				if (k)
					r = cs_buf_puts(out, ", ");
				if (r == 0)
					r = put_quoted(out, v->strv[k]);
			}
			if (r == 0)
				r = cs_buf_puts(out, ")");
			break;
		case CS_WIN_HASH:
			/* Keys are parameter names: identifiers only, so they
			 * can be written bare. */
			if (r == 0)
				r = cs_buf_puts(out, "@{");
			for (size_t k = 0; k < v->n && r == 0; k++) {
				if (!cs_win_identifier(v->strv[k]))
					return -EINVAL;
				r = cs_buf_printf(out, "%s%s = ", k ? "; " : "", v->strv[k]);
				if (r == 0)
					r = put_quoted(out, v->values[k]);
			}
			if (r == 0)
				r = cs_buf_puts(out, "}");
			break;
		}
		if (r == 0)
			r = cs_buf_puts(out, "\n");
	}
	if (r == 0)
		r = cs_buf_puts(out, body);
	return r;
}
