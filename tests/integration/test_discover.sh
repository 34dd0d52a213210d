#!/usr/bin/env bash
# certsync discover against sshd hosts whose nginx, Apache, haproxy,
# Dovecot and Postfix configuration files (staged per host with --root
# DIR/{host}) name real certificate and key files, and against live
# endpoints (nginx over TLS, Dovecot IMAP with STARTTLS): the config it
# writes validates, --adopt makes the first plan clean for every
# certificate still valid, and a key that cannot be read gets a renewal of
# that lineage only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ssh_lib.sh"
. "$(dirname "$0")/fixtures.sh"

for tool in nginx dovecot openssl; do
	command -v "$tool" >/dev/null || { not_ok "$tool is installed (scripts/install-deps.sh)"; done_testing; }
done
ssh_lib_init >"$TEST_TMP/why" || { not_ok "ssh test hosts: $(cat "$TEST_TMP/why")"; done_testing; }
for h in web1 web2 mail1; do
	ssh_start "$h" || { not_ok "sshd $h starts"; done_testing; }
	ssh_known_line "$h" >>"$SSH_KNOWN_HOSTS"
done

d=$TEST_TMP/disc
mkdir -p "$d"
chmod 755 "$d"
make_ca "$d" lab
make_ca "$d" corp
f=$SSH_FILES
# leaf NAME CA CN [KEYARGS...]: $f/NAME.crt (leaf) and $f/NAME.key (PKCS#8).
leaf() {
	local name=$1 ca=$2 cn=$3
	shift 3
	openssl req -new -newkey "$@" -nodes -keyout "$f/$name.key0" -subj "/CN=$cn" \
		-addext "subjectAltName=DNS:$cn,DNS:alt.$cn" -out "$f/$name.csr" 2>/dev/null &&
		openssl x509 -req -in "$f/$name.csr" -CA "$d/pki/$ca.crt" -CAkey "$d/pki/$ca.key" -days 200 \
			-copy_extensions copy -out "$f/$name.crt" 2>/dev/null &&
		openssl pkey -in "$f/$name.key0" -out "$f/$name.key" && rm -f "$f/$name.key0" "$f/$name.csr" &&
		chmod 600 "$f/$name.key" && chown "$SSH_USER:" "$f/$name.crt" "$f/$name.key"
}
leaf www lab www.example.test rsa:2048
leaf intra lab intra.example.test rsa:2048
leaf mail corp mail.example.test ec -pkeyopt ec_paramgen_curve:P-256
leaf secret lab secret.example.test rsa:2048
leaf stray corp stray.example.test rsa:2048
# renewed: a new certificate for the same key and names; web1's Apache
# still has the previous one (one lineage, the newer current).
leaf renewed lab renewed.example.test rsa:2048
openssl req -new -key "$f/renewed.key" -subj "/CN=renewed.example.test" \
	-addext "subjectAltName=DNS:renewed.example.test,DNS:alt.renewed.example.test" 2>/dev/null |
	openssl x509 -req -CA "$d/pki/lab.crt" -CAkey "$d/pki/lab.key" -days 100 -copy_extensions copy \
		-out "$f/renewed-old.crt" 2>/dev/null
cat "$f/www.crt" "$d/pki/lab.crt" >"$f/www-full.pem"
cat "$f/mail.key" "$f/mail.crt" "$d/pki/corp.crt" >"$f/mail.pem"
cp "$d/pki/lab.crt" "$f/lab-chain.pem"
chmod 600 "$f/mail.pem"
chmod 644 "$f/www-full.pem" "$f/lab-chain.pem" "$f/"*.crt
chown "$SSH_USER:" "$f/"*
rm "$f/secret.key" # named by nginx, but gone: it cannot be read

# --- the hosts' configuration files ------------------------------------
r=$d/root-web1
mkdir -p "$r/etc/nginx/sites-enabled" "$r/etc/apache2/sites-enabled"
cat >"$r/etc/nginx/nginx.conf" <<CONF
events { }
http {
    include sites-enabled/*.conf;   # relative to /etc/nginx
}
CONF
cat >"$r/etc/nginx/sites-enabled/www.conf" <<CONF
server {
    listen 443 ssl;
    server_name www.example.test;
    ssl_certificate "$f/www-full.pem";
    ssl_certificate_key $f/www.key;
}
server {
    listen 80;
    server_name plain.example.test;
}
CONF
cat >"$r/etc/nginx/sites-enabled/secret.conf" <<CONF
server {
    listen 8443 ssl http2;
    ssl_certificate $f/secret.crt;
    ssl_certificate_key $f/secret.key;
}
CONF
cat >"$r/etc/apache2/apache2.conf" <<CONF
ServerRoot "/etc/apache2"
IncludeOptional sites-enabled/*.conf
CONF
cat >"$r/etc/apache2/sites-enabled/intra.conf" <<CONF
<VirtualHost *:4443>
    ServerName intra.example.test
    SSLEngine on
    SSLCertificateFile $f/intra.crt
    SSLCertificateKeyFile $f/intra.key
    SSLCertificateChainFile $f/lab-chain.pem
</VirtualHost>
<VirtualHost *:5443>
    SSLCertificateFile $f/renewed-old.crt
    SSLCertificateKeyFile $f/renewed.key
</VirtualHost>
CONF
cat >"$r/etc/nginx/sites-enabled/renewed.conf" <<CONF
server {
    listen 6443 ssl;
    ssl_certificate $f/renewed.crt;
    ssl_certificate_key $f/renewed.key;
}
CONF
ln -s root-web1 "$d/root-web2" # web2: the same sites, so the same certificates
r=$d/root-mail1
mkdir -p "$r/etc/haproxy" "$r/etc/dovecot/conf.d" "$r/etc/postfix"
cat >"$r/etc/haproxy/haproxy.cfg" <<CONF
frontend tls
    bind 127.0.0.1:9443 ssl crt $f/mail.pem alpn h2
CONF
cat >"$r/etc/dovecot/dovecot.conf" <<CONF
protocols = imap pop3
!include conf.d/*.conf
CONF
cat >"$r/etc/dovecot/conf.d/10-ssl.conf" <<CONF
ssl = required
ssl_cert = <$f/mail.crt
ssl_key = <$f/mail.key
CONF
cat >"$r/etc/postfix/main.cf" <<CONF
smtpd_tls_cert_file = $f/mail.crt
smtpd_tls_key_file = $f/mail.key
smtpd_tls_security_level = may
CONF
chmod -R a+rX "$d"
chmod 600 "$d/pki/"*.key

# --- live endpoints: nginx (the www certificate, and one no host declares),
# Dovecot IMAP with STARTTLS (the mail certificate) ----------------------
nport=$(free_port)
sport=$(free_port)
iport=$(free_port)
mkdir -p "$d/nginx/logs" "$d/nginx/tmp" "$d/dovecot/run" "$d/dovecot/state"
cat >"$d/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $d/nginx/tmp; proxy_temp_path $d/nginx/tmp;
    fastcgi_temp_path $d/nginx/tmp; uwsgi_temp_path $d/nginx/tmp; scgi_temp_path $d/nginx/tmp;
    server { listen 127.0.0.1:$nport ssl; ssl_certificate $f/www-full.pem; ssl_certificate_key $f/www.key; }
    server { listen 127.0.0.1:$sport ssl; ssl_certificate $f/stray.crt; ssl_certificate_key $f/stray.key; }
}
CONF
ngx="nginx -p $d/nginx -c $d/nginx/nginx.conf"
$ngx || { not_ok "nginx starts"; done_testing; }
cleanup_add "$ngx -s stop"
cat >"$d/dovecot/dovecot.conf" <<CONF
base_dir = $d/dovecot/run
state_dir = $d/dovecot/state
log_path = $d/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$f/mail.crt
ssl_key = <$f/mail.key
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
dovecot -c "$d/dovecot/dovecot.conf" || { not_ok "dovecot starts"; done_testing; }
cleanup_add "dovecot -c $d/dovecot/dovecot.conf stop"
wait_port "$nport" 10 && wait_port "$iport" 10 || { not_ok "endpoints come up"; done_testing; }

# rc_is NAME WANT RC; has NAME TEXT FIXED-STRING
rc_is() { (($3 == $2)) && ok "$1 (exit $2)" || not_ok "$1 (exit $2)" "exit status $3"; }
has() { grep -qF -- "$3" <<<"$2" && ok "$1" || not_ok "$1" "no: $3" "in:" "$2"; }

hostline() {
	echo "  $1: { platform: linux, ssh: { address: 127.0.0.1, port: ${SSHD_PORT[$1]}, user: $SSH_USER, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS, timeout: 5s } }"
}
hosts_config() {
	cat <<YAML
version: 1
issuers:
  lab:
    ca: { cert: pki/lab.crt, key: { file: pki/lab.key }, days: 365 }
hosts:
$(hostline web1)
$(hostline web2)
$(hostline mail1)
YAML
}
hosts_config >"$d/certsync.yaml"
cd "$d" || exit 1
bin=$CERTSYNC

# --- discover, validate, plan ------------------------------------------
start=$SECONDS
"$bin" discover --root "$d/root-{host}" --adopt --endpoint "127.0.0.1:$nport" --endpoint "127.0.0.1:$sport" \
	--endpoint "imap://127.0.0.1:$iport" -o found.yaml 2>discover.err
rc_is "discover --adopt" 0 $?
sed 's/^/# /' discover.err
[[ $(head -1 found.yaml) == "# yaml-language-server: \$schema="*certsync.schema.json ]] &&
	ok "the first line points editors at the schema" || not_ok "the first line points editors at the schema"
"$bin" validate -c found.yaml >/dev/null 2>validate.err
rc_is "the discovered config validates" 0 $?
src=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
python3 -c 'import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(open(sys.argv[2])))' \
	"$src/schema/certsync.schema.json" found.yaml 2>schema.err
rc_is "the JSON Schema accepts it too" 0 $?

# The YAML of one certificate: its block under certificates.
block() { awk -v n="  $1:" '$0 == n {p=1; print; next} p && /^  [^ #]/ {p=0} p' found.yaml; }
www=$(block www.example.test)
has "www: names from the certificate" "$www" 'dns_names: ["alt.www.example.test", "www.example.test"]'
has "www: the config's local CA is its issuer" "$www" "issuer: lab"
has "www: fullchain file from nginx on web1" "$www" \
	"{ host: web1, files: { fullchain: \"$f/www-full.pem\", reload: \"systemctl reload nginx\" } }"
has "www: the same on web2 (one lineage)" "$www" "{ host: web2, files: { fullchain: \"$f/www-full.pem\""
has "www: key file on its own (mode 0600)" "$www" "{ host: web1, files: { key: \"$f/www.key\""
has "www: verify what nginx serves on 443" "$www" \
	'{ connect: "127.0.0.1:443", servername: "www.example.test", host: web1 }'
has "www: verify the endpoint it was seen at" "$www" "{ connect: \"127.0.0.1:$nport\""
intra=$(block intra.example.test)
has "intra: Apache's cert, key and chain files" "$intra" "files: { cert: \"$f/intra.crt\", chain: \"$f/lab-chain.pem\", reload: \"systemctl reload apache2\" }"
mail=$(block mail.example.test)
has "mail: ecdsa p256" "$mail" "key: { type: ecdsa, curve: p256 }"
has "mail: a manual issuer proposed for its CA" "$mail" "issuer: manual-corp-test-ca"
grep -q "^  manual-corp-test-ca:" found.yaml && grep -q "manual: { requests: requests/manual-corp-test-ca/" found.yaml &&
	ok "the manual issuer is declared under issuers" || not_ok "the manual issuer is declared under issuers"
has "mail: haproxy's pem" "$mail" "{ host: mail1, files: { pem: \"$f/mail.pem\", reload: \"systemctl reload haproxy\" } }"
has "mail: Dovecot and Postfix share the files: one binding, both reloads" "$mail" \
	"cert: \"$f/mail.crt\", reload: \"systemctl reload dovecot && systemctl reload postfix\""
has "mail: verify imap with STARTTLS" "$mail" 'servername: "mail.example.test", starttls: imap, host: mail1'
has "mail: verify smtp with STARTTLS" "$mail" '{ connect: "127.0.0.1:25", servername: "mail.example.test", starttls: smtp, host: mail1 }'
has "mail: the STARTTLS endpoint joins its lineage" "$mail" "{ connect: \"127.0.0.1:$iport\", servername: \"mail.example.test\", starttls: imap }"
renewed=$(block renewed.example.test)
has "renewed: the older certificate of the same key joins its lineage" "$(cat found.yaml)" \
	"# apache on web1 (/etc/apache2/sites-enabled/intra.conf): an older certificate of the same key"
has "renewed: the newer one is current (its file first)" "$renewed" "{ host: web1, files: { cert: \"$f/renewed.crt\""
has "renewed: the older one's file is bound too" "$renewed" "{ host: web1, files: { cert: \"$f/renewed-old.crt\""
[[ $(grep -c '^  renewed.example.test' found.yaml) == 1 ]] && ok "renewed: one lineage" || not_ok "renewed: one lineage"
secret=$(block secret.example.test)
has "secret: said that its key could not be read" "$(cat found.yaml)" "its key could not be read (key file $f/secret.key cannot be read"
has "secret: a warning on stderr" "$(cat discover.err)" "certificate secret.example.test: its key could not be read"
[[ -n $secret ]] && ok "secret is declared all the same" || not_ok "secret is declared all the same"
has "stray: only at an endpoint: commented out" "$(cat found.yaml)" "  # stray.example.test:"
has "stray: warned" "$(cat discover.err)" "certificate stray.example.test was seen only at an endpoint"
has "discover counts what it adopted" "$(cat discover.err)" "discovered 5 certificates, 4 adopted"

cp found.yaml certsync.yaml
"$bin" plan --detailed-exitcode >plan.out 2>&1
rc_is "plan: changes (secret only)" 2 $?
grep -c '^ *+ #[0-9]* renew ' plan.out | grep -qx 1 && grep -q "renew secret.example.test" plan.out &&
	ok "the plan renews only the certificate whose key could not be read" ||
	{ not_ok "the plan renews only the certificate whose key could not be read"; sed 's/^/# /' plan.out; }
"$bin" plan --target cert=renewed.example.test >plan.out 2>&1
grep -q "bind renewed.example.test → web1 files: $f/renewed-old.crt" plan.out && ! grep -q "renew renewed" plan.out &&
	ok "renewed: the plan binds the current certificate where the older one is, no renewal" ||
	{ not_ok "renewed: the plan binds the current certificate where the older one is, no renewal"; sed 's/^/# /' plan.out; }
for c in www.example.test intra.example.test mail.example.test; do
	"$bin" plan --detailed-exitcode --target "cert=$c" >plan.out 2>&1
	rc_is "plan --detailed-exitcode for adopted $c" 0 $?
	(($? == 0)) || sed 's/^/# /' plan.out
done

# Without the host holding the unreadable key the whole plan is clean.
mkdir -p "$d/second"
hosts_config >"$d/second/certsync.yaml"
sed -i 's|pki/|../pki/|g' "$d/second/certsync.yaml"
(cd "$d/second" && "$bin" discover --root "$d/root-{host}" --host mail1 --adopt -o certsync.yaml.new 2>/dev/null &&
	mv certsync.yaml.new certsync.yaml && "$bin" plan --detailed-exitcode >plan.out 2>&1)
rc_is "discover --host mail1 --adopt, then plan --detailed-exitcode" 0 $?

# --- refusals -----------------------------------------------------------
out=$("$bin" discover -c found.yaml 2>&1)
rc_is "a config with certificates already" 1 $?
has "... says why" "$out" "declares certificates already"
hosts_config >hosts.yaml
out=$("$bin" discover -c hosts.yaml --host nosuch 2>&1)
rc_is "--host that is not declared" 1 $?
has "... names it" "$out" "--host nosuch: no such host"
out=$("$bin" discover -c hosts.yaml --endpoint nonsense 2>&1)
rc_is "--endpoint without a port" 1 $?
has "... says what is expected" "$out" "--endpoint nonsense: expected HOST:PORT"
# A Windows host that does not answer: named with the step, the rest goes on
# (Windows discovery itself: test_discover_windows.sh).
{ hosts_config; echo "  win1: { platform: windows, winrm: { address: 127.0.0.1, port: $(free_port), auth: basic, user: u, password: { env: NOPE }, https: false } }"; } >win.yaml
"$bin" validate -c win.yaml >/dev/null 2>&1 || sed -i 's/, https: false//' win.yaml
out=$(NOPE=x "$bin" discover -c win.yaml --root "$d/root-{host}" --host win1 2>&1 >/dev/null)
rc_is "discover with a Windows host that does not answer" 0 $?
has "... says so, naming host and step once" "$out" "host win1: discover: WinRM at"
has "... nothing discovered there" "$out" "(nothing discovered there)"
out=$("$bin" discover -c hosts.yaml --root relative/dir 2>&1)
rc_is "--root that is not absolute" 1 $?
has "... says so" "$out" "--root relative/dir: must be an absolute path"
out=$("$bin" discover -c hosts.yaml --target host=web1 2>&1)
rc_is "--target is not a discover option" 1 $?
has "... usage shown" "$out" "usage: certsync discover"
ok "discover took $((SECONDS - start)) s"
done_testing
