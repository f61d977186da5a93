"""/metrics and /healthz while the database is really down (a throwaway
PostgreSQL server, stopped and started again)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dengar.app import App
from dengar.web.app import create_app
from tests.fakes.postgres_server import running_postgres

pytestmark = pytest.mark.postgres


def _gauges(text: str) -> dict[str, float]:
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.labels
    }


def test_metrics_say_the_database_is_down_and_back(make_settings):
    with running_postgres() as server:
        app = App.open(
            make_settings(
                database_url=server.url,
                extra="web: {secret_key: test-secret-key-for-sessions}\n",
            )
        )
        try:
            with TestClient(create_app(app), base_url="https://testserver") as client:
                assert _gauges(client.get("/metrics").text)["dengar_database_up"] == 1

                server.stop("immediate")
                scrape = client.get("/metrics")
                assert scrape.status_code == 200  # the scrape works, the gauge says
                assert _gauges(scrape.text) == {"dengar_database_up": 0}
                health = client.get("/healthz")
                assert health.status_code == 503
                assert health.json()["status"] == "error"

                server.start()
                back = _gauges(client.get("/metrics").text)
                assert back["dengar_database_up"] == 1
                assert client.get("/healthz").status_code == 200
        finally:
            app.engine.dispose()
