#!/usr/bin/env bash
# `reboot: after-change` when not every change went through (WinRM, the
# WS-Management test server as host FW):
#   - the import succeeds, the listener script fails → the reboot is skipped
#     (the failed change was put back: a reboot would be an outage for
#     nothing), the host is recorded as owing one, and apply says so;
#   - the next plan shows the reboot and why, even once the failing binding
#     is dropped from the config; apply reboots once; the plan is clean;
#   - a host rebooted by someone else has paid its debt: no reboot planned;
#   - a notifier on reboot_owed is told about the debt.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/winrm_lib.sh"

PY=$WINRM_PY
cd "$TEST_TMP" || exit 1
winrm_lib_init >init.out || { echo "1..0 # SKIP $(cat init.out)"; exit 0; }
mkdir -p fw.fs/C/Users/certsync/AppData/Local/Temp
echo '{ "hostname": "FW" }' >fw.json
winrm_start fw --user 'certsync:Pa55-w0rd' --auth basic --hostname FW --reboot-downtime 1 ||
	{ echo "Bail out! the winrm server did not start"; exit 1; }
wport=$WINRM_PORT
export FW_PASSWORD='Pa55-w0rd'

mkdir -p pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout pki/ca.key \
	-out pki/ca.pem -days 30 -subj '/CN=Owed Test CA' >/dev/null 2>&1
chmod 600 pki/ca.key
# The listener script fails the way a busy firewall service would.
printf '%s\n' "throw 'listener OWA is locked by another administrator'" >listener.ps1

printf '#!/bin/sh\ncat >"told-$CERTSYNC_EVENT.json"\n' >told.sh
chmod +x told.sh
write_config() { # CERT-SECTIONS...
	cat <<EOF
version: 1
settings: { state_dir: state }
notify:
  - { command: { path: told.sh }, on: [reboot_owed] }
issuers:
  lab: { ca: { cert: pki/ca.pem, key: { file: pki/ca.key }, days: 20 } }
hosts:
  fw:
    platform: windows
    winrm: { address: 127.0.0.1, port: $wport, auth: basic, user: certsync,
             password: { env: FW_PASSWORD }, ca_bundle: srv.crt }
    reboot: after-change
    reboot_timeout: 20s
certificates:
EOF
	printf '%s\n' "$@"
}
mail_store='  mail:
    common_name: owa.example.org
    issuer: lab
    renew_before: 5d
    bindings:
      - host: fw
        store: {}'
mail_script='      - host: fw
        script: { path: listener.ps1 }'
write_config "$mail_store" "$mail_script" >with-script.yaml
write_config "$mail_store" >without-script.yaml
state() { "$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# 1. The import goes through, the script fails: no reboot, a debt recorded.
expect_exit 1 "$CERTSYNC" apply -c with-script.yaml --yes
expect_contains "$OUT" "FAILED .*bind mail → fw script.*listener OWA is locked"
expect_contains "$OUT" "skipped .*reboot fw.*because bind #3 mail failed; import #2 \(mail\) waits for a reboot, which the next plan shows"
got=$(state fw.json "s.get('reboot_count', 0)")
[[ $got == 0 ]] && ok "FW not rebooted after the failed change" || not_ok "FW not rebooted after the failed change" "got $got"
[[ -f state/hosts/fw/reboot-owed.json ]] && ok "the debt is in the state folder" ||
	not_ok "the debt is in the state folder" "$(ls -R state)"
perm=$(stat -c %a state/hosts/fw/reboot-owed.json 2>/dev/null)
[[ $perm == 600 ]] && ok "the record is 0600" || not_ok "the record is 0600" "got $perm"
expect_contains "$(cat told-reboot_owed.json 2>/dev/null)" '"event": ?"reboot_owed".*"items": ?\[\{"host": ?"fw", ?"since": ?"[0-9T:Z-]+", ?"why": ?".+"\}\]'

# 2. The next plan: the script again, and the reboot with both reasons.
expect_exit 2 "$CERTSYNC" plan -c with-script.yaml --detailed-exitcode
expect_contains "$OUT" "bind mail → fw script"
expect_contains "$OUT" "reboot fw and wait until it is back"
expect_contains "$OUT" "reboot: after-change, and #1 changes it; it has not rebooted since changes of [0-9-]+ that wait for it \(import mail → fw: LocalMachine.My; the reboot was skipped because bind mail → fw script: listener.ps1 failed\)"

# status and metrics say so too.
expect_exit 0 "$CERTSYNC" status -c with-script.yaml
expect_contains "$OUT" "host fw owes a reboot since 20[0-9-]+T[0-9:]+Z: import mail → fw: LocalMachine.My; the reboot was skipped because bind mail → fw script: listener.ps1 failed \(the next apply reboots it\)"
expect_exit 0 "$CERTSYNC" status -c with-script.yaml --json
expect_contains "$OUT" '"reboot_owed": \{'
expect_exit 0 "$CERTSYNC" metrics -c with-script.yaml --no-probe
expect_contains "$OUT" '^certsync_host_reboot_owed_since_timestamp_seconds\{host="fw"\} [0-9]+$'

# 3. The operator gives up on the script: the reboot alone is still due.
expect_exit 2 "$CERTSYNC" plan -c without-script.yaml --detailed-exitcode
expect_contains "$OUT" "reboot fw and wait until it is back"
expect_contains "$OUT" "reboot: after-change, and it has not rebooted since changes of [0-9-]+ that wait for it"
expect_contains "$OUT" "1 to reboot"
expect_exit 0 "$CERTSYNC" plan -c without-script.yaml --json
expect_contains "$OUT" '"kind": *"reboot"'
expect_exit 0 "$CERTSYNC" apply -c without-script.yaml --yes
expect_contains "$OUT" "done .*reboot fw"
got=$(state fw.json "s.get('reboot_count', 0)")
[[ $got == 1 ]] && ok "FW rebooted once" || not_ok "FW rebooted once" "got $got"
[[ ! -e state/hosts/fw/reboot-owed.json ]] && ok "the debt is gone" || not_ok "the debt is gone"
expect_exit 0 "$CERTSYNC" plan -c without-script.yaml --detailed-exitcode
expect_exit 0 "$CERTSYNC" metrics -c without-script.yaml --no-probe
grep -q '^certsync_host_reboot_owed_since_timestamp_seconds{' <<<"$OUT" &&
	not_ok "no owed reboot in the metrics any more" || ok "no owed reboot in the metrics any more"

# 4. A second certificate on FW, its script failing again: a new debt ...
web='  web:
    common_name: www.example.org
    issuer: lab
    renew_before: 5d
    bindings:
      - host: fw
        store: {}'
web_script='      - host: fw
        script: { path: listener.ps1 }'
write_config "$mail_store" "$web" "$web_script" >web-script.yaml
write_config "$mail_store" "$web" >web.yaml
expect_exit 1 "$CERTSYNC" apply -c web-script.yaml --yes
expect_contains "$OUT" "skipped .*reboot fw.*import #2 \(web\) waits for a reboot"
# ... paid by someone rebooting FW by hand: the boot time moved on.
"$PY" - fw.json <<'PY'
import json, sys, datetime
s = json.load(open(sys.argv[1]))
s['boot_time'] = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
json.dump(s, open(sys.argv[1], 'w'))
PY
expect_exit 0 "$CERTSYNC" plan -c web.yaml --detailed-exitcode
expect_contains "$OUT" "^No changes"
got=$(state fw.json "s.get('reboot_count', 0)")
[[ $got == 1 ]] && ok "no reboot for a paid debt" || not_ok "no reboot for a paid debt" "got $got"

# 5. Cleanup alone: removing a superseded certificate nothing uses is no
#    reason to reboot (the import, which may be, was done long ago).
write_config "${mail_store/store: \{\}/store: { cleanup: true \}}" "$web" >cleanup.yaml
"$PY" - fw.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s['store']['My'].append({"thumbprint": "AB" * 20, "subject": "CN=owa.example.org", "issuer": "CN=Owed Test CA",
    "serial": "0A", "not_before": "2020-01-01T00:00:00Z", "not_after": "2021-01-01T00:00:00Z",
    "dns_names": ["owa.example.org"], "has_private_key": True, "exportable": False, "friendly_name": ""})
json.dump(s, open(sys.argv[1], 'w'))
PY
expect_exit 2 "$CERTSYNC" plan -c cleanup.yaml --detailed-exitcode
expect_contains "$OUT" "superseded certificate AB(AB)+ is still in LocalMachine"
grep -q "reboot fw" <<<"$OUT" && not_ok "no reboot planned for cleanup alone" "$OUT" || ok "no reboot planned for cleanup alone"
expect_exit 0 "$CERTSYNC" apply -c cleanup.yaml --yes
got=$(state fw.json "[c['thumbprint'] for c in s['store']['My']].count('AB' * 20), s.get('reboot_count', 0)")
[[ $got == "(0, 1)" ]] && ok "cleanup removed the old certificate without a reboot" ||
	not_ok "cleanup removed the old certificate without a reboot" "got $got"
expect_exit 0 "$CERTSYNC" plan -c cleanup.yaml --detailed-exitcode

# 6. Killed around the reboot (a certificate for the RDP listener, no
#    reload and no check to owe after the reboot):
rdp='  rdp:
    common_name: fw.example.org
    issuer: lab
    renew_before: 5d
    bindings:
      - { host: fw, rdp: {} }'
write_config "$mail_store" "$web" "$rdp" >rdp.yaml
backs() { grep -c 'reboot: back' fw.log; }
# wait_back N: until the host has come back from its Nth reboot.
wait_back() {
	local i
	for ((i = 0; i < 100; i++)); do
		(($(backs) >= $1)) && wait_port "$wport" 10 && return 0
		sleep 0.2
	done
	return 1
}
#  a. ... after the reboot's record, before the host is asked: the host did
#     not restart, so the rerun makes the changes and the reboot again.
expect_exit 137 env CERTSYNC_FAULT=reboot.intent "$CERTSYNC" apply -c rdp.yaml --yes
got=$(state fw.json "s.get('reboot_count', 0)")
[[ $got == 1 ]] && ok "killed before asking: FW not rebooted" || not_ok "killed before asking: FW not rebooted" "got $got"
expect_exit 2 "$CERTSYNC" plan -c rdp.yaml --detailed-exitcode
expect_contains "$OUT" "reboot: after-change, and #[0-9]+ changes it; it has not rebooted since changes of [0-9-]+ that wait for it \(.*the reboot was asked for by an apply that did not see the host come back\)"
expect_exit 0 "$CERTSYNC" apply -c rdp.yaml --yes
got=$(state fw.json "s.get('reboot_count', 0)")
[[ $got == 2 ]] && ok "the rerun rebooted FW once" || not_ok "the rerun rebooted FW once" "got $got"
expect_exit 0 "$CERTSYNC" plan -c rdp.yaml --detailed-exitcode
#  b. ... while FW restarts: the rerun sees the new boot time, so the
#     changes that waited for it are done: no second reboot, no change.
sed -i 's/common_name: fw.example.org/common_name: rdp.example.org/' rdp.yaml
n=$(backs)
expect_exit 137 env CERTSYNC_FAULT=reboot.asked "$CERTSYNC" apply -c rdp.yaml --yes
wait_back $((n + 1)) && ok "FW came back from the reboot the killed run asked for" ||
	not_ok "FW came back from the reboot the killed run asked for" "$(tail -n 5 fw.log)"
expect_contains "$(cat state/hosts/fw/reboot-owed.json)" '"run": *"[0-9a-f]{16}"'
expect_exit 0 "$CERTSYNC" plan -c rdp.yaml --detailed-exitcode
expect_contains "$OUT" "^No changes"
expect_exit 0 "$CERTSYNC" apply -c rdp.yaml --yes
got=$(state fw.json "s.get('reboot_count', 0)")
[[ $got == 3 ]] && ok "FW rebooted once for the killed run, not again" || not_ok "FW rebooted once for the killed run, not again" "got $got"
[[ ! -e state/hosts/fw/reboot-owed.json ]] && ok "the reboot's record is gone" ||
	not_ok "the reboot's record is gone" "$(cat state/hosts/fw/reboot-owed.json)"
grep -q '"run"' state/hosts/fw/unconfirmed.json 2>/dev/null && not_ok "no intent left" "$(cat state/hosts/fw/unconfirmed.json)" ||
	ok "no intent left"
expect_exit 0 "$CERTSYNC" plan -c rdp.yaml --detailed-exitcode

done_testing
