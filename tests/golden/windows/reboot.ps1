$ErrorActionPreference = 'Stop'
Restart-Computer -Force
exit 0
