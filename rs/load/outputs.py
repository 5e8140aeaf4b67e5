"""Read rs's own published rasters back, window by window (I/O): how a step reads an earlier
step's outputs without holding them in memory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.features import shapes
from rasterio.windows import Window
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from rs.export.raster import GridSpec

__all__ = ["grid_of", "patches", "read_window"]


def grid_of(path: Path | str) -> GridSpec:
    """The grid (CRS, transform, shape) of the raster at ``path``."""
    with rasterio.open(path) as ds:
        return GridSpec(crs=ds.crs.to_string(), transform=ds.transform, shape=(ds.height, ds.width))


def read_window(path: Path | str, window: tuple[int, int, int, int], band: int = 1) -> np.ndarray:
    """Band ``band`` of ``path`` over ``window`` = (row, col, height, width) as float32 with
    the file's nodata turned into NaN."""
    row, col, h, w = window
    with rasterio.open(path) as ds:
        data = ds.read(band, window=Window(col, row, w, h)).astype(np.float32)
        nodata = ds.nodatavals[band - 1]
    if nodata is not None and not np.isnan(nodata):
        data[data == nodata] = np.nan
    return data


def patches(
    path: Path | str, classes: Mapping[int, str], *, min_area: float = 0.0, block: int = 512
) -> list[tuple[str, BaseGeometry]]:
    """Connected patches (4-connectivity) of each class value of the integer raster at ``path``,
    as (class name, polygon) in the raster's CRS, read and polygonised block by block and merged
    across block seams; patches smaller than ``min_area`` (CRS units²) are dropped."""
    parts: dict[int, list[BaseGeometry]] = {k: [] for k in classes}
    with rasterio.open(path) as ds:
        for r in range(0, ds.height, block):
            for c in range(0, ds.width, block):
                win = Window(c, r, min(block, ds.width - c), min(block, ds.height - r))
                data = ds.read(1, window=win)
                transform = ds.window_transform(win)
                for k in classes:
                    sel = data == k
                    if sel.any():
                        parts[k].extend(
                            shape(g)
                            for g, _ in shapes(sel.astype(np.uint8), mask=sel, transform=transform)
                        )
    out: list[tuple[str, BaseGeometry]] = []
    for k, name in classes.items():
        if not parts[k]:
            continue
        merged = shapely.union_all(parts[k])
        for poly in shapely.get_parts(merged):
            if poly.area >= min_area:
                out.append((name, poly))
    return out
