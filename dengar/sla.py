"""SLA clocks like SP4N-LAPOR!'s, counted in working days.

Three clocks, each in working days (Monday to Friday minus the configured
holidays), counted in the installation's timezone:

- ``verify``: a received case must be verified (or dispatched) in time;
- ``follow_up``: a case dispatched to an agency must get the agency's first
  response (``in_progress``, ``resolved``, ``rejected``, ``rerouted``);
- ``auto_close``: a resolved case the citizen did not answer may be closed.

A clock starts at the moment the case entered the status it applies to; the
caller passes that moment (the latest status event, or ``received_at``).
A linked duplicate has no clock: it follows its primary, whose clock counts
(``dispatcher/duplicates.py``), until staff unlink it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from config.web_settings import SlaSettings
from storage.tables import ComplaintRow, StatusEvent

# which clock runs while a case is in a status; other statuses have none
CLOCK_OF_STATUS: dict[str, str] = {
    "received": "verify",
    "verified": "follow_up",
    "dispatched": "follow_up",
    "resolved": "auto_close",
}

CLOCK_LABELS: dict[str, str] = {
    "verify": "verifikasi",
    "follow_up": "tindak lanjut",
    "auto_close": "tutup otomatis",
}


class WorkingCalendar:
    """Working days: Monday to Friday except ``holidays``."""

    def __init__(self, holidays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)

    def is_working_day(self, day: date) -> bool:
        """True on a weekday that is not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself
        does not count, as a complaint received on Friday evening is due
        ``days`` working days later)."""
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``; negative
        when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count


@dataclass(frozen=True, slots=True)
class SlaClock:
    """One running clock of a case: which, since when, due when, how late."""

    kind: str
    started: date
    due: date
    overdue: bool
    days_left: int  # working days until due; negative once overdue

    @property
    def label(self) -> str:
        """The clock's Indonesian name."""
        return CLOCK_LABELS[self.kind]


class SlaPolicy:
    """The configured deadlines in the installation's timezone."""

    def __init__(self, settings: SlaSettings, timezone: str = "Asia/Makassar") -> None:
        self.settings = settings
        self.zone = ZoneInfo(timezone)
        self.calendar = WorkingCalendar(settings.holidays)

    def limit(self, kind: str) -> int:
        """The working days allowed for clock ``kind``."""
        limits = {
            "verify": self.settings.verify,
            "follow_up": self.settings.follow_up,
            "auto_close": self.settings.auto_close,
        }
        return limits[kind]

    def local_date(self, moment: datetime) -> date:
        """The calendar date of ``moment`` where the government sits."""
        return moment.astimezone(self.zone).date()

    def clock(self, status: str, since: datetime, now: datetime) -> SlaClock | None:
        """The clock running for a case in ``status`` since ``since``, at
        ``now``; None when no clock applies to that status."""
        kind = CLOCK_OF_STATUS.get(status)
        if kind is None:
            return None
        started = self.local_date(since)
        due = self.calendar.add_working_days(started, self.limit(kind))
        today = self.local_date(now)
        left = self.calendar.working_days_between(today, due)
        return SlaClock(
            kind=kind, started=started, due=due, overdue=today > due, days_left=left
        )

    def due_at(self, status: str, since: datetime) -> datetime | None:
        """The end of the due day (local time) for ``status``, or None."""
        kind = CLOCK_OF_STATUS.get(status)
        if kind is None:
            return None
        due = self.calendar.add_working_days(self.local_date(since), self.limit(kind))
        return datetime.combine(due, time.max, tzinfo=self.zone)


def auto_close(
    session: Session,
    policy: SlaPolicy,
    now: datetime,
    notify: Callable[[ComplaintRow, str], None],
    actor: str = "sla:auto_close",
) -> list[str]:
    """Close every resolved case whose ``auto_close`` clock ran out with no
    word from the citizen since it was resolved; returns their tracking
    numbers. A case the citizen answered stays open for staff to read. Goes
    through ``change_status`` (the citizen is told); does not commit, so the
    caller (a scheduled job) commits once."""
    from contracts.records import CaseStatus
    from dispatcher.status import change_status

    # a duplicate closes with its primary
    resolved = session.exec(
        select(ComplaintRow).where(
            ComplaintRow.kind == "case",
            ComplaintRow.status == "resolved",
            col(ComplaintRow.duplicate_of_id).is_(None),
        )
    ).all()
    closed: list[str] = []
    for case in resolved:
        since = session.exec(
            select(func.max(StatusEvent.created_at)).where(
                StatusEvent.complaint_id == case.id,
                StatusEvent.status == "resolved",
            )
        ).one()
        if since is None:
            continue
        clock = policy.clock("resolved", since, now)
        if clock is None or not clock.overdue:
            continue
        answered = session.exec(
            select(func.count()).where(
                ComplaintRow.follow_up_of_id == case.id,
                col(ComplaintRow.received_at) > since,
            )
        ).one()
        if answered:
            continue
        note = (
            "ditutup otomatis: tidak ada tanggapan pelapor dalam "
            f"{policy.limit('auto_close')} hari kerja"
        )
        change_status(session, case, CaseStatus.CLOSED, note, actor, notify)
        closed.append(case.tracking_no or str(case.id))
    return closed
