# tests/integration/fixtures.sh — building blocks for the local scenarios:
# a CA made with the openssl CLI and a config with a local host.
# shellcheck shell=bash

# make_ca DIR NAME: DIR/pki/NAME.crt and NAME.key (0600), as an operator would.
make_ca() {
	mkdir -p "$1/pki"
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/pki/$2.key" -out "$1/pki/$2.crt" -subj "/CN=$2 test CA" -days 3650 2>/dev/null)
}

# local_config DIR ISSUER_YAML RELOAD [EXTRA_CERT_YAML]: DIR/certsync.yaml with
# one certificate "web" bound to files under DIR/out on the local host.
local_config() {
	local dir=$1 issuer=$2 reload=$3 extra=${4:-}
	mkdir -p "$dir/out"
	cat >"$dir/certsync.yaml" <<YAML
version: 1
issuers:
  lab: $issuer
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    dns_names: [web.test, www.web.test]
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    remind_before: 7d
    bindings:
      - host: here
        files: { cert: out/web.crt, key: out/web.key, fullchain: out/web-full.pem, reload: "$reload" }
$extra
YAML
}

# local_ca_head DIR: DIR/pki/ca.crt and ca.key (make_ca), DIR/out, and
# DIR/certsync.yaml up to "certificates:", to be appended to: the state
# folder DIR/state, that CA as issuer "ca" (90 days), the local host "here".
local_ca_head() {
	mkdir -p "$1/out"
	make_ca "$1" ca || { not_ok "openssl makes a CA"; done_testing; exit 1; }
	cat >"$1/certsync.yaml" <<'YAML'
version: 1

settings:
  state_dir: state

issuers:
  ca:
    ca:
      cert: pki/ca.crt
      key: { file: pki/ca.key }
      days: 90

hosts:
  here:
    platform: linux
    local: {}

certificates:
YAML
}
