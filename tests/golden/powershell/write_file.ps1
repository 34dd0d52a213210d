$ErrorActionPreference = 'Stop'
$dir = [IO.Path]::GetDirectoryName($Path)
if (-not (Test-Path -LiteralPath $dir -PathType Container)) { exit 44 }
$tmp = Join-Path $dir ('.certsync-' + $CertsyncRun + '-' + [Guid]::NewGuid().ToString('N') + '.tmp')
try {
    $fs = [IO.FileStream]::new($tmp, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::None)
    try {
        $fs.Write($CertsyncInput, 0, $CertsyncInput.Length)
        $fs.Flush($true)
    } finally {
        $fs.Dispose()
    }
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        [IO.File]::Replace($tmp, $Path, [NullString]::Value)
    } else {
        [IO.File]::Move($tmp, $Path)
    }
} finally {
    if (Test-Path -LiteralPath $tmp) { Remove-Item -LiteralPath $tmp -Force }
}
exit 0
