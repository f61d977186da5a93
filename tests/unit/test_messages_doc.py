"""docs/messages.md lists every template with the text the code really sends."""

from __future__ import annotations

from dengar.chat_commands import MESSAGES
from dengar.messages_doc import DOC, SAMPLE, document, placeholders
from dispatcher.notify import DEFAULT_MESSAGES, excerpt, salutation


def test_the_messages_doc_is_current():
    # regenerate with: python -m dengar.messages_doc
    assert DOC.read_text(encoding="utf-8") == document()


def test_every_template_is_documented_with_all_its_placeholders_filled():
    text = document()
    for key, template in {**DEFAULT_MESSAGES, **MESSAGES}.items():
        assert f"### `{key}`" in text
        # the blocks render() derives from "message"
        for name in set(placeholders(template)) - {"message_block", "note_block"}:
            assert name in SAMPLE, f"{key} uses {{{name}}}: add it to SAMPLE"


def test_salutation_and_excerpt():
    assert salutation("  Siti   Rahmawati ") == "Bapak/Ibu Siti Rahmawati"
    assert salutation(None) == "Bapak/Ibu"
    quoted = excerpt("satu\n\n> kutipan lama\ndua\ntiga\nempat")
    assert quoted == "> satu\n> dua\n> tiga …"
    long = excerpt("kata " * 200)
    assert long.startswith("> kata kata")
    assert len(long) < 320
    assert long.endswith("…")
