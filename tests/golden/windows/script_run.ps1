$Thumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'
$CertsyncUserScript = 'Write-Output "listener $Listener"
'
$CertsyncRun = '0000000000000000'
$Listener = 'OWA'
$ErrorActionPreference = 'Stop'
$CertsyncLines = [Text.Encoding]::UTF8.GetString($CertsyncInput).Split("`n")
$PfxPassword = ConvertTo-SecureString -String $CertsyncLines[0].Trim() -AsPlainText -Force
$PfxPath = Join-Path -Path ([IO.Path]::GetTempPath()) -ChildPath ('certsync-' + $CertsyncRun + '-' + [Guid]::NewGuid().ToString('N') + '.pfx')
try {
    [IO.File]::WriteAllBytes($PfxPath, [Convert]::FromBase64String($CertsyncLines[1].Trim()))
    & ([scriptblock]::Create($CertsyncUserScript)) -Thumbprint $Thumbprint -PfxPath $PfxPath -PfxPassword $PfxPassword -Listener $Listener
    if (-not $?) { throw 'the script failed' }
} finally {
    if (Test-Path -Path $PfxPath) { Remove-Item -LiteralPath $PfxPath -Force }
}
exit 0
