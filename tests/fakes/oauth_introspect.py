"""A local OAuth 2.0 token introspection endpoint (RFC 7662) for Dovecot.

Dovecot's ``oauth2`` passdb asks it whether the bearer token a client sent
with XOAUTH2/OAUTHBEARER is valid (``introspection_mode = post``: a form body
``token=<token>``). A token issued with ``issue()`` answers
``{"active": true, "username": <user>}``; a revoked or unknown one answers
``{"active": false}``, as a real provider does for an expired token. With
``down`` set it answers 503, like a provider in an outage.

Runs the stdlib HTTP server in a thread: Dovecot's auth process calls it
while a test may be blocked in a synchronous IMAP call.

    with running_introspection() as tokens:
        tokens.issue("ya29.valid", "warga")
        ... Dovecot with oauth2_url=tokens.url ...
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PATH = "/introspect"


class TokenIntrospection:
    """Which tokens are valid for whom, and which tokens were asked about."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.asked: list[str] = []
        self.down = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth-introspect", daemon=True
        )

    def issue(self, token: str, username: str) -> None:
        """Make ``token`` valid for ``username`` from now on."""
        with self._lock:
            self._tokens[token] = username

    def revoke(self, token: str) -> None:
        """Make ``token`` inactive, like an expired access token."""
        with self._lock:
            self._tokens.pop(token, None)

    def answer(self, token: str) -> dict[str, object]:
        """The introspection response for ``token``."""
        with self._lock:
            self.asked.append(token)
            username = self._tokens.get(token)
        if username is None:
            return {"active": False}
        return {"active": True, "username": username, "scope": "mail"}

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(tokens: TokenIntrospection) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != PATH:
                self._reply(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            token = (form.get("token") or [""])[0]
            if tokens.down:
                self._reply(503, {"error": "temporarily_unavailable"})
                return
            self._reply(200, tokens.answer(token))

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            # the default writes every request (and so the token) to stderr
            pass

    return Handler


@contextmanager
def running_introspection() -> Iterator[TokenIntrospection]:
    """A started introspection endpoint, stopped afterwards."""
    tokens = TokenIntrospection()
    tokens.start()
    try:
        yield tokens
    finally:
        tokens.stop()
