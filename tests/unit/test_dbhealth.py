"""The runner's behaviour in a database outage: one clear line, paused jobs
with a capped backoff, and the recovery with the outage's length."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError, OperationalError

from dengar.dbhealth import MAX_PAUSE, DatabaseHealth, QuietSkips, is_outage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refused() -> OperationalError:
    return OperationalError(
        "SELECT 1",
        {},
        Exception(
            'connection to server at "10.0.0.5", port 5432 failed: refused\n'
            "\tIs the server running on that host?"
        ),
    )


def test_only_connection_trouble_counts_as_an_outage():
    assert is_outage(refused())
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_outage(ValueError("bug"))


def test_an_outage_is_logged_once_then_jobs_back_off_up_to_the_cap(caplog):
    clock = Clock()
    health = DatabaseHealth(clock)
    caplog.set_level(logging.DEBUG, "dengar.dbhealth")
    for _ in range(12):
        health.failed(refused())
        clock.now += 0.1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "database unavailable" in message
    assert "port 5432 failed: refused" in message
    assert "Is the server running" not in message  # one line, not the driver's essay
    assert health.paused
    clock.now += MAX_PAUSE + 0.01
    assert not health.paused  # capped: the next attempt comes within MAX_PAUSE


def test_recovery_is_logged_with_the_outage_length(caplog):
    clock = Clock()
    health = DatabaseHealth(clock)
    caplog.set_level(logging.INFO, "dengar.dbhealth")
    health.succeeded()
    assert caplog.records == []  # nothing to say while all is well
    health.failed(refused())
    clock.now += 42.0
    health.succeeded()
    assert not health.paused
    assert caplog.records[-1].getMessage() == "database available again after 42.0 s"


def test_scheduler_skip_warnings_are_dropped_but_others_kept():
    skip = logging.LogRecord(
        "apscheduler.scheduler", logging.WARNING, "", 0,
        'Execution of job "poll" skipped: maximum number of running instances '
        "reached (1)", None, None,
    )  # fmt: skip
    other = logging.LogRecord(
        "apscheduler.scheduler", logging.WARNING, "", 0,
        'Run time of job "poll" was missed by 0:00:03', None, None,
    )  # fmt: skip
    assert not QuietSkips().filter(skip)
    assert QuietSkips().filter(other)
