"""parse_mail on mail written from the RFCs and from what phones really send."""

from __future__ import annotations

import base64

from contracts.mail_ids import mail_external_id
from normalizer.mime import parse_mail

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def mail(headers: str, body: str) -> bytes:
    return (headers.replace("\n", "\r\n") + "\r\n" + body.replace("\n", "\r\n")).encode(
        "latin-1"
    )


def test_rfc2047_subject_and_name_are_decoded():
    raw = mail(
        "From: =?UTF-8?B?QnVkaSBTYW50b3Nv?= <Budi@Example.ID>\n"  # Budi Santoso
        "Subject: =?UTF-8?Q?Jalan_rusak_di_Desa_Suk=C3=A1maju?=\n",
        "halo\n",
    )
    parsed = parse_mail(raw)
    assert parsed.subject == "Jalan rusak di Desa Sukámaju"
    assert parsed.from_name == "Budi Santoso"
    assert parsed.from_address == "budi@example.id"


def test_raw_utf8_subject_from_a_phone_is_read_as_utf8():
    raw = (
        b"From: a@b.id\r\n"
        b"Subject: Jalan rusak \xe2\x80\x93 Sukam\xc3\xa1ju\r\n\r\nx\r\n"
    )
    assert parse_mail(raw).subject == "Jalan rusak \u2013 Sukamáju"


def test_body_labelled_utf8_but_written_in_cp1252_is_not_lost():
    raw = mail(
        "From: a@b.id\nSubject: x\nContent-Type: text/plain; charset=utf-8\n",
        "Caf\xe9 \x93tutup\x94\n",
    )
    parsed = parse_mail(raw)
    assert parsed.text.strip() == "Café \u201ctutup\u201d"
    assert any("charset" in d for d in parsed.defects)


def test_utf8_body_labelled_latin1_is_read_as_utf8():
    raw = (
        b"From: a@b.id\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"\r\nSukam\xc3\xa1ju\r\n"
    )
    assert parse_mail(raw).text.strip() == "Sukamáju"


def test_unknown_charset_falls_back_without_error():
    raw = mail(
        "From: a@b.id\nSubject: x\nContent-Type: text/plain; charset=x-bogus-42\n",
        "Jalan rusak\n",
    )
    assert parse_mail(raw).text.strip() == "Jalan rusak"


def test_quoted_printable_and_base64_bodies():
    qp = mail(
        "From: a@b.id\nSubject: x\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        "Jalan di depan pasar Suk=C3=A1maju rusak parah, mohon=\n segera diperbaiki.\n",
    )
    assert parse_mail(qp).text.strip() == (
        "Jalan di depan pasar Sukámaju rusak parah, mohon segera diperbaiki."
    )
    b64 = mail(
        "From: a@b.id\nSubject: x\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n",
        base64.b64encode(b"Lampu mati sejak Senin.").decode() + "\n",
    )
    assert parse_mail(b64).text.strip() == "Lampu mati sejak Senin."


ALTERNATIVE = """From: a@b.id
Subject: x
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

{plain}
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>Versi <b>HTML</b> <a href="https://peta.example.id/x">peta</a></p>
<img src="cid:foto1">
--rel
Content-Type: image/png
Content-ID: <foto1>
Content-Transfer-Encoding: base64

{png}
--rel--
--alt--
"""


def alternative(plain: str) -> bytes:
    text = ALTERNATIVE.format(plain=plain, png=base64.b64encode(PNG).decode())
    headers, body = text.split("\n\n", 1)
    return mail(headers + "\n", body)


def test_alternative_prefers_plain_but_keeps_photo_only_in_html():
    raw = alternative("Versi teks.")
    parsed = parse_mail(raw)
    assert parsed.text.strip() == "Versi teks."
    [photo] = parsed.attachments
    assert photo.data == PNG
    assert photo.inline


def test_empty_plain_alternative_falls_back_to_html_with_links():
    raw = alternative("")
    text = parse_mail(raw).text
    assert "Versi HTML peta (https://peta.example.id/x)" in text


def test_html_only_mail_becomes_text():
    raw = mail(
        "From: a@b.id\nSubject: x\nContent-Type: text/html; charset=utf-8\n",
        "<html><head><style>p{color:red}</style></head><body><p>Pohon tumbang"
        "</p><p>di Jl. Merdeka</p></body></html>\n",
    )
    assert parse_mail(raw).text == "Pohon tumbang\n\ndi Jl. Merdeka"


def test_forwarded_message_keeps_its_text_headers_and_attachments():
    inner = (
        "From: Ani <ani@example.id>\nSubject: Jembatan retak\n"
        "Date: Mon, 2 Dec 2026 09:00:00 +0700\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="in"\n\n--in\n'
        "Content-Type: text/plain\n\nJembatan di desa retak.\n--in\n"
        'Content-Type: image/jpeg; name="retak.jpg"\n'
        "Content-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="retak.jpg"\n\n'
        + base64.b64encode(b"JPEGDATA").decode()
        + "\n--in--\n"
    )
    raw = mail(
        "From: Budi <budi@example.id>\nSubject: Fwd: Jembatan retak\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="out"\n',
        "--out\nContent-Type: text/plain\n\nTolong ditindaklanjuti.\n--out\n"
        "Content-Type: message/rfc822\n\n" + inner + "--out--\n",
    )
    parsed = parse_mail(raw)
    assert parsed.text.startswith("Tolong ditindaklanjuti.")
    assert "Pesan terusan" in parsed.text
    assert "Dari: Ani <ani@example.id>" in parsed.text
    assert "Jembatan di desa retak." in parsed.text
    assert [(a.filename, a.data) for a in parsed.attachments] == [
        ("retak.jpg", b"JPEGDATA")
    ]
    assert parsed.from_address == "budi@example.id"


def test_rfc2231_filename_winmail_dat_and_inline_vs_attachment():
    raw = mail(
        "From: a@b.id\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="m"\n',
        "--m\nContent-Type: text/plain\n\nLihat lampiran.\n"
        "--m\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment; "
        "filename*=UTF-8''Surat%20Keluhan%20%C3%A1.pdf\n"
        "Content-Transfer-Encoding: base64\n\n"
        + base64.b64encode(b"%PDF-1.4").decode()
        + "\n"
        '--m\nContent-Type: application/ms-tnef; name="winmail.dat"\n'
        "Content-Transfer-Encoding: base64\n\n"
        + base64.b64encode(b"TNEF").decode()
        + "\n"
        "--m\nContent-Type: image/png\nContent-Disposition: inline\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.b64encode(PNG).decode() + "\n"
        '--m\nContent-Type: text/plain; name="../../etc/catatan.txt"\n'
        'Content-Disposition: attachment; filename="../../etc/catatan.txt"\n\n'
        "catatan\n--m--\n",
    )
    parsed = parse_mail(raw)
    assert parsed.text.strip() == "Lihat lampiran."
    names = [(a.filename, a.content_type, a.inline) for a in parsed.attachments]
    assert names == [
        ("Surat Keluhan á.pdf", "application/pdf", False),
        ("winmail.dat", "application/ms-tnef", False),
        ("lampiran-3.png", "image/png", True),
        ("catatan.txt", "text/plain", False),
    ]
    assert parsed.attachments[1].data == b"TNEF"


def test_threading_headers_newest_first():
    raw = mail(
        "From: a@b.id\nSubject: Re: x\nMessage-ID: <m3@b.id>\n"
        "In-Reply-To: <m2@kab.id>\n"
        "References: <m1@b.id> <m2@kab.id>\n",
        "ya\n",
    )
    parsed = parse_mail(raw)
    assert parsed.message_id == "<m3@b.id>"
    assert parsed.references == ("<m2@kab.id>", "<m1@b.id>")


def test_sender_without_address_keeps_the_words():
    parsed = parse_mail(mail("From: Warga Desa\nSubject: x\n", "halo\n"))
    assert parsed.from_address is None
    assert parsed.from_name == "Warga Desa"


def test_external_id_is_stable_and_separates_reused_message_ids():
    a = mail("From: a@b.id\nSubject: satu\nMessage-ID: <same@b.id>\n", "x\n")
    b = mail("From: c@d.id\nSubject: dua\nMessage-ID: <same@b.id>\n", "y\n")
    relayed = b"Received: from mx by mx2\r\n" + a
    assert mail_external_id(a) == mail_external_id(relayed)
    assert mail_external_id(a).startswith("<same@b.id>#")
    assert mail_external_id(a) != mail_external_id(b)
    no_id = mail("From: a@b.id\nSubject: satu\n", "x\n")
    assert mail_external_id(no_id).startswith("sha256:")
    assert mail_external_id(no_id) == mail_external_id(no_id)


def test_one_message_id_with_the_same_headers_but_other_text_is_another_mail():
    headers = (
        "From: a@b.id\nSubject: satu\nDate: Mon, 7 Dec 2026\nMessage-ID: <s@b.id>\n"
    )
    a = mail(headers, "Jalan berlubang.\n")
    b = mail(headers, "Lampu mati.\n")
    assert mail_external_id(a) != mail_external_id(b)
    # the same mail with LF line ends (a Maildir file) keeps its id
    assert mail_external_id(a.replace(b"\r\n", b"\n")) == mail_external_id(a)


def test_truncated_multipart_keeps_what_arrived():
    raw = mail(
        "From: a@b.id\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="m"\n',
        "--m\nContent-Type: text/plain\n\nBagian pertama.\n"
        "--m\nContent-Type: image/png\n"
        "Content-Transfer-Encoding: base64\n\niVBORw0KGgo",
    )
    parsed = parse_mail(raw)
    assert "Bagian pertama." in parsed.text
    assert len(parsed.attachments) == 1
