"""Settings for duplicate linking (``dedupe:``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from config.common import StrictModel

Scorer = Literal[
    "token_set_ratio", "token_sort_ratio", "ratio", "partial_ratio", "WRatio", "QRatio"
]


class DedupeSettings(StrictModel):
    """Near-duplicate linking: scorer, thresholds, windows, candidate limits.

    ``threshold`` applies between different reporters, ``same_reporter_threshold``
    to the same reporter within ``same_reporter_hours``. Scores are rapidfuzz
    scores (0-100) over the matching text.
    """

    enabled: bool = True
    scorer: Scorer = "token_sort_ratio"
    threshold: float = Field(default=75.0, ge=0, le=100)
    same_reporter_threshold: float = Field(default=70.0, ge=0, le=100)
    same_reporter_hours: float = Field(default=72.0, gt=0)
    window_days: float = Field(default=30.0, gt=0)
    open_statuses: list[str] = Field(
        default_factory=lambda: [
            "triage",
            "received",
            "verified",
            "dispatched",
            "in_progress",
        ]
    )
    require_same_category: bool = Field(
        default=True, description="a known category on both sides must be equal"
    )
    require_same_region: bool = Field(
        default=True, description="a known region on both sides must be equal"
    )
    query_tokens: int = Field(
        default=6, ge=1, le=32, description="rarest tokens of a case used as keys"
    )
    posting_budget: int = Field(
        default=1500,
        ge=10,
        description="postings read per decision: rare tokens first, common "
        "ones only while under this budget",
    )
    max_candidates: int = Field(default=40, ge=1, le=10_000)
    paraphrase: bool = Field(
        default=True,
        description="also link the same problem at the same place told in other "
        "words (normalizer/dedupe/paraphrase.py), among the candidates",
    )
    paraphrase_candidates: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="candidates scored in other words (those sharing a problem "
        "concept and a place's name, best ranked first)",
    )
    near_metres: float = Field(
        default=300.0,
        gt=0,
        description="two reports whose shared coordinates (Telegram/WhatsApp "
        "location, web-form pin) are at most this far apart are at the same "
        "place for links in other words, even when their texts name none in "
        "common",
    )
    far_metres: float = Field(
        default=2000.0,
        gt=0,
        description="from this distance between shared coordinates two "
        "reports are elsewhere: the score in other words drops by 3 logits",
    )
    min_tokens: int = Field(
        default=3, ge=1, description="shorter texts are never linked across reporters"
    )
    distinct_tokens_veto: bool = Field(
        default=True,
        description="no link when each text has a rare word or number the other "
        "lacks (another street, another RT)",
    )
    rare_share: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="a word in at most this share of the indexed cases is rare",
    )
    rare_min_df: int = Field(
        default=2,
        ge=0,
        description="a word in at most this many cases is rare however small the index",
    )
    rare_min_cases: int = Field(
        default=1000,
        ge=0,
        description="below this many indexed cases only numbers (not words) "
        "can veto a link",
    )
    require_shared_rare: bool = Field(
        default=True,
        description="link only texts that share a number or a rare word "
        "(a place, a street): 'KTP belum jadi' alone links nothing",
    )

    @model_validator(mode="after")
    def _near_before_far(self) -> DedupeSettings:
        if self.near_metres >= self.far_metres:
            raise ValueError("dedupe.near_metres must be below dedupe.far_metres")
        return self
