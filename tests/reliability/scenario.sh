# tests/reliability/scenario.sh — the fault-injection matrix's scenario:
# three hosts of the three kinds certsync talks to, two issuers, four
# certificates spread over them, a snapshot taken after a first apply, and
# a reset to that snapshot that makes every trial start from the same
# place.  Sourced by fault-matrix.sh after tests/integration/lib.sh,
# ssh_lib.sh and pebble_lib.sh.
#
#   here  local host: files bindings, reload = reload.sh (takes ~1 s, logs
#         the serials the "service" loaded), certificates site and api
#   web   SSH host (real sshd, the non-root test user, no become): the
#         same, in a folder the user owns, with its own reload.sh
#   win   WinRM host (tests/winrm/server.py, NTLM over HTTPS):
#         certificate win in LocalMachine\My and on IIS port 443,
#         certificate winacme on IIS port 8443; reboot: after-change
#   lab   local CA (site, win);  pebble  ACME, http-01 standalone (api,
#         winacme)
#
# The snapshot is the state after `apply` with ecdsa p256 keys; the trial
# config asks for p384, so every certificate renews, every binding changes
# from a certificate to its successor and every host owes its reload or
# reboot.  Pebble keeps running across trials (its issuances are counted
# from its log); everything else is copied back from the snapshot.
# shellcheck shell=bash

# Lineages and where their issuances are counted.
SC_CERTS=(site api win winacme)
declare -A SC_ISSUER=([site]=lab [api]=pebble [win]=lab [winacme]=pebble)
declare -A SC_CN=([site]=site.test [api]=api.test [win]=win.test [winacme]=winacme.test)
# Host kinds: the config's host name, and the --target that confines a
# killed run to it ("all": every host at once).
SC_KINDS=(local ssh winrm all)
declare -A SC_TARGET=([local]=host=here [ssh]=host=web [winrm]=host=win [all]=)

SC_PY=/usr/bin/python3

# sc_log MSG: progress on stderr.
sc_log() {
	echo "# $*" >&2
}

# The reload "service" of a Linux host: reads the certificates it serves
# (in DIR), takes about a second, then logs one line per run:
#   TIME pid=PID site=SERIAL api=SERIAL
# under a lock (the harness waits on it before it resets the scenario, so
# a reload orphaned by a killed certsync finishes first).
_sc_reload_script() { # DIR SITE_FILE API_FILE
	cat <<EOF
#!/bin/sh
# Test service for the fault matrix: "loads" the certificates, logs them.
exec 9>>$1/reload.lock
flock 9
serial() { openssl x509 -noout -serial -in "\$1" 2>/dev/null | sed 's/^serial=//'; }
site=\$(serial $1/$2)
api=\$(serial $1/$3)
sleep 1
echo "\$(date +%s.%N) pid=\$\$ site=\${site:-none} api=\${api:-none}" >>$1/reload.log
EOF
}

# sc_config KEY_LINE: the config on stdout.
_sc_config() {
	local key=$1
	cat <<EOF
version: 1
settings: { parallelism: 4 }
issuers:
  lab:
    ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 }
  pebble:
    acme:
      directory: $PEBBLE_DIR
      contact: [mailto:ops@matrix.test]
      ca_bundle: pki/pebble-tls-ca.pem
      challenge: { http-01: { standalone: "127.0.0.1:$PEBBLE_HTTP_PORT" } }
hosts:
  here: { platform: linux, local: {} }
  web:
    platform: linux
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[web]}, user: $SSH_USER, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS }
  win:
    platform: windows
    winrm: { address: 127.0.0.1, port: $SC_WIN_PORT, auth: ntlm, user: 'CORP\\svc-certsync',
             password: { env: MATRIX_WIN_PASSWORD }, ca_bundle: pki/winrm.crt }
    reboot: after-change
    reboot_timeout: 30s
certificates:
  site:
    common_name: site.test
    key: $key
    issuer: lab
    bindings:
      - host: here
        files: { cert: $SC_LOCAL/site.crt, key: $SC_LOCAL/site.key, fullchain: $SC_LOCAL/site-full.pem,
                 reload: "sh $SC_LOCAL/reload.sh" }
      - host: web
        files: { fullchain: $SC_SSH/site-full.pem, key: $SC_SSH/site.key, reload: "sh $SC_SSH/reload.sh" }
  api:
    common_name: api.test
    key: $key
    issuer: pebble
    bindings:
      - host: here
        files: { fullchain: $SC_LOCAL/api-full.pem, key: $SC_LOCAL/api.key, reload: "sh $SC_LOCAL/reload.sh" }
      - host: web
        files: { cert: $SC_SSH/api.crt, key: $SC_SSH/api.key, chain: $SC_SSH/api-chain.pem,
                 reload: "sh $SC_SSH/reload.sh" }
  win:
    common_name: win.test
    key: $key
    issuer: lab
    bindings:
      - { host: win, store: {} }
      - { host: win, iis: { site: Default Web Site, port: 443 } }
  winacme:
    common_name: winacme.test
    key: $key
    issuer: pebble
    bindings:
      - { host: win, iis: { site: Default Web Site, port: 8443 } }
EOF
}

# The declared key files (allowed to hold keys), per host folder.
SC_LOCAL_KEYS=(site.key api.key)
SC_SSH_KEYS=(site.key api.key)

# sc_win_start: (re)start the WS-Management server on $SC_WIN_PORT.
sc_win_start() {
	"$SC_PY" "$SC_ROOT/tests/winrm/server.py" --https-port "$SC_WIN_PORT" --cert "$SC_DIR/win/srv.crt" \
		--key "$SC_DIR/win/srv.key" --user 'CORP\svc-certsync:M4trix!' --state "$SC_DIR/win/state.json" \
		--fs-root "$SC_DIR/win/fs" --reboot-downtime 0.5 --log "$SC_DIR/win/winrm.log" \
		>>"$SC_DIR/win/server.out" 2>&1 &
	SC_WIN_PID=$!
	wait_port "$SC_WIN_PORT" 15 || { sc_log "winrm server: $(tail -n 5 "$SC_DIR/win/server.out")"; return 1; }
}

sc_win_stop() {
	[[ -n ${SC_WIN_PID:-} ]] || return 0
	kill "$SC_WIN_PID" 2>/dev/null
	wait "$SC_WIN_PID" 2>/dev/null
	SC_WIN_PID=
	# The port is free again before the next start.
	local i
	for ((i = 0; i < 50; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$SC_WIN_PORT") 2>/dev/null || return 0
		sleep 0.1
	done
}

# sc_setup: build the scenario under $TEST_TMP/scenario, run the seed apply
# and take the snapshot.  Status 1 with a reason on stderr when a part
# cannot start.
sc_setup() {
	SC_ROOT=$_lib_root
	SC_DIR=$TEST_TMP/scenario
	SC_CFG=$SC_DIR/cfg
	SC_STATE=$SC_CFG/.certsync
	SC_LOCAL=$SC_DIR/local
	SC_TMP=$SC_DIR/tmp             # certsync's TMPDIR
	mkdir -p "$SC_CFG/pki" "$SC_LOCAL" "$SC_TMP" "$SC_DIR/win/fs" "$SC_DIR/snap" || return 1
	chmod 711 "$SC_DIR" "$SC_CFG"

	# --- issuers ---
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$SC_CFG/pki/ca.key" -out "$SC_CFG/pki/ca.crt" -subj "/CN=matrix test CA" -days 3650 2>/dev/null) ||
		return 1
	export PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-0} PEBBLE_AUTHZREUSE=${PEBBLE_AUTHZREUSE:-0}
	pebble_start || return 1
	cp "$PEBBLE_TLS_CA" "$SC_CFG/pki/pebble-tls-ca.pem"

	# --- the SSH host: its folder owned by the test user, its temp folder
	# a private one (searched for leftovers) ---
	SC_SSH=$SSH_FILES/web
	SC_SSH_TMP=$SSH_FILES/tmp
	mkdir -p "$SC_SSH" "$SC_SSH_TMP"
	_sc_reload_script "$SC_SSH" site-full.pem api.crt >"$SC_SSH/reload.sh"
	: >"$SC_SSH/reload.log"
	chown -R "$SSH_USER:" "$SSH_FILES"
	chmod 700 "$SC_SSH_TMP"
	SSHD_EXTRA="SetEnv TMPDIR=$SC_SSH_TMP" ssh_start web || return 1
	ssh_known_line web >>"$SSH_KNOWN_HOSTS"

	# --- the local host ---
	_sc_reload_script "$SC_LOCAL" site.crt api-full.pem >"$SC_LOCAL/reload.sh"
	: >"$SC_LOCAL/reload.log"

	# --- the Windows host ---
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$SC_DIR/win/srv.key" -out "$SC_DIR/win/srv.crt" -days 2 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 || return 1
	cp "$SC_DIR/win/srv.crt" "$SC_CFG/pki/winrm.crt"
	mkdir -p "$SC_DIR/win/fs/C/Users/svc-certsync/AppData/Local/Temp" "$SC_DIR/win/fs/C/Windows/Temp"
	cat >"$SC_DIR/win/state.json" <<'J'
{ "hostname": "WIN",
  "iis": { "installed": true, "sites": [ { "name": "Default Web Site", "id": 1, "state": "Started",
           "bindings": [ { "protocol": "http", "bindingInformation": "*:80:", "sslFlags": 0 } ] } ] } }
J
	SC_WIN_PORT=$(free_port)
	export MATRIX_WIN_PASSWORD='M4trix!'
	sc_win_start || return 1
	cleanup_add "sc_win_stop"

	# --- configs, seed apply, snapshot ---
	_sc_config "{ type: ecdsa, curve: p256 }" >"$SC_CFG/seed.yaml"
	_sc_config "{ type: ecdsa, curve: p384 }" >"$SC_CFG/certsync.yaml"
	local out=$SC_DIR/seed.out
	if ! (cd "$SC_CFG" && TMPDIR=$SC_TMP "$CERTSYNC" apply -c seed.yaml --yes) >"$out" 2>&1; then
		sc_log "seed apply failed:"
		sed 's/^/#   /' "$out" >&2
		return 1
	fi
	if ! (cd "$SC_CFG" && "$CERTSYNC" plan -c seed.yaml --detailed-exitcode) >"$out.plan" 2>&1; then
		sc_log "seed plan not clean:"
		sed 's/^/#   /' "$out.plan" >&2
		return 1
	fi
	sc_wait_quiet
	sc_snapshot
}

# sc_wait_quiet: wait until no reload started by a (killed) run is still
# going, and the Windows host is not in the middle of a reboot.
sc_wait_quiet() {
	flock "$SC_LOCAL/reload.lock" true 2>/dev/null
	flock "$SC_SSH/reload.lock" true 2>/dev/null
	sc_wait_reboot
}

# sc_wait_reboot: when a (killed) run asked the Windows host to reboot,
# wait until it is back.  The model takes the request when the command
# ends and goes down reboot_delay (0.5 s) later, so look after 0.8 s: a
# request still pending (pending_reboot) or a "going down" with no "back"
# after it.  An operator does not rerun apply against a host that is in
# the middle of rebooting (it would be a plain "cannot connect").
sc_wait_reboot() {
	local i downs backs pending
	sleep 0.8
	for ((i = 0; i < 150; i++)); do
		downs=$(grep -c 'reboot: going down' "$SC_DIR/win/winrm.log" 2>/dev/null)
		backs=$(grep -c 'reboot: back' "$SC_DIR/win/winrm.log" 2>/dev/null)
		pending=$(grep -c '"pending_reboot": true' "$SC_DIR/win/state.json" 2>/dev/null)
		((${downs:-0} <= ${backs:-0} && ${pending:-0} == 0)) &&
			(exec 3<>"/dev/tcp/127.0.0.1/$SC_WIN_PORT") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

sc_snapshot() {
	local s=$SC_DIR/snap
	rm -rf "$s"
	mkdir -p "$s"
	cp -a "$SC_STATE" "$s/state"
	cp -a "$SC_LOCAL" "$s/local"
	cp -a "$SC_SSH" "$s/ssh"
	cp -a "$SC_DIR/win/state.json" "$s/win-state.json"
	cp -a "$SC_DIR/win/fs" "$s/win-fs"
	sc_state_serials >"$s/serials"
	sc_reboot_count >"$s/reboots"
}

# sc_reset: back to the snapshot (the Windows server restarted on it, so
# nothing a killed run left in its memory carries over).
sc_reset() {
	local s=$SC_DIR/snap
	sc_wait_quiet
	sc_win_stop
	rm -rf "$SC_STATE" "$SC_LOCAL" "$SC_SSH" "$SC_DIR/win/fs" "$SC_TMP"
	cp -a "$s/state" "$SC_STATE"
	cp -a "$s/local" "$SC_LOCAL"
	cp -a "$s/ssh" "$SC_SSH"
	cp -a "$s/win-state.json" "$SC_DIR/win/state.json"
	cp -a "$s/win-fs" "$SC_DIR/win/fs"
	mkdir -p "$SC_TMP"
	find "$SC_SSH_TMP" -mindepth 1 -delete 2>/dev/null
	: >"$SC_DIR/win/winrm.log"
	sc_win_start
}

# --- what the checks read -------------------------------------------------

# sc_state_serials: "CERT SERIAL" for every certificate the state folder
# has held (current and archive) and every serial in an issuance ledger.
sc_state_serials() {
	"$SC_PY" "$SC_ROOT/tests/reliability/matrix_tool.py" serials "$SC_STATE" "${SC_CERTS[@]}"
}

sc_reboot_count() {
	"$SC_PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("reboot_count", 0))' "$SC_DIR/win/state.json" 2>/dev/null ||
		echo 0
}

# sc_facts MARK: what a trial's checks read, in one process (matrix_tool.py
# facts): the state's serials, Pebble's issuances since MARK, the serial in
# each Linux binding's certificate file, the Windows host's reboot count.
sc_facts() {
	local c pairs=()
	for c in "${SC_CERTS[@]}"; do
		pairs+=("$c=${SC_CN[$c]}")
	done
	"$SC_PY" "$SC_ROOT/tests/reliability/matrix_tool.py" facts "$SC_STATE" "$PEBBLE_LOG" "$1" "$PEBBLE_MGMT" \
		"$PEBBLE_TLS_CA" "$SC_DIR/win/state.json" "$(IFS=,; echo "${SC_CERTS[*]}")" "$(IFS=,; echo "${pairs[*]}")" \
		"$SC_LOCAL/site.crt" "$SC_LOCAL/api-full.pem" "$SC_SSH/site-full.pem" "$SC_SSH/api.crt"
}

# sc_pebble_mark: where Pebble's log is now (issuances after it count).
sc_pebble_mark() {
	wc -l <"$PEBBLE_LOG"
}
