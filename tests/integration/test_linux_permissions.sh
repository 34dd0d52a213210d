#!/usr/bin/env bash
# Permissions as Linux fleets have them: certsync run by a login user that
# is not root, on this machine (a user made here, certsync run through
# runuser) and over SSH (the test user of ssh_lib.sh, no become).  The plan
# says what that user cannot do: a group it cannot keep (the group root
# that `chown deploy FILE` leaves) is said in the bind's reason and the
# apply works; a declared group it is not in, a declared owner that is not
# itself, a folder it cannot write, and a group that the mode lets read the
# key but that the user cannot keep are plan errors naming file, value and
# fix, and nothing changes.  A failed apply that changed nothing (the
# files already right, or a write that never replaced its file) says so,
# with no ROLLBACK FAILED and nothing recorded as unconfirmed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/ssh_lib.sh"

if ((EUID != 0)); then
	not_ok "needs root to create the test users and groups"
	done_testing
fi
chmod 711 "$TEST_TMP"

# Names unique to this run: suites may run at the same time.
U=csperm$$
GIN=cspin$$    # U and the SSH user are in it
GOUT=cspout$$  # nobody is
# /etc/passwd and /etc/group are changed under ssh_lib.sh's machine-wide
# lock: two suites editing them at once make one of them fail ("cannot
# lock /etc/group").
_ssh_lib_locked groupadd "$GIN" || { not_ok "groupadd $GIN"; done_testing; }
cleanup_add "_ssh_lib_locked groupdel $GIN"
_ssh_lib_locked groupadd "$GOUT" || { not_ok "groupadd $GOUT"; done_testing; }
cleanup_add "_ssh_lib_locked groupdel $GOUT"
_ssh_lib_locked useradd -M -s /bin/sh -G "$GIN" "$U" || { not_ok "useradd $U"; done_testing; }
cleanup_add "_ssh_lib_locked userdel $U"

script_binding='      - { host: here, script: { path: lock.sh, args: { folder: FILES } } }'

# write_config SITE HOST_YAML FILES [FILES_EXTRA [PRE_BINDING [DNS_EXTRA [RELOAD]]]]
write_config() {
	local site=$1 host=$2 files=$3 extra=${4:-} pre=${5:-} dns=${6:-}
	local reload=${7:-"echo reloaded >> $files/reload.log"}
	cat >"$site/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
hosts:
  here: $host
certificates:
  web:
    common_name: web.test
    dns_names: [web.test$dns]
    key: { type: ecdsa, curve: p256 }
    issuer: lab
    bindings:
${pre//FILES/$files}
      - { host: here, files: { cert: $files/web.crt, key: $files/web.key, fullchain: $files/web-full.pem$extra, reload: "$reload" } }
YAML
}

# snap FILES: what the files are (mode, owner, group, bytes).
snap() {
	(cd "$1" && stat -c '%n %a %U %G' web.crt web.key web-full.pem && sha256sum web.crt web.key web-full.pem)
}

expect_not_contains() { # TEXT PATTERN
	if grep -Eq -- "$2" <<<"$1"; then
		not_ok "does not contain /$2/" "in:" "$1"
	else
		ok "does not contain /$2/"
	fi
}

expect_eq() { # HAVE WANT NAME
	if [[ $1 == "$2" ]]; then ok "$3"; else not_ok "$3" "have: $1" "want: $2"; fi
}

# scenario LABEL SITE FILES LOGIN LOGIN_GROUP FIX HOST_YAML RUN...: every
# case, with certsync run as RUN... "$CERTSYNC" in SITE, its files in FILES
# (a folder LOGIN owns), LOGIN's primary group LOGIN_GROUP, FIX the advice
# for doing it as root.
scenario() {
	local label=$1 site=$2 files=$3 login=$4 lgroup=$5 fix=$6 host=$7
	shift 7
	local run=("$@" "$CERTSYNC")
	local unconfirmed=$site/.certsync/hosts/here/unconfirmed.json before
	echo "# ---- $label"
	cd "$site" || return

	write_config "$site" "$host" "$files"
	expect_exit 0 "${run[@]}" apply --yes
	expect_contains "$OUT" 'Apply complete: 3 done'

	# What an admin's `chown LOGIN FILE` leaves: group root.  A changed
	# mode makes the key due; the certificate files are already right.
	chgrp root "$files"/web.crt "$files"/web.key "$files"/web-full.pem
	chmod 0644 "$files/web.key"
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_contains "$OUT" "because mode of $files/web.key is 0644, want 0600; $files/web.key: group root will become $lgroup \\($login is not in group root; set group: or $fix\\)"
	expect_not_contains "$OUT" "web.crt: group root"
	expect_exit 0 "${run[@]}" apply --yes
	expect_contains "$OUT" 'Apply complete: 2 done, 0 failed'
	expect_not_contains "$OUT" 'ROLLBACK|chown'
	[[ ! -e $unconfirmed ]] && ok "$label: nothing unconfirmed" || not_ok "$label: nothing unconfirmed" "$(cat "$unconfirmed")"
	expect_eq "$(stat -c '%a %U %G' "$files/web.key")" "600 $login $lgroup" "$label: the key is $login's, group $lgroup"
	expect_eq "$(stat -c '%a %U %G' "$files/web.crt")" "600 $login root" "$label: the certificate, already right, was left alone"
	expect_exit 0 "${run[@]}" plan --detailed-exitcode

	# A renewal rewrites every file: the plan says so for each.
	write_config "$site" "$host" "$files" "" "" ", www.web.test"
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_contains "$OUT" "the certificate is being renewed; $files/web.crt: group root will become $lgroup .*; $files/web-full.pem: group root will become $lgroup"
	expect_exit 0 "${run[@]}" apply --yes
	expect_not_contains "$OUT" 'ROLLBACK'
	expect_eq "$(stat -c '%U %G' "$files/web.crt" "$files/web-full.pem" | sort -u)" "$login $lgroup" "$label: renewed files are $login's"

	# A declared group the user is not in: a plan error, nothing changes.
	local was
	was=$(snap "$files")
	write_config "$site" "$host" "$files" ", group: $GOUT" "" ", www.web.test"
	expect_exit 1 "${run[@]}" plan
	expect_contains "$OUT" "group $GOUT of $files/web.crt cannot be set: $login is not in group $GOUT \\(set group: to a group $login is in, add $login to group $GOUT, or $fix\\)"
	expect_exit 1 "${run[@]}" apply --yes
	expect_eq "$(snap "$files")" "$was" "$label: a group the user is not in: nothing changed"

	# A declared owner that is someone else: a plan error.
	write_config "$site" "$host" "$files" ", owner: root" "" ", www.web.test"
	expect_exit 1 "${run[@]}" plan
	expect_contains "$OUT" "owner root of $files/web.crt cannot be set: $login is not root, and only root can give a file to another user \\(drop owner: or make it $login, or $fix\\)"
	expect_exit 1 "${run[@]}" apply --yes
	expect_eq "$(snap "$files")" "$was" "$label: an owner that is someone else: nothing changed"

	# A declared group the user is in, with mode 0640: done.
	write_config "$site" "$host" "$files" ", group: $GIN, mode: \"0640\"" "" ", www.web.test"
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_contains "$OUT" "group of $files/web.key is $lgroup, want $GIN"
	expect_exit 0 "${run[@]}" apply --yes
	expect_contains "$OUT" 'Apply complete: 2 done, 0 failed'
	expect_eq "$(stat -c '%a %U %G' "$files/web.crt" "$files/web.key" "$files/web-full.pem" | sort -u)" "640 $login $GIN" \
		"$label: group $GIN and mode 0640 set"

	# Mode 0640 lets a group the user is not in read the key (ssl-cert):
	# handing it to the user's group would lock that group out.
	chgrp "$GOUT" "$files"/web.crt "$files"/web.key "$files"/web-full.pem
	was=$(snap "$files")
	write_config "$site" "$host" "$files" ", mode: \"0640\"" "" ", www.web.test"
	expect_exit 1 "${run[@]}" plan
	expect_contains "$OUT" "$files/web.crt: group $GOUT would become $lgroup, and mode 0640 lets group $GOUT read it, others not: $login is not in group $GOUT"
	expect_exit 1 "${run[@]}" apply --yes
	expect_eq "$(snap "$files")" "$was" "$label: a group the mode lets read: nothing changed"
	chgrp "$lgroup" "$files"/web.crt "$files"/web.key "$files"/web-full.pem

	# A folder the user cannot write, files it cannot write either: a
	# plan error naming the folder.
	write_config "$site" "$host" "$files" "" "" ", www.web.test"
	chown root "$files" "$files"/web.crt "$files"/web.key "$files"/web-full.pem
	chmod 0644 "$files/web.key"
	was=$(snap "$files")
	expect_exit 1 "${run[@]}" plan
	expect_contains "$OUT" "folder $files is not writable by $login: certsync replaces $files/web.crt by writing a new file next to it \\(let $login write the folder, or $fix\\)"
	expect_exit 1 "${run[@]}" apply --yes
	expect_eq "$(snap "$files")" "$was" "$label: a folder the user cannot write: nothing changed"

	# The same folder, the files the user's (what `install -o LOGIN` in
	# root's /etc/nginx/tls leaves): they are rewritten in place, keeping
	# owner and group, and the plan says so; a rollback puts them back in
	# place.
	chown "$login" "$files"/web.crt "$files"/web.key "$files"/web-full.pem
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_contains "$OUT" "mode of $files/web.key is 0644, want 0600"
	expect_contains "$OUT" "$files/web.key is rewritten in place \\(folder $files is not writable by $login\\): it keeps its owner and group"
	expect_exit 0 "${run[@]}" apply --yes
	expect_not_contains "$OUT" 'ROLLBACK'
	expect_eq "$(stat -c '%a %U %G' "$files/web.key")" "600 $login $lgroup" "$label: in place: the key keeps owner and group, gets its mode"
	expect_eq "$(stat -c '%U' "$files")" "root" "$label: in place: the folder is still root's"
	expect_exit 0 "${run[@]}" plan --detailed-exitcode
	write_config "$site" "$host" "$files" "" "" ", www.web.test, api.web.test" "exit 9"
	was=$(snap "$files")
	expect_exit 1 "${run[@]}" apply --yes
	expect_contains "$OUT" "rollback .*put back $files/web.crt"
	expect_eq "$(snap "$files")" "$was" "$label: in place: the rollback put the files back in place"
	write_config "$site" "$host" "$files" "" "" ", www.web.test"
	expect_exit 0 "${run[@]}" apply --yes
	expect_exit 0 "${run[@]}" plan --detailed-exitcode
	chown "$login" "$files"
	chmod 0644 "$files/web.key"

	# A folder the user cannot even enter (/etc/ssl/private, 0710): that
	# binding's error, naming the folder, not the host's.
	local priv=$files.priv
	install -d -o root -g root -m 0710 "$priv"
	sed -i "s#key: $files/web.key#key: $priv/web.key#" "$site/certsync.yaml"
	expect_exit 1 "${run[@]}" plan
	expect_contains "$OUT" "error \(web\): web → here files: .*$priv/web.key: .*(P|p)ermission denied \(the user certsync runs as cannot enter folder $priv: let it, or $fix\)$"
	rmdir "$priv"

	# The plan saw nothing wrong, but the write fails (a script binding
	# before it takes the folder's write permission): the certificate,
	# already right, is not touched, the key's new file never replaced
	# it; the failure is said, no rollback failure, nothing unconfirmed.
	write_config "$site" "$host" "$files" "" "$script_binding" ", www.web.test"
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_contains "$OUT" "mode of $files/web.key is 0644, want 0600"
	was=$(snap "$files")
	expect_exit 1 "${run[@]}" apply --yes
	expect_contains "$OUT" "FAILED +#2 bind web → here files: .*web.key"
	expect_not_contains "$OUT" 'ROLLBACK FAILED|could not put back'
	[[ ! -e $unconfirmed ]] && ok "$label: a failure that changed nothing: nothing unconfirmed" ||
		not_ok "$label: a failure that changed nothing: nothing unconfirmed" "$(cat "$unconfirmed")"
	chmod 0644 "$files/web.key" # lock.sh's doing, not certsync's
	expect_eq "$(snap "$files")" "$was" "$label: a write that failed changed nothing"
	chmod 0755 "$files"
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_not_contains "$OUT" 'could neither confirm'
	expect_exit 0 "${run[@]}" apply --yes
	expect_eq "$(stat -c '%a' "$files/web.key")" 600 "$label: applied once the folder is writable again"

	# A rollback that fails for real (the reload takes the folder's write
	# permission, then fails): ROLLBACK FAILED, and the binding is
	# remembered as unconfirmed.
	local flags=$TEST_TMP/flags-$label
	install -d -m 0755 "$flags"
	write_config "$site" "$host" "$files" "" "" ", www.web.test" \
		"if [ -e $flags/lock ]; then chmod 0555 $files; chmod 0444 $files/web.crt $files/web.key $files/web-full.pem; fi; if [ -e $flags/fail ]; then echo no >&2; exit 1; fi; echo reloaded >> $files/reload.log"
	cp "$files/web-full.pem" "$files/web.crt"
	touch "$flags/lock" "$flags/fail"
	expect_exit 1 "${run[@]}" apply --yes
	expect_contains "$OUT" "ROLLBACK FAILED #2 could not put back what #1 changed"
	expect_contains "$unconfirmed" "web"
	rm "$flags/lock"
	chmod 0755 "$files"
	chmod 0600 "$files/web.crt" "$files/web.key" "$files/web-full.pem"
	# Applied again: the files are already right, the bind changes
	# nothing, the reload fails again.  Nothing to put back, so no
	# rollback (nor a reload of what it already serves), and the binding
	# stays unconfirmed.
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_contains "$OUT" "changed it but could neither confirm it nor put it back"
	expect_exit 1 "${run[@]}" apply --yes
	expect_contains "$OUT" "FAILED +#2 reload on here"
	expect_not_contains "$OUT" 'ROLLBACK|rollback'
	expect_contains "$unconfirmed" "web"
	expect_exit 2 "${run[@]}" plan --detailed-exitcode
	expect_contains "$OUT" "changed it but could neither confirm it nor put it back"
	rm "$flags/fail"
	expect_exit 0 "${run[@]}" apply --yes
	expect_exit 0 "${run[@]}" plan --detailed-exitcode
	grep -q web "$unconfirmed" 2>/dev/null && not_ok "$label: confirmed at last: the record is gone" "$(cat "$unconfirmed")" ||
		ok "$label: confirmed at last: the record is gone"
}

make_site() { # SITE OWNER
	make_ca "$1" ca
	# The folder and the key read-only: neither a new file beside it nor
	# a rewrite in place can work.
	printf 'chmod 0555 "$2"; chmod 0444 "$2/web.key"\n' >"$1/lock.sh"
	chown -R "$2" "$1"
}

# ---- on this machine, as U ----
make_site "$TEST_TMP/l-site" "$U"
install -d -o "$U" -m 0755 "$TEST_TMP/l-files"
scenario "local" "$TEST_TMP/l-site" "$TEST_TMP/l-files" "$U" "$U" "run certsync as root" \
	"{ platform: linux, local: {} }" runuser -u "$U" --

# ---- over SSH, as the test user, without become ----
if ! ssh_lib_init >"$TEST_TMP/why"; then
	not_ok "ssh test hosts: $(cat "$TEST_TMP/why")"
	done_testing
fi
ssh_start web1 ed25519 || { not_ok "sshd web1 starts"; done_testing; }
ssh_known_line web1 >>"$SSH_KNOWN_HOSTS"
_ssh_lib_locked gpasswd -a "$SSH_USER" "$GIN" >/dev/null || not_ok "add $SSH_USER to $GIN"
make_site "$TEST_TMP/s-site" root
install -d -o "$SSH_USER" -m 0755 "$SSH_FILES/perm"
scenario "ssh" "$TEST_TMP/s-site" "$SSH_FILES/perm" "$SSH_USER" "$(id -gn "$SSH_USER")" "become: sudo" \
	"{ platform: linux, ssh: { address: 127.0.0.1, port: ${SSHD_PORT[web1]}, user: $SSH_USER, identity: $SSH_KEY, known_hosts: $SSH_KNOWN_HOSTS, timeout: 5s } }" \
	env

done_testing
