"""Fixtures shared by every test: settings, databases, sample Maildirs."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from config.loader import parse_settings
from config.redaction import MASKER
from config.settings import Settings
from tests.services import need_postgres

# These machines are shared and noisy: a property holds or not whatever the
# time an example took, so no deadline and no "too slow" health check.
hypothesis_settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("shared-machine")

REPO = Path(__file__).resolve().parent.parent
# third-party samples copied with their licences (tests/fixtures/*/README.md)
FIXTURES = REPO / "tests" / "fixtures"
EXAMPLE_INBOX = REPO / "examples" / "inbox"

BASE_CONFIG = """
database_url: {database_url}
tracking_prefix: ADU
channels:
  - name: surat
    type: maildir
    path: {maildir}
    after_import: {after_import}
    batch_size: {batch_size}
agencies:
  - {{code: DISKOMINFO, name: Diskominfo}}
  - {{code: PUPR, name: Dinas PUPR}}
  - {{code: DISDUKCAPIL, name: Disdukcapil}}
categories:
  - {{name: jalan, keywords: {{jalan: 1, berlubang: 3, jembatan: 3}}}}
  - {{name: adminduk, keywords: {{ktp: 3, ktp-el: 3, akta: 2}}}}
routing:
  default_agency: DISKOMINFO
  rules:
    - {{agency: PUPR, categories: [jalan]}}
    - {{agency: DISDUKCAPIL, keywords: [ktp, ktp-el, akta kelahiran]}}
"""


@pytest.fixture
def example_maildir(tmp_path: Path) -> Path:
    """A private copy of the bundled sample inbox."""
    target = tmp_path / "inbox"
    shutil.copytree(EXAMPLE_INBOX, target)
    return target


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'dengar.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    admin_url = need_postgres()
    name = f"dengar_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dengar.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def make_settings(example_maildir: Path, sqlite_url: str) -> Callable[..., Settings]:
    """Settings for one Maildir channel; keyword arguments override."""

    def make(
        database_url: str | None = None,
        maildir: Path | None = None,
        after_import: str = "keep",
        batch_size: int = 100,
        extra: str = "",
    ) -> Settings:
        text_ = BASE_CONFIG.format(
            database_url=database_url or sqlite_url,
            maildir=maildir or example_maildir,
            after_import=after_import,
            batch_size=batch_size,
        )
        return parse_settings(text_ + extra)

    return make


@pytest.fixture(autouse=True)
def _forget_logged_secrets() -> Iterator[None]:
    """Each test masks only its own configuration's secrets in log lines
    (loading settings remembers them process-wide, see config.redaction)."""
    yield
    MASKER.clear()
