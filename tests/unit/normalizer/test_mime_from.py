"""The sender of a plain "Name <address>" is read as the header registry
reads it; anything less plain goes to the registry itself."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer.mime import _SIMPLE_FROM, _from
from normalizer.text import clean_text


def message(value: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.default)
    msg.set_raw("From", value)
    return msg


def by_registry(value: str) -> tuple[str | None, str | None]:
    first = message(value)["From"].addresses[0]
    return clean_text(first.display_name) or None, first.addr_spec.lower()


WORD = st.text("AbZz09'.-_", min_size=1, max_size=6)
LOCAL = st.text("aZ09._+-", min_size=1, max_size=8)
DOMAIN = st.text("az09.-", min_size=1, max_size=10)
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@settings(max_examples=600)
@given(
    words=st.lists(WORD, max_size=3),
    gaps=st.lists(SPACE, min_size=4, max_size=4),
    local=LOCAL,
    domain=DOMAIN,
    angled=st.booleans(),
)
def test_a_plain_sender_reads_as_the_registry_reads_it(
    words: list[str], gaps: list[str], local: str, domain: str, angled: bool
) -> None:
    address = f"{local}@{domain}"
    if angled:
        value = f"{gaps[0]}{gaps[1].join(words)}{gaps[2]}<{address}>{gaps[3]}"
    else:
        value = f"{gaps[0]}{address}{gaps[3]}"
    if _SIMPLE_FROM.fullmatch(value.strip()):
        assert _from(message(value)) == by_registry(value)


def test_the_usual_senders_take_the_plain_path() -> None:
    for value in ("Warga 12 <Warga12@Example.ID>", "budi.s+lapor@mail.example.id"):
        assert _SIMPLE_FROM.fullmatch(value)
    assert _from(message("Warga 12 <Warga12@Example.ID>")) == (
        "Warga 12",
        "warga12@example.id",
    )
    assert _from(message("budi@example.id")) == (None, "budi@example.id")


def test_anything_else_is_left_to_the_registry() -> None:
    for value in (
        '"Budi, S.Kom" <budi@example.id>',
        "=?utf-8?q?B=C3=BCdi?= <budi@example.id>",
        "Budi <budi@example.id>, Ani <ani@example.id>",
        "budi@example.id (Budi)",
    ):
        assert not _SIMPLE_FROM.fullmatch(value)
    assert _from(message('"Budi, S.Kom" <budi@example.id>')) == (
        "Budi, S.Kom",
        "budi@example.id",
    )
