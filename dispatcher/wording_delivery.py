"""Why a message to a citizen did not go, in the Indonesian staff read.

The WhatsApp, Facebook/Instagram and web-form channels raise errors in
English with Meta's error code ("WhatsApp: Graph API error 131026: Message
Undeliverable"); the outbox stores them as they are, for logs and the CLI.
The case page and ``/kanal`` read them through ``dispatcher.wording``,
which takes these rules: what happened and what staff can do, with Meta's
code kept in brackets for whoever asks Meta about it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# Meta's codes (WhatsApp Cloud API and Graph API error references) in what
# they mean for the reporter's message
WHATSAPP_CODES: dict[int, str] = {
    131026: "nomor ini tidak dapat menerima pesan (tidak terdaftar di WhatsApp "
    "atau aplikasinya perlu diperbarui)",
    131030: "nomor pelapor belum terdaftar sebagai penerima uji di akun WhatsApp "
    "Business",
    131047: "sudah lebih dari 24 jam sejak pesan terakhir pelapor, sehingga "
    "hanya templat yang disetujui yang boleh dikirim",
    131049: "Meta tidak meneruskan pesan ini untuk menjaga kenyamanan penerima",
    131050: "pelapor telah menolak menerima pesan dari nomor ini",
    131051: "jenis pesan ini tidak didukung WhatsApp",
    131052: "berkas media tidak dapat diunduh oleh WhatsApp",
    131053: "berkas media tidak dapat diunggah ke WhatsApp",
    131056: "terlalu banyak pesan ke nomor yang sama dalam waktu singkat",
    130429: "batas kecepatan pengiriman nomor WhatsApp Business terlampaui",
    131048: "pengiriman dibatasi Meta karena banyak pesan ditandai sebagai spam",
    131031: "akun WhatsApp Business terkunci",
    131042: "ada masalah pembayaran pada akun WhatsApp Business",
    131000: "terjadi kesalahan di server WhatsApp",
    131016: "layanan WhatsApp sedang tidak tersedia",
    132000: "jumlah isian templat tidak sesuai dengan templat yang disetujui",
    132001: "templat belum disetujui atau namanya/bahasanya tidak ditemukan",
    132015: "templat sedang dijeda oleh Meta karena kualitasnya rendah",
    132016: "templat dinonaktifkan oleh Meta",
    133010: "nomor WhatsApp Business belum terdaftar",
    368: "akun diblokir sementara oleh Meta karena pelanggaran kebijakan",
    190: "token akses ditolak atau kedaluwarsa",
}

META_CODES: dict[int, str] = {
    10: "di luar jangka waktu balasan yang diizinkan Meta",
    200: "izin aplikasi Meta yang diperlukan belum diberikan",
    551: "pengguna ini sedang tidak dapat menerima pesan",
    100: "komentar atau unggahan sudah tidak ada atau tidak dapat dibalas",
    190: "token akses ditolak atau kedaluwarsa",
}

_SERVICES = {"WhatsApp": "WhatsApp", "Meta": "Meta (Facebook/Instagram)"}

_TEMPLATE_KINDS = {"acknowledgement": "tanda terima", "status_update": "kabar status"}


def _meaning(service: str, code: int) -> str:
    table = WHATSAPP_CODES if service == "WhatsApp" else META_CODES
    return table.get(code, "")


def _refused(service: str, code: str, message: str) -> str:
    """A Graph API refusal: its meaning when the code is known."""
    meaning = _meaning(service, int(code))
    shown = _SERVICES.get(service, service)
    if meaning:
        return f"{shown} menolak permintaan: {meaning} (kode {code})"
    return f"{shown} menolak permintaan (kode {code}: {message})"


def _codes(codes: str) -> str:
    """WhatsApp's failed status: each known code's meaning."""
    numbers = [c.strip() for c in codes.split(",") if c.strip().isdigit()]
    meanings = [WHATSAPP_CODES[int(c)] for c in numbers if int(c) in WHATSAPP_CODES]
    label = ", ".join(numbers) or "tanpa kode"
    if meanings:
        return "; ".join(meanings) + f" (kode {label})"
    return f"alasan tidak disebutkan (kode {label})"


def _template_kind(kind: str) -> str:
    return _TEMPLATE_KINDS.get(kind, kind)


RULES: list[Rule] = [
    # a reply WhatsApp accepted, then reported failed (its delivery status)
    (
        re.compile(
            r"WhatsApp menolak pesan \(kode ([^)]*)\)"
            r"(; jendela 24 jam tertutup, dikirim ulang dengan templat)?"
        ),
        lambda m: (
            f"WhatsApp tidak mengantarkan pesan: {_codes(m[1])}"
            + ("; pesan dikirim ulang sebagai templat" if m[2] else "")
        ),
    ),
    (
        re.compile(r"ditolak oleh layanan pesan"),
        lambda m: "layanan pesan tidak mengantarkan pesan (alasan tidak disebutkan)",
    ),
    (
        re.compile(r"(WhatsApp|Meta) rate limit: .*", re.S),
        lambda m: (
            f"{_SERVICES[m[1]]} meminta pengiriman diperlambat (batas kecepatan); "
            "pesan dikirim ulang otomatis"
        ),
    ),
    # a reply refused for the token (tried again) ...
    (
        re.compile(r"(WhatsApp|Meta) rejected the (?:Page )?access token"),
        lambda m: (
            f"{_SERVICES[m[1]]} menolak token akses (tidak sah atau kedaluwarsa); "
            "perbarui token di konfigurasi kanal. Pesan dikirim ulang otomatis"
        ),
    ),
    # ... and a channel stopped for it (channels.meta_graph.channel_error)
    (
        re.compile(r"(WhatsApp|Meta) rejected the access token \(.*\)", re.S),
        lambda m: (
            f"{_SERVICES[m[1]]} menolak token akses (tidak sah atau kedaluwarsa); "
            "kanal dihentikan sampai token di konfigurasi diperbarui"
        ),
    ),
    (
        re.compile(r"Meta refused a permission(?: the channel needs)?:? \(?.*", re.S),
        lambda m: (
            "Meta (Facebook/Instagram) menolak karena izin aplikasi yang diperlukan "
            "belum diberikan; lihat docs/meta.md"
        ),
    ),
    (
        re.compile(r"(WhatsApp|Meta): Graph API unreachable: .*", re.S),
        lambda m: (
            f"server {_SERVICES[m[1]]} tidak dapat dihubungi (gangguan jaringan); "
            "dicoba lagi otomatis"
        ),
    ),
    (
        re.compile(r"(WhatsApp|Meta): media download answered (\d+)"),
        lambda m: (
            f"berkas media tidak dapat diunduh dari server {_SERVICES[m[1]]} "
            f"(HTTP {m[2]}); dicoba lagi otomatis"
        ),
    ),
    (
        re.compile(r"(WhatsApp|Meta): Graph API error (\d+): (.*)", re.S),
        lambda m: _refused(m[1], m[2], m[3]),
    ),
    (
        re.compile(r"no WhatsApp recipient"),
        lambda m: "nomor atau akun WhatsApp pelapor tidak diketahui",
    ),
    (
        re.compile(
            r"the citizen's last WhatsApp message is over 24 hours old and "
            r"no (\w+) template is configured"
        ),
        lambda m: (
            "pesan terakhir pelapor sudah lebih dari 24 jam yang lalu dan templat "
            f"{_template_kind(m[1])} belum diatur untuk kanal WhatsApp: pesan "
            "tidak dapat dikirim"
        ),
    ),
    (
        re.compile(r"WhatsApp channel (\S+): no (\w+) template is configured"),
        lambda m: (
            f"templat {_template_kind(m[2])} belum diatur untuk kanal WhatsApp "
            f"{m[1]}: pesan tidak dapat dikirim"
        ),
    ),
    # Facebook and Instagram direct messages (channels/meta/channel.py)
    (
        re.compile(
            r"the citizen's last message is over 24 hours old and "
            r"human_agent_tag is off"
        ),
        lambda m: (
            "pesan terakhir pelapor sudah lebih dari 24 jam yang lalu dan tanda "
            "HUMAN_AGENT tidak diaktifkan: Meta tidak mengizinkan balasan; hubungi "
            "pelapor langsung"
        ),
    ),
    (
        re.compile(r"the citizen's last message is over 7 days old"),
        lambda m: (
            "pesan terakhir pelapor sudah lebih dari 7 hari yang lalu: Meta tidak "
            "lagi mengizinkan balasan; hubungi pelapor langsung"
        ),
    ),
    (
        re.compile(r"a comment's author is answered once, in triage; .*", re.S),
        lambda m: (
            "penulis komentar hanya dibalas sekali, saat pemilahan; kabar "
            "berikutnya tidak dikirim di bawah komentar publik"
        ),
    ),
    # the web form (channels/webform/channel.py)
    (
        re.compile(r"web form (\S+) has no smtp: block for e-mail replies"),
        lambda m: (
            f"formulir web {m[1]} belum memiliki pengaturan SMTP: email ke "
            "pelapor tidak dapat dikirim"
        ),
    ),
    (
        re.compile(r"web form (\S+): its whatsapp_channel .*", re.S),
        lambda m: (
            f"kanal WhatsApp untuk formulir web {m[1]} tidak berjalan atau belum "
            "diatur: pesan WhatsApp ke pelapor tidak dapat dikirim"
        ),
    ),
    (
        re.compile(
            r"only the acknowledgement and status updates reach a WhatsApp "
            r"number left on the web form"
        ),
        lambda m: (
            "nomor WhatsApp dari formulir web hanya dapat menerima tanda terima "
            "dan kabar status (templat); pesan lain tidak dapat dikirim"
        ),
    ),
    # the outbox itself (dispatcher/worker.py, dispatcher/outbox/drain_load.py)
    (
        re.compile(r"channel '([^']*)' cannot send replies"),
        lambda m: f"kanal {m[1]} tidak dapat mengirim balasan ke pelapor",
    ),
    (
        re.compile(r"not sent again: (\d+) earlier sends were cut off .*", re.S),
        lambda m: (
            f"tidak dikirim lagi: {m[1]} pengiriman sebelumnya terputus sebelum "
            "hasilnya tercatat (pesan kemungkinan besar sudah diterima pelapor)"
        ),
    ),
]
