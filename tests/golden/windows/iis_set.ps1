$Site = 'Default Web Site'
$BindingInformation = '*:443:mail.example.org'
$Thumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'
$Sni = $true
$ErrorActionPreference = 'Stop'
$haveIis = $true
try { Import-Module IISAdministration } catch { $haveIis = $false }
if ($haveIis) {
    $null = Get-IISSite -Name $Site
    $old = @(Get-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https)
    if ($old.Count -gt 0) { Remove-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -RemoveConfigOnly -Confirm:$false }
    if ($Sni) {
        New-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -CertificateThumbPrint $Thumbprint -CertStoreLocation 'Cert:\LocalMachine\My' -SslFlag Sni
    } else {
        New-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -CertificateThumbPrint $Thumbprint -CertStoreLocation 'Cert:\LocalMachine\My'
    }
} else {
    Import-Module WebAdministration
    $parts = $BindingInformation.Split(':')
    $b = Get-WebBinding -Name $Site -Protocol https -Port $parts[1] -IPAddress $parts[0] -HostHeader $parts[2]
    if ($null -eq $b) {
        $flags = 0
        if ($Sni) { $flags = 1 }
        New-WebBinding -Name $Site -Protocol https -Port $parts[1] -IPAddress $parts[0] -HostHeader $parts[2] -SslFlags $flags
        $b = Get-WebBinding -Name $Site -Protocol https -Port $parts[1] -IPAddress $parts[0] -HostHeader $parts[2]
    } elseif ($b.certificateHash) {
        $b.RemoveSslCertificate()
    }
    $b.AddSslCertificate($Thumbprint, 'My')
}
exit 0
