#!/usr/bin/env python3
"""A webhook receiver for tests/integration/test_notify.sh.

    notify_receiver.py PORT SECRET_FILE LOG [FAIL_FIRST]

Listens on 127.0.0.1:PORT.  Every POST is checked against the HMAC-SHA256
of its body under the secret (X-Certsync-Signature: sha256=HEX) and logged
to LOG as one JSON line: {"n": N, "event": X-Certsync-Event, "sig_ok": bool,
"status": answered, "body": parsed body}.  The first FAIL_FIRST requests
are answered 500 (to see the retries), the rest 204 when the signature is
right and 401 when not.
"""
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port = int(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    secret = f.read().rstrip(b"\r\n")
log_path = sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
count = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        sig_ok = hmac.compare_digest(want, self.headers.get("X-Certsync-Signature", ""))
        status = 500 if count <= fail_first else 204 if sig_ok else 401
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with open(log_path, "a") as f:
            f.write(json.dumps({"n": count, "event": self.headers.get("X-Certsync-Event"),
                                "content_type": self.headers.get("Content-Type"),
                                "sig_ok": sig_ok, "status": status, "body": parsed}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
