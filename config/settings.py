"""The whole of ``dengar.yaml`` as pydantic models."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from config.by_type import ByType
from config.channel_settings import ChannelSettings
from config.common import AgencyCode, Seconds, Slug, StrictModel
from config.dedupe_settings import DedupeSettings
from config.places_settings import GazetteerSettings
from config.sink_settings import DatabaseSinkSettings, SinkSettings
from config.web_settings import SlaSettings, WebSettings
from contracts.policy import ChannelPolicy

# each entry's model by its ``type``, built when an entry of that type is
# validated (config.by_type); in the order "unknown type" lists them
CHANNEL_MODELS = ByType(
    "channel",
    {
        "maildir": "config.channel_settings:MaildirChannelSettings",
        "imap": "config.channel_settings:ImapChannelSettings",
        "telegram": "config.channel_settings:TelegramChannelSettings",
        "whatsapp": "config.channel_settings:WhatsAppChannelSettings",
        "meta": "config.channel_settings:MetaChannelSettings",
        "webform": "config.channel_settings:WebformChannelSettings",
        "x": "config.channel_settings:XChannelSettings",
    },
)
SINK_MODELS = ByType(
    "sink",
    {
        "database": "config.sink_settings:DatabaseSinkSettings",
        "webhook": "config.sink_settings:WebhookSinkSettings",
        "email": "config.sink_settings:EmailSinkSettings",
        "amqp": "config.sink_settings:AmqpSinkSettings",
        "redis": "config.sink_settings:RedisSinkSettings",
        "http": "config.sink_settings:HttpSinkSettings",
    },
)


class AgencySettings(StrictModel):
    """An agency (OPD) that receives cases, and where its queue lives."""

    code: AgencyCode
    name: str = Field(min_length=1)
    sink: Annotated[SinkSettings, SINK_MODELS] = Field(
        default_factory=DatabaseSinkSettings
    )


class CategorySettings(StrictModel):
    """A complaint category and the words that suggest it.

    ``keywords`` maps a word or phrase to its weight; a plain list gives each
    weight 1.
    """

    name: Slug
    label: str | None = None
    keywords: dict[str, float] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _list_means_weight_one(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("keywords"), list):
            data = {**data, "keywords": dict.fromkeys(data["keywords"], 1.0)}
        return data


class RoutingRule(StrictModel):
    """Cases matching every given condition go to ``agency``.

    Keywords match whole words, ignoring case and accents; categories and
    regions must equal the case's. Among matching rules the highest score wins
    (2 per keyword hit, 1 per category or region condition), then the earlier.
    """

    agency: AgencyCode
    keywords: list[str] = Field(default_factory=list)
    categories: list[Slug] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_condition(self) -> RoutingRule:
        if not (self.keywords or self.categories or self.regions):
            raise ValueError(
                "a rule needs at least one of keywords, categories or regions"
            )
        return self


class RoutingModelSettings(StrictModel):
    """The routing model learnt from past dispositions (``dengar routing
    learn``). It decides only cases no rule matches: at ``auto_threshold``
    confidence or above the case goes to the model's agency, below it waits
    in triage with the model's suggestions."""

    enabled: bool = False
    auto_threshold: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="confidence (0-1] from which a case is routed automatically",
    )
    retrain_hours: float | None = Field(
        default=None,
        gt=0,
        description="hours between retraining from staff decisions (none: never)",
    )
    min_examples: int = Field(
        default=50,
        ge=2,
        description="retraining from history needs at least this many decisions",
    )


class RoutingSettings(StrictModel):
    """Which agency gets a case."""

    default_agency: AgencyCode
    rules: list[RoutingRule] = Field(default_factory=list)
    unmatched: Literal["triage", "default_agency"] = Field(
        default="default_agency",
        description="a case no rule matches: waits in triage (staff pick the "
        "agency; default_agency is suggested) or goes to default_agency",
    )
    model: RoutingModelSettings = Field(default_factory=RoutingModelSettings)


class AttachmentSettings(StrictModel):
    """Where attachment bytes are kept and how large one may be."""

    storage: Literal["database", "disk"] = "database"
    directory: Path = Path("./attachments")
    max_bytes: int = Field(default=20_000_000, ge=0)


class OutboxSettings(StrictModel):
    """How the outbox is drained and retried."""

    drain_interval: Seconds = 5.0
    batch_size: int = Field(default=100, ge=1)
    backoff_base: Seconds = 10.0
    backoff_max: Seconds = 3600.0
    claim_timeout: Seconds = Field(
        default=300.0,
        description="an in-flight claim its worker has not renewed for this long "
        "(the worker died) is retried",
    )


# the event namespace of an installation that did not name its regency
DEFAULT_REGENCY = "pemda"


class SignatureSettings(StrictModel):
    """The signature block under mail to citizens: who writes, where, how to
    reach them."""

    instansi: str = Field(
        default="Layanan Pengaduan Masyarakat",
        min_length=1,
        description="e.g. Dinas Komunikasi dan Informatika Kabupaten Kotabaru",
    )
    address: str | None = Field(default=None, description="postal address")
    contact: str | None = Field(
        default=None, description="telephone, WhatsApp, web page, office hours"
    )


class Settings(StrictModel):
    """The root of ``dengar.yaml``."""

    database_url: str = "sqlite:///./dengar.db"
    tracking_prefix: str = Field(default="ADU", pattern=r"^[A-Z]{2,8}$")
    timezone: str = "Asia/Makassar"
    regency: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        description=(
            "the regency or city (e.g. kotabaru) in the names of the events "
            "agencies receive: id.go.<regency>.dengar.complaint.dispatched; "
            f"unset, '{DEFAULT_REGENCY}'"
        ),
    )
    signature: SignatureSettings = Field(default_factory=SignatureSettings)
    channels: list[Annotated[ChannelSettings, CHANNEL_MODELS]] = Field(
        default_factory=list
    )
    agencies: list[AgencySettings] = Field(min_length=1)
    categories: list[CategorySettings] = Field(default_factory=list)
    routing: RoutingSettings
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    shutdown_timeout: Seconds = 30.0
    _source_dir: Path | None = PrivateAttr(default=None)
    gazetteer: GazetteerSettings | None = None
    dedupe: DedupeSettings = Field(default_factory=DedupeSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)

    @property
    def source_dir(self) -> Path:
        """The folder of the file these settings came from (else the current
        one): files the config refers to, like the gazetteer, live beside it."""
        return self._source_dir or Path.cwd()

    @property
    def event_namespace(self) -> str:
        """The ``<regency>`` of event types: ``regency`` or the default."""
        return self.regency or DEFAULT_REGENCY

    def agency(self, code: str) -> AgencySettings:
        """The agency with ``code``; KeyError when there is none."""
        for agency in self.agencies:
            if agency.code == code:
                return agency
        raise KeyError(code)

    def channel(self, name: str) -> ChannelSettings:
        """The channel named ``name``; KeyError when there is none."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)

    def channel_policies(self) -> dict[str, ChannelPolicy]:
        """Each configured channel's policy by name (read once at start-up)."""
        return {channel.name: channel.policy() for channel in self.channels}


def cross_check(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Errors that span several sections, each with its path in the file.

    Works on the raw mapping, so that these are reported together with the
    field errors of the same file rather than only once those are fixed.
    """
    errors: list[tuple[tuple[str | int, ...], str]] = []
    codes = _values(data, "agencies", "code")
    errors += _duplicates("agencies", "code", codes)
    errors += _duplicates("channels", "name", _values(data, "channels", "name"))
    errors += _one_webform(data)
    errors += _webform_whatsapp(data)
    category_names = _values(data, "categories", "name")
    errors += _duplicates("categories", "name", category_names)
    known = {c for c in codes if c is not None}
    routing = data.get("routing")
    if not isinstance(routing, Mapping) or not known:
        return errors
    known_list = ", ".join(sorted(known))
    default = routing.get("default_agency")
    if isinstance(default, str) and default not in known:
        errors.append(
            (
                ("routing", "default_agency"),
                f"unknown agency {default!r} (known: {known_list})",
            )
        )
    rules = routing.get("rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, Mapping):
            continue
        agency = rule.get("agency")
        if isinstance(agency, str) and agency not in known:
            errors.append(
                (
                    ("routing", "rules", i, "agency"),
                    f"unknown agency {agency!r} (known: {known_list})",
                )
            )
        categories = rule.get("categories")
        for j, category in enumerate(
            categories if isinstance(categories, list) else []
        ):
            if category not in category_names:
                errors.append(
                    (
                        ("routing", "rules", i, "categories", j),
                        f"unknown category {category!r}: this rule can never match",
                    )
                )
    return errors


def _values(data: Mapping[str, Any], section: str, key: str) -> list[Any]:
    items = data.get(section)
    if not isinstance(items, list):
        return []
    return [item.get(key) if isinstance(item, Mapping) else None for item in items]


def _duplicates(
    section: str, key: str, values: list[Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    seen: set[Any] = set()
    errors: list[tuple[tuple[str | int, ...], str]] = []
    for i, value in enumerate(values):
        if value is None:
            continue
        if value in seen:
            errors.append(((section, i, key), f"duplicate {key} {value!r}"))
        seen.add(value)
    return errors


def _one_webform(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """The web form is served at one address (``/lapor``): one channel."""
    channels = data.get("channels")
    forms = [
        i
        for i, c in enumerate(channels if isinstance(channels, list) else [])
        if isinstance(c, Mapping) and c.get("type") == "webform"
    ]
    return [
        (("channels", i, "type"), "only one webform channel per installation")
        for i in forms[1:]
    ]


def _webform_whatsapp(
    data: Mapping[str, Any],
) -> list[tuple[tuple[str | int, ...], str]]:
    """The web form's ``whatsapp_channel`` must name a whatsapp channel with
    both templates: a citizen who left a number on the form never wrote to
    it, so WhatsApp lets us send nothing but an approved template."""
    listed = data.get("channels")
    channels: list[Any] = listed if isinstance(listed, list) else []
    by_name: dict[str, Mapping[str, Any]] = {
        c["name"]: c
        for c in channels
        if isinstance(c, Mapping) and isinstance(c.get("name"), str)
    }
    whatsapp = sorted(n for n, c in by_name.items() if c.get("type") == "whatsapp")
    errors: list[tuple[tuple[str | int, ...], str]] = []
    for i, form in enumerate(channels):
        if not isinstance(form, Mapping) or form.get("type") != "webform":
            continue
        name = form.get("whatsapp_channel")
        if not isinstance(name, str):
            continue
        path: tuple[str | int, ...] = ("channels", i, "whatsapp_channel")
        target = by_name.get(name)
        if target is None:
            known = ", ".join(whatsapp) or "none"
            close = difflib.get_close_matches(name, whatsapp, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(
                (path, f"no channel named {name!r} (whatsapp channels: {known}){hint}")
            )
        elif target.get("type") != "whatsapp":
            errors.append(
                (
                    path,
                    f"channel {name!r} is a {target.get('type')} channel, "
                    "not a whatsapp channel",
                )
            )
        else:
            templates = target.get("templates")
            templates = templates if isinstance(templates, Mapping) else {}
            missing = [
                kind
                for kind in ("acknowledgement", "status_update")
                if not templates.get(kind)
            ]
            if missing:
                errors.append(
                    (
                        path,
                        f"channel {name!r} has no templates."
                        f"{' or templates.'.join(missing)}: a citizen who left a "
                        "number on the form never wrote to it, so WhatsApp lets "
                        "us send only approved templates",
                    )
                )
    return errors
