"""A Dengar installation with the web form channel, a gazetteer and the
helpers to fill the form as a browser does (shared by the /lapor tests and
the benchmark)."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

from PIL import Image

from channels.webform.captcha import solve
from config.loader import parse_settings
from config.settings import Settings
from tests.conftest import BASE_CONFIG

GAZETTEER = """
gazetteer:
  places:
    - {name: Pulau Laut Utara, latitude: -3.24, longitude: 116.22}
    - {name: Kelumpang Hulu, latitude: -2.66, longitude: 115.98}
    - {name: Semayap, kind: desa, kecamatan: Pulau Laut Utara,
       latitude: -3.25, longitude: 116.21}
    - {name: Baharu Utara, kind: desa, kecamatan: Pulau Laut Utara}
web:
  secret_key: test-secret-key-for-sessions
"""


def form_settings(
    database_url: str,
    maildir: Path,
    spool: Path,
    captcha: str = "altcha",
    more_channels: str = "",
    **extra: object,
) -> Settings:
    """Settings with a ``formulir`` web form channel spooling under ``spool``
    (``more_channels``: YAML list items of other channels)."""
    options = {"captcha_max_number": 2000, **extra}
    listed = "".join(f", {k}: {v}" for k, v in options.items())
    channel = (
        f"  - {{name: formulir, type: webform, spool_directory: {spool}, "
        f"captcha: {captcha}{listed}}}\n{more_channels}"
    )
    text = BASE_CONFIG.format(
        database_url=database_url, maildir=maildir, after_import="keep", batch_size=100
    ).replace("channels:\n", "channels:\n" + channel, 1)
    return parse_settings(text + GAZETTEER)


def token_of(page: str) -> str:
    """The form token of a rendered form."""
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


def captcha_answer(page: str) -> str:
    """What the ALTCHA widget would put in the form."""
    found = re.search(r'challengejson="([^"]+)"', page)
    assert found, "the page has no ALTCHA challenge"
    return solve(html.unescape(found.group(1)))


def fields(page: str, **values: str) -> dict[str, str]:
    """A valid text submission of the form on ``page``; ``values`` override."""
    data = {
        "token": token_of(page),
        "judul": "Jalan berlubang di depan SDN 3",
        "isi": "Jalan di depan SDN 3 Semayap berlubang besar sejak dua minggu.",
        "tanggal": "2026-11-20",
        "kecamatan": "Pulau Laut Utara",
        "desa": "Semayap",
        "kerahasiaan": "biasa",
        "kontak": "none",
    }
    if "challengejson" in page:
        data["altcha"] = captcha_answer(page)
    data.update(values)
    return data


def photo(
    gps: tuple[float, float] | None = (-3.2512, 116.2101), size=(64, 48)
) -> bytes:
    """A JPEG with EXIF GPS (south, east), as a phone camera writes it."""
    image = Image.new("RGB", size, (120, 90, 60))
    exif = Image.Exif()
    if gps is not None:
        lat, lon = gps
        exif[0x8825] = {
            1: "S" if lat < 0 else "N",
            2: _dms(abs(lat)),
            3: "W" if lon < 0 else "E",
            4: _dms(abs(lon)),
        }
    exif[0x010F] = "KameraHP"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 2)
    return (float(degrees), float(minutes), seconds)
