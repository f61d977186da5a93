"""What staff read of messages to citizens that WhatsApp, Facebook/Instagram
or the web form could not deliver: Indonesian with what to do, Meta's code
in brackets, the English original only in a title attribute."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlmodel import select

from dispatcher.wording import in_indonesian
from storage.tables import ChannelState, ComplaintRow, OutboxRow
from tests.unit.web.conftest import login

# words of the stored English errors and WhatsApp's status codes that must
# not reach the text a person reads
ENGLISH = re.compile(
    r"\b(Graph API|error|rejected|refused|token_rejected|rate limit|failed|"
    r"Undeliverable|template is configured|citizen|cannot|sent|delivered|read|"
    r"maildir)\b"
)


def visible(html: str) -> str:
    """The page's text as read: no tags, so no title attributes either."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (
            "WhatsApp: Graph API error 131026: Message Undeliverable",
            "WhatsApp menolak permintaan: nomor ini tidak dapat menerima pesan "
            "(tidak terdaftar di WhatsApp atau aplikasinya perlu diperbarui) "
            "(kode 131026)",
        ),
        (
            "WhatsApp menolak pesan (kode 131047); jendela 24 jam tertutup, "
            "dikirim ulang dengan templat",
            "WhatsApp tidak mengantarkan pesan: sudah lebih dari 24 jam sejak "
            "pesan terakhir pelapor, sehingga hanya templat yang disetujui yang "
            "boleh dikirim (kode 131047); pesan dikirim ulang sebagai templat",
        ),
        (
            "WhatsApp menolak pesan (kode 999999)",
            "WhatsApp tidak mengantarkan pesan: alasan tidak disebutkan (kode 999999)",
        ),
        (
            "WhatsApp rate limit: Graph API error 130429: Rate limit hit",
            "WhatsApp meminta pengiriman diperlambat (batas kecepatan); "
            "pesan dikirim ulang otomatis",
        ),
        (
            "WhatsApp rejected the access token",
            "WhatsApp menolak token akses (tidak sah atau kedaluwarsa); perbarui "
            "token di konfigurasi kanal. Pesan dikirim ulang otomatis",
        ),
        (
            "Meta rejected the Page access token",
            "Meta (Facebook/Instagram) menolak token akses (tidak sah atau "
            "kedaluwarsa); perbarui token di konfigurasi kanal. Pesan dikirim "
            "ulang otomatis",
        ),
        (
            "Meta: Graph API error 551: This person isn't available right now",
            "Meta (Facebook/Instagram) menolak permintaan: pengguna ini sedang "
            "tidak dapat menerima pesan (kode 551)",
        ),
        (
            "Meta: Graph API error 4242: Something new",
            "Meta (Facebook/Instagram) menolak permintaan (kode 4242: Something new)",
        ),
        (
            "WhatsApp: Graph API unreachable: ConnectError",
            "server WhatsApp tidak dapat dihubungi (gangguan jaringan); dicoba "
            "lagi otomatis",
        ),
        (
            "the citizen's last WhatsApp message is over 24 hours old and no "
            "status_update template is configured",
            "pesan terakhir pelapor sudah lebih dari 24 jam yang lalu dan templat "
            "kabar status belum diatur untuk kanal WhatsApp: pesan tidak dapat "
            "dikirim",
        ),
        (
            "the citizen's last message is over 7 days old",
            "pesan terakhir pelapor sudah lebih dari 7 hari yang lalu: Meta tidak "
            "lagi mengizinkan balasan; hubungi pelapor langsung",
        ),
        (
            "web form lapor: its whatsapp_channel 'wa' is not running "
            "(disabled?), or none is configured",
            "kanal WhatsApp untuk formulir web lapor tidak berjalan atau belum "
            "diatur: pesan WhatsApp ke pelapor tidak dapat dikirim",
        ),
        (
            "only the acknowledgement and status updates reach a WhatsApp "
            "number left on the web form",
            "nomor WhatsApp dari formulir web hanya dapat menerima tanda terima "
            "dan kabar status (templat); pesan lain tidak dapat dikirim",
        ),
        (
            "channel 'surat' cannot send replies",
            "kanal surat tidak dapat mengirim balasan ke pelapor",
        ),
    ],
)
def test_delivery_errors_read_in_indonesian(stored, shown):
    assert in_indonesian(stored) == shown


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (
            "same problem at the same place in other words: paraphrase 0.83 >= "
            "0.70 with KTB-AAAA-0001 (dengar dedupe explain shows each part)",
            "masalah yang sama di tempat yang sama dengan kata-kata lain: "
            "kemiripan 83% (ambang 70%) dengan KTB-AAAA-0001",
        ),
        (
            "routed again after the citizen's edit: PUPR -> DINKES "
            "(routing.rules[1]: keywords puskesmas)",
            "dialihkan otomatis setelah pelapor mengubah teksnya: dari PUPR ke "
            "DINKES (aturan rute ke-2: kata kunci puskesmas)",
        ),
    ],
)
def test_duplicate_and_edit_history_read_in_indonesian(stored, shown):
    assert in_indonesian(stored) == shown


def _case_id(dengar, number: str) -> int:
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        case_id: int | None = row.id
        assert case_id is not None
        return case_id


def test_case_page_says_what_became_of_each_whatsapp_message(
    client, dengar, users, cases
):
    number = cases["pupr"]
    case_id = _case_id(dengar, number)
    rows = [
        ("read", "delivered", None, None),
        ("sent", "delivered", None, None),
        ("failed", "delivered", "WhatsApp menolak pesan (kode 131026)", None),
        (
            None,
            "skipped",
            "WhatsApp: Graph API error 131026: Message Undeliverable",
            None,
        ),
        (None, "pending", "WhatsApp rate limit: Graph API error 130429: x", None),
    ]
    with dengar.sessions() as session:
        for i, (remote, status, error, _) in enumerate(rows):
            session.add(
                OutboxRow(
                    kind="reply",
                    target="surat",
                    complaint_id=case_id,
                    idempotency_key=f"wa-test-{i}",
                    status=status,
                    remote_status=remote,
                    last_error=error,
                    attempts=1,
                )
            )
        session.commit()
    login(client, "budi")
    page = client.get(f"/kasus/{number}")
    assert page.status_code == 200
    deliveries = page.text.split("Pengiriman</h2>", 1)[1].split("</table>", 1)[0]
    text = visible(deliveries)
    for expected in (
        "terkirim, sudah dibaca pelapor",
        "terkirim, belum sampai di ponsel pelapor",
        "gagal sampai ke pelapor",
        "nomor ini tidak dapat menerima pesan",
        "(kode 131026)",
        "meminta pengiriman diperlambat",
        "email",  # the channel the reply went through, not its name
    ):
        assert expected in text, expected
    assert not ENGLISH.search(text), ENGLISH.search(text)
    # the original stays at hand for staff who ask Meta about it
    assert 'title="WhatsApp: Graph API error 131026: Message Undeliverable"' in (
        deliveries
    )
    assert "melalui" in visible(page.text.split("<h2", 1)[0])


def test_channel_page_reads_channel_kind_and_failure_in_indonesian(
    client, dengar, users, cases
):
    with dengar.sessions() as session:
        session.add(
            ChannelState(
                name="surat",
                last_error="WhatsApp rejected the access token "
                "(Graph API error 190: Error validating access token)",
                consecutive_failures=2,
            )
        )
        session.add(
            OutboxRow(
                kind="reply",
                target="surat",
                complaint_id=_case_id(dengar, cases["pupr"]),
                idempotency_key="wa-kanal-1",
                status="delivered",
                remote_status="delivered",
                attempts=1,
            )
        )
        session.commit()
    login(client, "admin")
    page = client.get("/kanal?status=delivered")
    assert page.status_code == 200
    text = visible(page.text)
    assert "menolak token akses" in text
    assert "kanal dihentikan sampai token di konfigurasi diperbarui" in text
    assert "terkirim, sampai di ponsel pelapor" in text
    # the channel's kind in words, its name as configured
    assert re.search(r"surat\s+email\s", text)
    assert not ENGLISH.search(text), ENGLISH.search(text)
