$ErrorActionPreference = 'Stop'
if ([IO.File]::Exists($Path)) { Write-Output ('file ' + [IO.FileInfo]::new($Path).Length); exit 0 }
if ([IO.Directory]::Exists($Path)) { Write-Output 'dir'; exit 0 }
Write-Output 'missing'
exit 0
