"""Wiring: settings → database, channels, sinks, pipeline and outbox worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from channels.registry import build_channel
from config.channel_settings import WebformChannelSettings
from config.redaction import install as install_log_masking
from config.redaction import remember_settings
from config.settings import Settings
from contracts.channel import Channel, FetchResult, Replier
from dengar import audit
from dengar.chat_commands import handle_command
from dengar.dbhealth import is_outage, short_error
from dengar.isolate import isolate
from dengar.pipeline import BatchSummary, Pipeline
from dengar.transaction import store_batch
from dispatcher.routing_store import latest_version, load_latest
from dispatcher.sinks.base import Sink, SinkContext
from dispatcher.sinks.registry import build_sink
from dispatcher.worker import OutboxWorker
from normalizer.classify import classify
from normalizer.dedupe.paraphrase import gazetteer_names
from normalizer.dedupe.rows import RowDeduper
from normalizer.places import Gazetteer
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.tables import ChannelState, ComplaintRow, utcnow

log = logging.getLogger(__name__)


class ChannelSetupError(Exception):
    """A channel refused its settings (a malformed token, say); names it."""


@dataclass
class App:
    """One Dengar installation, opened from its settings."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    channels: dict[str, Channel] = field(default_factory=dict)
    sinks: dict[str, Sink] = field(default_factory=dict)
    pipeline: Pipeline = field(init=False)
    worker: OutboxWorker = field(init=False)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> App:
        """Connect to the database (migrating it) and build every enabled part."""
        # also when opened without the CLI (an ASGI factory, tests)
        install_log_masking()
        remember_settings(settings)
        engine = make_engine(settings.database_url)
        if migrate:
            upgrade(engine)
        app = cls(settings=settings, engine=engine, sessions=session_factory(engine))
        for channel_settings in settings.channels:
            if channel_settings.enabled:
                app.channels[channel_settings.name] = _build(channel_settings)
        _send_through_whatsapp(settings, app.channels)
        context = SinkContext(
            sessions=app.sessions,
            regency=settings.event_namespace,
            timezone=settings.timezone,
        )
        for agency in settings.agencies:
            app.sinks[agency.code] = build_sink(agency, context)
        app.pipeline = Pipeline(
            settings=settings,
            policies=settings.channel_policies(),
            repliers=frozenset(app.repliers()),
            classifier=_classifier(settings),
            region_finder=_region_finder(settings),
            command_handler=handle_command,
        )
        app.load_routing_model()
        app.worker = OutboxWorker(
            engine, app.sessions, settings, app.sinks, app.repliers()
        )
        return app

    def repliers(self) -> dict[str, Replier]:
        """The enabled channels that can send messages to citizens."""
        return {
            name: channel  # type: ignore[misc]
            for name, channel in self.channels.items()
            if callable(getattr(channel, "send_reply", None))
        }

    def enable_dedupe(self) -> None:
        """Build the duplicate index from the database, so that new cases are
        linked to the open cases they duplicate. Done by the commands that
        ingest (``run``, ``import``), not by those that only read."""
        if self.pipeline.deduper is None:
            with self.sessions() as session:
                self.pipeline.deduper = RowDeduper.open(
                    session, self.settings.dedupe, known_places(self.settings)
                )

    def load_routing_model(self) -> int | None:
        """Route with the newest trained model when ``routing.model`` is on
        (a no-op when it is already in use); its version, None if none."""
        if not self.settings.routing.model.enabled:
            return None
        with self.sessions() as session:
            current = self.pipeline.router.model_version
            if current is not None and current == latest_version(session):
                return current
            stored = load_latest(session)
        if stored is None:
            log.warning(
                "routing.model is on but no model was trained yet "
                "(dengar routing learn): cases no rule matches go to %s",
                self.settings.routing.default_agency,
            )
            return None
        self.pipeline.use_routing_model(stored.model, stored.version)
        log.info("routing model v%d in use (%s)", stored.version, stored.source)
        return stored.version

    def store(
        self,
        channel: str,
        result: FetchResult,
        *,
        advance_cursor: bool = True,
        guard: Callable[[Session], None] | None = None,
    ) -> BatchSummary:
        """Store a batch (and, by default, its cursor) in one transaction.

        ``guard`` runs first in that transaction and may raise to refuse it
        (a worker that lost its lease). If anything fails the transaction
        rolls back (see ``dengar.transaction.store_batch``). When
        the batch fails for any other reason than an unreachable database
        or the guard, it is stored again item by item (``isolate``), so that
        one item the database refuses cannot hold back its channel.
        """
        refused: list[BaseException] = []

        def checked(session: Session) -> None:
            if guard is not None:
                try:
                    guard(session)
                except BaseException as exc:
                    refused.append(exc)
                    raise

        def fatal(exc: BaseException) -> bool:
            # not the items' fault: the database is gone or the lease lost
            return is_outage(exc) or any(exc is r for r in refused)

        if advance_cursor and self._previous_batch_unfinished(channel):
            # the process stopped during the last batch: one of its items
            # may stop it again, so each item is stored under a marker
            log.warning(
                "channel %s: the previous batch did not finish; storing this "
                "one item by item",
                channel,
            )
            return self._isolate(channel, result, advance_cursor, checked, fatal)
        try:
            return self._store_batch(channel, result, advance_cursor, checked)
        except Exception as exc:
            if fatal(exc) or not (result.items or result.rejected):
                raise
            log.warning(
                "channel %s: a batch of %d item(s) failed (%s); storing its "
                "items one by one",
                channel,
                len(result.items) + len(result.rejected),
                short_error(getattr(exc, "orig", None) or exc),
            )
            return self._isolate(channel, result, advance_cursor, checked, fatal)

    def _isolate(
        self,
        channel: str,
        result: FetchResult,
        advance_cursor: bool,
        guard: Callable[[Session], None],
        fatal: Callable[[BaseException], bool],
    ) -> BatchSummary:
        def store(
            part: FetchResult, advance: bool, first: Callable[[Session], None] | None
        ) -> BatchSummary:
            def before(session: Session) -> None:
                guard(session)
                if first is not None:
                    first(session)

            return self._store_batch(channel, part, advance, before)

        return isolate(
            channel,
            result,
            store,
            self.sessions,
            advance_cursor=advance_cursor,
            fatal=fatal,
        )

    def _previous_batch_unfinished(self, channel: str) -> bool:
        """Whether the last batch of ``channel`` began and neither committed
        nor failed cleanly (the process stopped); notes that this one begins.
        A stored batch sets ``last_success_at``, a recorded failure
        ``last_error_at``, to its ``last_poll_at``."""
        # Core, not the ORM: this runs before every batch and must stay cheap
        table = ChannelState.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as connection:
            found = connection.execute(
                select(
                    table.c.last_poll_at, table.c.last_success_at, table.c.last_error_at
                ).where(table.c.name == channel)
            ).first()
            if found is None:
                connection.execute(
                    insert(table).values(
                        name=channel, last_poll_at=utcnow(), consecutive_failures=0
                    )
                )
                return False
            connection.execute(
                update(table)
                .where(table.c.name == channel)
                .values(last_poll_at=utcnow())
            )
        began, succeeded, failed = found
        ended = max((t for t in (succeeded, failed) if t), default=None)
        return began is not None and (ended is None or began > ended)

    def _store_batch(
        self,
        channel: str,
        result: FetchResult,
        advance_cursor: bool,
        guard: Callable[[Session], None],
    ) -> BatchSummary:
        with self.sessions() as session:
            return store_batch(
                session,
                self.pipeline,
                channel,
                result,
                advance_cursor=advance_cursor,
                first=guard,
            )

    def audit(
        self,
        session: Session,
        actor: str,
        action: str,
        target: str | None,
        detail: str | None = None,
    ) -> None:
        """Stage an audit log entry (``dengar.audit``) for the parts below
        the shell, which may not import it (``dispatcher.status.AuditTrail``)."""
        audit.record(session, actor, action, target, detail)

    def notify(self, row: ComplaintRow, text: str) -> bool:
        """Queue ``text`` to the reporter of ``row`` through its channel;
        False when nothing could be queued (see ``unreachable_reason``)."""
        with self.sessions() as session:
            queued = self.pipeline.notify(session, row, text)
            session.commit()
        return queued

    async def close(self) -> None:
        """Close channels and sinks, then the engine."""
        parts: list[Channel | Sink] = [*self.channels.values(), *self.sinks.values()]
        for part in parts:
            try:
                await part.close()
            except Exception:
                log.exception("closing %r failed", part)
        self.engine.dispose()


def _classifier(settings: Settings) -> Callable[[str], Any] | None:
    if not settings.categories:
        return None
    categories = settings.categories

    def classifier(text: str) -> Any:
        return classify(text, categories)

    return classifier


def known_places(settings: Settings) -> frozenset[str]:
    """The gazetteer's place names as duplicate linking looks them up (none
    without a gazetteer)."""
    if settings.gazetteer is None:
        return frozenset()
    gazetteer = Gazetteer.from_settings(
        settings.gazetteer, base_dir=settings.source_dir
    )
    return gazetteer_names(n for p in gazetteer.places for n in (p.name, *p.aliases))


def _region_finder(settings: Settings) -> Callable[[str, Any], str | None] | None:
    if settings.gazetteer is None:
        return None
    gazetteer = Gazetteer.from_settings(
        settings.gazetteer, base_dir=settings.source_dir
    )
    return gazetteer.region_of


def _send_through_whatsapp(settings: Settings, channels: dict[str, Channel]) -> None:
    """Hand the web form the WhatsApp channel its ``whatsapp_channel`` names
    (the config checked that it is one), so that one client, with one pace
    and one rate limit, sends all of that number's messages. A disabled
    WhatsApp channel is not built: the form then does not offer WhatsApp."""
    for form in settings.channels:
        if not isinstance(form, WebformChannelSettings) or not form.enabled:
            continue
        sender = channels.get(form.whatsapp_channel or "")
        if sender is not None and form.name in channels:
            channels[form.name].send_whatsapp_through(sender)  # type: ignore[attr-defined]


def _build(settings: Any) -> Channel:
    """The channel, or :class:`ChannelSetupError` naming it and why (the
    library's message, with any secret of the settings masked)."""
    try:
        return build_channel(settings)
    except Exception as exc:  # noqa: BLE001 - any library error, named
        detail = str(exc)
        for value in vars(settings).values():
            if isinstance(value, SecretStr) and value.get_secret_value():
                detail = detail.replace(value.get_secret_value(), "***")
        raise ChannelSetupError(
            f"channel {settings.name!r} ({settings.type}) refused its settings "
            f"(check its token or credentials): {type(exc).__name__}: {detail}"
        ) from None
