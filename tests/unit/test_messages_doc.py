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
        # the blocks render() derives from "message" and "tracking_url"
        derived = {"message_block", "note_block", "tracking_link"}
        for name in set(placeholders(template)) - derived:
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


def test_a_status_message_takes_the_channels_own_wording():
    """change_status renders before it knows the channel; the replier
    renders again from the channel's override of the same template."""
    from dispatcher.notify import render

    text = render("status", None, tracking_no="KTB-1", status="resolved", message="Ok")
    assert "selesai ditindaklanjuti" in text
    override = {"status": "[{tracking_no}] {status_label}. {message}"}
    assert text.again(override) == "[KTB-1] selesai ditindaklanjuti. Ok"
    assert text.again({"ack": "x"}) == str(text)
