"""Pure lon/lat geometry helpers for :mod:`rs.aoi`: flattening parts and the antimeridian.

A shape whose ring edges step more than 180° in longitude is read as crossing the antimeridian;
:func:`split_antimeridian` cuts it into parts on either side of ±180 (RFC 7946 §3.1.9).
:mod:`rs.aoi` re-exports :func:`split_antimeridian` as public API.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from rs.errors import AoiError

__all__ = [
    "as_polygonal",
    "crosses_antimeridian",
    "flat_parts",
    "shift_east",
    "split_antimeridian",
    "split_shifted",
]


def split_antimeridian(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """Split a lon/lat (Multi)Polygon whose rings jump across ±180 into parts on either side.

    A ring edge with a longitude step over 180° is read as crossing the dateline (so a polygon
    really wider than 180° of longitude must be given already split). Negative longitudes are
    shifted by +360, the shape is clipped at x = 180 and the eastern part shifted back. A valid
    input that does not cross is returned unchanged.
    """
    if not crosses_antimeridian(geom, where="the geometry"):
        return as_polygonal(geom)
    return as_polygonal(split_shifted(shapely.transform(geom, shift_east)))


def flat_parts(geom: BaseGeometry) -> np.ndarray:
    """Single-part geometries of ``geom``, collections unpacked recursively."""
    parts = shapely.get_parts(geom)
    while True:
        multi = shapely.get_type_id(parts) >= 4
        if not multi.any():
            return np.asarray(parts)
        parts = np.concatenate([parts[~multi], shapely.get_parts(parts[multi])])


def crosses_antimeridian(geom: BaseGeometry, *, where: str) -> bool:
    """True when a polygon ring of ``geom`` jumps across ±180; refuses rings enclosing a pole."""
    for poly in flat_parts(geom):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        x = np.asarray(poly.exterior.coords)[:, 0]
        jumps = int(np.count_nonzero(np.abs(np.diff(x)) > 180.0))
        if jumps % 2:
            raise AoiError(
                f"{where} crosses the antimeridian an odd number of times (it encloses "
                "a pole); split it into pieces that do not contain a pole."
            )
        if jumps and np.ptp(np.where(x < 0, x + 360.0, x)) < np.ptp(x):
            return True
    return False


def shift_east(coords: np.ndarray) -> np.ndarray:
    """Negative longitudes +360, so a shape across ±180 becomes continuous around x = 180."""
    out = np.array(coords, dtype=float)
    out[:, 0] = np.where(out[:, 0] < 0, out[:, 0] + 360.0, out[:, 0])
    return out


def split_shifted(geom: BaseGeometry) -> list[BaseGeometry]:
    """Polygons of a :func:`shift_east`-ed ``geom`` cut at x = 180, the east part moved back."""
    west = shapely.intersection(geom, box(-180.0, -90.0, 180.0, 90.0))
    east = shapely.intersection(geom, box(180.0, -90.0, 540.0, 90.0))
    east = shapely.transform(east, lambda c: c - np.array([360.0, 0.0]))
    return [
        p for p in (*flat_parts(west), *flat_parts(east)) if p.geom_type == "Polygon" and p.area > 0
    ]


def as_polygonal(geom: BaseGeometry | list[BaseGeometry]) -> Polygon | MultiPolygon:
    """The non-empty polygons of ``geom`` (or a list of geometries) as a Polygon or MultiPolygon."""
    parts = [
        p
        for g in (geom if isinstance(geom, list) else [geom])
        for p in flat_parts(g)
        if p.geom_type == "Polygon" and not p.is_empty
    ]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)
