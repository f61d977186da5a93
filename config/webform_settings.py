"""Settings of the citizen web form (``type: webform``, one per installation).

The form is served at ``/lapor`` by the web app; a submission is kept in
``spool_directory`` before the citizen sees the confirmation, and the
channel hands it to the pipeline from there like any fetched item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from config.channel_base import MB, ChannelBase
from config.common import Seconds, SmtpSettings, StrictModel


class MapSettings(StrictModel):
    """The map of the form: tiles from a server the regency chooses."""

    tile_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="tile URL template with {z}, {x}, {y}; the browser loads "
        "tiles from it (the page allows this one host in its CSP)",
    )
    attribution: str = "© OpenStreetMap contributors"
    center_latitude: float = Field(default=-3.2, ge=-90, le=90)
    center_longitude: float = Field(default=116.2, ge=-180, le=180)
    zoom: int = Field(default=10, ge=1, le=19)


class WebformChannelSettings(ChannelBase):
    """The citizen web form ``/lapor``."""

    type: Literal["webform"]
    spool_directory: Path = Field(
        default=Path("./spool/webform"),
        description="where submissions wait for the pipeline (relative to the "
        "working directory); one subdirectory per channel",
    )
    max_files: int = Field(default=3, ge=0, le=3)
    max_file_bytes: int = Field(default=5 * MB, ge=10_000)
    max_body_bytes: int = Field(
        default=17 * MB,
        ge=100_000,
        description="cap of one submission (text, files and multipart framing)",
    )
    image_max_pixels: int = Field(
        default=2048,
        ge=256,
        description="longest side of a stored photo; larger ones are scaled down",
    )
    submissions_per_hour: int = Field(
        default=20,
        ge=1,
        description="sends per client address per hour, refused ones included "
        "(a citizen fixing a mistake sends again)",
    )
    captcha: Literal["altcha", "off"] = Field(
        default="altcha",
        description="ALTCHA proof of work (self-hosted); off only for tests",
    )
    captcha_max_number: int = Field(
        default=100_000,
        ge=1000,
        description="ALTCHA difficulty: a browser tries half of it on average",
    )
    without_javascript_per_hour: int = Field(
        default=3,
        ge=0,
        description="submissions per address per hour without the proof of work "
        "(a browser with JavaScript off cannot solve it); 0 refuses them",
    )
    form_valid_hours: float = Field(
        default=24, gt=0, description="how long a rendered form may be submitted"
    )
    similar_cases: int = Field(
        default=3, ge=0, le=3, description="'sudah dilaporkan?' shows this many"
    )
    map: MapSettings = Field(default_factory=MapSettings)
    smtp: SmtpSettings | None = Field(
        default=None,
        description="mail server for the acknowledgement and status mails to a "
        "citizen who left an e-mail address; without it the form's cases are "
        "answered on the web only (confirmation and /lacak)",
    )
    message_id_domain: str | None = Field(
        default=None, description="domain of our Message-IDs (default: from_address's)"
    )
    poll_interval: Seconds = 1.0
    batch_size: int = Field(default=40, ge=1, le=1000)
