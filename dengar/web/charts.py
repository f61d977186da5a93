"""The summary page's charts, drawn as inline SVG on the server (no script,
no CDN): cases per day by channel, cases by agency, open vs overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from config.settings import Settings
from dengar.sla import SlaPolicy
from dengar.web.access import visible_filter
from dengar.web.auth import Principal
from dengar.web.views import clocks
from storage.tables import ComplaintRow

PALETTE = ("#1f6feb", "#e3670c", "#2da44e", "#a371f7", "#cf222e", "#8c959f", "#bf8700")
OPEN = ("received", "verified", "dispatched", "in_progress", "rerouted")


@dataclass
class Bar:
    """One bar (or stacked segment) of a chart."""

    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


def summary_charts(
    session: Session,
    principal: Principal,
    policy: SlaPolicy,
    now: datetime,
    settings: Settings,
    days: int = 14,
) -> dict[str, Any]:
    """The data and geometry of the three charts, for the template."""
    today = policy.local_date(now)
    first = today - timedelta(days=days - 1)
    rows = list(
        session.exec(
            select(ComplaintRow).where(
                ComplaintRow.kind == "case", visible_filter(principal)
            )
        ).all()
    )
    channels = sorted({r.channel for r in rows})
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(channels)}
    per_day: dict[date, dict[str, int]] = {
        first + timedelta(days=i): {} for i in range(days)
    }
    for r in rows:
        day = policy.local_date(r.received_at)
        if day in per_day:
            per_day[day][r.channel] = per_day[day].get(r.channel, 0) + 1
    # a duplicate is no open work of its own: it follows its primary
    open_rows = [r for r in rows if r.status in OPEN and r.duplicate_of_id is None]
    running = clocks(session, policy, open_rows, now)
    agencies = [a.code for a in settings.agencies]
    by_agency = {code: 0 for code in agencies}
    open_by_agency = {code: 0 for code in agencies}
    overdue_by_agency = {code: 0 for code in agencies}
    for r in rows:
        if r.agency_code in by_agency:
            by_agency[r.agency_code] += 1
    for r in open_rows:
        code = r.agency_code or "-"
        open_by_agency[code] = open_by_agency.get(code, 0) + 1
        clock = running.get(r.id or 0)
        if clock is not None and clock.overdue:
            overdue_by_agency[code] = overdue_by_agency.get(code, 0) + 1
    return {
        "per_day": _stacked(per_day, channels, colors),
        "legend": [(c, colors[c]) for c in channels],
        "by_agency": _horizontal({k: v for k, v in by_agency.items()}, "#1f6feb"),
        "open_overdue": _paired(open_by_agency, overdue_by_agency),
        "overdue_total": sum(overdue_by_agency.values()),
        "total": len(rows),
    }


def _stacked(
    per_day: dict[date, dict[str, int]], channels: list[str], colors: dict[str, str]
) -> dict[str, Any]:
    width, height, left, bottom = 640, 220, 30, 24
    plot_h = height - bottom - 10
    top = max([sum(v.values()) for v in per_day.values()] + [1])
    slot = (width - left) / max(len(per_day), 1)
    bars: list[Bar] = []
    labels = []
    for i, (day, counts) in enumerate(sorted(per_day.items())):
        x = left + i * slot + 2
        y: float = height - bottom
        for channel in channels:
            n = counts.get(channel, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(
                Bar(x, y, slot - 4, h, colors[channel], f"{day:%d-%m} {channel}: {n}")
            )
        labels.append((x + (slot - 4) / 2, day.strftime("%d/%m")))
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": labels,
        "max": top,
        "axis_y": height - bottom,
    }


def _horizontal(values: dict[str, int], color: str) -> dict[str, Any]:
    row_h, left, width = 22, 120, 640
    top = max([*values.values(), 1])
    bars = []
    for i, (name, n) in enumerate(values.items()):
        w = (width - left - 40) * n / top
        bars.append(
            (Bar(left, i * row_h + 4, w, row_h - 6, color, f"{name}: {n}"), name, n)
        )
    return {"width": width, "height": max(len(values), 1) * row_h + 8, "bars": bars}


def _paired(open_: dict[str, int], overdue: dict[str, int]) -> dict[str, Any]:
    row_h, left, width = 30, 120, 640
    names = list(open_)
    top = max([*open_.values(), 1])
    rows = []
    for i, name in enumerate(names):
        scale = (width - left - 170) / top
        rows.append(
            {
                "name": name,
                "y": i * row_h + 4,
                "open": open_[name],
                "overdue": overdue.get(name, 0),
                "open_w": open_[name] * scale,
                "overdue_w": overdue.get(name, 0) * scale,
            }
        )
    return {
        "width": width,
        "height": max(len(names), 1) * row_h + 8,
        "rows": rows,
        "left": left,
    }
