"""Where the source pixels sit: the grid anchor that keeps native-resolution outputs pixel-exact.

odc-geo aligns output grids to whole multiples of the pixel size by default. Sentinel-2 tiles
happen to start on such multiples; Landsat's grid sits half a pixel (15 m) off them, so a default
30 m grid would bilinearly resample every Landsat pixel and shift the QA mask by half a pixel.
:func:`source_anchor` reads the items' own ``proj:transform`` (or ``proj:bbox`` + ``proj:shape``)
and returns the anchor (odc-geo's fraction of a pixel at which x = 0 / y = 0 falls) that puts the
output grid on the source grid, whenever the output CRS and pixel size are the source's.

Item metadata first; an asset without any ``proj:`` grid fields (older USGS items) has its
file header read instead (:func:`header_grid`, one small read per such asset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pystac
import rasterio
from odc.geo import XY, xy_
from odc.geo.crs import CRS
from rasterio.errors import RasterioError

__all__ = ["Anchor", "header_grid", "item_crs", "source_anchor"]

_TOL = 1e-6


@dataclass(frozen=True)
class Anchor:
    """The output grid's anchor (``None``: odc-geo's default, edges on multiples of the pixel
    size) and why it was chosen (kept in the output item)."""

    anchor: XY[float] | None
    reason: str


def item_crs(item: pystac.Item, key: str | None = None) -> CRS | None:
    """The CRS of an asset (its own ``proj:code`` / ``proj:epsg``, else the item's), or None."""
    candidates: list[Mapping[str, Any]] = []
    if key is not None and key in item.assets:
        candidates.append(item.assets[key].extra_fields)
    candidates.append(item.properties)
    for fields in candidates:
        code = fields.get("proj:code")
        if code:
            return CRS(str(code))
        epsg = fields.get("proj:epsg")
        if epsg:
            return CRS(f"EPSG:{int(epsg)}")
    return None


def header_grid(href: str) -> tuple[CRS, float, float, float] | None:
    """``(crs, x0, y0, pixel size)`` from a raster's header, or ``None`` when it cannot be read
    or is not a north-up grid with square pixels."""
    from rs.load._preflight import GDAL_ENV, local_path

    path = local_path(href)
    try:
        with rasterio.Env(**GDAL_ENV), rasterio.open(str(path) if path else href) as src:
            t, crs = src.transform, src.crs
    except (RasterioError, OSError):
        return None
    if crs is None or t.b != 0 or t.d != 0 or t.a != -t.e:
        return None
    return CRS(crs.to_wkt()), float(t.c), float(t.f), abs(float(t.a))


def _has_proj_grid(item: pystac.Item, key: str) -> bool:
    return any(
        k in fields
        for fields in (item.assets[key].extra_fields, item.properties)
        for k in ("proj:transform", "proj:bbox")
    )


def _origin(item: pystac.Item, key: str) -> tuple[float, float, float] | None:
    """``(x0, y0, pixel size)`` of an asset's grid from its (or the item's) proj fields."""
    for fields in (item.assets[key].extra_fields, item.properties):
        t = fields.get("proj:transform")
        if isinstance(t, list) and len(t) >= 6 and t[1] == 0 and t[3] == 0 and t[0] == -t[4]:
            return float(t[2]), float(t[5]), abs(float(t[0]))
        bbox, shape = fields.get("proj:bbox"), fields.get("proj:shape")
        if isinstance(bbox, list) and len(bbox) == 4 and isinstance(shape, list) and shape[1]:
            res = (float(bbox[2]) - float(bbox[0])) / float(shape[1])
            return float(bbox[0]), float(bbox[3]), res
    return None


def _fraction(value: float, res: float) -> float:
    """Where ``value`` falls within a pixel, as a fraction (to 1e-9 of a pixel)."""
    frac = round((value / res) % 1.0, 9)
    return 0.0 if frac >= 1.0 else frac


def source_anchor(
    items: Sequence[pystac.Item], keys: Sequence[Mapping[str, str]], crs: Any, resolution: float
) -> Anchor:
    """The anchor putting a ``crs`` / ``resolution`` grid on the items' own pixel grid.

    ``keys[n]`` maps common band names to item ``n``'s asset keys (the bands that will be read).
    Only assets in ``crs`` whose pixel size equals ``resolution`` count (others are resampled
    whatever the anchor). When they all share one anchor it is returned; when they disagree (for
    example scenes of several grids) the default is kept and the reason says so.
    """
    target = CRS(crs)
    found: dict[tuple[float, float], int] = {}
    for item, item_keys in zip(items, keys, strict=True):
        for key in item_keys.values():
            origin, crs = _origin(item, key), item_crs(item, key)
            if not _has_proj_grid(item, key):
                header = header_grid(item.assets[key].href)
                if header is not None:
                    crs, *rest = header
                    origin = (rest[0], rest[1], rest[2])
            if origin is None or crs != target:
                continue
            x0, y0, res = origin
            if abs(res - resolution) > _TOL * resolution:
                continue
            anchor = (_fraction(x0, res), _fraction(y0, res))
            found[anchor] = found.get(anchor, 0) + 1
    if not found:
        return Anchor(None, f"no source asset on a {resolution:g} grid in {target}: default grid")
    if len(found) > 1:
        return Anchor(
            None, f"source assets on {len(found)} different {resolution:g} grids: default grid"
        )
    ((ax, ay),) = found
    if ax == 0 and ay == 0:
        return Anchor(None, "source grid edges on multiples of the pixel size")
    return Anchor(
        xy_(ax, ay), f"output grid on the source grid (anchor x={ax:g}, y={ay:g} of a pixel)"
    )
