"""The one backoff: how long to wait after failures in a row."""

from __future__ import annotations

import random


def backoff_seconds(failures: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: about ``base·2^(n-1)``, capped, drawn
    from its upper half so that things failing together (channels, outbox
    rows) do not retry together."""
    ceiling = min(cap, base * (2 ** max(0, failures - 1)))
    return random.uniform(ceiling / 2, ceiling)
