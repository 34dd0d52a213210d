#!/usr/bin/env bash
# Files bindings whose declared paths are symbolic links (the names a
# service reads, linked to files kept elsewhere): certsync writes the files
# the links lead to and leaves the links alone, on the local host and over
# SSH (the non-root test user, no become).  A second plan is clean; a
# rollback puts the linked-to files back; a run killed in the middle of a
# write leaves its temporary file beside the linked-to file, and the next
# apply finds and removes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

chmod 0755 "$TEST_TMP"

# layout DIR OWNER: DIR/live/web.{crt,key} (files) and DIR/etc/web.crt,
# web.key (links to them: one relative, one absolute).
layout() {
	local dir=$1 owner=$2
	install -d -o "$owner" -m 0755 "$dir" "$dir/live" "$dir/etc"
	echo old >"$dir/live/web.crt"
	echo old >"$dir/live/web.key"
	chmod 0600 "$dir/live/web.crt" "$dir/live/web.key"
	ln -s ../live/web.crt "$dir/etc/web.crt"
	ln -s "$dir/live/web.key" "$dir/etc/web.key"
	chown -h "$owner" "$dir/live/web.crt" "$dir/live/web.key" "$dir/etc/web.crt" "$dir/etc/web.key"
}

# write_config SITE HOST_YAML DIR DNS RELOAD
write_config() {
	cat >"$1/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  here: $2
certificates:
  web:
    common_name: web.test
    dns_names: [web.test$4]
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
      - { host: here, files: { cert: $3/etc/web.crt, key: $3/etc/web.key, reload: "$5" } }
YAML
}

# scenario LABEL HOST_YAML DIR OWNER FAULT: every case.
scenario() {
	local label=$1 host=$2 dir=$3 owner=$4 fault=$5
	local site=$TEST_TMP/site-$label
	echo "# ---- $label"
	make_ca "$site" ca
	layout "$dir" "$owner"
	cd "$site" || return
	write_config "$site" "$host" "$dir" "" "true"

	expect_exit 0 "$CERTSYNC" apply --yes
	[[ -L $dir/etc/web.crt && -L $dir/etc/web.key ]] && ok "$label: the links are still links" ||
		not_ok "$label: the links are still links" "$(ls -la "$dir/etc")"
	cmp -s "$dir/live/web.crt" .certsync/certs/web/cert.pem && ok "$label: the linked-to certificate is the new one" ||
		not_ok "$label: the linked-to certificate is the new one" "$(head -c 200 "$dir/live/web.crt")"
	cmp -s "$dir/live/web.key" .certsync/certs/web/key.pem && ok "$label: the linked-to key is the new one" ||
		not_ok "$label: the linked-to key is the new one"
	expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

	# A failing reload: the rollback puts the linked-to files back.
	local was
	was=$(sha256sum "$dir/live/web.crt" "$dir/live/web.key")
	write_config "$site" "$host" "$dir" ", www.web.test" "exit 4"
	expect_exit 1 "$CERTSYNC" apply --yes
	expect_contains "$OUT" "rollback .*put back $dir/etc/web.crt"
	[[ $(sha256sum "$dir/live/web.crt" "$dir/live/web.key") == "$was" && -L $dir/etc/web.crt ]] &&
		ok "$label: the rollback put the linked-to files back, the links stay" ||
		not_ok "$label: the rollback put the linked-to files back, the links stay" "$(ls -la "$dir/etc" "$dir/live")"

	# Killed in the middle of writing the key: its temporary file is
	# beside the linked-to key; the next apply removes it.
	# The point is reached by the state folder's writes too: the Nth
	# time, for the first N whose kill lands in a binding's file.
	write_config "$site" "$host" "$dir" ", www.web.test" "true"
	local n rc left=
	for n in $(seq 1 40); do
		CERTSYNC_FAULT=$fault@$n "$CERTSYNC" apply --yes >"$TEST_TMP/killed.log" 2>&1
		rc=$?
		((rc == 137)) || break
		left=$(find "$dir/live" -name '.*certsync-*')
		[[ -n $left ]] && break
	done
	[[ $rc == 137 ]] && ok "$label: killed at $fault@$n" || not_ok "$label: killed at $fault@$n" "exit $rc: $(cat "$TEST_TMP/killed.log")"
	[[ -n $left ]] && ok "$label: the killed write left its temporary file beside the linked-to file" ||
		not_ok "$label: the killed write left its temporary file beside the linked-to file" "$(ls -la "$dir/live" "$dir/etc")"
	expect_exit 0 "$CERTSYNC" apply --yes
	expect_contains "$OUT" 'removed [0-9]+ temporary files? left by an apply that did not finish'
	left=$(find "$dir" -name '.*certsync-*')
	[[ -z $left ]] && ok "$label: the next apply removed it" || not_ok "$label: the next apply removed it" "$left"
	[[ -L $dir/etc/web.crt && -L $dir/etc/web.key ]] && cmp -s "$dir/live/web.key" .certsync/certs/web/key.pem &&
		ok "$label: converged through the links" || not_ok "$label: converged through the links" "$(ls -la "$dir/etc")"
	expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
}

scenario local "{ platform: linux, local: {} }" "$TEST_TMP/l-files" root write.mid

if ssh_lib_init >"$TEST_TMP/init.out" 2>&1 && ssh_start box; then
	ssh_known_line box >>"$SSH_KNOWN_HOSTS"
	scenario ssh "{ platform: linux, ssh: { address: 127.0.0.1, port: ${SSHD_PORT[box]}, user: $SSH_USER, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS } }" \
		"$TEST_TMP/s-files" "$SSH_USER" ssh.upload-mid
else
	echo "# ssh part skipped: $(cat "$TEST_TMP/init.out")"
fi

done_testing
