#!/usr/bin/env bash
# An apply killed (SIGKILL) at any of its fault points is finished by the
# next apply: a local host and an SSH host (logged in as the non-root test
# user) with files bindings whose reload is a 1 s script that logs, and a
# local CA.  For every point the renewal passes through (CERTSYNC_FAULT_TRACE):
# kill there, then
#   - the plan in between shows what is owed, a reload that did not run
#     with "reload owed: files changed by an apply that did not finish, DATE";
#   - the rerun `apply --yes` exits 0 and its journal summary counts work;
#   - `plan --detailed-exitcode` exits 0 afterwards;
#   - the reload ran after the files last changed, on both hosts;
#   - the CA signed exactly one new serial for the renewal (issued.jsonl);
#   - no `.certsync-` temporary file and no private key outside the declared
#     key files and the state's keys; no unconfirmed record left.
# CERTSYNC_CRASH_POINTS="a b@2" limits the points (for debugging).
# Minutes on a loaded machine (it kills and reruns apply at every fault point on two hosts):
# timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

have_ssh=0
if ssh_lib_init >"$TEST_TMP/why" && ssh_start web1 ed25519; then
	have_ssh=1
	ssh_known_line web1 >>"$SSH_KNOWN_HOSTS"
else
	echo "# no SSH host: $(cat "$TEST_TMP/why")"
fi

tpl=$TEST_TMP/tpl
make_ca "$tpl" ca
local_config "$tpl" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' \
	'sleep 1; echo reloaded $(date +%s.%N) >> out/reload.log'
if ((have_ssh)); then
	remote=$TEST_TMP/web1-etc   # fixed per trial below: each trial gets its own folder
	sed -i "s#^hosts:#hosts:\n  web1: { platform: linux, ssh: { address: 127.0.0.1, port: ${SSHD_PORT[web1]}, user: $SSH_USER, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS, timeout: 10s } }#" \
		"$tpl/certsync.yaml"
	cat >>"$tpl/certsync.yaml" <<YAML
      - host: web1
        files: { cert: REMOTE/site.crt, key: REMOTE/site.key, reload: "sleep 1; echo reloaded \$(date +%s.%N) >> REMOTE/reload.log" }
YAML
fi

# trial DIR: a converged copy of the template in DIR, with a renewal due.
trial() {
	local dir=$1
	rm -rf "$dir"
	cp -a "$tpl" "$dir"
	if ((have_ssh)); then
		local r=$dir-web1
		install -d -o "$SSH_USER" -m 0755 "$r"
		sed -i "s#REMOTE#$r#g" "$dir/certsync.yaml"
	fi
	(cd "$dir" && "$CERTSYNC" apply --yes >converge.log 2>&1) || return 1
	sed -i 's/www.web.test\]/www.web.test, api.web.test]/' "$dir/certsync.yaml"
}

# The reload log of a host's folder: its newest line's time, 0 when none.
last_reload() {
	local f=$1
	[[ -s $f ]] || { echo 0; return; }
	tail -n 1 "$f" | awk '{ print $2 }'
}

# Points the renewal passes through, as NAME@N for each time N it is reached.
trial "$TEST_TMP/trace" || { not_ok "converge" "$(cat "$TEST_TMP/trace/converge.log")"; done_testing; }
(cd "$TEST_TMP/trace" && CERTSYNC_FAULT_TRACE=$TEST_TMP/trace.txt "$CERTSYNC" apply --yes >apply.log 2>&1) \
	&& ok "traced apply" || not_ok "traced apply" "$(cat "$TEST_TMP/trace/apply.log")"
points=${CERTSYNC_CRASH_POINTS:-$(awk '{ n[$0]++; print $0 "@" n[$0] }' "$TEST_TMP/trace.txt")}
for want in bind.intent bind.written reload.intent reload.done renew.intent renew.signed renew.saved write.mid; do
	grep -qx "$want" "$TEST_TMP/trace.txt" && ok "fault point $want is reached" || not_ok "fault point $want is reached"
done
((have_ssh)) && { grep -qx ssh.upload-mid "$TEST_TMP/trace.txt" && ok "fault point ssh.upload-mid is reached" \
	|| not_ok "fault point ssh.upload-mid is reached"; }

n=0
for point in $points; do
	n=$((n + 1))
	d=$TEST_TMP/t$n
	trial "$d" || { not_ok "$point: converge" "$(cat "$d/converge.log")"; continue; }
	cd "$d"
	before=$(openssl x509 -in out/web.crt -noout -serial)
	CERTSYNC_FAULT=$point "$CERTSYNC" apply --yes >killed.log 2>&1
	rc=$?
	if ((rc != 137)); then
		not_ok "$point: apply is killed there" "exit $rc" "$(cat killed.log)"
		cd "$TEST_TMP"
		continue
	fi
	# What the plan in between must show.
	"$CERTSYNC" plan >between.log 2>&1
	changed=0
	[[ $(openssl x509 -in out/web.crt -noout -serial) != "$before" ]] && changed=1
	reloaded_after=1
	[[ $(last_reload out/reload.log | cut -d. -f1) -lt $(stat -c %Y out/web.crt) ]] && reloaded_after=0
	if ((changed && !reloaded_after)); then
		if grep -Eq 'Plan: .* [1-9] to reload' between.log && { grep -Eq 'Plan: .* [1-9] to bind' between.log ||
			grep -Eq 'reload owed: files changed by an apply that did not finish, [0-9]{4}-[0-9]{2}-[0-9]{2}' between.log; }; then
			ok "$point: the plan in between owes the reload"
		else
			not_ok "$point: the plan in between owes the reload" "$(cat between.log)"
		fi
	fi
	if "$CERTSYNC" apply --yes >rerun.log 2>&1; then
		ok "$point: the rerun succeeds"
	else
		not_ok "$point: the rerun succeeds" "$(cat rerun.log)"
	fi
	summary=$(grep '"type":"apply"' .certsync/journal.jsonl | tail -n 1)
	if ((changed && !reloaded_after)) && [[ $(jq .actions <<<"$summary") == 0 ]]; then
		not_ok "$point: the rerun's journal summary counts what it did" "$summary"
	fi
	if "$CERTSYNC" plan --detailed-exitcode >after.log 2>&1; then
		ok "$point: converged"
	else
		not_ok "$point: converged" "$(cat after.log)"
	fi
	reload_after() { # LOG FILE
		[[ -e $2 ]] || return 0
		if [[ $(last_reload "$1" | cut -d. -f1) -ge $(stat -c %Y "$2") ]]; then
			ok "$point: reloaded after the files changed ($2)"
		else
			not_ok "$point: reloaded after the files changed ($2)" "$(cat "$1")" "$(stat -c %y "$2")"
		fi
	}
	reload_after out/reload.log out/web.crt
	((have_ssh)) && reload_after "$d-web1/reload.log" "$d-web1/site.crt"
	# One signing per lineage renewal: the initial one and the renewal.
	serials=$(jq -r .serial .certsync/certs/web/issued.jsonl 2>/dev/null | sort -u | wc -l)
	[[ $serials == 2 ]] && ok "$point: one new serial issued" \
		|| not_ok "$point: one new serial issued" "$serials distinct serials" "$(cat .certsync/certs/web/issued.jsonl 2>&1)"
	left=$(find "$d" "$d-web1" -name '*.certsync-*' 2>/dev/null)
	[[ -z $left ]] && ok "$point: no temporary files left" || not_ok "$point: no temporary files left" "$left"
	keys=$(grep -rl 'PRIVATE KEY' "$d" "$d-web1" 2>/dev/null | grep -Ev "^$d/(out/web\.key|pki/ca\.key|\.certsync/certs/web/(key\.pem|archive/[^/]+/key\.pem))$|^$d-web1/site\.key$")
	[[ -z $keys ]] && ok "$point: private keys only where declared" || not_ok "$point: private keys only where declared" "$keys"
	if [[ -s .certsync/hosts/here/unconfirmed.json && $(jq length .certsync/hosts/here/unconfirmed.json) != 0 ]] ||
		[[ -s .certsync/hosts/web1/unconfirmed.json && $(jq length .certsync/hosts/web1/unconfirmed.json) != 0 ]]; then
		not_ok "$point: no unconfirmed record left" "$(cat .certsync/hosts/*/unconfirmed.json)"
	else
		ok "$point: no unconfirmed record left"
	fi
	cd "$TEST_TMP"
done
((n > 0)) && ok "$n kill points tried" || not_ok "kill points tried"

# The user's report: apply killed by SIGKILL while its reload runs (the
# files are written), without fault points: the rerun must not say "No
# changes" but run the reload, and its journal summary must count it.
d=$TEST_TMP/killed-in-reload
trial "$d" || not_ok "killed in reload: converge" "$(cat "$d/converge.log")"
cd "$d" || exit 1
sed -i 's#"sleep 1; echo reloaded \(.*\) >> out/#"if [ -e kill-once ]; then rm kill-once; kill -9 $PPID; sleep 5; fi; sleep 1; echo reloaded \1 >> out/#' certsync.yaml
touch kill-once
"$CERTSYNC" apply --yes >killed.log 2>&1
rc=$?
((rc == 137)) && ok "killed in reload: apply is killed" || not_ok "killed in reload: apply is killed" "exit $rc" "$(cat killed.log)"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'reload owed: files changed by an apply that did not finish, [0-9]{4}-[0-9]{2}-[0-9]{2}'
expect_exit 0 "$CERTSYNC" apply --yes
grep -q 'No changes' <<<"$OUT" && not_ok "killed in reload: the rerun has work to do" "$OUT" || ok "killed in reload: the rerun has work to do"
summary=$(grep '"type":"apply"' .certsync/journal.jsonl | tail -n 1)
[[ $(jq .actions <<<"$summary") -ge 1 && $(jq .done <<<"$summary") -ge 1 ]] && ok "killed in reload: the summary counts the reload" \
	|| not_ok "killed in reload: the summary counts the reload" "$summary"
[[ $(last_reload out/reload.log | cut -d. -f1) -ge $(stat -c %Y out/web.crt) ]] && ok "killed in reload: reloaded after the files changed" \
	|| not_ok "killed in reload: reloaded after the files changed" "$(cat out/reload.log)"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
cd "$TEST_TMP" || exit 1

# Verifies are owed too: nginx on loopback, killed after the files are
# written and after the reload ran but before the check: the plan in between
# shows the verify, the rerun checks that nginx serves the new certificate.
if command -v nginx >/dev/null; then
	for point in bind.written reload.done; do
		d=$TEST_TMP/ngx-$point
		port=$(free_port)
		mkdir -p "$d/nginx/logs" "$d/nginx/tmp"
		cat >"$d/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $d/nginx/tmp; proxy_temp_path $d/nginx/tmp;
    fastcgi_temp_path $d/nginx/tmp; uwsgi_temp_path $d/nginx/tmp; scgi_temp_path $d/nginx/tmp;
    server { listen 127.0.0.1:$port ssl; server_name web.test;
             ssl_certificate $d/out/web-full.pem; ssl_certificate_key $d/out/web.key; }
}
CONF
		ngx="nginx -p $d/nginx -c $d/nginx/nginx.conf"
		cleanup_add "$ngx -s stop"
		make_ca "$d" ca
		local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' \
			"if [ -s $d/nginx/nginx.pid ]; then $ngx -s reload; else $ngx; fi" \
			"    verify:
      - { connect: \"127.0.0.1:$port\", ca_bundle: pki/ca.crt, timeout: 10s }"
		cd "$d" || exit 1
		"$CERTSYNC" apply --yes >converge.log 2>&1 || not_ok "nginx $point: converge" "$(cat converge.log)"
		sed -i 's/www.web.test\]/www.web.test, api.web.test]/' certsync.yaml
		CERTSYNC_FAULT=$point "$CERTSYNC" apply --yes >killed.log 2>&1
		expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
		expect_contains "$OUT" "verify web at 127.0.0.1:$port"
		expect_contains "$OUT" 'reload owed: files changed by an apply that did not finish'
		expect_exit 0 "$CERTSYNC" apply --yes
		expect_contains "$OUT" "done +#[0-9]+ verify web .*presents serial"
		served=$(openssl s_client -connect "127.0.0.1:$port" -servername web.test </dev/null 2>/dev/null |
			openssl x509 -noout -fingerprint -sha256)
		[[ $served == "$(openssl x509 -in out/web.crt -noout -fingerprint -sha256)" ]] &&
			ok "nginx $point: serves the new certificate" || not_ok "nginx $point: serves the new certificate"
		expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
		cd "$TEST_TMP" || exit 1
	done
else
	echo "# nginx is not installed: no verify case"
fi

# `become: sudo`: the upload goes through a folder the login user makes in
# /tmp, then `sudo install` into a root-owned folder.  Killed in the middle
# of the upload (half a private key in that folder) and right after the
# install: the rerun removes the run's upload folder and its temporaries.
if ((have_ssh)); then
	for point in ssh.upload-mid@2 bind.written@1; do
		d=$TEST_TMP/sudo-${point%@*}
		mkdir -p "$d"
		make_ca "$d" ca
		install -d -o root -g root -m 0755 "$d-etc"
		cat >"$d/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  web1: { platform: linux, ssh: { address: 127.0.0.1, port: ${SSHD_PORT[web1]}, user: $SSH_USER, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS, timeout: 10s, become: sudo } }
certificates:
  site:
    common_name: site.test
    issuer: lab
    bindings:
      - { host: web1, files: { fullchain: $d-etc/site.pem, key: $d-etc/site.key, owner: root, mode: "0600", reload: "sleep 1; echo reloaded \$(date +%s) | sudo -n tee -a $d-etc/reload.log >/dev/null" } }
YAML
		cd "$d" || exit 1
		CERTSYNC_FAULT=$point "$CERTSYNC" apply --yes >killed.log 2>&1
		rc=$?
		((rc == 137)) && ok "sudo $point: apply is killed" || not_ok "sudo $point: apply is killed" "exit $rc" "$(cat killed.log)"
		killed=$(basename "$(ls .certsync/runs/*.json 2>/dev/null | head -n 1)" .json)
		if [[ $point == ssh.upload-mid* ]]; then
			[[ -n $(find /tmp -maxdepth 2 -path "/tmp/certsync-$killed.*/.*" 2>/dev/null) ]] &&
				ok "sudo $point: the kill left the upload behind" || not_ok "sudo $point: the kill left the upload behind"
		fi
		expect_exit 0 "$CERTSYNC" apply --yes
		left=$(find /tmp -maxdepth 1 -name "certsync-$killed.*" 2>/dev/null; find "$d-etc" -name '.*.certsync-*')
		[[ -n $killed && -z $left ]] && ok "sudo $point: the killed run's upload folder and temporaries are gone" \
			|| not_ok "sudo $point: the killed run's upload folder and temporaries are gone" "run ${killed:-none}" "$left"
		[[ -s $d-etc/reload.log ]] && ok "sudo $point: reloaded" || not_ok "sudo $point: reloaded"
		expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
		cd "$TEST_TMP" || exit 1
	done
fi

# The manual issuer: killed after the request is kept in pending/ but before
# (or while) the request file for the CA is written: the next apply writes it
# again from pending/, so the reply will match the kept key.
for point in request.saved write.mid@5; do
	d=$TEST_TMP/manual-${point%@*}
	mkdir -p "$d"
	local_config "$d" '{ manual: { requests: requests/, inbox: inbox/ } }' 'true'
	cd "$d" || exit 1
	CERTSYNC_FAULT=$point "$CERTSYNC" apply --yes >killed.log 2>&1
	rc=$?
	((rc == 137)) && ok "manual $point: apply is killed" || not_ok "manual $point: apply is killed" "exit $rc" "$(cat killed.log)"
	if [[ -e .certsync/certs/web/pending/meta.json ]]; then
		expect_exit 0 "$CERTSYNC" apply --yes
		want=$(openssl pkey -in .certsync/certs/web/pending/key.pem -pubout 2>/dev/null)
		got=$(openssl req -in requests/web.csr -pubkey -noout 2>/dev/null)
		[[ -n $want && $want == "$got" ]] && ok "manual $point: the request file is the pending request" \
			|| not_ok "manual $point: the request file is the pending request" "$(ls -la requests 2>&1)"
		[[ -z $(find . -name '*.certsync-*') ]] && ok "manual $point: no temporary files left" \
			|| not_ok "manual $point: no temporary files left" "$(find . -name '*.certsync-*')"
		expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
		expect_contains "$OUT" 'waiting for the CA: request .*requests/web.csr'
	else
		ok "manual $point: killed before the request was kept (nothing to check)"
	fi
	cd "$TEST_TMP" || exit 1
done

# An apply that is still running (it holds the lock) is not a crash: the
# plan leaves its intents alone and says so; once it is done, nothing is owed.
d=$TEST_TMP/running
trial "$d" || not_ok "running: converge" "$(cat "$d/converge.log")"
cd "$d" || exit 1
sed -i 's#"sleep 1; echo reloaded \(.*\) >> out/#"while [ ! -e go ]; do sleep 0.05; done; echo reloaded \1 >> out/#' certsync.yaml
"$CERTSYNC" apply --yes >running.log 2>&1 &
running=$!
cleanup_add "kill $running"
# Until its intent is written (up to a minute: a loaded machine, or the
# sanitizers, can make the apply's first steps slow).
for _ in $(seq 1200); do grep -q '"run"' .certsync/hosts/here/unconfirmed.json 2>/dev/null && break; sleep 0.05; done
grep -q '"run"' .certsync/hosts/here/unconfirmed.json 2>/dev/null && ok "running: the apply wrote its intent" ||
	not_ok "running: the apply wrote its intent" "$(cat running.log)"
expect_exit 0 "$CERTSYNC" plan
expect_contains "$OUT" 'an apply that is still running \(run [0-9a-f]{16}\) is changing it'
grep -q 'reload owed' <<<"$OUT" && not_ok "running: no reload owed while the apply runs" "$OUT" \
	|| ok "running: no reload owed while the apply runs"
touch go
wait "$running" && ok "running: the apply finishes" || not_ok "running: the apply finishes" "$(cat running.log)"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
cd "$TEST_TMP" || exit 1

done_testing
