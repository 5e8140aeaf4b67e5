"""The one bbox recogniser and parser: ``"minx,miny,maxx,maxy"`` in lon/lat degrees (pure).

:func:`looks_like_bbox` decides whether a string was meant as a bbox rather than a file path;
:func:`bbox_polygon` turns bbox values into a box, refusing malformed ones with an
:class:`rs.errors.AoiError` that says what to change. :mod:`rs.aoi` re-exports
:func:`looks_like_bbox` as public API; the pipeline spec uses the same function, so a bbox
is recognised (and a malformed one reported) the same way everywhere.
"""

from __future__ import annotations

import math
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, box

from rs._geom import as_polygonal
from rs.errors import AoiError

__all__ = ["BBOX_HELP", "bbox_polygon", "looks_like_bbox"]

#: How a bbox is written, for messages.
BBOX_HELP = ("a bbox needs 4 numbers 'minx,miny,maxx,maxy' in lon/lat degrees, "
             "e.g. '118.6,31.9,118.9,32.2'")


def _is_number(value: Any) -> bool:
    """Whether ``value`` (a string, surrounding blanks ignored, or a number) converts to float."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def looks_like_bbox(text: str) -> bool:
    """Whether ``text`` was meant as a bbox rather than a file path.

    True for a comma-separated string of 3 to 5 tokens, most of them (a strict majority)
    numbers, without a path separator: ``"118.7,32.0,118.8"`` and ``"118.7,32.0,118.8,abc"``
    are (malformed) bboxes; ``"aoi/region.geojson"`` and ``"a,b.shp"`` are not. A
    well-formed bbox is of course one too. :func:`rs.aoi.load_aoi` refuses a malformed one
    with an :class:`AoiError` instead of looking for a file of that name.
    """
    if not isinstance(text, str) or "/" in text or "\\" in text:
        return False
    tokens = text.split(",")
    if not 3 <= len(tokens) <= 5:
        return False
    return sum(_is_number(t) for t in tokens) * 2 > len(tokens)


def bbox_polygon(parts: list[Any], text: str) -> Polygon | MultiPolygon:
    """The box of bbox ``parts``; ``minx > maxx`` is a box across the antimeridian.

    ``text`` is how messages quote the bbox. Refuses with the fix: not 4 values, non-numbers,
    non-finite values, values outside lon/lat ranges, ``miny >= maxy``, ``minx == maxx``, and
    ``minx > maxx`` unless it really crosses ±180 (``minx > 0 > maxx`` and less than 180°
    wide), which catches swapped x values.
    """
    msg = f"The AOI {text!r} looks like a bbox but "
    if len(parts) != 4:
        raise AoiError(msg + f"has {len(parts)} values: {BBOX_HELP}. If this was meant as a "
                       "file path, the file does not exist.")
    bad = [str(p).strip() for p in parts if not _is_number(p)]
    if bad:
        raise AoiError(msg + f"{bad[0]!r} is not a number: every value must be a number; "
                       f"{BBOX_HELP}.")
    minx, miny, maxx, maxy = (float(p) for p in parts)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise AoiError(msg + f"has values that are not finite numbers: {BBOX_HELP}.")
    if not (max(abs(minx), abs(maxx)) <= 180 and max(abs(miny), abs(maxy)) <= 90):
        raise AoiError(msg + "is out of range: longitudes must be within -180..180 and "
                       "latitudes within -90..90 (lon/lat degrees, not projected metres); "
                       f"{BBOX_HELP}.")
    if miny >= maxy:
        raise AoiError(msg + f"miny {miny:g} is not below maxy {maxy:g}: need miny < maxy; "
                       f"{BBOX_HELP}.")
    if minx == maxx:
        raise AoiError(msg + f"has no width: need minx != maxx; {BBOX_HELP}.")
    if minx < maxx:
        return box(minx, miny, maxx, maxy)
    if not (minx > 0 > maxx and maxx + 360.0 - minx < 180.0):
        raise AoiError(msg + f"minx {minx:g} is not below maxx {maxx:g} (swapped?): need "
                       f"minx < maxx; {BBOX_HELP}. Only a bbox across the antimeridian has "
                       "minx > maxx, e.g. '170,-10,-170,10'.")
    sides = [box(minx, miny, 180.0, maxy), box(-180.0, miny, maxx, maxy)]  # across ±180
    return as_polygonal([p for p in sides if p.area > 0])
