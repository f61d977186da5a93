"""bench/load.py reports the RSS added per item stored, so that runs of
different lengths and throughputs can be compared (issue 9: flat memory)."""

from __future__ import annotations

from bench.load import Minute, rss_growth

NAN = float("nan")


def test_growth_counts_the_items_stored_after_the_first_minute() -> None:
    minutes = [
        Minute(stored=6000, rss_mb=144.0),
        Minute(stored=6000, rss_mb=150.0),
        Minute(stored=6000, rss_mb=156.0),
    ]
    growth = rss_growth(minutes)
    assert growth == (
        "RSS +12 MB from minute 1 to 3 over 12000 items stored: 1049 B/item"
    )


def test_minutes_without_an_rss_sample_are_left_out() -> None:
    # the catch-up minute after the processes stopped has no sample
    minutes = [
        Minute(stored=100, rss_mb=100.0),
        Minute(stored=100, rss_mb=101.0),
        Minute(stored=50, rss_mb=NAN),
    ]
    growth = rss_growth(minutes)
    assert growth is not None
    assert "from minute 1 to 2 over 100 items" in growth


def test_no_growth_line_without_two_samples() -> None:
    assert rss_growth([Minute(stored=100, rss_mb=100.0)]) is None
    assert (
        rss_growth([Minute(stored=0, rss_mb=1.0), Minute(stored=0, rss_mb=2.0)]) is None
    )
