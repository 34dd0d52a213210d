#!/usr/bin/env bash
# verify against a real nginx on loopback: after apply the live endpoint
# presents the new certificate; when the new certificate is not what nginx
# serves after the reload (a reload that does not reload, or a files mapping
# that swaps key and certificate), verify fails, the previous files go back,
# the reload runs again, and nginx still serves the previous certificate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

command -v nginx >/dev/null || { not_ok "nginx is installed (scripts/install-deps.sh)"; done_testing; }
d=$TEST_TMP/site
make_ca "$d" ca
port=$(free_port)
mkdir -p "$d/nginx/logs" "$d/nginx/tmp"
cat >"$d/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $d/nginx/tmp; proxy_temp_path $d/nginx/tmp;
    fastcgi_temp_path $d/nginx/tmp; uwsgi_temp_path $d/nginx/tmp; scgi_temp_path $d/nginx/tmp;
    server {
        listen 127.0.0.1:$port ssl;
        server_name web.test;
        ssl_certificate $d/out/web-full.pem;
        ssl_certificate_key $d/out/web.key;
        location / { return 200 "ok\n"; }
    }
}
CONF
ngx="nginx -p $d/nginx -c $d/nginx/nginx.conf"
cleanup_add "$ngx -s stop"
# Reload when running, start otherwise: the first apply brings the service up.
reload="if [ -s $d/nginx/nginx.pid ]; then $ngx -s reload; else $ngx; fi"
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' "$reload" \
"    verify:
      - { connect: \"127.0.0.1:$port\", ca_bundle: pki/ca.crt, timeout: 10s }"
cd "$d"

served() { openssl s_client -connect "127.0.0.1:$port" -servername web.test </dev/null 2>/dev/null \
	| openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :; }

expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "verify web at 127.0.0.1:$port \\(SNI web.test\\)"
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "done +#4 verify web .*presents serial"
[ "$(served)" = "$(fp out/web.crt)" ] && ok "nginx serves the new certificate" || not_ok "nginx serves the new certificate"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_exit 0 "$CERTSYNC" status
expect_contains "$OUT" "endpoint 127.0.0.1:$port: in sync \\(serial $(openssl x509 -in out/web.crt -noout -serial | cut -d= -f2 | sed 's/^0*//')\\)"
old=$(fp out/web.crt)
cp out/web.crt old.crt

# 1. A reload command that does not reload: nginx keeps the old certificate.
sed -i 's/www.web.test\]/www.web.test, a.web.test]/' certsync.yaml
sed -i "s#reload: \".*\"#reload: \"true\"#" certsync.yaml
sed -i 's/timeout: 10s/timeout: 2s/' certsync.yaml
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "FAILED +#.*verify web.*presents .*serial"
expect_contains "$OUT" "rollback .*put back"
expect_contains "$OUT" "rollback .*serves the previous certificate again \\(serial"
cmp -s old.crt out/web.crt && ok "previous certificate file is back" || not_ok "previous certificate file is back"
[ "$(served)" = "$old" ] && ok "nginx still serves the previous certificate" || not_ok "nginx still serves the previous certificate"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "0 to renew, 1 to bind"
expect_exit 0 "$CERTSYNC" status --json
expect_contains "$OUT" '"state": "drifted"'
expect_exit 0 "$CERTSYNC" status
expect_contains "$OUT" "endpoint 127.0.0.1:$port: drifted \\(serial [0-9A-F]+: presents another certificate than the current one\\)$"

# 2. Key and certificate swapped by the mapping (the renewed certificate is
#    still to be bound): nginx's reload checks the new files and fails; the
#    files go back and nginx reloads them again.
sed -i "s#reload: \".*\"#reload: \"$reload\"#" certsync.yaml
sed -i 's#cert: out/web.crt, key: out/web.key#cert: out/web.key, key: out/web.crt#' certsync.yaml
cp out/web.key old.key
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "FAILED +#2 reload .*cannot load certificate key"
expect_contains "$OUT" "skipped +#3 verify web.* because reload #2 failed"
expect_contains "$OUT" "ran .* again on the previous files"
cmp -s old.crt out/web.crt && cmp -s old.key out/web.key && ok "swapped mapping: previous files are back" \
	|| not_ok "swapped mapping: previous files are back"
[ "$(served)" = "$old" ] && ok "swapped mapping: nginx serves the previous certificate" \
	|| not_ok "swapped mapping: nginx serves the previous certificate"

# 3. The clock pinned 80 days ahead (the renewal is due): the new certificate
#    starts then, and verify judges the chain at that same instant.
sed -i 's#cert: out/web.key, key: out/web.crt#cert: out/web.crt, key: out/web.key#' certsync.yaml
sed -i 's/timeout: 2s/timeout: 10s/' certsync.yaml
CERTSYNC_NOW=$(( $(date +%s) + 80 * 86400 )) expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "done +#.*verify web .*presents serial"
done_testing
