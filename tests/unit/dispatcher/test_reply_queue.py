"""Queuing replies to citizens inside one batch's transaction: the rules hold
for the rows still pending in it, not only for those already written."""

from __future__ import annotations

from sqlmodel import select

from contracts.records import OutgoingReply
from dispatcher.outbox import queue as outbox
from dispatcher.outbox.queue import enqueue_reply
from storage.tables import OutboxRow, UnreachableRecipient
from tests.unit.dispatcher.test_message_schema import add_case, sqlite_sessions


def reply(key: str, recipient: str = "siti@warga.example") -> OutgoingReply:
    return OutgoingReply(
        channel="email-pengaduan",
        recipient=recipient,
        text="Laporan Anda kami terima.",
        idempotency_key=f"email-pengaduan:{key}",
    )


def test_a_mail_loop_gets_at_most_the_hourly_acks_even_within_one_batch(tmp_path):
    sessions = sqlite_sessions(tmp_path / "d.db")
    with sessions() as session:
        case = add_case(session)
        queued = [
            enqueue_reply(session, case, reply(f"ack:{n}"), limit_per_hour=5)
            for n in range(40)  # an autoresponder answering each ack
        ]
        session.commit()
    assert sum(q is not None for q in queued) == 5
    with sessions() as session:
        # the next batch, within the hour, queues nothing more for them
        case = add_case(session)
        assert enqueue_reply(session, case, reply("ack:41"), limit_per_hour=5) is None
        # others are not limited by it
        other = reply("ack:42", recipient="budi@warga.example")
        assert enqueue_reply(session, case, other, limit_per_hour=5) is not None
        session.commit()
        assert len(session.exec(select(OutboxRow)).all()) == 6


def test_the_same_key_twice_in_one_batch_is_queued_once(tmp_path):
    sessions = sqlite_sessions(tmp_path / "d.db")
    with sessions() as session:
        case = add_case(session)
        first = enqueue_reply(session, case, reply("status:1"))
        second = enqueue_reply(session, case, reply("status:1"))
        session.commit()
        assert first is not None
        assert second is None
        assert len(session.exec(select(OutboxRow)).all()) == 1


def test_nothing_is_queued_to_a_recipient_known_unreachable(tmp_path):
    sessions = sqlite_sessions(tmp_path / "d.db")
    with sessions() as session:
        case = add_case(session)
        session.add(
            UnreachableRecipient(
                channel="email-pengaduan",
                recipient="siti@warga.example",
                reason="550 mailbox unavailable",
            )
        )
        # marked in this same transaction, not yet written
        assert enqueue_reply(session, case, reply("ack:1")) is None
        session.commit()
    with sessions() as session:
        case = add_case(session)
        assert enqueue_reply(session, case, reply("ack:2")) is None


def blocked(recipient: str) -> UnreachableRecipient:
    return UnreachableRecipient(
        channel="email-pengaduan", recipient=recipient, reason="550 no mailbox"
    )


def test_a_recipient_marked_unreachable_later_in_the_batch_gets_nothing(tmp_path):
    sessions = sqlite_sessions(tmp_path / "d.db")
    with sessions() as session:
        case = add_case(session)
        # the first reply of the batch reads who is unreachable ...
        other = reply("ack:1", recipient="budi@warga.example")
        assert enqueue_reply(session, case, other) is not None
        # ... then a bounce in the same batch marks siti, written out at once
        session.add(blocked("siti@warga.example"))
        session.flush()
        assert enqueue_reply(session, case, reply("ack:2")) is None


def test_many_unreachable_recipients_are_asked_one_by_one(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox, "UNREACHABLE_SNAPSHOT_MAX", 1)
    sessions = sqlite_sessions(tmp_path / "d.db")
    with sessions() as session:
        session.add_all([blocked("siti@warga.example"), blocked("ani@warga.example")])
        session.commit()
    with sessions() as session:
        case = add_case(session)
        assert enqueue_reply(session, case, reply("ack:1")) is None
        budi = reply("ack:2", recipient="budi@warga.example")
        assert enqueue_reply(session, case, budi) is not None
