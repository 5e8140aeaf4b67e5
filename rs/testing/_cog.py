"""The one place rs.testing writes rasters: Cloud-Optimized GeoTIFFs through GDAL's COG driver."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

__all__ = ["write_cog"]


def write_cog(
    path: Path,
    data: np.ndarray,
    transform: Affine,
    crs: str,
    nodata: float | None = 0,
    resampling: str = "average",
) -> None:
    """Write a single-band COG (deflate, 512 px blocks, internal overviews) atomically."""
    h, w = data.shape
    n_ovr = max(1, int(math.log2(max(1, min(h, w) // 32))))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    profile = {
        "driver": "COG",
        "width": w,
        "height": h,
        "count": 1,
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "compress": "DEFLATE",
        "predictor": "2",
        "blocksize": 512,
        "overview_count": n_ovr,
        "overview_resampling": resampling,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    os.replace(tmp, path)
