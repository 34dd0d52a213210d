#!/usr/bin/env bash
# What a user sees when things are wrong: config errors as FILE:LINE:COL,
# a missing config, bad --target, unknown commands — exit 1, clear words.
. "$(dirname "$0")/lib.sh"
cd "$TEST_TMP"

expect_exit 1 "$CERTSYNC" plan
expect_contains "$OUT" 'certsync.yaml'
cat >bad.yaml <<'YAML'
version: 1
hosts:
  here: { platform: linux, local: {} }
certificates:
  web:
    comon_name: web.test
    issuer: nowhere
    renew_before: 30 days
YAML
expect_exit 1 "$CERTSYNC" validate -c bad.yaml
expect_contains "$OUT" 'bad.yaml:6:5: .*comon_name.*did you mean.*common_name'
expect_contains "$OUT" 'bad.yaml:7:13: .*nowhere'
expect_contains "$OUT" 'bad.yaml:8:19: '
[ "$(grep -c 'bad.yaml:' <<<"$OUT")" -ge 3 ] && ok "all errors reported" || not_ok "all errors reported" "$OUT"
expect_exit 1 "$CERTSYNC" plan -c bad.yaml
# An ACME directory the client would refuse (it speaks https only, to
# loopback too) is refused by validate already.
cat >http.yaml <<'YAML'
version: 1
issuers:
  le:
    acme: { directory: "http://127.0.0.1:14000/dir" }
YAML
expect_exit 1 "$CERTSYNC" validate -c http.yaml
expect_contains "$OUT" 'http\.yaml:4:24: "directory" in acme of issuer le must be an https:// URL'
expect_exit 1 "$CERTSYNC" frobnicate
expect_contains "$OUT" 'unknown command'
expect_exit 1 "$CERTSYNC" help frobnicate
expect_contains "$OUT" 'unknown command "frobnicate"'
expect_exit 0 "$CERTSYNC" help plan
expect_contains "$OUT" 'usage: certsync plan'
# The exit statuses are in the help, 3 for a state folder locked by another run.
expect_exit 0 "$CERTSYNC" help apply
expect_contains "$OUT" '3 the state folder is locked by another run'
expect_exit 0 "$CERTSYNC" help
expect_contains "$OUT" '3 the state folder is locked by another run'
# A clock pin that can not be read is refused, not replaced by the real clock.
CERTSYNC_NOW=2027-01-20 expect_exit 1 "$CERTSYNC" validate -c bad.yaml
expect_contains "$OUT" 'CERTSYNC_NOW="2027-01-20" is neither unix seconds nor an RFC 3339'
expect_exit 0 "$CERTSYNC" validate -c "$_lib_root/examples/iis-exchange-isa/certsync.yaml"
expect_exit 0 "$CERTSYNC" validate -c "$_lib_root/examples/local/certsync.yaml"
expect_exit 1 "$CERTSYNC" plan -c "$_lib_root/examples/local/certsync.yaml" --target host=nosuch
expect_contains "$OUT" 'host=nosuch: no such host in .*certsync.yaml \(hosts: here\)'
done_testing
