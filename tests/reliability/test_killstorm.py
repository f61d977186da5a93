"""The kill storm (CI's short form; ``bench/killstorm.py`` runs long ones):
SIGKILL at seeded random instants while mail (Maildir and IMAP on a real
Dovecot), Telegram and X items arrive,
then proof that nothing was lost or doubled.

Bound on re-sends: a delivery or reply the remote accepted whose outbox row
was not yet marked when the process died is sent again after the restart
(neither sendMessage nor SMTP has an idempotency key). Outcomes are recorded
as each send returns, so a kill repeats at most what was in flight: per
agency its sink's ``concurrency`` (each with its idempotency key, so exactly
once in effect), per citizen one message, and no citizen gets one message
three times. The counts are reported and the bound is asserted.
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.storm import run_storm

pytestmark = [pytest.mark.slow, pytest.mark.dovecot]

SEED = int(os.environ.get("DENGAR_STORM_SEED", "20261127"))


async def test_kill_storm_loses_nothing_and_doubles_nothing(tmp_path):
    report = await run_storm(
        tmp_path,
        seed=SEED,
        rounds=8,
        mails=30,
        chats=20,
        commands=6,
        posts=12,
        imap_mails=15,
    )
    print(report)  # shown with -s / on failure: the counts of the storm
    assert report.kills == 8
    assert report.lost_or_doubled() == []
    assert sum(report.records.values()) == 83
    assert report.kinds.get("ignored") == 6  # the /start commands
    assert report.acks_expected == 20
    assert report.mail_acks_expected == 15
