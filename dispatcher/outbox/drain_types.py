"""What one outbox drain passes between its steps: the claimed rows, the
jobs built from them, and the outcome of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatcher.message import CaseRecord
from dispatcher.outbox import queue as outbox
from dispatcher.sinks.base import Delivery


@dataclass(frozen=True, slots=True)
class Claimed:
    """What delivering a claimed outbox row and recording it need."""

    id: int
    kind: str
    target: str
    complaint_id: int
    idempotency_key: str
    attempts: int
    max_attempts: int
    payload: str | None
    unconfirmed_sends: int


# the columns of the batch's load query, in the order of these records
ROW_FIELDS: tuple[str, ...] = Claimed.__slots__
CASE_FIELDS: tuple[str, ...] = CaseRecord.__slots__


@dataclass
class Job:
    """A claimed row and what its delivery needs (or why it cannot be made)."""

    row: Claimed
    delivery: Delivery | None = None
    problem: str | None = None
    permanent: bool = False
    skip: str | None = None  # why it is not sent at all (recorded as skipped)


@dataclass
class Outcome:
    """What happened to one claimed row, recorded with the rest of its batch."""

    row: Claimed
    status: str
    error: str | None = None
    remote_id: str | None = None
    retry_at: datetime | None = None
    unreachable: str | None = None
    # a citizen send was begun (counted in ``unconfirmed_sends``) and has
    # now returned: its count is taken back with the outcome
    began: bool = False

    @property
    def label(self) -> str:
        """The summary's name for it (``retry`` for a row that will be)."""
        return {outbox.PENDING: "retry"}.get(self.status, self.status)
