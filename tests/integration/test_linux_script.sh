#!/usr/bin/env bash
# `script` bindings on Linux (sh), on the local host and over SSH with
# become: sudo: the script gets the thumbprint and the files' paths in its
# environment and the binding's args as --name value; the key is on no
# command line; the private folder is gone afterwards; a second plan is
# clean (the state folder remembers the run); a changed argument, a renewal
# and a failed run all make the next plan run it again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

d=$TEST_TMP/site
make_ca "$d" ca
mkdir -p "$d/seen"
chmod 1777 "$d/seen" "$TEST_TMP"
# The script records what it was given, and proves the key is on no
# process's command line while it runs.
cat >"$d/deploy.sh" <<'SH'
out=$SEEN_DIR/$CERTSYNC_HOST
mkdir -p "$out"
printf '%s\n' "$@" >"$out/args"
env | grep '^CERTSYNC_' | sort >"$out/env"
for f in CERT KEY CHAIN FULLCHAIN PEM; do
	eval "p=\$CERTSYNC_$f"
	cp "$p" "$out/$f"
	stat -c %a "$p" >"$out/$f.mode"
done
stat -c %a "$(dirname "$CERTSYNC_KEY")" >"$out/dir.mode"
ps -eo args | grep -c '[P]RIVATE KEY' >"$out/ps" || true
id -un >"$out/user"
if [ -e "$SEEN_DIR/fail" ]; then
	echo "pool web is draining, try later" >&2
	exit 3
fi
SH
cat >"$d/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 30 } }
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    common_name: web.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    renew_before: 10d
    bindings:
      - host: here
        script:
          path: deploy.sh
          args: { pool: web, note: "it's \$HOME \`x\`" }
YAML
cd "$d" || exit 1
export SEEN_DIR=$d/seen

expect_exit 0 "$CERTSYNC" validate
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "bind web → here script"
expect_exit 0 "$CERTSYNC" apply --yes
thumb=$(openssl x509 -in .certsync/certs/web/cert.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
s=seen/here
expect_contains "$(cat $s/env)" "^CERTSYNC_THUMBPRINT=$thumb$"
expect_contains "$(cat $s/env)" "^CERTSYNC_HOST=here$"
expect_contains "$(cat $s/env)" "^CERTSYNC_NOT_AFTER=20[0-9-]+T[0-9:]+Z$"
[[ $(cat $s/args) == $'--pool\nweb\n--note\nit'"'"'s $HOME `x`' ]] && ok "args arrive as --name value, verbatim" ||
	not_ok "args arrive as --name value, verbatim" "$(cat $s/args)"
cmp -s $s/CERT .certsync/certs/web/cert.pem && ok "CERTSYNC_CERT is the certificate" || not_ok "CERTSYNC_CERT is the certificate"
cmp -s $s/KEY .certsync/certs/web/key.pem && ok "CERTSYNC_KEY is the key" || not_ok "CERTSYNC_KEY is the key"
cmp -s $s/FULLCHAIN <(cat .certsync/certs/web/cert.pem .certsync/certs/web/chain.pem) &&
	ok "CERTSYNC_FULLCHAIN is cert + chain" || not_ok "CERTSYNC_FULLCHAIN is cert + chain"
cmp -s $s/PEM <(cat .certsync/certs/web/key.pem .certsync/certs/web/cert.pem .certsync/certs/web/chain.pem) &&
	ok "CERTSYNC_PEM is key + cert + chain" || not_ok "CERTSYNC_PEM is key + cert + chain"
[[ $(cat $s/KEY.mode) == 600 && $(cat $s/dir.mode) == 700 ]] && ok "the key and its folder are private" ||
	not_ok "the key and its folder are private" "$(cat $s/KEY.mode) $(cat $s/dir.mode)"
[[ $(cat $s/ps) == 0 ]] && ok "no command line held the key" || not_ok "no command line held the key" "$(cat $s/ps)"
keydir=$(sed -n 's/^CERTSYNC_KEY=//p' $s/env)
[[ -n $keydir && ! -e $(dirname "$keydir") ]] && ok "the private folder is removed" ||
	not_ok "the private folder is removed" "$keydir"
if grep -q 'PRIVATE KEY' <<<"$OUT"; then not_ok "apply printed no key"; else ok "apply printed no key"; fi
[[ -f .certsync/hosts/here/scripts.json ]] && expect_contains .certsync/hosts/here/scripts.json "\"thumbprint\": \"$thumb\"" ||
	not_ok "the run is recorded" "$(ls -R .certsync)"

# Clean afterwards: the record says it ran for this certificate.
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "^No changes"

# Another argument: it runs again.
sed -i 's/pool: web/pool: web2/' certsync.yaml
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "because the script has not run for certificate $thumb"

# A failing run: the error carries its stderr, and the next plan still wants it.
touch seen/fail
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "FAILED .*script .*deploy.sh exited with status 3: pool web is draining, try later"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "bind web → here script"
rm seen/fail
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# A renewal whose script run fails: the next plan says for which
# certificate the script last ran.
export CERTSYNC_NOW=$(($(date +%s) + 25 * 86400))
touch seen/fail
expect_exit 1 "$CERTSYNC" apply --yes
rm seen/fail
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "because the script last ran for certificate $thumb \([0-9-]+\), not [0-9A-F]{40}"
expect_exit 0 "$CERTSYNC" apply --yes
thumb2=$(openssl x509 -in .certsync/certs/web/cert.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
[[ $thumb2 != "$thumb" ]] && expect_contains "$(cat $s/env)" "^CERTSYNC_THUMBPRINT=$thumb2$" ||
	not_ok "renewed and run for the new certificate"
unset CERTSYNC_NOW

# A script with its own interpreter (#!/bin/bash) is executed as such.
printf '#!/bin/bash\n[[ -n ${BASH_VERSION} ]] && echo bash >"$SEEN_DIR/interp"\n' >bash.sh
sed -i 's|path: deploy.sh|path: bash.sh|' certsync.yaml
expect_exit 0 "$CERTSYNC" apply --yes
[[ $(cat seen/interp 2>/dev/null) == bash ]] && ok "a #! script runs under its interpreter" ||
	not_ok "a #! script runs under its interpreter" "$OUT"

# Over SSH, as the login user with become: sudo (the script runs as root).
if ssh_lib_init >"$TEST_TMP/init.out" 2>&1 && ssh_start box; then
	ssh_known_line box >>"$SSH_KNOWN_HOSTS"
	cat >remote.yaml <<YAML
version: 1
settings: { state_dir: remote-state }
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 30 } }
hosts:
  box:
    platform: linux
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[box]}, user: $SSH_USER, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS, become: sudo }
certificates:
  web:
    common_name: web.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    renew_before: 10d
    bindings:
      - host: box
        script: { path: deploy-remote.sh, args: { pool: edge } }
YAML
	sed "s|^out=\$SEEN_DIR/|out=$d/seen/|" deploy.sh >deploy-remote.sh
	expect_exit 0 "$CERTSYNC" apply -c remote.yaml --yes
	r=seen/box
	expect_contains "$(cat $r/env 2>/dev/null)" "^CERTSYNC_HOST=box$"
	[[ $(cat $r/user 2>/dev/null) == root ]] && ok "over ssh with sudo the script runs as root" ||
		not_ok "over ssh with sudo the script runs as root" "$(cat $r/user 2>/dev/null) $OUT"
	cmp -s $r/KEY remote-state/certs/web/key.pem && ok "the key arrived over ssh" || not_ok "the key arrived over ssh"
	[[ $(cat $r/ps 2>/dev/null) == 0 ]] && ok "no remote command line held the key" ||
		not_ok "no remote command line held the key"
	expect_exit 0 "$CERTSYNC" plan -c remote.yaml --detailed-exitcode
else
	echo "# ssh part skipped: $(cat "$TEST_TMP/init.out")"
fi

done_testing
