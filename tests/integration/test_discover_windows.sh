#!/usr/bin/env bash
# certsync discover on Windows hosts, in the seed's shape
# (examples/iis-exchange-isa): SAPPHIRE with IIS and Exchange POP3/IMAP
# bound to one certificate, COBALT holding the same certificate in
# LocalMachine\My with an exportable key; both are WS-Management test
# servers (tests/winrm/).  An apply from a lab CA puts them in place;
# then from a config listing the hosts only: discover --adopt → validate →
# plan --detailed-exitcode exits 0 (one lineage across both hosts, the key
# exported from COBALT as a PFX; SAPPHIRE's IIS, Exchange, http.sys and RDP
# bindings found).  A second certificate on COBALT whose
# key is not exportable is said so and gets exactly one renewal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/winrm_lib.sh"

cd "$TEST_TMP" || exit 1
winrm_lib_init >init.out || { echo "1..0 # SKIP $(cat init.out)"; exit 0; }
mkdir -p sapphire.fs/C/Users/certsync/AppData/Local/Temp cobalt.fs/C/Users/certsync/AppData/Local/Temp
cat >sapphire.json <<'J'
{ "hostname": "SAPPHIRE",
  "iis": { "installed": true, "sites": [ { "name": "Default Web Site", "id": 1, "state": "Started",
           "bindings": [ { "protocol": "http", "bindingInformation": "*:80:", "sslFlags": 0 } ] } ] },
  "exchange": { "installed": true, "services": {} },
  "services": { "MSExchangePOP3": { "status": "Running", "restarts": 0 },
                "MSExchangeIMAP4": { "status": "Running", "restarts": 0 } } }
J
echo '{ "hostname": "COBALT" }' >cobalt.json
start() { # NAME
	winrm_start "$1" --user 'certsync:Pa55-w0rd' --auth basic || { echo "Bail out! the winrm server did not start"; exit 1; }
}
start sapphire
sport=$WINRM_PORT
start cobalt
cport=$WINRM_PORT
export WIN_PASSWORD='Pa55-w0rd'

mkdir -p pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout pki/ca.key \
	-out pki/ca.pem -days 400 -subj '/CN=Discover Lab CA' >/dev/null 2>&1
chmod 600 pki/ca.key
hosts() { # STATE-DIR
	cat <<EOF
version: 1
settings: { state_dir: $1 }
hosts:
  sapphire:
    platform: windows
    winrm: { address: 127.0.0.1, port: $sport, auth: basic, user: certsync,
             password: { env: WIN_PASSWORD }, ca_bundle: srv.crt }
  cobalt:
    platform: windows
    winrm: { address: 127.0.0.1, port: $cport, auth: basic, user: certsync,
             password: { env: WIN_PASSWORD }, ca_bundle: srv.crt }
EOF
}
setup() { # extra certificate sections
	hosts setup-state
	cat <<EOF
issuers:
  lab: { ca: { cert: pki/ca.pem, key: { file: pki/ca.key }, days: 200 } }
certificates:
  mail:
    common_name: mail.example.org
    dns_names: [mail.example.org, owa.example.org]
    issuer: lab
    bindings:
      - host: sapphire
        iis: { site: Default Web Site, port: 443 }
      - host: sapphire
        exchange: { services: [POP, IMAP] }
      - host: sapphire
        httpsys: { ipport: "0.0.0.0:8443" }
      - host: sapphire
        rdp: {}
      - host: cobalt
        store: { exportable: true }
EOF
	printf '%s\n' "$@"
}
setup >setup.yaml
expect_exit 0 "$CERTSYNC" apply -c setup.yaml --yes
hosts adopted >hosts.yaml

# --- discover → validate → plan: clean -------------------------------------
expect_exit 0 "$CERTSYNC" discover -c hosts.yaml --adopt -o found.yaml
sed 's/^/# /' found.yaml
expect_contains found.yaml 'iis: \{ site: "Default Web Site", port: 443 \}'
expect_contains found.yaml 'exchange: \{ services: \[POP, IMAP\] \}'
expect_contains found.yaml 'host: cobalt, store: \{ exportable: true \}'
expect_contains found.yaml 'host: sapphire, httpsys: \{ ipport: "0.0.0.0:8443", appid: "\{[0-9a-f-]+\}" \}'
expect_contains found.yaml 'host: sapphire, rdp: \{\} \}'
n=$(grep -c 'httpsys:' found.yaml)
[[ $n == 1 ]] && ok "IIS's own http.sys entry is not a second binding" || not_ok "IIS's own http.sys entry is not a second binding" "got $n"
n=$(sed -n '/^certificates:/,$p' found.yaml | grep -c '^  [a-z0-9].*:$')
[[ $n == 1 ]] && ok "one lineage for the certificate on both hosts" || not_ok "one lineage for the certificate on both hosts" "got $n"
expect_exit 0 "$CERTSYNC" validate -c found.yaml
expect_exit 0 "$CERTSYNC" plan -c found.yaml --detailed-exitcode

# --- a key that is not exportable: said so, one renewal --------------------
setup '  vpn:
    common_name: vpn.example.org
    issuer: lab
    bindings:
      - host: cobalt
        store: {}' >setup2.yaml
expect_exit 0 "$CERTSYNC" apply -c setup2.yaml --yes
hosts adopted2 >hosts2.yaml
expect_exit 0 "$CERTSYNC" discover -c hosts2.yaml --adopt -o found2.yaml
expect_contains "$OUT" "certificate vpn.example.org: its key could not be read \(its key in LocalMachine.My on cobalt is not exportable\)"
expect_exit 0 "$CERTSYNC" validate -c found2.yaml
expect_exit 2 "$CERTSYNC" plan -c found2.yaml --detailed-exitcode

expect_contains "$OUT" "renew vpn.example.org: "
expect_contains "$OUT" "Plan: 1 to renew, 0 to bind, 0 to reload, 0 to verify"
printf '%s\n' "$OUT" | sed 's/^/# /'
done_testing
