#!/usr/bin/env bash
# The motivating case end to end (examples/iis-exchange-isa): SAPPHIRE over
# WinRM (the WS-Management test server), COBALT over SSH (a real sshd whose
# ForceCommand is the same PowerShell model, pwsh.py).  plan shows the CSR
# step → apply writes the CSR → openssl signs it as the "commercial CA" →
# plan shows import on both hosts, IIS + Exchange on SAPPHIRE, the TMG
# script on COBALT and COBALT's reboot → apply → the models hold the new
# thumbprint everywhere and COBALT rebooted once → a clean plan → the
# calendar reminder 7 days before expiry.  Then faults: a wrong site name
# and a wrong WinRM password are clear errors; a script failing mid-way
# keeps SAPPHIRE's previous bindings; a reboot that never comes back times
# out while the other host is fine.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ssh_lib.sh"

root=$_lib_root
PY=/usr/bin/python3
ssh_lib_init >"$TEST_TMP/init.out" 2>&1 || { echo "1..0 # SKIP $(cat "$TEST_TMP/init.out")"; exit 0; }
cd "$TEST_TMP" || exit 1
ex=$root/examples/iis-exchange-isa

# --- SAPPHIRE: WinRM over HTTPS with NTLM --------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout srv.key -out srv.crt -days 2 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
mkdir -p sapphire.fs/C/Users/svc-certsync/AppData/Local/Temp
cat >sapphire.json <<'J'
{ "hostname": "SAPPHIRE",
  "iis": { "installed": true, "sites": [ { "name": "Default Web Site", "id": 1, "state": "Started",
           "bindings": [ { "protocol": "http", "bindingInformation": "*:80:", "sslFlags": 0 } ] } ] },
  "exchange": { "installed": true, "services": {} },
  "services": { "MSExchangePOP3": { "status": "Running", "restarts": 0 },
                "MSExchangeIMAP4": { "status": "Running", "restarts": 0 } } }
J
wport=$(free_port)
"$PY" "$root/tests/winrm/server.py" --https-port "$wport" --cert srv.crt --key srv.key \
	--user 'CORP\svc-certsync:S3cret!' --state sapphire.json --fs-root sapphire.fs \
	--ready-file ready.json --log winrm.log >server.out 2>&1 &
cleanup_add "kill $!"
wait_port "$wport" 15 || { echo "Bail out! winrm server: $(cat server.out)"; exit 1; }
export SAPPHIRE_PASSWORD='S3cret!'

# --- COBALT: OpenSSH whose every command is the PowerShell model -------------
# The model's state lives in a folder of its own that the SSH user owns:
# it writes a lock file and replaces the state file there ($TEST_TMP is
# root's).
mkdir -p cobalt/fs/C/Users/certsync-test/AppData/Local/Temp cobalt/fs/C/TMG
echo '{ "hostname": "COBALT" }' >cobalt/state.json
cat >pwsh-cobalt.sh <<EOF
#!/bin/sh
# sshd ForceCommand: "powershell.exe <args>" runs in the model of COBALT.
[ -e $TEST_TMP/cobalt.down ] && exit 255
# A reboot that never returns: once the boot count passes the one in
# cobalt.noreturn, the host stays away.
if [ -e $TEST_TMP/cobalt.noreturn ]; then
	n=\$(sed -n 's/.*"reboot_count": \([0-9]*\).*/\1/p' $TEST_TMP/cobalt/state.json)
	[ "\$n" -gt "\$(cat $TEST_TMP/cobalt.noreturn)" ] && exit 255
fi
set -- \$SSH_ORIGINAL_COMMAND
shift
exec $PY $root/tests/winrm/pwsh.py --state $TEST_TMP/cobalt/state.json --fs-root $TEST_TMP/cobalt/fs \
	--hostname COBALT --user certsync-test -- "\$@"
EOF
chmod 755 pwsh-cobalt.sh
chown -R "$SSH_USER:" cobalt
SSHD_EXTRA="ForceCommand $TEST_TMP/pwsh-cobalt.sh" ssh_start cobalt || { echo "Bail out! sshd"; exit 1; }
ssh_known_line cobalt >>"$SSH_KNOWN_HOSTS"

# The TMG listener script, in the subset the model runs (no COM there): it
# records which certificate the "listener" uses.
cat >tmg-model.ps1 <<'PS'
$c = Get-Item -Path ('Cert:\LocalMachine\My\' + $Thumbprint)
if (-not $c.HasPrivateKey) { throw 'no private key' }
[IO.File]::WriteAllText('C:\TMG\' + $Listener + '.txt', $Thumbprint)
PS

# The example's certificate section as shipped; hosts point at the stand-ins,
# the TMG script at the model's version, and the verify entries go (nothing
# here serves TLS for mail.example.org).
mkdir -p requests inbox
{
	cat <<EOF
version: 1
issuers:
  verisign:
    manual: { requests: requests/, inbox: inbox/ }
hosts:
  sapphire:
    platform: windows
    winrm: { address: 127.0.0.1, port: $wport, auth: ntlm, user: 'CORP\\svc-certsync',
             password: { env: SAPPHIRE_PASSWORD }, ca_bundle: srv.crt }
  cobalt:
    platform: windows
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[cobalt]}, user: $SSH_USER, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS }
    reboot: after-change
    reboot_timeout: 20s
EOF
	sed -n '/^certificates:/,/^    verify:/p' "$ex/certsync.yaml" | grep -v '^    verify:' |
		sed "s|path: tmg-listener.ps1|path: tmg-model.ps1|"
} >certsync.yaml

expect_exit 0 "$CERTSYNC" validate -c certsync.yaml

# 1. plan: the CSR step
expect_exit 2 "$CERTSYNC" plan -c certsync.yaml --detailed-exitcode
expect_contains "$OUT" 'renew mail: new rsa 2048 key and request .*requests/mail.csr'
# 2. apply writes the CSR and waits for the CA
expect_exit 0 "$CERTSYNC" apply -c certsync.yaml --yes
[[ -s requests/mail.csr ]] && ok "the CSR is in requests/" || not_ok "the CSR is in requests/" "$OUT"
# 3. the "commercial CA" signs it
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj '/CN=VeriSign test CA' >/dev/null 2>&1
printf 'subjectAltName=DNS:mail.example.org,DNS:owa.example.org\n' >san.ext
openssl x509 -req -in requests/mail.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
	-extfile san.ext -out inbox/mail.pem >/dev/null 2>&1
cp inbox/mail.pem signed.pem
thumb=$(openssl x509 -in inbox/mail.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
# 4. plan: import on both hosts, IIS + Exchange on SAPPHIRE, script + reboot on COBALT
expect_exit 2 "$CERTSYNC" plan -c certsync.yaml --detailed-exitcode
expect_contains "$OUT" "import mail → sapphire: LocalMachine.My"
expect_contains "$OUT" "host sapphire lacks certificate $thumb"
expect_contains "$OUT" "import mail → cobalt: LocalMachine.My \(key exportable\)"
expect_contains "$OUT" "host cobalt lacks certificate $thumb"
expect_contains "$OUT" "bind mail → sapphire iis"
expect_contains "$OUT" "bind mail → sapphire exchange"
expect_contains "$OUT" "bind mail → cobalt script"
expect_contains "$OUT" "reboot cobalt and wait until it is back"
expect_contains "$OUT" "to import, 1 to reboot"
# 5. apply
expect_exit 0 "$CERTSYNC" apply -c certsync.yaml --yes
state() { "$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
got=$(state sapphire.json "[b for b in s['httpsys']['sslcert']][0]['certhash'].upper()")
[[ $got == "$thumb" ]] && ok "IIS https binding on SAPPHIRE uses $thumb" || not_ok "IIS on SAPPHIRE" "got $got"
got=$(state sapphire.json "s['exchange']['services'].get('POP','')+' '+s['exchange']['services'].get('IMAP','')")
[[ $got == "$thumb $thumb" ]] && ok "Exchange POP and IMAP use it" || not_ok "Exchange POP and IMAP use it" "got $got"
got=$(state sapphire.json "s['services']['MSExchangePOP3']['restarts'], s['services']['MSExchangeIMAP4']['restarts']")
[[ $got == "(1, 1)" ]] && ok "POP3 and IMAP4 restarted once" || not_ok "POP3 and IMAP4 restarted once" "got $got"
got=$(state cobalt/state.json "[(c['thumbprint'].upper(), c['has_private_key'], c['exportable']) for c in s['store']['My']]")
[[ $got == "[('$thumb', True, True)]" ]] && ok "COBALT has it with an exportable key" || not_ok "COBALT store" "got $got"
got=$(cat cobalt/fs/C/TMG/OWA.txt 2>/dev/null)
[[ $got == "$thumb" ]] && ok "the TMG listener script ran with the thumbprint" || not_ok "TMG script" "got $got"
got=$(state cobalt/state.json "s['reboot_count']")
[[ $got == 1 ]] && ok "COBALT rebooted once" || not_ok "COBALT rebooted once" "got $got"
got=$(state sapphire.json "s.get('reboot_count', 0)")
[[ $got == 0 ]] && ok "SAPPHIRE not rebooted" || not_ok "SAPPHIRE not rebooted" "got $got"
# 6. a second plan is clean
expect_exit 0 "$CERTSYNC" plan -c certsync.yaml --detailed-exitcode
expect_contains "$OUT" "No changes"
# 7. the reminder a week before expiry, read by a real iCalendar parser
expect_exit 0 "$CERTSYNC" calendar -c certsync.yaml -o mail.ics
end=$(openssl x509 -in signed.pem -noout -enddate | sed 's/notAfter=//')
remind=$(date -u -d "$end - 7 days" +%F)
got=$("$PY" - mail.ics <<'PY'
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
for e in [c for c in cal.walk() if c.name == 'VEVENT']:
    print(e['DTSTART'].dt.isoformat(), str(e['SUMMARY']))
PY
)
want="$remind Renew certificate mail (mail.example.org) — expires $(date -u -d "$end" +%F)"
[[ $got == "$want" ]] &&
	ok "the calendar has one reminder, 7 days before expiry ($remind)" ||
	not_ok "the calendar reminder 7 days before expiry" "got: $got" "want: $want"

# --- faults ----------------------------------------------------------------------
# A wrong site name: a clear error naming the host and the sites there.
expect_exit 0 "$CERTSYNC" plan -c certsync.yaml
sed 's/site: Default Web Site/site: Default Web Sitx/' certsync.yaml >wrong-site.yaml
expect_exit 1 "$CERTSYNC" plan -c wrong-site.yaml
expect_contains "$OUT" "sapphire iis: IIS site 'Default Web Sitx' does not exist \(sites: 'Default Web Site'\)"

# A wrong WinRM password: the 401 is shown as such, COBALT is still planned.
SAPPHIRE_PASSWORD='Wr0ng-Pa55' expect_exit 1 "$CERTSYNC" plan -c certsync.yaml
expect_contains "$OUT" "host sapphire: .*401"
expect_contains "$OUT" "(password|credentials|authentication)"
[[ $OUT != *Wr0ng-Pa55* ]] && ok "the password is not shown" || not_ok "the password is not shown" "$OUT"

# Renewal time (a year on, inside renew_before): a new key and CSR, signed.
export CERTSYNC_NOW=$(($(date +%s) + 340 * 86400))
expect_exit 0 "$CERTSYNC" apply -c certsync.yaml --yes
openssl x509 -req -in requests/mail.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 800 \
	-extfile san.ext -out inbox/mail.pem >/dev/null 2>&1
thumb2=$(openssl x509 -in inbox/mail.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
[[ $thumb2 != "$thumb" && -n $thumb2 ]] && ok "the CA signed a renewal" || not_ok "the CA signed a renewal" "$thumb2"

# A script failing mid-way on SAPPHIRE: the Exchange step assigns POP and
# IMAP, then cannot restart MSExchangeIMAP4 (gone from the host).  SAPPHIRE
# keeps its previous bindings (IIS and Exchange on the old certificate) and
# the error says what failed; COBALT, independent, gets the renewal.
state_edit() { "$PY" -c "import json,sys; p=sys.argv[1]; s=json.load(open(p)); exec(sys.argv[2]); json.dump(s, open(p, 'w'))" "$@"; }
state_edit sapphire.json "s['services'].pop('MSExchangeIMAP4')"
expect_exit 1 "$CERTSYNC" apply -c certsync.yaml --yes
expect_contains "$OUT" "FAILED .*bind mail → sapphire exchange.*Cannot find any service with service name 'MSExchangeIMAP4'"
got=$(state sapphire.json "[b for b in s['httpsys']['sslcert']][0]['certhash'].upper()")
[[ $got == "$thumb" ]] && ok "SAPPHIRE's IIS binding kept the previous certificate" || not_ok "SAPPHIRE IIS kept" "got $got want $thumb"
got=$(state sapphire.json "s['exchange']['services'].get('POP','')+' '+s['exchange']['services'].get('IMAP','')")
[[ $got == "$thumb $thumb" ]] && ok "SAPPHIRE's Exchange POP and IMAP kept it" || not_ok "SAPPHIRE Exchange kept" "got $got"
got=$(cat cobalt/fs/C/TMG/OWA.txt 2>/dev/null)
[[ $got == "$thumb2" ]] && ok "COBALT got the renewal meanwhile" || not_ok "COBALT got the renewal" "got $got"
got=$(state cobalt/state.json "s['reboot_count']")
[[ $got == 2 ]] && ok "COBALT rebooted for it" || not_ok "COBALT rebooted for it" "got $got"

# A reboot that never returns: COBALT lost the certificate (plan: import +
# reboot) and stays away after the reboot; the apply fails on COBALT with
# a timeout (reboot_timeout 4s here) while SAPPHIRE, repaired, completes.
state_edit sapphire.json "s['services']['MSExchangeIMAP4'] = {'status': 'Running', 'restarts': 0}"
state_edit cobalt/state.json "s['store']['My'] = []"
echo 2 >cobalt.noreturn
sed 's/reboot_timeout: 20s/reboot_timeout: 4s/' certsync.yaml >short-reboot.yaml
start=$(date +%s)
expect_exit 1 "$CERTSYNC" apply -c short-reboot.yaml --yes
took=$(($(date +%s) - start))
expect_contains "$OUT" "FAILED .*reboot cobalt.*host cobalt: reboot: not back within 4s"
((took < 60)) && ok "the timeout ended the wait ($took s)" || not_ok "the timeout ended the wait" "took $took s"
got=$(state sapphire.json "[b for b in s['httpsys']['sslcert']][0]['certhash'].upper(), s['exchange']['services'].get('POP',''), s['exchange']['services'].get('IMAP','')")
[[ $got == "('$thumb2', '$thumb2', '$thumb2')" ]] && ok "SAPPHIRE unaffected: IIS, POP and IMAP on the renewal" ||
	not_ok "SAPPHIRE unaffected" "got $got"
rm -f cobalt.noreturn

done_testing
