#!/usr/bin/env bash
# PKCS#12 (pfx) files on Linux, on the local host and over SSH: written with
# the key, the certificate and the chain under the alias, in the default
# format (AES-256-CBC, PBKDF2, SHA-256 MAC) and the legacy one (3DES, SHA-1
# MAC); read by `openssl pkcs12` and by Java's keytool; a second plan is
# clean although no two writes give the same bytes; a changed password, a
# changed format and a damaged file are re-written; a password that cannot
# be read is an error naming the certificate and the binding, exit 1,
# nothing written; neither the key nor the password is ever printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

command -v keytool >/dev/null || { echo "# keytool missing: scripts/install-deps.sh installs default-jre-headless"; not_ok "keytool is installed"; done_testing; }

d=$TEST_TMP/site
make_ca "$d" ca
mkdir -p "$d/out"
cat >"$d/certsync.yaml" <<'YAML'
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    dns_names: [web.test, www.web.test]
    key: { type: rsa, bits: 2048 }
    issuer: lab
    bindings:
      - host: here
        files: { cert: out/web.crt, pfx: out/web.p12, pfx_password: { env: WEB_PFX_PASS },
                 reload: "echo reloaded >> out/reload.log" }
YAML
cd "$d" || exit 1
pass1='first pass with $HOME and "quotes"'
pass2='second-pass-2'
sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
reloads() { wc -l <out/reload.log 2>/dev/null || echo 0; }
secret_free() { # NAME TEXT: neither a key nor a password in TEXT
	if grep -qF -e 'PRIVATE KEY' -e "$pass1" -e "$pass2" <<<"$2"; then not_ok "$1"; else ok "$1"; fi
}

expect_exit 0 "$CERTSYNC" validate

# No password: the plan says so for this binding, apply writes nothing.
unset WEB_PFX_PASS
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'web → here files: password of pfx .*/out/web\.p12 \(pfx_password\): environment variable WEB_PFX_PASS is not set'
[[ ! -e out/web.p12 && ! -e out/web.crt ]] && ok "no password: nothing written" || not_ok "no password: nothing written" "$(ls out)"

export WEB_PFX_PASS=$pass1
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'bind web → here files: .*/out/web\.crt, .*/out/web\.p12'
expect_exit 0 "$CERTSYNC" apply --yes
secret_free "apply prints no key and no password" "$OUT"
[[ $(stat -c %a out/web.p12) == 600 ]] && ok "pfx is 0600 (it holds the key)" || not_ok "pfx is 0600" "$(stat -c %a out/web.p12)"
info=$(openssl pkcs12 -in out/web.p12 -passin env:WEB_PFX_PASS -noout -info 2>&1)
expect_contains "$info" 'MAC: sha256, Iteration 10000'
expect_contains "$info" 'PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256'
expect_contains "$info" 'Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256'
openssl pkcs12 -in out/web.p12 -passin env:WEB_PFX_PASS -nodes -out "$TEST_TMP/web.pem" 2>/dev/null
a=$(openssl x509 -in out/web.crt -noout -pubkey | openssl sha256)
b=$(openssl pkey -in "$TEST_TMP/web.pem" -pubout 2>/dev/null | openssl sha256)
[[ $a == "$b" ]] && ok "the pfx holds the certificate's key" || not_ok "the pfx holds the certificate's key"
expect_contains "$(cat "$TEST_TMP/web.pem")" 'friendlyName: web'
expect_contains "$(openssl pkcs12 -in out/web.p12 -passin env:WEB_PFX_PASS -nokeys -cacerts 2>/dev/null)" 'subject=CN = ca test CA'
rm -f "$TEST_TMP/web.pem"
expect_exit 1 openssl pkcs12 -in out/web.p12 -passin pass:wrong -noout
expect_exit 0 keytool -list -v -storetype PKCS12 -keystore out/web.p12 -storepass:env WEB_PFX_PASS
expect_contains "$OUT" 'Alias name: web'
expect_contains "$OUT" 'Entry type: PrivateKeyEntry'
expect_contains "$OUT" 'Certificate chain length: 2'
expect_contains "$OUT" 'Owner: CN=web.test'

# Nothing changed: no change planned, the file keeps its bytes.
before=$(sum out/web.p12)
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'No changes'
expect_exit 0 "$CERTSYNC" apply --yes
[[ $(sum out/web.p12) == "$before" ]] && ok "second apply leaves the pfx alone" || not_ok "second apply leaves the pfx alone"
[[ $(reloads) == 1 ]] && ok "second apply reloads nothing" || not_ok "second apply reloads nothing" "$(reloads)"
expect_exit 0 "$CERTSYNC" status --json
expect_contains "$OUT" '"state": "in sync"'
leftover=$(find out -name '.*certsync-*')
[[ -z $leftover ]] && ok "no temporary files left" || not_ok "no temporary files left" "$leftover"
secret_free "no key and no password in the journal" "$(cat .certsync/journal.jsonl)"

# The same password from a file: still in sync.
(umask 077 && printf '%s\n' "$pass1" >pfx.pass)
sed -i 's|pfx_password: { env: WEB_PFX_PASS }|pfx_password: { file: pfx.pass }|' certsync.yaml
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
sed -i 's|pfx_password: { file: pfx.pass }|pfx_password: { env: WEB_PFX_PASS }|' certsync.yaml

# A plan saved with one password is stale once the password changed.
expect_exit 0 "$CERTSYNC" plan -o "$TEST_TMP/saved.plan"
WEB_PFX_PASS=$pass2 expect_exit 1 "$CERTSYNC" apply "$TEST_TMP/saved.plan"
expect_contains "$OUT" 'is stale: the observed state changed since it was made'

# A changed password re-writes it (and nothing else).
export WEB_PFX_PASS=$pass2
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'because pfx .*/out/web\.p12 does not open with the password from env WEB_PFX_PASS'
secret_free "plan prints no password" "$OUT"
crt_before=$(sum out/web.crt)
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 openssl pkcs12 -in out/web.p12 -passin env:WEB_PFX_PASS -noout
[[ $(sum out/web.crt) == "$crt_before" ]] && ok "the certificate file is left alone" || not_ok "the certificate file is left alone"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# The password gone: an error for this binding, exit 1, the file as it was.
before=$(sum out/web.p12)
unset WEB_PFX_PASS
expect_exit 1 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'error \(web\): web → here files: password of pfx .*/out/web\.p12 \(pfx_password\): environment variable WEB_PFX_PASS is not set'
cp pki/ca.crt out/web.crt   # something to do for the binding
expect_exit 1 "$CERTSYNC" apply --yes
[[ $(sum out/web.p12) == "$before" ]] && ok "missing password: pfx untouched" || not_ok "missing password: pfx untouched"
cmp -s pki/ca.crt out/web.crt && ok "missing password: no file of the binding written" ||
	not_ok "missing password: no file of the binding written"
export WEB_PFX_PASS=$pass2

# Legacy format for old readers; an alias of one's own.
sed -i 's|pfx_password: { env: WEB_PFX_PASS },|pfx_password: { env: WEB_PFX_PASS }, pfx_legacy: true, pfx_alias: tomcat,|' certsync.yaml
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'has alias "web", want "tomcat", is encrypted with key aes-256-cbc, certificates aes-256-cbc, mac sha256, want key 3des, certificates 3des, mac sha1 \(pfx_legacy: true\)'
expect_exit 0 "$CERTSYNC" apply --yes
info=$(openssl pkcs12 -in out/web.p12 -passin env:WEB_PFX_PASS -noout -info 2>&1)
expect_contains "$info" 'MAC: sha1, Iteration 2048'
expect_contains "$info" 'PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048'
expect_contains "$info" 'Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048'
expect_exit 0 keytool -list -storetype PKCS12 -keystore out/web.p12 -storepass:env WEB_PFX_PASS
expect_contains "$OUT" 'tomcat, .*PrivateKeyEntry'
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# Damaged, or replaced by someone else's: re-written.
echo junk >out/web.p12
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'pfx .*/out/web\.p12 cannot be read as PKCS#12 with the password from env WEB_PFX_PASS: not a PKCS#12 file'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TEST_TMP/o.key" -out "$TEST_TMP/o.crt" \
	-subj /CN=other -days 3 2>/dev/null
openssl pkcs12 -export -inkey "$TEST_TMP/o.key" -in "$TEST_TMP/o.crt" -name tomcat -passout env:WEB_PFX_PASS \
	-legacy -certpbe PBE-SHA1-3DES -out out/web.p12 2>/dev/null
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'pfx .*/out/web\.p12 holds another certificate \(serial [0-9A-F]+\), want serial [0-9A-F]+, holds another private key, holds another chain'
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# Over SSH with become: sudo: the batch observation reads the binary file.
if ssh_lib_init >"$TEST_TMP/init.out" 2>&1 && ssh_start box; then
	ssh_known_line box >>"$SSH_KNOWN_HOSTS"
	rdir=$TEST_TMP/remote
	mkdir -p "$rdir"
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
  app:
    common_name: app.test
    issuer: lab
    bindings:
      - host: box
        files: { pfx: $rdir/app.p12, pfx_password: { env: WEB_PFX_PASS }, owner: root, group: root, mode: "0640" }
YAML
	expect_exit 0 "$CERTSYNC" apply -c remote.yaml --yes
	expect_exit 0 openssl pkcs12 -in "$rdir/app.p12" -passin env:WEB_PFX_PASS -noout
	expect_exit 0 keytool -list -storetype PKCS12 -keystore "$rdir/app.p12" -storepass:env WEB_PFX_PASS
	expect_contains "$OUT" 'app, .*PrivateKeyEntry'
	[[ $(stat -c %a "$rdir/app.p12") == 640 ]] && ok "over ssh: mode as declared" || not_ok "over ssh: mode as declared"
	before=$(sum "$rdir/app.p12")
	expect_exit 0 "$CERTSYNC" plan -c remote.yaml --detailed-exitcode
	expect_exit 0 "$CERTSYNC" apply -c remote.yaml --yes
	[[ $(sum "$rdir/app.p12") == "$before" ]] && ok "over ssh: second apply leaves the pfx alone" ||
		not_ok "over ssh: second apply leaves the pfx alone"
	WEB_PFX_PASS=$pass1 expect_exit 2 "$CERTSYNC" plan -c remote.yaml --detailed-exitcode
	expect_contains "$OUT" 'does not open with the password from env WEB_PFX_PASS'
else
	echo "# ssh part skipped: $(cat "$TEST_TMP/init.out")"
fi

done_testing
