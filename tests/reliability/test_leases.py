"""Channel leases on both databases: one holder at a time, taken over after
expiry, fair shares, and a fence that stops a worker that lost its lease."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from dengar.leases import LeaseKeeper, LeaseLost, acquire, fence, leases, release
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.tables import utcnow


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_one_holder_at_a_time_and_takeover_only_after_expiry(engine):
    now = utcnow()
    assert acquire(engine, "tg", "a", 30, now)
    assert not acquire(engine, "tg", "b", 30, now + timedelta(seconds=29))
    assert acquire(engine, "tg", "a", 30, now + timedelta(seconds=20))  # renewal
    # a's renewal moved the expiry: b must wait for the new one
    assert not acquire(engine, "tg", "b", 30, now + timedelta(seconds=45))
    assert acquire(engine, "tg", "b", 30, now + timedelta(seconds=51))
    [lease] = leases(engine)
    assert lease.holder == "b"
    release(engine, "tg", "a")  # not a's any more: nothing happens
    assert leases(engine)[0].holder == "b"
    release(engine, "tg", "b")
    assert leases(engine) == []


def test_the_fence_refuses_a_batch_of_a_worker_that_lost_its_lease(engine):
    now = utcnow()
    assert acquire(engine, "surat", "a", 1, now - timedelta(seconds=5))
    assert acquire(engine, "surat", "b", 30)  # a's lease had expired
    with Session(engine) as session:
        fence(session, "surat", "b", ttl=30)
        with pytest.raises(LeaseLost, match="held by another worker"):
            fence(session, "surat", "a", ttl=30)
    assert leases(engine)[0].holder == "b"


def test_workers_split_the_channels_and_a_dead_ones_share_is_taken_over(engine):
    channels = ["a", "b", "c", "d"]
    one = LeaseKeeper(engine, "one", channels, ttl=30)
    assert one.beat() == set(channels)  # alone: everything
    two = LeaseKeeper(engine, "two", channels, ttl=30)
    assert two.beat() == set()  # nothing free yet
    held_one = one.beat()  # sees two alive: gives back down to its share
    assert len(held_one) == 2
    assert two.beat() == set(channels) - held_one
    # "one" dies: its rows expire; "two" takes everything over
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE channel_lease SET expires_at = :t WHERE holder = 'one'"),
            {"t": utcnow() - timedelta(seconds=1)},
        )
    assert two.beat() == set(channels)


def test_a_committed_batch_renews_its_workers_lease(engine):
    # the renewal job may be late (a busy worker); each batch renews too
    assert acquire(engine, "surat", "a", 1)
    with Session(engine) as session:
        fence(session, "surat", "a", ttl=60)
        session.commit()
    # a's 1 s lease would have run out by now; the batch made it 60 s
    later = utcnow() + timedelta(seconds=30)
    assert not acquire(engine, "surat", "b", 30, later)
    assert leases(engine)[0].holder == "a"


@pytest.mark.postgres
def test_renewal_does_not_wait_behind_a_batch_in_flight(postgres_url):
    engine = make_engine(postgres_url)
    upgrade(engine)
    keeper = LeaseKeeper(engine, "a", ["tg"], ttl=30)
    assert keeper.beat() == {"tg"}
    try:
        with Session(engine) as batch:
            fence(batch, "tg", "a", ttl=30)  # locks the row until commit
            began = time.monotonic()
            assert acquire(engine, "tg", "a", 30) is None  # busy, not lost
            assert keeper.beat() == {"tg"}  # still ours
            assert time.monotonic() - began < 5  # it did not wait for the batch
            batch.commit()
        assert acquire(engine, "tg", "a", 30) is True
    finally:
        engine.dispose()


def test_a_busy_channel_beyond_the_share_is_handed_over_after_its_poll(engine):
    channels = ["a", "b", "c", "d"]
    one = LeaseKeeper(engine, "one", channels, ttl=30)
    assert one.beat() == set(channels)
    two = LeaseKeeper(engine, "two", channels, ttl=30)
    two.beat()
    # under steady load every channel of "one" is mid-poll at each beat
    held = one.beat(busy=frozenset(channels))
    assert held == set(channels)  # nothing dropped mid-poll
    giving = {c for c in channels if not one.may_poll(c)}
    assert len(giving) == 2  # no new poll starts for its extra share
    assert all(one.may_poll(c) for c in set(channels) - giving)
    # those polls ended (no new one started): the next beat gives them back
    busy = frozenset(set(channels) - giving)
    assert one.beat(busy=busy) == set(channels) - giving
    assert two.beat() == giving
    assert all(one.may_poll(c) for c in one.held)
