$Thumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'
$Exportable = $true
$CertsyncRun = '0000000000000000'
$ErrorActionPreference = 'Stop'
$lines = [Text.Encoding]::UTF8.GetString($CertsyncInput).Split("`n")
$password = ConvertTo-SecureString -String $lines[0].Trim() -AsPlainText -Force
$path = Join-Path -Path ([IO.Path]::GetTempPath()) -ChildPath ('certsync-' + $CertsyncRun + '-' + [Guid]::NewGuid().ToString('N') + '.pfx')
try {
    [IO.File]::WriteAllBytes($path, [Convert]::FromBase64String($lines[1].Trim()))
    $null = Import-PfxCertificate -FilePath $path -CertStoreLocation 'Cert:\LocalMachine\My' -Password $password -Exportable:$Exportable
} finally {
    if (Test-Path -Path $path) { Remove-Item -LiteralPath $path -Force }
}
$c = Get-Item -Path ('Cert:\LocalMachine\My\' + $Thumbprint)
if (-not $c.HasPrivateKey) { throw ('certificate ' + $Thumbprint + ' was imported without its private key') }
exit 0
