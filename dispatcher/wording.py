"""Stored codes and reasons, in the Indonesian staff and agencies read.

The pipeline, dedupe, routing and the state machine store short English
codes and reasons ("routing.rules[0]: category jalan", "delivered to PUPR"):
logs and the CLI show them as they are. Whatever a person reads renders them
here, at the moment it is read or sent: the dashboard and the agency API
(``dengar/web/wording.py``) and the agency message every sink carries
(``routing_reason_text``, ``status_text`` in ``dispatcher/message.py``), so
rows stored before this module read well too. A text that matches no known
shape (a note typed by a person) is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dispatcher.wording_delivery import RULES as DELIVERY_RULES

# the names of case statuses as staff and agencies read them (a citizen reads
# dispatcher/notify.py's gentler ones)
STATUS_LABELS: dict[str, str] = {
    "triage": "triase",
    "dismissed": "diabaikan",
    "received": "diterima",
    "verified": "terverifikasi",
    "dispatched": "diteruskan",
    "in_progress": "diproses",
    "resolved": "selesai",
    "closed": "ditutup",
    "rejected": "ditolak",
    "rerouted": "bukan wewenang",
}


def status_label(code: str) -> str:
    """The Indonesian name of a case status code ("verified" → "terverifikasi")."""
    return STATUS_LABELS.get(code, code)


def _parts(text: str) -> str:
    """The "; "-separated conditions of a routing or duplicate reason."""
    words = {
        "keywords": "kata kunci",
        "category": "kategori",
        "region": "wilayah",
    }
    out = []
    for part in text.split("; "):
        head, _, rest = part.partition(" ")
        out.append(f"{words[head]} {rest}" if head in words else part)
    return "; ".join(out)


def _statuses(text: str) -> str:
    return ", ".join(status_label(s.strip()) for s in text.split(","))


def _model(version: str | None) -> str:
    return f"model rute {version}" if version else "model rute"


def _percent(share: str) -> str:
    """A confidence 0-1 as a whole percentage ("0.87" → "87%")."""
    return f"{round(float(share) * 100)}%"


def _suggested(text: str) -> str:
    """The model's "AGENCY 0.47, AGENCY 0.31" with percentages."""
    out = []
    for part in text.split(", "):
        code, _, share = part.rpartition(" ")
        out.append(f"{code} {_percent(share)}" if code else part)
    return ", ".join(out)


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# a comment deleted or hidden where it was posted, as the case page says it
_REMOVED_AT_SOURCE = {
    "deleted": " dihapus di media sosial (oleh penulis atau pengelola halaman); "
    "isinya tetap tersimpan",
    "hidden": " disembunyikan di media sosial; isinya tetap tersimpan",
    "shown again": " ditampilkan kembali di media sosial",
}

# Each shape that code writes, anchored; the first that matches wins.
_RULES: list[Rule] = [
    (
        re.compile(r"routing\.rules\[(\d+)\]: (.*)", re.S),
        lambda m: f"aturan rute ke-{int(m[1]) + 1}: {_parts(m[2])}",
    ),
    (
        re.compile(r"no rule matched: default agency"),
        lambda m: "tidak ada aturan rute yang cocok: instansi bawaan",
    ),
    (
        re.compile(r"no rule matched: triage"),
        lambda m: "tidak ada aturan rute yang cocok: menunggu pemilahan",
    ),
    (
        re.compile(r"model(?: (v\d+))?: (\S+) at confidence ([\d.]+) \(>= ([\d.]+)\)"),
        lambda m: (
            f"{_model(m[1])}: {m[2]} dengan keyakinan {_percent(m[3])} "
            f"(ambang {_percent(m[4])})"
        ),
    ),
    (
        re.compile(r"model(?: (v\d+))? below ([\d.]+): triage; suggestions (.*)", re.S),
        lambda m: (
            f"{_model(m[1])} kurang yakin (di bawah {_percent(m[2])}): "
            f"menunggu pemilahan; saran {_suggested(m[3])}"
        ),
    ),
    (
        re.compile(r"set by (\S+) at triage \(was (.*)\)", re.S),
        lambda m: f"ditetapkan oleh {m[1]} saat pemilahan (sebelumnya {m[2]})",
    ),
    (
        re.compile(r"accepted at triage for (.*)", re.S),
        lambda m: f"diterima saat pemilahan dan diteruskan ke {m[1]}",
    ),
    (
        re.compile(
            r"similar text: \S+ ([\d.]+) >= ([\d.]+) with (\S+), sharing (.*?)"
            r"((?:; (?:category|region) .*)?)",
            re.S,
        ),
        lambda m: (
            f"teks mirip dengan {m[3]}: skor {m[1]} (ambang {m[2]}), "
            f"kata yang sama: {m[4]}{_parts(m[5])}"
        ),
    ),
    (
        re.compile(
            r"same reporter within ([\d.]+) h: \S+ ([\d.]+) >= ([\d.]+) with (\S+)"
        ),
        lambda m: (
            f"pelapor yang sama dalam {m[1]} jam: skor {m[2]} (ambang {m[3]}) "
            f"dengan {m[4]}"
        ),
    ),
    (
        re.compile(
            r"same problem at the same place in other words: paraphrase "
            r"([\d.]+) >= ([\d.]+) with (\S+)(?: \(.*\))?",
            re.S,
        ),
        lambda m: (
            f"masalah yang sama di tempat yang sama dengan kata-kata lain: "
            f"kemiripan {_percent(m[1])} (ambang {_percent(m[2])}) dengan {m[3]}"
        ),
    ),
    (
        re.compile(r"linked by hand by (\S+)(?: to (\S+))?"),
        lambda m: (
            f"ditautkan secara manual oleh {m[1]}" + (f" ke {m[2]}" if m[2] else "")
        ),
    ),
    (
        re.compile(
            r"routed again after the citizen's edit: (\S+) -> (\S+) \((.*)\)", re.S
        ),
        lambda m: (
            f"dialihkan otomatis setelah pelapor mengubah teksnya: dari {m[1]} "
            f"ke {m[2]} ({in_indonesian(m[3])})"
        ),
    ),
    (
        re.compile(r"delivered to (.*)", re.S),
        lambda m: f"terkirim ke {m[1]}",
    ),
    (
        re.compile(r"confidentiality (\S+) -> (\S+) \((.*)\)", re.S),
        lambda m: f"kerahasiaan diubah dari {m[1]} menjadi {m[2]} (melalui {m[3]})",
    ),
    (
        re.compile(r"text edited; previous version: (.*)", re.S),
        lambda m: f"teks diubah pelapor; versi sebelumnya: {m[1]}",
    ),
    # a comment deleted or hidden where it was posted (dengar/case_edits.py)
    (
        re.compile(
            r"(the complaint|a follow-up): (deleted|hidden|shown again) at the source.*"
        ),
        lambda m: (
            ("pengaduan" if m[1] == "the complaint" else "informasi tambahan")
            + _REMOVED_AT_SOURCE[m[2]]
        ),
    ),
    # a refused answer to a social comment (dengar/comment_replies.py)
    (
        re.compile(
            r"cannot answer (\S+) with a (private|public) reply: it is not a .*"
        ),
        lambda m: (
            f"{m[1]} bukan komentar Facebook atau Instagram: tidak ada balasan komentar"
        ),
    ),
    (
        re.compile(
            r"cannot answer (\S+) with a (private|public) reply: the Instagram "
            r"account is only tagged .*"
        ),
        lambda m: (
            f"{m[1]} tidak dapat dibalas lewat Instagram: akun hanya ditandai di "
            "foto itu (Meta tidak mengizinkan komentar di sana maupun pesan "
            "pribadi); hubungi pelapor langsung lewat aplikasi Instagram"
        ),
    ),
    # a reply Meta refused on Instagram media (channels/meta/channel.py)
    (
        re.compile(
            r"Meta refused a comment on Instagram media (\S+) \(code (\d+)\).*",
            re.S,
        ),
        lambda m: (
            f"Meta menolak balasan publik pada unggahan Instagram {m[1]} "
            f"(kode {m[2]}): akun kemungkinan hanya ditandai di foto itu, "
            "komentar dimatikan, atau izin komentar belum diberikan. Balasan "
            "tidak dicoba lagi; hubungi pelapor langsung lewat aplikasi Instagram"
        ),
    ),
    (
        re.compile(r"Instagram media (\S+) only tags the account: .*"),
        lambda m: (
            f"unggahan Instagram {m[1]} hanya menandai akun: Meta tidak "
            "mengizinkan balasan di sana; hubungi pelapor langsung lewat "
            "aplikasi Instagram"
        ),
    ),
    (
        re.compile(r"Meta allows no private reply to Instagram (\S+): .*"),
        lambda m: (
            f"Meta tidak mengizinkan pesan pribadi untuk {m[1]}: itu sebutan "
            "atau tanda akun, bukan komentar pada unggahan akun sendiri; "
            "hubungi pelapor langsung lewat aplikasi Instagram"
        ),
    ),
    (
        re.compile(r"cannot answer (\S+) with a (private|public) reply: only .*"),
        lambda m: (
            f"balasan pribadi untuk {m[1]} tidak dapat dikirim (hanya dalam 7 hari "
            "sejak komentar dan tidak untuk sebutan akun); pilih balasan publik"
        ),
    ),
    # the state machine's refusals (dispatcher/status.py)
    (
        re.compile(r"a (\w+) case cannot become (\w+) \(allowed: (.*)\)"),
        lambda m: (
            f"kasus berstatus {status_label(m[1])} tidak dapat menjadi "
            f"{status_label(m[2])} (yang dapat dipilih: {_statuses(m[3])})"
        ),
    ),
    (
        re.compile(r"the case is already (\w+)"),
        lambda m: f"kasus sudah berstatus {status_label(m[1])}",
    ),
    (
        re.compile(r"the case is (\w+): that is final"),
        lambda m: f"kasus berstatus {status_label(m[1])} dan tidak dapat diubah lagi",
    ),
    (
        re.compile(r"(\w+) needs a note saying why"),
        lambda m: f"status {status_label(m[1])} memerlukan alasan",
    ),
    (
        re.compile(r"the case has no agency: dispatched needs one"),
        lambda m: "kasus belum memiliki instansi: pilih instansi sebelum diteruskan",
    ),
    (
        re.compile(r"(\w+) needs a message to the reporter"),
        lambda m: f"status {status_label(m[1])} memerlukan pesan untuk pelapor",
    ),
    (
        re.compile(r"the case has an unknown status '?(.*?)'?"),
        lambda m: f"status kasus tidak dikenal: {m[1]}",
    ),
    (
        re.compile(r"only a stored case has a status \(not a follow-up\)"),
        lambda m: "hanya kasus yang memiliki status (bukan informasi tambahan)",
    ),
    # why a message to a citizen did not go (dispatcher/wording_delivery.py)
    *DELIVERY_RULES,
]


def in_indonesian(text: str | None) -> str:
    """``text`` as staff and agencies read it; unknown shapes unchanged."""
    if not text:
        return ""
    for pattern, render in _RULES:
        match = pattern.fullmatch(text)
        if match:
            return render(match)
    return text
