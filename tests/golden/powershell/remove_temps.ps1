$ErrorActionPreference = 'Stop'
$n = 0
$dirs = @(foreach ($p in $Paths) { [IO.Path]::GetDirectoryName($p) })
foreach ($d in $dirs) {
    if (-not $d -or -not (Test-Path -LiteralPath $d -PathType Container)) { continue }
    foreach ($f in @(Get-ChildItem -Path $d -Force -File)) {
        if ($f.Name.StartsWith('.certsync-' + $CertsyncRun + '-') -and $f.Name.EndsWith('.tmp')) {
            Remove-Item -LiteralPath $f.FullName -Force
            $n = $n + 1
        }
    }
}
foreach ($f in @(Get-ChildItem -Path ([IO.Path]::GetTempPath()) -Force -File)) {
    if ($f.Name.StartsWith('certsync-' + $CertsyncRun + '-') -and $f.Name.EndsWith('.pfx')) {
        Remove-Item -LiteralPath $f.FullName -Force
        $n = $n + 1
    }
}
'removed ' + $n
