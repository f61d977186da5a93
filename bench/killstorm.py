"""Benchmark: a long kill storm (the CI test runs a short one).

Feeds a fixed, seeded set of mails (Maildir and IMAP on a throwaway Dovecot),
Telegram updates and X posts
into ``dengar run`` while SIGKILLing it at random instants, restarts it each
time, drains, and prints what went in, what came out and how often anything
was repeated. Exit status 1 when a guarantee broke.

    python -m bench.killstorm --rounds 60 --mails 300 --chats 200 --posts 100
    python -m bench.killstorm --postgres postgresql+psycopg://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.reliability.storm import StormReport, run_storm


def print_report(report: StormReport) -> None:
    """The counts as a two-column table."""
    rows = [
        ("seed", report.seed),
        ("kills (SIGKILL)", report.kills),
        ("seconds", f"{report.seconds:.0f}"),
        ("fed per channel", dict(report.fed)),
        ("stored per channel", dict(report.records)),
        ("records by kind", report.kinds),
        ("source ids stored twice", report.duplicate_sources),
        ("mail Message-IDs not stored once", report.mail_ids_not_once),
        ("Telegram acks expected", report.acks_expected),
        ("Telegram acks missing", report.acks_missing),
        ("Telegram acks repeated", report.acks_repeated),
        ("most acks to one chat", report.acks_most),
        (
            "email acks expected / missing",
            f"{report.mail_acks_expected} / {report.mail_acks_missing}",
        ),
        ("email acks repeated", report.mail_acks_repeated),
        ("most ack mails to one citizen", report.mail_acks_most),
        (
            "webhook agency: cases / keys",
            f"{report.webhook_cases} / {report.webhook_keys}",
        ),
        ("webhook re-sends (same key)", report.webhook_repeats),
        (
            "bound: kills x webhook concurrency",
            report.kills * report.webhook_concurrency,
        ),
        (
            "database agency: cases / keys",
            f"{report.db_queue_cases} / {report.db_queue_keys}",
        ),
        ("outbox rows not delivered", report.outbox_not_done),
        ("final SIGTERM exit code", report.final_exit),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    problems = report.lost_or_doubled()
    print("guarantees: " + ("all hold" if not problems else "; ".join(problems)))


def main() -> None:
    """Parse the options, run one storm, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--mails", type=int, default=200)
    parser.add_argument("--chats", type=int, default=150)
    parser.add_argument("--commands", type=int, default=30)
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument(
        "--imap", type=int, default=100, help="mails into Dovecot (0: no IMAP)"
    )
    parser.add_argument(
        "--max-life",
        type=float,
        default=6.0,
        help="longest life of a process before its SIGKILL (s)",
    )
    parser.add_argument(
        "--channel-batch",
        type=int,
        default=3,
        help="items per channel batch (100: large outbox batches, as in production)",
    )
    parser.add_argument(
        "--postgres",
        default=None,
        help="an empty PostgreSQL database URL (default SQLite)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dengar-storm-") as tmp:
        report = asyncio.run(
            run_storm(
                Path(tmp),
                seed=args.seed,
                rounds=args.rounds,
                mails=args.mails,
                chats=args.chats,
                commands=args.commands,
                posts=args.posts,
                imap_mails=args.imap,
                database_url=args.postgres,
                max_life=args.max_life,
                drain_timeout=600,
                channel_batch=args.channel_batch,
            )
        )
    print_report(report)
    sys.exit(1 if report.lost_or_doubled() else 0)


if __name__ == "__main__":
    main()
