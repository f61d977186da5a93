"""Routing that learns, wired: rules win, the model routes what no rule
matches or sends it to triage with suggestions; `dengar routing learn`
(file and history), `routing explain`, `triage` and the runner's retraining."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from config.loader import load_settings, parse_settings
from contracts.channel import FetchResult
from contracts.records import InboundMessage, Reporter
from dengar.app import App
from dengar.cli.main import main
from dengar.routing_learning import learn, learn_from_history
from dengar.runner import Runner
from dengar.triage import accept
from dengar.web.wording import in_indonesian
from dispatcher.routing import Router
from dispatcher.routing_model import RoutingModel
from dispatcher.routing_store import history_examples
from storage.tables import AuditEvent, ComplaintRow, OutboxRow

FIXTURE = Path(__file__).parents[1] / "fixtures" / "routing" / "lapor-2017.csv"
WHEN = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

# a tiny labelled set: health, roads, civil registry
EXAMPLES = {
    "DINKES": [
        "kartu bpjs kesehatan ditolak di puskesmas",
        "antrean rumah sakit panjang, dokter tidak ada",
        "obat di puskesmas habis, pasien bpjs disuruh beli sendiri",
        "faskes menolak pasien bpjs",
    ],
    "PUPR": [
        "jalan berlubang di depan pasar",
        "aspal jalan desa rusak parah",
        "jembatan kayu hampir putus",
        "gorong-gorong jalan tersumbat",
    ],
    "DISDUKCAPIL": [
        "ktp elektronik belum jadi tiga bulan",
        "akta kelahiran anak salah nama",
        "kartu keluarga belum dicetak",
        "blanko ktp habis di kecamatan",
    ],
}

CONFIG = """
database_url: sqlite:///{db}
tracking_prefix: ADU
channels:
  - {{name: surat, type: maildir, path: {maildir}, after_import: keep}}
agencies:
  - {{code: DISKOMINFO, name: Diskominfo}}
  - {{code: PUPR, name: Dinas PUPR}}
  - {{code: DISDUKCAPIL, name: Disdukcapil}}
  - {{code: DINKES, name: Dinas Kesehatan}}
routing:
  default_agency: DISKOMINFO
  rules:
    - {{agency: PUPR, keywords: [jalan rusak]}}
  model: {{enabled: {enabled}, auto_threshold: {threshold}, min_examples: 3}}
"""


def texts_and_agencies() -> tuple[list[str], list[str]]:
    pairs = [(t, a) for a, texts in EXAMPLES.items() for t in texts]
    return [t for t, _ in pairs], [a for _, a in pairs]


@pytest.fixture(scope="module")
def model() -> RoutingModel:
    return RoutingModel.train(*texts_and_agencies())


def write_config(tmp_path: Path, enabled: bool = True, threshold: float = 0.5) -> Path:
    maildir = tmp_path / "inbox"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "dengar.yaml"
    path.write_text(
        CONFIG.format(
            db=tmp_path / "dengar.db",
            maildir=maildir,
            enabled=str(enabled).lower(),
            threshold=threshold,
        )
    )
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def app(config: Path) -> Iterator[App]:
    opened = App.open(load_settings(config))
    yield opened
    opened.engine.dispose()


def message(n: int, text: str) -> InboundMessage:
    return InboundMessage(
        channel="surat",
        external_id=f"m{n}",
        received_at=WHEN,
        raw=b"{}",
        raw_format="json",
        text=text,
        subject=None,
        reporter=Reporter(name="Warga", email=f"warga{n}@example.id"),
    )


def ingest(app: App, *texts: str) -> list[ComplaintRow]:
    items = [message(n, t) for n, t in enumerate(texts)]
    app.store("surat", FetchResult(items=items, cursor=None))
    with app.sessions() as session:
        return list(session.exec(select(ComplaintRow).order_by(ComplaintRow.id)).all())


# -- the router ---------------------------------------------------------------


def router(model: RoutingModel, enabled: bool = True, threshold: float = 0.5) -> Router:
    text = CONFIG.format(
        db="x.db", maildir="/tmp", enabled=str(enabled).lower(), threshold=threshold
    )
    return Router(parse_settings(text, environ={}).routing, model, 7)


def test_a_matching_rule_wins_over_the_model(model) -> None:
    decision = router(model).route("jalan rusak dekat puskesmas, bpjs ditolak")
    assert decision.agency_code == "PUPR"
    assert decision.method == "rule"
    assert not decision.to_triage


def test_the_model_routes_what_no_rule_matches(model) -> None:
    decision = router(model, threshold=0.4).route("pasien bpjs ditolak puskesmas")
    assert decision.agency_code == "DINKES"
    assert decision.method == "model"
    assert not decision.to_triage
    assert decision.reason.startswith("model v7: DINKES at confidence")
    assert "bpjs" in decision.suggestions[0].words


def test_below_the_threshold_the_case_waits_with_three_suggestions(model) -> None:
    decision = router(model, threshold=0.99).route("mohon ditindaklanjuti")
    assert decision.to_triage
    assert len(decision.suggestions) == 3
    detail = json.loads(decision.detail())
    assert detail["method"] == "model"
    assert detail["threshold"] == 0.99
    assert [s["agency"] for s in detail["suggestions"]] == [
        s.agency for s in decision.suggestions
    ]


def test_a_model_is_not_used_while_the_config_turns_it_off(model) -> None:
    decision = router(model, enabled=False).route("pasien bpjs ditolak puskesmas")
    assert decision.agency_code == "DISKOMINFO"
    assert decision.method == "default"


def test_config_refuses_a_threshold_outside_zero_to_one() -> None:
    text = CONFIG.format(db="x.db", maildir="/tmp", enabled="true", threshold=1.5)
    with pytest.raises(Exception, match=r"routing.model.auto_threshold"):
        parse_settings(text, environ={})


# -- the pipeline --------------------------------------------------------------


def test_pipeline_routes_a_case_no_keyword_matches_by_the_model(app, model) -> None:
    learn(app, *texts_and_agencies(), source="test")
    rows = ingest(
        app,
        "Selamat pagi, kartu BPJS ibu saya ditolak di puskesmas kemarin",
        "Blanko KTP elektronik habis, akta kelahiran juga belum jadi",
        "Jalan rusak di depan sekolah",
        "Mohon infonya soal bantuan untuk warga di kampung kami",
    )
    health, registry, road, vague = rows
    assert (health.agency_code, health.status) == ("DINKES", "received")
    assert json.loads(health.routing_detail)["method"] == "model"
    assert registry.agency_code == "DISDUKCAPIL"
    assert json.loads(road.routing_detail)["method"] == "rule"
    # unsure: triage with suggestions, nothing sent to an agency
    assert vague.status == "triage"
    assert len(json.loads(vague.routing_detail)["suggestions"]) == 3
    with app.sessions() as session:
        queued = {o.complaint_id for o in session.exec(select(OutboxRow)).all()}
    assert vague.id not in queued
    assert health.id in queued


def test_without_a_trained_model_cases_go_to_the_default_agency(app) -> None:
    (row,) = ingest(app, "kartu BPJS ditolak di puskesmas")
    assert row.agency_code == "DISKOMINFO"
    assert row.status == "received"


# -- learning from history and on a schedule ------------------------------------


def test_learns_from_cases_staff_accepted_at_triage(app, model) -> None:
    # every case waits in triage: a model sure of nothing
    app.pipeline.router = router(model, threshold=0.99)
    texts, agencies = texts_and_agencies()
    rows = ingest(app, *texts)
    assert {r.status for r in rows} == {"triage"}
    with app.sessions() as session:
        for row, agency in zip(rows, agencies, strict=True):
            accept(
                session, row.id, agency, "staff:rina", app.pipeline.enqueue_for_agency
            )
        session.commit()
    learnt = learn_from_history(app, "cli:rina")
    assert learnt.source == "history"
    assert learnt.per_agency == {"DINKES": 4, "DISDUKCAPIL": 4, "PUPR": 4}
    # the scheduled retraining finds enough decisions (min_examples: 3)
    again = Runner(app).retrain_routing()
    assert again is not None
    assert again.version == learnt.version + 1
    assert app.pipeline.router.model_version == again.version
    # the audit log holds what a person did, not the scheduled retraining
    with app.sessions() as session:
        audited = session.exec(select(AuditEvent)).all()
    assert [(e.actor, e.action, e.target, e.detail) for e in audited] == [
        (
            "cli:rina",
            "routing_learn",
            f"model rute v{learnt.version}",
            "12 contoh dari keputusan staf (riwayat): DINKES 4, DISDUKCAPIL 4, PUPR 4",
        )
    ]


def test_scheduled_retraining_waits_for_enough_decisions(app) -> None:
    assert Runner(app).retrain_routing() is None


# -- the commands ------------------------------------------------------------


def test_cli_learns_from_the_lapor_file_and_explains_a_case(config, tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main, ["--config", str(config), "routing", "learn", str(FIXTURE)]
    )
    # the fixture names agencies this config does not have: all listed, refused
    assert result.exit_code == 1
    assert "unknown agency 'DISHUB' in rows" in result.output
    assert "'PDAM'" in result.output
    mine = tmp_path / "mine.csv"
    with mine.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "text", "agency"])
        for agency, texts in EXAMPLES.items():
            writer.writerows(["Aduan", t, agency] for t in texts)
    result = runner.invoke(
        main, ["--config", str(config), "routing", "learn", str(mine)]
    )
    assert result.exit_code == 0, result.output
    assert "routing model v1 learnt from 12 example(s) (file:mine.csv)" in result.output
    app = App.open(load_settings(config))
    # the admin's /audit says who trained which version on what; the refused
    # file above trained nothing and is not there
    with app.sessions() as session:
        audited = session.exec(select(AuditEvent)).all()
    assert [(e.action, e.target, e.detail) for e in audited] == [
        (
            "routing_learn",
            "model rute v1",
            "12 contoh dari berkas mine.csv: DINKES 4, DISDUKCAPIL 4, PUPR 4",
        )
    ]
    assert audited[0].actor.startswith("cli")
    try:
        health, vague = ingest(
            app,
            "pasien BPJS ditolak puskesmas",
            "Mohon infonya soal bantuan untuk warga di kampung kami",
        )
    finally:
        app.engine.dispose()
    result = runner.invoke(
        main, ["--config", str(config), "routing", "explain", str(health.tracking_no)]
    )
    assert result.exit_code == 0, result.output
    assert "no rule matched; model v1 routed to DINKES at confidence" in result.output
    assert "bpjs" in result.output
    result = runner.invoke(main, ["--config", str(config), "triage", "--json"])
    listed = [json.loads(line) for line in result.output.splitlines()]
    assert vague.status == "triage"  # 0.41 sure at most, below 0.5
    assert [r["tracking_no"] for r in listed] == [vague.tracking_no]
    assert len(listed[0]["suggestions"]) == 3
    assert listed[0]["suggestions"][0]["confidence"] < 0.5
    result = runner.invoke(main, ["--config", str(config), "triage"])
    assert "model" in result.output  # the suggestions column
    result = runner.invoke(
        main, ["--config", str(config), "routing", "explain", str(vague.tracking_no)]
    )
    assert "below 0.50: sent to triage" in result.output
    result = runner.invoke(
        main, ["--config", str(config), "routing", "models", "--json"]
    )
    assert json.loads(result.output)[0]["source"] == "file:mine.csv"
    table = runner.invoke(main, ["--config", str(config), "routing", "models"])
    assert "WITA" in table.output  # created, in the configured zone


def test_explain_says_an_explicit_rule_won(config) -> None:
    app = App.open(load_settings(config))
    try:
        learn(app, *texts_and_agencies(), source="test")
        (road,) = ingest(app, "jalan rusak dan puskesmas tutup")
    finally:
        app.engine.dispose()
    result = CliRunner().invoke(
        main, ["--config", str(config), "routing", "explain", str(road.tracking_no)]
    )
    assert result.exit_code == 0, result.output
    assert "an explicit rule matched (routing.rules[0]); rules win over the model" in (
        result.output
    )


def test_an_agency_no_longer_configured_is_never_chosen(model) -> None:
    # the model was trained when DINKES existed; the configuration dropped it
    text = CONFIG.format(db="x.db", maildir="/tmp", enabled="true", threshold=0.5)
    routing = parse_settings(text, environ={}).routing
    decision = Router(routing, model, 7, ["DISKOMINFO", "PUPR", "DISDUKCAPIL"]).route(
        "pasien bpjs ditolak puskesmas"
    )
    assert {s.agency for s in decision.suggestions} == {"PUPR", "DISDUKCAPIL"}
    assert decision.agency_code in {"PUPR", "DISDUKCAPIL"}


def test_an_agency_given_from_the_command_line_is_learnt_from(config) -> None:
    app = App.open(load_settings(config))
    try:
        (row,) = ingest(app, "bau sampah menumpuk di pasar")  # default agency
    finally:
        app.engine.dispose()
    assert row.agency_code == "DISKOMINFO"
    result = CliRunner().invoke(
        main,
        [
            *("--config", str(config), "case", "update", str(row.tracking_no)),
            *("--status", "dispatched", "--agency", "PUPR", "--actor", "cli:rina"),
        ],
    )
    assert result.exit_code == 0, result.output
    app = App.open(load_settings(config))
    try:
        with app.sessions() as session:
            assert history_examples(session) == (
                ["bau sampah menumpuk di pasar"],
                ["PUPR"],
            )
    finally:
        app.engine.dispose()
    # and `routing explain` tells the staff decision after the routing's
    result = CliRunner().invoke(
        main, ["--config", str(config), "routing", "explain", str(row.tracking_no)]
    )
    assert "decided by: no rule matched and no model was in use" in result.output
    assert "then cli:rina at " in result.output
    assert "diberikan ke PUPR (sebelumnya DISKOMINFO)" in result.output


def test_the_models_reasons_read_in_indonesian_without_the_words(model) -> None:
    sure = router(model, threshold=0.4).route("pasien bpjs ditolak puskesmas")
    unsure = router(model, threshold=0.99).route("mohon ditindaklanjuti")
    # the words come from the citizen's text: kept in the detail only
    assert "bpjs" not in sure.reason
    assert in_indonesian(sure.reason).startswith(
        "model rute v7: DINKES dengan keyakinan"
    )
    shown = in_indonesian(unsure.reason)
    assert shown.startswith("model rute v7 kurang yakin (di bawah 99%): menunggu")
    for english in ("confidence", "below", "triage", "suggestions"):
        assert english not in shown
