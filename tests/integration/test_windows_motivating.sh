#!/usr/bin/env bash
# The motivating case end to end (examples/iis-exchange-isa): SAPPHIRE over
# WinRM (the WS-Management test server), COBALT over SSH (a real sshd whose
# ForceCommand is the same PowerShell model, pwsh.py).  plan shows the CSR
# step → apply writes the CSR → openssl signs it as the "commercial CA" →
# plan shows import on both hosts, IIS + Exchange on SAPPHIRE, the TMG
# script on COBALT and COBALT's reboot → apply → the models hold the new
# thumbprint everywhere (COBALT's OWA web listener through the shipped
# examples/iis-exchange-isa/tmg-listener.ps1, unmodified, against the
# FPC.Root model) and COBALT rebooted once → a clean plan → the calendar
# reminder 7 days before expiry.  The TMG script run again says the
# listener already uses the certificate and saves nothing; a thumbprint
# missing from the store fails before the listener is touched; a wrong
# listener name fails naming the listeners and keeps the certificate.
# Then faults: a wrong site name and a wrong WinRM password are clear
# errors; a script failing mid-way keeps SAPPHIRE's previous bindings; a
# reboot that never comes back times out while the other host is fine.
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
cobalt_temp=cobalt/fs/C/Users/certsync-test/AppData/Local/Temp
# The firewall: Forefront TMG (the FPC.Root model, tests/winrm/fpc.py)
# with the OWA web listener presenting last year's certificate on two IP
# addresses, and an RPC listener with another certificate that must stay
# as it is.
old=0123456789ABCDEF0123456789ABCDEF01234567
rpc=89ABCDEF0123456789ABCDEF0123456789ABCDEF
cat >cobalt/state.json <<J
{ "hostname": "COBALT",
  "store": { "My": [ { "thumbprint": "$old", "subject": "CN=mail.example.org", "issuer": "CN=VeriSign test CA",
                       "serial": "01", "not_before": "2025-01-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z",
                       "dns_names": ["mail.example.org"], "has_private_key": true, "exportable": true,
                       "friendly_name": "" } ], "CA": [], "Root": [] },
  "tmg": { "installed": true, "save_count": 0,
           "arrays": [ { "name": "COBALT", "web_listeners": [
             { "name": "OWA", "applied_ssl_certificates": [ { "hash": "$old", "ip_address": "192.0.2.10" },
                                                            { "hash": "$old", "ip_address": "192.0.2.11" } ] },
             { "name": "RPC", "applied_ssl_certificates": [ { "hash": "$rpc", "ip_address": "" } ] } ] } ] } }
J
# The shipped script, also on the firewall's disk for running it by hand.
cp "$ex/tmg-listener.ps1" cobalt/fs/C/TMG/
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

# The example's certificate section as shipped; hosts point at the stand-ins,
# the TMG script path at the example's folder (the script itself as
# shipped), and the verify entries go (nothing here serves TLS for
# mail.example.org).
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
		sed "s|path: tmg-listener.ps1|path: $ex/tmg-listener.ps1|"
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
[[ $got == "[('$old', True, True), ('$thumb', True, True)]" ]] && ok "COBALT has it with an exportable key (beside last year's)" ||
	not_ok "COBALT store" "got $got"
# The OWA listener, each of its entries (IP kept), the RPC listener and the
# number of Save() calls, as Python sees them in the model.
listeners() {
	state cobalt/state.json "[(l['name'], [(e['hash'].upper(), e['ip_address']) for e in l['applied_ssl_certificates']]) for l in s['tmg']['arrays'][0]['web_listeners']], s['tmg'].get('save_count', 0)"
}
owa_is() { # THUMB SAVES
	echo "([('OWA', [('$1', '192.0.2.10'), ('$1', '192.0.2.11')]), ('RPC', [('$rpc', '')])], $2)"
}
got=$(listeners)
[[ $got == "$(owa_is "$thumb" 1)" ]] &&
	ok "tmg-listener.ps1 put the new certificate on OWA's two IP addresses and saved once; RPC untouched" ||
	not_ok "TMG OWA listener" "got  $got" "want $(owa_is "$thumb" 1)"
no_pfx() { # WHEN
	local left
	left=$(ls "$cobalt_temp" 2>/dev/null)
	[[ -z $left ]] && ok "no PFX left in COBALT's temp folder $1" || not_ok "no PFX left in COBALT's temp folder $1" "$left"
}
no_pfx "after the script"
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

# --- the TMG script by hand on COBALT (over the same SSH) ----------------------
# As an administrator would run it: a script file, then a line after it
# (exit in a script file ends only that file).
tmg_by_hand() { # NAME THUMBPRINT LISTENER
	printf '%s\n' "& 'C:\\TMG\\tmg-listener.ps1' -Thumbprint '$2' -Listener '$3'" \
		'Write-Output "exit=$LASTEXITCODE"' >"hand.$1.ps1"
	"$SSH_HARNESS" --windows $(ssh_args cobalt) run 'powershell.exe -NoProfile -NonInteractive -Command -' \
		"hand.$1.ps1" "hand.$1.out" "hand.$1.err" >"hand.$1.log" 2>&1
}
# The same thumbprint again, as copied from a console (spaces, lower case):
# nothing to do, nothing saved.
spaced=$(echo "$thumb" | tr 'A-F' 'a-f' | sed 's/../& /g; s/ $//')
tmg_by_hand again "$spaced" OWA
got=$(tr -d '\r' <hand.again.out)
[[ $got == "web listener 'OWA' already uses certificate $thumb"$'\n'"exit=0" ]] &&
	ok "run again, tmg-listener.ps1 says OWA already uses the certificate" ||
	not_ok "tmg-listener.ps1 run again" "$got" "$(cat hand.again.err hand.again.log)"
got=$(listeners)
[[ $got == "$(owa_is "$thumb" 1)" ]] && ok "and saves nothing" || not_ok "run again saves nothing" "got $got"
# A certificate that is not in the store: refused before FPC.Root is touched.
tmg_by_hand missing FEDCBA9876543210FEDCBA9876543210FEDCBA98 OWA
got=$(tr -d '\r' <hand.missing.out)
err=$(tr -d '\r' <hand.missing.err)
[[ $got == "exit=1" && $err == "tmg-listener: certificate FEDCBA9876543210FEDCBA9876543210FEDCBA98 is not in LocalMachine\\My on COBALT"* ]] &&
	ok "a thumbprint not in LocalMachine\\My fails with the script's message" ||
	not_ok "thumbprint not in the store" "out: $got" "err: $err" "$(cat hand.missing.log)"
got=$(listeners)
[[ $got == "$(owa_is "$thumb" 1)" ]] && ok "and leaves the listener as it was" || not_ok "listener untouched" "got $got"

# A wrong listener name, through certsync: the certificate is new on COBALT
# again (gone from its store), so import and the script are due; the script
# fails naming the listeners there, the listener keeps its certificate.
state_edit() { "$PY" -c "import json,sys; p=sys.argv[1]; s=json.load(open(p)); exec(sys.argv[2]); json.dump(s, open(p, 'w'))" "$@"; }
state_edit cobalt/state.json "s['store']['My'] = [c for c in s['store']['My'] if c['thumbprint'].upper() != '$thumb']"
sed 's/listener: OWA/listener: OWX/' certsync.yaml >wrong-listener.yaml
grep -q 'listener: OWX' wrong-listener.yaml || not_ok "wrong-listener.yaml names OWX"
reboots=$(state cobalt/state.json "s['reboot_count']")
expect_exit 1 "$CERTSYNC" apply -c wrong-listener.yaml --yes
expect_contains "$OUT" "FAILED .*bind mail → cobalt script.*tmg-listener: web listener 'OWX' does not exist \(listeners: OWA, RPC\)"
got=$(listeners)
[[ $got == "$(owa_is "$thumb" 1)" ]] && ok "OWA kept its certificate, nothing saved" || not_ok "OWA kept its certificate" "got $got"
no_pfx "after the script failed"
# The firewall is not rebooted for a failed change; the import that went
# through is remembered as owing a reboot, which the next plan shows.
got=$(state cobalt/state.json "s['reboot_count'] - $reboots")
[[ $got == 0 ]] && ok "COBALT not rebooted after the failed script" || not_ok "COBALT not rebooted after the failed script" "got $got"
expect_contains "$OUT" "skipped .*reboot cobalt.*because bind #[0-9]+ mail failed; import #[0-9]+ \(mail\) waits for a reboot"
expect_exit 2 "$CERTSYNC" plan -c certsync.yaml --detailed-exitcode
expect_contains "$OUT" "reboot cobalt and wait until it is back"
expect_contains "$OUT" "it has not rebooted since changes of [0-9-]+ that wait for it \(import mail → cobalt: LocalMachine.My"
expect_exit 0 "$CERTSYNC" apply -c certsync.yaml --yes
got=$(state cobalt/state.json "s['reboot_count'] - $reboots")
[[ $got == 1 ]] && ok "the owed reboot done once" || not_ok "the owed reboot done once" "got $got"
expect_exit 0 "$CERTSYNC" plan -c certsync.yaml --detailed-exitcode
expect_contains "$OUT" "No changes"

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
state_edit sapphire.json "s['services'].pop('MSExchangeIMAP4')"
expect_exit 1 "$CERTSYNC" apply -c certsync.yaml --yes
expect_contains "$OUT" "FAILED .*bind mail → sapphire exchange.*Cannot find any service with service name 'MSExchangeIMAP4'"
got=$(state sapphire.json "[b for b in s['httpsys']['sslcert']][0]['certhash'].upper()")
[[ $got == "$thumb" ]] && ok "SAPPHIRE's IIS binding kept the previous certificate" || not_ok "SAPPHIRE IIS kept" "got $got want $thumb"
got=$(state sapphire.json "s['exchange']['services'].get('POP','')+' '+s['exchange']['services'].get('IMAP','')")
[[ $got == "$thumb $thumb" ]] && ok "SAPPHIRE's Exchange POP and IMAP kept it" || not_ok "SAPPHIRE Exchange kept" "got $got"
got=$(listeners)
[[ $got == "$(owa_is "$thumb2" 2)" ]] && ok "COBALT's OWA listener got the renewal meanwhile (one more Save)" ||
	not_ok "COBALT got the renewal" "got  $got" "want $(owa_is "$thumb2" 2)"
got=$(state cobalt/state.json "s['reboot_count']")
[[ $got == 3 ]] && ok "COBALT rebooted for it" || not_ok "COBALT rebooted for it" "got $got"

# A reboot that never returns: COBALT lost the certificate (plan: import,
# reboot; the TMG script already ran for this certificate, as the state
# folder remembers) and stays away after the reboot; the apply fails on
# COBALT with a timeout (reboot_timeout 4s here) while SAPPHIRE, repaired,
# completes.
state_edit sapphire.json "s['services']['MSExchangeIMAP4'] = {'status': 'Running', 'restarts': 0}"
state_edit cobalt/state.json "s['store']['My'] = []"
echo 3 >cobalt.noreturn
sed 's/reboot_timeout: 20s/reboot_timeout: 4s/' certsync.yaml >short-reboot.yaml
start=$(date +%s)
expect_exit 1 "$CERTSYNC" apply -c short-reboot.yaml --yes
took=$(($(date +%s) - start))
expect_contains "$OUT" "FAILED .*reboot cobalt.*host cobalt: reboot: not back within 4s"
if grep -q "bind mail → cobalt script" <<<"$OUT"; then
	not_ok "the TMG script is not run again for the same certificate" "$OUT"
else
	ok "the TMG script is not run again for the same certificate"
fi
((took < 60)) && ok "the timeout ended the wait ($took s)" || not_ok "the timeout ended the wait" "took $took s"
got=$(state sapphire.json "[b for b in s['httpsys']['sslcert']][0]['certhash'].upper(), s['exchange']['services'].get('POP',''), s['exchange']['services'].get('IMAP','')")
[[ $got == "('$thumb2', '$thumb2', '$thumb2')" ]] && ok "SAPPHIRE unaffected: IIS, POP and IMAP on the renewal" ||
	not_ok "SAPPHIRE unaffected" "got $got"
got=$(listeners)
[[ $got == "$(owa_is "$thumb2" 2)" ]] && ok "OWA keeps the renewal, nothing saved" ||
	not_ok "OWA keeps the renewal, nothing saved" "got $got"
rm -f cobalt.noreturn
# COBALT is back (with a new boot time): the timed-out reboot counts as done.
expect_exit 0 "$CERTSYNC" plan -c certsync.yaml --detailed-exitcode

done_testing
