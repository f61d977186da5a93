"""The ``http`` sink: any agency system over HTTP, configured, not coded.

SP4N-LAPOR!, an agency's ticket system, a letter registry: each wants its own
request. The integrator writes it as templates (URL, headers, body) rendered
in Jinja2's sandbox (``config.templating``) from the agency message v1 after
confidentiality was applied, so a template can only use what the agency may
see. The answer's remote id (``response_id``) is kept on the delivery and
shown on the case; with ``status`` the case's status is asked for later by
that id (``dispatcher.status_poll``).

Bodies are checked before they are sent: a ``json`` body must parse as JSON,
an ``xml`` one must be well-formed (its values are XML-escaped by default).
A template that fails or gives an invalid body is a configuration mistake:
the delivery is dead with the reason, to be requeued once it is fixed.

Timeouts, concurrency and the classification of answers are those of every
HTTP sink (``dispatcher.sinks.http_client``). Replays are safe when the
integrator puts ``{{ idempotency_key }}`` in a header or field the remote
system de-duplicates on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from sqlmodel import select
from yarl import URL

from config.http_parts import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    HmacAuth,
    HttpAuth,
    HttpStatusSettings,
    Locator,
)
from config.response_paths import MAX_ANSWER_BYTES, PathProblem, extract
from config.settings import AgencySettings
from config.sink_settings import HttpSinkSettings
from config.templating import TemplateProblem, render_template
from contracts.errors import PermanentDeliveryError
from dispatcher.message import REDACTED
from dispatcher.sinks.base import Delivery, SinkContext, settings_of
from dispatcher.sinks.http_client import (
    Answer,
    deliver_concurrently,
    judge,
    new_session,
    request,
    safe_url,
)
from storage.tables import OutboxRow

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "form": "application/x-www-form-urlencoded",
    "xml": "application/xml; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}
MASK = "***"


class RequestProblem(PermanentDeliveryError):
    """The request could not be built from its templates (a config mistake)."""


@dataclass(frozen=True)
class Prepared:
    """A rendered request, ready to send; ``secret_headers`` are masked when
    it is shown."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    secret_headers: frozenset[str] = field(default_factory=frozenset)

    def __repr__(self) -> str:
        # never the credentials, and not the body (it carries the case)
        return (
            f"Prepared({self.method} {safe_url(self.url)}, "
            f"headers={self.shown_headers()!r})"
        )

    def shown_headers(self) -> dict[str, str]:
        """The headers with every credential masked."""
        secret = {name.lower() for name in self.secret_headers}
        return {k: MASK if k.lower() in secret else v for k, v in self.headers.items()}


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What the agency's system says about a case."""

    word: str | None
    note: str | None
    message: str | None = None


def _one_line(value: str) -> str:
    # a header value cannot carry a line break (it would start a new header)
    return " ".join(value.split())


def _check_url(url: str, where: str) -> str:
    url = url.strip()
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise RequestProblem(f"the {where} template did not give an http(s) URL")
    return url


def render_body(
    body: str | dict[str, str] | None,
    content_type: str,
    context: Mapping[str, Any],
    default: Any = None,
) -> bytes | None:
    """The body bytes from its template(s); :class:`RequestProblem` when a
    template fails or gives what ``content_type`` does not allow."""
    try:
        if body is None:
            if default is None:
                return None
            return json.dumps(default, ensure_ascii=False).encode()
        if isinstance(body, dict):
            fields = {k: render_template(v, context) for k, v in body.items()}
            return urlencode(fields).encode()
        text = render_template(body, context, xml=content_type == "xml")
    except TemplateProblem as exc:
        raise RequestProblem(f"body: {exc}") from None
    if content_type == "json":
        try:
            json.loads(text)
        except ValueError as exc:
            raise RequestProblem(
                f"the body template did not give valid JSON ({exc}); write values "
                "with the tojson filter: {{ text | tojson }}"
            ) from None
    elif content_type == "xml":
        try:
            ET.fromstring(text)
        except ET.ParseError as exc:
            raise RequestProblem(
                f"the body template did not give well-formed XML ({exc})"
            ) from None
    return text.encode()


def apply_auth(
    auth: HttpAuth | None, headers: dict[str, str], body: bytes | None
) -> frozenset[str]:
    """Add ``auth``'s header to ``headers``; the names of headers that now
    hold a credential."""
    if auth is None:
        return frozenset()
    if isinstance(auth, BearerAuth):
        headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
        return frozenset({"Authorization"})
    if isinstance(auth, BasicAuth):
        pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return frozenset({"Authorization"})
    if isinstance(auth, ApiKeyAuth):
        headers[auth.header] = auth.key.get_secret_value()
        return frozenset({auth.header})
    assert isinstance(auth, HmacAuth)
    key = auth.secret.get_secret_value().encode()
    digest = hmac.new(key, body or b"", hashlib.sha256).hexdigest()
    headers[auth.header] = f"{auth.prefix}{digest}"
    # a signature is not a secret, but it is no use to anyone reading a log
    return frozenset()


def prepare(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: str | dict[str, str] | None,
    content_type: str,
    auth: HttpAuth | None,
    context: Mapping[str, Any],
    *,
    default_body: Any = None,
) -> Prepared:
    """Render a request from its templates and sign it."""
    try:
        rendered_url = render_template(url, context)
        rendered = {
            k: _one_line(render_template(v, context)) for k, v in headers.items()
        }
    except TemplateProblem as exc:
        raise RequestProblem(f"url or headers: {exc}") from None
    data = render_body(body, content_type, context, default_body)
    if data is not None and not any(k.lower() == "content-type" for k in rendered):
        rendered["Content-Type"] = CONTENT_TYPES[content_type]
    secret = apply_auth(auth, rendered, data)
    return Prepared(method, _check_url(rendered_url, "url"), rendered, data, secret)


def read_value(locator: Locator, answer: bytes) -> str | None:
    """The value ``locator`` points at in ``answer`` (:class:`PathProblem`)."""
    return extract(
        answer,
        json_path=locator.json_path,
        xml_path=locator.xml_path,
        regex=locator.regex,
    )


class HttpSink:
    """Sends each case as the agency's system wants it; see the module doc."""

    def __init__(self, agency: AgencySettings, context: SinkContext) -> None:
        settings = settings_of(agency, HttpSinkSettings)
        self.agency = agency
        self.settings = settings
        self.sessions = context.sessions
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"HttpSink(agency={self.agency.code!r})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session(
                self.settings.concurrency, self.settings.timeout
            )
        return self._session

    def prepare(self, delivery: Delivery) -> Prepared:
        """The request for ``delivery``; :class:`RequestProblem` if it cannot
        be built. Without a body template the message itself is the body."""
        s = self.settings
        context = {**delivery.message, "message": delivery.message}
        return prepare(
            s.method,
            s.url,
            s.headers,
            s.body,
            s.content_type,
            s.auth,
            context,
            default_body=delivery.message if s.content_type == "json" else None,
        )

    async def send(self, prepared: Prepared) -> Answer:
        """Send a prepared request; the answer, whatever its status."""
        return await request(
            self._client(),
            prepared.method,
            prepared.url,
            label=f"http {safe_url(prepared.url)}",
            timeout=self.settings.timeout,
            data=prepared.body,
            headers=prepared.headers,
            ok_body_limit=MAX_ANSWER_BYTES + 1,
        )

    async def deliver(self, delivery: Delivery) -> str | None:
        """Send the case; its remote id (``response_id``) once accepted. A
        redaction goes as the ``redaction`` request (see :meth:`redact`)."""
        if delivery.event == REDACTED:
            await self.redact(delivery)
            return None
        prepared = self.prepare(delivery)
        answer = await self.send(prepared)
        judge(f"http {safe_url(prepared.url)}", answer)
        return self.remote_id(delivery, answer)

    async def redact(self, delivery: Delivery) -> None:
        """Ask the system to remove the reporter's identity from the case it
        received earlier (``redaction`` settings, with that delivery's remote
        id). Without those settings the redaction is dead with the reason,
        so staff see it and pass it on by other means."""
        replaces = str((delivery.message.get("redaction") or {}).get("replaces"))
        s = self.settings.redaction
        if s is None:
            raise PermanentDeliveryError(
                f"http sink of {self.agency.code} has no 'redaction' request: "
                f"ask the agency to remove the reporter's identity from "
                f"{replaces} by other means"
            )
        remote = await asyncio.to_thread(self._ticket_of, replaces)
        context = {**delivery.message, "message": delivery.message}
        context["remote_id"] = remote or ""
        prepared = prepare(
            s.method,
            s.url,
            s.headers,
            s.body,
            s.content_type,
            self.settings.auth,
            context,
            default_body=delivery.message if s.content_type == "json" else None,
        )
        answer = await self.send(prepared)
        judge(f"http {safe_url(prepared.url)}", answer)

    def _ticket_of(self, idempotency_key: str) -> str | None:
        with self.sessions() as session:
            return session.exec(
                select(OutboxRow.agency_ticket).where(
                    OutboxRow.idempotency_key == idempotency_key
                )
            ).first()

    def remote_id(self, delivery: Delivery, answer: Answer) -> str | None:
        """The remote id in an accepted answer, or None (logged when it was
        expected: the case is delivered either way, re-sending would double
        it)."""
        locator = self.settings.response_id
        if locator is None:
            return None
        try:
            found = read_value(locator, answer.body)
        except PathProblem as exc:
            found, why = None, str(exc)
        else:
            why = "nothing at the configured place"
        if found is None:
            log.warning(
                "http sink %s: %s accepted but its answer has no remote id (%s)",
                self.agency.code,
                delivery.idempotency_key,
                why,
            )
            return None
        return found[:256]

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | str | None]:
        """Send them ``concurrency`` at a time; an unreachable system stops
        the rest of the batch (see ``http_client.deliver_concurrently``)."""
        return await deliver_concurrently(
            self.deliver, deliveries, self.settings.concurrency
        )

    def prepare_status(
        self, remote_id: str, tracking_no: str | None, idempotency_key: str
    ) -> Prepared:
        """The status request for the case the remote system calls ``remote_id``."""
        status = self._status()
        context = {
            "remote_id": remote_id,
            "tracking_no": tracking_no,
            "idempotency_key": idempotency_key,
            "agency": {"code": self.agency.code, "name": self.agency.name},
        }
        return prepare(
            status.method,
            status.url,
            status.headers,
            status.body,
            status.content_type,
            self.settings.auth,
            context,
        )

    async def ask_status(
        self, remote_id: str, tracking_no: str | None, idempotency_key: str
    ) -> StatusReport:
        """What the agency's system says of the case now. Raises a delivery
        error when it cannot be asked or does not answer 2xx, and
        :class:`PathProblem` when the answer cannot be read."""
        status = self._status()
        prepared = self.prepare_status(remote_id, tracking_no, idempotency_key)
        answer = await self.send(prepared)
        judge(f"http status {safe_url(prepared.url)}", answer)
        word = read_value(status.path, answer.body)
        note = read_value(status.note, answer.body) if status.note else None
        told = read_value(status.message, answer.body) if status.message else None
        return StatusReport(
            word, note[:1000] if note else None, told[:1000] if told else None
        )

    def _status(self) -> HttpStatusSettings:
        if self.settings.status is None:
            raise ValueError(f"agency {self.agency.code} has no status settings")
        return self.settings.status

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
