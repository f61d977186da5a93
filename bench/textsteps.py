"""Benchmark: milliseconds per kilobyte of each text step at 10 k, 100 k and
1 M characters, on ordinary prose, on one long word and on a shape hostile
to that step, so that growth is visible: a linear step keeps the same ms/kB
across a row, a quadratic one multiplies it by 10 per column (issue 16).

    python -m bench.textsteps [--sizes 10000 100000 1000000] [--runs 3]

CPU time of this thread, best of ``--runs``. Matching (categories, places,
duplicates) reads the first ``MATCHING_CHARS`` characters, so its ms/kB
falls with size; the Subject parse of the standard library is refused above
its limit before it runs (``normalizer/header_limits.py``), so it is shown
at the first size only (what the limit spares) and the check is timed
beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

from config.settings import CategorySettings
from contracts.records import InboundMessage
from contracts.tracking import find_tracking_numbers
from normalizer.classify import classify
from normalizer.dedupe.database import case_text
from normalizer.header_limits import FIELD_LIMITS, HeaderLimitError, check_header_limits
from normalizer.matching import matching_tokens, strip_noise
from normalizer.mime import header_text, parse_mail
from normalizer.normalize import MailPolicy, normalize
from normalizer.quotes import strip_quotes
from normalizer.text import clean_text, html_to_text, storable

PROSE = (
    "Selamat pagi, jalan di depan SDN 3 Stagen berlubang besar sejak minggu "
    "lalu, sudah dua motor jatuh. Mohon segera diperbaiki, terima kasih.\n"
)
CATEGORIES = [
    CategorySettings(name="jalan", keywords={"jalan": 1, "berlubang": 3}),
    CategorySettings(name="sampah", keywords={"sampah": 2, "tps": 3}),
]


def _mail(body: str, *, html: bool = False) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Budi <budi@warga.example>"
    mail["Subject"] = "Pengaduan jalan"
    mail["Message-ID"] = f"<bench-{len(body)}-{body[:8].encode().hex()}@warga.example>"
    if html:
        mail.set_content(body, subtype="html")
    else:
        mail.set_content(body)
    return bytes(mail)


def _normalize(raw: bytes) -> None:
    item = InboundMessage(
        channel="surat",
        external_id="bench",
        received_at=datetime.now(UTC),
        raw=raw,
        raw_format="rfc822",
    )
    # refused before parsing is also the step's answer
    with contextlib.suppress(HeaderLimitError):
        normalize(item, "ADU", MailPolicy())


def _subject_parse(text: str) -> None:
    head = parse_mail(f"Subject: {text}\r\n\r\n".encode())
    header_text(head.headers, "Subject")


def _header_check(text: str) -> None:
    with contextlib.suppress(HeaderLimitError):
        check_header_limits(f"Subject: {text}\r\n\r\n".encode())


Step = Callable[[str], object]
# name, the step, its hostile unit, the largest size it runs at
STEPS: list[tuple[str, Step, str, int | None]] = [
    ("html -> text", html_to_text, "<a", None),
    ("quote stripping", strip_quotes, "> a\n", None),
    ("clean_text", clean_text, " \t", None),
    ("storable", storable, "\x00", None),
    ("strip_noise", strip_noise, "a.", None),
    ("matching tokens", matching_tokens, "a-", None),
    ("classify", lambda t: classify(t, CATEGORIES), "a@", None),
    ("dedupe case text", lambda t: case_text("Aduan", t, "Budi"), "0812 ", None),
    ("tracking numbers", lambda t: find_tracking_numbers(t, "ADU"), "ab-", None),
    ("header limits check", _header_check, "=?", None),
    (
        "Subject parse (stdlib)",
        _subject_parse,
        "=?utf-8?q?ab?= ",
        10_000,  # what the header limits spare: already over the Subject limit
    ),
    ("parse_mail (body)", lambda t: parse_mail(_mail(t)), "\n--b", None),
    ("normalize (mail)", lambda t: _normalize(_mail(t)), "> a\n", None),
    ("normalize (HTML mail)", lambda t: _normalize(_mail(t, html=True)), "<a", None),
]


def _cpu(step: Step, text: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.thread_time()
        step(text)
        best = min(best, time.thread_time() - start)
    return best


def _sized(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _raw_mail(head: str) -> bytes:
    return (
        f"{head}\r\nMessage-ID: <{id(head)}@w.example>\r\n\r\nJalan rusak\r\n".encode()
    )


def pipeline_table() -> None:
    """The items of issue 16 through the whole pipeline (SQLite, the example
    configuration with categories, gazetteer and duplicate index)."""
    import logging
    import os
    import tempfile

    from config.loader import load_settings
    from contracts.channel import FetchResult
    from dengar.app import App

    logging.disable(logging.WARNING)  # the quarantine warnings are expected
    directory = tempfile.mkdtemp(prefix="dengar-textsteps-")
    os.environ["DENGAR_DATABASE_URL"] = f"sqlite:///{directory}/bench.db"
    settings = load_settings("config/dengar.example.yaml")
    app = App.open(settings)
    app.enable_dedupe()
    channel = settings.channels[0].name
    items = {
        "1 MB one-word body": _mail("X" * 1_000_000),
        "1 MB body of words": _mail(_sized(PROSE, 1_000_000)),
        "100 k Subject": _raw_mail("From: w@w.example\r\nSubject: " + "X" * 100_000),
        "100 k From name": _raw_mail(
            "Subject: a\r\nFrom: " + "X" * 100_000 + " <w@w.id>"
        ),
        "30,000 encoded words": _raw_mail(
            "From: w@w.example\r\nSubject: " + " ".join(["=?utf-8?q?ab?="] * 30_000)
        ),
    }
    print()
    print("whole pipeline, one item per batch (wall clock, SQLite)")
    print(f"{'item':<24} {'seconds':>8}  outcome")
    for number, (name, raw) in enumerate(items.items()):
        item = InboundMessage(
            channel=channel,
            external_id=f"bench-{number}",
            received_at=datetime.now(UTC),
            raw=raw,
            raw_format="rfc822",
        )
        start = time.perf_counter()
        done = app.store(
            channel, FetchResult(items=[item], cursor=None), advance_cursor=False
        )
        seconds = time.perf_counter() - start
        outcome = (
            "case" if done.new_cases else "quarantined" if done.quarantined else "?"
        )
        print(f"{name:<24} {seconds:>8.2f}  {outcome}")
    app.engine.dispose()


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes: list[int] = args.sizes
    heads = [
        f"{s // 1000:,} k" if s < 1_000_000 else f"{s // 1_000_000} M" for s in sizes
    ]
    print(
        f"ms per kB of input (CPU, best of {args.runs}); growth = last / first column"
    )
    print()
    header = f"{'step':<24} {'input':<12}" + "".join(f"{h:>10}" for h in heads)
    print(header + f"{'growth':>9}")
    print("-" * (len(header) + 9))
    for name, step, hostile, largest in STEPS:
        for label, unit in (("prose", PROSE), ("one word", "X"), ("hostile", hostile)):
            cells: list[str] = []
            per_kb: list[float] = []
            for size in sizes:
                if largest is not None and size > largest:
                    cells.append(f"{'refused':>10}")
                    continue
                text = _sized(unit, size)
                _cpu(step, text, 1)  # warm up
                value = _cpu(step, text, args.runs) * 1000 / (size / 1000)
                per_kb.append(value)
                cells.append(f"{value:>10.3f}")
            growth = ""
            if len(per_kb) > 1 and per_kb[0] > 0:
                growth = f"{per_kb[-1] / per_kb[0]:>8.1f}x"
            shown = label if label != "hostile" else f"{hostile!r}"[:12]
            print(f"{name:<24} {shown:<12}" + "".join(cells) + f" {growth}")
    print()
    print(
        "matching reads the first 20,000 characters; the Subject is refused "
        f"above {FIELD_LIMITS['subject']:,} bytes before the standard library parses it"
    )
    pipeline_table()


if __name__ == "__main__":
    main()
