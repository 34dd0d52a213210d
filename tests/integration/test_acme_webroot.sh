#!/usr/bin/env bash
# ACME http-01 webroot against a real Pebble: a real nginx on loopback serves
# the webroot, certsync writes the token files there through the host's
# transport (local) and removes them afterwards — also when the challenge
# fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"

if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
	done_testing
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x $nginx_bin ]]; then
	not_ok "nginx is installed (scripts/install-deps.sh)"
	done_testing
fi
pebble_start || { not_ok "pebble starts"; done_testing; }

# nginx serving $1 on Pebble's http-01 port.
start_nginx() {
	local root=$1 n=$TEST_TMP/nginx
	mkdir -p "$n/tmp"
	{
		((EUID == 0)) && echo "user root;" # the test folders are 0700
		cat <<CONF
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log;
events { worker_connections 64; }
http {
  access_log $n/access.log;
  client_body_temp_path $n/tmp/body;
  proxy_temp_path $n/tmp/proxy;
  fastcgi_temp_path $n/tmp/fastcgi;
  uwsgi_temp_path $n/tmp/uwsgi;
  scgi_temp_path $n/tmp/scgi;
  server {
    listen 127.0.0.1:$PEBBLE_HTTP_PORT;
    root $root;
  }
}
CONF
	} >"$n/nginx.conf"
	"$nginx_bin" -e "$n/error.log" -p "$n" -c "$n/nginx.conf" -g "daemon off;" &
	local pid=$!
	cleanup_add "kill $pid; wait $pid"
	NGINX_PID=$pid
	wait_port "$PEBBLE_HTTP_PORT" 10
}

d=$TEST_TMP/webroot
mkdir -p "$d/www"
start_nginx "$d/www" || { not_ok "nginx starts" "$(cat "$TEST_TMP/nginx/error.log")"; done_testing; }
ok "nginx serves the webroot on pebble's http-01 port"

acme_config "$d" "{ http-01: { host: here, webroot: $d/www } }"
cd "$d" || exit 1
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" "Apply complete: 2 done, 0 failed"
if openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/out/chain.pem" "$d/out/web.crt" >"$TEST_TMP/v" 2>&1; then
	ok "openssl verify: webroot certificate chains to pebble's root"
else
	not_ok "openssl verify: webroot certificate chains to pebble's root" "$(cat "$TEST_TMP/v")"
fi
served=$(grep -c 'GET /.well-known/acme-challenge/[A-Za-z0-9_-]* HTTP/1.1" 200' "$TEST_TMP/nginx/access.log")
((served >= 2)) && ok "nginx served the tokens to pebble ($served requests)" || not_ok "nginx served the tokens to pebble" "$(cat "$TEST_TMP/nginx/access.log")"
left=$(find "$d/www/.well-known/acme-challenge" -type f | wc -l)
[[ $left == 0 ]] && ok "token files removed after success" || not_ok "token files removed after success" "$left left"

# A webroot nginx does not serve: Pebble gets 404, the apply fails with the
# CA's reason, and the token files are still removed.
d2=$TEST_TMP/elsewhere
mkdir -p "$d2/www"
acme_config "$d2" "{ http-01: { host: here, webroot: $d2/www } }"
cd "$d2" || exit 1
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "authorization for (www\.)?web\.test is invalid \(http-01 challenge\): http-01: urn:ietf:params:acme:error:unauthorized"
[[ -d $d2/www/.well-known/acme-challenge ]] && ok "tokens were written to the webroot" || not_ok "tokens were written to the webroot"
left=$(find "$d2/www/.well-known/acme-challenge" -type f 2>/dev/null | wc -l)
[[ $left == 0 ]] && ok "token files removed after a failure" || not_ok "token files removed after a failure" "$left left"

# A webroot that does not exist is an error, not created.
d3=$TEST_TMP/missing
acme_config "$d3" "{ http-01: { host: here, webroot: $d3/no-such-www } }"
cd "$d3" || exit 1
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "http-01 webroot: webroot $d3/no-such-www does not exist on here"
[[ ! -e $d3/no-such-www ]] && ok "missing webroot not created" || not_ok "missing webroot not created"

done_testing
