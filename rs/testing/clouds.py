"""Seeded clouds, thin cirrus and cloud shadows for one acquisition.

Masks are decided on the 20 m grid (the SCL resolution) so that the SCL written to disk marks them
exactly; the 10 m masks are the same cells repeated 2 x 2. Shadows are the opaque clouds displaced
by a fixed ground offset away from the sun (sun azimuth ~140 deg at the 10:50 local overpass, so
shadows fall to the north-west).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rs.testing._grid import Grid, block_mean, block_repeat
from rs.testing._noise import rng_for, smooth_noise
from rs.testing.spectra import BANDS, CIRRUS_REFLECTANCE, CLOUD_REFLECTANCE, SHADOW_FACTOR

__all__ = [
    "SHADOW_OFFSET_M",
    "SUN_AZIMUTH_DEG",
    "CloudScene",
    "apply_clouds",
    "generate_clouds",
    "shadow_offset_cells",
]

_PURPOSE = 2
SUN_AZIMUTH_DEG = 140.0
SHADOW_OFFSET_M = 400.0


@dataclass(frozen=True)
class CloudScene:
    """Cloud state of one date. ``*20`` masks are on the 20 m grid; ``alpha``/``cirrus_alpha``
    (opacity 0..1) on the 10 m grid. ``high20`` marks high-probability (SCL 9) cloud."""

    cloud20: np.ndarray
    high20: np.ndarray
    cirrus20: np.ndarray
    shadow20: np.ndarray
    alpha: np.ndarray
    cirrus_alpha: np.ndarray

    @property
    def cover_fraction(self) -> float:
        """Fraction of 20 m cells flagged cloud or cirrus."""
        return float((self.cloud20 | self.cirrus20).mean())


def _shift(mask: np.ndarray, drow: int, dcol: int) -> np.ndarray:
    """Shift a mask by (drow, dcol) cells, filling with False."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    src_r = slice(max(0, -drow), min(h, h - drow))
    dst_r = slice(max(0, drow), min(h, h + drow))
    src_c = slice(max(0, -dcol), min(w, w - dcol))
    dst_c = slice(max(0, dcol), min(w, w + dcol))
    out[dst_r, dst_c] = mask[src_r, src_c]
    return out


def shadow_offset_cells(res: float) -> tuple[int, int]:
    """(drow, dcol) from a cloud to its shadow in cells of ``res`` metres (north-west: both < 0)."""
    az = math.radians(SUN_AZIMUTH_DEG + 180.0)  # direction the shadow is cast toward
    dx = SHADOW_OFFSET_M * math.sin(az)
    dy = SHADOW_OFFSET_M * math.cos(az)  # north positive
    return -round(dy / res), round(dx / res)


def generate_clouds(grid: Grid, seed: int, date_index: int, cloudiness: float) -> CloudScene:
    """Clouds of date ``date_index``; ``cloudiness`` is the mean cloud fraction over many dates."""
    shape10 = (grid.height, grid.width)
    shape20 = grid.shape(2 * grid.res)
    rng = rng_for(seed, _PURPOSE, date_index)
    empty20 = np.zeros(shape20, dtype=bool)
    zero10 = np.zeros(shape10, dtype=np.float32)
    if cloudiness <= 0:
        return CloudScene(empty20, empty20, empty20, empty20, zero10, zero10)

    clear_day = rng.random() < 0.25
    cover = 0.0 if clear_day else min(0.8, float(rng.gamma(1.5, cloudiness / 1.5)))
    sigma = max(4.0, min(shape10) / 20.0)
    field = smooth_noise(rng, shape10, sigma) + 0.4 * smooth_noise(rng, shape10, sigma / 3)
    field20 = block_mean(field, 2)
    if cover > 0:
        thr = float(np.quantile(field20, 1.0 - cover))
        cloud20 = field20 > thr
    else:
        thr, cloud20 = float("inf"), empty20.copy()
    high20 = cloud20 & (field20 > thr + 0.45)
    alpha = np.clip(0.35 + (field - thr) / 0.9, 0.0, 1.0) * block_repeat(cloud20, 2)

    cirrus20 = empty20.copy()
    cirrus_alpha = zero10
    if rng.random() < 0.35 * min(1.0, cloudiness / 0.2):
        cfield = smooth_noise(rng, shape20, (sigma / 4, sigma * 1.2))  # east-west streaks
        cirrus20 = (cfield > np.quantile(cfield, 1.0 - rng.uniform(0.05, 0.25))) & ~cloud20
        cirrus_alpha = (0.15 * block_repeat(cirrus20, 2)).astype(np.float32)

    drow, dcol = shadow_offset_cells(2 * grid.res)
    shadow20 = _shift(cloud20, drow, dcol) & ~cloud20 & ~cirrus20
    return CloudScene(
        cloud20=cloud20,
        high20=high20,
        cirrus20=cirrus20,
        shadow20=shadow20,
        alpha=alpha.astype(np.float32),
        cirrus_alpha=cirrus_alpha,
    )


def apply_clouds(clear: Mapping[str, np.ndarray], clouds: CloudScene) -> dict[str, np.ndarray]:
    """Top-of-canopy reflectance seen through the clouds (10 m, noise-free): shadows darken the
    surface, then cloud and cirrus are blended in by their opacity."""
    shade = np.where(block_repeat(clouds.shadow20, 2), SHADOW_FACTOR, 1.0).astype(np.float32)
    out: dict[str, np.ndarray] = {}
    for b, name in enumerate(BANDS):
        v = clear[name] * shade
        v = (1 - clouds.alpha) * v + clouds.alpha * CLOUD_REFLECTANCE[b]
        v = (1 - clouds.cirrus_alpha) * v + clouds.cirrus_alpha * CIRRUS_REFLECTANCE[b]
        out[name] = v.astype(np.float32)
    return out
