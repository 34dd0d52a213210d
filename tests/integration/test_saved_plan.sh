#!/usr/bin/env bash
# plan -o writes a plan without key material; apply PLAN carries out exactly
# it, and refuses it once the observed state or the config changed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' 'true'
cd "$d"

expect_exit 0 "$CERTSYNC" apply --yes
cp pki/ca.crt out/web.crt            # drift
expect_exit 2 "$CERTSYNC" plan -o drift.plan --detailed-exitcode
expect_contains "$OUT" 'Saved the plan to drift.plan'
[ "$(stat -c %a drift.plan)" = 600 ] && ok "saved plan is 0600" || not_ok "saved plan is 0600"
grep -q 'PRIVATE KEY' drift.plan && not_ok "no key material in the saved plan" || ok "no key material in the saved plan"
expect_exit 0 python3 -c 'import json,sys; p=json.load(open("drift.plan")); sys.exit(0 if [a["kind"] for a in p["actions"]]==["bind","reload"] else 1)'

# A plan file whose binding index does not fit: refused, not wrapped
# around to another binding (2^32 read as an int is binding 0).
python3 -c 'import json; p=json.load(open("drift.plan")); p["actions"][0]["binding"]=4294967296; json.dump(p, open("wrapped.plan","w"))'
expect_exit 1 "$CERTSYNC" apply wrapped.plan
expect_contains "$OUT" 'action 1 has an invalid binding or verify index'
expect_exit 2 "$CERTSYNC" plan --detailed-exitcode

# Someone changes the files after the review: the plan is stale.
echo tampered >out/web-full.pem
expect_exit 1 "$CERTSYNC" apply drift.plan
expect_contains "$OUT" 'saved plan drift.plan is stale'
[ "$(cat out/web-full.pem)" = tampered ] && ok "stale plan changed nothing" || not_ok "stale plan changed nothing"

expect_exit 0 "$CERTSYNC" plan -o fresh.plan
echo "# a comment" >>certsync.yaml
expect_exit 1 "$CERTSYNC" apply fresh.plan
expect_contains "$OUT" 'made from another version of'
sed -i '$d' certsync.yaml
expect_exit 0 "$CERTSYNC" apply fresh.plan
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# A plan saved with a relative -c is applied from another folder: it names
# its config by absolute path.
cp pki/ca.crt out/web.crt
expect_exit 0 "$CERTSYNC" plan -c certsync.yaml -o elsewhere.plan
(cd / && "$CERTSYNC" apply "$d/elsewhere.plan") >/dev/null 2>&1 && ok "saved plan applies from another folder" \
	|| not_ok "saved plan applies from another folder"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# A plan made with --target keeps its selection: apply PLAN observes and
# carries out just that, and refuses a --target of its own.
cp pki/ca.crt out/web.crt
expect_exit 0 "$CERTSYNC" plan --target host=here -o targeted.plan
expect_exit 0 python3 -c 'import json,sys; p=json.load(open("targeted.plan")); sys.exit(0 if p["target"]["hosts"]==["here"] else 1)'
expect_exit 1 "$CERTSYNC" apply targeted.plan --target cert=web
expect_contains "$OUT" 'keeps the --target selection it was made with'
expect_exit 0 "$CERTSYNC" apply targeted.plan
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode

# A host that is down when the plan is made and still down when it is
# applied: the plan is not stale for it, even though the error's text
# (curl's "after N ms") differs from run to run.
dead=$(free_port)
# It accepts connections and never answers: curl gives up "after 1001 ms".
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True: held.append(s.accept()[0])' "$dead" &
cleanup_add "kill $!"
wait_port "$dead"
printf '%s\n' '  dc:' '    common_name: dc.test' '    issuer: lab' '    bindings:' '      - host: win' \
	'        store: {}' >>certsync.yaml
sed -i "s/^hosts:/hosts:\n  win: { platform: windows, winrm: { address: 127.0.0.1, port: $dead, auth: ntlm, user: x, password: { env: DC_PW }, timeout: 1s } }/" certsync.yaml
export DC_PW=unused
for i in 1 2 3; do
	cp pki/ca.crt out/web.crt
	expect_exit 1 "$CERTSYNC" plan -o down.plan
	expect_contains "$OUT" "host win: inventory: WinRM at .*127.0.0.1"
	grep -q "host win: .*host win" <<<"$OUT" && not_ok "the host is named once" "$OUT" || ok "the host is named once"
	expect_exit 1 "$CERTSYNC" apply down.plan
	expect_contains "$OUT" "done .*bind web"
done

echo '{"format_version": 1, "actions": []}' >broken.plan
expect_exit 1 "$CERTSYNC" apply broken.plan
expect_contains "$OUT" 'config_sha256'
done_testing
