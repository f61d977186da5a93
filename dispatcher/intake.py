"""How a new case enters dispatch: straight to its agency, or to Diskominfo's
triage first; and whether its citizen is acknowledged now.

Plain decisions over the channel's policy, the classifier's finding and the
routing decision; the pipeline stores what they say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dispatcher.routing import RouteDecision


class TriagePolicy(Protocol):
    """What a channel says about triage (``contracts.policy.ChannelPolicy``)."""

    @property
    def triage(self) -> bool:
        """New cases of the channel wait for staff (a social channel)."""
        ...

    @property
    def auto_dispatch_min_score(self) -> float | None:
        """Unless classified as a complaint with at least this score."""
        ...


@dataclass(frozen=True, slots=True)
class Intake:
    """The first step of a new case."""

    # status ``triage``: staff accept it (and queue it) or dismiss it
    waits_for_staff: bool
    # its citizen gets the acknowledgement with the tracking number now
    acknowledged: bool

    @property
    def status(self) -> str:
        """The status the case is stored with."""
        return "triage" if self.waits_for_staff else "received"


def intake(
    policy: TriagePolicy,
    found: tuple[str, float] | None,
    route: RouteDecision,
    *,
    private_chat: bool = False,
) -> Intake:
    """The first step of a new case of a channel with ``policy``, classified
    as ``found`` (category and score, None: not recognised) and routed as
    ``route``. A social post that waits for staff is not answered (it was
    public, and may be no complaint); a ``private_chat`` message of a social
    channel (a Messenger message) is no post. An unrouted complaint waits
    too, but its citizen is acknowledged like any other."""
    social = not private_chat and needs_triage(policy, found)
    return Intake(waits_for_staff=social or route.to_triage, acknowledged=not social)


def needs_triage(policy: TriagePolicy, found: tuple[str, float] | None) -> bool:
    """Whether a new case of the channel waits for staff before it is
    routed. Only social channels triage: without auto-dispatch every post
    waits; with it, a post goes straight to its agency when the rules
    classify it as a complaint with at least ``auto_dispatch_min_score``,
    and waits otherwise."""
    if not policy.triage:
        return False
    threshold = policy.auto_dispatch_min_score
    if threshold is None:
        return True
    return found is None or found[1] < threshold
