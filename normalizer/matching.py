"""Text for matching: the form two complaints are compared in.

The original text is always kept on the record; this form only feeds the
classifier, the gazetteer and duplicate linking. It is lower case, NFKC,
accent-free, without URLs, e-mail addresses, @mentions, hashtag marks, emoji
or punctuation; letters repeated for emphasis are squeezed (``rusakkk`` →
``rusak``); reduplication is reduced to its base (``anak2``, ``anak-anak`` →
``anak``), and colloquial Indonesian is mapped to its formal form through the
curated table ``normalizer/data/slang_id.tsv`` (``jln`` → ``jalan``, ``gk`` →
``tidak``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from contracts.folding import fold_for_matching

# Matching reads at most this many characters of a text (about 3,000 words;
# the record keeps all of it). A complaint says what and where near its
# start; without a bound, a 1 MB body cost seconds in each of the three
# readers (categories, places, duplicates) and fuzzy-compared megabytes.
MATCHING_CHARS = 20_000

DATA_DIR = Path(__file__).with_name("data")
SLANG_FILE = DATA_DIR / "slang_id.tsv"
STOPWORDS_FILE = DATA_DIR / "stopwords_id.txt"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Linear: a match may only start where a run of local-part characters
# starts, and that run is taken whole (possessive; "@" is not in it). Without
# both, a long word was scanned again from each of its letters: quadratic.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+")
_MENTION = re.compile(r"(?<![\w@])@\w+")
_APOSTROPHE = re.compile(r"(?<=\w)['\u2019`](?=\w)")
# a word: letters/digits, possibly joined by hyphens (``anak-anak``, ``e-ktp``)
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_RUN3 = re.compile(r"([^\W\d_])\1{2,}")
# ``anak2``: a word with a vowel, doubled; ``sp2``, ``u2`` (a settlement
# unit, a kelurahan's part) are codes, not reduplication
_REDUP_DIGIT = re.compile(r"^([^\W\d_]*[aeiou][^\W\d_]*)2$")
# abbreviations that mean something else before a number: ``km`` is slang
# for ``kamu`` in a chat, but ``km 12`` is a kilometre post (a place)
_BEFORE_NUMBER = frozenset({"km"})
# a number in words after ``km`` (``km tiga puluh``): still a kilometre post
_NUMBER_WORDS = frozenset(
    {"satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan"}
    | {"sembilan", "sepuluh", "sebelas", "seratus"}
)
# two words that mean one thing together, and not what each means alone:
# English words of tourist posts (``street light`` is ``lampu jalan``, not a
# street called Lampu), idioms with a problem word (``siang bolong``: broad
# daylight, no hole)
_PAIRS: dict[tuple[str, str], tuple[str, ...]] = {
    ("street", "light"): ("lampu", "jalan"),
    ("street", "lights"): ("lampu", "jalan"),
    ("street", "lamp"): ("lampu", "jalan"),
    ("traffic", "light"): ("lampu", "lalu", "lintas"),
    ("traffic", "lights"): ("lampu", "lalu", "lintas"),
    ("siang", "bolong"): ("siang",),
}
_PAIR_HEADS = frozenset(head for head, _ in _PAIRS)
# an agency's account names its office and its regency
# (``@disdukcapilmajene``, ``@disdukcapil_simeulue``): the office is a place
# a report names; other mentions are dropped
_OFFICE_ACCOUNT = re.compile(r"(disdukcapil|dukcapil|capil|samsat|mpp)_?([a-z]{3,})")

# Words with a real double letter, so ``maaaf`` squeezes to ``maaf``, not ``maf``.
_DOUBLE_LETTER_WORDS = frozenset(
    {"maaf", "saat", "taat", "jumaat", "saudara", "keluarga", "tiang", "sakit"}
    | {"kakak", "assalamualaikum", "mbak", "ngga", "nggak", "sekolah"}
)


class SlangTableError(ValueError):
    """The slang table file is malformed; the message names the line."""


def load_slang_table(path: Path = SLANG_FILE) -> dict[str, str]:
    """Read ``informal<TAB>formal`` lines; ``#`` starts a comment line.

    Raises :class:`SlangTableError` naming the line on a malformed entry, a
    key that is not one lower-case token, or a key given twice.
    """
    table: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0] or not parts[1].strip():
            raise SlangTableError(
                f"{path.name}:{number}: expected 'informal<TAB>formal', got {line!r}"
            )
        key, value = parts[0], parts[1].strip()
        if key != fold_for_matching(key) or not _WORD.fullmatch(key):
            raise SlangTableError(
                f"{path.name}:{number}: key {key!r} must be one lower-case word"
            )
        if key in table:
            raise SlangTableError(f"{path.name}:{number}: {key!r} given twice")
        table[key] = value
    return table


@lru_cache(maxsize=1)
def slang_table() -> Mapping[str, str]:
    """The shipped colloquial → formal table (read once)."""
    return load_slang_table()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Indonesian stopwords (stopwords-iso, MIT), in matching form."""
    lines = STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
    # colloquial particles the list lacks, in their matching form
    extra = {"nya", "ya", "sih", "deh", "dong", "loh", "lho", "tuh", "nih", "pun"}
    return frozenset({w.strip() for w in lines if w.strip()} | extra | _ENGLISH)


# English function words of tourist and expatriate posts (``the road to
# Kelingking beach is …``): not ``an``, ``as``, ``at``, ``al``, which begin
# Arabic names of mosques (``Masjid As Salam``), nor ``by`` (``by pass``)
_ENGLISH = frozenset(
    {"the", "is", "are", "was", "were", "to", "of", "in", "on", "and", "it"}
    | {"this", "that", "these", "there", "near", "with", "for", "from", "up"}
    | {"please", "pls", "plz", "nobody", "very", "too", "has", "have", "side"}
    | {"been", "be", "we", "our", "my", "you", "they", "its", "seriously"}
)


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    formal = {w for v in slang_table().values() for w in v.split()}
    return frozenset(formal | stopwords() | _DOUBLE_LETTER_WORDS)


# address components whose code may be letters (``Blok AJ``, ``Tower B``)
_CODE_BEFORE = frozenset({"blok", "tower", "cluster", "klaster", "gedung", "wisma"})
_LETTER_CODE = re.compile(r"^[a-z]{1,2}\d{0,3}$")
# Roman numerals with a tripled letter are numbers, not emphasis
# (``Lingkungan III``)
_ROMAN_RUNS = frozenset({"iii", "viii", "xiii", "xviii", "xxiii", "xxx"})


def _squeeze(word: str) -> str:
    if not _RUN3.search(word) or word in _ROMAN_RUNS:
        return word
    once = _RUN3.sub(r"\1", word)
    twice = _RUN3.sub(r"\1\1", word)
    vocab = _vocabulary()
    if twice in vocab or twice in slang_table():
        return twice
    if once in vocab or once in slang_table():
        return once
    # Emphasis is far more common than a real tripled letter.
    return once


def _normal_word(word: str, table: Mapping[str, str]) -> list[str]:
    """One word of the folded text → its matching tokens."""
    if "-" in word:
        if word in table:
            return _expand(table[word], table)
        parts = word.split("-")
        if len(set(parts)) == 1:  # anak-anak
            return _normal_word(parts[0], table)
        return [t for part in parts for t in _normal_word(part, table)]
    word = _squeeze(word)
    if word in table:
        return _expand(table[word], table)
    redup = _REDUP_DIGIT.match(word)
    if redup and len(redup.group(1)) >= 2:  # anak2
        return _normal_word(redup.group(1), table)
    if word.endswith("nya") and word[:-3] in table:
        # ``lobangnya`` → ``lubang`` (``-nya`` is a stopword on its own)
        return _expand(table[word[:-3]], table)
    return [word]


def _expand(formal: str, table: Mapping[str, str]) -> list[str]:
    # The formal side may be several words or hyphenated (``gorong-gorong``);
    # it is reduced the same way but never looked up again, so no chains.
    out: list[str] = []
    for word in _WORD.findall(formal):
        parts = word.split("-")
        out.extend([parts[0]] if len(set(parts)) == 1 else parts)
    return out


def strip_noise(text: str) -> str:
    """Folded text without URLs, e-mail addresses, @mentions and ``#`` marks."""
    text = fold_for_matching(unicodedata.normalize("NFKC", text))
    # each pass only when its mark is there: a substring test is far cheaper
    # than a regex scan that starts with a look-behind at every character
    if "://" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
        text = _MENTION.sub(_mention, text)
    if "'" in text or "\u2019" in text or "`" in text:
        text = _APOSTROPHE.sub("", text)
    return text


def _mention(found: re.Match[str]) -> str:
    office = _OFFICE_ACCOUNT.fullmatch(found[0][1:])
    return f" {office[1]} {office[2]} " if office else " "


def matching_tokens(text: str, table: Mapping[str, str] | None = None) -> list[str]:
    """The tokens of :func:`matching_text`, in order (of the first
    :data:`MATCHING_CHARS` characters)."""
    table = slang_table() if table is None else table
    text = text[:MATCHING_CHARS]
    tokens: list[str] = []
    words = _WORD.findall(strip_noise(text))
    last = len(words) - 1
    skip = -1
    for i, word in enumerate(words):
        if (
            word in _BEFORE_NUMBER
            and i < last
            and (words[i + 1][:1].isdigit() or words[i + 1] in _NUMBER_WORDS)
        ):
            tokens.append(word)
            continue
        if i and words[i - 1] in _CODE_BEFORE and _LETTER_CODE.match(word):
            # ``Blok AJ``, ``Tower B``: a block's code, not slang (``aj``)
            tokens.append(word)
            continue
        if word in _PAIR_HEADS and i < last and (word, words[i + 1]) in _PAIRS:
            tokens.extend(_PAIRS[word, words[i + 1]])
            skip = i + 1
            continue
        if i == skip:
            continue
        tokens.extend(_normal_word(word, table))
    return tokens


def matching_text(text: str) -> str:
    """The text as compared for classification, places and duplicates."""
    return " ".join(matching_tokens(text))


def content_tokens(matching: str) -> list[str]:
    """Tokens of an already-normalised matching text that carry meaning:
    stopwords and one-letter tokens dropped (numbers kept: ``SDN 3`` and
    ``SDN 4`` are different schools), order kept."""
    stop = stopwords()
    return [
        t for t in matching.split() if (len(t) > 1 or t.isdigit()) and t not in stop
    ]
