"""Text cleanup: Unicode, whitespace, HTML."""

from __future__ import annotations

from normalizer.text import clean_text, fold_for_matching, html_to_text


def test_nfkc_and_whitespace() -> None:
    # full-width letters, a non-breaking space, CRLF and trailing blanks
    assert (
        clean_text(
            "\uff2a\uff41\uff4c\uff41\uff4e\u00a0rusak  \r\n\r\n\r\n\r\nparah \t"
        )
        == "Jalan rusak\n\nparah"
    )


def test_control_characters_removed() -> None:
    assert clean_text("air\x00 mati\x1b") == "air mati"


def test_fold_ignores_case_and_accents() -> None:
    assert fold_for_matching("JALÁN Rúsak") == "jalan rusak"


def test_html_blocks_links_and_scripts() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Jembatan <b>hampir</b> putus.</p><p>Foto: "
        "<a href='https://foto.example/1'>lihat</a></p>"
        "<script>alert(1)</script><ul><li>RT 3</li><li>RT 4</li></ul></body></html>"
    )
    assert html_to_text(html) == (
        "Jembatan hampir putus.\n\n"
        "Foto: lihat (https://foto.example/1)\n\n"
        "- RT 3\n\n"
        "- RT 4"
    )
