"""read_mail_files: .eml files and mbox archives for `dengar import`."""

from __future__ import annotations

import mailbox
import shutil
from email.message import EmailMessage
from pathlib import Path

from channels.mailfiles import read_mail_files
from contracts.mail_ids import mail_external_id
from contracts.records import InboundMessage, RejectedItem
from normalizer.mime import parse_mail
from tests.conftest import FIXTURES

SAMPLES = FIXTURES / "email" / "mime-samples"


def message(subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Budi <budi@example.id>"
    msg["To"] = "pengaduan@kab.example.go.id"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Dec 2026 09:00:00 +0700"
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.id>"
    msg.set_content(body)
    return msg


def test_mbox_archive_yields_each_message_with_from_lines_unescaped(tmp_path):
    box = mailbox.mbox(tmp_path / "arsip.mbox")
    box.add(message("satu", "Jalan rusak.\nFrom the village: tolong.\n"))
    box.add(message("dua", "Lampu mati.\n"))
    box.flush()
    box.close()
    items = list(read_mail_files([tmp_path / "arsip.mbox"], "impor"))
    assert all(isinstance(i, InboundMessage) for i in items)
    parsed = [parse_mail(i.raw) for i in items]
    assert [p.subject for p in parsed] == ["satu", "dua"]
    assert "From the village: tolong." in parsed[0].text
    assert [i.metadata["mbox_index"] for i in items] == [1, 2]
    assert items[0].received_at.isoformat() == "2026-12-02T09:00:00+07:00"
    assert items[0].external_id == mail_external_id(items[0].raw)


def test_eml_files_and_folders_in_name_order(tmp_path):
    folder = tmp_path / "ekspor"
    folder.mkdir()
    for name in ("b.eml", "a.eml"):
        shutil.copy(SAMPLES / "000.eml", folder / name)
    (folder / "c.eml").write_bytes(message("tiga", "isi").as_bytes())
    items = list(read_mail_files([folder], "impor"))
    assert [Path(i.metadata["source_file"]).name for i in items] == [
        "a.eml",
        "b.eml",
        "c.eml",
    ]
    # the same mail twice has one external id: the pipeline stores it once
    assert items[0].external_id == items[1].external_id


def test_reimport_gives_the_same_ids(tmp_path):
    path = tmp_path / "satu.eml"
    path.write_bytes(message("satu", "isi").as_bytes())
    first = [i.external_id for i in read_mail_files([path], "impor")]
    second = [i.external_id for i in read_mail_files([path], "impor")]
    assert first == second


def test_empty_oversized_and_unreadable_are_rejected_with_reasons(tmp_path):
    empty = tmp_path / "kosong.eml"
    empty.write_bytes(b"\r\n")
    big = tmp_path / "besar.eml"
    big.write_bytes(message("besar", "x" * 5000).as_bytes())
    good = tmp_path / "baik.eml"
    good.write_bytes(message("baik", "isi").as_bytes())
    missing = tmp_path / "hilang.eml"
    items = list(
        read_mail_files([empty, big, missing, good], "impor", max_message_bytes=2000)
    )
    kinds = [type(i) for i in items]
    assert kinds == [RejectedItem, RejectedItem, RejectedItem, InboundMessage]
    assert "is empty" in items[0].reason
    assert "over max_message_bytes (2000)" in items[1].reason
    assert len(items[1].raw) == 2000
    assert "cannot read" in items[2].reason
    assert parse_mail(items[3].raw).subject == "baik"


def test_progress_reports_bytes(tmp_path):
    paths = []
    for n in range(3):
        path = tmp_path / f"{n}.eml"
        path.write_bytes(message(f"pesan {n}", "isi").as_bytes())
        paths.append(path)
    seen = []
    list(
        read_mail_files(
            paths, "impor", progress=lambda done, total: seen.append((done, total))
        )
    )
    total = sum(p.stat().st_size for p in paths)
    assert seen[-1] == (total, total)
    assert len(seen) == 3


def test_progress_moves_inside_one_mbox_archive(tmp_path):
    """One archive is one file: the bar must still move message by message."""
    box = mailbox.mbox(tmp_path / "arsip.mbox")
    for n in range(5):
        box.add(message(f"pesan {n}", "isi " * 50))
    box.flush()
    box.close()
    seen = []
    items = read_mail_files(
        [tmp_path / "arsip.mbox"],
        "impor",
        progress=lambda done, total: seen.append(done),
    )
    for _ in items:
        pass
    size = (tmp_path / "arsip.mbox").stat().st_size
    assert len(seen) >= 5
    assert seen == sorted(seen)
    assert 0 < seen[0] < size
    assert seen[-1] == size
