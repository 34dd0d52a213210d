#!/usr/bin/env bash
# A script binding's private folder (it holds the key, the certificate and
# the chain while the script runs) is named for the run,
# "$TMPDIR/certsync-TAG.XXXXXX", and removed by its shell's EXIT trap.
# When that shell is killed outright (SIGKILL of the whole process group,
# as a timer's stop or the OOM killer does), the trap never runs; the next
# apply must find the folder by the run's tag and remove it:
#   - on the local host (certsync and the script killed together);
#   - over SSH with become: sudo, where the folder is root's (certsync
#     killed, then the remote shell and script killed on the host).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

d=$TEST_TMP/site
make_ca "$d" ca
chmod 0755 "$TEST_TMP"
mkdir -p "$d/tmp" "$d/flags"
chmod 1777 "$d/flags"
hold=29.$$ # a sleep no other process on the machine has
# The script says it is running, then waits while the "hold" flag is there.
cat >"$d/deploy.sh" <<SH
touch $d/flags/running-\$CERTSYNC_HOST
if [ -e $d/flags/hold ]; then sleep $hold; fi
SH
cat >"$d/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - host: here
        script: { path: deploy.sh }
YAML
cd "$d" || exit 1

# start_held CONFIG HOST: apply in a process group of its own, returned
# once the script on HOST runs; its group id in $pgid.
start_held() {
	rm -f "$d/flags/running-$2"
	touch "$d/flags/hold"
	TMPDIR=$d/tmp setsid "$CERTSYNC" apply -c "$1" --yes >"$TEST_TMP/held.log" 2>&1 &
	pgid=$!
	for _ in $(seq 200); do
		[[ -e $d/flags/running-$2 ]] && return 0
		sleep 0.1
	done
	kill -9 -- -"$pgid" 2>/dev/null
	return 1
}

# folders_with_key DIR: the run folders under DIR that hold a key.
folders_with_key() {
	local f
	for f in "$1"/certsync-*.*/key.pem; do
		[[ -e $f ]] && dirname "$f"
	done
}

# Local host.
if start_held certsync.yaml here; then
	kill -9 -- -"$pgid"
	wait "$pgid" 2>/dev/null
	left=$(folders_with_key "$d/tmp")
	[[ $left =~ /certsync-[0-9a-f]{16}\.[A-Za-z0-9]{6}$ ]] &&
		ok "local: the killed script left its folder, named for the run" ||
		not_ok "local: the killed script left its folder, named for the run" "left: '$left' $(cat "$TEST_TMP/held.log")"
	rm -f "$d/flags/hold"
	TMPDIR=$d/tmp expect_exit 0 "$CERTSYNC" apply --yes
	expect_contains "$OUT" 'removed [0-9]+ temporary files? left by an apply that did not finish'
	[[ -n $left && ! -e $left ]] && ok "local: the next apply removed the folder with the key" ||
		not_ok "local: the next apply removed the folder with the key" "$(ls -la "$d/tmp")"
	[[ -z $(folders_with_key "$d/tmp") ]] && ok "local: no folder with a key is left" ||
		not_ok "local: no folder with a key is left" "$(folders_with_key "$d/tmp")"
	expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
else
	not_ok "local: the script started" "$(cat "$TEST_TMP/held.log")"
fi

# kill_chain: kill -9 the held sleep's shell and the shell above it (the
# one that holds the EXIT trap), then the sleep.
kill_chain() {
	local s p pp
	s=$(pgrep -f "^sleep $hold\$" | head -1)
	[[ -n $s ]] || return 1
	p=$(ps -o ppid= -p "$s" | tr -d ' ')
	pp=$(ps -o ppid= -p "$p" | tr -d ' ')
	kill -9 "$pp" "$p" "$s"
}

# Over SSH with become: sudo: the folder is root's, in root's /tmp.
if ssh_lib_init >"$TEST_TMP/init.out" 2>&1 && ssh_start box; then
	ssh_known_line box >>"$SSH_KNOWN_HOSTS"
	cat >remote.yaml <<YAML
version: 1
settings: { state_dir: remote-state }
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  box:
    platform: linux
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[box]}, user: $SSH_USER, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS, become: sudo }
certificates:
  web:
    common_name: web.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - host: box
        script: { path: deploy.sh }
YAML
	before=$(folders_with_key /tmp)
	if start_held remote.yaml box; then
		kill -9 -- -"$pgid"
		wait "$pgid" 2>/dev/null
		kill_chain || not_ok "ssh: the held script was found on the host"
		sleep 0.2
		left=$(comm -13 <(sort <<<"$before") <(folders_with_key /tmp | sort) | head -1)
		[[ $left =~ /certsync-[0-9a-f]{16}\.[A-Za-z0-9]{6}$ && $(stat -c %U "$left") == root ]] &&
			ok "ssh: the killed script left root's folder, named for the run" ||
			not_ok "ssh: the killed script left root's folder, named for the run" "left: '$left'"
		rm -f "$d/flags/hold"
		expect_exit 0 "$CERTSYNC" apply -c remote.yaml --yes
		expect_contains "$OUT" 'removed [0-9]+ temporary files? left by an apply that did not finish'
		[[ -n $left && ! -e $left ]] && ok "ssh: the next apply removed root's folder with the key" ||
			not_ok "ssh: the next apply removed root's folder with the key" "$left is still there"
		expect_exit 0 "$CERTSYNC" plan -c remote.yaml --detailed-exitcode
	else
		not_ok "ssh: the script started" "$(cat "$TEST_TMP/held.log")"
	fi
else
	echo "# ssh part skipped: $(cat "$TEST_TMP/init.out")"
fi

done_testing
