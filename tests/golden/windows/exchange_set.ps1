$Thumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'
$Services = @('POP', 'IMAP')
$ErrorActionPreference = 'Stop'
Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn
Enable-ExchangeCertificate -Thumbprint $Thumbprint -Services $Services -Force
if ($Services -contains 'POP') { Restart-Service -Name MSExchangePOP3 -Force }
if ($Services -contains 'IMAP') { Restart-Service -Name MSExchangeIMAP4 -Force }
exit 0
