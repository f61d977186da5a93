"""/healthz and /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from storage.tables import ChannelState, ComplaintRow, OutboxRow, utcnow


def samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics_are_prometheus_text_with_the_numbers(client, dengar, cases):
    with dengar.sessions() as session:
        session.add(
            ChannelState(name="surat", consecutive_failures=2, last_error="timeout")
        )
        session.add(
            OutboxRow(
                kind="agency",
                target="PUPR",
                complaint_id=1,
                idempotency_key="k1",
                status="dead",
                created_at=utcnow(),
            )
        )
        session.commit()
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    assert (
        got[("dengar_complaints_total", (("channel", "surat"), ("kind", "case")))] == 6
    )
    assert got[("dengar_channel_consecutive_poll_errors", (("channel", "surat"),))] == 2
    assert got[("dengar_channel_up", (("channel", "surat"),))] == 0
    assert (
        got[
            (
                "dengar_deliveries",
                (("kind", "agency"), ("state", "dead"), ("target", "PUPR")),
            )
        ]
        == 1
    )
    assert got[("dengar_cases_overdue", (("agency", "PUPR"), ("clock", "verify")))] == 1
    assert got[("dengar_queue_oldest_age_seconds", (("agency", "PUPR"),))] == 10 * 86400
    # no personal data in metrics
    assert "warga.example" not in response.text


def test_failed_status_reads_of_open_cases_are_counted(client, dengar, cases):
    with dengar.sessions() as session:
        for n, (case, error) in enumerate(
            [("pupr", "http https://tiket/x answered 500"), ("pupr_anonim", None)]
        ):
            session.add(
                OutboxRow(
                    kind="agency",
                    target="PUPR",
                    complaint_id=session.exec(
                        select(ComplaintRow.id).where(
                            ComplaintRow.tracking_no == cases[case]
                        )
                    ).one(),
                    idempotency_key=f"s{n}",
                    status="delivered",
                    agency_ticket=f"TKT-{n}",
                    agency_status_error=error,
                )
            )
        session.commit()
    got = samples(client.get("/metrics").text)
    assert got[("dengar_agency_status_failures", (("agency", "PUPR"),))] == 1
