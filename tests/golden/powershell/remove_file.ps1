$ErrorActionPreference = 'Stop'
if (Test-Path -LiteralPath $Path -PathType Leaf) { Remove-Item -LiteralPath $Path -Force }
exit 0
