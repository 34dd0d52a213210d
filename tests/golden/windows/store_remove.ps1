$Thumbprints = @('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB')
$ErrorActionPreference = 'Stop'
foreach ($t in $Thumbprints) { Remove-Item -Path ('Cert:\LocalMachine\My\' + $t) -DeleteKey }
exit 0
