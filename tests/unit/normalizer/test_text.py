"""Text cleanup: Unicode, whitespace, HTML."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.folding import fold_for_matching
from normalizer.text import clean_text, html_to_text


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


def _clean_text_line_by_line(text: str) -> str:
    # the plain definition clean_text must keep meaning: every line's space
    # runs made one " ", every line stripped, blank runs made one blank line
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    space = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
    lines = [space.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_AWKWARD = (
    " \t\r\n\x00\x0b\x0c\x1c\x1f\x7f\x85\u00a0\u2000\u200a\u200b\u2028\u2029"
    "\u202f\u205f\u3000\u1680abcé\ufb01\uff21\uff22\u2460"
)


@settings(max_examples=800, deadline=None)
@given(
    st.text(alphabet=_AWKWARD, max_size=40)
    | st.text(alphabet=" \t\r\n\x00\x0b\x0c\x1f\x7fab", max_size=40)  # ASCII path
    | st.text(max_size=40)
)
def test_clean_text_is_the_line_by_line_definition(text: str) -> None:
    assert clean_text(text) == _clean_text_line_by_line(text)
