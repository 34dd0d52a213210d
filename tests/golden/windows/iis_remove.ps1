$Site = 'Default Web Site'
$BindingInformation = '*:443:mail.example.org'
$ErrorActionPreference = 'Stop'
Import-Module IISAdministration
Remove-IISSiteBinding -Name $Site -BindingInformation $BindingInformation -Protocol https -Confirm:$false
exit 0
