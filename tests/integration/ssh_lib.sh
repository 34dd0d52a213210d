# tests/integration/ssh_lib.sh — OpenSSH test hosts on loopback.
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/ssh_lib.sh"
#   ssh_lib_init || skip...
#   ssh_start web1 ed25519        # sshd on 127.0.0.1 with its own host key(s)
#   "$SSH_HARNESS" $(ssh_args web1) run 'id -un'
#
# Gives: a /bin/sh login user $SSH_USER (certsync-test, created with useradd
# when missing) with sudo NOPASSWD through /etc/sudoers.d/, a second one
# without any sudo rights ($SSH_USER_NOSUDO), a client key pair
# ($SSH_KEY, Ed25519) in its authorized keys, a password for it
# ($SSH_PASSWORD_FILE), a folder it owns ($SSH_FILES), and
# per-host sshd instances whose host keys, config, log and pid live in
# $TEST_TMP/sshd-NAME.  Every sshd is stopped through lib.sh's cleanup
# registry.  Needs root (it creates the user and runs sshd); installs
# openssh-server and sudo when they are missing.
#
# The users, the password and the sudoers entry belong to the machine, and
# suites may run at the same time (several checkouts on one machine): the
# password is made once per machine and kept in a root-only file (a new one
# every run logged other suites out mid-test), the set-up is done by one
# suite at a time, and the sudoers entry goes when the last suite using it
# ends.
# shellcheck shell=bash

SSH_USER=certsync-test
SSH_USER_NOSUDO=certsync-nosudo # same key, no sudoers entry
SSHD=/usr/sbin/sshd
declare -A SSHD_PORT SSHD_PID SSHD_DIR

SSH_LIB_STATE=/var/lib/certsync-test   # kept: the password (root only)
SSH_LIB_RUN=/run/certsync-test         # while suites run: lock, which suites
SSH_SUDOERS=/etc/sudoers.d/certsync-test
SSH_SUDOERS_MARK="# tests/integration/ssh_lib.sh: goes when the last suite using it ends"

# _ssh_lib_locked CMD...: run CMD holding the machine-wide lock (in a
# subshell: CMD's variables do not come back, its status does).
_ssh_lib_locked() {
	mkdir -p "$SSH_LIB_RUN" && chmod 700 "$SSH_LIB_RUN" || return 1
	(
		flock -w 120 9 || { echo "cannot lock $SSH_LIB_RUN/lock"; exit 1; }
		"$@"
	) 9>"$SSH_LIB_RUN/lock"
}

# The machine's part of ssh_lib_init; runs under the lock.
_ssh_lib_machine_setup() {
	local u
	for u in "$SSH_USER" "$SSH_USER_NOSUDO"; do
		if ! id "$u" >/dev/null 2>&1; then
			useradd -m -s /bin/sh "$u" || { echo "useradd $u failed"; return 1; }
		fi
	done
	_ssh_lib_set_password "$SSH_USER_NOSUDO" '*' || return 1
	# The password for the password tests: made once for this machine.
	mkdir -p "$SSH_LIB_STATE" && chmod 700 "$SSH_LIB_STATE" || return 1
	if [[ ! -s $SSH_PASSWORD_FILE ]]; then
		(umask 077 && openssl rand -hex 12 >"$SSH_PASSWORD_FILE.new" &&
			mv -f "$SSH_PASSWORD_FILE.new" "$SSH_PASSWORD_FILE") ||
			{ echo "cannot write $SSH_PASSWORD_FILE"; return 1; }
	fi
	chmod 600 "$SSH_PASSWORD_FILE"
	_ssh_lib_set_password "$SSH_USER" "$SSH_PASSWORD_FILE" || return 1
	# Mark this suite as one that uses the sudoers entry (see release).
	mkdir -p "$SSH_LIB_RUN/suites" && : >"$SSH_LIB_RUN/suites/$$" || return 1
	if [[ ! -f $SSH_SUDOERS ]]; then
		printf '%s\n%s ALL=(ALL) NOPASSWD: ALL\n' "$SSH_SUDOERS_MARK" "$SSH_USER" >"$SSH_SUDOERS"
		chmod 0440 "$SSH_SUDOERS"
	fi
}

# _ssh_lib_set_password USER '*' | USER PASSWORD_FILE: lock the user's
# password ('*') or set it, unless it is that already: a suite starting
# while another runs changes nothing under it.
_ssh_lib_set_password() {
	local user=$1 current salt
	current=$(getent shadow "$user" | cut -d: -f2)
	if [[ $2 == '*' ]]; then
		[[ $current == '*' ]] && return 0
		usermod -p '*' "$user" || { echo "usermod $user failed"; return 1; }
		return 0
	fi
	# The password hashed with the current hash's salt ("$6$SALT$...") is
	# that hash again when it is the same password.
	IFS='$' read -r _ _ salt _ <<<"$current"
	if [[ -n $salt && $current == "$(openssl passwd -6 -salt "$salt" -stdin <"$2" 2>/dev/null)" ]]; then
		return 0
	fi
	usermod -p "$(openssl passwd -6 -stdin <"$2")" "$user" || { echo "usermod $user failed"; return 1; }
}

# At exit, under the lock: drop this suite's mark, and the sudoers entry
# when no other suite that uses it is still running (a mark whose process
# is gone was left by a suite that was killed).
_ssh_lib_machine_release() {
	rm -f "$SSH_LIB_RUN/suites/$$"
	local f
	for f in "$SSH_LIB_RUN"/suites/*; do
		[[ -e $f ]] || continue
		kill -0 "${f##*/}" 2>/dev/null && return 0
		rm -f "$f"
	done
	# Only an entry made here: one without the mark was made by an older
	# copy of this file, which removes it itself.
	if [[ -f $SSH_SUDOERS && $(head -n 1 "$SSH_SUDOERS") == "$SSH_SUDOERS_MARK" ]]; then
		rm -f "$SSH_SUDOERS"
	fi
}

# ssh_lib_init: prepare the user, keys and folders; status 1 (with a reason
# on stdout) when this machine cannot run sshd tests.
ssh_lib_init() {
	if ((EUID != 0)); then
		echo "needs root to create the test user and run sshd"
		return 1
	fi
	if [[ ! -x $SSHD ]] || ! command -v sudo >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			openssh-server sudo >/dev/null 2>&1 ||
			{ echo "openssh-server and sudo are not installed and cannot be"; return 1; }
	fi
	mkdir -p /run/sshd
	SSH_PASSWORD_FILE=$SSH_LIB_STATE/ssh-password
	cleanup_add "_ssh_lib_locked _ssh_lib_machine_release"
	_ssh_lib_locked _ssh_lib_machine_setup || return 1

	# sshd reads authorized_keys as the user: the path must be reachable.
	chmod 711 "$TEST_TMP"
	SSH_KEYS=$TEST_TMP/keys
	mkdir -p "$SSH_KEYS"
	chmod 755 "$SSH_KEYS"
	SSH_KEY=$SSH_KEYS/id_ed25519
	ssh-keygen -q -t ed25519 -N '' -C certsync-test -f "$SSH_KEY" || return 1
	SSH_AUTHORIZED=$SSH_KEYS/authorized_keys
	cat "$SSH_KEY.pub" >"$SSH_AUTHORIZED"
	chmod 644 "$SSH_AUTHORIZED"

	SSH_FILES=$TEST_TMP/files
	mkdir -p "$SSH_FILES"
	chown "$SSH_USER:" "$SSH_FILES"
	SSH_KNOWN_HOSTS=$TEST_TMP/known_hosts
	: >"$SSH_KNOWN_HOSTS"
	SSH_HARNESS=${SSH_HARNESS:-$(dirname "$CERTSYNC")/tests/ssh_harness}
	[[ -x $SSH_HARNESS ]] || { echo "no $SSH_HARNESS (build first)"; return 1; }
	# The agent of whoever runs the tests must not take part.
	unset SSH_AUTH_SOCK
	return 0
}

# ssh_authorize PUBKEY_FILE: allow another client key too.
ssh_authorize() {
	cat "$1" >>"$SSH_AUTHORIZED"
}

# ssh_start NAME [KEYTYPE...]: start an sshd on a free 127.0.0.1 port with
# new host keys of the given types (default ed25519: one of ed25519, ecdsa,
# ecdsa384, ecdsa521, rsa).  Sets SSHD_PORT[NAME], SSHD_PID[NAME],
# SSHD_DIR[NAME]; status 1 when it does not come up.  $SSHD_EXTRA, when
# set, is added to the config (e.g. "HostKeyAlgorithms +ssh-rsa").
ssh_start() {
	local name=$1
	shift
	local types=("$@")
	((${#types[@]})) || types=(ed25519)
	local dir=$TEST_TMP/sshd-$name
	mkdir -p "$dir"
	local hostkeys="" t
	for t in "${types[@]}"; do
		local kt=$t bits=()
		case $t in
		ecdsa) kt=ecdsa bits=(-b 256) ;;
		ecdsa384) kt=ecdsa bits=(-b 384) ;;
		ecdsa521) kt=ecdsa bits=(-b 521) ;;
		rsa) bits=(-b 3072) ;;
		esac
		ssh-keygen -q -t "$kt" "${bits[@]}" -N '' -C "$name" -f "$dir/host_${t}_key" || return 1
		hostkeys+="HostKey $dir/host_${t}_key"$'\n'
	done
	local port
	port=$(free_port) || return 1
	cat >"$dir/sshd_config" <<-EOF
		Port $port
		ListenAddress 127.0.0.1
		${hostkeys}PidFile $dir/sshd.pid
		AuthorizedKeysFile $SSH_AUTHORIZED
		AllowUsers $SSH_USER $SSH_USER_NOSUDO
		UsePAM no
		StrictModes no
		PasswordAuthentication yes
		KbdInteractiveAuthentication no
		PermitRootLogin no
		MaxStartups 200
		LogLevel VERBOSE
		Subsystem sftp /usr/lib/openssh/sftp-server
		${SSHD_EXTRA:-}
	EOF
	"$SSHD" -D -f "$dir/sshd_config" -E "$dir/sshd.log" &
	local pid=$!
	cleanup_add "kill $pid"
	SSHD_PORT[$name]=$port
	SSHD_PID[$name]=$pid
	SSHD_DIR[$name]=$dir
	if ! wait_port "$port" 10; then
		echo "# sshd $name did not start:" >&2
		sed 's/^/# /' "$dir/sshd.log" >&2
		return 1
	fi
}

# ssh_known_line NAME [KEYTYPE]: the known_hosts line for host NAME as
# OpenSSH writes it ("[127.0.0.1]:PORT TYPE KEY").
ssh_known_line() {
	local name=$1 t=${2:-ed25519}
	local pub
	read -r pub <"${SSHD_DIR[$name]}/host_${t}_key.pub"
	local type key
	read -r type key _ <<<"$pub"
	echo "[127.0.0.1]:${SSHD_PORT[$name]} $type $key"
}

# ssh_args NAME [KNOWN_HOSTS]: harness options for logging in to NAME with
# the test key.
ssh_args() {
	local name=$1 kh=${2:-$SSH_KNOWN_HOSTS}
	echo "--name $name --address 127.0.0.1 --port ${SSHD_PORT[$name]} --user $SSH_USER" \
		"--identity $SSH_KEY --known-hosts $kh --timeout 10"
}

# ssh_kill_sessions NAME: SIGKILL every process under host NAME's listening
# sshd (the per-connection sshd processes and what they run), leaving the
# listener up: for "the connection dropped" tests.
ssh_kill_sessions() {
	local pids=() todo=("${SSHD_PID[$1]}") p kids
	while ((${#todo[@]})); do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		kids=$(ps -o pid= --ppid "$p" 2>/dev/null)
		for k in $kids; do
			pids+=("$k")
			todo+=("$k")
		done
	done
	((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
	return 0
}
