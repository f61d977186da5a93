"""Files of a web form submission: recognised by their content, never by
their name or the browser's type, and images re-encoded.

A photo is decoded and written anew with Pillow, which drops everything
but the pixels (EXIF, GPS, comments, anything hidden after the image
data); its GPS position is read first, to suggest the location. A PDF is
kept as sent (it cannot be re-encoded without losing the document), after
its magic bytes were checked.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# what a citizen may attach: the type as detected -> stored content type
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
# a decompression bomb is refused before it is decoded
MAX_SOURCE_PIXELS = 40_000_000
_GPS_IFD = 0x8825


class FileRefused(ValueError):
    """A file that is not an accepted photo or document; the message is
    the Indonesian sentence the citizen reads."""


@dataclass(frozen=True, slots=True)
class CleanFile:
    """A file as it is stored: re-encoded when it is a photo."""

    filename: str
    content_type: str
    data: bytes
    gps: tuple[float, float] | None = None  # read from the original's EXIF


def sniff(data: bytes) -> str | None:
    """The accepted content type ``data`` is, by its magic bytes, or None."""
    for magic, offset, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if kind == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return kind
    return None


def clean_file(filename: str, data: bytes, max_side: int) -> CleanFile:
    """The stored form of an uploaded file; ``FileRefused`` when its content
    is not an accepted photo (JPEG, PNG, WebP) or PDF."""
    name = _safe_name(filename)
    kind = sniff(data)
    if kind is None:
        raise FileRefused(
            f"Berkas “{name}” bukan foto (JPEG, PNG, WebP) atau dokumen PDF."
        )
    if kind == "application/pdf":
        if b"%%EOF" not in data[-2048:]:
            raise FileRefused(f"Dokumen “{name}” tidak utuh atau rusak.")
        return CleanFile(name, kind, data)
    return _reencoded(name, data, max_side)


def _reencoded(name: str, data: bytes, max_side: int) -> CleanFile:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_SOURCE_PIXELS:
                raise FileRefused(f"Foto “{name}” terlalu besar ukurannya.")
            gps = gps_of(image)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, FileRefused):
            raise
        raise FileRefused(f"Foto “{name}” rusak atau tidak dapat dibaca.") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise FileRefused(f"Foto “{name}” terlalu besar ukurannya.") from None
    # the camera's orientation is applied to the pixels: EXIF goes away
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((max_side, max_side))
    out = io.BytesIO()
    if upright.mode in ("RGBA", "LA", "P"):
        upright.convert("RGBA").save(out, "PNG", optimize=False)
        kind, ext = "image/png", "png"
    else:
        upright.convert("RGB").save(out, "JPEG", quality=85)
        kind, ext = "image/jpeg", "jpg"
    stem = name.rsplit(".", 1)[0] or "foto"
    return CleanFile(f"{stem}.{ext}", kind, out.getvalue(), gps)


def gps_of(image: Image.Image) -> tuple[float, float] | None:
    """The (latitude, longitude) of a photo's EXIF GPS tags, or None."""
    try:
        gps = image.getexif().get_ifd(_GPS_IFD)
    except (AttributeError, KeyError, OSError, ValueError):
        return None
    try:
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lat, 6), round(lon, 6)


def _degrees(parts: object, ref: object, negative: str) -> float:
    d, m, s = (float(p) for p in parts)  # type: ignore[attr-defined]
    value = d + m / 60 + s / 3600
    ref_text = ref.decode() if isinstance(ref, bytes) else str(ref)
    return -value if ref_text.strip().upper() == negative else value


def _safe_name(filename: str) -> str:
    """The file's base name, printable and short (it is shown to staff)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable() and c not in "<>\"'")
    return base.strip()[:80] or "berkas"
