# tests/integration/pebble_lib.sh — a real ACME CA for the tests: Let's
# Encrypt's Pebble (Debian package `pebble`) on loopback, with
# pebble-challtestsrv as its DNS server, so Pebble really validates every
# challenge (no PEBBLE_VA_ALWAYS_VALID).
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/pebble_lib.sh"
#   pebble_start [CONFIG_EXTRA_JSON]     e.g. '"externalAccountBindingRequired": true, ...'
#
# After pebble_start:
#   PEBBLE_DIR          https://127.0.0.1:PORT/dir, the ACME directory
#   PEBBLE_TLS_CA       the CA that signed Pebble's own TLS certificate (the
#                       acme issuer's ca_bundle)
#   PEBBLE_ROOT         Pebble's issuing root, fetched from the management
#                       port on this start (it changes on every start)
#   PEBBLE_INTERMEDIATE its intermediate
#   PEBBLE_HTTP_PORT    where Pebble's VA connects for http-01: the tests'
#                       standalone responder or nginx listens here
#   CHALLTESTSRV_MGMT   http://127.0.0.1:PORT of challtestsrv's management API
# Every process started here is stopped by lib.sh's cleanup registry.
# Environment passed to Pebble: PEBBLE_WFE_NONCEREJECT, PEBBLE_ALTERNATE_ROOTS,
# PEBBLE_CHAIN_LENGTH when the caller sets them.
# shellcheck shell=bash

pebble_have() {
	command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1
}

# A CA of our own and a certificate for localhost/127.0.0.1 signed by it:
# Debian's Pebble ships no TLS certificate.
_pebble_tls() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$d/tls-ca.key" -out "$d/tls-ca.pem" -subj "/CN=pebble test tls ca" 2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/tls.key" -out "$d/tls.csr" -subj "/CN=localhost" 2>/dev/null || return 1
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/tls.ext"
	openssl x509 -req -in "$d/tls.csr" -CA "$d/tls-ca.pem" -CAkey "$d/tls-ca.key" -CAcreateserial \
		-days 2 -extfile "$d/tls.ext" -out "$d/tls.pem" 2>/dev/null || return 1
}

# challtestsrv_add_a NAME [IP]: NAME resolves to IP (127.0.0.1) for Pebble.
challtestsrv_add_a() {
	curl -sf -X POST -d "{\"host\":\"$1\",\"addresses\":[\"${2:-127.0.0.1}\"]}" "$CHALLTESTSRV_MGMT/add-a" >/dev/null
}

pebble_start() {
	local extra=${1:-}
	local d=$TEST_TMP/pebble
	_pebble_tls "$d" || { echo "# pebble: cannot make its TLS certificate" >&2; return 1; }
	local acme_port mgmt_port dns_port cts_mgmt_port tls_port
	acme_port=$(free_port)
	mgmt_port=$(free_port)
	dns_port=$(free_port)
	cts_mgmt_port=$(free_port)
	tls_port=$(free_port)
	PEBBLE_HTTP_PORT=${PEBBLE_HTTP_PORT:-$(free_port)}
	CHALLTESTSRV_MGMT=http://127.0.0.1:$cts_mgmt_port

	# challtestsrv as DNS only (its own challenge servers off): every A
	# query answers 127.0.0.1, never an address off this machine.
	pebble-challtestsrv -dns01 "127.0.0.1:$dns_port" -management "127.0.0.1:$cts_mgmt_port" \
		-defaultIPv4 127.0.0.1 -defaultIPv6 "" -http01 "" -https01 "" -tlsalpn01 "" \
		>"$d/challtestsrv.log" 2>&1 &
	local cts_pid=$!
	cleanup_add "kill $cts_pid; wait $cts_pid"
	wait_port "$cts_mgmt_port" 10 || { echo "# challtestsrv did not start" >&2; cat "$d/challtestsrv.log" >&2; return 1; }

	cat >"$d/pebble.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:$acme_port",
    "managementListenAddress": "127.0.0.1:$mgmt_port",
    "certificate": "$d/tls.pem",
    "privateKey": "$d/tls.key",
    "httpPort": $PEBBLE_HTTP_PORT,
    "tlsPort": $tls_port,
    "ocspResponderURL": ""${extra:+,
    $extra}
  }
}
JSON
	PEBBLE_VA_NOSLEEP=1 pebble -config "$d/pebble.json" -dnsserver "127.0.0.1:$dns_port" \
		>"$d/pebble.log" 2>&1 &
	local pebble_pid=$!
	cleanup_add "kill $pebble_pid; wait $pebble_pid"
	wait_port "$acme_port" 20 && wait_port "$mgmt_port" 10 ||
		{ echo "# pebble did not start" >&2; cat "$d/pebble.log" >&2; return 1; }

	PEBBLE_DIR=https://127.0.0.1:$acme_port/dir
	PEBBLE_TLS_CA=$d/tls-ca.pem
	PEBBLE_ROOT=$d/root.pem
	PEBBLE_INTERMEDIATE=$d/intermediate.pem
	PEBBLE_MGMT=https://127.0.0.1:$mgmt_port
	PEBBLE_LOG=$d/pebble.log
	curl -sf --cacert "$PEBBLE_TLS_CA" "$PEBBLE_MGMT/roots/0" -o "$PEBBLE_ROOT" &&
		curl -sf --cacert "$PEBBLE_TLS_CA" "$PEBBLE_MGMT/intermediates/0" -o "$PEBBLE_INTERMEDIATE" ||
		{ echo "# cannot fetch pebble's root" >&2; return 1; }
	export PEBBLE_DIR PEBBLE_TLS_CA PEBBLE_ROOT PEBBLE_INTERMEDIATE PEBBLE_HTTP_PORT CHALLTESTSRV_MGMT PEBBLE_MGMT PEBBLE_LOG
}

# acme_config DIR CHALLENGE_YAML [ISSUER_EXTRA_YAML] [NAMES]: DIR/certsync.yaml
# with one certificate "web" (names web.test, www.web.test by default) from
# an acme issuer "pebble" at $PEBBLE_DIR, bound to files in DIR/out.
acme_config() {
	local dir=$1 challenge=$2 extra=${3:-} names=${4:-"web.test, www.web.test"}
	mkdir -p "$dir/out" "$dir/pki"
	cp "$PEBBLE_TLS_CA" "$dir/pki/pebble-tls-ca.pem"
	cat >"$dir/certsync.yaml" <<YAML
version: 1
issuers:
  pebble:
    acme:
      directory: $PEBBLE_DIR
      contact: [mailto:ops@web.test]
      ca_bundle: pki/pebble-tls-ca.pem
      challenge: $challenge
$extra
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    dns_names: [$names]
    key: { type: ecdsa, curve: p256 }
    issuer: pebble
    bindings:
      - { host: here, files: { cert: $dir/out/web.crt, key: $dir/out/web.key, chain: $dir/out/chain.pem,
                               fullchain: $dir/out/full.pem } }
YAML
}
