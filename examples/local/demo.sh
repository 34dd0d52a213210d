#!/usr/bin/env bash
# The local demo: install what is needed, build certsync, create a throw-away
# local CA, then plan → apply → plan again (clean) → status → calendar, all
# on this machine with no network.  Run from anywhere:
#   bash examples/local/demo.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

bash "$top/scripts/install-deps.sh"
if [ ! -f "$top/build/build.ninja" ]; then
	meson setup "$top/build" >/dev/null
fi
ninja -C "$top/build" >/dev/null
certsync="$top/build/certsync"

cd "$here"
# The demo CA: what an operator's internal CA would be.  Its key is a secret
# file, so only its owner may read it.
if [ ! -f pki/ca.key ]; then
	mkdir -p pki
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout pki/ca.key -out pki/ca.crt -subj "/CN=certsync demo CA" -days 3650 2>/dev/null)
fi
mkdir -p out

step() { printf '\n\033[1m$ certsync %s\033[0m\n' "$*"; }
step validate;                   "$certsync" validate
step plan;                       "$certsync" plan
step apply --yes;                "$certsync" apply --yes
step plan --detailed-exitcode;   "$certsync" plan --detailed-exitcode
step status;                     "$certsync" status
step calendar -o out/renewals.ics; "$certsync" calendar -o out/renewals.ics
echo
echo "Files written under $here/out:"
ls -l out
echo
echo "Reload log (the demo 'service' checked its new files):"
cat out/reload.log
