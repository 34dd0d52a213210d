$ErrorActionPreference = 'Stop'
if (Test-Path -LiteralPath $Path -PathType Leaf) {
    'file ' + (Get-Item -LiteralPath $Path -Force).Length
} elseif (Test-Path -LiteralPath $Path -PathType Container) {
    'dir'
} else {
    'missing'
}
