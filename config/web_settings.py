"""Settings of the staff dashboard / agency API (``web:``) and of the SLA
clocks (``sla:``)."""

from __future__ import annotations

from datetime import date

from pydantic import Field, SecretStr

from config.common import StrictModel


class WebSettings(StrictModel):
    """Where the web application listens and how its sessions are kept.

    ``secret_key`` signs the session cookies; when it is not set a random one
    is made at start, so sessions do not survive a restart. ``cookie_secure``
    must stay true behind HTTPS (the default); set it false only for a plain
    HTTP test on localhost.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    secret_key: SecretStr | None = None
    cookie_secure: bool = True
    session_hours: float = Field(default=12, gt=0)
    login_max_failures: int = Field(
        default=5, ge=1, description="failed logins per account or address"
    )
    login_window_seconds: float = Field(
        default=900, gt=0, description="the window the failures are counted in"
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
