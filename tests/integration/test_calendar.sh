#!/usr/bin/env bash
# certsync calendar: parsed by a real iCalendar parser (python3-icalendar),
# one event per certificate remind_before ahead of expiry, with an alarm, and
# the same UID after a renewal so calendars update instead of duplicating.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
local_config "$d" '{ ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }' 'true'
cd "$d"
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 "$CERTSYNC" calendar -o first.ics

read_ics() {
	/usr/bin/python3 - "$1" <<'PY'
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
events = [c for c in cal.walk() if c.name == 'VEVENT']
for e in events:
    alarms = [a for a in e.walk() if a.name == 'VALARM']
    print(len(events), e['UID'], e['DTSTART'].dt.isoformat(), len(alarms), str(e['SUMMARY']))
    print(str(e['DESCRIPTION']).replace('\n', ' | '))
PY
}
out=$(read_ics first.ics) && ok "python3-icalendar parses the calendar" || not_ok "python3-icalendar parses the calendar" "$out"
not_after=$(openssl x509 -in out/web.crt -noout -enddate | cut -d= -f2)
want=$(date -u -d "$not_after - 7 days" +%F)
read -r n uid start alarms _ <<<"$(head -1 <<<"$out")"
[ "$n" = 1 ] && ok "one event" || not_ok "one event" "$out"
[ "$start" = "$want" ] && ok "reminder 7 days before expiry ($want)" || not_ok "reminder date" "got $start want $want"
[ "$alarms" = 1 ] && ok "event has an alarm" || not_ok "event has an alarm"
expect_contains "$out" 'here: files .*out/web.crt'
expect_contains "$out" "$(openssl x509 -in out/web.crt -noout -serial | cut -d= -f2 | sed 's/^0*//')"

# Renew (time moves on past renew_before) and export again: same UID, new date.
export CERTSYNC_NOW=$(( $(date +%s) + 70 * 86400 ))
expect_exit 0 "$CERTSYNC" apply --yes
expect_exit 0 "$CERTSYNC" calendar -o second.ics
out2=$(read_ics second.ics)
read -r _ uid2 start2 _ <<<"$(head -1 <<<"$out2")"
[ "$uid" = "$uid2" ] && ok "UID stable across renewal" || not_ok "UID stable across renewal" "$uid vs $uid2"
[ "$start2" != "$start" ] && ok "reminder moved with the new expiry" || not_ok "reminder moved"
done_testing
