$ErrorActionPreference = 'Stop'
$store = @()
foreach ($c in @(Get-ChildItem -Path 'Cert:\LocalMachine\My')) {
    $store += [pscustomobject]@{ thumbprint = [string]$c.Thumbprint; subject = [string]$c.Subject; not_after = $c.NotAfter.ToUniversalTime().ToString('o'); has_key = [bool]$c.HasPrivateKey; raw = [Convert]::ToBase64String($c.RawData) }
}
$sites = $null
$iis = $null
$haveIis = $true
try { Import-Module IISAdministration } catch { $haveIis = $false }
if ($haveIis) {
    $sites = @()
    $iis = @()
    foreach ($s in @(Get-IISSite)) {
        $sites += [string]$s.Name
        foreach ($b in @(Get-IISSiteBinding -Name $s.Name -Protocol https)) {
            $hash = ''
            if ($null -ne $b.CertificateHash) { $hash = [BitConverter]::ToString($b.CertificateHash).Replace('-', '') }
            $iis += [pscustomobject]@{ site = [string]$s.Name; info = [string]$b.BindingInformation; hash = $hash; flags = [string]$b.SslFlags }
        }
    }
}
$sslcert = (netsh http show sslcert) -join "`n"
$exchange = $null
$haveExchange = $true
try { Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn } catch { $haveExchange = $false }
if ($haveExchange) {
    $exchange = @()
    foreach ($e in @(Get-ExchangeCertificate)) { $exchange += [pscustomobject]@{ thumbprint = [string]$e.Thumbprint; services = [string]$e.Services } }
}
$rdp = $null
try {
    $ts = Get-CimInstance -Namespace 'root\cimv2\terminalservices' -ClassName Win32_TSGeneralSetting -Filter "TerminalName='RDP-tcp'"
    $rdp = [string]$ts.SSLCertificateSHA1Hash
} catch { $rdp = $null }
$boot = (Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')
ConvertTo-Json -Compress -Depth 4 -InputObject ([pscustomobject]@{ boot = $boot; store = $store; sites = $sites; iis = $iis; sslcert = $sslcert; exchange = $exchange; rdp = $rdp })
