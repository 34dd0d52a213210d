<#
.SYNOPSIS
    Select a certificate on an ISA Server 2006 / Forefront TMG 2010 web listener.

.DESCRIPTION
    certsync runs this on the firewall (COBALT in the example) after the
    certificate was imported into LocalMachine\My by a `store` binding.  It
    makes the web listener named by -Listener present that certificate to
    clients, through the firewall's administration COM objects (FPC.Root),
    and saves the configuration.

    The script is idempotent: when the listener already uses exactly this
    certificate it changes nothing and says so.  When the listener has
    per-IP certificates, each IP keeps its entry and gets the new
    certificate.

    Exit code 0 on success, 1 with a message on stderr otherwise.

.PARAMETER Thumbprint
    SHA-1 thumbprint of the certificate (hex, spaces allowed).

.PARAMETER PfxPath
    Path of the PKCS#12 file certsync copied over.  Not needed here (the
    store binding imports it); accepted so that the script takes the same
    arguments as every certsync script.

.PARAMETER PfxPassword
    Password of that PFX (SecureString).  Not needed here either; declared
    because certsync always passes it, and a script with [Parameter()]
    attributes refuses parameters it does not declare.

.PARAMETER Listener
    Name of the web listener, as shown in the management console
    ("OWA" in the example).
#>
param(
    [Parameter(Mandatory = $true)] [string] $Thumbprint,
    [string] $PfxPath,
    [System.Security.SecureString] $PfxPassword,
    [Parameter(Mandatory = $true)] [string] $Listener
)

$ErrorActionPreference = 'Stop'

function Fail([string] $message) {
    [Console]::Error.WriteLine("tmg-listener: $message")
    exit 1
}

function ConvertTo-Hex($bytes) {
    if ($null -eq $bytes) { return '' }
    return (($bytes | ForEach-Object { ([byte]$_).ToString('X2') }) -join '')
}

# Thumbprints are copied from consoles with spaces and odd cases.
$thumb = ($Thumbprint -replace '[^0-9A-Fa-f]', '').ToUpperInvariant()
if ($thumb.Length -ne 40) {
    Fail "thumbprint '$Thumbprint' is not 40 hex digits"
}

# The firewall only offers certificates of the local machine store that
# come with their private key; check before touching the listener, so a
# failed import never leaves the listener without a certificate.
$cert = Get-ChildItem -Path Cert:\LocalMachine\My |
    Where-Object { $_.Thumbprint -eq $thumb } |
    Select-Object -First 1
if ($null -eq $cert) {
    Fail "certificate $thumb is not in LocalMachine\My on $env:COMPUTERNAME (import it first: a store binding does)"
}
if (-not $cert.HasPrivateKey) {
    Fail "certificate $thumb in LocalMachine\My has no private key (import it from a PFX, exportable)"
}

try {
    $root = New-Object -ComObject FPC.Root
} catch {
    Fail "cannot create FPC.Root: is ISA Server or Forefront TMG installed on $($env:COMPUTERNAME)? ($($_.Exception.Message))"
}
# Standard Edition has exactly one array, the one this server belongs to.
$array = $root.GetContainingArray()
$listeners = $array.RuleElements.WebListeners

$webListener = $null
try {
    $webListener = $listeners.Item($Listener)
} catch {
    $webListener = $null
}
if ($null -eq $webListener) {
    $names = @()
    foreach ($l in $listeners) { $names += $l.Name }
    Fail "web listener '$Listener' does not exist (listeners: $($names -join ', '))"
}

$applied = $webListener.Properties.AppliedSSLCertificates

# TMG 2010 exposes the hash through SSLCertificate; fall back to a Hash
# property on the entry itself for older object models.
function Get-AppliedHash($entry) {
    $h = $null
    try { $h = $entry.SSLCertificate.Hash } catch { $h = $null }
    if ($null -eq $h) {
        try { $h = $entry.Hash } catch { $h = $null }
    }
    return (ConvertTo-Hex $h)
}

$ips = @()
$current = @()
foreach ($entry in $applied) {
    $current += (Get-AppliedHash $entry)
    $ip = ''
    try { $ip = [string]$entry.IPAddress } catch { $ip = '' }
    $ips += $ip
}
if ($ips.Count -eq 0) { $ips = @('') }

$unchanged = $current.Count -gt 0
foreach ($h in $current) {
    if ($h -ne $thumb) { $unchanged = $false }
}
if ($unchanged) {
    Write-Output "web listener '$Listener' already uses certificate $thumb"
    exit 0
}

# The COM Add method wants the hash as bytes.
$hash = New-Object byte[] 20
for ($i = 0; $i -lt 20; $i++) {
    $hash[$i] = [Convert]::ToByte($thumb.Substring(2 * $i, 2), 16)
}

try {
    while ($applied.Count -gt 0) {
        $applied.Remove(1)
    }
    foreach ($ip in $ips) {
        $entry = $applied.Add($hash)
        if ($ip -ne '') { $entry.IPAddress = $ip }
    }
    # Save(ResetRequiredServices = false, ReloadConfiguration = true): the
    # firewall picks the listener change up without a service restart;
    # certsync reboots the host afterwards when `reboot: after-change`.
    $webListener.Save($false, $true)
} catch {
    Fail "could not set certificate $thumb on web listener '$Listener': $($_.Exception.Message)"
}

Write-Output "web listener '$Listener' now uses certificate $thumb ($($cert.Subject), expires $($cert.NotAfter.ToString('yyyy-MM-dd')))"
exit 0
