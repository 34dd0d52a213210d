#!/usr/bin/env bash
# The house rules of docs/architecture.md, checked on the source: arrows run
# one way (nothing in providers/ includes reconcile/, the ground floor
# includes nothing above it, cmd/ reaches the providers only through
# reconcile/), the engine names no binding kind, and config.c stays small.
. "$(dirname "$0")/lib.sh"

root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
cd "$root" || exit 1

check_none() { # NAME, then the grep arguments; ok when grep finds nothing
	local name=$1 found
	shift
	found=$(grep -rnE "$@" 2>/dev/null)
	if [[ -z $found ]]; then ok "$name"; else not_ok "$name" "$found"; fi
}

check_none "providers/ includes nothing of reconcile/ or cmd/" \
	'#include "(reconcile|cmd)/' providers/
check_none "providers/base/ includes nothing above it" \
	'#include "(reconcile|cmd|providers/(platform|issuer|transport))/' providers/base/
check_none "providers/transport/ includes no platform or issuer" \
	'#include "providers/(platform|issuer)/' providers/transport/
check_none "platform and issuer include nothing of each other" \
	'#include "providers/issuer/' providers/platform/
check_none "issuer includes nothing of platform" \
	'#include "providers/platform/' providers/issuer/
check_none "cmd/ reaches kinds, issuers and transports only through reconcile/" \
	'#include "providers/(platform|issuer|transport)/' cmd/
check_none "reconcile/ and cmd/ name no binding kind" \
	'CS_BIND_[A-Z]|cs_kind_[a-z]+|(\.|->)(files|store|script|iis|httpsys|exchange|rdp)\.' reconcile/ cmd/

lines=$(wc -l < reconcile/config.c)
if (( lines <= 900 )); then
	ok "reconcile/config.c has at most 900 lines ($lines)"
else
	not_ok "reconcile/config.c has at most 900 lines" "it has $lines"
fi

done_testing
