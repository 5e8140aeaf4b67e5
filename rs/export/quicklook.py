"""Quicklook PNGs read from a written COG's overviews (small reads, bounded memory)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling

from rs.export._atomic import atomic_path

__all__ = ["write_quicklook"]

# A brown-to-green ramp for single-band vegetation indices (NDVI -0.2 .. 0.9).
_RAMP = np.array(
    [
        [140, 81, 10],
        [216, 179, 101],
        [246, 232, 195],
        [199, 234, 229],
        [90, 180, 172],
        [1, 133, 113],
        [0, 80, 40],
    ],
    dtype=np.float32,
)


def _stretch(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.clip((a - lo) / (hi - lo), 0.0, 1.0)


def write_quicklook(
    cog: Path,
    png: Path,
    *,
    bands: Sequence[int] = (1,),
    max_size: int = 1024,
    value_range: tuple[float, float] | None = None,
) -> Path:
    """Write an 8-bit PNG of ``cog`` at most ``max_size`` pixels on its long side.

    Three bands make an RGB image stretched between their joint 2nd and 98th percentiles;
    one band is drawn with a vegetation colour ramp over ``value_range`` (default: percentiles).
    Nodata (NaN) is transparent.
    """
    with rasterio.open(cog) as src:
        scale = max(src.width, src.height) / max_size
        out_w = max(1, round(src.width / max(scale, 1)))
        out_h = max(1, round(src.height / max(scale, 1)))
        data = src.read(
            list(bands), out_shape=(len(bands), out_h, out_w), resampling=Resampling.average
        ).astype(np.float32)
    valid = np.all(np.isfinite(data), axis=0)
    finite = data[:, valid]
    if value_range is not None:
        lo, hi = value_range
    elif finite.size:
        lo, hi = (float(v) for v in np.percentile(finite, [2, 98]))
    else:
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1e-6
    if len(bands) == 3:
        rgb = (_stretch(data, lo, hi) * 255).transpose(1, 2, 0)
    else:
        t = _stretch(data[0], lo, hi) * (len(_RAMP) - 1)
        i0 = np.clip(np.floor(np.nan_to_num(t)).astype(int), 0, len(_RAMP) - 2)
        f = (np.nan_to_num(t) - i0)[..., np.newaxis]
        rgb = _RAMP[i0] * (1 - f) + _RAMP[i0 + 1] * f
    alpha = np.where(valid, 255, 0)[..., np.newaxis]
    rgba = np.concatenate([np.nan_to_num(rgb), alpha], axis=-1).astype(np.uint8)
    with atomic_path(png) as tmp:
        # fast zlib level: a quicklook is small either way, encoding time is not
        Image.fromarray(rgba, mode="RGBA").save(tmp, format="PNG", compress_level=1)
    return png
