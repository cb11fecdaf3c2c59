#!/usr/bin/env python3
"""Login servers for the connection-string verify tests, on 127.0.0.1 with one known account.

    login_servers.py smtp|ftp|http PORT USER PASSWORD DIR

smtp: aiosmtpd with AUTH PLAIN/LOGIN in clear (auth_require_tls off). ftp: pyftpdlib, the
user's home is DIR. http: HEAD /private needs basic auth, HEAD /public does not. Every
authentication attempt is appended to DIR/attempts.log. Runs until SIGTERM.
"""
import base64
import http.server
import os
import signal
import sys
import threading

mode, port, user, password, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
attempts = os.path.join(directory, "attempts.log")


def record(ok):
    with open(attempts, "a") as log:
        log.write(("ok" if ok else "refused") + "\n")


def serve_smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and data.login == user.encode()
              and data.password == password.encode())
        record(ok)
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            return "554 not accepting mail"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def serve_ftp():
    from pyftpdlib.authorizers import DummyAuthorizer, AuthenticationFailed
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    class Recording(DummyAuthorizer):
        def validate_authentication(self, username, given, handler):
            try:
                super().validate_authentication(username, given, handler)
            except AuthenticationFailed:
                record(False)
                raise
            record(True)

    authorizer = Recording()
    authorizer.add_user(user, password, directory, perm="el")
    handler = FTPHandler
    handler.authorizer = authorizer
    server = FTPServer(("127.0.0.1", port), handler)
    server.serve_forever()


def serve_http():
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            if self.path == "/private":
                given = self.headers.get("Authorization")
                if given is not None:
                    record(given == expected)
                if given != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="test"')
                    self.end_headers()
                    return
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.shutdown()


if __name__ == "__main__":
    if mode != "ftp":  # the others wait for the signal in sigwait
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    {"smtp": serve_smtp, "ftp": serve_ftp, "http": serve_http}[mode]()
