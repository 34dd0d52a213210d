#!/usr/bin/env bash
# A loopback fleet over SSH: three OpenSSH hosts (a /bin/sh deploy user with
# sudo) go from empty to serving the declared certificate with one apply,
# while a fourth host is down; the second plan is clean for the three.  Then
# the faults: a changed host key and an unknown host are refused with the
# key's fingerprint and nothing is written; a host without sudo gets a clear
# permission error naming host and path.  A reload that starts a daemon
# (which keeps the command's output open) is done when it exits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

ssh_lib_init >"$TEST_TMP/why" || { not_ok "ssh test hosts: $(cat "$TEST_TMP/why")"; done_testing; }
for h in web1 web2 web3; do
	ssh_start "$h" ed25519 || { not_ok "sshd $h starts"; done_testing; }
	ssh_known_line "$h" >>"$SSH_KNOWN_HOSTS"
	# Root-owned folders: writing there needs `become: sudo`.
	install -d -o root -g root -m 0755 "$TEST_TMP/$h-etc"
done
down=$(free_port)
d=$TEST_TMP/site
make_ca "$d" ca

host_yaml() { # NAME PORT [EXTRA]
	echo "  $1: { platform: linux, ssh: { address: 127.0.0.1, port: $2, user: $SSH_USER, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS, timeout: 5s${3:-} } }"
}
binding_yaml() { # HOST
	echo "      - { host: $1, files: { fullchain: $TEST_TMP/$1-etc/site.pem, key: $TEST_TMP/$1-etc/site.key, owner: root, group: $SSH_USER, mode: \"0640\", reload: \"echo reloaded >> $TEST_TMP/$1-etc/reload.log\" } }"
}
{
	echo "version: 1"
	echo "issuers:"
	echo "  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }"
	echo "hosts:"
	for h in web1 web2 web3; do host_yaml "$h" "${SSHD_PORT[$h]}" ", become: sudo"; done
	host_yaml web4 "$down" ", become: sudo"
	echo "certificates:"
	echo "  site:"
	echo "    common_name: site.test"
	echo "    issuer: lab"
	echo "    bindings:"
	for h in web1 web2 web3 web4; do binding_yaml "$h"; done
} >"$d/certsync.yaml"
cd "$d"

expect_exit 0 "$CERTSYNC" validate
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" "host web4 \(127.0.0.1:$down\).*(refused|Connection refused)"
grep -q "host web4: host web4" <<<"$OUT" && not_ok "the host is named once" || ok "the host is named once"
expect_contains "$OUT" 'Apply finished with errors: 7 done, 0 failed, 0 skipped; 1 part could not be planned'
for h in web1 web2 web3; do
	f=$TEST_TMP/$h-etc
	if openssl verify -CAfile pki/ca.crt "$f/site.pem" >/dev/null 2>&1 &&
		[ "$(stat -c '%a %U %G' "$f/site.key")" = "640 root $SSH_USER" ] &&
		[ "$(wc -l <"$f/reload.log")" = 1 ]; then
		ok "$h: files in place with owner, mode, one reload"
	else
		not_ok "$h: files in place with owner, mode, one reload" "$(ls -l "$f")"
	fi
done
a=$(openssl pkey -in "$TEST_TMP/web2-etc/site.key" -pubout | openssl sha256)
b=$(openssl x509 -in "$TEST_TMP/web2-etc/site.pem" -pubkey -noout | openssl sha256)
[ "$a" = "$b" ] && ok "key matches the certificate on web2" || not_ok "key matches the certificate on web2"

expect_exit 0 "$CERTSYNC" plan --detailed-exitcode --target host=web1 --target host=web2 --target host=web3
expect_contains "$OUT" 'No changes'
expect_exit 0 "$CERTSYNC" status --target host=web2
expect_contains "$OUT" 'web2 +files .*: in sync'
# The host that is down: its error once, its bindings pointing at it.
expect_exit 1 "$CERTSYNC" status --target host=web4
expect_contains "$OUT" 'web4 +files .*: error \(host unreachable, below\)$'
expect_contains "$OUT" "^unreachable: host web4 \(127.0.0.1:$down\): connect: connection refused$"

# A changed host key on web2: refused with the offered key's fingerprint.
cp "$SSH_KNOWN_HOSTS" known.good
other=$(mktemp -u "$TEST_TMP/otherkey.XXXX")
ssh-keygen -q -t ed25519 -N '' -f "$other"
sed -i "s|^\\[127.0.0.1\\]:${SSHD_PORT[web2]} .*|[127.0.0.1]:${SSHD_PORT[web2]} $(cut -d' ' -f1,2 "$other.pub")|" "$SSH_KNOWN_HOSTS"
rm "$TEST_TMP/web2-etc/site.pem"
expect_exit 1 "$CERTSYNC" apply --yes --target host=web2
expect_contains "$OUT" 'web2.*host key.*SHA256:'
[ ! -e "$TEST_TMP/web2-etc/site.pem" ] && ok "changed host key: nothing written" || not_ok "changed host key: nothing written"
grep -q "$(cut -d' ' -f2 "$other.pub")" "$SSH_KNOWN_HOSTS" && ok "known_hosts entry left as it was" || not_ok "known_hosts entry left as it was"

# web2 unknown: refused too.
grep -v "^\\[127.0.0.1\\]:${SSHD_PORT[web2]} " known.good >"$SSH_KNOWN_HOSTS"
expect_exit 1 "$CERTSYNC" plan --target host=web2
expect_contains "$OUT" 'web2.*not in known_hosts.*SHA256:'
cp known.good "$SSH_KNOWN_HOSTS"
expect_exit 0 "$CERTSYNC" apply --yes --target host=web2
[ -e "$TEST_TMP/web2-etc/site.pem" ] && ok "web2 repaired once trusted again" || not_ok "web2 repaired once trusted again"

# web3 without sudo: the plan already knows the login user cannot do it
# (the declared owner root; the root-owned folder), naming host, path and
# fix; nothing is written.
sed -i "s|port: ${SSHD_PORT[web3]}, \\(.*\\), become: sudo|port: ${SSHD_PORT[web3]}, \\1|" certsync.yaml
rm "$TEST_TMP/web3-etc/site.pem"
expect_exit 1 "$CERTSYNC" apply --yes --target host=web3
expect_contains "$OUT" "site → web3 files: owner root of $TEST_TMP/web3-etc/site.key cannot be set: $SSH_USER is not root.*or become: sudo\\)$"
[ ! -e "$TEST_TMP/web3-etc/site.pem" ] && ok "web3: nothing written" || not_ok "web3: nothing written"

# A binding into a folder that does not exist on web1: plan says so.
cat >>certsync.yaml <<YAML
  extra:
    common_name: extra.test
    issuer: lab
    bindings:
      - { host: web1, files: { cert: $TEST_TMP/web1-nowhere/extra.pem } }
YAML
expect_exit 1 "$CERTSYNC" plan --target host=web1
expect_contains "$OUT" "error \\(extra\\): extra → web1 files: folder $TEST_TMP/web1-nowhere does not exist"

# An owner that does not exist on web2: plan says so.
sed -i "s#{ host: web1, files: { cert: $TEST_TMP/web1-nowhere/extra.pem } }#{ host: web2, files: { cert: $TEST_TMP/web2-etc/extra.pem, owner: ngnix } }#" certsync.yaml
expect_exit 1 "$CERTSYNC" plan --target cert=extra
expect_contains "$OUT" "error \\(extra\\): extra → web2 files: owner ngnix does not exist on host web2 \\(no such user\\)"

# A reload that leaves a process behind holding its stdout and stderr (a
# daemon started by the reload): done when the command exits, not when the
# process goes away (or the 10 x 5 s command limit ends it and loses the
# connection, so that nothing can be rolled back).
cat >>certsync.yaml <<YAML
  daemon:
    common_name: daemon.test
    issuer: lab
    bindings:
      - { host: web1, files: { cert: $TEST_TMP/web1-etc/daemon.pem, reload: "echo started; sleep 15 & echo to-stderr >&2" } }
  badreload:
    common_name: badreload.test
    issuer: lab
    bindings:
      - { host: web2, files: { cert: $TEST_TMP/web2-etc/badreload.pem, reload: "echo out; echo config test failed >&2; echo in line 12 >&2; exit 3 # comment" } }
YAML
sed -i "s#{ host: web2, files: { cert: $TEST_TMP/web2-etc/extra.pem, owner: ngnix } }#{ host: web2, files: { cert: $TEST_TMP/web2-etc/extra.pem } }#" certsync.yaml
start=$SECONDS
expect_exit 0 "$CERTSYNC" apply --yes --target cert=daemon
((SECONDS - start < 10)) && ok "a reload that starts a daemon is done when it exits" ||
	not_ok "a reload that starts a daemon is done when it exits" "took $((SECONDS - start)) s"
expect_exit 1 "$CERTSYNC" apply --yes --target cert=badreload
expect_contains "$OUT" "reload \`echo out; echo config test failed >&2; echo in line 12 >&2; exit 3 # comment\` exited with status 3: config test failed"
expect_contains "$OUT" "rollback #.* removed $TEST_TMP/web2-etc/badreload.pem"
# Its second line of stderr is indented under the action, not at the margin.
grep -q '^           in line 12$' <<<"$OUT" && ! grep -q '^in line 12' <<<"$OUT" &&
	ok "a multi-line message is indented under its action" ||
	not_ok "a multi-line message is indented under its action" "$OUT"

# become: sudo for a user whose sudo wants a password: plan says so (every
# command of an apply would go through sudo), instead of renewing first.
sed -i "s|^hosts:|hosts:\n  web6: { platform: linux, ssh: { address: 127.0.0.1, port: ${SSHD_PORT[web1]}, user: $SSH_USER_NOSUDO, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS, timeout: 5s, become: sudo } }|" certsync.yaml
cat >>certsync.yaml <<YAML
  nosudo:
    common_name: nosudo.test
    issuer: lab
    bindings:
      - { host: web6, files: { cert: $TEST_TMP/web1-etc/nosudo.pem } }
YAML
expect_exit 1 "$CERTSYNC" plan --target cert=nosudo
expect_contains "$OUT" "error: .*sudo needs a password on web6: give the user $SSH_USER_NOSUDO NOPASSWD"
[[ ! -e .certsync/certs/nosudo ]] && ok "nothing renewed for it" || not_ok "nothing renewed for it"

# The connection dies while a reload runs (killed here; a network blip or a
# command past its limit in life): the reload fails, and the rollback
# connects again to put the previous file back.
cat >>certsync.yaml <<YAML
  cut:
    common_name: cut.test
    issuer: lab
    bindings:
      - { host: web1, files: { cert: $TEST_TMP/web1-etc/cut.pem, reload: "touch $TEST_TMP/cut.reloading; sleep 3" } }
YAML
echo 'previous cut.pem' >"$TEST_TMP/web1-etc/cut.pem"
chmod 644 "$TEST_TMP/web1-etc/cut.pem"
"$CERTSYNC" apply --yes --target cert=cut >"$TEST_TMP/cut.out" 2>&1 &
applier=$!
for _ in $(seq 200); do [ -e "$TEST_TMP/cut.reloading" ] && break; sleep 0.05; done
ssh_kill_sessions web1
wait "$applier"
rc=$?
OUT=$(cat "$TEST_TMP/cut.out")
((rc == 1)) && ok "the apply fails" || not_ok "the apply fails" "exit $rc" "$OUT"
expect_contains "$OUT" "FAILED +#[0-9]+ reload on web1"
expect_contains "$OUT" "rollback #[0-9]+ put back $TEST_TMP/web1-etc/cut.pem"
[[ $(cat "$TEST_TMP/web1-etc/cut.pem") == 'previous cut.pem' ]] && ok "the previous file is back after reconnecting" ||
	not_ok "the previous file is back after reconnecting" "$(head -c 200 "$TEST_TMP/web1-etc/cut.pem")" "$OUT"
done_testing
