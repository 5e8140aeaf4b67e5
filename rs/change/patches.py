"""Change classes and connected change patches (pure: arrays in, shapely geometries out).

A class raster is polygonised block by block (:func:`class_polygons`, given each block's
transform) and the pieces merged across block seams (:func:`merge_patches`): the union of the
4-connected pieces of a class is exactly the polygonisation of the whole raster.
:func:`pixel_window` is the pixel window a patch covers (what its statistics, features and
thumbnails read).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

__all__ = ["NODATA", "class_polygons", "classify", "merge_patches", "pixel_window"]

#: class value of a pixel where the difference has no value
NODATA = 255


def classify(diff: np.ndarray, threshold: float) -> np.ndarray:
    """Change classes of a difference: 0 stable (``|diff| <= threshold``), 1 decrease
    (``diff < -threshold``), 2 increase (``diff > threshold``), :data:`NODATA` where NaN."""
    out = np.zeros(diff.shape, dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        out[diff < -threshold] = 1
        out[diff > threshold] = 2
    out[~np.isfinite(diff)] = NODATA
    return out


def class_polygons(
    classes: np.ndarray, transform: Affine, values: Iterable[int]
) -> dict[int, list[BaseGeometry]]:
    """The 4-connected pixel outlines of each of ``values`` in ``classes`` (a 2-D integer
    array whose pixel grid is ``transform``), in the transform's CRS."""
    out: dict[int, list[BaseGeometry]] = {}
    for k in values:
        sel = classes == k
        out[k] = (
            [shape(g) for g, _ in shapes(sel.astype(np.uint8), mask=sel, transform=transform)]
            if sel.any()
            else []
        )
    return out


def merge_patches(
    pieces: Mapping[int, list[BaseGeometry]], names: Mapping[int, str], *, min_area: float = 0.0
) -> list[tuple[str, BaseGeometry]]:
    """Patches as (class name, polygon): pieces of one class that share an edge (across block
    seams too) merged into one, those smaller than ``min_area`` (CRS units²) dropped."""
    out: list[tuple[str, BaseGeometry]] = []
    for k, name in names.items():
        if not pieces.get(k):
            continue
        for poly in shapely.get_parts(shapely.union_all(pieces[k])):
            if poly.area >= min_area:
                out.append((name, poly))
    return out


def pixel_window(geom: BaseGeometry, transform: Affine, shape: tuple[int, int], pad: int = 0
                 ) -> tuple[int, int, int, int]:
    """``(row, col, height, width)`` of the pixels covering ``geom``'s bounds (grid CRS) on the
    grid of ``transform``, widened by ``pad`` pixels each side and clipped to ``shape``."""
    minx, miny, maxx, maxy = geom.bounds
    inv = ~transform
    cs, rs_ = zip(*(inv @ (x, y) for x in (minx, maxx) for y in (miny, maxy)), strict=True)
    r0 = max(0, math.floor(min(rs_)) - pad)
    c0 = max(0, math.floor(min(cs)) - pad)
    r1 = min(shape[0], math.ceil(max(rs_)) + pad)
    c1 = min(shape[1], math.ceil(max(cs)) + pad)
    return r0, c0, max(0, r1 - r0), max(0, c1 - c0)
