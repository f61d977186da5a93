"""A local OAuth 2.0 provider: token introspection (RFC 7662) for Dovecot and
a token endpoint (RFC 6749 §6, refresh-token grant) for Dengar.

Dovecot's ``oauth2`` passdb asks it whether the bearer token a client sent
with XOAUTH2/OAUTHBEARER is valid (``introspection_mode = post``: a form body
``token=<token>``). A token issued with ``issue()`` answers
``{"active": true, "username": <user>}``; a revoked or unknown one answers
``{"active": false}``, as a real provider does for an expired token. With
``down`` set it answers 503, like a provider in an outage.

The token endpoint (``token_url``) answers a form ``grant_type=refresh_token``
for a refresh token given to ``grant()`` with a new access token that
introspection accepts for ``expires_in`` seconds (then it is inactive, like
an expired one), as Google and Microsoft do. ``rotate`` sends a new refresh
token with each answer and forgets the old one (stricter than Microsoft, so a
test sees which one was used); ``revoke_grant()`` makes the next refresh
``invalid_grant``, a wrong client id/secret gets ``invalid_client`` (401),
``token_down`` answers 503. ``token_requests`` keeps every form received.

Runs the stdlib HTTP server in a thread: Dovecot's auth process calls it
while a test may be blocked in a synchronous IMAP call.

    with running_introspection() as tokens:
        tokens.issue("ya29.valid", "warga")
        ... Dovecot with oauth2_url=tokens.url ...
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PATH = "/introspect"
TOKEN_PATH = "/token"


@dataclass(frozen=True)
class _Grant:
    username: str
    client_id: str
    client_secret: str | None


class TokenIntrospection:
    """Which tokens are valid for whom, and which tokens were asked about."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self.asked: list[str] = []
        self.down = False
        self.token_down = False
        self.expires_in = 3600
        self.rotate = False
        self.issued: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{base}{PATH}"
        self.token_url = f"{base}{TOKEN_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth-introspect", daemon=True
        )

    def issue(self, token: str, username: str) -> None:
        """Make ``token`` valid for ``username`` from now on."""
        with self._lock:
            self._tokens[token] = (username, float("inf"))

    def grant(
        self,
        refresh_token: str,
        username: str,
        client_id: str = "dengar",
        client_secret: str | None = None,
    ) -> None:
        """Let ``refresh_token`` of that client obtain access tokens for
        ``username``."""
        with self._lock:
            self._grants[refresh_token] = _Grant(username, client_id, client_secret)

    def revoke_grant(self, refresh_token: str) -> None:
        """Forget ``refresh_token``, as when the user withdraws consent."""
        with self._lock:
            self._grants.pop(refresh_token, None)

    def refresh(self, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        """The token endpoint's status and JSON answer to ``form``."""
        with self._lock:
            self.token_requests.append(form)
            if self.token_down:
                return 503, {"error": "temporarily_unavailable"}
            if form.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            grant = self._grants.get(form.get("refresh_token", ""))
            if grant is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            if (form.get("client_id"), form.get("client_secret")) != (
                grant.client_id,
                grant.client_secret,
            ):
                return 401, {"error": "invalid_client"}
            access = f"ya29.akses-{uuid.uuid4().hex}"
            self._tokens[access] = (grant.username, time.monotonic() + self.expires_in)
            self.issued.append(access)
            body: dict[str, object] = {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
            }
            if self.rotate:
                rotated = f"1//segar-{uuid.uuid4().hex}"
                del self._grants[form["refresh_token"]]
                self._grants[rotated] = grant
                body["refresh_token"] = rotated
            return 200, body

    def revoke(self, token: str) -> None:
        """Make ``token`` inactive, like an expired access token."""
        with self._lock:
            self._tokens.pop(token, None)

    def answer(self, token: str) -> dict[str, object]:
        """The introspection response for ``token``."""
        with self._lock:
            self.asked.append(token)
            username, expires_at = self._tokens.get(token, (None, 0.0))
        if username is None or time.monotonic() >= expires_at:
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
            length = int(self.headers.get("Content-Length") or 0)
            fields = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            form = {key: values[0] for key, values in fields.items()}
            if self.path == TOKEN_PATH:
                self._reply(*tokens.refresh(form))
                return
            if self.path != PATH:
                self._reply(404, {"error": "not_found"})
                return
            token = form.get("token", "")
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
