#!/usr/bin/env bash
# With hundreds of certificates the stored sets are loaded ahead on every
# CPU the process may use (observe.c, preload_stored); below that, or on one
# CPU, one after the other in the plan's own order.  Both must give the same
# plan byte for byte, also when some sets are missing, tampered with or
# unreadable: the plan on two CPUs is compared with the plan under
# `taskset -c CPU` (one CPU: no threads), in sync and with damage.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

if (($(nproc) < 2)) || ! command -v taskset >/dev/null; then
	ok "skipped: needs 2 CPUs and taskset to compare the threaded load with the single one"
	done_testing
	exit
fi

# One CPU of those this process may use (a container's cpuset need not
# hold CPU 0).
one_cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
n=300
mkdir -p "$TEST_TMP/w" && cd "$TEST_TMP/w" || exit 1
make_ca "$PWD" ca
mkdir -p out
{
	printf 'version: 1\nissuers:\n  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }\n'
	printf 'hosts:\n  a: { platform: linux, local: {} }\n'
	printf 'certificates:\n'
	for ((i = 0; i < n; i++)); do
		cat <<YAML
  c$i:
    common_name: c$i.many.test
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - { host: a, files: { cert: out/c$i.crt, key: out/c$i.key } }
YAML
	done
} >certsync.yaml

expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

same_plan() {
	"$CERTSYNC" plan >threads.out 2>&1
	local rt=$?
	taskset -c "$one_cpu" "$CERTSYNC" plan >single.out 2>&1
	local rs=$?
	[[ $rt == "$rs" ]] && cmp -s threads.out single.out && ok "$1: the same plan on two CPUs and on one (exit $rt)" ||
		not_ok "$1: the same plan on two CPUs and on one" "exit $rt vs $rs" "$(diff threads.out single.out | head -20)"
}
same_plan "in sync"

# Damage a few of them, spread over the list.
rm -rf .certsync/certs/c7                                  # never issued, as far as the plan knows
printf '{ not json' >.certsync/certs/c150/meta.json        # a meta.json cut short
printf 'tampered\n' >.certsync/certs/c290/cert.pem         # a stored certificate destroyed
chmod 000 .certsync/certs/c42/meta.json                    # unreadable (root reads it anyway)
same_plan "with damage"
expect_contains threads.out "renew c7: "
expect_contains threads.out "error \(c150\): .*c150/meta.json"
expect_contains threads.out "c290"

done_testing
