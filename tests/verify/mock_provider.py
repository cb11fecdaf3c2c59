#!/usr/bin/env python3
"""A mock provider API over HTTPS on 127.0.0.1 for the verification tests.

usage: mock_provider.py CERT KEY TOKENS.json LOG PORTFILE

TOKENS.json maps a token to how it is answered: live, revoked, 429, 500 or hang. Answers follow
the real providers: GitHub /user, Slack /api/auth.test (200 with ok false when revoked), and
401 for a revoked token elsewhere. Every request is logged as one JSON line (time, path, token)
before it is answered; the chosen port is written to PORTFILE once listening.
"""
import base64
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cert, key, tokens_path, log_path, port_path = sys.argv[1:6]
with open(tokens_path) as f:
    TOKENS = json.load(f)
LOG_LOCK = threading.Lock()


def token_of(headers):
    for name in ("Authorization", "PRIVATE-TOKEN", "x-api-key", "DD-API-KEY"):
        value = headers.get(name)
        if value:
            for prefix in ("Bearer ", "token "):
                if value.startswith(prefix):
                    return value[len(prefix):]
            if value.startswith("Basic "):  # Mailgun: api:KEY
                return base64.b64decode(value[6:]).decode().split(":", 1)[1]
            return value
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def answer_text(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        token = token_of(self.headers)
        if self.path.startswith("/services/"):  # a Slack webhook: the token is the path
            token = "https://hooks.slack.com" + self.path
        kind = TOKENS.get(token, "revoked")
        with LOG_LOCK, open(log_path, "a") as log:
            log.write(json.dumps({"time": time.time(), "path": self.path, "kind": kind,
                                  "method": self.command}) + "\n")
        if kind == "hang":
            time.sleep(120)
            return
        if kind == "429":
            return self.answer(429, {"message": "rate limited"}, [("Retry-After", "30")])
        if kind == "500":
            return self.answer(500, {"message": "oops"})
        if self.path.startswith("/services/"):
            if kind == "live":  # a live hook rejects the malformed post
                return self.answer_text(400, "invalid_payload")
            return self.answer_text(404, "no_service")
        slack = self.path.startswith("/api/auth.test")
        if kind == "live":
            if slack:
                return self.answer(200, {"ok": True, "team": "Acme", "user": "alerts-bot",
                                         "team_id": "T001", "user_id": "U001"})
            if self.path == "/user":
                return self.answer(200, {"login": "octo-live", "id": 4242},
                                   [("X-OAuth-Scopes", "repo, read:org")])
            return self.answer(200, {"username": "npm-live"})
        if slack:
            return self.answer(200, {"ok": False, "error": "invalid_auth"})
        if self.path.startswith("/api/v1/validate"):  # Datadog answers 403
            return self.answer(403, {"errors": ["Forbidden"]})
        return self.answer(401, {"message": "Bad credentials"})

    do_GET = handle_any
    do_POST = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_path + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_path + ".tmp", port_path)
server.serve_forever()
