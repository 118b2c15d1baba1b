"""Fixtures of the check tests: a loopback HTTP server to check."""

from __future__ import annotations

import base64
import http.server
import threading
import urllib.parse

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, code, headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        server = self.server
        path, _, query = self.path.partition("?")
        server.seen.append((path, self.headers.get("Authorization")))
        params = dict(urllib.parse.parse_qsl(query))
        if path == "/ok":
            self._answer(200)
        elif path == "/no-content":
            self._answer(204)
        elif path == "/fail":
            self._answer(500)
        elif path == "/hang":
            server.release.wait(30)
        elif path == "/redirect":
            self._answer(int(params.get("code", "302")), [("Location", params["to"])])
        elif path == "/auth":
            expected = "Basic " + base64.b64encode(b"me:s3cr@t pw").decode()
            self._answer(200 if self.headers.get("Authorization") == expected else 401)
        else:
            self._answer(404)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a released /hang writes to a socket the client closed long ago


@pytest.fixture
def web(monkeypatch):
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.seen = []
    server.release = threading.Event()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def registered():
    """A function giving the handlers a ``TestApp``'s app registered, by name.

    Read from the Pyramid introspector, where every registered handler is.
    """

    def handlers(app):
        entries = app.app.registry.introspector.get_category("status handlers") or []
        return {
            entry["introspectable"].title: entry["introspectable"]["handler"] for entry in entries
        }

    return handlers
