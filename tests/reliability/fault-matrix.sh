#!/usr/bin/env bash
# The fault-injection matrix (RELIABILITY.md, "Fault-injection matrix"):
# kill `certsync apply` at every fault point it reaches, and at random
# moments, in a scenario with a local, an SSH and a WinRM host and a local
# CA and an ACME CA (tests/reliability/scenario.sh); after each kill, an
# apply without a fault must finish the job:
#
#   converged        the finishing apply exits 0 and `plan --detailed-exitcode` 0
#   one issuance     exactly one new serial per certificate (lineage): the
#                    local CA's from the state folder (current, archive and
#                    any issuance ledger), the ACME CA's from Pebble's log
#   reloads          each Linux host's reload ran after its files last
#                    changed (its log names the serials now in the files);
#                    the Windows host rebooted after its changes
#   no key leftovers no private key outside the declared key files and the
#                    state's key files: binding folders, the state folder,
#                    certsync's and the SSH user's temp folders, the SSH
#                    user's home, /tmp (files of this trial), the Windows
#                    model's temp folders
#   no unconfirmed   STATE/hosts/*/unconfirmed.json empty or absent
#   no ROLLBACK FAILED in the finishing run (nothing failed there)
#
# Usage: fault-matrix.sh [--short] [--random N] [--seed S] [--kinds k1,k2]
#                        [--points REGEX] [--tap] [--results FILE]
#   --short     a subset covering every host kind and the riskiest points
#               (about 2-3 minutes)
#   --random N  N kills after a random delay (default 10; 2 with --short)
#   --list      print the points reached and the trials, run none
#   --tap       TAP output, one ok/not ok per trial and check (the
#               default suite's tests/integration/test_fault_matrix.sh)
#   --results   also write one tab-separated line per trial to FILE
# Needs root (sshd, the test user), pebble, python3.  Exit 1 when any
# check failed.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/ssh_lib.sh"
. "$(dirname "$0")/../integration/pebble_lib.sh"
. "$(dirname "$0")/scenario.sh"

list_only=0 short=0 random_n= seed=$(( $(date +%s) % 32768 )) kinds_opt= points_re= tap=0 results=
while (($#)); do
	case $1 in
	--short) short=1 ;;
	--random) random_n=$2; shift ;;
	--seed) seed=$2; shift ;;
	--kinds) kinds_opt=$2; shift ;;
	--points) points_re=$2; shift ;;
	--tap) tap=1 ;;
	--list) list_only=1 ;;
	--results) results=$(realpath -m "$2"); shift ;;
	-h | --help) sed -n '2,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "fault-matrix: unknown option $1" >&2; exit 1 ;;
	esac
	shift
done
[[ -n $random_n ]] || random_n=$((short ? 2 : 10))
RANDOM=$seed
kinds=("${SC_KINDS[@]}")
[[ -n $kinds_opt ]] && IFS=, read -r -a kinds <<<"$kinds_opt"

# say LINE: a line of the human report (a TAP comment with --tap).
say() {
	if ((tap)); then
		printf '# %s\n' "$@"
	else
		printf '%s\n' "$@"
	fi
}
bail() {
	if ((tap)); then
		echo "1..0 # SKIP $*"
		exit 0
	fi
	echo "fault-matrix: $*" >&2
	exit 1
}

ssh_lib_init >"$TEST_TMP/init.out" 2>&1 || bail "$(cat "$TEST_TMP/init.out")"
pebble_have || bail "pebble and pebble-challtestsrv are not installed (scripts/install-deps.sh)"
started=$SECONDS
sc_setup 2>"$TEST_TMP/setup.err" || bail "scenario: $(tail -n 20 "$TEST_TMP/setup.err")"
say "scenario ready in $((SECONDS - started)) s: $SC_DIR (seed $seed)"

# run_apply OUT KIND [ENV...]: apply --yes confined to KIND, in the
# background; sets APPLY_PID.
run_apply() {
	local out=$1 kind=$2
	shift 2
	local target=${SC_TARGET[$kind]}
	(cd "$SC_CFG" && exec env TMPDIR="$SC_TMP" "$@" "$CERTSYNC" apply --yes ${target:+--target "$target"}) \
		>"$out" 2>&1 &
	APPLY_PID=$!
}

# --- 1. the points each kind of run reaches, with their counts ------------------
declare -A DURATION
declare -A POINTS   # kind → "name count" lines
for kind in "${kinds[@]}"; do
	# --short kills the whole run at random moments only: no trace needed.
	[[ $kind == all && $short == 1 ]] && continue
	sc_reset
	trace=$SC_DIR/trace.$kind
	: >"$trace"
	t0=$(date +%s%N)
	run_apply "$SC_DIR/trace.$kind.out" "$kind" CERTSYNC_FAULT_TRACE="$trace"
	wait "$APPLY_PID"
	rc=$?
	DURATION[$kind]=$((($(date +%s%N) - t0) / 1000000))
	((rc == 0)) || bail "the traced apply ($kind) failed: $(tail -n 20 "$SC_DIR/trace.$kind.out")"
	# In the order first reached.
	POINTS[$kind]=$(awk '{ if (!($0 in n)) order[++k] = $0; n[$0]++ } END { for (i = 1; i <= k; i++) print order[i], n[order[i]] }' "$trace")
	say "kind $kind: apply took ${DURATION[$kind]} ms, $(wc -l <"$trace") points reached, $(grep -c . <<<"${POINTS[$kind]}") distinct"
	while read -r name count; do
		[[ -n $name ]] && say "  $name x$count"
	done <<<"${POINTS[$kind]}"
done

# --- 2. the trials ---------------------------------------------------------------
# A trial: "KIND POINT N" or "KIND random DELAY_MS".
trials=()
# --short: per kind, the first occurrence of the two riskiest points it
# reaches, in this order: between issuing and saving a certificate (a
# second issuance), in the middle of an upload, between changing files or
# a Windows host and the reload or reboot they owe, then any other.
risky=(
	'^(renew|issue|acme|ca)\.'
	'^ssh\.upload-mid$'
	'^bind\.written$'
	'^import\.done$'
	'^reboot\.intent$'
	'^reload\.intent$'
	'.'
)
for kind in "${kinds[@]}"; do
	[[ $kind == all && $short == 1 ]] && continue
	list=()
	while read -r name count; do
		[[ -n $name ]] || continue
		[[ -n $points_re && ! $name =~ $points_re ]] && continue
		for ((n = 1; n <= count; n++)); do
			list+=("$kind $name $n")
		done
	done <<<"${POINTS[$kind]}"
	if ((short)); then
		picked=()
		for re in "${risky[@]}"; do
			for t in "${list[@]}"; do
				read -r _ name n <<<"$t"
				((n == 1)) && [[ $name =~ $re ]] || continue
				[[ " ${picked[*]} " == *" $name "* ]] && continue
				((${#picked[@]} < 2)) && picked+=("$name")
			done
		done
		list=()
		for name in "${picked[@]}"; do list+=("$kind $name 1"); done
	fi
	trials+=("${list[@]}")
done
for ((i = 0; i < random_n; i++)); do
	d=0
	for k in "${!DURATION[@]}"; do ((DURATION[$k] > d)) && d=${DURATION[$k]}; done
	((d > 0)) || d=6000
	trials+=("all random $((50 + (RANDOM * 32768 + RANDOM) % d))")
done
say "${#trials[@]} trials"
if ((list_only)); then
	printf '%s\n' "${trials[@]}"
	exit 0
fi

# --- 3. checks -------------------------------------------------------------------
# Each sets DETAIL (what was wrong) and returns 1 on failure.

check_issuance() { # PEBBLE_MARK
	local c n list
	sc_state_serials >"$SC_DIR/serials.now"
	sc_pebble_issued "$1" >"$SC_DIR/serials.pebble"
	DETAIL= ISSUED=
	local bad=0
	for c in "${SC_CERTS[@]}"; do
		if [[ ${SC_ISSUER[$c]} == pebble ]]; then
			list=$(awk -v c="$c" '$1 == c { print $2 }' "$SC_DIR/serials.pebble" | sort -u)
			# Cross-check: every new serial the state saw came from Pebble.
			local s
			for s in $(comm -13 "$SC_DIR/snap/serials" "$SC_DIR/serials.now" | awk -v c="$c" '$1 == c { print $2 }'); do
				grep -qx "$s" <<<"$list" || DETAIL+="$c: serial $s in the state folder but not in Pebble's log; "
			done
		else
			list=$(comm -13 "$SC_DIR/snap/serials" "$SC_DIR/serials.now" | awk -v c="$c" '$1 == c { print $2 }')
		fi
		n=$(grep -c . <<<"$list")
		ISSUED+="$c=$n "
		if ((n != 1)); then
			bad=1
			DETAIL+="$c issued $n times ($(echo $list)); "
		fi
	done
	ISSUED=${ISSUED% }
	[[ -z $DETAIL ]] && ((bad == 0))
}

check_reloads() {
	DETAIL=
	local host dir site api last want
	for host in local ssh; do
		if [[ $host == local ]]; then
			dir=$SC_LOCAL
			read -r site api < <(sc_file_serial "$SC_LOCAL/site.crt" "$SC_LOCAL/api-full.pem" | tr '\n' ' ')
		else
			dir=$SC_SSH
			read -r site api < <(sc_file_serial "$SC_SSH/site-full.pem" "$SC_SSH/api.crt" | tr '\n' ' ')
		fi
		last=$(tail -n 1 "$dir/reload.log" | sed -E 's/^[^ ]+ pid=[0-9]+ //; s/=0+([0-9A-F])/=\1/g')
		want="site=$site api=$api"
		[[ $last == "$want" ]] || DETAIL+="$host: the last reload loaded ${last:-nothing}, the files hold $want; "
	done
	local before after
	before=$(cat "$SC_DIR/snap/reboots")
	after=$(sc_reboot_count)
	((after > before)) || DETAIL+="winrm: no reboot after the changes (reboot_count $before → $after); "
	[[ -z $DETAIL ]]
}

# Every private key the state folder holds (current, archive, pending,
# orders): the first line of its base64 body in the encodings a key may
# be written in.
key_bodies() {
	local f
	find "$SC_STATE" -type f \( -name key.pem -o -name '*.key.pem' \) 2>/dev/null | while read -r f; do
		sed -n 2p "$f"
		openssl pkey -in "$f" 2>/dev/null | sed -n 2p
		openssl pkey -in "$f" -traditional 2>/dev/null | sed -n 2p
	done | grep -E '^[A-Za-z0-9+/=]{40,}$' | sort -u
}

# allowed_key_file PATH: a declared key file or one of the state's.
allowed_key_file() {
	local p=$1 b
	b=${p##*/}
	case $p in
	"$SC_STATE"/*) [[ $b == key.pem || ($b == *.key.pem && $b != .*) ]] && return 0 ;;
	"$SC_LOCAL"/*) for k in "${SC_LOCAL_KEYS[@]}"; do [[ $p == "$SC_LOCAL/$k" ]] && return 0; done ;;
	"$SC_SSH"/*) for k in "${SC_SSH_KEYS[@]}"; do [[ $p == "$SC_SSH/$k" ]] && return 0; done ;;
	esac
	return 1
}

check_leftovers() { # TRIAL_START_MARKER
	DETAIL= STRAY=0
	local bodies=$SC_DIR/bodies f
	key_bodies >"$bodies"
	{
		# Our own folders: any PEM private key or known key body.
		grep -rlE -e 'PRIVATE KEY' "$SC_STATE" "$SC_LOCAL" "$SC_SSH" "$SC_SSH_TMP" "$SC_TMP" 2>/dev/null
		[[ -s $bodies ]] && grep -rlF -f "$bodies" "$SC_STATE" "$SC_LOCAL" "$SC_SSH" "$SC_SSH_TMP" "$SC_TMP" 2>/dev/null
		# Shared places: this trial's keys only, in files of this trial.
		if [[ -s $bodies ]]; then
			find "$(getent passwd "$SSH_USER" | cut -d: -f6)" /tmp "${TMPDIR:-/tmp}" -xdev -type f -newer "$1" \
				-size -4M -not -path "$TEST_TMP/*" -print0 2>/dev/null | xargs -0 -r grep -lF -f "$bodies" 2>/dev/null
		fi
	} | sort -u | while read -r f; do
		allowed_key_file "$f" || echo "$f"
	done >"$SC_DIR/leftovers"
	# The Windows model's temp folders: anything left there (a PFX).
	find "$SC_DIR/win/fs/C/Users/svc-certsync/AppData/Local/Temp" "$SC_DIR/win/fs/C/Windows/Temp" -type f \
		>>"$SC_DIR/leftovers" 2>/dev/null
	if [[ -s $SC_DIR/leftovers ]]; then
		DETAIL="key material in: $(tr '\n' ' ' <"$SC_DIR/leftovers")"
	fi
	# Temporary files certsync writes next to a target (".NAME.certsync-XXXXXX").
	# and the upload folders in temp folders ("certsync-TAG.XXXXXXXX").
	STRAY=$({
		find "$SC_STATE" "$SC_LOCAL" "$SC_SSH" "$SC_SSH_TMP" "$SC_TMP" -name '*.certsync-*'
		find "$SC_SSH_TMP" "$SC_TMP" -mindepth 1 -maxdepth 1 -name 'certsync-*'
	} 2>/dev/null | sort -u | tee "$SC_DIR/stray" | grep -c .)
	[[ -z $DETAIL ]]
}

check_unconfirmed() {
	DETAIL=
	local f
	for f in "$SC_STATE"/hosts/*/unconfirmed.json; do
		[[ -f $f ]] || continue
		if [[ -n $(tr -d ' \n\t{}' <"$f") ]]; then
			DETAIL+="$f: $(tr -d '\n' <"$f"); "
		fi
	done
	[[ -z $DETAIL ]]
}

# --- 4. run them -----------------------------------------------------------------
declare -A T_TRIED T_UNREACHED T_CONV T_DUP T_RELOAD T_KEYS T_UNCONF T_RBF T_STRAY T_FAILED
declare -A P_RESULT # "kind point" → "ok/tried"
points_order=()
failures=()
total_fail=0
[[ -n $results ]] && printf 'trial\tkind\tpoint\tkilled\tfinish_rc\tplan_rc\tissued\treloads\tkeys\tunconfirmed\trollback_failed\tstray\tverdict\tdetail\n' >"$results"

tap_check() { # PASS NAME DETAIL
	((tap)) || return 0
	if (($1)); then ok "$2"; else not_ok "$2" "$3"; fi
}

i=0
for t in "${trials[@]}"; do
	i=$((i + 1))
	read -r kind point arg <<<"$t"
	if [[ $point == random ]]; then
		label="random@${arg}ms"
	else
		label="$point@$arg"
	fi
	t_start=$SECONDS
	sc_reset
	mark=$(sc_pebble_mark)
	start_marker=$SC_DIR/trial.start
	touch "$start_marker"
	out=$SC_DIR/trial.$i
	if [[ $point == random ]]; then
		run_apply "$out.kill" "$kind"
		sleep "$(printf '%d.%03d' $((arg / 1000)) $((arg % 1000)))"
		kill -KILL "$APPLY_PID" 2>/dev/null
		{ wait "$APPLY_PID"; } 2>/dev/null
		rc=$?
	else
		run_apply "$out.kill" "$kind" CERTSYNC_FAULT="$point@$arg"
		{ wait "$APPLY_PID"; } 2>/dev/null
		rc=$?
	fi
	T_TRIED[$kind]=$((${T_TRIED[$kind]:-0} + 1))
	if ((rc != 137)); then
		# Not killed: the point was not reached this time (or the run ended
		# before the delay); nothing to finish.
		T_UNREACHED[$kind]=$((${T_UNREACHED[$kind]:-0} + 1))
		say "$(printf '%3d %-6s %-24s' "$i" "$kind" "$label") not reached (apply exit $rc)"
		tap_check 1 "$kind $label: not reached (exit $rc) # SKIP"
		[[ -n $results ]] && printf '%d\t%s\t%s\tno\t%d\t\t\t\t\t\t\t\tnot reached\t\n' "$i" "$kind" "$label" "$rc" >>"$results"
		continue
	fi
	# The finishing run, as an operator would start it: every host.
	run_apply "$out.finish" all
	wait "$APPLY_PID"
	frc=$?
	sc_wait_quiet
	(cd "$SC_CFG" && "$CERTSYNC" plan --detailed-exitcode) >"$out.plan" 2>&1
	prc=$?

	verdict=ok details=()
	conv=1
	if ((frc != 0 || prc != 0)); then
		conv=0
		details+=("not converged: finishing apply exit $frc, plan exit $prc: $(grep -E 'FAILED|error|locked' "$out.finish" "$out.plan" | head -n 3 | tr '\n' ' ')")
	fi
	check_issuance "$mark" && iss=1 || { iss=0; details+=("duplicate issuance: $DETAIL"); }
	issued=$ISSUED iss_detail=$DETAIL
	check_reloads && rel=1 || { rel=0; details+=("owed reload lost: $DETAIL"); }
	rel_detail=$DETAIL
	check_leftovers "$start_marker" && keys=1 || { keys=0; details+=("$DETAIL"); }
	stray=$STRAY
	((stray > 0)) && details+=("stray temporary files (not a failure): $(tr '\n' ' ' <"$SC_DIR/stray")")
	check_unconfirmed && unc=1 || { unc=0; details+=("false unconfirmed: $DETAIL"); }
	unc_detail=$DETAIL
	if grep -q 'ROLLBACK FAILED' "$out.finish"; then
		rbf=0
		details+=("ROLLBACK FAILED in the finishing run: $(grep -m 2 'ROLLBACK FAILED' "$out.finish" | tr '\n' ' ')")
	else
		rbf=1
	fi
	owed=""
	grep -q 'reload owed' "$out.finish" && owed=" (reload owed planned)"

	((conv)) && T_CONV[$kind]=$((${T_CONV[$kind]:-0} + 1))
	((iss)) || T_DUP[$kind]=$((${T_DUP[$kind]:-0} + 1))
	((rel)) || T_RELOAD[$kind]=$((${T_RELOAD[$kind]:-0} + 1))
	((keys)) || T_KEYS[$kind]=$((${T_KEYS[$kind]:-0} + 1))
	((unc)) || T_UNCONF[$kind]=$((${T_UNCONF[$kind]:-0} + 1))
	((rbf)) || T_RBF[$kind]=$((${T_RBF[$kind]:-0} + 1))
	((stray > 0)) && T_STRAY[$kind]=$((${T_STRAY[$kind]:-0} + 1))
	if ((conv && iss && rel && keys && unc && rbf)); then
		verdict=ok
	else
		verdict=FAIL
		T_FAILED[$kind]=$((${T_FAILED[$kind]:-0} + 1))
		total_fail=$((total_fail + 1))
		failures+=("$kind $label: $(IFS=';'; echo "${details[*]}")")
		# Keep what the trial left for a look.
		mkdir -p "$SC_DIR/failed/$i"
		cp -a "$out".* "$SC_STATE" "$SC_DIR/failed/$i/" 2>/dev/null
	fi
	if [[ $point != random ]]; then
		key="$kind $point"
		[[ -n ${P_RESULT[$key]:-} ]] || points_order+=("$key")
		IFS=/ read -r pok ptried <<<"${P_RESULT[$key]:-0/0}"
		[[ $verdict == ok ]] && pok=$((pok + 1))
		P_RESULT[$key]="$pok/$((ptried + 1))"
	fi
	line=$(printf '%3d %-6s %-24s killed; finish %d, plan %d; issued %s; reloads %s; keys %s; unconfirmed %s; stray %d%s — %s (%d s)' \
		"$i" "$kind" "$label" "$frc" "$prc" "$issued" "$( ((rel)) && echo ok || echo LOST)" \
		"$( ((keys)) && echo none || echo LEFT)" "$( ((unc)) && echo none || echo FALSE)" "$stray" "$owed" "$verdict" \
		$((SECONDS - t_start)))
	say "$line"
	for d in "${details[@]}"; do say "      $d"; done
	tap_check "$conv" "$kind $label: converged" "finishing apply exit $frc, plan exit $prc" "$(tail -n 15 "$out.finish")" "$(tail -n 15 "$out.plan")"
	tap_check "$iss" "$kind $label: one issuance per lineage ($issued)" "$iss_detail"
	tap_check "$rel" "$kind $label: owed reloads and reboots done" "$rel_detail" "$(tail -n 3 "$out.kill")" "$(tail -n 3 "$out.finish")"
	tap_check "$keys" "$kind $label: no key left outside the key files" "$(cat "$SC_DIR/leftovers")"
	tap_check "$unc" "$kind $label: no unconfirmed records" "$unc_detail"
	tap_check "$rbf" "$kind $label: no ROLLBACK FAILED" "$(grep 'ROLLBACK FAILED' "$out.finish")"
	if [[ -n $results ]]; then
		printf '%d\t%s\t%s\tyes\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n' "$i" "$kind" "$label" "$frc" "$prc" "$issued" \
			"$rel" "$keys" "$unc" "$rbf" "$stray" "$verdict" "${details[*]}" >>"$results"
	fi
done

# --- 5. summary ------------------------------------------------------------------
say "" "summary (seed $seed, $((SECONDS - started)) s)" ""
say "$(printf '%-6s %6s %10s %10s %11s %12s %13s %13s %19s %12s' kind killed 'not reach' converged 'dup issue' 'reload lost' 'key leftover' 'false unconf' 'false RB FAILED' 'stray tmp')"
sum() { local v=0 k; for k in "${kinds[@]}"; do v=$((v + ${1}[$k])); done; echo $v; }
tot=(0 0 0 0 0 0 0 0 0)
for kind in "${kinds[@]}"; do
	tried=${T_TRIED[$kind]:-0} unr=${T_UNREACHED[$kind]:-0}
	row=($((tried - unr)) "$unr" "${T_CONV[$kind]:-0}" "${T_DUP[$kind]:-0}" "${T_RELOAD[$kind]:-0}" "${T_KEYS[$kind]:-0}" \
		"${T_UNCONF[$kind]:-0}" "${T_RBF[$kind]:-0}" "${T_STRAY[$kind]:-0}")
	for j in "${!row[@]}"; do tot[j]=$((tot[j] + row[j])); done
	say "$(printf '%-6s %6d %10d %10d %11d %12d %13d %13d %19d %12d' "$kind" "${row[@]}")"
done
say "$(printf '%-6s %6d %10d %10d %11d %12d %13d %13d %19d %12d' total "${tot[@]}")"
if ((${#points_order[@]})); then
	say "" "points x host kinds (trials ok / killed there; random kills not included)" ""
	say "$(printf '%-34s' point)$(printf ' %-8s' "${kinds[@]}")"
	mapfile -t pnames < <(printf '%s\n' "${points_order[@]}" | awk '{ print $2 }' | awk '!seen[$0]++')
	for p in "${pnames[@]}"; do
		row=$(printf '%-34s' "$p")
		for kind in "${kinds[@]}"; do
			row+=$(printf ' %-8s' "${P_RESULT[$kind $p]:--}")
		done
		say "$row"
	done
fi
if ((${#failures[@]})); then
	say "" "failed trials:"
	for f in "${failures[@]}"; do say "  $f"; done
	say "(kept under $SC_DIR/failed with CERTSYNC_KEEP_TMP=1)"
fi
if ((tap)); then
	done_testing
fi
((total_fail == 0))
