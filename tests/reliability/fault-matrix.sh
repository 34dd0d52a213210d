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
#                    the Windows host rebooted once after its changes
#   no key leftovers no private key outside the declared key files and the
#                    state's key files: binding folders, the state folder,
#                    certsync's and the SSH user's temp folders, the SSH
#                    user's home, /tmp (files of this trial), the Windows
#                    model's temp folders
#   no unconfirmed   STATE/hosts/*/unconfirmed.json empty or absent
#   no ROLLBACK FAILED in the finishing run (nothing failed there)
#
# Usage: fault-matrix.sh [--short] [--random N] [--seed S] [--kinds k1,k2]
#                        [--points REGEX] [--tap] [--results FILE] [--shard K/M]
#        fault-matrix.sh --summarize RESULTS...
#   --short     a subset covering every host kind and the riskiest points
#               (about 2-3 minutes)
#   --random N  N kills after a random delay (default 10; 2 with --short)
#   --list      print the points reached and the trials, run none
#   --tap       TAP output, one ok/not ok per trial and check (the
#               default suite's tests/integration/test_fault_matrix.sh)
#   --results   write the tab-separated line of each trial to FILE
#   --shard K/M run trials K, K+M, K+2M, ... only (run M of these at once,
#               each with its own scenario; the same --seed for all)
#   --summarize FILE...  print the tables from the results of the shards
# Needs root (sshd, the test user), pebble, python3.  Exit 1 when any
# check failed.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/ssh_lib.sh"
. "$(dirname "$0")/../integration/pebble_lib.sh"
. "$(dirname "$0")/scenario.sh"

shard= summarize_only=() list_only=0 short=0 random_n= seed=$(( $(date +%s) % 32768 )) kinds_opt= points_re= tap=0 results=
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
	--shard) shard=$2; shift ;;
	--summarize) shift; summarize_only=("$@"); break ;;
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
# skip_all REASON: this machine cannot run the matrix (not root).
skip_all() {
	if ((tap)); then
		echo "1..0 # SKIP $*"
		exit 0
	fi
	echo "fault-matrix: $*" >&2
	exit 1
}
# bail REASON: the matrix cannot go on (a failure).
bail() {
	if ((tap)); then
		not_ok "fault matrix" "$@"
		done_testing
	fi
	echo "fault-matrix: $*" >&2
	exit 1
}

# summarize FILE...: the tables, from the results files of one matrix (its
# shards): per host kind the trials killed and what went wrong, then the
# points by host kind, then every failed trial with what was wrong.
summarize() {
	awk -F'\t' '
	function add(k, col) { n[k, col]++ }
	{
		kind = $2; point = $3; label = $4
		if (!(kind in seen)) { seen[kind] = 1; kinds[++nk] = kind }
		if ($5 != "yes") { add(kind, "unreached"); next }
		add(kind, "killed")
		if ($6 == 1) add(kind, "conv")
		if ($7 == 0) add(kind, "dup")
		if ($8 == 0) add(kind, "reload")
		if ($9 == 0) add(kind, "keys")
		if ($10 == 0) add(kind, "unc")
		if ($11 == 0) add(kind, "rbf")
		if ($12 > 0) add(kind, "stray")
		if ($13 != "ok") fail[++nf] = kind " " label ": " $15
		if (point != "random") {
			if (!(point in pseen)) { pseen[point] = 1; points[++np] = point }
			pt[point, kind]++
			if ($13 == "ok") pok[point, kind]++
		}
	}
	END {
		order = "local ssh winrm all"
		m = split(order, ko, " ")
		nk2 = 0
		for (i = 1; i <= m; i++) if (ko[i] in seen) kk[++nk2] = ko[i]
		for (i = 1; i <= nk; i++) { f = 0; for (j = 1; j <= nk2; j++) if (kk[j] == kinds[i]) f = 1; if (!f) kk[++nk2] = kinds[i] }
		split("killed unreached conv dup reload keys unc rbf stray", cols, " ")
		printf "%-6s %7s %11s %10s %12s %14s %14s %17s %17s %12s\n", "kind", "killed", "not reached", "converged", "dup issuance", "reloads lost", "key leftovers", "false unconfirmed", "false RB FAILED", "stray temps"
		for (j = 1; j <= nk2; j++) {
			k = kk[j]; printf "%-6s", k
			w[1] = 7; w[2] = 11; w[3] = 10; w[4] = 12; w[5] = 14; w[6] = 14; w[7] = 17; w[8] = 17; w[9] = 12
			for (c = 1; c <= 9; c++) { v = n[k, cols[c]] + 0; tot[c] += v; printf " %" w[c] "d", v }
			printf "\n"
		}
		printf "%-6s", "total"
		for (c = 1; c <= 9; c++) printf " %" w[c] "d", tot[c]
		printf "\n"
		if (np) {
			printf "\npoints x host kinds (trials ok / killed there; random kills are in the kind table only)\n\n"
			printf "%-26s", "point"
			for (j = 1; j <= nk2; j++) printf " %-8s", kk[j]
			printf "\n"
			for (i = 1; i <= np; i++) {
				p = points[i]; printf "%-26s", p
				for (j = 1; j <= nk2; j++) {
					k = kk[j]
					cell = ((p, k) in pt) ? (pok[p, k] + 0) "/" pt[p, k] : "-"
					printf " %-8s", cell
				}
				printf "\n"
			}
		}
		if (nf) {
			printf "\nfailed trials:\n"
			for (i = 1; i <= nf; i++) printf "  %s\n", fail[i]
		}
	}' "$@"
}
if ((${#summarize_only[@]})); then
	summarize "${summarize_only[@]}"
	exit 0
fi
shard_k=1 shard_m=1
if [[ -n $shard ]]; then
	IFS=/ read -r shard_k shard_m <<<"$shard"
	[[ $shard_k =~ ^[0-9]+$ && $shard_m =~ ^[0-9]+$ ]] && ((shard_k >= 1 && shard_k <= shard_m)) ||
		{ echo "fault-matrix: --shard K/M with 1 <= K <= M" >&2; exit 1; }
fi

ssh_lib_init >"$TEST_TMP/init.out" 2>&1 || skip_all "$(cat "$TEST_TMP/init.out")"
pebble_have || bail "pebble and pebble-challtestsrv are not installed (scripts/install-deps.sh)"
started=$SECONDS
sc_setup 2>"$TEST_TMP/setup.err" || bail "scenario: $(grep -m 1 -A 12 'ERROR: AddressSanitizer\|runtime error' "$TEST_TMP/setup.err" || tail -n 20 "$TEST_TMP/setup.err")"
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
# reaches (docs/fault-points.md), in this order: between issuing and
# saving a certificate (a second issuance?), in the middle of an upload,
# between changing a host and the reload or reboot it then owes.
declare -A short_pick=(
	[local]='renew.signed bind.written reload.intent write.mid'
	[ssh]='ssh.upload-mid acme.downloaded bind.written reload.intent'
	[winrm]='import.done acme.finalized reboot.intent bind.written'
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
		for name in ${short_pick[$kind]:-} $(awk '{ print $2 }' <<<"$(printf '%s\n' "${list[@]}")"); do
			((${#picked[@]} < 2)) || break
			grep -q " $name " <<<"$(printf '%s \n' "${POINTS[$kind]}" | sed 's/^/ /')" || continue
			[[ " ${picked[*]} " == *" $name "* ]] && continue
			picked+=("$name")
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

# The facts the checks read (sc_facts), in $SC_DIR/facts.
check_issuance() {
	local c n list
	sed -n 's/^state //p' "$SC_DIR/facts" >"$SC_DIR/serials.now"
	sed -n 's/^pebble //p' "$SC_DIR/facts" >"$SC_DIR/serials.pebble"
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

fact_file() {
	awk -v p="$1" '$1 == "file" && $2 == p { print $3 }' "$SC_DIR/facts"
}

check_reloads() {
	DETAIL=
	local host dir site api last want
	for host in local ssh; do
		if [[ $host == local ]]; then
			dir=$SC_LOCAL
			site=$(fact_file "$SC_LOCAL/site.crt") api=$(fact_file "$SC_LOCAL/api-full.pem")
		else
			dir=$SC_SSH
			site=$(fact_file "$SC_SSH/site-full.pem") api=$(fact_file "$SC_SSH/api.crt")
		fi
		last=$(tail -n 1 "$dir/reload.log" | sed -E 's/^[^ ]+ pid=[0-9]+ //; s/=0+([0-9A-F])/=\1/g')
		want="site=$site api=$api"
		[[ $last == "$want" ]] || DETAIL+="$host: the last reload loaded ${last:-nothing}, the files hold $want; "
	done
	local before after
	before=$(cat "$SC_DIR/snap/reboots")
	after=$(sed -n 's/^reboots //p' "$SC_DIR/facts")
	# Exactly one: a kill around the reboot must not cost a second one.
	((after == before + 1)) || DETAIL+="winrm: $((after - before)) reboots after the changes, want 1 (reboot_count $before → $after); "
	[[ -z $DETAIL ]]
}

# Every private key the state folder holds (current, archive, issuing,
# pending, orders): the first two lines of its base64 body, as certsync
# writes keys everywhere (a key written elsewhere is the same bytes).
key_bodies() {
	find "$SC_STATE" -type f \( -name key.pem -o -name '*.key.pem' \) -exec sed -n '2,3p' {} + 2>/dev/null |
		grep -E '^[A-Za-z0-9+/=]{40,}$' | sort -u
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
		{ echo 'PRIVATE KEY'; cat "$bodies"; } | grep -rlF -f - "$SC_STATE" "$SC_LOCAL" "$SC_SSH" "$SC_SSH_TMP" "$SC_TMP" 2>/dev/null
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
		# An issuance record left: which issuances (not their keys).
		for f in "$SC_STATE"/issuing/*.json; do
			[[ -f $f ]] && DETAIL+="; ${f##*/} holds $(jq -r '[.issuing[] | "\(.name) serial \(.serial) from \(.created_at)"] | join(", ")' "$f" 2>&1)"
		done
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
# One tab-separated line per trial in $results (the summary is made from
# these files, so the shards of one matrix add up with --summarize):
#   trial kind point label killed conv iss rel keys unc rbf stray verdict issued detail
# killed: yes/no; conv..rbf: 1 passed, 0 failed; stray: count.
results=${results:-$SC_DIR/results.tsv}
: >"$results"
total_fail=0

ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
sec() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

tap_check() { # PASS NAME DETAIL...
	((tap)) || return 0
	local pass=$1 name=$2
	shift 2
	# A failure names the seed: the random trials it chose come back
	# with --seed.
	if ((pass)); then ok "$name"; else not_ok "$name (seed $seed)" "$@"; fi
}

i=0
for t in "${trials[@]}"; do
	i=$((i + 1))
	((shard_m > 1 && (i - 1) % shard_m != shard_k - 1)) && continue
	read -r kind point arg <<<"$t"
	if [[ $point == random ]]; then
		label="random@${arg}ms"
	else
		label="$point@$arg"
	fi
	t_start=$SECONDS
	ms0=$(ms)
	sc_reset
	mark=$(sc_pebble_mark)
	ms1=$(ms)
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
	if ((rc != 137)); then
		# Not killed: the point was not reached this time (or the run ended
		# before the delay); nothing to finish.
		say "$(printf '%3d %-6s %-24s' "$i" "$kind" "$label") not reached (apply exit $rc)"
		tap_check 1 "$kind $label: not reached (exit $rc) # SKIP"
		printf '%d\t%s\t%s\t%s\tno\t\t\t\t\t\t\t\tnot reached\t\tapply exit %d\n' "$i" "$kind" "$point" "$label" "$rc" >>"$results"
		continue
	fi
	# The finishing run, as an operator would start it: every host (once
	# a reboot the killed run started is over; reloads it left running may
	# still be going).
	sc_wait_reboot
	ms2=$(ms)
	run_apply "$out.finish" all
	wait "$APPLY_PID"
	frc=$?
	ms3=$(ms)
	sc_wait_quiet
	(cd "$SC_CFG" && "$CERTSYNC" plan --detailed-exitcode) >"$out.plan" 2>&1
	prc=$?
	ms4=$(ms)

	details=()
	conv=1
	if ((frc != 0 || prc != 0)); then
		conv=0
		details+=("not converged: finishing apply exit $frc, plan exit $prc: $(grep -hE 'FAILED|error|locked|AddressSanitizer|LeakSanitizer|^  [~+>!-] #' "$out.finish" "$out.plan" | head -n 4 | tr '\n' ' ')")
	fi
	sc_facts "$mark" >"$SC_DIR/facts"
	check_issuance && iss=1 || { iss=0; details+=("duplicate issuance: $DETAIL"); }
	issued=$ISSUED iss_detail=$DETAIL
	check_reloads && rel=1 || { rel=0; details+=("owed reload lost: $DETAIL"); }
	rel_detail=$DETAIL
	check_leftovers "$start_marker" && keys=1 || { keys=0; details+=("$DETAIL"); }
	stray=$STRAY
	((stray > 0)) && details+=("stray temporary files (not counted as a failure): $(tr '\n' ' ' <"$SC_DIR/stray")")
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

	if ((conv && iss && rel && keys && unc && rbf)); then
		verdict=ok
	else
		verdict=FAIL
		total_fail=$((total_fail + 1))
		# Keep what the trial left for a look.
		mkdir -p "$SC_DIR/failed/$i"
		cp -a "$out".* "$SC_STATE" "$SC_DIR/failed/$i/" 2>/dev/null
	fi
	ms5=$(ms)
	line=$(printf '%3d %-6s %-24s killed; finish %d, plan %d; issued %s; reloads %s; keys %s; unconfirmed %s; stray %d%s — %s (%d s: reset %.1f, kill %.1f, finish %.1f, plan %.1f, checks %.1f)' \
		"$i" "$kind" "$label" "$frc" "$prc" "$issued" "$( ((rel)) && echo ok || echo LOST)" \
		"$( ((keys)) && echo none || echo LEFT)" "$( ((unc)) && echo none || echo FALSE)" "$stray" "$owed" "$verdict" \
		$((SECONDS - t_start)) "$(sec $((ms1 - ms0)))" "$(sec $((ms2 - ms1)))" "$(sec $((ms3 - ms2)))" "$(sec $((ms4 - ms3)))" "$(sec $((ms5 - ms4)))")
	say "$line"
	for d in "${details[@]}"; do say "      $d"; done
	tap_check "$conv" "$kind $label: converged" "finishing apply exit $frc, plan exit $prc" "$(tail -n 15 "$out.finish")" "$(tail -n 15 "$out.plan")"
	tap_check "$iss" "$kind $label: one issuance per lineage ($issued)" "$iss_detail"
	tap_check "$rel" "$kind $label: owed reloads and reboots done" "$rel_detail" "$(tail -n 3 "$out.kill")" "$(tail -n 3 "$out.finish")"
	tap_check "$keys" "$kind $label: no key left outside the key files" "$(cat "$SC_DIR/leftovers")"
	tap_check "$unc" "$kind $label: no unconfirmed records" "$unc_detail"
	tap_check "$rbf" "$kind $label: no ROLLBACK FAILED" "$(grep 'ROLLBACK FAILED' "$out.finish")"
	printf '%d\t%s\t%s\t%s\tyes\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n' "$i" "$kind" "$point" "$label" \
		"$conv" "$iss" "$rel" "$keys" "$unc" "$rbf" "$stray" "$verdict" "$issued" "$(IFS=';'; echo "${details[*]}")" >>"$results"
done

# --- 5. summary ------------------------------------------------------------------
say "" "summary (seed $seed${shard:+, shard $shard}, $((SECONDS - started)) s)" ""
summarize "$results" | while IFS= read -r l; do say "$l"; done
if ((total_fail)); then
	say "(what the failed trials left is under $SC_DIR/failed; CERTSYNC_KEEP_TMP=1 keeps it)"
fi
if ((tap)); then
	done_testing
fi
((total_fail == 0))
