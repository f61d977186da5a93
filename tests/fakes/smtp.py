"""An aiosmtpd server that collects what it receives, for tests.

``refuse`` maps a recipient address to the SMTP reply its RCPT gets (e.g.
``"550 5.1.1 no such user"``), so tests can exercise bounces and deferrals.
With ``password`` set, AUTH PLAIN/LOGIN is offered and checked (no TLS on
loopback).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.services import free_port


@dataclass
class Received:
    """One delivered mail: envelope and parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class SmtpSink:
    """The handler: collects mail, refuses listed recipients."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message)
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A running server: where to connect and what it got."""

    host: str
    port: int
    sink: SmtpSink
    controller: Controller


@contextmanager
def running_smtp(
    user: str | None = None, password: str | None = None
) -> Iterator[SmtpServer]:
    """Start an aiosmtpd on a free loopback port; stop it afterwards."""
    sink = SmtpSink()
    kwargs: dict[str, object] = {}
    if password is not None:

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (
                auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            # handled=False: aiosmtpd then answers 535 itself
            return AuthResult(success=ok, handled=False)

        kwargs = {
            "authenticator": authenticate,
            # AUTH on loopback without TLS; not required (aiosmtpd warns on that)
            "auth_require_tls": False,
        }
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, sink, controller)
    finally:
        controller.stop()
