#!/bin/sh
# Give haproxy a renewed certificate through its runtime API, without a
# reload: `set ssl cert` opens a transaction with the new PEM (key +
# certificate + chain, as certsync's `pem` binding writes it), `commit ssl
# cert` swaps it in for new connections.  Use it as a files binding's reload:
#   reload: "sh /usr/local/lib/certsync/haproxy-set-ssl-cert.sh /run/haproxy/admin.sock /etc/haproxy/certs/web.pem"
# The PEM path must be the one named by `crt` on haproxy's bind line; the
# socket needs `level admin`.  Needs socat.
set -eu
sock=$1
pem=$2
out=$( { printf 'set ssl cert %s <<\n' "$pem"; cat "$pem"; printf '\n'; } | socat - "unix-connect:$sock")
case $out in
*"Transaction created"* | *"Transaction updated"*) ;;
*) echo "haproxy refused the new certificate for $pem: $out" >&2; exit 1 ;;
esac
out=$(printf 'commit ssl cert %s\n' "$pem" | socat - "unix-connect:$sock")
case $out in
*Success*) echo "haproxy now serves the new certificate from $pem" ;;
*) echo "haproxy did not commit $pem: $out" >&2; printf 'abort ssl cert %s\n' "$pem" | socat - "unix-connect:$sock" >/dev/null; exit 1 ;;
esac
