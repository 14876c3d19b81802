#!/usr/bin/env python3
"""A Docker Engine API stand-in on a UNIX socket, for tests that need an engine without some
feature (tests/integration/isolation_test.sh: one without the runsc runtime).

    fake_engine.py SOCKET LOG

Answers /_ping, /version, /info (Runtimes: runc only), lists (empty arrays) and 404 with a JSON
message for anything else; logs "METHOD PATH" lines to LOG. Runs until killed."""
import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

SOCK, LOG = sys.argv[1], sys.argv[2]

INFO = {"ID": "fake", "Name": "fake-engine", "ServerVersion": "20.10.24",
        "Runtimes": {"runc": {"path": "runc"}}, "DefaultRuntime": "runc"}
VERSION = {"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Api-Version", "1.41")
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        path = self.path.split("?")[0]
        # Clients may prefix a version: /v1.41/info
        if path.startswith("/v1."):
            path = "/" + path.split("/", 2)[2]
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (self.command, path))
        if path == "/_ping":
            return self.reply(200, b"OK", "text/plain")
        if path == "/version":
            return self.reply(200, VERSION)
        if path == "/info":
            return self.reply(200, INFO)
        if self.command == "GET" and path in ("/containers/json", "/images/json", "/networks"):
            return self.reply(200, [])
        return self.reply(404, {"message": "fake engine: no such thing: %s" % path})

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("fake", 0)


if os.path.exists(SOCK):
    os.unlink(SOCK)
Server(SOCK, Handler).serve_forever()
