#!/usr/bin/env bash
# The SSH transport against real OpenSSH sshd instances on 127.0.0.1:
# commands (stdin, 1 MiB both ways, caps, exit codes and signals), files
# (read, write, stat, remove, modes, owner through sudo, atomic replace even
# when the connection is killed mid-upload), host keys (plain, hashed,
# [host]:port, patterns, every key type, unknown, changed, accept-new),
# authentication (key, passphrase, password, failures, RSA under libssh2
# 1.10) and unreachable hosts.  Driven through tests/tools/ssh_harness.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ssh_lib.sh"

if ! ssh_lib_init >"$TEST_TMP/why"; then
	# Not a pass: a machine that cannot run sshd is reported, not hidden.
	not_ok "ssh test hosts available" "$(cat "$TEST_TMP/why")"
	done_testing
fi
H=$SSH_HARNESS
# Under ASan: libssh2 1.10's own ECDSA key leak is not ours (tests/lsan.supp).
# The slow unwinder sees through libcrypto's frames to name libssh2.
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/.." && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"

ssh_start web1 ed25519 || { not_ok "sshd web1 starts"; done_testing; }
ssh_start web2 ed25519 || { not_ok "sshd web2 starts"; done_testing; }
ssh_start multi ed25519 ecdsa ecdsa384 ecdsa521 rsa || { not_ok "sshd multi starts"; done_testing; }
ssh_start rsaonly rsa || { not_ok "sshd rsaonly starts"; done_testing; }
SSHD_EXTRA="HostKeyAlgorithms +ssh-rsa" ssh_start legacy rsa || { not_ok "sshd legacy starts"; done_testing; }
ssh_known_line web1 >"$SSH_KNOWN_HOSTS"
ssh_known_line web2 >>"$SSH_KNOWN_HOSTS"
P1=${SSHD_PORT[web1]}

# h NAME ARGS...: the harness logged in to NAME with the test key.
h() {
	local name=$1
	shift
	# shellcheck disable=SC2046
	"$H" $(ssh_args "$name") "$@"
}

expect_same() { # expect_same FILE_A FILE_B NAME
	if cmp -s "$1" "$2"; then ok "$3"; else not_ok "$3" "$(cmp "$1" "$2" 2>&1)"; fi
}

expect_eq() { # expect_eq GOT WANT NAME
	if [[ $1 == "$2" ]]; then ok "$3"; else not_ok "$3" "got:  $1" "want: $2"; fi
}

# ---- run --------------------------------------------------------------------

head -c 1048576 /dev/urandom >"$TEST_TMP/in1m"
expect_exit 0 h web1 run 'tee /dev/fd/2' "$TEST_TMP/in1m" "$TEST_TMP/o1" "$TEST_TMP/e1"
expect_contains "$OUT" '^run: exit=0 out=1048576 err=1048576$'
expect_same "$TEST_TMP/in1m" "$TEST_TMP/o1" "1 MiB stdin comes back on stdout"
expect_same "$TEST_TMP/in1m" "$TEST_TMP/e1" "... and on stderr at the same time"

head -c 8388608 /dev/urandom >"$TEST_TMP/in8m"
expect_exit 0 h web1 run 'cat; head -c 8388608 /dev/zero >&2' "$TEST_TMP/in8m" "$TEST_TMP/o1" -
expect_contains "$OUT" '^run: exit=0 out=8388608 err=8388608$'
expect_same "$TEST_TMP/in8m" "$TEST_TMP/o1" "8 MiB through cat while 8 MiB go to stderr"

expect_exit 0 h web1 run 'head -c 16777216 /dev/zero; echo done >&2' - "$TEST_TMP/o1" "$TEST_TMP/e1" 1000
expect_contains "$OUT" '^run: exit=0 out=1000 err=5$'
expect_eq "$(cat "$TEST_TMP/e1")" "done" "capped output is drained and dropped, the command finishes"

expect_exit 0 h web1 run 'exit 3' :: run 'kill -TERM $$' :: run 'kill -KILL $$' :: run 'true' "$TEST_TMP/in1m"
expect_contains "$OUT" '^run: exit=3 '
expect_contains "$OUT" '^run: exit=143 '
expect_contains "$OUT" '^run: exit=137 '
expect_contains "$OUT" '^run: exit=0 out=0 err=0$'

expect_exit 0 h web1 run 'printf "%s|" "$0" "$@"; echo; echo "$HOME"'
expect_contains "$OUT" "^/home/$SSH_USER\$"

# One login for a whole sequence of calls.
before=$(grep -c 'Accepted publickey' "${SSHD_DIR[web1]}/sshd.log")
expect_exit 0 h web1 run true :: stat /etc/passwd :: read /etc/hostname :: run true
after=$(grep -c 'Accepted publickey' "${SSHD_DIR[web1]}/sshd.log")
expect_eq "$((after - before))" 1 "one session for every call of a handle"

# ---- files ------------------------------------------------------------------

F=$SSH_FILES
printf 'first\n' >"$TEST_TMP/v1"
printf 'second version\n' >"$TEST_TMP/v2"
expect_exit 0 h web1 stat "$F/a.crt" :: write "$F/a.crt" "$TEST_TMP/v1" 0640 :: stat "$F/a.crt" \
	:: write "$F/a.crt" "$TEST_TMP/v2" 0644 :: stat "$F/a.crt" :: read "$F/a.crt" "$TEST_TMP/got"
expect_contains "$OUT" '^stat: missing$'
expect_contains "$OUT" "^stat: mode=0640 owner=$SSH_USER group=$SSH_USER uid=[0-9]+ gid=[0-9]+ size=6\$"
expect_contains "$OUT" "^stat: mode=0644 owner=$SSH_USER group=$SSH_USER .* size=15\$"
expect_same "$TEST_TMP/v2" "$TEST_TMP/got" "read returns what the second write put there"
expect_same "$TEST_TMP/v2" "$F/a.crt" "the file on the host has the new content"
expect_eq "$(stat -c %a "$F/a.crt")" 644 "mode on the host"

printf 'key\n' >"$TEST_TMP/key"
expect_exit 0 h web1 write "$F/k.key" "$TEST_TMP/key" 0600
expect_eq "$(stat -c '%a %U' "$F/k.key")" "600 $SSH_USER" "a key is written 0600"
leftovers=$(find "$F" -name '*.certsync-*')
expect_eq "$leftovers" "" "no temporary files are left behind"

expect_exit 0 h web1 remove "$F/k.key" :: remove "$F/k.key" :: read "$F/k.key" :: stat "$F/k.key"
expect_contains "$OUT" '^read: ENOENT'
expect_contains "$OUT" '^stat: missing$'
[[ -e $F/k.key ]] && not_ok "remove deletes the file" || ok "remove deletes the file"

expect_exit 1 h web1 read "$F/a.crt" - 4
expect_contains "$OUT" "^error: host web1: read $F/a.crt: larger than 4 bytes\$"

expect_exit 1 h web1 write /etc/certsync-denied.crt "$TEST_TMP/v1" 0644
expect_contains "$OUT" '^error: host web1: sftp write /etc/certsync-denied.crt: create temporary file /etc/\.certsync-denied\.crt\.certsync-[0-9a-f]{16}-[A-Za-z0-9]+: permission denied$'
[[ -e /etc/certsync-denied.crt ]] && not_ok "nothing written on permission denied" || ok "nothing written on permission denied"

expect_exit 1 h web1 read /etc/shadow
expect_contains "$OUT" '^error: host web1: sftp read /etc/shadow: permission denied$'

# ---- become: sudo -------------------------------------------------------------

mkdir -p "$TEST_TMP/private"
chmod 700 "$TEST_TMP/private" # root only: the login user cannot even look in
printf 'secret\n' >"$TEST_TMP/private/x.key"
chmod 600 "$TEST_TMP/private/x.key"
expect_exit 0 h web1 --sudo run 'id -un; printf "%s" "$1"' \
	:: write /etc/certsync-test.crt "$TEST_TMP/v1" 0640 root "$SSH_USER" \
	:: stat /etc/certsync-test.crt :: read /etc/shadow "$TEST_TMP/shadow" \
	:: stat "$TEST_TMP/private/x.key" :: read "$TEST_TMP/private/x.key" "$TEST_TMP/got" \
	:: write "$TEST_TMP/private/x.key" "$TEST_TMP/v2" 0600 :: remove /etc/certsync-test.crt
cleanup_add "rm -f /etc/certsync-test.crt"
expect_contains "$OUT" '^root$'
expect_contains "$OUT" "^stat: mode=0640 owner=root group=$SSH_USER uid=0 "
expect_same /etc/shadow "$TEST_TMP/shadow" "sudo cat reads what the user cannot"
expect_contains "$OUT" '^stat: mode=0600 owner=root group=root uid=0 gid=0 size=7$'
expect_same "$TEST_TMP/private/x.key" "$TEST_TMP/v2" "sudo install + mv replaces a file in a folder the user cannot enter"
expect_eq "$(stat -c '%a %U %G' "$TEST_TMP/private/x.key")" "600 root root" "mode and owner after a sudo write"
[[ -e /etc/certsync-test.crt ]] && not_ok "sudo remove" || ok "sudo remove"
# The harness never sets a run tag, so its upload folders carry the
# unset one; other scripts running beside this one (as the same ssh test
# user) leave folders of their own runs' tags for a moment.
leftovers=$(find /etc "$TEST_TMP/private" -maxdepth 1 -name '*.certsync-*'; ls -d /tmp/certsync.* /tmp/certsync-0000000000000000.* 2>/dev/null | xargs -r -n1 stat -c '%U %n' | grep "^$SSH_USER " || true)
expect_eq "$leftovers" "" "no temporary files or upload folders are left behind"

# sudo that asks for a password: a clear error, not a hang or a silent failure.
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER_NOSUDO" --identity "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --sudo run 'id -un'
expect_contains "$OUT" "^error: sudo needs a password on web1: give the user $SSH_USER_NOSUDO NOPASSWD for the commands certsync runs"
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER_NOSUDO" --identity "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --sudo write /etc/certsync-test.crt "$TEST_TMP/v1" 0644
expect_contains "$OUT" "^error: sudo needs a password on web1"
[[ -e /etc/certsync-test.crt ]] && not_ok "nothing written without sudo" || ok "nothing written without sudo"

# ---- connection killed in the middle of an upload ------------------------------

printf 'old content\n' >"$F/big.crt"
truncate -s 256M "$TEST_TMP/big"
h web1 write "$F/big.crt" "$TEST_TMP/big" 0644 >"$TEST_TMP/kill.out" 2>&1 &
writer=$!
cleanup_add "kill $writer"
seen=""
# Up to 30 s: under the sanitizers on a busy machine the session set-up
# alone can take several seconds before the first byte is written.
for ((i = 0; i < 600; i++)); do
	tmpf=$(find "$F" -name '.big.crt.certsync-*' -size +1M 2>/dev/null | head -n1)
	if [[ -n $tmpf ]]; then
		seen=$tmpf
		break
	fi
	sleep 0.05
done
ssh_kill_sessions web1
wait "$writer"
rc=$?
if [[ -n $seen ]]; then ok "upload in progress when the sessions were killed"; else not_ok "upload in progress when the sessions were killed" "$(cat "$TEST_TMP/kill.out")"; fi
expect_eq "$rc" 1 "the write fails"
expect_contains "$(cat "$TEST_TMP/kill.out")" "^error: host web1: sftp write $F/big.crt: connection lost"
expect_eq "$(cat "$F/big.crt")" "old content" "the target still has its old content"
rm -f "$F"/.big.crt.certsync-*

# ---- host keys --------------------------------------------------------------

KH=$TEST_TMP/kh
fp_of() { ssh-keygen -l -f "$1" | awk '{print $2}'; }

ssh_known_line web1 >"$KH"
ssh-keygen -q -H -f "$KH" >/dev/null 2>&1
rm -f "$KH.old"
expect_contains "$(cat "$KH")" '^\|1\|'
expect_exit 0 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run 'echo hashed'
expect_contains "$OUT" '^hashed$'

line=$(ssh_known_line web1)
for form in "foo.example,${line}" "[127.0.0.*]:$P1 ${line#* }" "# comment
@cert-authority *.example ssh-ed25519 AAAA
sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t
${line}"; do
	printf '%s\n' "$form" >"$KH"
	expect_exit 0 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run true
done

# A plain "127.0.0.1" entry is for port 22 only (OpenSSH's rule).
printf '127.0.0.1 %s\n' "${line#* }" >"$KH"
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run true
expect_contains "$OUT" 'host key not in known_hosts'

# Every key type, with only that one known: the client must ask for it.
for t in ed25519 ecdsa ecdsa384 ecdsa521; do
	ssh_known_line multi "$t" >"$KH"
	expect_exit 0 "$H" --name multi --address 127.0.0.1 --port "${SSHD_PORT[multi]}" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run "echo $t"
	expect_contains "$OUT" "^$t\$"
done
# RSA host keys: libssh2 1.10 checks them only as ssh-rsa (SHA-1), which
# OpenSSH 9 does not offer unless told to; the refusal must say so.
ssh_known_line multi rsa >"$KH"
expect_exit 1 "$H" --name multi --address 127.0.0.1 --port "${SSHD_PORT[multi]}" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run true
expect_contains "$OUT" "known_hosts lists only an RSA key for it: libssh2 1\.10 checks RSA host keys only with SHA-1"
ssh_known_line rsaonly rsa >"$KH"
expect_exit 1 "$H" --name rsaonly --address 127.0.0.1 --port "${SSHD_PORT[rsaonly]}" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run true
expect_contains "$OUT" "ssh handshake: .*if the server has only an RSA host key: libssh2 1\.10 checks RSA host keys only with SHA-1"
ssh_known_line legacy rsa >"$KH"
expect_exit 0 "$H" --name legacy --address 127.0.0.1 --port "${SSHD_PORT[legacy]}" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run "echo rsa"
expect_contains "$OUT" '^rsa$'

# Unknown: refused, with the fingerprint ssh-keygen shows.
: >"$KH"
fp=$(fp_of "${SSHD_DIR[web1]}/host_ed25519_key.pub")
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run true
expect_contains "$OUT" "^error: host web1 \\(127\\.0\\.0\\.1:$P1\\): host key not in known_hosts $KH; its SHA-256 fingerprint is ${fp//+/\\+} \\(ssh-ed25519\\)"
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$TEST_TMP/missing/kh" run true
expect_contains "$OUT" 'host key not in known_hosts'

# Changed: web2's key listed for web1's address; accept-new must not help.
ssh_known_line web2 | sed "s/:${SSHD_PORT[web2]} /:$P1 /" >"$KH"
cp "$KH" "$KH.before"
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" --accept-new run true
expect_contains "$OUT" "^error: host web1 \\(127\\.0\\.0\\.1:$P1\\): host key changed: the server offers ssh-ed25519 ${fp//+/\\+}, known_hosts $KH line 1 has another key; refusing to connect"
expect_same "$KH.before" "$KH" "a changed key is never replaced"
# Known only with another key type: also a change, not "new".
ssh_known_line multi ecdsa | sed "s/:${SSHD_PORT[multi]} /:$P1 /" >"$KH"
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" --accept-new run true
expect_contains "$OUT" "host key changed: the server offers ssh-ed25519 .* has only ecdsa-sha2-nistp256 for \\[127\\.0\\.0\\.1\\]:$P1"

# accept-new: the key is added; OpenSSH's client agrees with what was written.
rm -f "$KH"
expect_exit 0 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" --accept-new run true
expect_eq "$(cat "$KH")" "$(ssh_known_line web1)" "accept-new appends the OpenSSH line"
expect_eq "$(stat -c %a "$KH")" 600 "a new known_hosts file is private"
expect_exit 0 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$KH" run true
expect_exit 0 ssh -n -i "$SSH_KEY" -p "$P1" -o BatchMode=yes -o StrictHostKeyChecking=yes \
	-o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null -F /dev/null "$SSH_USER@127.0.0.1" true

# ---- authentication -----------------------------------------------------------

base=(--name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --known-hosts "$SSH_KNOWN_HOSTS")

expect_exit 0 "$H" "${base[@]}" --password-file "$SSH_PASSWORD_FILE" run 'echo by-password'
expect_contains "$OUT" '^by-password$'

export CS_TEST_BAD_PW=Wr0ng-Pa55word-value
expect_exit 1 "$H" "${base[@]}" --password-env CS_TEST_BAD_PW run true
expect_contains "$OUT" "^error: host web1 \\(127\\.0\\.0\\.1:$P1\\): authentication as $SSH_USER failed; tried password from env CS_TEST_BAD_PW \\(refused\\); the server accepts publickey,password\$"
if grep -q "$CS_TEST_BAD_PW" <<<"$OUT"; then not_ok "the password is not in the message"; else ok "the password is not in the message"; fi

ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/stranger"
expect_exit 1 "$H" "${base[@]}" --identity "$TEST_TMP/stranger" run true
expect_contains "$OUT" "authentication as $SSH_USER failed; tried identity $TEST_TMP/stranger \\(refused\\)"

export CS_TEST_PASSPHRASE=correct-horse
ssh-keygen -q -t ed25519 -N "$CS_TEST_PASSPHRASE" -f "$TEST_TMP/locked"
ssh_authorize "$TEST_TMP/locked.pub"
expect_exit 0 "$H" "${base[@]}" --identity "$TEST_TMP/locked" --passphrase-env CS_TEST_PASSPHRASE run true
export CS_TEST_WRONG_PASSPHRASE=battery-staple
expect_exit 1 "$H" "${base[@]}" --identity "$TEST_TMP/locked" --passphrase-env CS_TEST_WRONG_PASSPHRASE run true
expect_contains "$OUT" "tried identity $TEST_TMP/locked \\(cannot be read: wrong passphrase"
if grep -q battery-staple <<<"$OUT"; then not_ok "the passphrase is not in the message"; else ok "the passphrase is not in the message"; fi

ssh-keygen -q -t ecdsa -b 384 -N '' -f "$TEST_TMP/ecdsa"
ssh_authorize "$TEST_TMP/ecdsa.pub"
expect_exit 0 "$H" "${base[@]}" --identity "$TEST_TMP/ecdsa" run 'echo ecdsa-login'

ssh-keygen -q -t rsa -b 3072 -N '' -f "$TEST_TMP/rsa"
ssh_authorize "$TEST_TMP/rsa.pub"
expect_exit 1 "$H" "${base[@]}" --identity "$TEST_TMP/rsa" run true
expect_contains "$OUT" "tried identity $TEST_TMP/rsa \\(refused\\).*the key is RSA: libssh2 1\\.10 signs RSA keys only with SHA-1 .*libssh2 ≥ 1\\.11"
# The same key with its .pub gone: recognised from the private key file.
rm -f "$TEST_TMP/rsa.pub"
expect_exit 1 "$H" "${base[@]}" --identity "$TEST_TMP/rsa" run true
expect_contains "$OUT" 'libssh2 ≥ 1\.11'

expect_exit 1 "$H" "${base[@]}" run true
expect_contains "$OUT" 'tried nothing: no ssh-agent, identity or password'

# A real ssh-agent holding the key: no identity configured.
eval "$(ssh-agent -s)" >/dev/null
cleanup_add "kill $SSH_AGENT_PID"
ssh-add -q "$SSH_KEY" 2>/dev/null
expect_exit 0 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --known-hosts "$SSH_KNOWN_HOSTS" run 'echo agent'
expect_contains "$OUT" '^agent$'
# An agent whose keys the server refuses: said so, then the identity is tried.
ssh-add -q -D 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/stranger"
ssh-add -q "$TEST_TMP/stranger" 2>/dev/null
expect_exit 1 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --known-hosts "$SSH_KNOWN_HOSTS" run true
expect_contains "$OUT" 'ssh-agent \(1 key refused\)'
expect_exit 0 "$H" --name web1 --address 127.0.0.1 --port "$P1" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" run 'echo after-agent'
kill "$SSH_AGENT_PID" 2>/dev/null
unset SSH_AUTH_SOCK SSH_AGENT_PID

# IPv6: a host at ::1, known as [::1]:PORT.
if SSHD_EXTRA="ListenAddress ::1" ssh_start v6 ed25519; then
	P6=${SSHD_PORT[v6]}
	read -r t k _ <"${SSHD_DIR[v6]}/host_ed25519_key.pub"
	echo "[::1]:$P6 $t $k" >"$TEST_TMP/kh6"
	expect_exit 0 "$H" --name v6 --address ::1 --port "$P6" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$TEST_TMP/kh6" run 'echo six'
	expect_contains "$OUT" '^six$'
	expect_exit 1 "$H" --name v6 --address ::1 --port "$P6" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" run true
	expect_contains "$OUT" 'host v6 \(\[::1\]:'"$P6"'\): .*(not in|unknown|known_hosts)'
else
	not_ok "sshd on ::1 starts"
fi

# ---- unreachable --------------------------------------------------------------

down=$(free_port)
start=$(date +%s%N)
expect_exit 1 "$H" --name web9 --address 127.0.0.1 --port "$down" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --timeout 5 run true
took=$((($(date +%s%N) - start) / 1000000))
expect_contains "$OUT" "^error: host web9 \\(127\\.0\\.0\\.1:$down\\): connect: connection refused\$"
((took < 5000)) && ok "refused within the timeout (${took} ms)" || not_ok "refused within the timeout" "${took} ms"

# A port that accepts but never speaks SSH: the handshake times out.
silent=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
c, _ = s.accept(); time.sleep(60)' "$silent" &
silent_pid=$!
cleanup_add "kill $silent_pid"
wait_port "$silent" 5
start=$(date +%s%N)
expect_exit 1 "$H" --name mute --address 127.0.0.1 --port "$silent" --user "$SSH_USER" --identity "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --timeout 2 run true
took=$((($(date +%s%N) - start) / 1000000))
expect_contains "$OUT" "^error: host mute \\(127\\.0\\.0\\.1:$silent\\): ssh handshake: timed out after 2 s\$"
((took < 4000)) && ok "handshake timeout honoured (${took} ms)" || not_ok "handshake timeout honoured" "${took} ms"

done_testing
