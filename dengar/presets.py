"""What a channel already decided for a new case, honoured by the pipeline.

The web form shows the citizen the tracking number before the pipeline runs
(``InboundMessage.tracking_no``), lets them choose anonim/rahasia and a
category, and "saya juga mengalami ini" names the open case the report
supports (``InboundMessage.supports``).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, select

from contracts.records import Confidentiality, InboundMessage
from normalizer.dedupe.database import find_case, primary_in_db
from normalizer.dedupe.index import Link
from storage.tables import ComplaintRow

log = logging.getLogger(__name__)
SUPPORT_REASON = "pelapor memilih 'saya juga mengalami ini' pada formulir web"


def preset_tracking_no(session: Session, item: InboundMessage) -> str | None:
    """The tracking number the channel already gave the citizen, unless a
    record has it (then a fresh one is drawn, and the log says so)."""
    number = item.tracking_no
    if not number:
        return None
    with session.no_autoflush:
        taken = session.exec(
            select(ComplaintRow.id).where(ComplaintRow.tracking_no == number)
        ).first()
    if taken is not None:
        log.warning(
            "%s %s: preset tracking number is taken; a new one is drawn",
            item.channel,
            item.external_id,
        )
        return None
    return number


def preset_values(item: InboundMessage, category: str | None) -> dict[str, Any]:
    """Column values the citizen chose: confidentiality, and their category
    when the classifier found none (routing still decides the agency)."""
    values: dict[str, Any] = {}
    if item.confidentiality in (Confidentiality.ANONIM, Confidentiality.RAHASIA):
        values["confidentiality"] = item.confidentiality.value
    if category is None and item.chosen_category:
        values["category"] = item.chosen_category
    return values


def supporter_link(
    session: Session, item: InboundMessage, open_statuses: list[str]
) -> Link | None:
    """The link to the open case the citizen said they also experience."""
    number = item.supports
    if not number:
        return None
    with session.no_autoflush:
        case = find_case(session, number)
        if case is None or case.id is None or case.status not in open_statuses:
            return None
        primary = primary_in_db(session, case.id)
    # the reporter linked it, as staff do by hand
    return Link(primary, 100.0, "pelapor", SUPPORT_REASON, "manual")
