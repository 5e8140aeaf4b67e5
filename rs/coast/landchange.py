"""Land gained and lost between two water masks, and which gains look like reclamation (pure).

Water is ``index > threshold`` (MNDWI by default, threshold 0). Comparing two dates (or two
periods' composites) gives, per pixel: 0 unchanged, 1 **gain** (water before, land after:
accretion or reclamation), 2 **loss** (land before, water after: erosion), 255 no data.

A gained patch is flagged as **probable reclamation** when it is large, compact and
straight-edged, the signature of built fill (seawalls, rectangular ponds and platforms) rather
than of natural accretion, which grows as thin strips along the shore. The shape measures are
taken on the patch outline simplified by one pixel (to remove the raster staircase):

* ``compactness`` = 4πA / P² (1 for a disc, 0.785 for a square, → 0 for a thin strip);
* ``straightness`` = the share of the simplified outline made of straight edges at least
  ``min_edge_px`` pixels long;
* ``rectangularity`` = A / area of the minimum rotated rectangle.

Defaults (area ≥ 1 ha, compactness ≥ 0.4, straightness ≥ 0.6) are a documented starting point,
not calibrated thresholds: review flagged patches before reporting them as reclamation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from rs.change.patches import NODATA

__all__ = [
    "CHANGES",
    "NODATA",
    "ReclamationRule",
    "ShapeMeasures",
    "land_change",
    "shape_measures",
]

#: change classes that make patches
CHANGES = {1: "gain", 2: "loss"}


def land_change(before: np.ndarray, after: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Per pixel: 0 unchanged, 1 gain (water -> land), 2 loss (land -> water), 255 no data.

    ``before`` / ``after`` are water-index rasters on one grid (water high), NaN where unknown.
    """
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} differ in shape")
    with np.errstate(invalid="ignore"):
        wb, wa = before > threshold, after > threshold
    out = np.zeros(before.shape, dtype=np.uint8)
    out[wb & ~wa] = 1
    out[~wb & wa] = 2
    out[~np.isfinite(before) | ~np.isfinite(after)] = NODATA
    return out


@dataclass(frozen=True)
class ShapeMeasures:
    """Shape of one patch (see the module docstring)."""

    area: float
    perimeter: float
    compactness: float
    straightness: float
    rectangularity: float


def shape_measures(poly: BaseGeometry, pixel: float, min_edge_px: float = 4.0) -> ShapeMeasures:
    """Shape measures of ``poly`` (a polygon in a projected CRS with ``pixel``-sized pixels)."""
    simple = shapely.simplify(poly, pixel, preserve_topology=True)
    area = float(poly.area)
    perimeter = float(simple.length)
    compactness = 4 * np.pi * float(simple.area) / perimeter**2 if perimeter > 0 else 0.0
    straight = 0.0
    for ring in [simple.exterior, *simple.interiors] if simple.geom_type == "Polygon" else []:
        xy = np.asarray(ring.coords)
        edges = np.hypot(*np.diff(xy, axis=0).T)
        straight += float(edges[edges >= min_edge_px * pixel].sum())
    rect = shapely.minimum_rotated_rectangle(poly)
    return ShapeMeasures(
        area=area,
        perimeter=perimeter,
        compactness=compactness,
        straightness=straight / perimeter if perimeter > 0 else 0.0,
        rectangularity=area / float(rect.area) if rect.area > 0 else 0.0,
    )


@dataclass(frozen=True)
class ReclamationRule:
    """When a gained patch counts as probable reclamation (see the module docstring)."""

    min_area_m2: float = 10_000.0
    min_compactness: float = 0.4
    min_straightness: float = 0.6

    def __call__(self, m: ShapeMeasures) -> bool:
        return (
            m.area >= self.min_area_m2
            and m.compactness >= self.min_compactness
            and m.straightness >= self.min_straightness
        )
