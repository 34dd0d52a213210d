$Thumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'
$ErrorActionPreference = 'Stop'
$password = [Text.Encoding]::UTF8.GetString($CertsyncInput).Trim()
$c = Get-Item -Path ('Cert:\LocalMachine\My\' + $Thumbprint)
if (-not $c.HasPrivateKey) { throw ('certificate ' + $Thumbprint + ' has no private key in LocalMachine\My') }
[Convert]::ToBase64String($c.Export('Pfx', $password))
