#!/usr/bin/env bash
# A second apply on the same state is refused while one runs, naming the
# holder; a failing reload puts the previous files back byte for byte, runs
# the reload again, and the plan still shows the change as pending.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
# The reload waits for a flag file so the first apply holds the lock while
# the second one starts.
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' \
	'while [ ! -e go ]; do sleep 0.05; done; echo reloaded >> out/reload.log'
cd "$d"

"$CERTSYNC" apply --yes >first.log 2>&1 &
first=$!
cleanup_add "kill $first"
for _ in $(seq 100); do [ -e out/web.crt ] && break; sleep 0.05; done
# Exit 3, not 1: a timer can tell "another run has it, try later" from
# "broken".
expect_exit 3 "$CERTSYNC" apply --yes
expect_contains "$OUT" "locked by certsync apply \\(pid $first"
touch go
wait "$first" && ok "first apply finished" || not_ok "first apply finished" "$(cat first.log)"

# The same when something else holds the flock (an operator's flock(1)),
# and plan, which does not take the lock, still works meanwhile.
[ -e .certsync/lock ] && ok "lock file in the state folder" || not_ok "lock file in the state folder"
flock .certsync/lock -c 'touch held; while [ ! -e release ]; do sleep 0.05; done' &
holder=$!
cleanup_add "touch $d/release; kill $holder 2>/dev/null"
for _ in $(seq 100); do [ -e held ] && break; sleep 0.05; done
expect_exit 3 "$CERTSYNC" apply --yes
expect_contains "$OUT" "state folder .* is locked by"
expect_exit 0 "$CERTSYNC" plan
touch release
wait "$holder"
rm -f held release
expect_exit 0 "$CERTSYNC" apply --yes

# Converged.  Now a reload that rejects the new files (as `nginx -t` would
# reject a bad certificate) but accepts the previous ones.
cp out/web.crt before.crt; cp out/web.key before.key; cp out/web-full.pem before-full.pem
stat -c '%a %U %G' out/web.key >before.mode
sed -i 's#reload: ".*"#reload: "echo attempt >> out/reload.log; test -e healthy || ! openssl x509 -in out/web.crt -noout -ext subjectAltName | grep -q api"#' certsync.yaml
sed -i 's/www.web.test\]/www.web.test, api.web.test]/' certsync.yaml   # forces a renewal
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'FAILED .*reload .*exited with status 1'
expect_contains "$OUT" 'rollback .*put back'
expect_contains "$OUT" 'ran `.*` again on the previous files'
cmp -s before.crt out/web.crt && cmp -s before.key out/web.key && cmp -s before-full.pem out/web-full.pem \
	&& ok "previous files restored byte for byte" || not_ok "previous files restored byte for byte"
[ "$(stat -c '%a %U %G' out/web.key)" = "$(cat before.mode)" ] && ok "mode and owner restored" \
	|| not_ok "mode and owner restored"
[ "$(grep -c attempt out/reload.log)" = 2 ] && ok "reload ran again after rollback" \
	|| not_ok "reload ran again after rollback" "$(cat out/reload.log)"
[ -z "$(find out -name '.*certsync*')" ] && ok "no temporary files left" || not_ok "no temporary files left"

# The renewal itself is kept (never re-issued by accident): only the binding is pending.
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'Plan: 0 to renew, 1 to bind, 1 to reload'
touch healthy
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$(openssl x509 -in out/web.crt -noout -ext subjectAltName)" 'api.web.test'
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# A new file whose reload fails is removed again, and the rollback says so.
# The other files were already right: the bind left them alone, and the
# rollback has nothing of theirs to put back.
sed -i 's#fullchain: out/web-full.pem,#fullchain: out/web-full.pem, chain: out/web-chain.pem,#' certsync.yaml
rm healthy
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'rollback #2 removed .*out/web-chain.pem \(#1 web\)$'
grep -q 'put back' <<<"$OUT" && not_ok "files the bind did not change are not put back" "$OUT" ||
	ok "files the bind did not change are not put back"
[ ! -e out/web-chain.pem ] && ok "new file removed on rollback" || not_ok "new file removed on rollback"

# Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while
# the reload runs: the reload dies, apply carries on, puts the files back and
# reloads again; the next plan still has the binding to do.
sed -i 's#, chain: out/web-chain.pem##' certsync.yaml
sed -i 's#reload: ".*"#reload: "sleep 3; echo reloaded >> out/reload.log"#' certsync.yaml
touch healthy
expect_exit 0 "$CERTSYNC" apply --yes
cp pki/ca.crt out/web.crt
cp out/web.crt drifted.crt
setsid "$CERTSYNC" apply --yes >int.log 2>&1 &
pid=$!
sleep 1.5
kill -INT -- "-$pid"
wait "$pid"
expect_contains int.log 'interrupted: apply goes on to the end'
expect_contains int.log 'rollback .*put back .*out/web.crt'
cmp -s drifted.crt out/web.crt && ok "interrupted apply put the previous file back" \
	|| not_ok "interrupted apply put the previous file back"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" 'Plan: 0 to renew, 1 to bind, 1 to reload'
# A reload fails and the rollback fails too (the reload took the folder
# away): the new files end up in place, never confirmed.  The next plan must
# not call that clean: it binds, reloads and verifies them again.
sed -i 's#reload: ".*"#reload: "if [ -e fail-once ]; then rm fail-once; mv out out.moved; touch out; exit 1; fi; echo reloaded >> out/reload.log"#' certsync.yaml
cp pki/ca.crt out/web.crt
touch fail-once
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'ROLLBACK FAILED #2 could not put back what #1 changed'
rm out && mv out.moved out
cmp -s out/web.crt .certsync/certs/web/cert.pem && ok "the new files are there, unconfirmed" ||
	not_ok "the new files are there, unconfirmed"
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode
expect_contains "$OUT" "bind web → here files"
expect_contains "$OUT" "because an apply on [0-9-]+ changed it but could neither confirm it nor put it back \\(reload on here: .* failed, and putting the binding back failed too: .*\\): it is applied, reloaded and verified again"
expect_exit 0 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'done +#2 reload on here'
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
grep -q 'web' .certsync/hosts/here/unconfirmed.json && not_ok "the record is gone" "$(cat .certsync/hosts/here/unconfirmed.json)" ||
	ok "the record is gone"

# The journal cannot be written: the work stands, each action says it is
# not in the journal, apply exits 1 so that someone looks.
mv .certsync/journal.jsonl journal.keep
mkdir .certsync/journal.jsonl
cp pki/ca.crt out/web.crt
expect_exit 1 "$CERTSYNC" apply --yes
expect_contains "$OUT" 'WARNING +#1 not in the journal: journal .*journal.jsonl'
expect_contains "$OUT" 'Apply finished with warnings: 2 done, 0 failed, 0 skipped, 2 warnings'
cmp -s out/web.crt .certsync/certs/web/cert.pem && ok "the bind stands" || not_ok "the bind stands"
rmdir .certsync/journal.jsonl
mv journal.keep .certsync/journal.jsonl
done_testing
