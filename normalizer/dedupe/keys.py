"""The records of duplicate linking and the text and identity keys it
compares (re-exported by :mod:`normalizer.dedupe.index`)."""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, Indel

from normalizer.matching import content_tokens, stopwords

LinkKind = Literal["same_reporter", "similar", "manual"]
_PHONE_JUNK = re.compile(r"[^\d+]")
# Courtesy words say nothing about the problem; left in, they make two
# reports of one problem look different and two problems look alike.
_FILLER = frozenset(
    {"mohon", "maaf", "mengganggu", "terima", "kasih", "tolong", "selamat"}
    | {"assalamualaikum", "warahmatullahi", "wabarakatuh", "yth", "halo", "hai"}
    | {"admin", "bapak", "ibu", "mas", "mbak", "kakak", "lapor", "segera"}
    | {"ditindaklanjuti", "tindak", "lanjut", "pagi", "siang", "sore", "malam"}
)


# Negation and aspect are stopwords, yet they turn a complaint around:
# ``air tidak keluar`` is water cut off, ``lampu sudah menyala`` a problem
# solved. Read before the stopwords go, as one word each.
# with the regional ones the slang table leaves alone: Minangkabau
# ``indak``, Madurese ``ta'``, Javanese ``ra`` (read only before a verb of
# working)
_NEGATION = frozenset({"tidak", "belum", "tak", "indak", "ta", "ra"})
# what water, power or a lamp does when it works; also a service that is
# delivered (aid ``belum cair``, a teacher ``tidak hadir``)
_WORKS = frozenset(
    {"keluar", "jalan", "mengalir", "menyala", "hidup", "masuk", "cair", "hadir"}
    | {"datang", "buka", "dibuka", "dilayani", "berfungsi", "dibagikan"}
    | {"disalurkan", "diterima", "diangkut", "jadi", "selesai", "berjalan"}
    # regional: Minangkabau ``iduik``, Madurese ``kaluar``, Kupang ``manyala``
    | {"kaluar", "iduik", "idup", "nyala", "manyala", "ngalir"}
    # Javanese ``ra teko``: the truck did not come; Sundanese ``teu hurung``
    | {"teko", "teka", "hurung"}
    # a pupil not admitted, a name not listed: the service not given
    | {"lolos", "kebagian"}
)
# with the regional words for it: Javanese ``wis``/``wes``/``sampun``,
# Minangkabau ``alah``, Madurese ``la`` (read only before a word of repair)
_DONE = frozenset({"sudah", "telah", "wis", "wes", "uwis", "sampun", "alah", "la"})
# Sundanese ``tos``/``atos``/``parantos``
_DONE |= {"tos", "atos", "parantos"}
_RESTORED = frozenset(
    {"diperbaiki", "menyala", "mengalir", "normal", "bersih", "dibersihkan"}
    | {"diangkut", "ditambal", "beres", "lancar", "hidup", "diganti", "selesai"}
    | {"dikerjakan", "diaspal", "dicor", "surut"}
    # beyond roads and water: a tree taken away, a road open again, a
    # service back, a nuisance stopped
    | {"dievakuasi", "dilewati", "dibuka", "ditangani", "dibereskan", "aman"}
    | {"ditertibkan", "dipindahkan", "dilalui", "cair", "dibagikan", "buka"}
    | {"disalurkan", "berfungsi", "dilayani", "teratasi", "tertangani"}
    # an animal caught, a tree cut up, a hole filled, a drain dredged
    | {"ditangkap", "diamankan", "dipotong", "ditebang", "ditimbun", "diurug"}
    | {"dibenahi", "dirapikan", "dikeruk", "disedot", "dinormalisasi", "dijemput"}
    | {"manyala", "nyala", "iduik", "idup", "lancar"}
    # Sundanese ``tos hurung`` (the lamp is on again)
    | {"hurung"}
    # ``sudah baik``, Manado ``so bae``
    | {"baik", "bagus"}
)
# ``sudah di perbaiki``: the prefix written apart
_RESTORED_STEM = frozenset(
    {"perbaiki", "bersihkan", "angkut", "tambal", "ganti", "kerjakan", "aspal", "cor"}
    | {"evakuasi", "tangani", "lewati", "buka", "lalui", "pindahkan"}
    | {"tangkap", "potong", "timbun", "urug", "keruk", "normalisasi"}
)
_BETWEEN = frozenset({"kembali", "lagi", "mulai", "bisa", "dapat", "normal"})
# ``katanya sudah selesai, padahal belum ada``: a repair the reporter
# disputes is none (read a few words on)
_CONTRARY = frozenset({"padahal", "tapi", "tetapi", "namun"})
_CONTRARY_REACH = 4
# ``sudah ada lagi yang jatuh``: again, not back
_CONTINUED = frozenset({"yang", "korban", "warga"})
# ``sudah tidak ada … lagi``: the nuisance is gone
_GONE = frozenset({"ada"})
# ``mati lagi``, ``kembali padam``: the problem is back, a new event when
# weeks lie between the reports (read unless the report says it was fixed)
# (and the regional words for again: Minangkabau ``baliak``, Javanese
# ``maning``/``meneh``, Madurese ``pole``, Sundanese ``deui``; ``kumat``)
_AGAIN = frozenset(
    {"lagi", "kembali", "baliak", "maning", "meneh", "pole", "deui", "kumat"}
    | {"terulang", "ulang"}
)
# ``daftar ulang``, ``ulang tahun``: not again
_NOT_AGAIN = frozenset({"daftar", "cetak", "ujian", "tahun"})
# ``masih belum ditambal``, ``sudah lapor seminggu``: the problem is still
# there, a follow-up on the same event; its ``lagi`` (``ada yang jatuh
# lagi``) is no recurrence
_STILL = frozenset({"masih"})
_REPORTED = frozenset({"lapor", "melapor", "dilaporkan", "laporan", "melaporkan"})
_REPORTED_SINCE = frozenset({"sudah", "sejak", "pernah", "dari"})
# ``mohon bantuan``: a request, not social aid
_REQUEST = frozenset({"mohon"})
_REQUESTED = frozenset({"bantuan", "bantuannya"})
RECURRED = "kambuh"
_CLOCK = frozenset({"pukul", "jam"})
# ``bukan di jalan Mawar``: what follows is denied (``bukan main``: very)
_DENIAL = "bukan"
_DENIAL_SKIP = frozenset({"di", "yang", "ke", "dari", "pada", "dekat", "depan"})
_DENIAL_IDIOM = frozenset({"main", "hanya", "cuma", "saja"})
_DENIED_MAX = 4
NOT_WORKING, RESTORED = "mati", "pulih"


def _phrases(tokens: list[str]) -> list[str]:
    """``tidak`` + a verb of working → ``mati``; ``sudah`` + a word of
    repair → ``pulih``; the words after ``bukan`` (a place or problem the
    reporter denies) dropped. Other tokens as they are."""
    if (
        _NEGATION.isdisjoint(tokens)
        and _DONE.isdisjoint(tokens)
        and _DENIAL not in tokens
        and _AGAIN.isdisjoint(tokens)
        and _REQUEST.isdisjoint(tokens)
        and _CLOCK.isdisjoint(tokens)
    ):
        return tokens
    stop = stopwords()
    out: list[str] = []
    still = False
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        nxt = tokens[i + 1] if i + 1 < n else ""
        if token in _NEGATION and nxt in _WORKS:
            out.append(NOT_WORKING)
            i += 2
            continue
        if token in _NEGATION and nxt in _RESTORED and token != "ta":
            # ``belum ditambal``: not fixed, a follow-up; the repair word
            # says nothing more
            still = True
            i += 2
            continue
        if token in _CLOCK and nxt.isdigit():
            # ``pukul 11.00``, ``jam 7``: a time of day, no number of a place
            i += 2
            while i < n and tokens[i].isdigit() and len(tokens[i]) <= 2:
                i += 1
            continue
        if token in _REQUEST and nxt in _REQUESTED:
            i += 2
            continue
        if token in _STILL:
            still = True
        if token in _REPORTED and i and tokens[i - 1] in _REPORTED_SINCE:
            still = True
        if token in _DONE:
            j = i + 1
            while j < n and tokens[j] in _BETWEEN:
                j += 1
            word = tokens[j] if j < n else ""
            if word not in _RESTORED and j > i + 1 and tokens[j - 1] in _RESTORED:
                # ``sudah normal 3 malam``: the last word passed was the repair
                j -= 1
                word = tokens[j]
            if word in _RESTORED and _CONTRARY.isdisjoint(
                tokens[j + 1 : j + 1 + _CONTRARY_REACH]
            ):
                out.append(RESTORED)
                i = j + 1
                continue
            if word == "di" and j + 1 < n and tokens[j + 1] in _RESTORED_STEM:
                out.append(RESTORED)
                i = j + 2
                continue
            if (
                word in _GONE
                and j + 1 < n
                and tokens[j + 1] in _AGAIN
                and (j + 2 >= n or tokens[j + 2] not in _CONTINUED)
            ):
                # ``solar su ada lg``: what was out of stock is back
                out.append(RESTORED)
                i = j + 2
                continue
            if word in _NEGATION and j + 1 < n and tokens[j + 1] in _GONE:
                out.append(RESTORED)
                i = j + 2
                continue
        if token == _DENIAL and nxt not in _DENIAL_IDIOM:
            j = i + 1
            while j < n and tokens[j] in _DENIAL_SKIP:
                j += 1
            k = j
            while k < n and k - j < _DENIED_MAX and tokens[k] not in stop:
                k += 1
            i = max(k, i + 1)
            continue
        out.append(token)
        i += 1
    if _again(tokens) and RESTORED not in out and not still:
        out.append(RECURRED)
    return out


def _again(tokens: list[str]) -> bool:
    if _AGAIN.isdisjoint(tokens):
        return False
    for i, token in enumerate(tokens):
        if token in _AGAIN and not (
            token == "ulang"
            and (
                (i and tokens[i - 1] in _NOT_AGAIN)
                or (i + 1 < len(tokens) and tokens[i + 1] in _NOT_AGAIN)
            )
        ):
            return True
    return False


# numbers in words after a numbered place (``kilometer tiga puluh lima``,
# ``RT tiga``): the stopwords would drop them, and a chat writes digits
_UNIT_WORDS = {
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6,
    "tujuh": 7, "delapan": 8, "sembilan": 9, "sepuluh": 10, "sebelas": 11,
}  # fmt: skip
_NUMBERED_BEFORE = frozenset({"km", "kilometer", "rt", "rw", "nomor", "blok"})


def _numbers_in_words(words: list[str]) -> list[str]:
    """``km tiga puluh lima`` → ``km 35`` (only after a numbered place)."""
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        out.append(words[i])
        if words[i] in _NUMBERED_BEFORE and i + 1 < n and words[i + 1] in _UNIT_WORDS:
            value, j = _UNIT_WORDS[words[i + 1]], i + 2
            if j < n and words[j] == "belas":
                value, j = value + 10, j + 1
            elif j < n and words[j] == "puluh":
                value, j = value * 10, j + 1
                if j < n and words[j] in _UNIT_WORDS and _UNIT_WORDS[words[j]] < 10:
                    value, j = value + _UNIT_WORDS[words[j]], j + 1
            out.append(str(value))
            i = j
            continue
        i += 1
    return out


def _roman_one(words: list[str]) -> list[str]:
    """``Dermaga Kayan I``: a lone ``i`` after a name is the number one (a
    one-letter token is dropped otherwise, and ``Kayan I`` / ``Kayan II``
    are two places)."""
    return [
        "1"
        if w == "i" and i and words[i - 1].isalpha() and len(words[i - 1]) > 2
        else w
        for i, w in enumerate(words)
    ]


# an address is a list of components: a kind word and its code. A code of
# letters (``Blok AH``, ``Tower B``, ``Blok B3``) would be dropped with the
# one-letter tokens and stopwords, so it is kept marked (``^ah``);
# :func:`normalizer.dedupe.paraphrase.places_of` reads it as the kind's code
_LETTER_CODED = frozenset({"blok", "tower", "cluster", "klaster", "gedung", "wisma"})
_LETTER_CODE = re.compile(r"^[a-z]{1,2}\d{0,3}$")
# qualifiers that come in opposite pairs: a name followed by one of them is
# another place than the same name followed by its opposite (``Kemingking
# Dalam`` / ``Kemingking Luar``, ``Dusun Ilir`` / ``Ulu``, ``Kota Baru`` /
# ``Kota Lama``); the stopwords would drop most of them, so they are kept
# marked (``^dalam``) right after a word that may be a name
OPPOSITES = {
    "dalam": "inout", "luar": "inout",
    "kecil": "size", "besar": "size", "gede": "size",
    "atas": "updown", "bawah": "updown",
    "hulu": "river", "hilir": "river", "ilir": "river", "ulu": "river",
    "udik": "river",
    "lama": "age", "baru": "age", "anyar": "age",
    "induk": "main", "pembantu": "main",
    "wetan": "eastwest", "kulon": "eastwest",
    "lor": "northsouth", "kidul": "northsouth",
}  # fmt: skip
_NOT_QUALIFIED = frozenset(
    {"hari", "minggu", "bulan", "tahun", "jam", "rumah", "lubang", "air", "uang"}
    | {"yang", "di", "ke", "dari", "lebih", "sangat", "paling", "makin", "cukup"}
    | {"jalan", "lampu", "pohon", "batu", "kayu", "pipa", "mobil", "truk", "motor"}
)


_MARKED_WORDS = _LETTER_CODED | frozenset(OPPOSITES)


def _marked(words: list[str]) -> list[str]:
    """Mark the codes of address components and the opposite qualifiers of
    names (see :data:`_LETTER_CODED`, :data:`OPPOSITES`)."""
    out = list(words)
    for i in range(1, len(words)):
        word, before = words[i], words[i - 1]
        if (
            before in _LETTER_CODED and not word.isdigit() and _LETTER_CODE.match(word)
        ) or (
            word in OPPOSITES
            and len(before) >= 4
            and before.isalpha()
            and before not in _NOT_QUALIFIED
            and before not in OPPOSITES
            and before not in stopwords()
        ):
            out[i] = "^" + word
    return out


def key_tokens(matching: str) -> list[str]:
    """The tokens dedupe compares, in order: content tokens of a matching
    text without courtesy words, negation and repair read first
    (:func:`_phrases`); numbers without leading zeros (``RT 05`` is
    ``RT 5``)."""
    out = []
    words = matching.split()
    if not _UNIT_WORDS.keys().isdisjoint(words):
        words = _numbers_in_words(words)
        matching = " ".join(words)
    if "i" in words:
        words = _roman_one(words)
        matching = " ".join(words)
    if not _MARKED_WORDS.isdisjoint(words):
        words = _marked(words)
        matching = " ".join(words)
    phrased = _phrases(words)
    if phrased is not words:
        matching = " ".join(phrased)
    for token in content_tokens(matching):
        if token in _FILLER:
            continue
        out.append((token.lstrip("0") or "0") if token.isdigit() else token)
    return out


def reporter_keys(
    channel: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    chat_id: str | None = None,
    handle: str | None = None,
) -> frozenset[str]:
    """The identity keys of a reporter: e-mail and phone are global (the same
    phone on two channels is the same person), chat ids and handles belong to
    their channel."""
    keys: set[str] = set()
    if email and "@" in email:
        keys.add("email:" + email.strip().casefold())
    if phone:
        digits = _PHONE_JUNK.sub("", phone).lstrip("+")
        if digits.startswith("0"):  # national form 0812… → 62812…
            digits = "62" + digits[1:]
        if len(digits) >= 7:
            keys.add("phone:" + digits)
    if chat_id:
        keys.add(f"chat:{channel}:{chat_id.strip()}")
    if handle:
        keys.add(f"handle:{channel}:{handle.strip().lstrip('@').casefold()}")
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class DedupeCase:
    """What dedupe needs to know about a case (built by the pipeline, or by
    :func:`normalizer.dedupe.database.case_from_row`; ``text`` is the matching
    text)."""

    id: int
    text: str
    received_at: datetime
    reporter: frozenset[str] = frozenset()
    category: str | None = None
    region: str | None = None
    tracking_no: str | None = None
    # (latitude, longitude) the reporter shared (chat location, form pin)
    location: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A decided link: the primary case's id, the score, the scorer and a
    reason a staff member can read."""

    target_id: int
    score: float
    scorer: str
    reason: str
    kind: LinkKind


@dataclass(frozen=True, slots=True)
class Candidate:
    """A case considered for a link, with its score and why it was (not)
    chosen, for ``dengar dedupe explain``."""

    id: int
    tracking_no: str | None
    score: float
    shared_weight: float  # summed rarity (idf) of the tokens shared
    verdict: str


class Identities:
    """Who is who: reporter keys joined into people (union-find), so that a
    case carrying a chat id and a phone makes both one person, and the
    cases of each person in order of ``time_of`` (then id): the
    same-reporter rule reads only those of a few hours, however many cases
    one person has (a community account may file thousands)."""

    def __init__(self, time_of: Callable[[int], float]) -> None:
        self._parent: dict[str, str] = {}
        self._cases: dict[str, list[int]] = {}
        self._time_of = time_of

    def _root(self, key: str) -> str:
        parent = self._parent.setdefault(key, key)
        while parent != self._parent[parent]:
            grand = self._parent[self._parent[parent]]
            self._parent[parent] = grand
            parent = grand
        return parent

    def _order(self, case_id: int) -> tuple[float, int]:
        return self._time_of(case_id), case_id

    def add(self, keys: Collection[str], case_id: int) -> None:
        """Join ``keys`` into one person and record ``case_id`` as theirs."""
        if len(keys) == 1:  # most reporters: one chat id, one address
            (key,) = keys
            if key not in self._parent:  # a new person
                self._parent[key] = key
                self._cases[key] = [case_id]
                return
        roots = sorted({self._root(k) for k in keys})
        if not roots:
            return
        head = roots[0]  # the smallest key: the same root whatever the order
        cases = self._cases.setdefault(head, [])
        for other in roots[1:]:
            self._parent[other] = head
            cases.extend(self._cases.pop(other, []))
        if len(roots) > 1:  # two people found to be one: their cases merged
            cases.sort(key=self._order)
        # most cases come in time order: appended
        if not cases or self._order(cases[-1]) < self._order(case_id):
            cases.append(case_id)
        else:
            bisect.insort(cases, case_id, key=self._order)

    def cases_between(
        self, keys: Iterable[str], start: float, end: float
    ) -> Iterator[int]:
        """The cases of whoever ``keys`` belong to with ``start <= time <=
        end``, in order of time, then id (read only)."""
        roots = {self._root(k) for k in keys if k in self._parent}
        runs = [self._between(self._cases.get(r, []), start, end) for r in roots]
        if len(runs) == 1:
            return runs[0]
        return heapq.merge(*runs, key=self._order)

    def _between(self, cases: list[int], start: float, end: float) -> Iterator[int]:
        time_of = self._time_of
        for at in range(bisect.bisect_left(cases, start, key=time_of), len(cases)):
            case_id = cases[at]
            if time_of(case_id) > end:
                return
            yield case_id

    def same(self, a: Iterable[str], b: Iterable[str]) -> bool:
        """True when two sets of keys belong to one known person."""
        known_a = {self._root(k) for k in a if k in self._parent}
        return bool(known_a & {self._root(k) for k in b if k in self._parent})


Scorer = Callable[..., float]


def prepared_scorer(name: str) -> tuple[Callable[[list[str]], str], Scorer]:
    """How to store key tokens for the scorer ``name``, and the function that
    scores two stored keys exactly as ``name`` scores the texts.

    ``token_sort_ratio`` sorts the tokens of both strings on every call; with
    the tokens sorted once when a case is indexed, plain ``ratio`` gives the
    same score about four times faster."""
    if name == "token_sort_ratio":
        return (lambda keys: " ".join(sorted(keys))), fuzz.ratio
    scorer: Scorer = getattr(fuzz, name)
    return " ".join, scorer


@lru_cache(maxsize=1 << 16)
def typo(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are one slip apart: a letter dropped,
    added or doubled, or two neighbours swapped (``stagen`` / ``staagen``);
    in words of 8+ letters any two edits, changed letters included
    (``sebelimbingan`` / ``sebelimbigan``). In a shorter word a changed letter
    is no slip: it most often makes another name (``batu`` / ``gatu``,
    ``kewa`` / ``keba``). Cached: the same village and street names come
    up in decision after decision."""
    if len(a) >= 8:
        return OSA.distance(a, b, score_cutoff=2) <= 2
    if len(a) != len(b):
        return Indel.distance(a, b, score_cutoff=1) <= 1
    # the same letters, one edit apart: two neighbours swapped
    return sorted(a) == sorted(b) and OSA.distance(a, b, score_cutoff=1) <= 1


class Codes:
    """Small integer codes for categories and regions (0: unknown)."""

    def __init__(self) -> None:
        self.names: list[str | None] = [None]
        self._code: dict[str, int] = {}

    def find(self, name: str | None) -> int:
        """The code of ``name``: 0 when unknown or empty, -1 when new."""
        return self._code.get(name, -1) if name else 0

    def code(self, name: str | None) -> int:
        if not name:
            return 0
        code = self._code.get(name)
        if code is None:
            code = self._code[name] = len(self.names)
            self.names.append(name)
        return code


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def slips(word: str) -> set[str]:
    """The words one slip away from ``word``: a letter dropped, added or
    doubled, or two neighbours swapped (``batusiibu`` → ``batusibu``)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    out.update(a + c + b for a, b in splits for c in _LETTERS)
    out.discard(word)
    return out


def common_slips(word: str) -> set[str]:
    """The commonest of :func:`slips`: a letter dropped or doubled, or two
    neighbours swapped; about a tenth of them, cheap enough to look up
    while deciding."""
    out = {word[:i] + word[i + 1 :] for i in range(len(word))}
    out.update(word[:i] + word[i] + word[i:] for i in range(len(word)))
    out.update(
        word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)
    )
    out.discard(word)
    return out


class SlipFinder:
    """``slips(word) & words`` for many words, without making the ~30 slips
    of each: a word's deletions and swaps are looked up in ``words``, and
    the words one letter longer come from a table of the deletions of
    ``words`` (a rebuild asks this of every word of the index)."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = set(words)
        longer: dict[str, list[str]] = {}
        for word in self._words:
            for i, letter in enumerate(word):
                if letter in _LETTERS:
                    longer.setdefault(word[:i] + word[i + 1 :], []).append(word)
        self._longer = longer

    def near(self, word: str) -> set[str]:
        """The words of the table one slip from ``word`` (see :func:`slips`)."""
        found = {
            v
            for i in range(len(word))
            if (v := word[:i] + word[i + 1 :]) in self._words
        }
        found.update(
            v
            for i in range(len(word) - 1)
            if (v := word[:i] + word[i + 1] + word[i] + word[i + 2 :]) in self._words
        )
        found.update(self._longer.get(word, ()))
        found.discard(word)
        return found
