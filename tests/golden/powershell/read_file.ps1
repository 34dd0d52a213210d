$ErrorActionPreference = 'Stop'
if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { exit 44 }
[Convert]::ToBase64String([IO.File]::ReadAllBytes($Path))
