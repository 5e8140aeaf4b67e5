"""Read rs's own published rasters back, window by window (I/O): how a step reads an earlier
step's outputs without holding them in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from rs.export.raster import GridSpec

__all__ = ["band_names", "raster_info", "read_window"]


def raster_info(path: Path | str) -> tuple[GridSpec, int]:
    """The grid (CRS, transform, shape) and the band count of the raster at ``path``."""
    with rasterio.open(path) as ds:
        grid = GridSpec(crs=ds.crs.to_string(), transform=ds.transform, shape=(ds.height, ds.width))
        return grid, ds.count


def band_names(path: Path | str) -> list[str]:
    """The band names (descriptions) of the raster at ``path``; ``band<n>`` where unnamed."""
    with rasterio.open(path) as ds:
        return [d or f"band{n}" for n, d in enumerate(ds.descriptions, start=1)]


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
