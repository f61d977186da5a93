"""The parts of an ``http`` sink's settings: authentication, templates,
where the remote id is in an answer, and the status read back.

Every template is checked here, when the configuration loads: a syntax
error, an unknown name or a reach into a private attribute is reported with
the line of its key, like any other config error.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

from config.common import Seconds, StrictModel
from config.response_paths import PathProblem, check_regex, check_xml_path, json_steps
from config.templating import (
    DELIVERY_VARIABLES,
    REDACTION_VARIABLES,
    STATUS_VARIABLES,
    check_template,
)

ContentType = Literal["json", "form", "xml", "text"]
# RFC 9110 token characters: what a header name may be made of
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]


def _checked(allowed: frozenset[str]) -> AfterValidator:
    def check(source: str) -> str:
        problems = check_template(source, allowed)
        if problems:
            raise ValueError("; ".join(problems))
        return source

    return AfterValidator(check)


DeliveryTemplate = Annotated[str, _checked(DELIVERY_VARIABLES)]
StatusTemplate = Annotated[str, _checked(STATUS_VARIABLES)]
RedactionTemplate = Annotated[str, _checked(REDACTION_VARIABLES)]
HeaderTemplates = dict[HeaderName, DeliveryTemplate]
# checked as a whole by check_body (a union of checked types would report
# each failure twice, once per branch)
BodyTemplate = str | dict[str, str] | None


class BearerAuth(StrictModel):
    """``Authorization: Bearer <token>``."""

    type: Literal["bearer"]
    token: SecretStr


class BasicAuth(StrictModel):
    """HTTP Basic authentication."""

    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretStr


class ApiKeyAuth(StrictModel):
    """A key sent in a header of its own (``X-API-Key: <key>``)."""

    type: Literal["api_key"]
    header: HeaderName = "X-API-Key"
    key: SecretStr


class HmacAuth(StrictModel):
    """The body signed with HMAC-SHA256: ``<header>: <prefix><hex>``."""

    type: Literal["hmac"]
    header: HeaderName = "X-Signature"
    secret: SecretStr
    prefix: str = Field(default="sha256=", description="written before the hex")


HttpAuth = Annotated[
    BearerAuth | BasicAuth | ApiKeyAuth | HmacAuth, Field(discriminator="type")
]


class Locator(StrictModel):
    """Where a value is in an answer: exactly one of ``json_path``,
    ``xml_path`` or ``regex`` (see ``config.response_paths``)."""

    json_path: str | None = None
    xml_path: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Locator:
        given = [v for v in (self.json_path, self.xml_path, self.regex) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of json_path, xml_path or regex")
        try:
            if self.json_path:
                json_steps(self.json_path)
            elif self.xml_path:
                check_xml_path(self.xml_path)
            elif self.regex:
                check_regex(self.regex)
        except PathProblem as exc:
            raise ValueError(str(exc)) from None
        return self


class HttpRedactionSettings(StrictModel):
    """The request that asks the agency's system to remove the reporter's
    identity from a case it received before the case became confidential.

    Templates see the redacted message (``redaction.replaces`` names the
    delivery to redact) and ``remote_id``, the id the system gave that
    delivery (empty when it gave none).
    """

    method: Literal["POST", "PUT", "PATCH", "DELETE"] = "PATCH"
    url: RedactionTemplate = Field(min_length=1)
    headers: dict[HeaderName, RedactionTemplate] = Field(default_factory=dict)
    content_type: ContentType = "json"
    body: RedactionTemplate | None = Field(
        default=None, description="default for json: the redacted message"
    )


# what an agency's system may report (dispatcher.status.AGENCY_STATUSES)
AgencyStatus = Literal["in_progress", "resolved", "rejected", "rerouted"]


class HttpStatusSettings(StrictModel):
    """Ask the agency's system for a case's status, by its remote id.

    ``note`` is kept in the case's history for staff, ``message`` is told to
    the reporters with the new status. ``map`` turns the remote system's
    words (compared without case or surrounding spaces) into Dengar's
    statuses; a word not in it changes nothing. Templates see
    ``remote_id``, ``tracking_no``, ``idempotency_key`` and ``agency``.
    """

    url: StatusTemplate = Field(min_length=1)
    method: Literal["GET", "POST"] = "GET"
    headers: dict[HeaderName, StatusTemplate] = Field(default_factory=dict)
    content_type: ContentType = "json"
    body: StatusTemplate | None = None
    interval: Seconds = Field(default=900.0, description="seconds between asks")
    path: Locator = Field(description="where the status word is in the answer")
    note: Locator | None = Field(
        default=None,
        description="where an internal note is (kept in the case's history)",
    )
    message: Locator | None = Field(
        default=None,
        description="where the agency's explanation for the reporter is (told "
        "to the citizen with the new status)",
    )
    map: dict[str, AgencyStatus] = Field(min_length=1)
    batch_size: int = Field(default=50, ge=1, le=1000)


def check_body(body: str | dict[str, str] | None, content_type: str) -> None:
    """Raise ``ValueError`` when a body template is wrong, or a mapping is
    given for a content type other than ``form`` (only form fields are a
    flat mapping of text)."""
    if body is None:
        return
    if isinstance(body, dict) and content_type != "form":
        raise ValueError(
            "a mapping of fields is a form body: use content_type: form, "
            "or write the body as one template"
        )
    parts = body.items() if isinstance(body, dict) else [("", body)]
    problems = [
        f"{name}: {problem}" if name else problem
        for name, source in parts
        for problem in check_template(
            source, DELIVERY_VARIABLES, xml=content_type == "xml"
        )
    ]
    if problems:
        raise ValueError("; ".join(problems))
