"""Settings of the staff dashboard / agency API (``web:``) and of the SLA
clocks (``sla:``)."""

from __future__ import annotations

import ipaddress
from datetime import date

from pydantic import Field, SecretStr, field_validator

from config.common import StrictModel


class WebSettings(StrictModel):
    """Where the web application listens and how its sessions are kept.

    ``secret_key`` signs the session cookies; when it is not set a random one
    is made at start, so sessions do not survive a restart. ``cookie_secure``
    must stay true behind HTTPS (the default); set it false only for a plain
    HTTP test on localhost.

    ``trusted_proxies`` lists the addresses (or CIDR networks) of the reverse
    proxies in front of Dengar; only a request from one of them may name the
    client in ``X-Forwarded-For`` / ``Forwarded``. Failed logins are limited
    per (client address, account); past that an account's logins from
    addresses it never logged in from are slowed down, never locked for all.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    secret_key: SecretStr | None = None
    cookie_secure: bool = True
    session_hours: float = Field(default=12, gt=0)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies (addresses or CIDRs) whose forwarded "
        "headers name the client",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="failed logins per (client address, account) in the window; "
        "then that pair waits, and the account slows down for unknown addresses",
    )
    login_window_seconds: float = Field(
        default=900, gt=0, description="the window the failures are counted in"
    )
    login_delay_cap_seconds: float = Field(
        default=60,
        gt=0,
        description="the longest wait between logins of an account under attack",
    )
    page_size: int = Field(default=50, ge=5, le=500)
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description=(
            "the web app's address as citizens reach it (https://lapor.example."
            "go.id); acknowledgements then link to its tracking page /lacak"
        ),
    )
    tracking_per_minute: int = Field(
        default=20,
        ge=1,
        description="lookups on the public tracking page per client address",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, "
                    "10.0.0.0/24, ::1)"
                ) from None
        return [entry.strip() for entry in value]


class SlaSettings(StrictModel):
    """SP4N-LAPOR!-style deadlines, in working days (Monday to Friday, minus
    ``holidays``)."""

    verify: int = Field(default=3, ge=1, description="received -> verified")
    follow_up: int = Field(
        default=5, ge=1, description="dispatched -> the agency's first response"
    )
    auto_close: int = Field(
        default=10, ge=1, description="resolved -> closed when the citizen is silent"
    )
    holidays: list[date] = Field(default_factory=list)
