#!/usr/bin/env bash
# An ACME renewal killed (SIGKILL) at each step of its order — after the
# order is created, after the challenges, after finalize, after the
# download, before the certificate is saved — is finished by the next
# `apply --yes` with the same order: Pebble issues exactly one certificate
# (counted in its log and in the ledger certs/NAME/issued.jsonl), and the
# plan afterwards is clean.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pebble_lib.sh"

if ! pebble_have; then
	not_ok "pebble and pebble-challtestsrv are installed (scripts/install-deps.sh)"
	done_testing
fi
pebble_start || { not_ok "pebble starts"; done_testing; }

# Pebble's line for each certificate it issues.
issued() { grep -ac 'Issued certificate serial' "$PEBBLE_LOG"; }
orders() { grep -ac 'Added order' "$PEBBLE_LOG"; }

n=0
for point in acme.order-created acme.authorized acme.key-saved acme.finalized acme.downloaded renew.signed \
	renew.ledger store.key-written renew.saved acme.order-posted; do
	n=$((n + 1))
	d=$TEST_TMP/a$n
	acme_config "$d" "{ http-01: { standalone: \"127.0.0.1:$PEBBLE_HTTP_PORT\" } }"
	cd "$d" || exit 1
	certs_before=$(issued)
	orders_before=$(orders)
	CERTSYNC_FAULT=$point "$CERTSYNC" apply --yes >killed.log 2>&1
	rc=$?
	((rc == 137)) && ok "$point: apply is killed there" || not_ok "$point: apply is killed there" "exit $rc" "$(cat killed.log)"
	if "$CERTSYNC" apply --yes >rerun.log 2>&1; then
		ok "$point: the rerun succeeds"
	else
		not_ok "$point: the rerun succeeds" "$(cat rerun.log)"
	fi
	expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
	certs=$(($(issued) - certs_before))
	[[ $certs == 1 ]] && ok "$point: Pebble issued one certificate" \
		|| not_ok "$point: Pebble issued one certificate" "$certs certificates, $(($(orders) - orders_before)) orders"
	if [[ $point != acme.order-posted ]]; then
		[[ $(($(orders) - orders_before)) == 1 ]] && ok "$point: one order" \
			|| not_ok "$point: one order" "$(($(orders) - orders_before)) orders"
	fi
	serials=$(jq -r .serial .certsync/certs/web/issued.jsonl 2>/dev/null | sort -u | wc -l)
	[[ $serials == 1 ]] && ok "$point: one serial in the ledger" \
		|| not_ok "$point: one serial in the ledger" "$(cat .certsync/certs/web/issued.jsonl 2>&1)"
	norm() { tr -d ':' | tr a-f A-F | sed 's/^0*//'; }
	[[ $(openssl x509 -in out/web.crt -noout -serial | cut -d= -f2 | norm) == "$(jq -r .serial .certsync/certs/web/issued.jsonl | tail -n 1 | norm)" ]] \
		&& ok "$point: the installed certificate is the ledger's" || not_ok "$point: the installed certificate is the ledger's"
	[[ ! -e .certsync/acme/orders/web.json && -z $(find .certsync/issuing -type f 2>/dev/null) ]] && ok "$point: nothing left in flight" \
		|| not_ok "$point: nothing left in flight" "$(find .certsync/acme/orders .certsync/issuing 2>&1)"
	left=$(find "$d" -name '*.certsync-*')
	[[ -z $left ]] && ok "$point: no temporary files left" || not_ok "$point: no temporary files left" "$left"
	cd "$TEST_TMP" || exit 1
done

done_testing
