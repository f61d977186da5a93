"""ALTCHA proof of work, self-hosted: no third party sees the citizen.

The challenge is made when the form is rendered and carries the form
token's id in its salt, so a solution is good for that one form only; the
form's token in turn makes at most one case, so a solved challenge cannot be
replayed into a second report. The browser widget (vendored under the web
app's static files) solves it and puts the answer in the ``altcha`` field.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import cast

from altcha import v1 as altcha

FIELD = "altcha"


def challenge_json(key: bytes, form_id: str, max_number: int, hours: float) -> str:
    """The challenge for one rendered form, as the widget's ``challengejson``."""
    challenge = altcha.create_challenge(
        altcha.ChallengeOptions(
            hmac_key=key,
            max_number=max_number,
            expires=datetime.now(UTC) + timedelta(hours=hours),
            params={"form": form_id},
        )
    )
    return json.dumps(challenge.to_dict())


def solution_valid(key: bytes, payload: str, form_id: str) -> bool:
    """Whether ``payload`` (the widget's base64 answer) solves a challenge we
    made for form ``form_id``, in time."""
    if not payload or len(payload) > 4096:
        return False
    ok, _why = altcha.verify_solution(payload, key, check_expires=True)
    if not ok:
        return False
    try:
        params = altcha.extract_params(_decoded(payload))
    except (ValueError, TypeError, KeyError):
        return False
    return params.get("form") == [form_id]


def solve(challenge: str) -> str:
    """The widget's answer to a challenge (for tests and the benchmark)."""
    data = json.loads(challenge)
    solution = altcha.solve_challenge(
        data["challenge"], data["salt"], data["algorithm"], data["maxNumber"], 0
    )
    if solution is None:
        raise ValueError("challenge has no solution")
    payload = {
        "algorithm": data["algorithm"],
        "challenge": data["challenge"],
        "number": solution.number,
        "salt": data["salt"],
        "signature": data["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def _decoded(payload: str) -> altcha.PayloadType:
    data = json.loads(base64.b64decode(payload).decode())
    if not isinstance(data, dict):
        raise ValueError("payload is not an object")
    return cast(altcha.PayloadType, data)
