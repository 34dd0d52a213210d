$ErrorActionPreference = 'Stop'
if ([IO.File]::Exists($Path)) { [IO.File]::Delete($Path) }
exit 0
