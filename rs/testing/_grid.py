"""The world's pixel grid: CRS, origin, size, resolutions, and resampling between 10 m and 20 m."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from rs.errors import SpecError

__all__ = ["DEFAULT_GRID", "Grid", "block_mean", "block_repeat"]


@dataclass(frozen=True)
class Grid:
    """A north-up grid: upper-left corner ``(x0, y0)`` in ``crs``, ``width`` x ``height`` pixels of
    ``res`` metres (the finest resolution; coarser grids are integer multiples of it)."""

    crs: str
    x0: float
    y0: float
    width: int
    height: int
    res: float = 10.0

    def factor(self, res: float) -> int:
        """How many fine pixels make one pixel of resolution ``res`` (1 for 10 m, 2 for 20 m)."""
        f = round(res / self.res)
        if f < 1 or abs(f * self.res - res) > 1e-9:
            raise SpecError(f"resolution {res} m is not an integer multiple of {self.res} m")
        return f

    def shape(self, res: float | None = None) -> tuple[int, int]:
        f = self.factor(res or self.res)
        return self.height // f, self.width // f

    def transform(self, res: float | None = None) -> Affine:
        r = float(res or self.res)
        return Affine(r, 0.0, self.x0, 0.0, -r, self.y0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid CRS."""
        return (
            self.x0,
            self.y0 - self.height * self.res,
            self.x0 + self.width * self.res,
            self.y0,
        )

    def xy(self, fx: float, fy: float) -> tuple[float, float]:
        """Map a fractional position (0..1 from the left / from the top) to grid-CRS coordinates."""
        return self.x0 + fx * self.width * self.res, self.y0 - fy * self.height * self.res

    def to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        """Reproject a geometry from the grid CRS to EPSG:4326 (lon, lat order)."""
        tr = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))

    def footprint(self) -> BaseGeometry:
        """The grid's outline in EPSG:4326 (densified so the reprojected edges stay accurate)."""
        box = shapely.box(*self.bounds)
        return self.to_lonlat(shapely.segmentize(box, max_segment_length=self.width * self.res / 8))


#: the demo world grid of docs/contracts.md: UTM 50N near Nanjing, 512 x 512 px of 10 m
DEFAULT_GRID = Grid(crs="EPSG:32650", x0=660000.0, y0=3552000.0, width=512, height=512, res=10.0)


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Average non-overlapping ``f`` x ``f`` blocks (10 m -> 20 m for ``f=2``)."""
    if f == 1:
        return a
    h, w = a.shape[0] // f, a.shape[1] // f
    blocks = a[: h * f, : w * f].reshape(h, f, w, f)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(a.dtype)


def block_repeat(a: np.ndarray, f: int) -> np.ndarray:
    """Repeat each pixel into an ``f`` x ``f`` block (20 m -> 10 m for ``f=2``)."""
    if f == 1:
        return a
    return np.repeat(np.repeat(a, f, axis=0), f, axis=1)
