"""Messages to citizens: the acknowledgement and status updates, in
Indonesian, each template overridable per channel (``messages:``)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

DEFAULT_MESSAGES: dict[str, str] = {
    "ack_subject": "[{tracking_no}] Pengaduan Anda telah kami terima",
    "ack": (
        "Terima kasih. Pengaduan Anda telah kami terima dengan nomor pelacakan "
        "{tracking_no}.\n\n"
        "Simpan nomor ini untuk menanyakan perkembangan pengaduan Anda. Pengaduan "
        "akan diverifikasi dan diteruskan ke instansi yang berwenang; kami akan "
        "mengabari Anda di sini.{tracking_link}"
    ),
    "ack_choice": (
        "Terima kasih. Pengaduan Anda telah kami terima dengan nomor pelacakan "
        "{tracking_no}.\n\n"
        "Sebelum pengaduan diteruskan ke instansi yang berwenang, Anda dapat "
        "memilih sifatnya:\n"
        "\u2022 Biasa \u2013 identitas Anda ikut diteruskan agar instansi dapat "
        "menghubungi Anda.\n"
        "\u2022 Anonim \u2013 identitas Anda tidak diteruskan ke instansi.\n"
        "\u2022 Rahasia \u2013 isi pengaduan tidak ditampilkan kepada publik dan "
        "identitas Anda dilindungi.\n\n"
        "Pilih dengan tombol di bawah ini atau ketik /anonim atau /rahasia. "
        "Pesan tambahan yang Anda kirim dalam {window} ke depan ikut "
        "diteruskan; tanpa pilihan, pengaduan diteruskan sebagai pengaduan "
        "biasa setelah {window}.\n\n"
        "Simpan nomor pelacakan ini untuk menanyakan perkembangan pengaduan "
        "Anda; kami akan mengabari Anda di sini.{tracking_link}"
    ),
    # e-mail has the form of an official letter: salutation, what we
    # received, the number, how to follow it up, and who signs
    "ack_email": (
        "Yth. {salutation},\n\n"
        "Terima kasih atas pengaduan yang Anda sampaikan kepada kami. Pengaduan "
        "Anda telah kami terima dan dicatat dengan nomor pelacakan "
        "{tracking_no}:\n\n{excerpt}\n\n"
        "Pengaduan ini akan kami verifikasi dan teruskan kepada perangkat daerah "
        "yang berwenang. Untuk menanyakan perkembangannya, balas email ini tanpa "
        "mengubah subjeknya atau hubungi kami dengan menyebutkan nomor "
        "{tracking_no}. Keterangan atau foto tambahan dapat Anda kirim dengan "
        "membalas email ini.{tracking_link}\n\n{signature}"
    ),
    "status_email": "Yth. {salutation},\n\n{text}\n\n{signature}",
    "follow_up_ack": (
        "Tambahan informasi Anda telah kami catat pada pengaduan {tracking_no}."
    ),
    "status_subject": "[{tracking_no}] Perkembangan pengaduan Anda",
    "status": ("Status pengaduan {tracking_no} kini: {status_label}.{message_block}"),
    "rejected": (
        "Dengan berat hati kami sampaikan bahwa pengaduan {tracking_no} tidak "
        "dapat kami tindak lanjuti.\n\nAlasan: {message}\n\n"
        "Mohon maaf atas ketidaknyamanan ini. Bila Anda memiliki keterangan atau "
        "bukti tambahan, silakan balas pesan ini dengan menyebutkan nomor "
        "{tracking_no}, atau sampaikan pengaduan baru; kami akan menelaahnya "
        "kembali."
    ),
    "hint_unsupported": (
        "Maaf, jenis pesan ini belum dapat kami proses. Silakan kirim pengaduan "
        "berupa teks, foto, dokumen, atau lokasi."
    ),
    # a new case that says nowhere where its problem is
    "ask_location": (
        "Di mana lokasi masalah yang Anda laporkan? Ketuk tombol di bawah "
        "untuk mengirim lokasi, atau tuliskan nama jalan, desa/kelurahan, "
        "dan kecamatannya."
    ),
    # a first message with no complaint in it (a greeting, thanks, a test)
    "how_to_subject": "Cara menyampaikan pengaduan",
    "how_to": (
        "Terima kasih telah menghubungi layanan pengaduan kami. Pesan Anda "
        "belum kami catat sebagai pengaduan karena belum memuat keluhan.\n\n"
        "Silakan tuliskan pengaduan Anda: apa masalahnya, di mana tempatnya, "
        "dan sejak kapan. Foto dan lokasi kejadian sangat membantu petugas. "
        "Anda akan menerima nomor pelacakan setelah pengaduan kami terima."
    ),
    "file_too_large": (
        "Maaf, berkas \u201c{filename}\u201d terlalu besar ({size_mb} MB; batas "
        "{limit_mb} MB) dan tidak tersimpan. Silakan kirim versi yang lebih kecil."
    ),
    "file_not_downloaded": (
        "Mohon maaf, berkas {filenames} yang Anda kirim tidak dapat kami terima "
        "karena gangguan di server {service}. Pesan Anda tetap kami catat; mohon "
        "kirim ulang berkas tersebut di percakapan ini."
    ),
    # the one private message Meta allows to the author of a comment
    "comment_private_reply": (
        "Terima kasih, komentar Anda telah kami catat sebagai pengaduan dengan "
        "nomor {tracking_no}. Agar data pribadi Anda tidak tampil di kolom "
        "komentar, silakan lanjutkan di percakapan ini bila ada keterangan "
        "tambahan (lokasi, foto, sejak kapan).{tracking_link}"
    ),
}

STATUS_LABELS: dict[str, str] = {
    "triage": "menunggu pemilahan",
    "dismissed": "tidak ditindaklanjuti",
    "received": "diterima",
    "verified": "terverifikasi",
    "dispatched": "diteruskan ke instansi",
    "in_progress": "sedang ditindaklanjuti",
    "resolved": "selesai ditindaklanjuti",
    "closed": "ditutup",
    "rejected": "ditolak",
    "rerouted": "dialihkan ke instansi lain",
}


# the lines of a complaint quoted back in the acknowledgement
EXCERPT_LINES = 3
EXCERPT_CHARS = 300


def salutation(name: str | None) -> str:
    """``Bapak/Ibu Siti`` — or ``Bapak/Ibu`` when we do not know the name."""
    name = " ".join((name or "").split())
    return f"Bapak/Ibu {name}" if name else "Bapak/Ibu"


def excerpt(text: str | None) -> str:
    """The complaint's first lines, quoted (``> …``), cut at a word."""
    lines = [" ".join(line.split()) for line in (text or "").splitlines()]
    kept = [line for line in lines if line and not line.startswith(">")]
    quoted = kept[:EXCERPT_LINES]
    body = "\n".join(quoted)
    if len(body) > EXCERPT_CHARS:
        body = body[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    elif len(kept) > EXCERPT_LINES:
        body += " …"
    return "\n".join(f"> {line}" for line in body.splitlines()) or "> -"


def signature(instansi: str, address: str | None, contact: str | None) -> str:
    """The block under a letter to a citizen."""
    lines = ["Hormat kami,", instansi]
    lines += [part for part in (address, contact) if part]
    lines += ["", "Email ini dikirim otomatis oleh layanan pengaduan."]
    return "\n".join(lines)


class Rendered(str):
    """A rendered message that remembers its template and values, so the
    channel it is sent through can render it again with its own override
    (``change_status`` renders before it knows each reporter's channel)."""

    template_name: str
    values: dict[str, object]

    def __new__(
        cls, text: str, name: str = "", values: dict[str, object] | None = None
    ) -> Rendered:
        """``text``, rendered from template ``name`` with ``values`` (copies
        made by other code pass the text alone)."""
        made = super().__new__(cls, text)
        made.template_name = name
        made.values = dict(values or {})
        return made

    def again(self, overrides: Mapping[str, str] | None) -> str:
        """The same message from the channel's override, if it has one."""
        if not overrides or self.template_name not in overrides:
            return str(self)
        return str(render(self.template_name, overrides, **self.values))


TRACKING_PAGE = "/lacak"


def tracking_url(public_url: str | None, tracking_no: str | None) -> str | None:
    """The public tracking page of ``tracking_no`` under the web app's public
    address (``web.public_url``); None when either is missing."""
    if not public_url or not tracking_no:
        return None
    return f"{public_url.rstrip('/')}{TRACKING_PAGE}?{urlencode({'no': tracking_no})}"


def render(
    name: str, overrides: Mapping[str, str] | None = None, **values: object
) -> Rendered:
    """The template ``name`` (a channel's override first) filled with ``values``.

    ``{tracking_link}`` is a sentence with the tracking page's address when a
    ``tracking_url`` is given, and empty otherwise, so a template (or an
    override) reads well with or without a public web address."""
    template = (overrides or {}).get(name) or DEFAULT_MESSAGES[name]
    if "tracking_link" not in values:
        url = values.get("tracking_url")
        values["tracking_link"] = (
            f"\n\nAnda juga dapat memantau perkembangannya di:\n{url}" if url else ""
        )
    if "status" in values and "status_label" not in values:
        values["status_label"] = STATUS_LABELS.get(
            str(values["status"]), values["status"]
        )
    if "message" in values and "message_block" not in values:
        message = values["message"]
        values["message_block"] = f"\n\n{message}" if message else ""
        # overrides written before the message/note split still render
        values.setdefault("note_block", values["message_block"])
    return Rendered(template.format(**values), name, values)
