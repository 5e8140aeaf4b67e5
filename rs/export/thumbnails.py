"""Before/after thumbnails of change patches for field teams (I/O: PNG files).

For each patch, two true-colour PNGs of the same window around it (the patch's bounds padded
by half its size, at least :data:`MIN_PAD` pixels each side), one per date, stretched
**identically** (the joint 2nd-98th percentile of the red, green and blue values of both dates,
so a change in brightness shows as one), enlarged by an integer factor (nearest neighbour,
so pixels stay visible) up to about :data:`TARGET` pixels, with the patch outline drawn in
yellow. Pixels without a value are transparent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from PIL import Image
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry

from rs.change.patches import pixel_window
from rs.export._atomic import atomic_path

__all__ = ["MIN_PAD", "OUTLINE", "TARGET", "Thumbnails", "patch_window", "render_pair",
           "write_thumbnails"]

#: smallest padding around a patch (pixels)
MIN_PAD = 8
#: the long side thumbnails are enlarged towards (pixels)
TARGET = 160
#: the outline colour (RGB)
OUTLINE = (255, 255, 0)
_RGB = ("red", "green", "blue")


@dataclass(frozen=True)
class Thumbnails:
    """The two PNGs written for a patch and the stretch both use (reflectance)."""

    before: Path
    after: Path
    stretch: tuple[float, float]


def patch_window(geom: BaseGeometry, transform: Affine, shape: tuple[int, int]
                 ) -> tuple[int, int, int, int]:
    """(row, col, height, width) of the window around ``geom`` (grid CRS): its pixels padded
    by half their extent, at least :data:`MIN_PAD`, clipped to a grid of ``shape``."""
    _, _, h, w = pixel_window(geom, transform, shape)
    return pixel_window(geom, transform, shape, pad=max(MIN_PAD, (max(h, w) + 1) // 2))


def render_pair(before: np.ndarray, after: np.ndarray, outline: np.ndarray, factor: int
                ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """RGBA images (uint8) of ``before`` and ``after`` (3, h, w reflectance), enlarged by
    ``factor``, with the same stretch (returned) and ``outline`` (bool, enlarged size) drawn."""
    both = np.concatenate([before.ravel(), after.ravel()])
    finite = both[np.isfinite(both)]
    lo, hi = (float(v) for v in np.percentile(finite, [2, 98])) if finite.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1e-6

    def rgba(img: np.ndarray) -> np.ndarray:
        big = np.repeat(np.repeat(img, factor, axis=1), factor, axis=2)
        valid = np.isfinite(big).all(axis=0)
        s = np.clip((np.nan_to_num(big, nan=lo) - lo) / (hi - lo), 0, 1)
        out = np.empty((*valid.shape, 4), np.uint8)
        out[..., :3] = (s * 255).round().transpose(1, 2, 0)
        out[..., 3] = np.where(valid, 255, 0)
        out[outline, :3] = OUTLINE
        out[outline, 3] = 255
        return out

    return rgba(before), rgba(after), (lo, hi)


def write_thumbnails(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    transform: Affine,
    geom: BaseGeometry,
    path_before: Path,
    path_after: Path,
) -> Thumbnails:
    """Write the before/after PNGs of the patch ``geom`` (grid CRS). ``before`` and ``after``
    map red, green, blue to 2-D arrays or lazy readers sliceable by ``[rows, cols]`` (e.g.
    :class:`rs.load.outputs.RasterBandReader`) on the grid of ``transform``."""
    missing = [b for b in _RGB if b not in before or b not in after]
    if missing:
        raise ValueError(f"thumbnails need bands {list(_RGB)}; missing {missing}")
    shape = tuple(int(v) for v in np.shape(before["red"]))
    r0, c0, h, w = patch_window(geom, transform, (shape[0], shape[1]))
    if h == 0 or w == 0:
        raise ValueError("the patch lies outside the grid")
    rows, cols = slice(r0, r0 + h), slice(c0, c0 + w)
    img_b = np.stack([np.asarray(before[b][rows, cols], np.float32) for b in _RGB])
    img_a = np.stack([np.asarray(after[b][rows, cols], np.float32) for b in _RGB])
    factor = max(1, min(8, TARGET // max(h, w)))
    big_t = transform @ Affine.translation(c0, r0) @ Affine.scale(1 / factor)
    outline = rasterize([(geom.boundary, 1)], out_shape=(h * factor, w * factor),
                        transform=big_t, fill=0, all_touched=True, dtype="uint8").astype(bool)
    rgba_b, rgba_a, stretch = render_pair(img_b, img_a, outline, factor)
    for img, path in ((rgba_b, path_before), (rgba_a, path_after)):
        with atomic_path(Path(path)) as tmp:
            Image.fromarray(img).save(tmp, format="PNG", compress_level=1)
    return Thumbnails(Path(path_before), Path(path_after), stretch)
