"""Coordinates in the duplicate index: the distance between two shared
locations and the cases near a point.

A Telegram or WhatsApp location (later a web-form pin) says where the
problem is better than any street name: two reports of one problem a few
metres apart are worth comparing even when they name no place in common.
Only cases that carry coordinates are kept here (most do not), in cells of
a grid about as wide as the distance that counts as "near", so a lookup
reads the nine cells around a point instead of the whole window.
"""

from __future__ import annotations

import math
from array import array

EARTH_KM = 6371.0088
KM_PER_DEGREE = EARTH_KM * math.pi / 180  # along a meridian: ~111.2 km


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two ``(latitude, longitude)``
    points (haversine: exact enough from metres to the width of a regency)."""
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


class PointGrid:
    """Slots of cases with coordinates, by grid cell of ``cell_km``."""

    def __init__(self, cell_km: float) -> None:
        if cell_km <= 0:
            raise ValueError("cell_km must be positive")
        self._step = cell_km / KM_PER_DEGREE  # degrees of latitude a cell
        self._cells: dict[tuple[int, int], array[int]] = {}
        self._points: dict[int, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._points)

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self._step), math.floor(lon / self._step)

    def add(self, slot: int, point: tuple[float, float]) -> None:
        """Keep ``slot`` at ``point`` (a slot is added once)."""
        self._points[slot] = point
        cell = self._cell(*point)
        found = self._cells.get(cell)
        if found is None:
            self._cells[cell] = array("i", (slot,))
        else:
            found.append(slot)

    def point(self, slot: int) -> tuple[float, float] | None:
        """The coordinates of ``slot``, or None when it has none."""
        return self._points.get(slot)

    def near(self, point: tuple[float, float], km: float) -> list[tuple[float, int]]:
        """``(km, slot)`` of the slots within ``km`` of ``point``, nearest
        first (then the oldest slot)."""
        lat, lon = point
        row, col = self._cell(lat, lon)
        reach = math.ceil(km / KM_PER_DEGREE / self._step)
        # a degree of longitude shrinks away from the equator
        shrink = max(math.cos(math.radians(lat)), 0.01)
        wide = math.ceil(reach / shrink)
        out = []
        for r in range(row - reach, row + reach + 1):
            for c in range(col - wide, col + wide + 1):
                for slot in self._cells.get((r, c), ()):
                    d = km_between(point, self._points[slot])
                    if d <= km:
                        out.append((d, slot))
        out.sort()
        return out
