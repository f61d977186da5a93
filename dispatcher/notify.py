"""Messages to citizens: the acknowledgement and status updates, in
Indonesian, each template overridable per channel (``messages:``)."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_MESSAGES: dict[str, str] = {
    "ack_subject": "[{tracking_no}] Pengaduan Anda telah kami terima",
    "ack": (
        "Terima kasih. Pengaduan Anda telah kami terima dengan nomor pelacakan "
        "{tracking_no}.\n\n"
        "Simpan nomor ini untuk menanyakan perkembangan pengaduan Anda. Pengaduan "
        "akan diverifikasi dan diteruskan ke instansi yang berwenang; kami akan "
        "mengabari Anda di sini."
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
        "Anda; kami akan mengabari Anda di sini."
    ),
    "follow_up_ack": (
        "Tambahan informasi Anda telah kami catat pada pengaduan {tracking_no}."
    ),
    "status_subject": "[{tracking_no}] Perkembangan pengaduan Anda",
    "status": ("Status pengaduan {tracking_no} kini: {status_label}.{note_block}"),
    "hint_unsupported": (
        "Maaf, jenis pesan ini belum dapat kami proses. Silakan kirim pengaduan "
        "berupa teks, foto, dokumen, atau lokasi."
    ),
    "file_too_large": (
        "Maaf, berkas \u201c{filename}\u201d terlalu besar ({size_mb} MB; batas "
        "{limit_mb} MB) dan tidak tersimpan. Silakan kirim versi yang lebih kecil."
    ),
    "file_not_downloaded": (
        "Mohon maaf, berkas {filenames} yang Anda kirim tidak dapat kami terima "
        "karena gangguan di server Telegram. Pesan Anda tetap kami catat; mohon "
        "kirim ulang berkas tersebut di percakapan ini."
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


def render(
    name: str, overrides: Mapping[str, str] | None = None, **values: object
) -> str:
    """The template ``name`` (a channel's override first) filled with ``values``."""
    template = (overrides or {}).get(name) or DEFAULT_MESSAGES[name]
    if "status" in values and "status_label" not in values:
        values["status_label"] = STATUS_LABELS.get(
            str(values["status"]), values["status"]
        )
    if "note" in values and "note_block" not in values:
        note = values["note"]
        values["note_block"] = f"\n\nCatatan: {note}" if note else ""
    return template.format(**values)
