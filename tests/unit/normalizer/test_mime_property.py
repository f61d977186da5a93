"""Property: no input makes parse_mail (or the loop check) raise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.mail_ids import mail_external_id
from normalizer.loops import bounced_addresses, ignore_reason
from normalizer.mime import parse_mail
from normalizer.quotes import strip_quotes
from tests.conftest import FIXTURES

DATA = FIXTURES / "email"
SEEDS = [p.read_bytes() for p in sorted(DATA.rglob("*.eml"))[:40]] or [
    b"From: a@b.id\r\nSubject: x\r\n\r\nhalo\r\n"
]

HEADER_BITS = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=",
        b"Content-Type: text/plain; charset=",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"=?utf-8?B?",
        b"=?x-bogus?Q?=FF=",
        b"filename*0*=utf-8''%FF%FE",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"\r\n--",
        b"\xff\xfe\x00",
        b"From: <<@>>\r\n",
        b"Message-ID: <",
    ]
)


def check(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert isinstance(parsed.text, str)
    assert isinstance(parsed.subject, str)
    ignore_reason(parsed.headers, parsed.from_address, parsed.subject)
    bounced_addresses(parsed.message)
    strip_quotes(parsed.text)
    assert mail_external_id(raw)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(raw):
    check(raw)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=20000),
            st.one_of(HEADER_BITS, st.binary(max_size=20)),
        ),
        max_size=8,
    ),
    st.integers(min_value=0, max_value=20000),
)
def test_mutated_real_mail_never_raises(seed, edits, cut):
    raw = bytearray(seed)
    for position, chunk in edits:
        position = position % (len(raw) + 1)
        raw[position:position] = chunk
    check(bytes(raw[: max(cut, len(raw) // 2)]))
