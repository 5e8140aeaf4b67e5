"""A regular lon/lat grid for gridded Level-3 fields (pure).

Cells are ``res`` degrees square with edges on multiples of ``res`` (a bbox is snapped
outwards), arrays are north-up: row 0 is the northernmost row, column 0 the westernmost. A
grid across the antimeridian has ``west > 0`` and ``east = west + nx * res > 180``; its cell
centres in :attr:`LonLatGrid.lon` are wrapped back into [-180, 180).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EARTH_RADIUS_KM", "LonLatGrid"]

#: radius of the sphere with the WGS84 ellipsoid's surface area (authalic radius)
EARTH_RADIUS_KM = 6371.0072
_SNAP = 1e-9  # tolerance (in cells) when snapping bbox edges to multiples of res


@dataclass(frozen=True)
class LonLatGrid:
    """``ny x nx`` cells of ``res`` degrees; south-west corner at (``west``, ``south``)."""

    west: float
    south: float
    res: float
    nx: int
    ny: int

    def __post_init__(self) -> None:
        if not (self.res > 0 and math.isfinite(self.res)):
            raise ValueError(f"grid resolution must be a positive number of degrees: {self.res}")
        if self.nx < 1 or self.ny < 1:
            raise ValueError(f"a grid needs at least one cell, not {self.ny} x {self.nx}")
        if not -180.0 <= self.west < 180.0:
            raise ValueError(f"grid west edge {self.west} is outside [-180, 180)")
        if self.nx * self.res > 360.0 + _SNAP * self.res:
            raise ValueError(f"a grid spans at most 360° of longitude, not {self.nx * self.res}")
        if self.south < -90.0 - _SNAP or self.north > 90.0 + _SNAP * self.res:
            raise ValueError(f"grid rows {self.south}..{self.north} leave [-90, 90]")

    @classmethod
    def from_bbox(cls, bbox: Sequence[float], res: float) -> LonLatGrid:
        """The cells covering ``bbox = (west, south, east, north)`` in degrees, edges snapped
        outwards to multiples of ``res``. ``west > east`` is a bbox across the antimeridian
        (RFC 7946), as :attr:`rs.aoi.Aoi.bbox` gives."""
        w, s, e, n = (float(v) for v in bbox)
        if not all(map(math.isfinite, (w, s, e, n))) or not s < n:
            raise ValueError(f"bbox {tuple(bbox)} needs finite values with south < north")
        if not (-180.0 <= w <= 180.0 and -180.0 <= e <= 180.0 and s >= -90 and n <= 90):
            raise ValueError(f"bbox {tuple(bbox)} is outside lon [-180, 180], lat [-90, 90]")
        if w > e:
            e += 360.0
        if w == e:
            raise ValueError(f"bbox {tuple(bbox)} has no width")
        res = float(res)
        i0 = math.floor(w / res + _SNAP)
        i1 = math.ceil(e / res - _SNAP)
        j0 = max(math.floor(s / res + _SNAP), math.ceil(-90.0 / res - _SNAP))
        j1 = min(math.ceil(n / res - _SNAP), math.floor(90.0 / res + _SNAP))
        west = i0 * res
        if west >= 180.0:
            west -= 360.0
        nx = min(i1 - i0, round(360.0 / res))
        return cls(west=west, south=j0 * res, res=res, nx=max(nx, 1), ny=max(j1 - j0, 1))

    @classmethod
    def from_aoi(cls, aoi: Any, res: float) -> LonLatGrid:
        """The grid of an area's ``bbox`` (an :class:`rs.aoi.Aoi` or anything with ``.bbox``)."""
        return cls.from_bbox(aoi.bbox, res)

    @classmethod
    def world(cls, res: float) -> LonLatGrid:
        return cls.from_bbox((-180.0, -90.0, 180.0, 90.0), res)

    @property
    def east(self) -> float:
        return self.west + self.nx * self.res

    @property
    def north(self) -> float:
        return self.south + self.ny * self.res

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north); ``east > 180`` for a grid across the antimeridian."""
        return (self.west, self.south, self.east, self.north)

    @property
    def crosses_antimeridian(self) -> bool:
        return self.east > 180.0

    @property
    def lon(self) -> np.ndarray:
        """Cell-centre longitudes (nx,), wrapped into [-180, 180)."""
        centres = self.west + (np.arange(self.nx) + 0.5) * self.res
        return (centres + 180.0) % 360.0 - 180.0

    @property
    def lat(self) -> np.ndarray:
        """Cell-centre latitudes (ny,), north to south (row order)."""
        return self.north - (np.arange(self.ny) + 0.5) * self.res

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """The affine ``(a, b, c, d, e, f)`` of the north-up raster (``affine.Affine(*t)``)."""
        return (self.res, 0.0, self.west, 0.0, -self.res, self.north)

    def cell_area_km2(self) -> np.ndarray:
        """Area of one cell of each row (ny,), on the sphere of :data:`EARTH_RADIUS_KM`."""
        top = np.radians(self.north - np.arange(self.ny) * self.res)
        bottom = np.radians(self.north - (np.arange(self.ny) + 1) * self.res)
        return EARTH_RADIUS_KM**2 * np.radians(self.res) * (np.sin(top) - np.sin(bottom))
