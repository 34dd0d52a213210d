#!/usr/bin/env bash
# The state folder's meta.json records the SHA-256 of key.pem, cert.pem and
# chain.pem as written, and the plan compares the hosts' files with those
# bytes.  A stored key rewritten by hand in another encoding is still the
# same key: the plan stays "No changes" (the key is encoded again).  A
# host's key file in another encoding is still reported, as before.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
keep=$TEST_TMP/keep

CERTSYNC_BIN=$CERTSYNC bash "$root/bench/scale.sh" --tiny --keep "$keep" >/dev/null 2>"$TEST_TMP/log" ||
	not_ok "bench/scale.sh --tiny" "$(cat "$TEST_TMP/log")"
d=$keep/n20
# The benchmark's CA went with its temporary folder: a new one, a fresh state.
mkdir -p "$d/pki"
(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$d/pki/ca.key" -out "$d/pki/ca.crt" -subj "/CN=store bytes CA" -days 30 2>/dev/null)
old=$(grep -o '/[^ ]*/pki/' "$d/certsync.yaml" | head -1)
sed -i "s|$old|$d/pki/|g" "$d/certsync.yaml"
rm -rf "$d/state"
cd "$d" || exit 1
expect_exit 0 "$CERTSYNC" apply --yes -c certsync.yaml

python3 - "$d/state/certs/c5" >"$TEST_TMP/sums" <<'PY'
import hashlib, json, sys
d = sys.argv[1]
meta = json.load(open(d + "/meta.json"))
for f in ("key.pem", "cert.pem", "chain.pem"):
    got = hashlib.sha256(open(d + "/" + f, "rb").read()).hexdigest().upper()
    print(f, "match" if meta.get("sha256", {}).get(f) == got else "differ")
PY
expect_contains "$TEST_TMP/sums" '^key.pem match$'
expect_contains "$TEST_TMP/sums" '^cert.pem match$'
expect_contains "$TEST_TMP/sums" '^chain.pem match$'

"$CERTSYNC" plan -c certsync.yaml >"$TEST_TMP/plan1" 2>&1
expect_contains "$TEST_TMP/plan1" '^No changes'

# The stored key in the traditional encoding: the same key, still in sync.
openssl pkey -in state/certs/c5/key.pem -traditional -out "$TEST_TMP/k5.pem"
cat "$TEST_TMP/k5.pem" >state/certs/c5/key.pem
expect_contains state/certs/c5/key.pem 'BEGIN EC PRIVATE KEY'
"$CERTSYNC" plan -c certsync.yaml >"$TEST_TMP/plan2" 2>&1
expect_contains "$TEST_TMP/plan2" '^No changes'

# A host's key file in the traditional encoding is reported.
key6=$(grep -o '[^ ]*/c6\.key' certsync.yaml | head -1)
openssl pkey -in state/certs/c6/key.pem -traditional -out "$TEST_TMP/k6.pem"
cat "$TEST_TMP/k6.pem" >"$key6"
"$CERTSYNC" plan -c certsync.yaml >"$TEST_TMP/plan3" 2>&1
expect_contains "$TEST_TMP/plan3" 'bind c6 .*'
expect_contains "$TEST_TMP/plan3" 'is encoded differently from the stored key'

done_testing
