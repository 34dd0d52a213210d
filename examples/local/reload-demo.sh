#!/bin/sh
# The demo's "service reload": what nginx or haproxy would do after certsync
# wrote new files.  It checks that the files are a certificate and its key,
# and logs one line to out/reload.log so that a reload can be seen.
set -eu
cd "$(dirname "$0")"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for crt in out/demo.crt out/api.pem; do
	[ -f "$crt" ] || continue
	subject=$(openssl x509 -noout -subject -in "$crt")
	enddate=$(openssl x509 -noout -enddate -in "$crt")
	echo "$now reload: $crt $subject $enddate" >> out/reload.log
done

# The key must belong to the certificate, or a real service would refuse to start.
if [ -f out/demo.crt ] && [ -f out/demo.key ]; then
	a=$(openssl x509 -noout -pubkey -in out/demo.crt | openssl sha256)
	b=$(openssl pkey -pubout -in out/demo.key | openssl sha256)
	if [ "$a" != "$b" ]; then
		echo "$now reload: out/demo.key does not match out/demo.crt" >> out/reload.log
		echo "reload-demo: out/demo.key does not match out/demo.crt" >&2
		exit 1
	fi
fi
