"""A live dashboard (uvicorn on a free port) with a day of sample intake, and
Debian's chromium driven by Playwright.

CI needs: ``apt-get install -y chromium`` and ``pip install playwright``
(never ``playwright install``: the system chromium is used).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.services import free_port, need

CHROMIUM = os.environ.get("DENGAR_CHROMIUM", "/usr/bin/chromium")
# flags known to work on a closed-network, root-run machine
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "kata-sandi-uji-123"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

TELEGRAM = """  - name: telegram
    type: telegram
    enabled: false
    token: "123456:not-used"
"""
WEB = """
web:
  secret_key: browser-test-secret
  cookie_secure: false
"""

PHOTO = (Path(__file__).parent / "lubang.png").read_bytes()  # 240x150 sample
# agencies as a real regency names them (config/dengar.example.yaml): long
# names are what made the case page's <select> overflow
AGENCY_NAMES = {
    "name: Diskominfo": "name: Dinas Komunikasi dan Informatika (verifikasi dan "
    "pemilahan)",
    "name: Dinas PUPR": "name: Dinas Pekerjaan Umum dan Penataan Ruang",
    "name: Disdukcapil": "name: Dinas Kependudukan dan Pencatatan Sipil",
}

SAMPLES = [
    # (number, channel, agency, status, days ago, category, region, text, extra)
    (
        "ADU-7K3M-9Q2D",
        "surat",
        "PUPR",
        "dispatched",
        1,
        "jalan",
        "Pulau Laut Utara",
        "Jalan di Jl. Veteran berlubang besar dekat SDN 3, sudah dua motor jatuh.",
        {},
    ),
    (
        "ADU-7K3M-9Q2E",
        "telegram",
        "PUPR",
        "received",
        9,
        "jalan",
        "Pulau Laut Utara",
        "Jembatan kayu di Desa Sungup retak, mohon segera diperbaiki.",
        {},
    ),
    (
        "ADU-8D2F-1ABC",
        "telegram",
        "DISDUKCAPIL",
        "in_progress",
        3,
        "adminduk",
        "Kelumpang",
        "KTP-el saya belum jadi sejak 3 bulan. NIK 6302011203900004.",
        {"confidentiality": "anonim"},
    ),
    (
        "ADU-8D2F-1ABE",
        "telegram",
        "DISDUKCAPIL",
        "resolved",
        6,
        "adminduk",
        "Kelumpang",
        "Akta kelahiran anak saya salah tulis nama ibu, mohon dibetulkan.",
        {},
    ),
    (
        "ADU-8D2F-1ABD",
        "surat",
        "DISKOMINFO",
        "received",
        0,
        None,
        None,
        "<script>alert(1)</script>",
        {},
    ),
    (
        "ADU-9X4Y-2DEF",
        "surat",
        "PUPR",
        "received",
        0,
        "jalan",
        "Pulau Laut Utara",
        "Lubang di Jl. Veteran depan SDN 3 makin besar, bahaya untuk anak sekolah.",
        {},
    ),
    (
        "ADU-9X4Y-2DEG",
        "x",
        None,
        "triage",
        0,
        None,
        None,
        "@pemkabkotabaru lampu jalan di Jl. Berangas mati semua sejak minggu lalu",
        {},
    ),
]


def _available() -> bool:
    return (
        Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The dashboard served on a free port; yields (base_url, app)."""
    need(
        _available(),
        f"browser tests need {CHROMIUM} (apt-get install -y chromium) and "
        "playwright (pip install playwright)",
    )
    from config.loader import parse_settings
    from dengar.app import App
    from dengar.web.app import create_app
    from dengar.web.auth import add_user
    from storage.tables import (
        AttachmentRow,
        AuditEvent,
        ComplaintRow,
        StatusEvent,
        utcnow,
    )
    from tests.conftest import BASE_CONFIG, EXAMPLE_INBOX

    tmp = tmp_path_factory.mktemp("browser")
    shutil.copytree(EXAMPLE_INBOX, tmp / "inbox")
    text = BASE_CONFIG.format(
        database_url=f"sqlite:///{tmp / 'dengar.db'}",
        maildir=tmp / "inbox",
        after_import="keep",
        batch_size=100,
    )
    text = text.replace("agencies:", TELEGRAM + "agencies:", 1) + WEB
    for short, long in AGENCY_NAMES.items():
        text = text.replace(short, long)
    app = App.open(parse_settings(text))
    web = create_app(app)
    now = utcnow()
    with app.sessions() as session:
        add_user(session, "budi", PASSWORD, "staff")
        add_user(session, "admin", PASSWORD, "admin")
        add_user(session, "pupr", PASSWORD, "agency", "PUPR")
        rows = {}
        for (
            number,
            channel,
            agency,
            status,
            days,
            category,
            region,
            body,
            extra,
        ) in SAMPLES:
            row = ComplaintRow(
                kind="case",
                tracking_no=number,
                channel=channel,
                external_id=number,
                received_at=now - timedelta(days=days, hours=1),
                reporter_name="Siti Rahma" if channel != "x" else None,
                reporter_handle="warga_kotabaru" if channel == "x" else None,
                original_text=body,
                clean_text=body,
                status=status,
                agency_code=agency,
                category=category,
                region=region,
                raw_format="json",
                **extra,
            )
            session.add(row)
            session.flush()
            rows[number] = row
            session.add(
                StatusEvent(
                    complaint_id=row.id,
                    status=status,
                    actor="pipeline",
                    created_at=row.received_at,
                )
            )
        # the day's work as the audit log shows it
        for minutes, actor, action, target, detail in (
            (
                50,
                "web:budi",
                "case_status",
                "ADU-8D2F-1ABC",
                "dispatched -> in_progress",
            ),
            (40, "web:budi", "case_reroute", "ADU-7K3M-9Q2E", "DISKOMINFO -> PUPR"),
            (30, "web:budi", "case_link", "ADU-9X4Y-2DEF", "-> ADU-7K3M-9Q2D"),
            (
                20,
                "api:DISDUKCAPIL",
                "case_status",
                "ADU-8D2F-1ABE",
                "in_progress -> resolved",
            ),
            (10, "cli:root", "key_rotate", "PUPR", None),
            (5, "web:admin", "user_disable", "magang", None),
        ):
            session.add(
                AuditEvent(
                    created_at=now - timedelta(minutes=minutes),
                    actor=actor,
                    action=action,
                    target=target,
                    detail=detail,
                    address=None if actor.startswith(("cli:", "api:")) else "10.20.0.7",
                )
            )
        session.add(
            AttachmentRow(
                complaint_id=rows["ADU-7K3M-9Q2D"].id,
                filename="lubang.png",
                content_type="image/png",
                size=len(PHOTO),
                sha256="0" * 64,
                data=PHOTO,
            )
        )
        session.commit()
    try:
        with serve(web) as base_url:
            yield base_url, app
    finally:
        app.engine.dispose()


@contextlib.contextmanager
def serve(web):
    """Serve the web app with uvicorn on a free port; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(live):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live):
    context = browser.new_context(
        base_url=live[0], viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    dialogs = []

    def on_dialog(dialog):
        # an alert() from complaint text would mean script ran: record it
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.dialogs = dialogs
    yield page
    context.close()


AXE = Path(__file__).parent / "axe" / "axe.min.js"


@pytest.fixture
def axe_page(browser, live):
    """A page that may have axe-core injected: the dashboard's CSP allows no
    script but its own (there is none), so this context bypasses it."""
    context = browser.new_context(
        base_url=live[0], viewport={"width": 1366, "height": 900}, bypass_csp=True
    )
    yield context.new_page()
    context.close()


def axe_violations(page, impacts=("serious", "critical")):
    """axe-core's violations of the loaded page with one of ``impacts``, as
    readable lines (rule, impact, the elements)."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'][:5])}"
        for v in result
        if v["impact"] in impacts
    ]


def shot(page, name):
    """Take a screenshot; it replaces the README's copy in docs/screenshots
    only with DENGAR_UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean."""
    folder = SCREENSHOTS
    if not os.environ.get("DENGAR_UPDATE_SCREENSHOTS"):
        folder = Path(tempfile.gettempdir()) / "dengar-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
