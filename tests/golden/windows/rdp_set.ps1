$Thumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'
$ErrorActionPreference = 'Stop'
$ts = Get-CimInstance -Namespace 'root\cimv2\terminalservices' -ClassName Win32_TSGeneralSetting -Filter "TerminalName='RDP-tcp'"
Set-CimInstance -InputObject $ts -Property @{ SSLCertificateSHA1Hash = $Thumbprint }
exit 0
