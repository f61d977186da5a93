"""Places: which kecamatan of the regency a complaint is about.

A case's ``region`` is a kecamatan name from the gazetteer. It comes from the
text first (a kecamatan or desa/kelurahan named exactly or with a typo, in
matching form, so ``ds. smayap`` finds Semayap), else from shared coordinates
(the nearest place with coordinates within ``max_distance_km``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import TypeAdapter, ValidationError
from rapidfuzz import fuzz, process

from config.places_settings import GazetteerSettings, PlaceSettings
from contracts.records import Location
from normalizer.matching import matching_text

_PREFIXES = ("kecamatan ", "desa ", "kelurahan ")
_FUZZY_MIN_CHARS = 6  # shorter names match exactly only: too many look-alikes
_EARTH_KM = 6371.0


class GazetteerError(ValueError):
    """The gazetteer cannot be loaded; the message says where and why."""


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """A place found for a case and how: ``text`` (exact), ``fuzzy`` (with
    its score) or ``location`` (with the distance in km)."""

    place: str
    region: str
    how: Literal["text", "fuzzy", "location"]
    score: float


@dataclass(frozen=True, slots=True)
class _Name:
    form: str  # matching form of a name or alias
    place: PlaceSettings
    region: str


class Gazetteer:
    """The regency's places, ready for matching."""

    def __init__(
        self,
        places: Sequence[PlaceSettings],
        *,
        min_score: float = 90.0,
        max_distance_km: float = 25.0,
    ) -> None:
        kecamatan = {p.name for p in places if p.kind == "kecamatan"}
        missing = sorted(
            f"{p.name} (kecamatan {p.kecamatan!r})"
            for p in places
            if p.kind != "kecamatan" and p.kecamatan not in kecamatan
        )
        if missing:
            raise GazetteerError(
                "places name a kecamatan the gazetteer does not list: "
                + ", ".join(missing)
            )
        self.places = tuple(places)
        self.min_score = min_score
        self.max_distance_km = max_distance_km
        names: list[_Name] = []
        for p in places:
            region = p.name if p.kind == "kecamatan" else str(p.kecamatan)
            for raw in (p.name, *p.aliases):
                form = matching_text(raw)
                if form:
                    names.append(_Name(form, p, region))
        # longest first: "pulau laut utara" wins over a shorter name inside it
        self._names = sorted(names, key=lambda n: (-len(n.form), n.form))
        self._by_length: dict[int, list[_Name]] = {}
        for n in self._names:
            if len(n.form) >= _FUZZY_MIN_CHARS:
                self._by_length.setdefault(len(n.form.split()), []).append(n)

    @classmethod
    def from_settings(
        cls, settings: GazetteerSettings, base_dir: Path | None = None
    ) -> Gazetteer:
        """The gazetteer of the config: its inline places and those of its
        file (relative to ``base_dir``, the config file's folder)."""
        places = list(settings.places)
        if settings.file is not None:
            path = settings.file
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            places += load_places(path)
        return cls(
            places,
            min_score=settings.min_score,
            max_distance_km=settings.max_distance_km,
        )

    def region_of(self, text: str, location: Location | None = None) -> str | None:
        """The kecamatan the text or location points at, or None."""
        found = self.place_of(text, location)
        return found.region if found else None

    def place_of(
        self, text: str, location: Location | None = None
    ) -> PlaceMatch | None:
        """The place found for a case and how it was found."""
        return self.in_text(text) or (self.nearest(location) if location else None)

    def in_text(self, text: str) -> PlaceMatch | None:
        """A place named in ``text``: exactly first, then fuzzily."""
        form = matching_text(text)
        if not form:
            return None
        padded = f" {form} "
        for name in self._names:
            for prefix in ("", *_PREFIXES):
                if f" {prefix}{name.form} " in padded:
                    return PlaceMatch(name.place.name, name.region, "text", 100.0)
        return self._fuzzy(form.split())

    def _fuzzy(self, tokens: list[str]) -> PlaceMatch | None:
        best: tuple[float, int, _Name] | None = None
        for length, names in sorted(self._by_length.items(), reverse=True):
            grams = [
                " ".join(tokens[i : i + length])
                for i in range(len(tokens) - length + 1)
            ]
            choices = [n.form for n in names]
            for gram in dict.fromkeys(grams):
                hit = process.extractOne(
                    gram, choices, scorer=fuzz.ratio, score_cutoff=self.min_score
                )
                if hit is None:
                    continue
                _, score, idx = hit
                key = (score, length, names[idx])
                if best is None or key[:2] > best[:2]:
                    best = key
        if best is None:
            return None
        score, _, name = best
        return PlaceMatch(name.place.name, name.region, "fuzzy", round(score, 1))

    def nearest(self, location: Location) -> PlaceMatch | None:
        """The place with coordinates nearest to ``location`` within
        ``max_distance_km``; desa beat their kecamatan's seat at equal distance."""
        best: tuple[float, int, PlaceSettings] | None = None
        for p in self.places:
            if p.latitude is None or p.longitude is None:
                continue
            km = _haversine(
                location.latitude, location.longitude, p.latitude, p.longitude
            )
            key = (km, 0 if p.kind != "kecamatan" else 1, p)
            if km <= self.max_distance_km and (best is None or key[:2] < best[:2]):
                best = key
        if best is None:
            return None
        km, _, place = best
        region = place.name if place.kind == "kecamatan" else str(place.kecamatan)
        return PlaceMatch(place.name, region, "location", round(km, 2))


def load_places(path: Path) -> list[PlaceSettings]:
    """The ``places:`` list of a gazetteer YAML file; every invalid entry is
    reported at once with its index."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GazetteerError(f"cannot read gazetteer {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise GazetteerError(f"gazetteer {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("places"), list):
        raise GazetteerError(
            f"gazetteer {path}: expected a mapping with a 'places' list"
        )
    try:
        return TypeAdapter(list[PlaceSettings]).validate_python(data["places"])
    except ValidationError as exc:
        problems = "; ".join(
            f"places[{'.'.join(str(p) for p in e['loc'])}]: {e['msg']}"
            for e in exc.errors()
        )
        raise GazetteerError(f"gazetteer {path}: {problems}") from exc


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(a))
