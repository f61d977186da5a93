"""Every text step costs time linear in its input, also on hostile input.

No absolute times: each step is timed on an input and on the same input 16
times as long, in one run, and the two are compared. Linear work grows about
16 times; quadratic work 256 times. The bound (64) leaves room for a noisy
shared machine and still catches anything quadratic. CPU time of this
thread, best of three, so other processes do not count.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.folding import fold_for_matching
from contracts.tracking import find_tracking_numbers
from normalizer.header_limits import HeaderLimitError, check_header_limits
from normalizer.loops import ignore_reason
from normalizer.matching import matching_tokens, strip_noise
from normalizer.mime import parse_mail
from normalizer.quotes import strip_quotes
from normalizer.text import clean_text, html_to_text, storable

SMALL = 2_000
GROWTH = 16
BOUND = 64  # linear: about 16; quadratic: about 256


def _mail_body(text: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Warga <warga@example.org>"
    mail["Subject"] = "Pengaduan"
    mail.set_content(text)
    return bytes(mail)


def _limits(text: str) -> None:
    # over a limit or not, the check reads the whole header block once
    head = b"X-Isi: " + text.replace("\n", "\r\n ").encode("utf-8", "surrogatepass")
    with contextlib.suppress(HeaderLimitError):
        check_header_limits(head + b"\r\nSubject: " + head + b"\r\n\r\n")


STEPS: dict[str, Callable[[str], object]] = {
    "html_to_text": html_to_text,
    "strip_quotes": strip_quotes,
    "clean_text": clean_text,
    "storable": storable,
    "fold_for_matching": fold_for_matching,
    "strip_noise": strip_noise,
    "matching_tokens": matching_tokens,
    "find_tracking_numbers": lambda text: find_tracking_numbers(text, "ADU"),
    "check_header_limits": lambda text: _limits(text),
    "ignore_reason (subject, sender)": lambda text: ignore_reason(
        EmailMessage(), text.replace(" ", "") + "@example.org", text
    ),
    "parse_mail (body)": lambda text: parse_mail(
        _mail_body(text.replace("\x00", "").encode("utf-8", "replace").decode())
    ),
}

# shapes that made one of the steps quadratic before, or could
HOSTILE = {
    "one long word": "X",
    "e-mail-like run": "a.",
    "at signs": "a@",
    "hyphenated run": "a-",
    "unclosed tags": "<a",
    "marked sections": "<![",
    "end tags": "</",
    "unclosed quotes": "<a x='",
    "entities": "&#",
    "lone <": "<",
    "quoted lines": "> a\n",
    "header-like lines": "From: a\n",
    "wrote lines": "Budi wrote:\n",
    "blank lines": "a:\n\n\n",
    "spaces and tabs": " \t",
    "tracking-like": "ab-",
    "mentions": "@a",
    "urls": "http://",
    "apostrophes": "a'",
    "reply prefixes": "re: ",
    "forward prefixes": "Fw: : ",
    "robot-like local part": "-no-reply",
}


def _cpu(step: Callable[[str], object], text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.thread_time()
        step(text)
        best = min(best, time.thread_time() - start)
    return best


def _growth(step: Callable[[str], object], unit: str) -> float:
    small = unit * max(1, SMALL // len(unit))
    large = small * GROWTH
    _cpu(step, small)  # warm caches and compiled patterns
    # a floor of 20 µs: below it the clock, not the step, is measured
    return _cpu(step, large) / max(_cpu(step, small), 20e-6)


@pytest.mark.parametrize("shape", list(HOSTILE))
@pytest.mark.parametrize("step", list(STEPS))
def test_each_text_step_grows_linearly_on_hostile_shapes(step: str, shape: str):
    growth = _growth(STEPS[step], HOSTILE[shape])
    assert growth < BOUND, f"{step} on {shape!r}: x{GROWTH} input cost x{growth:.0f}"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    unit=st.text(
        alphabet=st.sampled_from(list("<>!-/@.:=&#;'\"aX1 \t\n>[]?*_")),
        min_size=1,
        max_size=6,
    ),
    step=st.sampled_from(sorted(STEPS)),
)
def test_any_repeated_pattern_grows_linearly(unit: str, step: str):
    growth = _growth(STEPS[step], unit)
    assert growth < BOUND, f"{step} on {unit!r}: x{GROWTH} input cost x{growth:.0f}"
