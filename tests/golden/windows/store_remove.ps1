$Thumbprints = @('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB')
$ErrorActionPreference = 'Stop'
foreach ($t in $Thumbprints) { Remove-Item -LiteralPath ('Cert:\LocalMachine\My\' + $t) -DeleteKey }
exit 0
