#!/usr/bin/env python3
"""A mock provider API over HTTPS on 127.0.0.1 for the verification tests.

usage: mock_provider.py CERT KEY TOKENS.json LOG PORTFILE

TOKENS.json maps a token to how it is answered: live, revoked, 429 (Retry-After: 30), 429once
(Retry-After: 1 on the first request, then live), 500, hang, restricted (a Google key valid
for other APIs) or signin (Azure DevOps' 203 sign-in page). Answers follow the real providers: GitHub /user, Slack /api/auth.test (200 with
ok false when revoked), Twilio, PyPI's upload endpoint (400 for a good token, 403 for a bad
one), Azure DevOps, Google (400 API_KEY_INVALID), and 401 for a revoked token elsewhere. Signed
requests are checked here, independently of credsift: AWS SigV4 (token "KEYID:SECRET") and
Azure Storage SharedKey (token "ACCOUNT:BASE64KEY"); a wrong signature is answered as AWS and
Azure do. Every request is logged as one JSON line (time, path, kind) before it is answered;
the chosen port is written to PORTFILE once listening.
"""
import base64
import hashlib
import hmac
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
SEEN = set()  # 429once tokens already answered once


def basic_of(headers):
    value = headers.get("Authorization") or ""
    if not value.startswith("Basic "):
        return None, None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


def token_of(headers):
    for name in ("Authorization", "PRIVATE-TOKEN", "x-api-key", "DD-API-KEY", "x-goog-api-key"):
        value = headers.get(name)
        if value:
            for prefix in ("Bearer ", "token "):
                if value.startswith(prefix):
                    return value[len(prefix):]
            if value.startswith("Basic "):  # Mailgun api:KEY, Twilio SID:TOKEN, PyPI, Azure DevOps
                return basic_of(headers)[1]
            return value
    return ""


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def hmac256(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def aws_check(method, path, headers, body):
    """(token, signature ok) for a SigV4 request, token being KEYID:SECRET from TOKENS."""
    auth = headers.get("Authorization") or ""
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "", False
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key_id, date, region, service, _ = fields["Credential"].split("/")
    token = next((t for t in TOKENS if t.startswith(key_id + ":")), key_id + ":")
    secret = token.split(":", 1)[1]
    signed = fields["SignedHeaders"].split(";")
    path_only, _, query = path.partition("?")
    canonical = "\n".join([method, path_only, query] +
                           [name + ":" + headers.get(name, "").strip() for name in signed] +
                           ["", fields["SignedHeaders"], sha256_hex(body)])
    scope = "/".join([date, region, service, "aws4_request"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers.get("x-amz-date", ""), scope,
                         sha256_hex(canonical.encode())])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac256(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return token, hmac.compare_digest(expected, fields["Signature"])


def azure_check(method, path, headers):
    """(token, signature ok) for a SharedKey request, token being ACCOUNT:KEY from TOKENS."""
    auth = headers.get("Authorization") or ""
    if not auth.startswith("SharedKey "):
        return "", False
    account, _, signature = auth[len("SharedKey "):].partition(":")
    token = next((t for t in TOKENS if t.lower().startswith(account + ":")), None)
    if token is None:
        return "", False
    key = base64.b64decode(token.split(":", 1)[1])
    ms = sorted((name.lower(), value.strip()) for name, value in headers.items()
                if name.lower().startswith("x-ms-"))
    path_only, _, query = path.partition("?")
    params = sorted(p.split("=", 1)[0].lower() + ":" + p.split("=", 1)[1]
                    for p in query.split("&") if p)
    standard = [headers.get(h, "") for h in (
        "Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
        "Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range")]
    to_sign = "\n".join([method] + standard) + "\n" + "".join(
        n + ":" + v + "\n" for n, v in ms) + "/" + account + path_only + "".join(
        "\n" + p for p in params)
    expected = base64.b64encode(hmac256(key, to_sign)).decode()
    return token, hmac.compare_digest(expected, signature)


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

    def answer_text(self, status, text, content_type="text/plain"):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        token = token_of(self.headers)
        signature_ok = True
        if self.path.startswith("/services/"):  # a Slack webhook: the token is the path
            token = "https://hooks.slack.com" + self.path
        aws = self.command == "POST" and b"Action=GetCallerIdentity" in body
        azure = self.path.startswith("/?comp=list")
        if aws:
            token, signature_ok = aws_check(self.command, self.path, self.headers, body)
        if azure:
            token, signature_ok = azure_check(self.command, self.path, self.headers)
        kind = TOKENS.get(token, "revoked")
        if kind == "429once":
            kind = "live" if token in SEEN else "429once"
            SEEN.add(token)
        with LOG_LOCK, open(log_path, "a") as log:
            log.write(json.dumps({"time": time.time(), "path": self.path, "kind": kind,
                                  "method": self.command}) + "\n")
        if kind == "hang":
            time.sleep(120)
            return
        if kind == "429":
            return self.answer(429, {"message": "rate limited"}, [("Retry-After", "30")])
        if kind == "429once":
            return self.answer(429, {"message": "rate limited"}, [("Retry-After", "1")])
        if kind == "500":
            return self.answer(500, {"message": "oops"})
        if self.path.startswith("/services/"):
            if kind == "live":  # a live hook rejects the malformed post
                return self.answer_text(400, "invalid_payload")
            return self.answer_text(404, "no_service")
        if aws:
            if not signature_ok and kind == "live":
                return self.aws_error("SignatureDoesNotMatch")
            if kind != "live":
                return self.aws_error("InvalidClientTokenId")
            account = "123456789012"
            return self.answer_text(200, (
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                "<GetCallerIdentityResult><Arn>arn:aws:iam::%s:user/deploy&amp;ci</Arn>"
                "<UserId>AIDAEXAMPLEUSERID</UserId><Account>%s</Account>"
                "</GetCallerIdentityResult></GetCallerIdentityResponse>") % (account, account),
                "text/xml")
        if azure:
            if kind == "live" and signature_ok:
                return self.answer_text(200, (
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults><Containers>"
                    "<Container><Name>backups</Name></Container></Containers>"
                    "</EnumerationResults>"), "application/xml")
            return self.answer_text(403, (
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed"
                "</Code><Message>Server failed to authenticate the request.</Message></Error>"),
                "application/xml")
        if self.path.startswith("/2010-04-01/Accounts/"):  # Twilio: SID in path and user
            sid = self.path[len("/2010-04-01/Accounts/"):].split(".")[0]
            if kind == "live" and basic_of(self.headers)[0] == sid:
                return self.answer(200, {"sid": sid, "friendly_name": "Acme SMS",
                                         "status": "active", "type": "Full"})
            return self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if self.path == "/legacy/":  # PyPI: the token is checked before the form
            if kind == "live":
                if basic_of(self.headers)[0] == "__token__" and b"file_upload" in body:
                    return self.answer_text(400, "400 Include at least one message digest.")
                return self.answer_text(400, "400 bad probe")
            return self.answer_text(403, "403 Invalid or non-existent authentication "
                                         "information. See https://pypi.org/help/#invalid-auth")
        if self.path.startswith("/_apis/profile/profiles/me"):  # Azure DevOps
            if kind == "live" and basic_of(self.headers)[0] == "":
                return self.answer(200, {"displayName": "Dev Ops", "id": "6f1c-ado",
                                         "emailAddress": "devops@acme.example"})
            if kind == "signin":  # the sign-in page of conditional access
                return self.answer_text(203, "<html><title>Azure DevOps Services | Sign In"
                                             "</title></html>", "text/html")
            return self.answer(401, {"message": "Unauthorized"})
        if self.path.startswith("/v1beta/models"):  # Google
            if kind == "live":
                return self.answer(200, {"models": [{"name": "models/gemini-pro"}]})
            if kind == "restricted":
                return self.answer(403, {"error": {"code": 403, "status": "PERMISSION_DENIED",
                                                   "details": [{"reason": "SERVICE_DISABLED"}]}})
            return self.answer(400, {"error": {
                "code": 400, "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}})
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

    def aws_error(self, code):
        return self.answer_text(403, (
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
            "<Type>Sender</Type><Code>%s</Code><Message>denied</Message></Error>"
            "</ErrorResponse>") % code, "text/xml")

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
