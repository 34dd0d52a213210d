$Kind = 'ipport'
$Endpoint = '0.0.0.0:443'
$Thumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'
$AppId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'
$ErrorActionPreference = 'Stop'
$null = netsh http show sslcert "$Kind=$Endpoint"
$verb = 'add'
if ($LASTEXITCODE -eq 0) { $verb = 'update' }
$out = netsh http $verb sslcert "$Kind=$Endpoint" "certhash=$Thumbprint" "appid=$AppId" certstorename=MY
if ($LASTEXITCODE -ne 0) { throw ('netsh http ' + $verb + ' sslcert ' + $Kind + '=' + $Endpoint + ' failed (' + $LASTEXITCODE + '): ' + (($out -join ' ').Trim())) }
exit 0
