#!/bin/sh
# certsync-failed.sh UNIT: say that UNIT (certsync-apply.service) failed,
# with the error lines of its last run.  Started by certsync-failed@.service.
# Replace the logger line with mail(1), a chat webhook or a pager as you
# like; certsync's own `notify:` in the config covers the usual cases.
set -eu
unit=${1:?usage: certsync-failed.sh UNIT}
# The JSON lines of the last run that say "error" (certsync writes no
# secret into them).
id=$(systemctl show --property=InvocationID --value "$unit" 2>/dev/null || true)
errors=""
if [ -n "$id" ]; then
	errors=$(journalctl "_SYSTEMD_INVOCATION_ID=$id" --output=cat --no-pager 2>/dev/null |
		grep '"level":"error"' | tail -n 20 || true)
fi
logger --tag certsync-failed --priority user.err -- "$unit failed; see journalctl -u $unit"
if [ -n "$errors" ]; then
	printf '%s\n' "$errors" | logger --tag certsync-failed --priority user.err
fi
