"""Real servers for integration tests, and what to do when one is absent.

A test that needs a server calls ``need(...)`` with a reason. On a laptop
without the server it is skipped with that reason; with
``DENGAR_REQUIRE_SERVICES=1`` (set by ``.ci/run``) it fails instead, so CI
proves every real path every time.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

POSTGRES_URL = os.environ.get(
    "DENGAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("DENGAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("DENGAR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def services_required() -> bool:
    """True when a missing server must fail the run (CI)."""
    return os.environ.get("DENGAR_REQUIRE_SERVICES", "") not in ("", "0", "false")


def need(available: bool, reason: str) -> None:
    """Skip (or, in CI, fail) the calling test unless ``available``."""
    if available:
        return
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(url: str, default_port: int) -> bool:
    """True when something accepts TCP connections at ``url``'s host:port."""
    parsed = urlparse(url.replace("+psycopg", ""))
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_postgres() -> str:
    """The PostgreSQL URL to test against."""
    need(port_open(POSTGRES_URL, 5432), f"no PostgreSQL at {POSTGRES_URL}")
    return POSTGRES_URL


def need_redis() -> str:
    """The Redis URL to test against."""
    need(port_open(REDIS_URL, 6379), f"no Redis at {REDIS_URL}")
    return REDIS_URL


def need_amqp() -> str:
    """The RabbitMQ URL to test against."""
    need(port_open(AMQP_URL, 5672), f"no RabbitMQ at {AMQP_URL}")
    return AMQP_URL


def need_binary(name: str, hint: str) -> str:
    """The path of an executable the test starts itself (e.g. dovecot)."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    need(path is not None, f"{name} not installed ({hint})")
    assert path is not None
    return path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
