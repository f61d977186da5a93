"""The audit log: who did what, when and from where, for admins to read.

Staff actions are recorded in the same transaction as the change they
describe (the caller commits), so the log never claims a change that was
rolled back. Secrets (passwords, API keys) are never part of an entry.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from storage.tables import AuditEvent

# what each action is called on the admin's page
ACTION_LABELS: dict[str, str] = {
    "login": "masuk",
    "login_failed": "gagal masuk",
    "logout": "keluar",
    "case_status": "ubah status kasus",
    "case_reroute": "alihkan kasus",
    "case_link": "tautkan duplikat",
    "case_unlink": "lepas tautan duplikat",
    "case_confidentiality": "ubah kerahasiaan",
    "triage_accept": "terima kiriman triase",
    "triage_dismiss": "abaikan kiriman triase",
    "user_add": "buat/ubah akun",
    "user_disable": "nonaktifkan akun",
    "user_enable": "aktifkan akun",
    "user_password": "atur ulang kata sandi",
    "key_rotate": "buat/ganti kunci API",
    "key_revoke": "cabut kunci API",
    "outbox_retry": "jadwalkan ulang kiriman",
    "quarantine_retry": "proses ulang item karantina",
    "routing_learn": "latih model rute",
    "sink_try": "uji kirim ke sistem instansi",
}


def cli_actor() -> str:
    """Who acts from the command line: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no such user (a container's bare uid)
        return "cli"


def retried_rows(row_ids: Sequence[int]) -> str:
    """The target of an ``outbox_retry`` entry: the rows, or every dead one."""
    if not row_ids:
        return "semua kiriman yang gagal"
    return ", ".join(f"#{i}" for i in row_ids)


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    detail: str | None = None,
    address: str | None = None,
) -> None:
    """Stage one entry; the caller commits it with the change it describes."""
    if action not in ACTION_LABELS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(
        AuditEvent(
            actor=actor[:128],
            action=action,
            target=target[:128] if target else None,
            detail=detail or None,
            address=address[:64] if address else None,
        )
    )


def page_of(
    session: Session, page: int, size: int, action: str = ""
) -> tuple[list[AuditEvent], int]:
    """One page of entries, newest first, and how many there are."""
    where = [AuditEvent.action == action] if action else []
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*where))
    rows = session.exec(
        select(AuditEvent)
        .where(*where)
        .order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
        .offset((max(page, 1) - 1) * size)
        .limit(size)
    ).all()
    return list(rows), int(total.one())
