"""``dengar sink try`` as an integrator runs it, against a local agency
system: it renders the request with credentials masked and, with
``--send``, sends it and prints the answer and the remote id."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlmodel import col, select

from config.loader import load_settings
from dengar.app import App
from storage.tables import AuditEvent
from tests.fakes.agency_http import AgencySystem
from tests.integration.test_sink_http import doc_example
from tests.services import free_port
from tests.unit.dispatcher.test_message_schema import add_case


async def dengar(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dengar",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def audited(app: App) -> list[tuple[str, str, str | None, str | None]]:
    """The audit log's entries: actor, action, target, detail."""
    with app.sessions() as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    return [(e.actor, e.action, e.target, e.detail) for e in rows]


async def test_try_renders_masked_and_sends(tmp_path: Path) -> None:
    async with AgencySystem() as system:
        config = tmp_path / "dengar.yaml"
        config.write_text(
            f"database_url: sqlite:///{tmp_path / 'dengar.db'}\n"
            + doc_example("json-rest")
            + "routing: {default_agency: PUPR}\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
        env |= {"PUPR_TIKET_URL": system.base, "PUPR_TIKET_TOKEN": system.token}
        app = App.open(load_settings(config, environ=env))
        with app.sessions() as session:
            case = add_case(session, confidentiality="anonim")
            number = case.tracking_no
            session.commit()
        await app.close()
        args = ["--config", str(config), "sink", "try", "pupr"]

        code, shown, err = await dengar(*args, env=env)
        assert code == 0, err
        assert system.requests == []  # rendered only
        assert f"POST {system.base}/api/v1/tiket" in shown
        assert "Authorization: ***" in shown
        assert f"Idempotency-Key: {number}/PUPR" in shown
        assert '"pelapor": "Anonim"' in shown
        assert "Siti" not in shown
        assert system.token not in shown + err

        assert audited(app) == []  # rendering sends nothing: no staff action

        code, sent, err = await dengar(*args, "--case", number, "--send", env=env)
        assert code == 0, err
        assert "# answer: HTTP 201" in sent
        assert "# remote id: TKT-000001" in sent
        assert len(system.requests) == 1
        assert system.token not in sent + err
        # a case really sent to the agency is in the admin's /audit
        [(actor, *entry)] = audited(app)
        assert entry == [
            "sink_try",
            number,
            "ke PUPR: diterima: HTTP 201, nomor tiket TKT-000001",
        ]
        assert actor.startswith("cli")

        code, _, err = await dengar(
            "--config", str(config), "sink", "try", "X", env=env
        )
        assert code == 2
        assert "No agency X (known: PUPR)" in err

        # a send nobody answered is in the log too: it may have arrived
        down = env | {"PUPR_TIKET_URL": f"http://127.0.0.1:{free_port()}"}
        code, _, err = await dengar(*args, "--case", number, "--send", env=down)
        assert code == 1
        *_, (_, *entry) = audited(app)
        assert entry == [
            "sink_try",
            number,
            "ke PUPR: tidak ada jawaban dari sistem instansi",
        ]
