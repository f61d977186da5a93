"""Loop protection: auto-replies, bounces and our own mail are not cases."""

from __future__ import annotations

import pytest

from contracts.mail_ids import loop_id_for
from normalizer.loops import bounced_addresses, ignore_reason
from normalizer.mime import parse_mail

OWN = "dengar.kab.example.go.id"


def reason(headers: str, body: str = "Isi pesan.\r\n") -> str | None:
    base = "From: Budi <budi@example.id>\r\nTo: pengaduan@kab.example.go.id\r\n"
    raw = (base + headers + "\r\n" + body).encode()
    if "Subject:" not in headers:
        raw = (base + "Subject: Jalan rusak\r\n" + headers + "\r\n" + body).encode()
    parsed = parse_mail(raw)
    return ignore_reason(
        parsed.headers,
        parsed.from_address,
        parsed.subject,
        own_domains=(OWN,),
        own_loop_ids=(loop_id_for(OWN),),
    )


def test_an_ordinary_complaint_is_not_ignored():
    assert reason("Message-ID: <a1@example.id>\r\n") is None


def test_a_reply_to_our_ack_is_not_ignored():
    headers = f"In-Reply-To: <x@{OWN}>\r\nSubject: Re: [ADU-7K3M-9Q2D] Jalan\r\n"
    assert reason(headers) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated; owner-email=x@y\r\n", "Auto-Submitted"),
        ("X-Autoreply: yes\r\n", "X-Autoreply"),
        ("X-Autorespond: on\r\n", "X-Autorespond"),
        ("Precedence: bulk\r\n", "Precedence: bulk"),
        ("Precedence: junk\r\n", "Precedence: junk"),
        ("List-Id: <warga.lists.example.id>\r\n", "mailing-list"),
        ("List-Unsubscribe: <mailto:u@example.id>\r\n", "mailing-list"),
        (f"X-Loop: {loop_id_for(OWN)}\r\n", "X-Loop"),
        (f"Message-ID: <abc@{OWN}>\r\n", "Message-ID domain"),
        ("Return-Path: <>\r\n", "empty Return-Path"),
        ("X-Failed-Recipients: budi@example.id\r\n", "X-Failed-Recipients"),
        ("Subject: Out of Office: Jalan rusak\r\n", "out-of-office"),
        ("Subject: Automatic reply: [ADU-7K3M-9Q2D]\r\n", "out-of-office"),
        ("Subject: Balasan Otomatis: pengaduan\r\n", "out-of-office"),
        ("Subject: Sedang cuti sampai 5 Desember\r\n", "out-of-office"),
        ("Subject: Undeliverable: [ADU-7K3M-9Q2D]\r\n", "bounce subject"),
    ],
)
def test_automatic_mail_is_ignored_with_the_reason(headers, expected):
    found = reason(headers)
    assert found is not None
    assert expected in found


def test_auto_submitted_no_is_a_person():
    assert reason("Auto-Submitted: no\r\n") is None


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example.id",
        "postmaster@example.id",
        "noreply@bank.example.id",
        "no-reply@example.id",
        "notifications-noreply@example.id",
        "do-not-reply@example.id",
        "bounces+123@example.id",
    ],
)
def test_robot_senders_are_ignored(sender):
    raw = f"From: {sender}\r\nSubject: Info\r\n\r\nhalo\r\n".encode()
    parsed = parse_mail(raw)
    found = ignore_reason(parsed.headers, parsed.from_address, parsed.subject)
    assert found is not None
    assert "automated sender" in found


@pytest.mark.parametrize(
    "sender", ["noreplyanto@example.id", "budi.postmas@example.id"]
)
def test_people_with_similar_names_are_not_robots(sender):
    raw = f"From: {sender}\r\nSubject: Jalan\r\n\r\nhalo\r\n".encode()
    parsed = parse_mail(raw)
    assert ignore_reason(parsed.headers, parsed.from_address, parsed.subject) is None


def test_another_installation_x_loop_is_not_ours():
    assert reason("X-Loop: dengar@other.example.go.id\r\n") is None


BOUNCE = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.id>\r\n"
    "To: pengaduan@kab.example.go.id\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
    "\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
    "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.example.id\r\n\r\n"
    "Final-Recipient: rfc822; hilang@example.id\r\nAction: failed\r\n"
    "Status: 5.1.1\r\n\r\n"
    "Final-Recipient: rfc822; lambat@example.id\r\nAction: delayed\r\n"
    "Status: 4.4.1\r\n"
    "--b--\r\n"
)


def test_bounce_is_ignored_and_names_the_failed_address():
    parsed = parse_mail(BOUNCE.encode())
    found = ignore_reason(parsed.headers, parsed.from_address, parsed.subject)
    assert found is not None
    assert "multipart/report" in found
    assert bounced_addresses(parsed.message) == ("hilang@example.id",)


def test_ordinary_mail_reports_no_bounced_address():
    parsed = parse_mail(b"From: a@b.id\r\nSubject: x\r\n\r\nhalo\r\n")
    assert bounced_addresses(parsed.message) == ()
