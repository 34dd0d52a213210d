#!/usr/bin/env python3
"""A test-only RFC 9773 renewal-information responder in front of Pebble.

Debian's Pebble 2.4 predates ARI.  This HTTPS reverse proxy forwards every
ACME request to Pebble unchanged — keeping the Host header, so the URLs
Pebble builds (and the JWS "url" it checks) are the proxy's — and adds:

  GET /dir                      Pebble's directory plus "renewalInfo"
  GET /renewal-info/<certID>    the window set for that certID (RFC 9773
                                §4.2: suggestedWindow, Retry-After), 404
                                for an unknown certID, 400 for a malformed one
  POST /test/window             (test control) {"certID","start","end",
                                "explanationURL"?} or {"certID","status"}
Each newOrder payload's "replaces" (or null) is appended as a JSON line to
the log file, with every renewalInfo request.

  ari_proxy.py PORT PEBBLE_HOST:PORT TLS_CERT TLS_KEY PEBBLE_CA LOG
"""
import base64
import http.client
import http.server
import json
import re
import ssl
import sys
import threading

PORT, UPSTREAM, CERT, KEY, UPSTREAM_CA, LOG = sys.argv[1:7]
WINDOWS = {}
LOCK = threading.Lock()
# RFC 9773 §4.1: two base64url parts without padding, joined by a dot.
CERT_ID = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def log(record):
    with LOCK, open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def reply(self, status, body, ctype="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def upstream(self, body):
        ctx = ssl.create_default_context(cafile=UPSTREAM_CA)
        host, port = UPSTREAM.rsplit(":", 1)
        conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", self.headers["Host"])
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP:
                conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        conn.close()
        return resp.status, headers, data

    def forward(self, body=b""):
        status, headers, data = self.upstream(body)
        if self.path == "/dir" and status == 200:
            d = json.loads(data)
            d["renewalInfo"] = "https://%s/renewal-info/" % self.headers["Host"]
            data = json.dumps(d).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/renewal-info/"):
            cert_id = self.path[len("/renewal-info/"):]
            log({"renewalInfo": cert_id})
            if not CERT_ID.match(cert_id):
                return self.reply(400, {"type": "urn:ietf:params:acme:error:malformed",
                                        "detail": "malformed certID"}, "application/problem+json")
            with LOCK:
                w = WINDOWS.get(cert_id)
            if w is None:
                return self.reply(404, {"type": "urn:ietf:params:acme:error:malformed",
                                        "detail": "no such certificate"}, "application/problem+json")
            if "status" in w:
                return self.reply(w["status"], {"type": "urn:ietf:params:acme:error:serverInternal",
                                                "detail": "renewal info unavailable"}, "application/problem+json")
            body = {"suggestedWindow": {"start": w["start"], "end": w["end"]}}
            if w.get("explanationURL"):
                body["explanationURL"] = w["explanationURL"]
            return self.reply(200, body, headers=[("Retry-After", "21600")])
        return self.forward()

    def do_HEAD(self):
        return self.forward()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/test/window":
            w = json.loads(body)
            with LOCK:
                WINDOWS[w.pop("certID")] = w
            return self.reply(200, {"ok": True})
        if self.path == "/order-plz":
            try:
                payload = json.loads(b64url_decode(json.loads(body)["payload"]))
                log({"newOrder": payload.get("replaces")})
            except (ValueError, KeyError):
                log({"newOrder": "unreadable"})
        return self.forward(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
