"""How a new case enters dispatch, decided without a database: a social post
waits for staff (and is not answered) unless auto-dispatch trusts it; an
unrouted complaint waits for staff but its citizen is acknowledged."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dispatcher.intake import intake, needs_triage
from dispatcher.routing import RouteDecision


@dataclass(frozen=True)
class Policy:
    triage: bool = False
    auto_dispatch_min_score: float | None = None


PRIVATE = Policy()  # mail, Telegram, WhatsApp, the web form
SOCIAL = Policy(triage=True)  # X without auto-dispatch
TRUSTING = Policy(triage=True, auto_dispatch_min_score=3.0)
ROUTED = RouteDecision("PUPR", "rule 1: category jalan")
UNROUTED = RouteDecision("DISKOMINFO", "no rule matched", to_triage=True)


@pytest.mark.parametrize(
    ("policy", "found", "route", "status", "acknowledged"),
    [
        (PRIVATE, ("jalan", 9.0), ROUTED, "received", True),
        (PRIVATE, None, UNROUTED, "triage", True),
        (SOCIAL, ("jalan", 9.0), ROUTED, "triage", False),
        (TRUSTING, ("jalan", 6.0), ROUTED, "received", True),
        (TRUSTING, ("jalan", 1.0), ROUTED, "triage", False),
        (TRUSTING, None, ROUTED, "triage", False),  # not seen as a complaint
        (TRUSTING, ("jalan", 6.0), UNROUTED, "triage", True),
    ],
)
def test_the_first_step_of_a_new_case(
    policy: Policy,
    found: tuple[str, float] | None,
    route: RouteDecision,
    status: str,
    acknowledged: bool,
) -> None:
    step = intake(policy, found, route)
    assert step.status == status
    assert step.waits_for_staff is (status == "triage")
    assert step.acknowledged is acknowledged


def test_auto_dispatch_takes_a_post_from_its_threshold_on() -> None:
    assert needs_triage(TRUSTING, ("jalan", 3.0)) is False
    assert needs_triage(TRUSTING, ("jalan", 2.9)) is True


def test_a_private_message_on_a_social_channel_is_no_post() -> None:
    # a Messenger message: answered and sent on like a chat's
    step = intake(SOCIAL, ("jalan", 9.0), ROUTED, private_chat=True)
    assert (step.status, step.acknowledged) == ("received", True)
