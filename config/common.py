"""Small pieces shared by the settings models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
AgencyCode = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,31}$")]
Seconds = Annotated[float, Field(gt=0, description="seconds")]
Security = Literal["tls", "starttls", "none"]


class StrictModel(BaseModel):
    """A settings model that rejects unknown keys, so typos are reported."""

    # built on first use: a start of ``dengar`` validates only the models its
    # configuration uses (bench/cli.py)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class SmtpSettings(StrictModel):
    """An SMTP server Dengar sends mail through."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str = Field(
        default="Layanan Pengaduan Masyarakat",
        min_length=1,
        max_length=100,
        description="display name on the From line",
    )
    timeout: Seconds = 30.0

    @property
    def effective_port(self) -> int:
        """The port to use: the given one or the usual one for ``security``."""
        if self.port is not None:
            return self.port
        return {"tls": 465, "starttls": 587, "none": 25}[self.security]
