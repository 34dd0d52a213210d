#!/usr/bin/env bash
# Files with access control lists, over SSH, as operators grant a service
# user its key (setfacl -m u:SERVICE:r web.key) instead of a group: a
# renewal replaces the file, and the new one keeps the named entries (the
# service still reads its key after the reload), with and without
# `become: sudo`, after a rollback, and on a local host.  The declared mode stays the
# authority: the ACL's mask follows it, so a plan after the apply is clean.
# Before: the renamed file came without the ACL and the service lost its
# key at the reload; and a file writable only through its ACL was a plan
# error ("folder … is not writable").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

if ! ssh_lib_init >"$TEST_TMP/init.log" 2>&1; then
	not_ok "ssh test hosts: $(cat "$TEST_TMP/init.log")"
	done_testing
fi
command -v setfacl >/dev/null 2>&1 ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends acl >/dev/null 2>&1
command -v setfacl >/dev/null 2>&1 || { not_ok "setfacl (package acl) is not installed and cannot be"; done_testing; }
ssh_start acl ed25519 || { not_ok "sshd"; done_testing; }
ssh_known_line acl >"$SSH_KNOWN_HOSTS"

SITE=$TEST_TMP/site
mkdir -p "$SITE"
make_ca "$SITE" ca
SVC=nobody # the service that reads the key through the ACL
chmod 711 "$TEST_TMP"

# config NAME DIR MODE BECOME RELOAD DNS
config() {
	cat >"$SITE/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  web1:
    platform: linux
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[acl]}, user: $SSH_USER, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS${4:-} }
certificates:
  $1:
    common_name: web.test
    dns_names: [web.test${6:-}]
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - host: web1
        files: { cert: $2/web.crt, key: $2/web.key, mode: "$3", reload: "$5" }
YAML
}
cs() { (cd "$SITE" && "$CERTSYNC" "$@"); }
svc_reads() { # FILE: the service user reads exactly what root reads
	local got
	got=$(runuser -u "$SVC" -- cat "$1" 2>/dev/null) && [[ $got == "$(cat "$1")" ]]
}
acl_of() { getfacl -cp "$1" 2>/dev/null | grep -E "^user:$SVC:"; }

# 1. Without become: the deploy user's folder, the key given to the service.
D=$SSH_FILES/one
mkdir -p "$D" && chown "$SSH_USER:" "$D"
config web "$D" 0640 "" "true"
expect_exit 0 cs apply --yes
setfacl -m "u:$SVC:r" "$D/web.key"
svc_reads "$D/web.key" && ok "set-up: $SVC reads the key through its ACL" || not_ok "set-up: $SVC reads the key"
config web "$D" 0640 "" "true" ", www.web.test"
expect_exit 0 cs apply --yes
expect_contains "$OUT" "Apply complete"
expect_contains "$(acl_of "$D/web.key")" "^user:$SVC:r--"
svc_reads "$D/web.key" && ok "renewed: $SVC reads the new key" ||
	not_ok "renewed: $SVC reads the new key" "$(getfacl -p "$D/web.key" 2>&1)"
expect_exit 0 cs plan --detailed-exitcode

# 2. A reload that fails: the files go back, with the ACL.
config web "$D" 0640 "" "exit 3" ", www.web.test, api.web.test"
expect_exit 1 cs apply --yes
expect_contains "$OUT" "rollback"
expect_contains "$(acl_of "$D/web.key")" "^user:$SVC:r--"
svc_reads "$D/web.key" && ok "rolled back: $SVC reads the key" || not_ok "rolled back: $SVC reads the key"

# 3. mode 0600 declared: the entries stay but the mask (the mode's group
# bits) lets them read nothing; the mode is what was declared, and the
# next plan is clean (no rewrite at every run).
config web "$D" 0600 "" "true" ", www.web.test"
expect_exit 0 cs apply --yes
[[ $(stat -c %a "$D/web.key") == 600 ]] && ok "mode 0600 kept" || not_ok "mode 0600 kept" "$(stat -c %a "$D/web.key")"
expect_exit 0 cs plan --detailed-exitcode

# 4. become: sudo, the files root's in a folder root's.
D=$TEST_TMP/two
mkdir -p "$D"
config web "$D" 0640 ", become: sudo" "true"
expect_exit 0 cs apply --yes
setfacl -m "u:$SVC:r" "$D/web.key"
config web "$D" 0640 ", become: sudo" "true" ", www.web.test"
expect_exit 0 cs apply --yes
expect_contains "$(acl_of "$D/web.key")" "^user:$SVC:r--"
svc_reads "$D/web.key" && ok "become: sudo: $SVC reads the new key" ||
	not_ok "become: sudo: $SVC reads the new key" "$(getfacl -p "$D/web.key" 2>&1)"
[[ $(stat -c '%U %a' "$D/web.key") == "root 640" ]] && ok "become: sudo: root's, 0640" ||
	not_ok "become: sudo: root's, 0640" "$(stat -c '%U %a' "$D/web.key")"
expect_exit 0 cs plan --detailed-exitcode

# 5. root's certificate in root's folder, writable by the deploy user
# through an ACL the mode does not show (setfacl -m u:deploy:rw): the plan
# says it is rewritten in place (before: "folder … is not writable").
D3=$TEST_TMP/three
mkdir -p "$D3"
chmod 755 "$D3"
echo old >"$D3/web.crt"
chmod 644 "$D3/web.crt"
setfacl -m "u:$SSH_USER:rw" "$D3/web.crt"
cat >"$SITE/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  web1:
    platform: linux
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[acl]}, user: $SSH_USER, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS }
certificates:
  web:
    common_name: web.test
    dns_names: [web.test, www.web.test]
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - host: web1
        files: { cert: $D3/web.crt, mode: "0664" }
YAML
expect_exit 0 cs plan
expect_contains "$OUT" "$D3/web.crt is rewritten in place \\(folder $D3 is not writable by $SSH_USER\\)"
expect_exit 0 cs apply --yes
grep -q 'BEGIN CERTIFICATE' "$D3/web.crt" && [[ $(stat -c %U "$D3/web.crt") == root ]] &&
	ok "ACL-writable: the certificate written in place, still root's" ||
	not_ok "ACL-writable: the certificate written in place, still root's" "$(ls -la "$D3")"
expect_exit 0 cs plan --detailed-exitcode

# 6. A local host: the same, through the state folder's own atomic write.
L=$TEST_TMP/local
mkdir -p "$L/out"
cp -r "$SITE/pki" "$L/"
local_cfg() {
	cat >"$L/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    dns_names: [web.test$1]
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - { host: here, files: { cert: out/web.crt, key: out/web.key, mode: "0640" } }
YAML
}
local_cfg ""
expect_exit 0 "$CERTSYNC" apply --yes -c "$L/certsync.yaml"
chmod 755 "$L"
setfacl -m "u:$SVC:r" "$L/out/web.key"
local_cfg ", www.web.test"
expect_exit 0 "$CERTSYNC" apply --yes -c "$L/certsync.yaml"
expect_contains "$(acl_of "$L/out/web.key")" "^user:$SVC:r--"
svc_reads "$L/out/web.key" && ok "local: $SVC reads the new key" ||
	not_ok "local: $SVC reads the new key" "$(getfacl -p "$L/out/web.key" 2>&1)"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode -c "$L/certsync.yaml"

left=$(find "$SSH_FILES" "$D" "$L/out" -name '*certsync-*' 2>/dev/null)
[[ -z $left ]] && ok "no temporary files left" || not_ok "no temporary files left" "$left"

done_testing
