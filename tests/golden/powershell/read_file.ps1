$ErrorActionPreference = 'Stop'
if (-not [IO.File]::Exists($Path)) { exit 44 }
Write-Output ([Convert]::ToBase64String([IO.File]::ReadAllBytes($Path)))
exit 0
