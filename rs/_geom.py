"""Pure lon/lat geometry helpers: flattening parts, the antimeridian, STAC item footprints.

A shape whose ring edges step more than 180° in longitude is read as crossing the antimeridian;
:func:`split_antimeridian` cuts it into parts on either side of ±180 (RFC 7946 §3.1.9).
:func:`lonlat_polygons` is the one repair of a lon/lat polygon: shift across the antimeridian
first, then ``make_valid``, then split (a crossing ring is often invalid only as written, so
repairing it before the shift would tear it). :mod:`rs.aoi` re-exports
:func:`split_antimeridian` as public API; :func:`footprints_of` gives the footprints block
planning uses (re-exported by :mod:`rs.pipeline.planning`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from rs.errors import AoiError, RsError

if TYPE_CHECKING:
    import pystac

__all__ = [
    "WORLD",
    "as_polygonal",
    "crosses_antimeridian",
    "flat_parts",
    "footprints_of",
    "lonlat_polygons",
    "shift_east",
    "split_antimeridian",
    "split_or_world",
    "split_shifted",
]

#: the footprint of a scene whose extent is unknown: it may touch any tile
WORLD: BaseGeometry = box(-180.0, -90.0, 180.0, 90.0)


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


def lonlat_polygons(
    geom: BaseGeometry, *, repair: bool = True, split: bool = True, where: str = "the geometry"
) -> tuple[Polygon | MultiPolygon | None, str | None]:
    """Valid polygonal lon/lat ``geom``, split at the antimeridian, and why it was invalid.

    In order: a shape whose rings jump across ±180 (with ``split``) is shifted east so it is
    continuous (:func:`shift_east`); an invalid result is repaired with ``shapely.make_valid``
    (with ``repair``; else :class:`~rs.errors.AoiError` naming the reason); a shifted shape is
    then cut at x = 180 (:func:`split_shifted`). Returns the polygons (``None`` when no area is
    left) and the invalidity reason of the input (``None`` when it was valid). A ring enclosing
    a pole raises :class:`~rs.errors.AoiError` (see :func:`crosses_antimeridian`).
    """
    west, _, east, _ = geom.bounds  # a ring can only jump 180° if it spans that much
    crosses = split and east - west > 180.0 and crosses_antimeridian(geom, where=where)
    if crosses:
        geom = shapely.transform(geom, shift_east)
    reason = None if geom.is_valid else str(shapely.is_valid_reason(geom))
    if reason is not None:
        if not repair:
            raise AoiError(f"{where} is not a valid polygon: {reason}. "
                           "Fix it (e.g. QGIS 'Fix geometries') or pass repair=True.")
        geom = shapely.make_valid(geom)
    parts = split_shifted(geom) if crosses else list(flat_parts(geom))
    polys = [p for p in parts if p.geom_type == "Polygon" and p.area > 0]
    return (as_polygonal(polys) if polys else None), reason


def split_or_world(geom: BaseGeometry) -> BaseGeometry:
    """:func:`split_antimeridian` of ``geom``, or :data:`WORLD` when it cannot be placed.

    A ring around a pole, or one GEOS cannot cut, is placed everywhere rather than nowhere.
    """
    try:
        return split_antimeridian(geom)
    except (RsError, GEOSException):
        return WORLD


def _bbox_geometry(bbox: Sequence[float]) -> BaseGeometry:
    west, south, east, north = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
    if west > east:  # a bbox across the antimeridian (RFC 7946 §5.2)
        parts = [box(west, south, 180.0, north), box(-180.0, south, east, north)]
        return shapely.MultiPolygon(parts)
    return box(west, south, east, north)


def _footprint(geometry: dict[str, object]) -> BaseGeometry:
    geom = shape(geometry)
    if shapely.get_type_id(geom) in (3, 6):  # (Multi)Polygon
        try:
            polys, _ = lonlat_polygons(geom, where="the item geometry")
        except (RsError, GEOSException):  # a ring around a pole, or beyond repair
            return WORLD
        if polys is not None:
            return polys
    return geom if geom.is_valid else shapely.make_valid(geom)


def footprints_of(items: Sequence[pystac.Item]) -> list[BaseGeometry]:
    """EPSG:4326 footprints of STAC items: ``geometry``, else ``bbox``, else the whole world.

    A polygon is made valid and split at the antimeridian by :func:`lonlat_polygons`; one that
    encloses a pole, or cannot be repaired, is :data:`WORLD` (planning never drops a scene it
    cannot place). Other geometries (points, lines) are kept, made valid.
    """
    out: list[BaseGeometry] = []
    for item in items:
        if item.geometry:
            out.append(_footprint(item.geometry))
        elif item.bbox:
            out.append(_bbox_geometry(item.bbox))
        else:
            out.append(WORLD)
    return out
