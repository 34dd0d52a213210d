$ErrorActionPreference = 'Stop'
$dir = [IO.Path]::GetDirectoryName($Path)
if (-not [IO.Directory]::Exists($dir)) { exit 44 }
$tmp = [IO.Path]::Combine($dir, '.certsync-' + [Guid]::NewGuid().ToString('N') + '.tmp')
try {
    $fs = [IO.FileStream]::new($tmp, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::None)
    try {
        $fs.Write($CertsyncInput, 0, $CertsyncInput.Length)
        $fs.Flush($true)
    } finally {
        $fs.Dispose()
    }
    if ([IO.File]::Exists($Path)) {
        [IO.File]::Replace($tmp, $Path, [NullString]::Value)
    } else {
        [IO.File]::Move($tmp, $Path)
    }
} finally {
    if ([IO.File]::Exists($tmp)) { [IO.File]::Delete($tmp) }
}
exit 0
