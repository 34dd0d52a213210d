#!/usr/bin/env bash
# The fault-injection matrix, short form (tests/reliability/fault-matrix.sh
# --short): apply killed at the riskiest fault points on a local, an SSH
# and a WinRM host (local CA and Pebble issuing), and at random moments;
# after each kill an apply without a fault must converge with one issuance
# per certificate, the owed reloads and reboot done, no key left outside
# the key files, no false unconfirmed record and no ROLLBACK FAILED.  One
# TAP line per trial and check; RELIABILITY.md has the full matrix.
# Minutes on a loaded machine (each trial resets a scenario of three hosts and two CAs):
# timeout: 900
# Not repeated by the sanitizer pass: test_crash_resume*.sh kill and resume
# the same recovery code under ASan point by point; the matrix adds hosts
# and minutes, not code.
# sanitize: no
exec bash "$(dirname "$0")/../reliability/fault-matrix.sh" --short --tap "$@"
