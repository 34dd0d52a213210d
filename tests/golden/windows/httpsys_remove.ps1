$Kind = 'ipport'
$Endpoint = '0.0.0.0:443'
$ErrorActionPreference = 'Stop'
$out = netsh http delete sslcert "$Kind=$Endpoint"
if ($LASTEXITCODE -ne 0) { throw ('netsh http delete sslcert ' + $Kind + '=' + $Endpoint + ' failed (' + $LASTEXITCODE + '): ' + (($out -join ' ').Trim())) }
exit 0
