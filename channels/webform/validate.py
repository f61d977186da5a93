"""Checks of a web form submission, with the Indonesian sentence a citizen
reads for each problem (keyed by field, so the form shows it beside it).

Framework-free: the web app hands over the text fields and the uploaded
files; what the form offers (places, categories) comes as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from channels.webform.files import CleanFile, FileRefused, clean_file

TITLE_MAX = 150
TEXT_MAX = 5000
TEXT_MIN = 15
DETAIL_MAX = 200
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s.]{2,63}$")
_PHONE_CHARS = re.compile(r"[\s.\-()]")


@dataclass(frozen=True, slots=True)
class FormChoices:
    """What the form offers: kecamatan → its desa, category names, and
    whether a WhatsApp number may be left (only when a WhatsApp channel
    sends to it)."""

    places: Mapping[str, Sequence[str]]
    categories: Sequence[str] = ()
    whatsapp: bool = False


@dataclass(slots=True)
class Checked:
    """The checked values and the problems found (``field -> sentence``)."""

    values: dict[str, str] = field(default_factory=dict)
    files: list[CleanFile] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    incident_date: date | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.errors


def check_form(
    fields: Mapping[str, str],
    uploads: Sequence[tuple[str, bytes]],
    choices: FormChoices,
    *,
    today: date,
    max_files: int,
    max_file_bytes: int,
    max_side: int,
) -> Checked:
    """Every problem of a submission at once, so the citizen fixes all in
    one go; the text values come back trimmed for the form to show again."""
    out = Checked(values={k: v.strip() for k, v in fields.items()})
    v = out.values
    _text(out, "judul", TITLE_MAX, 5, "Judul laporan")
    _text(out, "isi", TEXT_MAX, TEXT_MIN, "Isi laporan")
    _when(out, today)
    _where(out, choices)
    if v.get("kategori") and v["kategori"] not in choices.categories:
        out.errors["kategori"] = "Pilih kategori dari daftar, atau biarkan kosong."
    if v.get("kerahasiaan", "biasa") not in ("biasa", "anonim", "rahasia"):
        out.errors["kerahasiaan"] = "Pilih salah satu: biasa, anonim atau rahasia."
    _contact(out, choices.whatsapp)
    _files(out, uploads, max_files, max_file_bytes, max_side)
    located = out.latitude is not None or any(f.gps for f in out.files)
    if not v.get("kecamatan") and not located and "lokasi" not in out.errors:
        out.errors["kecamatan"] = (
            "Pilih kecamatan lokasi kejadian, atau tandai titiknya di peta."
        )
    return out


def _text(out: Checked, name: str, most: int, least: int, label: str) -> None:
    value = out.values.get(name, "")
    if not value:
        out.errors[name] = f"{label} wajib diisi."
    elif len(value) < least:
        out.errors[name] = (
            f"{label} terlalu singkat: tulis paling sedikit {least} huruf."
        )
    elif len(value) > most:
        out.errors[name] = (
            f"{label} terlalu panjang: paling banyak {most} huruf "
            f"(sekarang {len(value)})."
        )


def _when(out: Checked, today: date) -> None:
    value = out.values.get("tanggal", "")
    if not value:
        out.errors["tanggal"] = "Tanggal kejadian wajib diisi."
        return
    try:
        when = date.fromisoformat(value)
    except ValueError:
        out.errors["tanggal"] = (
            "Tanggal kejadian tidak dapat dibaca (contoh: 2026-12-01)."
        )
        return
    if when > today:
        out.errors["tanggal"] = "Tanggal kejadian tidak boleh setelah hari ini."
    elif (today - when).days > 3 * 365:
        out.errors["tanggal"] = "Tanggal kejadian terlalu lama (lebih dari 3 tahun)."
    else:
        out.incident_date = when


def _where(out: Checked, choices: FormChoices) -> None:
    v = out.values
    kecamatan, desa = v.get("kecamatan", ""), v.get("desa", "")
    if kecamatan and kecamatan not in choices.places:
        out.errors["kecamatan"] = "Pilih kecamatan dari daftar."
    elif desa and (not kecamatan or desa not in choices.places[kecamatan]):
        out.errors["desa"] = "Desa/kelurahan itu tidak ada di kecamatan yang dipilih."
    if len(v.get("lokasi_detail", "")) > DETAIL_MAX:
        out.errors["lokasi_detail"] = (
            f"Keterangan lokasi paling banyak {DETAIL_MAX} huruf."
        )
    lat, lon = v.get("lat", ""), v.get("lon", "")
    if lat or lon:
        try:
            out.latitude, out.longitude = float(lat), float(lon)
        except ValueError:
            out.latitude = out.longitude = None
        if (
            out.latitude is None
            or out.longitude is None
            or not -90 <= out.latitude <= 90
            or not -180 <= out.longitude <= 180
        ):
            out.latitude = out.longitude = None
            out.errors["lokasi"] = (
                "Titik lokasi tidak dapat dibaca; pilih ulang di peta."
            )


def _contact(out: Checked, whatsapp: bool) -> None:
    v = out.values
    kind = v.get("kontak", "none") or "none"
    if kind == "whatsapp" and not whatsapp:
        # a form rendered before WhatsApp was switched off, or a made-up post
        out.errors["kontak"] = (
            "Kabar melalui WhatsApp belum tersedia. Pilih email, atau pantau "
            "sendiri dengan nomor pelacakan."
        )
    elif kind == "email":
        address = v.get("email", "")
        if not _EMAIL.fullmatch(address):
            out.errors["email"] = (
                "Tulis alamat email yang benar, contoh: nama@contoh.id."
            )
    elif kind == "whatsapp":
        number = normalise_phone(v.get("whatsapp", ""))
        if number is None:
            out.errors["whatsapp"] = (
                "Tulis nomor WhatsApp yang benar, contoh: 0812 3456 7890."
            )
        else:
            v["whatsapp"] = number
    elif kind != "none":
        out.errors["kontak"] = "Pilih cara kami menghubungi Anda."


def normalise_phone(text: str) -> str | None:
    """An Indonesian mobile number as ``+628…``, or None."""
    digits = _PHONE_CHARS.sub("", text)
    if digits.startswith("+62"):
        digits = digits[3:]
    elif digits.startswith("62"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]
    if not digits.isdigit() or not digits.startswith("8") or not 9 <= len(digits) <= 13:
        return None
    return "+62" + digits


def _files(
    out: Checked,
    uploads: Sequence[tuple[str, bytes]],
    max_files: int,
    max_file_bytes: int,
    max_side: int,
) -> None:
    given = [(name, data) for name, data in uploads if name or data]
    if len(given) > max_files:
        out.errors["lampiran"] = f"Paling banyak {max_files} berkas lampiran."
        return
    problems = []
    for name, data in given:
        if len(data) > max_file_bytes:
            problems.append(
                f"Berkas “{name}” terlalu besar ({len(data) / 1e6:.1f} MB; "
                f"paling besar {max_file_bytes / 1e6:.0f} MB)."
            )
            continue
        if not data:
            problems.append(f"Berkas “{name}” kosong.")
            continue
        try:
            out.files.append(clean_file(name, data, max_side))
        except FileRefused as exc:
            problems.append(str(exc))
    if problems:
        out.errors["lampiran"] = " ".join(problems)
