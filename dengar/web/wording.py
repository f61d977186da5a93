"""Stored codes and reasons, in the Indonesian staff and agencies read, as
template filters.

The reasons themselves are rendered by :mod:`dispatcher.wording`, which the
agency message uses too (one table for the dashboard, the agency API and
what sinks deliver); what only the dashboard shows (who did it, outbox
kinds) is here.
"""

from __future__ import annotations

import jinja2

from dispatcher.wording import in_indonesian, status_label

__all__ = [
    "ACTOR_LABELS",
    "OUTBOX_KIND_LABELS",
    "actor_label",
    "in_indonesian",
    "install_wording",
    "status_label",
]

OUTBOX_KIND_LABELS: dict[str, str] = {
    "agency": "ke instansi",
    "reply": "ke pelapor",
}

ACTOR_LABELS: dict[str, str] = {
    "dengar": "sistem",
    "citizen": "pelapor",
}


def actor_label(actor: str | None) -> str:
    """Who did it, as staff read it ("dengar" → "sistem")."""
    if not actor:
        return "-"
    return ACTOR_LABELS.get(actor, actor)


def install_wording(env: jinja2.Environment) -> None:
    """Add the ``indonesian``, ``actor`` and ``outbox_kind`` filters."""
    env.filters["indonesian"] = in_indonesian
    env.filters["actor"] = actor_label
    env.filters["outbox_kind"] = lambda kind: OUTBOX_KIND_LABELS.get(kind, kind)
