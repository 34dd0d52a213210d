#!/usr/bin/env bash
# The service recipes of docs/recipes.md against real servers on loopback:
# haproxy with a `pem` binding (soft reload, then the runtime API's
# `set ssl cert` + `commit ssl cert` without any reload), and dovecot IMAP
# checked through STARTTLS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)

for tool in haproxy dovecot socat; do
	command -v "$tool" >/dev/null || { not_ok "$tool is installed (scripts/install-deps.sh)"; done_testing; }
done
d=$TEST_TMP/site
make_ca "$d" ca
hport=$(free_port)
iport=$(free_port)
mkdir -p "$d/out" "$d/dovecot/run" "$d/dovecot/state"

# --- haproxy, pem file, soft reload -------------------------------------
cat >"$d/haproxy.cfg" <<CONF
global
    stats socket $d/haproxy.sock mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend tls
    bind 127.0.0.1:$hport ssl crt $d/out/web.pem
    http-request return status 200 content-type text/plain string ok
CONF
hap="haproxy -f $d/haproxy.cfg -D -p $d/haproxy.pid"
cleanup_add "kill \$(cat $d/haproxy.pid)"
hreload="if [ -s $d/haproxy.pid ]; then $hap -sf \$(cat $d/haproxy.pid); else $hap; fi"

# --- dovecot IMAP with STARTTLS -----------------------------------------
cat >"$d/dovecot/dovecot.conf" <<CONF
base_dir = $d/dovecot/run
state_dir = $d/dovecot/state
log_path = $d/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$d/out/mail-full.pem
ssl_key = <$d/out/mail.key
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $iport
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
dv="dovecot -c $d/dovecot/dovecot.conf"
cleanup_add "$dv stop"
dreload="if [ -s $d/dovecot/run/master.pid ]; then $dv reload; else $dv; fi"

cat >"$d/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    issuer: lab
    bindings:
      - { host: here, files: { pem: out/web.pem, reload: "$hreload" } }
    verify:
      - { connect: "127.0.0.1:$hport", ca_bundle: pki/ca.crt, timeout: 10s }
  mail:
    common_name: mail.test
    issuer: lab
    bindings:
      - { host: here, files: { fullchain: out/mail-full.pem, key: out/mail.key, reload: "$dreload" } }
    verify:
      - { connect: "127.0.0.1:$iport", starttls: imap, ca_bundle: pki/ca.crt, timeout: 10s }
YAML
cd "$d"
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "done +#[0-9]+ verify web at 127.0.0.1:$hport"
expect_contains "$OUT" "done +#[0-9]+ verify mail at 127.0.0.1:$iport with STARTTLS imap"
expect_exit 0 "$CERTSYNC" status
expect_contains "$OUT" "endpoint 127.0.0.1:$iport: in sync"
expect_contains "$OUT" "endpoint 127.0.0.1:$hport: in sync"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# Renew both (a new name each) and check the live services follow.
sed -i 's/common_name: web.test/&\n    dns_names: [web.test, www.web.test]/; s/common_name: mail.test/&\n    dns_names: [mail.test, imap.mail.test]/' certsync.yaml
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "Apply complete: 8 done, 0 failed"
serve_sans() { openssl s_client -connect "127.0.0.1:$1" "${@:2}" </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName; }
expect_contains "$(serve_sans "$hport" -servername web.test)" 'www.web.test'
expect_contains "$(serve_sans "$iport" -starttls imap)" 'imap.mail.test'

# haproxy's runtime API (examples/recipes/haproxy-set-ssl-cert.sh): the new
# certificate without a reload.
recipe=$src/examples/recipes/haproxy-set-ssl-cert.sh
pid_before=$(cat haproxy.pid)
sed -i "s#reload: \"if \[ -s [^\"]*haproxy[^\"]*\"#reload: \"sh $recipe $d/haproxy.sock $d/out/web.pem\"#" certsync.yaml
expect_contains certsync.yaml "reload: \"sh .*haproxy-set-ssl-cert.sh"
sed -i 's/www.web.test\]/www.web.test, api.web.test]/' certsync.yaml
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$(serve_sans "$hport" -servername web.test)" 'api.web.test'
[ "$(cat haproxy.pid)" = "$pid_before" ] && ok "runtime API: haproxy was not restarted" || not_ok "runtime API: haproxy was not restarted"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
done_testing
