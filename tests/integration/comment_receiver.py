#!/usr/bin/python3
"""A stand-in for the GitHub and GitLab comment APIs on loopback, for
test_gitops_example.sh: every request is appended to LOG as one JSON line
(method, path, headers, body); the answer is 201 with {"id": 1}, 400
when the body is not JSON with a string "body" (as GitHub answers), or 500
for a path that contains "/fail/".

  comment_receiver.py LOG READY_FILE   (READY_FILE gets the port)"""
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

log_path, ready = sys.argv[1:3]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"method": "POST", "path": self.path, "headers": dict(self.headers.items()),
                                "body": body}) + "\n")
        try:
            valid = isinstance(json.loads(body).get("body"), str)
        except (ValueError, AttributeError):
            valid = False
        if "/fail/" in self.path:
            code, reply = 500, b'{"message":"stand-in failure"}'
        elif not valid:
            code, reply = 400, b'{"message":"Problems parsing JSON"}'
        else:
            code, reply = 201, b'{"id":1}'

        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(ready + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(ready + ".tmp", ready)
server.serve_forever()
