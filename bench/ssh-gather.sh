#!/usr/bin/env bash
# bench/ssh-gather.sh — how long gathering takes over SSH at fleet size:
# `certsync plan` against OpenSSH (`xargs -P 32 ssh … cat`) and ansible-core
# (`ansible all -f 32 -m command -a 'cat …'`), all reading the same files from
# the same loopback sshd hosts in the same run.
#
#   bash bench/ssh-gather.sh            (as root: it creates the test user and runs sshd)
#
# Environment: BENCH_HOSTS (default 200), BENCH_RUNS (default 5, after one
# warm-up round that is not counted), BENCH_FORKS (default 32: certsync's
# settings.parallelism, xargs -P and ansible -f), CERTSYNC_BIN (default
# build/certsync, built here with meson + ninja when missing), BENCH_BASELINE
# (another certsync binary, e.g. an older commit's build, timed as one more
# contender on the same hosts and files), BENCH_ONLY (a space-separated list
# of contenders to run: certsync baseline openssh openssh-c25519 ansible;
# default all; certsync is always run), BENCH_WARMUP_ANSIBLE (default 1; 0
# leaves ansible out of the warm-up round, which at 200 hosts costs minutes).
#
# It installs ansible-core with apt-get when it is missing (the benchmark
# only; CI and scripts/install-deps do not).  Only 127.0.0.1 is contacted.
# Each round runs every contender once, in turn; the table gives medians of
# wall time, the client side's CPU (user+sys of the whole process tree, see
# bench/measure.py) and the sshd side's CPU (every listener's own and reaped
# children's time, which includes the commands and modules run "remotely"),
# the peak RSS of the largest process each contender started, and the
# sshd-side limit: the sshd side's CPU divided by the number of CPUs, the
# shortest wall time the servers' work allows on this machine.
# The markdown table at the end is what BENCHMARKS.md records.
set -uo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$bench_dir/.." && pwd)
HOSTS=${BENCH_HOSTS:-200}
RUNS=${BENCH_RUNS:-5}
FORKS=${BENCH_FORKS:-32}

die() { echo "ssh-gather: $*" >&2; exit 1; }

((EUID == 0)) || die "run as root (it creates the test user and starts sshd)"
if [[ -z ${CERTSYNC_BIN:-} ]]; then
	if [[ ! -x $root/build/certsync || ! -x $root/build/tests/ssh_harness ]]; then
		[[ -d $root/build ]] || meson setup "$root/build" >/dev/null || die "meson setup failed"
	fi
	ninja -C "$root/build" >/dev/null || die "build failed"
fi
if ! command -v ansible >/dev/null 2>&1; then
	echo "# installing ansible-core (apt-get) for the comparison"
	DEBIAN_FRONTEND=noninteractive apt-get install -y ansible-core >/dev/null 2>&1 ||
		die "apt-get install ansible-core failed"
fi
python=/usr/bin/python3
[[ -x $python ]] || python=$(command -v python3) || die "needs python3"

# A folder of its own, so nothing that tidies up /tmp/certsync-it.* from
# other test runs on this machine pulls the files from under the hosts.
bench_tmp=$(mktemp -d /tmp/certsync-bench.XXXXXX) || die "mktemp failed"
chmod 711 "$bench_tmp"
export TMPDIR=$bench_tmp
. "$root/tests/integration/lib.sh"
. "$root/tests/integration/fixtures.sh"
. "$root/tests/integration/ssh_lib.sh"
cleanup_add "rm -rf '$TEST_TMP'; rmdir '$bench_tmp'" # registered first: runs last
ssh_lib_init >"$TEST_TMP/why" || die "ssh test hosts: $(cat "$TEST_TMP/why")"

# The sshd side's CPU: a cpuacct cgroup holding every listener counts all
# that the logins start (per-connection sshd, shells, commands, python).
# Without one, the listeners' own and reaped children's times stand in,
# which miss what the sessions run.
cg=""
for try in /sys/fs/cgroup/cpuacct /sys/fs/cgroup; do
	if [[ -f $try/cpuacct.usage || -f $try/cgroup.controllers ]] && mkdir "$try/certsync-bench.$$" 2>/dev/null; then
		cg=$try/certsync-bench.$$
		cleanup_add "for i in \$(seq 50); do rmdir '$cg' && break; sleep 0.1; done"
		break
	fi
done

# ---- the fleet -------------------------------------------------------------
names=()
for ((i = 1; i <= HOSTS; i++)); do
	names+=("$(printf 'h%03d' "$i")")
done
echo "# starting $HOSTS sshd on 127.0.0.1"
for h in "${names[@]}"; do
	ssh_start "$h" ed25519 || die "sshd $h did not start"
	[[ -n $cg ]] && echo "${SSHD_PID[$h]}" >"$cg/cgroup.procs"
	ssh_known_line "$h" >>"$SSH_KNOWN_HOSTS"
	install -d -o "$SSH_USER" -g "$SSH_USER" -m 0755 "$SSH_FILES/$h"
done

site=$TEST_TMP/site
make_ca "$site" ca
{
	echo "version: 1"
	echo "settings: { parallelism: $FORKS }"
	echo "issuers:"
	echo "  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }"
	echo "hosts:"
	for h in "${names[@]}"; do
		echo "  $h: { platform: linux, ssh: { address: 127.0.0.1, port: ${SSHD_PORT[$h]}, user: $SSH_USER, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS } }"
	done
	echo "certificates:"
	echo "  site:"
	echo "    common_name: site.test"
	echo "    issuer: lab"
	echo "    bindings:"
	for h in "${names[@]}"; do
		echo "      - { host: $h, files: { cert: $SSH_FILES/$h/site.crt, key: $SSH_FILES/$h/site.key } }"
	done
} >"$site/certsync.yaml"
echo "# certsync apply --yes (populates the $((HOSTS * 2)) files)"
(cd "$site" && "$CERTSYNC" apply --yes >"$TEST_TMP/apply.out" 2>&1) ||
	{ cat "$TEST_TMP/apply.out" >&2; die "certsync apply failed"; }

# OpenSSH: one line per host for xargs.
for h in "${names[@]}"; do
	echo "${SSHD_PORT[$h]} $SSH_FILES/$h/site.crt $SSH_FILES/$h/site.key"
done >"$TEST_TMP/xargs.list"
ssh_opts="-F /dev/null -i $SSH_KEY -o IdentitiesOnly=yes -o BatchMode=yes \
-o StrictHostKeyChecking=yes -o UserKnownHostsFile=$SSH_KNOWN_HOSTS -l $SSH_USER"

# ansible-core: an inventory with the same paths, host key checking on.
inv=$TEST_TMP/inventory.ini
{
	echo "[fleet]"
	for h in "${names[@]}"; do
		echo "$h ansible_host=127.0.0.1 ansible_port=${SSHD_PORT[$h]} cert=$SSH_FILES/$h/site.crt key=$SSH_FILES/$h/site.key"
	done
	echo "[fleet:vars]"
	echo "ansible_user=$SSH_USER"
	echo "ansible_ssh_private_key_file=$SSH_KEY"
	echo "ansible_python_interpreter=/usr/bin/python3"
	echo "ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile=$SSH_KNOWN_HOSTS'"
} >"$inv"
mkdir -p "$TEST_TMP/ansible-home" "$TEST_TMP/ansible-cp"
cat >"$TEST_TMP/ansible.cfg" <<EOF
[defaults]
host_key_checking = True
home = $TEST_TMP/ansible-home
local_tmp = $TEST_TMP/ansible-home/tmp
[ssh_connection]
control_path_dir = $TEST_TMP/ansible-cp
EOF
export ANSIBLE_CONFIG=$TEST_TMP/ansible.cfg

# ---- contenders --------------------------------------------------------------
# Each prints what it read on stdout; check_* says whether that is complete.
run_certsync() { # [BINARY]
	cd "$site" && exec "${1:-$CERTSYNC}" plan --detailed-exitcode
}
run_openssh() { # [EXTRA SSH OPTIONS]
	# shellcheck disable=SC2016
	xargs -P "$FORKS" -L 1 sh -c 'exec ssh '"$ssh_opts $*"' -p "$0" 127.0.0.1 cat -- "$1" "$2"' \
		<"$TEST_TMP/xargs.list"
}
run_ansible() {
	ansible all -i "$inv" -f "$FORKS" -o -m command -a 'cat -- {{ cert }} {{ key }}'
}
check_certsync() { grep -q '^No changes' "$1"; }
check_openssh() { [[ $(grep -c -- '-----BEGIN CERTIFICATE-----' "$1") == "$HOSTS" && $(grep -c -- '-----BEGIN PRIVATE KEY-----' "$1") == "$HOSTS" ]]; }
check_ansible() { [[ $(grep -c 'CHANGED | rc=0 |.*BEGIN CERTIFICATE.*BEGIN PRIVATE KEY' "$1") == "$HOSTS" ]]; }

only=" ${BENCH_ONLY:-certsync baseline openssh openssh-c25519 ansible} "
wanted() { [[ $only == *" $1 "* ]]; }
contenders=(certsync)
[[ -n ${BENCH_BASELINE:-} ]] && wanted baseline && contenders+=(baseline)
for c in openssh openssh-c25519 ansible; do
	wanted "$c" && contenders+=("$c")
done
declare -A label=(
	[certsync]="certsync plan (libssh2)"
	[baseline]="certsync plan, baseline build"
	[openssh]="xargs -P $FORKS ssh (OpenSSH, default kex)"
	[openssh-c25519]="xargs -P $FORKS ssh -o KexAlgorithms=curve25519-sha256"
	[ansible]="ansible -f $FORKS -m command (ansible-core)"
)
declare -A cmdline=(
	[certsync]="run_certsync"
	[baseline]="run_certsync ${BENCH_BASELINE:-}"
	[openssh]="run_openssh"
	[openssh-c25519]="run_openssh -o KexAlgorithms=curve25519-sha256"
	[ansible]="run_ansible"
)
declare -A checker=([certsync]=check_certsync [baseline]=check_certsync [openssh]=check_openssh [openssh-c25519]=check_openssh [ansible]=check_ansible)
export -f run_certsync run_openssh run_ansible
export site CERTSYNC FORKS ssh_opts TEST_TMP inv

tick=$(getconf CLK_TCK)
# CPU seconds of the sshd side so far.
sshd_cpu() {
	if [[ -f $cg/cpuacct.usage ]]; then
		awk '{ printf "%.3f", $1 / 1e9 }' "$cg/cpuacct.usage"
		return
	elif [[ -f $cg/cpu.stat ]]; then
		awk '$1 == "usage_usec" { printf "%.3f", $2 / 1e6 }' "$cg/cpu.stat"
		return
	fi
	local p sum=0 f
	for p in "${SSHD_PID[@]}"; do
		read -ra f <"/proc/$p/stat" || continue
		sum=$((sum + f[13] + f[14] + f[15] + f[16]))
	done
	awk -v s="$sum" -v t="$tick" 'BEGIN { printf "%.3f", s / t }'
}

results=$TEST_TMP/results # lines: CONTENDER WALL USER SYS SSHD_CPU MAXRSS_KIB
: >"$results"
measure_one() { # CONTENDER ROUND
	local c=$1 round=$2 out=$TEST_TMP/out.$1 res=$TEST_TMP/res.$1
	sleep 0.5 # let the previous run's sshd children finish and be reaped
	local before after
	before=$(sshd_cpu)
	"$python" "$bench_dir/measure.py" "$res" bash -c "${cmdline[$c]}" >"$out" 2>"$out.err"
	sleep 0.5
	after=$(sshd_cpu)
	local wall user sys rc rss
	read -r wall user sys rc rss <"$res"
	if [[ $rc != 0 ]] || ! "${checker[$c]}" "$out"; then
		echo "ssh-gather: $c did not read everything (exit $rc):" >&2
		head -c 2000 "$out" "$out.err" >&2
		exit 1
	fi
	printf '%-16s round %s  wall %7.3f s  cpu %7.3f s  sshd %7.3f s  rss %6.1f MB\n' "$c" "$round" "$wall" \
		"$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
		"$(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')" \
		"$(awk -v r="$rss" 'BEGIN { print r / 1024 }')"
	((round > 0)) && echo "$c $wall $user $sys $(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }') $rss" >>"$results"
	return 0
}

echo "# $HOSTS hosts, $FORKS at once, round 0 is a warm-up"
for ((round = 0; round <= RUNS; round++)); do
	for c in "${contenders[@]}"; do
		[[ $c == ansible && $round == 0 && ${BENCH_WARMUP_ANSIBLE:-1} == 0 ]] && continue
		measure_one "$c" "$round"
	done
done

# ---- report -----------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A wall cpu srv rss
ncpu=$(nproc)
for c in "${contenders[@]}"; do
	rss[$c]=$(awk -v c="$c" '$1 == c { print $6 / 1024 }' "$results" | sort -g | tail -n 1)
	wall[$c]=$(awk -v c="$c" '$1 == c { print $2 }' "$results" | median)
	cpu[$c]=$(awk -v c="$c" '$1 == c { print $3 + $4 }' "$results" | median)
	srv[$c]=$(awk -v c="$c" '$1 == c { print $5 }' "$results" | median)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

libssh2_version=$(pkg-config --modversion libssh2 2>/dev/null || dpkg-query -W -f '${Version}' libssh2-1 2>/dev/null)
echo
echo "$HOSTS loopback sshd hosts, $FORKS at once, $RUNS rounds (medians; peak RSS: the largest), $(date -u +%Y-%m-%d)"
echo "machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr)"
echo "sshd-side CPU from: $([[ -n $cg ]] && echo "cgroup $cg" || echo "the listeners' own and reaped children's times (no cgroup)")"
echo "versions: $(ssh -V 2>&1), libssh2 $libssh2_version, $(ansible --version 2>&1 | sed -n 1p)"
echo
echo "| contender | wall (s) | client CPU (s) | sshd-side CPU (s) | sshd-side limit (s) | wall ÷ limit | peak RSS (MB) | wall ÷ certsync |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${contenders[@]}"; do
	lim=$(awk -v s="${srv[$c]}" -v n="$ncpu" 'BEGIN { printf "%.2f", s / n }')
	printf '| %s | %.2f | %.2f | %.2f | %.2f | %s | %.1f | %s× |\n' "${label[$c]}" "${wall[$c]}" "${cpu[$c]}" "${srv[$c]}" \
		"$lim" "$(ratio "${wall[$c]}" "$lim")" "${rss[$c]}" "$(ratio "${wall[$c]}" "${wall[certsync]}")"
done
echo
met() { awk -v r="$1" -v op="$2" -v g="$3" 'BEGIN { ok = (op == "ge") ? (r >= g) : (r <= g); print ok ? "met" : "NOT met" }'; }
if [[ -n ${wall[ansible]:-} ]]; then
	a=$(ratio "${wall[ansible]}" "${wall[certsync]}")
	echo "Goal ≥ 10× faster than ansible-core: ${a}× — $(met "$a" ge 10)"
fi
if [[ -n ${wall[openssh]:-} ]]; then
	o=$(awk -v a="${wall[certsync]}" -v b="${wall[openssh]}" 'BEGIN { printf "%.2f", a / b }')
	echo "Goal ≤ ½ of the OpenSSH time: certsync takes ${o} of it — $(met "$o" le 0.5)"
fi
lim=$(awk -v s="${srv[certsync]}" -v n="$ncpu" 'BEGIN { print s / n }')
l=$(awk -v a="${wall[certsync]}" -v b="$lim" 'BEGIN { printf "%.2f", a / b }')
echo "Goal ≤ 1.5× the sshd-side limit (sshd CPU ${srv[certsync]} s ÷ $ncpu CPUs): ${l}× — $(met "$l" le 1.5)"
echo "Goal ≤ 50 MB peak RSS: $(printf '%.1f' "${rss[certsync]}") MB — $(met "${rss[certsync]}" le 50)"
