#!/usr/bin/env bash
# Login shells as operators' hosts have them, over SSH without become: a
# ~/.bashrc that prints a banner (bash reads it for commands sent over ssh
# too), one that prints on stderr only, and zsh with nounset in ~/.zshenv.
# Text the shell prints before a command is never read as the command's
# output (gathering, the permission checks and the apply work as with
# /bin/sh); a banner on stdout, which breaks SFTP, is a plan error naming
# the host, the user and the fix, at once (before: the plan was clean and
# the apply waited 30 s for the SFTP server, then failed).  fish, which
# reads POSIX quoting differently, is refused in the plan, before anything
# runs there (before: the plan was clean and the apply reported a reload
# done that had never run).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

if ! ssh_lib_init >"$TEST_TMP/init.log" 2>&1; then
	not_ok "ssh test hosts: $(cat "$TEST_TMP/init.log")"
	done_testing
fi
touch "$TEST_TMP/stamp"
command -v zsh >/dev/null 2>&1 && command -v fish >/dev/null 2>&1 ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zsh fish >/dev/null 2>&1

# A user of this run, its home made here (its start-up files are the test).
U=cslogin$$
_ssh_lib_locked useradd -m -s /bin/bash "$U" || { not_ok "useradd $U"; done_testing; }
cleanup_add "_ssh_lib_locked userdel -r $U"
usermod -p '*' "$U" # locked password: key login only, but not "account locked"
H=$(getent passwd "$U" | cut -d: -f6)
SSHD_EXTRA="AllowUsers $U" ssh_start shells ed25519 || { not_ok "sshd"; done_testing; }
ssh_known_line shells >"$SSH_KNOWN_HOSTS"

SITE=$TEST_TMP/site
FILES=$TEST_TMP/tls
mkdir -p "$SITE" "$FILES"
chown "$U:" "$FILES"
make_ca "$SITE" ca
cat >"$SITE/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  web1:
    platform: linux
    ssh: { address: 127.0.0.1, port: ${SSHD_PORT[shells]}, user: $U, identity: $SSH_KEY,
           known_hosts: $SSH_KNOWN_HOSTS, timeout: 30s }
certificates:
  web:
    common_name: web.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - host: web1
        files: { cert: $FILES/web.crt, key: $FILES/web.key, reload: "echo reloaded >> $FILES/reload.log" }
YAML
cs() { (cd "$SITE" && "$CERTSYNC" "$@"); }

# 1. A banner on stdout: the plan says so at once, nothing is written.
cp "$H/.bashrc" "$H/.bashrc.debian"
{
	echo 'echo "Welcome to web1. Authorised use only."'
	cat "$H/.bashrc.debian"
} >"$H/.bashrc"
start=$SECONDS
expect_exit 1 cs plan
expect_contains "$OUT" "web → web1 files: host web1: the login shell of $U prints text on its standard output before every command .*breaks SFTP.*or give $U /bin/sh as login shell"
expect_exit 1 cs apply --yes
expect_contains "$OUT" "the login shell of $U prints text"
if ((SECONDS - start < 20)); then ok "a banner: told in $((SECONDS - start)) s, no wait for SFTP"; else
	not_ok "a banner: told in $((SECONDS - start)) s, no wait for SFTP"; fi
if [[ -z $(ls -A "$FILES") ]]; then ok "a banner: nothing written"; else
	not_ok "a banner: nothing written" "$(ls -la "$FILES")"; fi

# 2. The same banner on stderr only: SFTP works; the plan and its
# permission checks read the commands' output, not the banner.
{
	echo 'echo "Welcome to web1. Authorised use only." >&2'
	cat "$H/.bashrc.debian"
} >"$H/.bashrc"
expect_exit 0 cs apply --yes
expect_contains "$OUT" "Apply complete"
expect_exit 0 cs plan --detailed-exitcode
[[ -s $FILES/web.crt && $(cat "$FILES/reload.log") == reloaded ]] && ok "a banner on stderr: written, reloaded once" ||
	not_ok "a banner on stderr: written, reloaded once" "$(ls -la "$FILES")"
# A group the user is not in is still predicted (the who part of gathering
# was read through the banner).
chgrp root "$FILES/web.key"
chmod 0644 "$FILES/web.key"
expect_exit 0 cs plan
expect_contains "$OUT" "mode of $FILES/web.key is 0644, want 0600; $FILES/web.key: group root will become $U"
expect_exit 0 cs apply --yes

# 3. Back to a banner on stdout, files in sync: still an error (their
# next replacement would fail), exit 1.
{
	echo 'echo "Welcome to web1. Authorised use only."'
	cat "$H/.bashrc.debian"
} >"$H/.bashrc"
expect_exit 1 cs plan
expect_contains "$OUT" "breaks SFTP"

# 4. zsh with nounset everywhere (~/.zshenv is read for every command).
cp "$H/.bashrc.debian" "$H/.bashrc"
if command -v zsh >/dev/null 2>&1; then
	chsh -s "$(command -v zsh)" "$U"
	printf 'setopt nounset\necho "zsh here" >&2\n' >"$H/.zshenv"
	chown "$U:" "$H/.zshenv"
	sed -i 's/common_name: web.test/common_name: web.test\n    dns_names: [web.test, www.web.test]/' "$SITE/certsync.yaml"
	expect_exit 0 cs apply --yes
	expect_contains "$OUT" "Apply complete"
	expect_exit 0 cs plan --detailed-exitcode
	[[ $(wc -l <"$FILES/reload.log") == 3 ]] && ok "zsh: reloaded once more" ||
		not_ok "zsh: reloaded once more" "$(cat "$FILES/reload.log")"
else
	not_ok "zsh is not installed and cannot be"
fi

# 5. fish: refused at once, naming the shell's complaint; nothing runs.
if command -v fish >/dev/null 2>&1; then
	chsh -s "$(command -v fish)" "$U"
	rm -f "$FILES"/*
	expect_exit 1 cs plan
	expect_contains "$OUT" "error: host web1: the login shell of $U did not run a POSIX shell command \\(fish: .*\\): certsync needs sh, dash, bash, ksh or zsh as login shell \\(chsh -s /bin/sh $U\\)"
	expect_exit 1 cs apply --yes
	if [[ -z $(ls -A "$FILES") ]]; then ok "fish: nothing written, no reload run"; else
		not_ok "fish: nothing written, no reload run" "$(ls -la "$FILES")"; fi
	chsh -s /bin/bash "$U"
else
	not_ok "fish is not installed and cannot be"
fi

leftovers=$(find "$FILES" "$H" /tmp -maxdepth 2 -name '*certsync-*' -newer "$TEST_TMP/stamp" -user "$U" 2>/dev/null)
[[ -z $leftovers ]] && ok "no temporary files left" || not_ok "no temporary files left" "$leftovers"

done_testing
