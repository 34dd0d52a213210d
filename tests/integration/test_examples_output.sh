#!/usr/bin/env bash
# Every example's output, byte for byte: examples/local, examples/acme
# (against Pebble) and examples/iis-exchange-isa (SAPPHIRE over WinRM with
# the WS-Management test server, COBALT over SSH with the PowerShell model,
# as test_windows_motivating.sh sets them up) run validate, plan,
# plan --format markdown, plan --json, apply --yes, plan again, status, calendar and
# metrics --no-probe with a pinned clock and NO_COLOR (the manual CA of
# iis-exchange-isa: apply writes the request, a CA with fixed dates signs
# it, then plan and apply again).  The output (stdout, stderr, exit status)
# is compared with tests/golden/examples/NAME/*.txt after
# golden_normalise.py replaced what differs from run to run (serials,
# thumbprints, SHA sums, PEM bodies, temporary folders, ports, durations;
# for Pebble, which follows the real clock, its dates) by tokens numbered in
# order of first appearance.  The CAs are made with fixed validity dates so
# that the pinned clock gives the same dates and "days left" every day.
# It guards restructurings that must not change behaviour (issue 10).
# examples/recipes holds a reload script, no config: nothing to run.
#
#   CERTSYNC_UPDATE_GOLDEN=1 bash tests/integration/test_examples_output.sh
# rewrites the golden files from this build instead of comparing; review
# the diff before committing it.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
src=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
golden=$src/tests/golden/examples
norm=$here/golden_normalise.py
export NO_COLOR=1
unset CERTSYNC_CONFIG
export LC_ALL=C.UTF-8 TZ=UTC

# fixed_ca DIR: DIR/ca.crt and DIR/ca.key (0600), a CA valid 2026-01-01 to
# 2046-01-01 whatever the real date, so that a pinned clock sees it valid.
# fixed_sign DIR CSR OUT EXT: DIR's CA signs CSR for 2026-11-01 to
# 2027-11-01 with the extensions EXT (openssl config lines).
_fixed_ca_cnf() {
	local d=$1 ext=$2
	cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $d/index.txt
new_certs_dir = $d/new
serial = $d/serial
default_md = sha256
policy = p
unique_subject = no
email_in_dn = no
[p]
commonName = supplied
[ext]
$ext
EOF
}
fixed_ca() {
	local d=$1
	mkdir -p "$d/new" && : >"$d/index.txt" && echo 1000 >"$d/serial"
	_fixed_ca_cnf "$d" $'basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash'
	(umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.csr" -subj "/CN=$2" 2>/dev/null) &&
		openssl ca -batch -config "$d/ca.cnf" -selfsign -keyfile "$d/ca.key" -in "$d/ca.csr" -out "$d/ca.crt" \
			-startdate 20260101000000Z -enddate 20460101000000Z -extensions ext -notext >/dev/null 2>&1
}
fixed_sign() {
	local d=$1
	_fixed_ca_cnf "$d" "$4"
	openssl ca -batch -config "$d/ca.cnf" -cert "$d/ca.crt" -keyfile "$d/ca.key" -in "$2" -out "$3" \
		-startdate 20261101000000Z -enddate 20271101000000Z -extensions ext -notext >/dev/null 2>&1
}

# step EX FILE ARGS...: run certsync ARGS here; FILE.txt in $TEST_TMP/raw/EX
# gets the command, its stdout, its stderr and its exit status.
step() {
	local ex=$1 file=$2 rc
	shift 2
	local f=$TEST_TMP/raw/$ex/$file.txt
	mkdir -p "$TEST_TMP/raw/$ex"
	"$CERTSYNC" "$@" >"$f.out" 2>"$f.err"
	rc=$?
	{
		printf '$ certsync %s\n' "$*"
		cat "$f.out"
		if [[ -s $f.err ]]; then
			printf -- '--- stderr\n'
			cat "$f.err"
		fi
		printf -- '--- exit %d\n' "$rc"
	} >"$f"
	rm -f "$f.out" "$f.err"
}

# compare EX [NORMALISE_OPTIONS...]: normalise the raw files of EX (in the
# order of their numbers, the order they were made) and compare them with (or, with
# CERTSYNC_UPDATE_GOLDEN=1, write them to) $golden/EX.
compare() {
	local ex=$1
	shift
	local out=$TEST_TMP/norm/$ex
	local raw=("$TEST_TMP/raw/$ex"/*.txt)
	[[ -f ${raw[0]} ]] || { not_ok "$ex: ran"; return; }
	python3 "$norm" "$out" --subst "$TEST_TMP=TMP" "$@" "${raw[@]}" ||
		{ not_ok "$ex: normalise"; return; }
	if [[ ${CERTSYNC_UPDATE_GOLDEN:-0} == 1 ]]; then
		rm -rf "${golden:?}/$ex" && mkdir -p "$golden/$ex" && cp "$out"/*.txt "$golden/$ex/" &&
			ok "$ex: golden files written to tests/golden/examples/$ex" ||
			not_ok "$ex: write golden files"
		return
	fi
	local f name d
	for f in "$out"/*.txt; do
		name=$(basename "$f")
		if [[ ! -f $golden/$ex/$name ]]; then
			not_ok "$ex/$name: has a golden file" "$(cat "$f")"
		elif d=$(diff -u --label "golden/$ex/$name" --label "now/$ex/$name" "$golden/$ex/$name" "$f"); then
			ok "$ex/$name: as before"
		else
			not_ok "$ex/$name: as before" "$d"
		fi
	done
	for f in "$golden/$ex"/*.txt; do
		[[ -f $out/$(basename "$f") ]] || not_ok "$ex/$(basename "$f"): still produced"
	done
}

# The normalisation itself: two serials stay two tokens, the same one (in
# either case, with or without its leading zero) stays one, a port only
# where it stands alone, deterministic text as it is.
mkdir -p "$TEST_TMP/self/raw"
printf '%s\n' "serial 0A1B2C3D4E5F6071 then 7F6E5D4C3B2A1908 in $TEST_TMP/x" \
	"again 0a1b2c3d4e5f6071, A1B2C3D4E5F6071; port 40123, 1400123, serial 1001" >"$TEST_TMP/self/raw/a.txt"
python3 "$norm" "$TEST_TMP/self/out" --subst "$TEST_TMP=TMP" --subst 40123=PORT "$TEST_TMP/self/raw/a.txt"
want=$'serial <HEX#1> then <HEX#2> in <TMP>/x\nagain <hex#1>, <HEX#1>; port <PORT>, 1400123, serial 1001'
got=$(cat "$TEST_TMP/self/out/a.txt" 2>/dev/null)
[[ $got == "$want" ]] && ok "the normalisation keeps different values apart and the rest verbatim" ||
	not_ok "the normalisation keeps different values apart and the rest verbatim" "got:" "$got" "want:" "$want"

# The usual run of an example in the current folder.
run_all() {
	local ex=$1
	shift
	step "$ex" 01-validate validate "$@"
	step "$ex" 02-plan plan "$@"
	step "$ex" 02b-plan-markdown plan --format markdown "$@"
	step "$ex" 03-plan-json plan --json "$@"
	step "$ex" 04-apply apply --yes "$@"
	step "$ex" 05-plan-again plan --detailed-exitcode "$@"
	step "$ex" 06-status status "$@"
	step "$ex" 07-calendar calendar "$@"
	step "$ex" 08-metrics metrics --no-probe "$@"
}

# The examples run in the background while the next one's servers start
# (Pebble, sshd and the WinRM server take most of the time); each has its
# own folder and its own pinned clock, and the comparisons come at the end.
jobs_bg=()

# --- examples/local: a local CA, files, a reload script -----------------------
d=$TEST_TMP/local
cp -r "$src/examples/local" "$d"
mkdir -p "$d/pki" "$d/out"
if fixed_ca "$TEST_TMP/local-ca" "certsync demo CA"; then
	cp "$TEST_TMP/local-ca/ca.crt" "$d/pki/ca.crt"
	(umask 077 && cp "$TEST_TMP/local-ca/ca.key" "$d/pki/ca.key")
	(cd "$d" && export CERTSYNC_NOW=2026-12-01T00:00:00Z && run_all local) &
	jobs_bg+=($!)
else
	not_ok "local: the demo CA"
fi

# --- examples/acme: Pebble, http-01 answered by certsync ------------------------
. "$here/pebble_lib.sh"
if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
elif ! pebble_start; then
	not_ok "pebble starts"
else
	# Pebble dates its certificates by the real clock: certsync's clock is
	# pinned to the real minute, and dates are tokens for this example.
	d=$TEST_TMP/acme
	cp -r "$src/examples/acme" "$d"
	mkdir -p "$d/pki" "$d/out"
	cp "$PEBBLE_TLS_CA" "$d/pki/pebble-tls-ca.pem"
	acme_port=${PEBBLE_DIR#https://127.0.0.1:}
	acme_port=${acme_port%%/*}
	sed -i "s#https://127.0.0.1:14000/dir#$PEBBLE_DIR#; s#\"127.0.0.1:5002\"#\"127.0.0.1:$PEBBLE_HTTP_PORT\"#" "$d/certsync.yaml"
	(cd "$d" && export CERTSYNC_NOW=$(($(date +%s) / 60 * 60)) && run_all acme) &
	jobs_bg+=($!)
	acme_compare() {
		# Pebble's serials have no fixed length: the one it issued is a literal.
		local serial
		serial=$(openssl x509 -in "$TEST_TMP/acme/out/web.crt" -noout -serial 2>/dev/null | sed 's/^serial=//')
		compare acme --subst "${serial:-no serial}=ACME_SERIAL" --subst "$(sed "s/^0*//" <<<"$serial")=ACME_SERIAL" --subst "$acme_port=PEBBLE_PORT" --subst "$PEBBLE_HTTP_PORT=HTTP01_PORT" --volatile-dates
	}
fi

# --- examples/iis-exchange-isa: WinRM + SSH, manual CA ------------------------
. "$here/ssh_lib.sh"
ex=$src/examples/iis-exchange-isa
PY=/usr/bin/python3
# finish: wait for the examples in the background, compare, end.
finish() {
	wait "${jobs_bg[@]}"
	[[ -d $TEST_TMP/raw/local ]] && compare local
	declare -F acme_compare >/dev/null && acme_compare
	[[ -d $TEST_TMP/raw/iis ]] && compare iis --subst "$src=SRC" --subst "$wport=WINRM_PORT" \
		--subst "${SSHD_PORT[cobalt]:-none}=SSH_PORT" --subst "$SSH_KNOWN_HOSTS=KNOWN_HOSTS" \
		--subst "$SSH_KEY=SSH_KEY" --keep "$old"
	done_testing
}
old=0123456789ABCDEF0123456789ABCDEF01234567
wport=none
if ! ssh_lib_init >"$TEST_TMP/ssh-init.out" 2>&1; then
	not_ok "iis-exchange-isa: ssh test hosts" "$(cat "$TEST_TMP/ssh-init.out")"
	finish
fi
export CERTSYNC_NOW=2026-12-01T00:00:00Z
d=$TEST_TMP/iis
mkdir -p "$d" && cd "$d" || exit 1
# SAPPHIRE: IIS and Exchange, WinRM over HTTPS with NTLM.
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
"$PY" "$src/tests/winrm/server.py" --https-port "$wport" --cert srv.crt --key srv.key \
	--user 'CORP\svc-certsync:S3cret!' --state sapphire.json --fs-root sapphire.fs \
	--ready-file ready.json --log winrm.log >server.out 2>&1 &
cleanup_add "kill $!"
export SAPPHIRE_PASSWORD='S3cret!'
# COBALT: the TMG firewall over OpenSSH, every command the PowerShell model;
# last year's certificate on the OWA listener.
mkdir -p cobalt/fs/C/Users/certsync-test/AppData/Local/Temp
cat >cobalt/state.json <<J
{ "hostname": "COBALT",
  "store": { "My": [ { "thumbprint": "$old", "subject": "CN=mail.example.org", "issuer": "CN=VeriSign test CA",
                       "serial": "01", "not_before": "2025-01-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z",
                       "dns_names": ["mail.example.org"], "has_private_key": true, "exportable": true,
                       "friendly_name": "" } ], "CA": [], "Root": [] },
  "tmg": { "installed": true, "save_count": 0,
           "arrays": [ { "name": "COBALT", "web_listeners": [
             { "name": "OWA", "applied_ssl_certificates": [ { "hash": "$old", "ip_address": "192.0.2.10" } ] } ] } ] } }
J
cat >pwsh-cobalt.sh <<EOF
#!/bin/sh
set -- \$SSH_ORIGINAL_COMMAND
shift
exec $PY $src/tests/winrm/pwsh.py --state $d/cobalt/state.json --fs-root $d/cobalt/fs \
	--hostname COBALT --user certsync-test -- "\$@"
EOF
chmod 755 pwsh-cobalt.sh
chown -R "$SSH_USER:" cobalt
SSHD_EXTRA="ForceCommand $d/pwsh-cobalt.sh" ssh_start cobalt || { not_ok "sshd for cobalt starts"; finish; }
ssh_known_line cobalt >>"$SSH_KNOWN_HOSTS"
wait_port "$wport" 15 || { not_ok "winrm test server starts" "$(cat server.out)"; finish; }
# The example's certificate section as shipped; the hosts are the stand-ins,
# the TMG script is the example's own, and verify goes (nothing serves TLS
# for mail.example.org here).
mkdir -p requests inbox
{
	cat <<EOF
version: 1
settings:
  parallelism: 1      # one host after the other: the order of "done" lines is fixed
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
# The manual flow: apply writes the CSR, the "commercial CA" signs it (fixed
# dates), the next plan imports and binds it everywhere.
step iis 01-validate validate
step iis 02-plan plan
step iis 03-plan-json plan --json
step iis 04-apply-csr apply --yes
step iis 05-status-waiting status
if fixed_ca "$d/ca" "VeriSign test CA" &&
	fixed_sign "$d/ca" requests/mail.csr inbox/mail.pem 'subjectAltName = DNS:mail.example.org, DNS:owa.example.org'; then
	step iis 06-plan-signed plan
	step iis 06b-plan-signed-markdown plan --format markdown
	step iis 07-plan-signed-json plan --json
	step iis 08-apply apply --yes
	step iis 09-plan-again plan --detailed-exitcode
	step iis 10-status status
	step iis 11-calendar calendar
	step iis 12-metrics metrics --no-probe
else
	not_ok "iis-exchange-isa: the CA signs the request"
fi
finish
