#!/usr/bin/env bash
# Windows over WinRM (the WS-Management test server as host FW), then over
# SSH (host COBALT: an sshd whose every command is the PowerShell model): an
# apply killed while it imports leaves a run record naming the host; the
# next apply removes that run's PFX files from the host's temp folder (a
# PowerShell that died mid-import leaves one: planted here, as the model's
# PowerShell always finishes) and nothing else — not another run's, not one
# without a run tag — and converges.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ssh_lib.sh"

. "$(dirname "$0")/winrm_lib.sh"

root=$_lib_root
PY=$WINRM_PY
cd "$TEST_TMP" || exit 1
winrm_lib_init >init.out || { echo "1..0 # SKIP $(cat init.out)"; exit 0; }
temp=fw.fs/C/Users/certsync/AppData/Local/Temp
mkdir -p "$temp"
echo '{ "hostname": "FW" }' >fw.json
winrm_start fw --user 'certsync:Pa55-w0rd' --auth basic --hostname FW || { echo "Bail out! the winrm server did not start"; exit 1; }
wport=$WINRM_PORT
export FW_PASSWORD='Pa55-w0rd'

mkdir -p pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout pki/ca.key \
	-out pki/ca.pem -days 30 -subj '/CN=Crash Test CA' >/dev/null 2>&1
chmod 600 pki/ca.key
cat >certsync.yaml <<YAML
version: 1
settings: { state_dir: state }
issuers:
  lab: { ca: { cert: pki/ca.pem, key: { file: pki/ca.key }, days: 90 } }
hosts:
  fw:
    platform: windows
    winrm: { address: 127.0.0.1, port: $wport, auth: basic, user: certsync,
             password: { env: FW_PASSWORD }, ca_bundle: srv.crt }
certificates:
  mail:
    common_name: owa.example.org
    issuer: lab
    bindings:
      - { host: fw, store: {} }
YAML

# kill_and_recover LABEL TEMP [OWNER]: in the current folder (config and
# state), kill an apply before its import, plant a PFX of that run, one of
# another run and one without a run tag in the host's temp folder TEMP
# (owned by OWNER), and check that the next apply removes just the first.
kill_and_recover() {
	local label=$1 temp=$2 owner=${3:-} f
	local pfx=5d41402abc4b2a76b9719d911017c592.pfx other=0123456789abcdef
	CERTSYNC_FAULT=import.intent "$CERTSYNC" apply --yes >killed.log 2>&1
	local rc=$?
	((rc == 137)) && ok "$label: apply killed before the import" ||
		not_ok "$label: apply killed before the import" "exit $rc" "$(cat killed.log)"
	local killed
	killed=$(basename "$(ls state/runs/*.json 2>/dev/null | head -n 1)" .json)
	[[ $killed =~ ^[0-9a-f]{16}$ ]] && ok "$label: the killed run's record is in the state folder" ||
		not_ok "$label: the killed run's record is in the state folder" "$(ls -R state)"
	for f in "certsync-$killed-$pfx" "certsync-$other-$pfx" "certsync-$pfx"; do
		echo pfx >"$temp/$f"
		[[ -z $owner ]] || chown "$owner:" "$temp/$f"
	done

	expect_exit 0 "$CERTSYNC" apply --yes
	expect_contains "$OUT" 'removed 1 temporary file left by an apply that did not finish'
	[[ ! -e $temp/certsync-$killed-$pfx ]] && ok "$label: the killed run's PFX is removed" ||
		not_ok "$label: the killed run's PFX is removed" "$(ls -a "$temp")"
	[[ -e $temp/certsync-$other-$pfx && -e $temp/certsync-$pfx ]] && ok "$label: other files stay" ||
		not_ok "$label: other files stay" "$(ls -a "$temp")"
	[[ -z $(ls state/runs 2>/dev/null) ]] && ok "$label: no run record left" ||
		not_ok "$label: no run record left" "$(ls state/runs)"
	local summary
	summary=$(grep '"type":"apply"' state/journal.jsonl | tail -n 1)
	[[ $(jq .recovered <<<"$summary") == 1 ]] && ok "$label: the summary counts the removed file" ||
		not_ok "$label: the summary counts the removed file" "$summary"
	expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
	[[ $(ls "$temp" | grep -c .) == 2 ]] && ok "$label: the apply itself left nothing in the temp folder" ||
		not_ok "$label: the apply itself left nothing in the temp folder" "$(ls -a "$temp")"
}
kill_and_recover winrm "$temp"

# --- the same over SSH -----------------------------------------------------------
if ! ssh_lib_init >ssh-init.out 2>&1; then
	echo "# SKIP the SSH part: $(cat ssh-init.out)"
	done_testing
fi
cobalt_temp=cobalt/fs/C/Users/$SSH_USER/AppData/Local/Temp
mkdir -p "$cobalt_temp"
echo '{ "hostname": "COBALT" }' >cobalt/state.json
cat >pwsh-cobalt.sh <<EOF
#!/bin/sh
# sshd ForceCommand: "powershell.exe <args>" runs in the model of COBALT.
set -- \$SSH_ORIGINAL_COMMAND
shift
exec $PY $root/tests/winrm/pwsh.py --state $TEST_TMP/cobalt/state.json --fs-root $TEST_TMP/cobalt/fs \
	--hostname COBALT --user $SSH_USER -- "\$@"
EOF
chmod 755 pwsh-cobalt.sh
chown -R "$SSH_USER:" cobalt
SSHD_EXTRA="ForceCommand $TEST_TMP/pwsh-cobalt.sh" ssh_start cobalt || { echo "Bail out! sshd"; exit 1; }
ssh_known_line cobalt >>"$SSH_KNOWN_HOSTS"
mkdir -p ssh && cd ssh || exit 1
cat >certsync.yaml <<YAML
version: 1
settings: { state_dir: state }
issuers:
  lab: { ca: { cert: ../pki/ca.pem, key: { file: ../pki/ca.key }, days: 90 } }
hosts:
  cobalt:
    platform: windows
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[cobalt]}, user: $SSH_USER, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS }
certificates:
  mail:
    common_name: owa.example.org
    issuer: lab
    bindings:
      - { host: cobalt, store: {} }
YAML
kill_and_recover ssh "../$cobalt_temp" "$SSH_USER"

done_testing
