"""Duplicates in other words: one problem at one place, told differently.

The near-duplicate rule of :mod:`normalizer.dedupe.index` compares the words of
two reports; two citizens rarely use the same ones (``jalan berlubang depan
Masjid Al-Falah`` / ``aspal hancur dkt mesjid al falah``). This module
judges such a pair by what it is about instead:

- **places** named in the text, read from the key tokens in their order:
  a street (``jalan``/``gang``/``lorong`` + name), a landmark (``masjid``,
  ``sekolah``, ``pasar``, ``puskesmas`` … + name), ``RT``/``RW`` numbers and
  a desa/kelurahan (``desa``/``kelurahan``/``kampung``/``dusun`` + name, or
  a name of the gazetteer anywhere in the text);
- **the problem**: what is at issue (the *object*: water, road, street
  light …) and what is wrong with it (the *state*: dirty, broken, off …),
  from the curated table ``normalizer/data/problems_id.tsv``;
- **the wording**: word overlap and a character-trigram cosine of the
  remaining words, which survives typos, affixes and reordering.

Each is a component of one logistic score (:data:`WEIGHTS`, fitted by
``bench/paraphrase.py`` on half of the hand-labelled set
``tests/fixtures/dedupe/paraphrase_pairs.jsonl``, checked on the rest);
two components are set by hand, not fitted, because the labelled pairs carry
no time or coordinates: the time between the reports (a penalty growing to
:data:`TIME_WEIGHT` at the edge of the window) and, when both reports share
coordinates, their distance. :func:`breakdown` lists each component and its
contribution, in Indonesian, for ``dengar dedupe explain``.

The score is computed only on the few candidates the index already found
(they share a rare word: a street, a name), so it costs a few microseconds a
candidate; a link needs :data:`THRESHOLD` and at least one place in common.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from normalizer.dedupe.keys import OPPOSITES, RECURRED, typo
from normalizer.matching import DATA_DIR

PROBLEMS_FILE = DATA_DIR / "problems_id.tsv"

# Fitted by bench/paraphrase.py (logistic regression on the fitting half of
# the labelled pairs); rerun it after changing the features or the pairs.
WEIGHTS: dict[str, float] = {
    "bias": -5.32,
    "places_agree": 1.93,
    "places_conflict": -1.68,
    "problem_agree": 2.18,
    "object_diff": -0.87,
    "state_diff": -1.08,
    "trigrams": 0.58,
    "object_same": 0.75,
    "state_same": 1.78,
    "village_same": 0.77,
    "street_same": 0.93,
    "rt_diff": -1.06,
    "street_diff": -0.81,
    "village_diff": -0.89,
}
# probability from which a pair is linked: chosen on the fitting half for
# precision >= 0.95 (bench/paraphrase.py prints both halves)
THRESHOLD = 0.64
THRESHOLD_LOGIT = math.log(THRESHOLD / (1 - THRESHOLD))  # the same, in logits
# True when no pair reaches the threshold without a problem concept in
# common (so the index skips candidates without one, exactly)
# True when no pair reaches the threshold without a problem concept in
# common: no longer so, the content words stand in for a concept the table
# does not know (:data:`CONTENT_FULL`)
LINK_NEEDS_CONCEPT = False
# set by hand, not fitted (every labelled pair names a problem the table
# knows): where the problem table is silent on one side or both (a service,
# a topic it does not list: ``tutup``, ``offline``, ``seragam``), the share
# of plain word stems in common (:func:`_content`) stands in for each unknown
# verdict, object or state, with its weight: all of it from CONTENT_FULL,
# nothing below CONTENT_MIN (two reports share a few words by chance)
CONTENT_MIN, CONTENT_FULL = 0.2, 0.5
CONTENT_WORDS = 2  # and at least this many stems in common
CONTENT_WORDS_ALONE = 3  # when neither report names a problem the table knows
# set by hand (the labelled pairs have no time or coordinates): at the edge
# of the dedupe window the score loses this much (in logits), linearly
TIME_WEIGHT = 1.5
NEAR_KM, FAR_KM = 0.3, 2.0  # coordinates: same place / clearly elsewhere
NEAR_WEIGHT, FAR_WEIGHT = 1.0, -3.0
# set by hand: a report that says the problem is back (``mati lagi``,
# ``kembali padam``) a week or more after the other is a new event
RECUR_DAYS, RECUR_WEIGHT = 7.0, -2.0

# ``lrg``, ``komp``: abbreviations the slang table leaves (jl, jln, gg are
# mapped there)
_STREET = frozenset(
    {"jalan", "gang", "lorong", "lrg", "komplek", "kompleks", "komp", "poros"}
)
# a street named by a number: ``gang 7``, ``lorong 3`` (``jalan 17 agustus``
# only before a month)
_NUMBER_STREET = frozenset({"gang", "lorong", "lrg"})
_MONTHS = frozenset(
    {"januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus"}
    | {"september", "oktober", "november", "desember"}
)
_STREET_SKIP = frozenset({"lampu", "penerangan", "pju", "rambu", "marka"})
_LANDMARK = frozenset(
    {"masjid", "mesjid", "musala", "musholla", "mushola", "langgar", "surau"}
    | {"sekolah", "sd", "sdn", "smp", "smpn", "sma", "sman", "smk", "smkn", "mts"}
    | {"mi", "ma", "tk", "paud", "pesantren", "pasar", "puskesmas", "pustu"}
    | {"posyandu", "polindes", "gereja", "pura", "vihara", "kantor", "terminal"}
    | {"pelabuhan", "dermaga", "lapangan", "taman", "makam", "pemakaman"}
    | {"rsud", "klinik", "jembatan", "bundaran", "tugu", "perumahan", "spbu"}
    | {"toko", "warung", "bank", "hotel", "stadion", "gor", "balai", "alun"}
    | {"msjd", "pkm", "perum", "polsek", "polres", "koramil", "kelenteng"}
    | {"pantai", "bendungan", "waduk", "embung"}
    # Minangkabau ``pasa``; a national housing estate ``perumnas``
    | {"pasa", "perumnas"}
    # public housing: ``Rusunawa Pulogebang``, ``Huntap Pombewe``
    | {"rusun", "rusunawa", "rusunami", "huntap", "apartemen"}
    # offices named by their agency: ``dukcapil kayuagung``, ``MPP lumajang``
    | {"dukcapil", "disdukcapil", "capil", "mpp", "samsat", "kua", "upt", "uptd"}
    # fuel outlets (``SPBN Labuan Bajo``, ``APMS Fef``) and a junction named
    # by its own name (``Simpang Lima Patroman``, ``simpang toyan``)
    | {"spbn", "spbun", "apms", "simpang"}
    # an island of a kabupaten (``Pulau Kisar``; a chat writes ``ke kisar``)
    | {"pulau"}
)
_LANDMARK_KIND = {
    "mesjid": "masjid",
    "musholla": "musala",
    "mushola": "musala",
    "langgar": "musala",
    "surau": "musala",
    "sdn": "sd",
    "smpn": "smp",
    "sman": "sma",
    "smkn": "smk",
    "pemakaman": "makam",
    "msjd": "masjid",
    "pkm": "puskesmas",
    "perum": "perumahan",
    "perumnas": "perumahan",
    "rusunawa": "rusun",
    "rusunami": "rusun",
    "pasa": "pasar",
    "disdukcapil": "dukcapil",
    "capil": "dukcapil",
    "uptd": "upt",
}
# a landmark's kecamatan or regency right after its kind names no landmark
# of its own (``Puskesmas Kecamatan Kao``, ``MPP Kabupaten Lumajang``)
_ADMIN = frozenset({"kecamatan", "kec", "kabupaten", "kab", "kota", "distrik"})
# school abbreviations citizens write: ``SMANSA`` is SMA Negeri 1
_SCHOOL_SHORT = {
    "smansa": ("sma", "1"), "smanda": ("sma", "2"), "smada": ("sma", "2"),
    "smaga": ("sma", "3"), "smanti": ("sma", "3"), "spensa": ("smp", "1"),
    "spenda": ("smp", "2"), "spendu": ("smp", "2"), "spentig": ("smp", "3"),
    "spanju": ("smp", "1"),
}  # fmt: skip
# after a village's name, a number is part of it (``Hutatoruan VII``)
# unless a unit follows (``desa semurup 2 bulan``)
_UNITS = frozenset(
    {"hari", "minggu", "bulan", "tahun", "jam", "menit", "kali", "meter", "m"}
    | {"orang", "kk", "rumah", "cm", "km", "pekan", "malam", "rb", "ribu", "juta"}
)
# the village words of other provinces too: Aceh's ``gampong``, West
# Sumatra's ``nagari`` and ``jorong``, Yogyakarta's ``kalurahan``, Toraja's
# ``lembang``
_VILLAGE = frozenset(
    {"desa", "kelurahan", "kampung", "dusun", "kampong", "gampong", "nagari"}
    | {"jorong", "kalurahan", "lembang"}
)
# numbered places: RT/RW, a kilometre post, a dusun, a house number, a block
_NUMBERED = frozenset({"rt", "rw", "km", "dusun", "nomor", "blok"})
# more address components with a code (``Tower B``, ``Lingkungan 3``,
# ``Gedung C2``): two reports giving one of them must give the same code, a
# report may leave it out (they do not count as a place one side lacks)
_CODED = frozenset(
    {"tower", "cluster", "klaster", "gedung", "wisma", "lingkungan", "jalur"}
)
_NUMBERED_ALIAS = {w: w for w in _NUMBERED | _CODED} | {
    "kilometer": "km",
    "no": "nomor",
    "klaster": "cluster",
}
# a qualifier in :data:`normalizer.dedupe.keys.OPPOSITES` as one value
_OPPOSITE_SAME = {
    "ilir": "hilir", "ulu": "hulu", "udik": "hulu", "gede": "besar",
    "anyar": "baru",
}  # fmt: skip
# ``rt03``, ``no12``, ``km5`` written as one word; ``gang mawar ii``
_GLUED = re.compile(r"^(rt|rw|km|no|nomor|blok)0*(\d+)$")
_ROMAN = {
    "ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8",
    "ix": "9", "xi": "11", "xii": "12", "xiii": "13", "xiv": "14", "xv": "15",
}  # fmt: skip
_NEEDS_SPLIT = re.compile(
    r"(?:^| )(?:(?:rt|rw|km|no|nomor|blok)\d|(?:"
    + "|".join(sorted({*_ROMAN, *_SCHOOL_SHORT}, key=len, reverse=True))
    + ")(?: |$))"
)
# words that end a name: they say what or where, not which
_NOT_NAME = (
    (_STREET | _LANDMARK | _VILLAGE | _NUMBERED | _CODED | _ADMIN)
    | {"nomor", "km", "kilometer", "depan", "dekat", "samping", "sebelah", "ujung"}
    | {RECURRED}
)


# what a word starts: a street, a landmark, a village, a numbered place
_ROLE = (
    dict.fromkeys(_VILLAGE, "d")
    | dict.fromkeys(_LANDMARK, "m")
    | dict.fromkeys(_STREET, "j")
    | dict.fromkeys(_NUMBERED_ALIAS, "n")
)


@dataclass(frozen=True, slots=True)
class Component:
    """One part of the score: its code, an Indonesian label staff read,
    what was found, and its contribution in logits."""

    code: str
    label: str
    detail: str
    contribution: float


@lru_cache(maxsize=1)
def problem_words() -> dict[str, tuple[tuple[str, str], ...]]:
    """``word → ((kind, concept), …)`` from ``problems_id.tsv`` (kind
    ``object`` or ``state``; a word may name both: ``lubang``); a malformed
    line raises naming it."""
    table: dict[str, tuple[tuple[str, str], ...]] = {}
    lines = PROBLEMS_FILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[1] not in ("object", "state") or not parts[2]:
            raise ValueError(
                f"{PROBLEMS_FILE.name}:{number}: expected 'word<TAB>object|state"
                f"<TAB>concept', got {line!r}"
            )
        table[parts[0]] = (*table.get(parts[0], ()), (parts[1], parts[2]))
    return table


def places_of(
    keys: Sequence[str],
    known: frozenset[str] = frozenset(),
    spans: list[tuple[int, int]] | None = None,
) -> tuple[str, ...]:
    """The places a report names, from its key tokens in text order, as
    tagged strings: ``j:ahmad yani`` (street), ``m:@masjid al falah``
    (landmark, with its kind), ``n:rt=3``, ``n:km=5`` (numbered places),
    ``d:dirgahayu`` (desa/kelurahan; also a name of one or two words in
    ``known``, the gazetteer's). Interned: many reports name the same
    places. ``spans`` collects the positions (in :func:`_place_tokens`)
    of the names after a ``desa``/``kelurahan``: their words name a place,
    not a problem (``Kelurahan Air Hitam``)."""
    out: list[str] = []
    keys = _place_tokens(keys)
    n = len(keys)
    heads = _known_heads(known)
    role = _ROLE.get
    # only a word that starts a place (or may be a slip of ``jalan``/``gang``)
    # or a gazetteer's name does something below: found in one pass in C,
    # most of a report's words are passed over (every indexed case is read)
    starts = _place_starts(known)
    slip = _street_slip
    for i in [
        i
        for i, t in enumerate(keys)
        if t in starts or (t[:1] in _JG and slip(t)) or t[:1] == "^"
    ]:
        token = keys[i]
        if token[0] == "^":
            if coded := _coded_place(keys, i):
                out.append(coded)
            continue
        kind = role(token)
        if kind is None and token[:1] in ("j", "g") and _street_slip(token):
            kind = "j"
        if kind == "n":
            if i + 1 < n and keys[i + 1].isdigit():
                out.append(f"n:{_NUMBERED_ALIAS[token]}={keys[i + 1]}")
                continue
            if token == "lingkungan" and i + 1 < n:
                # ``Lingkungan Karang Bedil``: a named part of a kelurahan
                name = _name_after(keys, i)
                if name and name not in _NOT_LINGKUNGAN:
                    out.append(f"n:lingkungan={name}")
                continue
            if token not in _VILLAGE:  # ``dusun`` also names a village
                continue
            if token == "dusun" and i + 1 < n and keys[i + 1] not in _name_stops():
                # a dusun is part of a desa: its name tells two of one desa
                # apart (``dusun krajan`` / ``dusun ngentak``, desa Sumberadi)
                out.append(f"n:dusun={keys[i + 1].lstrip('^')}")
            kind = "d"
        if kind == "j":
            if (
                i
                and keys[i - 1] in _STREET_SKIP
                # ``lampu jalan ahmad yani``: the lamps of a named street
                and not (i + 1 < n and _street_name_follows(keys[i + 1]))
            ):
                continue
            numbered = i + 1 < n and keys[i + 1].isdigit()
            name = _name_after(
                keys,
                i,
                digits=numbered
                and (token in _NUMBER_STREET or (i + 2 < n and keys[i + 2] in _MONTHS)),
            )
            if numbered and token in _NUMBER_STREET:
                # ``Jalan Sungai Bilu Gang 3``: the gang's number is an
                # address component, whatever street is named with it
                out.append(f"n:gang={keys[i + 1]}")
            if name:
                out.append("j:" + name)
                # a number right after a street's name: a kilometre post or a
                # house (``jalan berangas km 5``: the slang table reads
                # ``km`` as ``kamu``, a stopword, so only the number is left)
                after = i + 1 + name.count(" ") + 1
                if after < n and keys[after].isdigit():
                    out.append(f"n:jalan={keys[after]}")
        elif kind == "m":
            name = _name_after(keys, i, digits=True, admin=True, landmark=True)
            after = i + 2 + name.count(" ")
            if (
                name
                and not any(w.isdigit() for w in name.split())
                and after < n
                and keys[after].isdigit()
                and (after + 1 == n or keys[after + 1] not in _UNITS)
            ):
                # ``SD Negeri Kramatwatu 3``: the number after the name
                # tells numbered neighbours apart
                name += " " + keys[after]
            if name:
                out.append(f"m:@{_LANDMARK_KIND.get(token, token)} {name}")
        elif kind == "d":
            if (
                i
                and keys[i - 1] in _STREET
                and i + 1 < n
                and keys[i + 1] in problem_words()
            ):
                # ``jalan kampung su rusak``: the village road, no village
                continue
            # after ``kelurahan`` a name, whatever its words (``air hitam``)
            name = _name_after(keys, i, village=True)
            if name:
                out.append("d:" + name)
                if spans is not None:
                    spans.append((i + 1, i + 2 + name.count(" ")))
        elif token in heads and i + 1 < n and f"{token} {keys[i + 1]}" in known:
            out.append(f"d:{token} {keys[i + 1]}")
        elif token in known and (
            not i or keys[i - 1] not in heads or f"{keys[i - 1]} {token}" not in known
        ):
            out.append("d:" + token)
    return tuple(sys.intern(p) for p in dict.fromkeys(out))


_JG = frozenset("jg")
_NOT_LINGKUNGAN = frozenset({"hidup"})  # Dinas Lingkungan Hidup


def _coded_place(keys: Sequence[str], i: int) -> str:
    """A code :func:`normalizer.dedupe.keys.key_tokens` kept marked: the
    letter code of an address component (``blok ^ah`` → ``n:blok=ah``) or
    an opposite qualifier after a name (``kemingking ^dalam`` →
    ``n:kemingking~inout=dalam``: the name with ``luar`` is another place)."""
    code, before = keys[i][1:], keys[i - 1] if i else ""
    if before in _NUMBERED_ALIAS:
        return f"n:{_NUMBERED_ALIAS[before]}={code}"
    group = OPPOSITES.get(code)
    if (
        group
        and before[:1] != "^"
        # after a place's kind the qualifier is its name (``Pasar Gede``)
        and before not in _ROLE
        and _looks_like_name(before)
    ):
        return f"n:{before}~{group}={_OPPOSITE_SAME.get(code, code)}"
    return ""


def _street_name_follows(word: str) -> bool:
    """True when ``word``, after ``lampu jalan``, begins a street's name
    rather than the sentence (``lampu jalan mati``)."""
    return (
        word not in _name_stops()
        and not word.isdigit()
        and _looks_like_name(word)
        and word not in _STREET
    )


@lru_cache(maxsize=8)
def _place_starts(known: frozenset[str]) -> frozenset[str]:
    """The words :func:`places_of` acts on (slips of a street word apart)."""
    return frozenset(_ROLE) | known | _known_heads(known)


@lru_cache(maxsize=8)
def _known_heads(known: frozenset[str]) -> frozenset[str]:
    """The first words of the two-word names in ``known``."""
    return frozenset(name.split()[0] for name in known if " " in name)


def _street_slip(token: str) -> bool:
    """``jaaln``, ``jlan``, ``gnag``: one slip from ``jalan`` or ``gang``."""
    if token[:1] not in ("j", "g") or not 4 <= len(token) <= 6:
        return False
    return typo(token, "jalan") or typo(token, "gang")


def place_keys(places: Iterable[str]) -> frozenset[str]:
    """What two reports of one place share exactly, whatever their wording
    (the index looks at a candidate only when it shares one): the first
    distinctive word of each named place (``*diponegoro``), and the
    numbered places as they are (``n:rt=7``)."""
    out: set[str] = set()
    for place in places:
        out.update(_keys_of_place(place))
    return frozenset(out)


@lru_cache(maxsize=65536)
def _keys_of_place(place: str) -> tuple[str, ...]:
    # cached: many reports name the same places, and every indexed case
    # reads its places' keys once (traits_of)
    if place.startswith("n:"):
        return (place,)
    out = []
    name = place[2:]
    numbers = [w for w in name.split() if w.isdigit()]
    if name[:1] == "@" and numbers:  # ``SD 2``: its kind and number
        out.append(sys.intern(f"*{name[1:].partition(' ')[0]}={numbers[0]}"))
    if words := _distinct_words(_bare(name)):
        out.append(sys.intern("*" + words[0]))
        if len(words) > 1 and len(words[0]) <= 3:
            # ``by pass`` is also written ``bypass``
            out.append(sys.intern("*" + words[0] + words[1]))
    elif name.isdigit():  # ``gang 7``
        out.append(sys.intern(f"*{place[0]}={name}"))
    if initials := _street_initials(place):
        out.append(sys.intern("*" + initials))
    return tuple(out)


def _street_initials(place: str) -> str:
    """``jls`` for ``j:lingkar selatan``: a street of two or three name
    words is written by its initials with the ``j`` of ``jalan`` (JLS,
    JLU, JLT: ring roads); empty for other places."""
    if not place.startswith("j:"):
        return ""
    words = place[2:].split()
    if not 2 <= len(words) <= 3 or not all(w.isalpha() for w in words):
        return ""
    return "j" + "".join(w[0] for w in words)


def keyed(a: Profile, b: Profile) -> bool:
    """True when two reports share a place exactly (:func:`place_keys`), or
    one names a place in words the other holds (``jalan Pemuda`` /
    ``simpang pemuda``): the candidates the index scores in other words."""
    if not a.keys.isdisjoint(b.keys):
        return True
    return any(k[0] == "*" and k[1:] in b.tokens for k in a.keys) or any(
        k[0] == "*" and k[1:] in a.tokens for k in b.keys
    )


def _place_tokens(keys: Sequence[str]) -> Sequence[str]:
    """The key tokens as places read them: ``rt03`` → ``rt 3``, a Roman
    numeral after a name → its number (``gang mawar ii`` / ``gang mawar
    2``). Most reports need neither: one regular expression tells."""
    if not _NEEDS_SPLIT.search(" ".join(keys)):
        return keys
    out: list[str] = []
    for token in keys:
        glued = _GLUED.match(token)
        if glued:
            out += [_NUMBERED_ALIAS.get(glued[1], glued[1]), str(int(glued[2]))]
        elif token in _ROMAN and out and out[-1].isalpha():
            out.append(_ROMAN[token])
        elif token in _SCHOOL_SHORT:
            out += _SCHOOL_SHORT[token]
        else:
            out.append(token)
    return out


def _name_after(
    keys: Sequence[str],
    i: int,
    digits: bool = False,
    village: bool = False,
    admin: bool = False,
    landmark: bool = False,
) -> str:
    """Up to two name words after ``keys[i]`` (a number only for a landmark:
    ``SD 2``), stopping at a word that is not a name. After a ``village``
    marker the first word is a name even when the problem table knows it
    (``kelurahan air hitam``); the second still stops there (``kelurahan
    semayap berlubang``)."""
    words: list[str] = []
    stop = _name_stops()
    for j in range(i + 1, min(i + 6, len(keys))):
        token = keys[j]
        if admin and not words and token in _ADMIN:
            continue
        if token[0] == "^":
            if words:
                break
            # ``Pasar Gede``, ``Dusun Ilir``: the qualifier is the name
            token = token[1:]
        if token in (_NOT_NAME if village and not words else stop):
            break
        if village and not words and _affixed(token):
            break  # ``desa keberatan``: a word of the sentence
        if landmark and not words and _sentence_word(token):
            break  # ``puskesmas dokternya``: a word of the sentence
        if token.isdigit() and not (
            digits
            # a village's number, not a quantity: ``hutatoruan 7``
            or (village and words and (j + 1 == len(keys) or keys[j + 1] not in _UNITS))
        ):
            break
        if token in _TITLES and not words:
            continue
        words.append(token)
        # ``jenderal ahmad yani``: two words many names share are not a
        # name yet (at most three words in all)
        if len(words) == 3 or (
            len(words) == 2 and any(w not in _GENERIC_NAME for w in words)
        ):
            break
    return " ".join(words)


@lru_cache(maxsize=1)
def _name_stops() -> frozenset[str]:
    """Words that end a name: place words and the problem table's."""
    return _NOT_NAME | frozenset(problem_words())


# two words that together name another problem than each alone
_PHRASES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("mati", "lampu"): (("object", "power"), ("state", "off"))
}


def problem_of(tokens: Sequence[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The concepts a report's tokens (in text order) name: ``(objects,
    states)``."""
    found = _concept_tags(tokens)
    return (
        frozenset(t[3:] for t in found if t[1] == "o"),
        frozenset(t[3:] for t in found if t[1] == "s"),
    )


def _concept_tags(tokens: Sequence[str]) -> set[str]:
    """The concepts of the tokens as tags (``#o:water``, ``#s:dirty``): one
    dictionary lookup a token (:func:`_concept_index`)."""
    index = _concept_index()
    found: set[str] = set()
    if _PHRASE_HEADS.isdisjoint(tokens):
        # no phrase: the order does not matter, the words are found in C
        for word in index.keys() & tokens:
            found.update(index[word])
        return found
    last = len(tokens) - 1
    skip = -1
    for i, token in enumerate(tokens):
        if i == skip:
            continue
        tags = index.get(token)
        if token in _PHRASE_HEADS and i < last:
            phrase = _PHRASE_TAGS.get((token, tokens[i + 1]))
            if phrase is not None:
                tags, skip = phrase, i + 1
        if tags:
            found.update(tags)
    return found


@lru_cache(maxsize=1)
def _concept_index() -> dict[str, tuple[str, ...]]:
    """``word → tags`` of the problem table, also under the word with
    ``-nya`` (``airnya``, ``lampunya``)."""
    index: dict[str, tuple[str, ...]] = {}
    for word, entries in problem_words().items():
        tags = tuple(sys.intern(f"#{kind[0]}:{concept}") for kind, concept in entries)
        if len(word) > 2:
            # Indonesian -nya, Javanese -ne (``banyune``, ``lampune``) and,
            # after a consonant, -e (``sampahe``); Minangkabau -nyo
            index.setdefault(word + "nya", tags)
            index.setdefault(word + "ne", tags)
            index.setdefault(word + "nyo", tags)
            if word[-1] not in "aiueo":
                index.setdefault(word + "e", tags)
            for variant in _minang(word):
                index.setdefault(variant, tags)
        index[word] = tags
    return index


# Minangkabau shifts a word's last syllable: ``numpuk`` → ``numpuak``,
# ``angkut`` → ``angkuik``, ``kuning`` → ``kuniang``, ``bersih`` →
# ``barasiah``'s ``-iah``; the table's words are found in that spelling too
_MINANG_ENDINGS = (
    ("uk", "uak"), ("ut", "uik"), ("ing", "iang"), ("ih", "iah"),
    ("ur", "ua"), ("us", "uih"),
)  # fmt: skip


def _minang(word: str) -> tuple[str, ...]:
    """The table word as Minangkabau writes it, when its ending shifts."""
    for plain, shifted in _MINANG_ENDINGS:
        if word.endswith(plain) and len(word) > 4:
            return (word[: -len(plain)] + shifted,)
    return ()


_PHRASE_HEADS = frozenset(head for head, _ in _PHRASES)
_PHRASE_TAGS = {
    pair: tuple(f"#{kind[0]}:{concept}" for kind, concept in entries)
    for pair, entries in _PHRASES.items()
}


# titles before a name (``KH Ahmad Dahlan``, ``Sultan Adam``): not counted
# among a name's two words
_TITLES = frozenset(
    {"kh", "hj", "dr", "ir", "prof", "sultan", "raden", "mayjen", "letjen"}
    | {"kolonel", "mayor", "laksamana", "syekh", "tuan", "datuk", "jend"}
)


# words many place names share: they do not tell two places apart
_GENERIC_NAME = frozenset(
    {"raya", "pangeran", "jenderal", "jendral", "kapten", "letnan", "brigjen"}
    | {"haji", "al", "at", "an", "ar", "as", "nurul", "darul", "baitul", "bumi"}
    | {"griya", "villa", "gunung", "pantai", "sungai", "teluk", "tanjung", "bukit"}
    | {"lapangan", "bola", "taman", "kota", "besar", "kecil", "utama", "indah"}
    | {"permai", "tani", "usaha", "desa", "poros", "lingkar", "setapak", "baru"}
    | {"camat", "dinas", "lama", "induk", "gantung", "kayu", "beton"}
    # a road's class, not its name: ``jalan nasional`` / ``jalan negara``
    | {"nasional", "negara", "provinsi"}
    # a school's or market's generic words: ``SD Inpres Waimangura`` is told
    # from ``SD Inpres Kalembu`` by the next word
    | {"negeri", "inpres", "swasta", "terpadu", "unggulan", "pusat", "sentral"}
    | {"umum", "satu", "atap", "filial", "kompleks", "komplek", "pembantu"}
    | _TITLES
    # first names many heroes share (``Jl. A. Yani`` is Ahmad Yani, not
    # Ahmad Dahlan): the next word names the street
    | {"ahmad", "achmad", "muhammad", "mohammad", "moh", "muh", "abdul", "siti"}
)


# a direction tells two places of one name apart (Baharu Utara / Selatan)
_DIRECTION = frozenset(
    {"utara", "selatan", "timur", "barat", "tengah", "hulu", "hilir", "ilir"}
    | {"atas", "bawah", "dalam", "luar", "darat", "laut"}
    # Javanese ``wetan``/``kulon``/``lor``/``kidul``, Madurese ``laok``/
    # ``daja``, Sumatran ``ulu``/``udik``
    | {"wetan", "kulon", "lor", "kidul", "laok", "daya", "daja", "ulu", "udik"}
)


def _direction_missing(name: str, other: Profile) -> bool:
    """True when ``name`` holds a direction the other report's words lack
    while they name another direction (``Benteng Utara`` is not found in
    ``benteng selatan``), or when the direction is the name itself (``Pantai
    Barat Pangandaran`` is not in ``pantai batu karas … #pangandaran``)."""
    words = [w for w in name.split() if w not in _GENERIC_NAME]
    missing = [w for w in words if w in _DIRECTION and w not in other.tokens]
    if not missing:
        return False
    return words[0] in _DIRECTION or not _DIRECTION.isdisjoint(other.tokens)


_VERB_PREFIX = ("di", "me", "ter", "ber", "ke")
_VERB_SUFFIX = ("nya", "kan")


# words that say what kind of place, not what is wrong: not content
_MARKERS = _NOT_NAME | frozenset(_LANDMARK_KIND) | _GENERIC_NAME | _DIRECTION


def _affixed(word: str) -> bool:
    """An affixed verb or noun (``ditutup``, ``lampunya``, ``keberatan``)."""
    if word.endswith(_VERB_SUFFIX) and len(word) > 5:
        return True
    if word.startswith("ke") and len(word) >= 9 and not word.endswith("an"):
        return False  # ``Desa Ketanjung``: a name (see :func:`_looks_like_name`)
    return word.startswith(_VERB_PREFIX) and len(word) > 6


def _sentence_word(word: str) -> bool:
    """A word after a landmark's kind that begins the sentence, not a name:
    a problem word or a word with ``-nya``/``-kan`` (``puskesmas
    dokternya``); prefixes are not read (``Pasar Kemakmuran``, ``SD
    Diponegoro``, ``Terminal Terboyo`` are names)."""
    return word in problem_words() or (word.endswith(_VERB_SUFFIX) and len(word) > 5)


def _looks_like_name(word: str) -> bool:
    """False for a word that reads as part of the sentence rather than a
    name: an affixed verb or noun (``ditutup``, ``lampunya``,
    ``dikhawatirkan``) or a word of the problem table."""
    if word in problem_words():
        return False
    if word.endswith(_VERB_SUFFIX) and len(word) > 5:
        return False
    if word.startswith("ke") and len(word) >= 9 and not word.endswith("an"):
        # ``kedunggalar``, ``kebonagung``: Javanese place names; a word of
        # the sentence with ``ke-`` is short (``ketutup``) or ``ke-an``
        return True
    return not (word.startswith(_VERB_PREFIX) and len(word) > 6)


def _distinct_words(name: str) -> list[str]:
    return [
        w
        for w in name.split()
        if w not in _GENERIC_NAME and w not in _DIRECTION and not w.isdigit()
    ]


def _word_match(x: str, y: str) -> bool:
    if x == y:
        return True
    return len(x) >= 4 and len(y) >= 4 and typo(x, y)


@lru_cache(maxsize=65536)
def _same_name(a: str, b: str, village: bool = False) -> int:
    """+1 when two place names agree, -1 when they differ, 0 when it cannot
    be told. A name's first distinctive word names it (what follows is
    often another word of the sentence): the two first words must agree
    (or a one-word name be one of the other's two), a slip allowed
    (``flamboyn`` / ``flamboyan``, ``singakarsa`` / ``singa karsa``);
    numbers, when both have one, must agree (``SD 1`` / ``SD 4``)."""
    kind_a, _, rest_a = a.partition(" ") if a[:1] == "@" else ("", "", a)
    kind_b, _, rest_b = b.partition(" ") if b[:1] == "@" else ("", "", b)
    # a number, or a code of letters and digits (``SP2``, ``U2``, ``B3``)
    num_a = [w for w in rest_a.split() if _numbered_word(w)][:1]
    num_b = [w for w in rest_b.split() if _numbered_word(w)][:1]
    if num_a and num_b and num_a != num_b:
        return -1
    if num_a and num_b:  # ``SD 4`` / ``SD 4 Stagen``: the number names it
        return 1 if kind_a == kind_b else -1
    wa, wb = _distinct_words(rest_a)[:2], _distinct_words(rest_b)[:2]
    dir_a = {w for w in rest_a.split() if w in _DIRECTION}
    dir_b = {w for w in rest_b.split() if w in _DIRECTION}
    if dir_a and dir_b and not dir_a & dir_b:
        return -1
    if _second_word_differs(rest_a.split(), rest_b.split()):
        return -1
    qual_a = _QUALIFIERS.intersection(rest_a.split())
    qual_b = _QUALIFIERS.intersection(rest_b.split())
    if qual_a and qual_b and not qual_a & qual_b:
        # ``Pasar Sentral Wanci`` / ``Pasar Inpres Wanci``: two markets of
        # one town; ``SD Inpres`` / ``SD Swasta``
        return -1
    if village and _second_name_differs(rest_a.split(), rest_b.split()):
        # ``cot trieng`` / ``cot batee``: villages share first words
        return -1
    if wa and wb and kind_a != kind_b:
        # two kinds of landmark: only the same name is one place (``pasar
        # inpres ruteng`` / ``terminal mena ruteng`` share their town)
        same = _word_match(wa[0], wb[0]) or "".join(wa) == "".join(wb)
    elif wa and wb and village:
        # ``Desa Pekutatan`` / ``Desa Pengeragoan, Pekutatan``: a village's
        # first name names it; the next word is often its kecamatan
        same = (
            _word_match(wa[0], wb[0])
            or "".join(wa) == "".join(wb)
            or "".join(wa[:2]) == wb[0]
            or "".join(wb[:2]) == wa[0]
        )
    elif wa and wb:
        same = (
            _word_match(wa[0], wb[0])
            # ``a yani`` keeps only ``yani``: a one-word name may be the
            # other's second word; a word may be inserted (``pasar barabai``
            # / ``pasar keramat barabai``)
            or any(_word_match(wa[0], y) for y in wb[1:])
            or any(_word_match(wb[0], x) for x in wa[1:])
            or "".join(wa) == "".join(wb)
            # ``by pass`` / ``bypass``: one word written as two
            or "".join(wa[:2]) == wb[0]
            or "".join(wb[:2]) == wa[0]
            # ``GTI`` / ``griya telukjambe indah``: initials
            or _initials(wa[0], rest_b.split())
            or _initials(wb[0], rest_a.split())
        )
    else:
        return 0 if kind_a == kind_b else -1
    if (
        not same
        and kind_a
        and not (_looks_like_name(wa[0]) and _looks_like_name(wb[0]))
    ):
        return 0  # after a landmark, a word of the sentence: nothing told
    # another kind, the same name: one place named two ways (``Lapangan`` /
    # ``Taman Siring Laut``); a number already told SD 2 from SMP 2
    return 1 if same else -1


# the words that tell places of one kind and one town apart
_QUALIFIERS = frozenset(
    {"inpres", "sentral", "induk", "baru", "lama", "negeri", "swasta"}
    | {"modern", "tradisional", "terpadu"}
)


def _initials(short: str, words: list[str]) -> bool:
    """True when ``short`` (2-4 letters) is written of the initials of a
    name of two words or more (``gti`` / ``griya telukjambe [indah]``: the
    name read may have lost its last word)."""
    if not 2 <= len(short) <= 4 or len(words) < 2 or not short.isalpha():
        return False
    initials = "".join(w[0] for w in words if not w.isdigit())
    # at most one initial more than the words read (``batu`` is no
    # abbreviation of ``barat area``)
    return (
        len(initials) >= 2
        and len(short) <= len(initials) + 1
        and short.startswith(initials)
    )


def _second_name_differs(a: list[str], b: list[str]) -> bool:
    """Two village names of two words whose first words agree and whose
    second words are two other names (not a word of the sentence)."""
    a = [w for w in a if not w.isdigit()]
    b = [w for w in b if not w.isdigit()]
    if len(a) < 2 or len(b) < 2 or not _word_match(a[0], b[0]):
        return False
    x, y = a[1], b[1]
    if _word_match(x, y) or x in _GENERIC_NAME or y in _GENERIC_NAME:
        return False
    return _looks_like_name(x) and _looks_like_name(y)


def _numbered_word(word: str) -> bool:
    return word.isdigit() or (not word.isalpha() and word[:1].isalpha())


def _second_word_differs(a: list[str], b: list[str]) -> bool:
    """True for two names of two words whose first words agree and whose
    second words differ, one of them a generic word the comparison of
    distinctive words skips: ``loa raya`` / ``loa duri`` (many villages
    share a first word; ``raya`` still names one of them). Two distinctive
    second words are not compared: the second word is often a word of the
    sentence (``dermaga stagen pemberitahuan``)."""
    a = [w for w in a if not w.isdigit()]
    b = [w for w in b if not w.isdigit()]
    if len(a) < 2 or len(b) < 2 or not _word_match(a[0], b[0]):
        return False
    x, y = a[1], b[1]
    if (x in _GENERIC_NAME) == (y in _GENERIC_NAME) or _word_match(x, y):
        return False
    if x.startswith(y) or y.startswith(x):
        # ``tanjungpandan`` / ``tanjung pandan``: one name written together
        return False
    return _looks_like_name(x) and _looks_like_name(y)


def _compare_places(
    mine: Profile, theirs: Profile, tag: str, explain: bool = True
) -> tuple[int, str]:
    """(+1 same, -1 different, 0 unknown) for the places tagged ``tag``, and
    (when ``explain``) what was compared. Numbered places (``n:``: RT, RW,
    km, dusun, nomor) compare number by number of the same kind: any that
    differs decides."""
    a = mine.by_tag.get(tag, [])
    b = theirs.by_tag.get(tag, [])
    if not a or not b:
        if tag != "n:":
            # named by one, its name in the other's words without the
            # ``jalan``/``desa`` before it: ``perempatan a yani pemuda``
            names, other = (a, theirs) if a else (b, mine)
            for name in names:
                words = _distinct_words(_bare(name))
                if (
                    words
                    and len(words[0]) >= 4
                    and words[0] in other.tokens
                    and not _direction_missing(_bare(name), other)
                ) or (tag == "j:" and _street_initials("j:" + name) in other.tokens):
                    shown = f"{_shown(name)} (disebut tanpa kata penanda)"
                    return 1, shown if explain else ""
        return 0, ", ".join(map(_shown, a or b)) if explain else ""
    if tag == "d:":
        # a dusun's name (``krajan``, the same in many desa) tells nothing
        # when both also name their desa: those must agree
        a, b = _without_dusun(a, mine), _without_dusun(b, theirs)
    verdict = -1
    if tag == "n:":
        numbers = dict(x.split("=") for x in b)
        verdict = 0
        for x in a:
            kind, number = x.split("=")
            if kind in numbers:
                if numbers[kind] != number:
                    verdict = -1
                    break
                verdict = 1
    else:
        village = tag == "d:"
        for x in a:
            for y in b:
                verdict = max(verdict, _same_name(x, y, village))
                if verdict > 0:
                    if not explain:
                        return 1, ""
                    same = _shown(x) if x == y else f"{_shown(x)} ~ {_shown(y)}"
                    return 1, same
        if verdict < 0 and village and _kecamatan_second(a, b, mine, theirs):
            # ``desa lakuan tolitoli`` / ``desa lakuan dakopamean`` where the
            # first also writes ``kecamatan dakopamean``: one desa, each
            # followed by another of its areas
            return 1, f"{', '.join(map(_shown, a))} ~ {', '.join(map(_shown, b))}"
        if (
            verdict < 0
            # ``SD 3 Kelet`` / ``SD 4 Kelet``: numbered neighbours, whatever
            # other word they share
            and not _numbers_differ(a, b)
            and (found := _named_elsewhere(a, b, theirs, mine))
        ):
            # ``trotoar dago … jalan kaki``: one report's street is in the
            # other's words, the other's "street" a word of the sentence
            return 1, f"{_shown(found)} (disebut tanpa kata penanda)"
    if not explain:
        return verdict, ""
    shown_a, shown_b = ", ".join(map(_shown, a)), ", ".join(map(_shown, b))
    if verdict > 0:  # numbers
        return 1, ", ".join(_shown(x) for x in a if x in b)
    return verdict, f"{shown_a} / {shown_b}"


def _kecamatan_second(
    a: list[str], b: list[str], mine: Profile, theirs: Profile
) -> bool:
    """True when two village names share their first word and the second
    word of one is among the other report's words outside its village
    names: the kecamatan or regency a reporter wrote after the desa."""
    for xs, ys, other in ((a, b, theirs), (b, a, mine)):
        inside = {w for name in ys for w in _bare(name).split()}
        for x in xs:
            wx = _bare(x).split()
            if len(wx) != 2 or not _looks_like_name(wx[1]) or wx[1] in inside:
                continue
            if wx[1] not in other.tokens:
                continue
            for y in ys:
                wy = _bare(y).split()
                if wy and _word_match(wx[0], wy[0]):
                    return True
    return False


def _numbers_differ(a: list[str], b: list[str]) -> bool:
    """True when a name of one side and one of the other, of one kind,
    both carry a number and the numbers differ (``SMP 1`` / ``SMPN 2``)."""
    for x in a:
        kind_x = x.partition(" ")[0] if x[:1] == "@" else ""
        num_x = [w for w in x.split() if _numbered_word(w)][:1]
        if not num_x:
            continue
        for y in b:
            kind_y = y.partition(" ")[0] if y[:1] == "@" else ""
            num_y = [w for w in y.split() if _numbered_word(w)][:1]
            if kind_x == kind_y and num_y and num_x != num_y:
                return True
    return False


def _without_dusun(names: list[str], profile: Profile) -> list[str]:
    dusun = {p[6:] for p in profile.by_tag.get("n:", ()) if p.startswith("dusun=")}
    if not dusun:
        return names
    rest = [x for x in names if x not in dusun]
    return rest or names


def _named_elsewhere(
    a: list[str], b: list[str], theirs: Profile, mine: Profile
) -> str | None:
    """A name of one side (its first distinctive word, 4+ letters) among
    the other side's words but not in that side's names of this kind (a
    name of two words there is another place: ``oesapa barat`` /
    ``oesapa selatan``)."""
    for names, others, other in ((a, b, theirs), (b, a, mine)):
        inside = {w for name in others for w in _bare(name).split()}
        # a word the other report qualifies as another place (``rambah
        # hilir`` after its desa: the kecamatan) is no unmarked name there
        inside |= {p[2:].partition("~")[0] for p in other.places if "~" in p}
        for name in names:
            words = _distinct_words(_bare(name))
            if (
                words
                and len(words[0]) >= 4
                and words[0] in other.tokens
                and words[0] not in inside
                and not _direction_missing(_bare(name), other)
            ):
                return name
    return None


def _bare(name: str) -> str:
    """A place's name without its landmark kind (``@masjid``)."""
    return name.partition(" ")[2] if name[:1] == "@" else name


def _shown(name: str) -> str:
    return name.lstrip("@").replace("=", " ")


_PREFIXES: tuple[str, ...] = (
    *("meng", "meny", "mem", "men", "me", "peng", "peny", "pem", "pen"),
    *("per", "pe", "ber", "ter", "di", "ke", "ng"),
)
_SUFFIXES = ("nya", "kan", "an", "lah")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A light Indonesian stemmer: one suffix and one prefix off, a stem of
    at least four letters kept (``pengurusan`` → ``urus``, ``ngurus`` →
    ``urus``). Crude but the same on both sides of a pair."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            return word[len(prefix) :]
    return word


def _content(a: Profile, b: Profile) -> float:
    """The share of the shorter report's plain word stems the other holds:
    what two reports say beyond their places, in any words the problem
    table may not know (``tutup``, ``offline``, ``seragam``)."""
    sa, sb = a.stems, b.stems
    shared = len(sa & sb)
    if shared < CONTENT_WORDS or (
        shared < CONTENT_WORDS_ALONE
        and not (a.objects or a.states or b.objects or b.states)
    ):
        return 0.0
    return shared / min(len(sa), len(sb))


def _trigrams(words: Iterable[str]) -> set[str]:
    # one pass over the words joined: each word padded by a space each side
    text = " " + "  ".join(sorted(words)) + " "
    return {text[i : i + 3] for i in range(len(text) - 2)} - {"   "}


@dataclass(frozen=True)
class Profile:
    """What the paraphrase score reads of one report: its places, its
    problem concepts, its places' keys (:func:`place_keys`) and all its key
    tokens. The index keeps the profiles of its recent candidates: what is
    derived from them is computed once (no ``slots``: cached properties)."""

    places: tuple[str, ...]
    objects: frozenset[str]
    states: frozenset[str]
    keys: frozenset[str]
    tokens: frozenset[str]

    @cached_property
    def by_tag(self) -> dict[str, list[str]]:
        """The names of its places by tag (``j:``, ``m:``, ``d:``, ``n:``),
        without the tag."""
        out: dict[str, list[str]] = {}
        for place in self.places:
            out.setdefault(place[:2], []).append(place[2:])
        return out

    @cached_property
    def stems(self) -> frozenset[str]:
        """Its plain words without affixes (``membentak`` → ``bentak``,
        ``dibagikan`` → ``bagi``), 3+ letters: what the content part
        compares, whatever the problem table knows."""
        return frozenset(s for s in map(_stem, self.words - _MARKERS) if len(s) > 2)

    @cached_property
    def grams(self) -> set[str]:
        """The character trigrams of its :attr:`words`."""
        return _trigrams(self.words)

    @classmethod
    def of(cls, keys: Sequence[str], known: frozenset[str] = frozenset()) -> Profile:
        """The profile of a report from its key tokens in text order."""
        return cls.from_traits(traits_of(keys, known), keys)

    @classmethod
    def from_traits(cls, traits: tuple[str, ...], keys: Iterable[str]) -> Profile:
        """The profile of a report from its :func:`traits_of` (what the
        index keeps per case) and its key tokens in any order."""
        places = tuple(t for t in traits if t[1] == ":")
        objects = frozenset(t[3:] for t in traits if t[:3] == "#o:")
        states = frozenset(t[3:] for t in traits if t[:3] == "#s:")
        exact = frozenset(t for t in traits if t[0] == "*" or t[:2] == "n:")
        return cls(places, objects, states, exact, frozenset(keys))

    @cached_property
    def words(self) -> frozenset[str]:
        """Its plain words: neither a place's name nor a number (what the
        spelling part compares)."""
        named = {w for p in self.places for w in p[2:].split()}
        return frozenset(
            t
            for t in self.tokens
            if len(t) > 1 and not t.isdigit() and t not in named and t[0] != "^"
        )


def traits_of(
    keys: Sequence[str], known: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """What a report names, from its key tokens in text order: its places
    (:func:`places_of`), its problem concepts (``#o:water``, ``#s:dirty``)
    and its places' keys (``*diponegoro``, :func:`place_keys`), interned.
    The index keeps this per case: the key it stores is sorted for the
    scorer, and places need the order."""
    spans: list[tuple[int, int]] = []
    places = places_of(keys, known, spans)
    words = keys
    if spans:
        words = [
            t
            for i, t in enumerate(_place_tokens(keys))
            if not any(a <= i < b for a, b in spans)
        ]
    found = _concept_tags(words)
    if "jalan" in keys and _ROAD not in found:
        found |= _road_itself(keys)
    concepts = sorted(found)
    if not places:
        return tuple(concepts)
    exact = sorted(k for k in place_keys(places) if k[0] == "*")
    return (*places, *concepts, *exact)


_ROAD = "#o:road"


def _road_itself(keys: Sequence[str]) -> set[str]:
    """``jalan`` followed by the kind of road (``jalan desa``, ``jalan
    kampung``) is the road itself, not a street's name. (Not ``jalan
    berlubang``: a street's report says ``jalan`` before its name anyway,
    and its state already tells the problem.)"""
    for i, token in enumerate(keys[:-1]):
        if token == "jalan" and (keys[i + 1] in _VILLAGE or keys[i + 1] in _LANDMARK):
            # ``jalan menuju pantai Kelingking``: the road to a landmark
            return {_ROAD}
    return set()


@dataclass(frozen=True, slots=True)
class _Verdicts:
    """The comparison of two profiles the score is made of."""

    places: dict[str, tuple[int, str]]  # code → (verdict, detail)
    objects: int  # +1 a concept in common, -1 none in common, 0 unknown
    states: int
    trigrams: float
    content: float
    one_sided: float  # kinds of place (each numbered kind apart) one side lacks
    near: bool = False  # shared coordinates within the near distance

    @property
    def too_few_shared(self) -> bool:
        """The details rule of the word path, for places: when the places
        only one report names are as many as those both name (or more), one
        street in common says too little (``jalan Pinus`` is not ``jalan
        Pinus nomor 4 desa Berangas``). Coordinates a few metres apart
        waive it: the place is one."""
        if self.near:
            # a location sent with the words (or alone, a WhatsApp
            # location): the distance, not a place one report names, decides
            return False
        shared = sum(v > 0 for v, _ in self.places.values())
        return self.one_sided >= shared

    @property
    def shares_place(self) -> bool:
        """A place in common (by name or by coordinates), and the places
        only one report names are fewer."""
        named = any(v > 0 for v, _ in self.places.values())
        return (named or self.near) and not self.too_few_shared

    @property
    def places_agree(self) -> bool:
        # coordinates a few metres apart are a place both name
        verdicts = [v for v, _ in self.places.values()]
        return (1 in verdicts or self.near) and -1 not in verdicts

    @property
    def places_conflict(self) -> bool:
        return any(v < 0 for v, _ in self.places.values())

    @property
    def problem_agree(self) -> bool:
        return 1 in (self.objects, self.states) and -1 not in (
            self.objects,
            self.states,
        )


_PLACE_TAGS = (("street", "j:"), ("landmark", "m:"), ("village", "d:"), ("rt", "n:"))
_PLACE_CODES = tuple(code for code, _ in _PLACE_TAGS)
_CHEAPEST_FIRST = (
    ("rt", "n:"),
    ("village", "d:"),
    ("street", "j:"),
    ("landmark", "m:"),
)
_LABELS = {
    "bias": "dasar",
    "street": "jalan/gang",
    "landmark": "tempat penanda (masjid, sekolah, pasar …)",
    "village": "desa/kelurahan",
    "rt": "RT/RW, km, dusun, nomor",
    "object": "yang dikeluhkan",
    "state": "keadaannya",
    "places_agree": "semua tempat yang disebut keduanya cocok",
    "places_conflict": "ada tempat yang berbeda",
    "problem_agree": "masalahnya cocok",
    "trigrams": "kemiripan ejaan (trigram huruf)",
    "content": "kata isi yang sama (di luar nama tempat)",
    "time": "selang waktu",
    "coordinates": "jarak titik lokasi",
    "again": "kejadian berulang",
    "details": "aturan rincian",
}


def _concepts(mine: frozenset[str], theirs: frozenset[str]) -> int:
    if (_FIXED in mine) != (_FIXED in theirs):
        # a report that the problem was fixed is no second report of it,
        # whatever else it names
        return -1
    if mine & theirs:
        return 1
    if _related(mine, theirs):
        # ``air meluap`` / ``banjir``: one event named by two concepts of
        # one family; neither the same nor different
        return 0
    # a service (``pelayanan``, ``petugas``) is what any office gives: it
    # agrees with a report naming the service's own object, never differs
    mine, theirs = mine - _GENERIC_CONCEPTS, theirs - _GENERIC_CONCEPTS
    return -1 if mine and theirs else 0


_FIXED = "fixed"
# concepts that name one event from different sides: water overflowing a
# drain is a flood, a blocked drain floods the street
_FAMILIES = (
    frozenset({"water", "flood", "drain"}),
    frozenset({"blocked", "flooded", "leak"}),
    frozenset({"money", "charged", "aid"}),
)


def _related(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    """True when every concept of both sides has a relative on the other
    side (:data:`_FAMILIES`)."""
    if not mine or not theirs:
        return False
    for family in _FAMILIES:
        if mine & family and theirs & family:
            mine, theirs = mine - family, theirs - family
    return not mine and not theirs


_GENERIC_CONCEPTS = frozenset({"service"})


def _verdicts(
    a: Profile, b: Profile, explain: bool, grams: bool = True, near: bool = False
) -> _Verdicts:
    places = {code: _compare_places(a, b, tag, explain) for code, tag in _PLACE_TAGS}
    if near:
        places = {code: _overridden(v) for code, v in places.items()}
    cosine = 0.0
    if grams:
        ga, gb = a.grams, b.grams
        cosine = len(ga & gb) / math.sqrt(len(ga) * len(gb)) if ga and gb else 0.0
    return _Verdicts(
        places,
        _concepts(a.objects, b.objects),
        _concepts(a.states, b.states),
        cosine,
        _content(a, b) if grams else 0.0,
        _one_sided(a, b, places),
        near,
    )


def _overridden(verdict: tuple[int, str]) -> tuple[int, str]:
    """A place the words name differently, when the shared coordinates are
    a few metres apart: the words are wrong (``ke jalan bahaya``: a word of
    the sentence read as a street's name), the place is one."""
    if verdict[0] >= 0:
        return verdict
    return 0, verdict[1] + " (titik lokasi berdekatan: diabaikan)" if verdict[1] else ""


def _one_sided(a: Profile, b: Profile, places: dict[str, tuple[int, str]]) -> float:
    """How many specific places only one of the two names, among those not
    matched otherwise: a desa/kelurahan, and each numbered kind named as
    such (RT, RW, km, dusun, nomor, blok; not a bare number after a street's
    name, which may be anything). A landmark or a street named by one report
    only is common in other words (one names the mosque, the other the
    street) and does not count. RT and RW are one address, and half a
    place: a formal letter gives them, a chat of the same event seldom."""
    count = 0.0
    if places["village"][0] == 0:
        has_a = any(p.startswith("d:") for p in a.places)
        count += has_a != any(p.startswith("d:") for p in b.places)
    if places["rt"][0] == 0:
        kinds_a = {_numbered_kind(p, b) for p in a.places if p.startswith("n:")}
        kinds_b = {_numbered_kind(p, a) for p in b.places if p.startswith("n:")}
        one_sided = (kinds_a ^ kinds_b) & _NUMBERED
        count += len(one_sided - _ADDRESS) + 0.5 * bool(one_sided & _ADDRESS)
    return count


_ADDRESS = frozenset({"rt", "rw"})


def _numbered_kind(place: str, other: Profile) -> str:
    """The kind of a numbered place (``rt``, ``dusun`` …), or ``""`` for a
    dusun whose name the other report holds without the word ``dusun``."""
    kind, _, value = place[2:].partition("=")
    if kind == "dusun" and value in other.tokens:
        return ""
    if kind == "blok" and not value.isdigit():
        # a block's letter code (``Blok C``) is a component one report may
        # leave out, like a tower's
        return ""
    return kind


def features(a: Profile, b: Profile) -> dict[str, float]:
    """The fitted features of a pair (what ``bench/paraphrase.py`` fits
    :data:`WEIGHTS` on): each 0/1 indicator or a similarity in [0, 1]."""
    return _features(_verdicts(a, b, explain=False))


def _features(v: _Verdicts) -> dict[str, float]:
    out = {
        "bias": 1.0,
        "places_agree": float(v.places_agree),
        "places_conflict": float(v.places_conflict),
        "problem_agree": float(v.problem_agree),
        "trigrams": v.trigrams,
    }
    verdicts = {code: verdict for code, (verdict, _) in v.places.items()}
    verdicts.update(object=v.objects, state=v.states)
    for code, verdict in verdicts.items():
        out[code + "_same"] = float(verdict > 0)
        out[code + "_diff"] = float(verdict < 0)
    return {name: out.get(name, 0.0) for name in WEIGHTS}


def _context(
    days_apart: float,
    window_days: float,
    km_apart: float | None,
    near_km: float = NEAR_KM,
    far_km: float = FAR_KM,
    again: bool = False,
) -> list[tuple[str, str, float]]:
    """The parts set by hand: time between the reports (more when one says
    the problem is back), distance of their coordinates (code, detail,
    logits)."""
    out = []
    if days_apart > 0:
        share = min(days_apart / window_days, 1.0) if window_days > 0 else 1.0
        out.append(("time", f"{days_apart:.1f} hari", -TIME_WEIGHT * share))
    if again and days_apart >= RECUR_DAYS:
        out.append(("again", "terulang lagi setelah seminggu atau lebih", RECUR_WEIGHT))
    if km_apart is not None:
        if km_apart <= near_km:
            value, detail = NEAR_WEIGHT, f"{_metres(km_apart)}: tempat yang sama"
        elif km_apart >= far_km:
            value, detail = FAR_WEIGHT, f"{_metres(km_apart)}: tempat lain"
        else:
            value, detail = 0.0, _metres(km_apart)
        out.append(("coordinates", detail, value))
    return out


def _metres(km: float) -> str:
    return f"{km * 1000:,.0f} m".replace(",", ".") if km < 10 else f"{km:,.1f} km"


def _near(km_apart: float | None, near_km: float) -> bool:
    return km_apart is not None and km_apart <= near_km


def logit(
    a: Profile,
    b: Profile,
    *,
    days_apart: float = 0.0,
    window_days: float = 30.0,
    km_apart: float | None = None,
    near_km: float = NEAR_KM,
    far_km: float = FAR_KM,
) -> tuple[float, bool]:
    """The score of two reports in logits and whether they share a place:
    the sum of :func:`components`, without building its words (the index
    calls this on its candidates). A pair that cannot reach
    :data:`THRESHOLD` is left early: its score is then only a bound below
    the threshold. Coordinates within ``near_km`` are a place in common
    (both texts may name none), from ``far_km`` another place."""
    objects, states = _concepts(a.objects, b.objects), _concepts(a.states, b.states)
    problem = _PROBLEM_PART[objects, states] + _CONTENT_MAX[objects, states]
    context = _context_value(
        days_apart, window_days, km_apart, near_km, far_km, _again(a, b)
    )
    near = _near(km_apart, near_km)
    bound = WEIGHTS["bias"] + problem + context + _BEST_PLACES_AND_SPELLING
    if bound < THRESHOLD_LOGIT or not (near or keyed(a, b)):
        return min(bound, THRESHOLD_LOGIT - 1.0), False
    # places one by one, the cheapest first; each lowers the bound (most
    # hard negatives differ in one place and leave here)
    conflict = False
    places: dict[str, tuple[int, str]] = {}
    for code, tag, gain, loss in _CHEAPEST_FIRST_WEIGHTS:
        verdict = _compare_places(a, b, tag, explain=False)
        if near and verdict[0] < 0:
            verdict = (0, "")
        places[code] = verdict
        if verdict[0] <= 0:
            bound -= gain
        if verdict[0] < 0:
            bound += loss
            if not conflict:
                conflict = True
                bound += _CONFLICT_STEP
        if bound < THRESHOLD_LOGIT:
            return THRESHOLD_LOGIT - 1.0, False
    v = _Verdicts(
        {code: places[code] for code, _ in _PLACE_TAGS},
        objects,
        states,
        0.0,
        0.0,
        _one_sided(a, b, places),
        near,
    )
    z = sum(WEIGHTS[name] * value for name, value in _features(v).items())
    z += context
    shared = v.shares_place
    # the wording parts are the dearest: only when they can still matter
    fallback = _CONTENT_MAX[objects, states]
    if z + _BEST_SPELLING + fallback >= THRESHOLD_LOGIT and shared:
        if fallback:
            z += _content_part(objects, states, _content(a, b))
        ga, gb = a.grams, b.grams
        if ga and gb:
            z += (
                WEIGHTS.get("trigrams", 0.0)
                * len(ga & gb)
                / math.sqrt(len(ga) * len(gb))
            )
    return z, shared


def _context_value(
    days_apart: float,
    window_days: float,
    km_apart: float | None,
    near_km: float,
    far_km: float,
    again: bool = False,
) -> float:
    """The sum of :func:`_context`'s logits, without its words."""
    value = 0.0
    if days_apart > 0:
        share = min(days_apart / window_days, 1.0) if window_days > 0 else 1.0
        value -= TIME_WEIGHT * share
    if again and days_apart >= RECUR_DAYS:
        value += RECUR_WEIGHT
    if km_apart is not None:
        if km_apart <= near_km:
            value += NEAR_WEIGHT
        elif km_apart >= far_km:
            value += FAR_WEIGHT
    return value


def _content_part(objects: int, states: int, content: float) -> float:
    """What the content words in common add where the problem table is
    silent: each unknown verdict (object, state) counted as the same, and
    the problem as agreeing, in the share :data:`CONTENT_FULL` sets."""
    if content < CONTENT_MIN or (objects and states):
        return 0.0
    w = WEIGHTS.get
    value = 0.0
    if not objects:
        value += w("object_same", 0.0)
    if not states:
        value += w("state_same", 0.0)
    if -1 not in (objects, states) and 1 not in (objects, states):
        value += w("problem_agree", 0.0)
    return value * min(1.0, content / CONTENT_FULL)


def _again(a: Profile, b: Profile) -> bool:
    """One of the two says the problem is back (``mati lagi``)."""
    return RECURRED in a.tokens or RECURRED in b.tokens


def _problem_part(objects: int, states: int) -> float:
    w = WEIGHTS.get
    value = 0.0
    for code, verdict in (("object", objects), ("state", states)):
        if verdict > 0:
            value += w(code + "_same", 0.0)
        elif verdict < 0:
            value += w(code + "_diff", 0.0)
    if 1 in (objects, states) and -1 not in (objects, states):
        value += w("problem_agree", 0.0)
    return value


# the problem's part of the score for each (objects, states) verdict, and
# the most the places and the spelling can add: bounds for leaving early
_PROBLEM_PART = {(o, st): _problem_part(o, st) for o in (-1, 0, 1) for st in (-1, 0, 1)}
_CONTENT_MAX = {
    (o, st): _content_part(o, st, 1.0) for o in (-1, 0, 1) for st in (-1, 0, 1)
}
# per place, cheapest first: what a place not the same takes from the
# bound, what a different one adds; a first conflict's change
_CHEAPEST_FIRST_WEIGHTS = tuple(
    (
        code,
        tag,
        max(WEIGHTS.get(code + "_same", 0.0), 0.0),
        WEIGHTS.get(code + "_diff", 0.0),
    )
    for code, tag in _CHEAPEST_FIRST
)
_CONFLICT_STEP = WEIGHTS.get("places_conflict", 0.0) - max(
    WEIGHTS.get("places_agree", 0.0), 0.0
)
_BEST_PLACES_AND_SPELLING = sum(
    max(v, 0.0)
    for k, v in WEIGHTS.items()
    if k.startswith(("places_", "trigrams", *(c + "_" for c in _PLACE_CODES)))
)
_BEST_SPELLING = max(WEIGHTS.get("trigrams", 0.0), 0.0)


def components(
    a: Profile,
    b: Profile,
    *,
    days_apart: float = 0.0,
    window_days: float = 30.0,
    km_apart: float | None = None,
    near_km: float = NEAR_KM,
    far_km: float = FAR_KM,
) -> list[Component]:
    """Each part of the paraphrase score of two reports, with what was found
    (in Indonesian, for staff) and its contribution in logits; their sum is
    :func:`probability`'s input."""
    w = WEIGHTS
    v = _verdicts(a, b, explain=True, near=_near(km_apart, near_km))
    out = [Component("bias", _LABELS["bias"], "", w["bias"])]
    for code, (verdict, detail) in v.places.items():
        out.append(_part(code, verdict, detail))
    for code, verdict, mine, theirs in (
        ("object", v.objects, a.objects, b.objects),
        ("state", v.states, a.states, b.states),
    ):
        if verdict > 0:
            detail = ", ".join(_concept_words(mine & theirs))
        elif verdict < 0:
            shown_a, shown_b = _concept_words(mine), _concept_words(theirs)
            detail = f"{', '.join(shown_a)} / {', '.join(shown_b)}"
        else:
            detail = ", ".join(_concept_words(mine or theirs))
        out.append(_part(code, verdict, detail))
    if v.places_conflict:
        codes = [_LABELS[c] for c, (x, _) in v.places.items() if x < 0]
        out.append(_flag("places_conflict", "; ".join(codes)))
    elif v.places_agree:
        codes = [_LABELS[c] for c, (x, _) in v.places.items() if x > 0]
        codes += [_LABELS["coordinates"]] if v.near else []
        out.append(_flag("places_agree", "; ".join(codes)))
    if v.problem_agree:
        out.append(_flag("problem_agree", ""))
    if any(x > 0 for x, _ in v.places.values()) and not (v.near or keyed(a, b)):
        out.append(
            Component(
                "details",
                _LABELS["details"],
                "tidak ada nama tempat yang persis sama: tidak ditautkan",
                0.0,
            )
        )
    elif v.too_few_shared and (v.near or any(x > 0 for x, _ in v.places.values())):
        out.append(
            Component(
                "details",
                _LABELS["details"],
                "tempat yang hanya disebut satu laporan sama banyak atau lebih "
                "dari tempat yang sama: tidak ditautkan",
                0.0,
            )
        )
    out.append(
        Component(
            "trigrams",
            _LABELS["trigrams"],
            f"{v.trigrams:.2f}",
            round(w.get("trigrams", 0.0) * v.trigrams, 3),
        )
    )
    shared_stems = sorted(a.stems & b.stems)
    out.append(
        Component(
            "content",
            _LABELS["content"],
            f"{v.content:.2f}"
            + (f" ({', '.join(shared_stems[:6])})" if shared_stems else ""),
            round(_content_part(v.objects, v.states, v.content), 3),
        )
    )
    for code, detail, value in _context(
        days_apart, window_days, km_apart, near_km, far_km, _again(a, b)
    ):
        out.append(Component(code, _LABELS[code], detail, round(value, 3)))
    return out


def _flag(code: str, detail: str) -> Component:
    return Component(code, _LABELS[code], detail, WEIGHTS.get(code, 0.0))


def _part(code: str, verdict: int, detail: str) -> Component:
    if verdict > 0:
        return Component(
            code, _LABELS[code], "sama: " + detail, WEIGHTS.get(code + "_same", 0.0)
        )
    if verdict < 0:
        return Component(
            code, _LABELS[code], "berbeda: " + detail, WEIGHTS.get(code + "_diff", 0.0)
        )
    shown = f"hanya satu laporan: {detail}" if detail else "tidak disebut"
    return Component(code, _LABELS[code], shown, 0.0)


# the concepts of problems_id.tsv as staff read them
_CONCEPT_WORDS = {
    "road": "jalan", "bridge": "jembatan", "water": "air", "power": "listrik",
    "streetlight": "lampu jalan", "waste": "sampah", "drain": "saluran/got",
    "flood": "banjir", "tree": "pohon", "mosquito": "nyamuk/DBD",
    "animal": "hewan", "noise": "kebisingan", "document": "dokumen",
    "health": "kesehatan", "school": "sekolah", "parking": "parkir",
    "vendor": "pedagang", "gas": "gas", "signal": "sinyal", "fire": "asap/api",
    "transport": "angkutan", "traffic": "lalu lintas", "building": "bangunan",
    "broken": "rusak", "off": "mati/tidak mengalir", "dirty": "kotor/keruh",
    "leak": "bocor", "blocked": "tersumbat", "piled": "menumpuk",
    "flooded": "tergenang", "fallen": "tumbang", "dark": "gelap",
    "noisy": "bising", "smelly": "bau", "charged": "pungutan/mahal",
    "scarce": "langka", "slow": "lambat", "loose": "berkeliaran",
    "breeding": "berkembang biak", "burning": "terbakar", "missing": "hilang",
    "weak": "lemah", "service": "pelayanan", "aid": "bantuan sosial",
    "money": "uang/pungutan", "landslide": "longsor", "closed": "tutup",
    "rude": "kasar", "fixed": "sudah beres", "toilet": "toilet/MCK",
}  # fmt: skip


def _concept_words(concepts: Iterable[str]) -> list[str]:
    return sorted(_CONCEPT_WORDS.get(c, c) for c in concepts)


def probability(parts: Iterable[Component] | float) -> float:
    """The calibrated probability that two reports are one event, from
    their components or a :func:`logit`."""
    z = parts if isinstance(parts, float) else sum(c.contribution for c in parts)
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def shares_place(parts: Iterable[Component]) -> bool:
    """True when the two reports name at least one place in common (a link
    in other words needs one: the problem alone is not an event), and the
    places only one of them names are fewer (:attr:`_Verdicts.too_few_shared`)."""
    parts = list(parts)
    if any(c.code == "details" for c in parts):
        return False
    return any(
        (c.code in _PLACE_CODES and c.detail.startswith("sama"))
        or (c.code == "coordinates" and c.contribution > 0)
        for c in parts
    )


def linked(parts: Sequence[Component]) -> bool:
    """The verdict: one event when the score reaches :data:`THRESHOLD` and a
    place is shared."""
    return probability(parts) >= THRESHOLD and shares_place(parts)


def compare_texts(
    a: str, b: str, known: frozenset[str] = frozenset()
) -> list[Component]:
    """The components of two raw texts (matching form is computed here):
    what the labelled set and its test score; ``known``: place names of the
    gazetteer in matching form (:func:`gazetteer_names`)."""
    from normalizer.dedupe.keys import key_tokens
    from normalizer.matching import matching_text

    pa = Profile.of(key_tokens(matching_text(a)), known=known)
    pb = Profile.of(key_tokens(matching_text(b)), known=known)
    return components(pa, pb)


def gazetteer_names(names: Iterable[str]) -> frozenset[str]:
    """Place names (a gazetteer's desa, kelurahan and kecamatan, aliases
    included) in the matching form :func:`places_of` looks them up in: one
    or two key tokens."""
    from normalizer.dedupe.keys import key_tokens
    from normalizer.matching import matching_text

    out = set()
    for name in names:
        keys = key_tokens(matching_text(name))
        if 1 <= len(keys) <= 2:
            out.add(" ".join(keys))
    # a word that begins a longer name is ambiguous alone (``kotabaru`` is
    # the town, ``kotabaru hilir`` a kelurahan of it)
    firsts = {name.split()[0] for name in out if " " in name}
    return frozenset(name for name in out if name not in firsts)
