"""What ``/lapor`` keeps per web app: the form channel, its signing key,
the places and categories offered, and the per-address limits."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from channels.push_spool import PushSpool
from channels.webform.channel import spool_of
from channels.webform.validate import FormChoices
from config.channel_settings import WebformChannelSettings
from config.settings import Settings
from dengar.web.ratelimit import RateLimiter
from normalizer.places import Gazetteer

HOUR = 3600.0


@dataclass
class FormState:
    """The web form of one installation (None when no ``webform`` channel
    is configured and enabled)."""

    settings: WebformChannelSettings
    key: bytes
    spool: PushSpool
    choices: FormChoices
    category_labels: dict[str, str]
    limiter: RateLimiter
    without_js: RateLimiter
    tile_origin: str = field(default="")

    def case_ref(self, case_id: int) -> str:
        """An opaque, signed reference to a case for "saya juga mengalami
        ini" (the other reporter's tracking number is never shown)."""
        return f"{case_id}.{self._mac(str(case_id))}"

    def case_of_ref(self, ref: str) -> int | None:
        """The case id of a reference made by :meth:`case_ref`, or None."""
        case_id, _, mac = ref.partition(".")
        if not case_id.isdigit() or not hmac.compare_digest(mac, self._mac(case_id)):
            return None
        return int(case_id)

    def _mac(self, text: str) -> str:
        return hmac.new(self.key, f"case:{text}".encode(), hashlib.sha256).hexdigest()[
            :16
        ]


def form_state(settings: Settings, secret: str) -> FormState | None:
    """The form of the configured ``webform`` channel, if enabled."""
    found = [
        c
        for c in settings.channels
        if isinstance(c, WebformChannelSettings) and c.enabled
    ]
    if not found:
        return None
    channel = found[0]
    key = hashlib.sha256(f"dengar-webform:{secret}".encode()).digest()
    places: dict[str, list[str]] = {}
    if settings.gazetteer is not None:
        gazetteer = Gazetteer.from_settings(
            settings.gazetteer, base_dir=settings.source_dir
        )
        for p in gazetteer.places:
            if p.kind == "kecamatan":
                places.setdefault(p.name, [])
        for p in gazetteer.places:
            if p.kind != "kecamatan" and p.kecamatan:
                places.setdefault(p.kecamatan, []).append(p.name)
    categories = {c.name: c.label or c.name for c in settings.categories}
    tile = urlsplit(channel.map.tile_url)
    return FormState(
        settings=channel,
        key=key,
        spool=spool_of(channel),
        choices=FormChoices(
            places={k: sorted(v) for k, v in sorted(places.items())},
            categories=sorted(categories),
            whatsapp=_whatsapp_runs(settings, channel),
        ),
        category_labels=categories,
        limiter=RateLimiter(channel.submissions_per_hour, HOUR),
        without_js=RateLimiter(max(1, channel.without_javascript_per_hour), HOUR),
        tile_origin=f"{tile.scheme}://{tile.netloc}" if tile.netloc else "",
    )


def _whatsapp_runs(settings: Settings, form: WebformChannelSettings) -> bool:
    """Whether the form's ``whatsapp_channel`` is configured and enabled:
    only then is a citizen offered to hear back on WhatsApp."""
    if form.whatsapp_channel is None:
        return False
    named = [c for c in settings.channels if c.name == form.whatsapp_channel]
    return bool(named) and named[0].enabled
