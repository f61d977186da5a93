"""Settings for places (the gazetteer)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from config.common import StrictModel

PlaceKind = Literal["kecamatan", "desa", "kelurahan"]


class PlaceSettings(StrictModel):
    """A kecamatan, desa or kelurahan, with optional approximate coordinates.

    A desa/kelurahan names its ``kecamatan``: a case that mentions it gets
    that kecamatan as its region.
    """

    name: str = Field(min_length=2)
    kind: PlaceKind = "kecamatan"
    kecamatan: str | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    aliases: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> PlaceSettings:
        if self.kind != "kecamatan" and not self.kecamatan:
            raise ValueError(f"{self.kind} {self.name!r} needs its kecamatan")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError(f"{self.name!r}: give both latitude and longitude")
        return self


class GazetteerSettings(StrictModel):
    """The regency's places, inline or in a YAML file (``places:`` list).

    ``min_score`` is the rapidfuzz ratio (0-100) a word sequence of the text
    must reach to count as a mention; ``max_distance_km`` bounds the
    nearest-place lookup for shared coordinates.
    """

    file: Path | None = None
    places: list[PlaceSettings] = Field(default_factory=list)
    min_score: float = Field(default=90.0, ge=50, le=100)
    max_distance_km: float = Field(default=25.0, gt=0)

    @model_validator(mode="after")
    def _has_places(self) -> GazetteerSettings:
        if self.file is None and not self.places:
            raise ValueError("give a gazetteer file or a list of places")
        return self
