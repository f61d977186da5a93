"""Outbox claims under several workers: a claim takes at most its batch, and
concurrent claimers share the rows without overlap (both databases)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import insert

from dispatcher.outbox import queue as outbox
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.tables import ComplaintRow, OutboxRow, utcnow

ROWS = 300


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    now = utcnow()
    complaints = ComplaintRow.__table__
    with engine.begin() as conn:
        ids = (
            conn.execute(
                insert(complaints).returning(complaints.c.id),
                [
                    {
                        "kind": "case",
                        "channel": "t",
                        "external_id": f"e{i}",
                        "received_at": now,
                        "created_at": now,
                        "original_text": "x",
                        "clean_text": "x",
                        "raw_format": "text",
                        "status": "received",
                        "confidentiality": "biasa",
                    }
                    for i in range(ROWS)
                ],
            )
            .scalars()
            .all()
        )
        conn.execute(
            insert(OutboxRow.__table__),
            [
                {
                    "kind": "agency",
                    "target": "PUPR",
                    "complaint_id": cid,
                    "idempotency_key": f"k{cid}",
                    "status": "pending",
                    "attempts": 0,
                    "max_attempts": 10,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for cid in ids
            ],
        )
    yield engine
    engine.dispose()


def test_a_claim_takes_at_most_its_batch(engine):
    # PostgreSQL once claimed every due row here (LIMIT in an IN subquery)
    assert len(outbox.claim(engine, "w1", 50, 300)) == 50
    assert len(outbox.claim(engine, "w2", 50, 300)) == 50


def test_concurrent_claimers_share_every_row_once(engine):
    def claim_all(worker: str) -> list[int]:
        mine: list[int] = []
        while batch := outbox.claim(engine, worker, 20, 300):
            mine += batch
        return mine

    with ThreadPoolExecutor(4) as pool:
        claimed = list(pool.map(claim_all, ["a", "b", "c", "d"]))
    every = [i for batch in claimed for i in batch]
    assert len(every) == len(set(every)) == ROWS
