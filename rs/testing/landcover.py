"""Seeded land-cover maps: a meandering river, hills of forest, a town with roads, cropland parcels.

Classes are laid out as spatially coherent patches by thresholding smoothed noise at quantiles, so
every class keeps its share of the map whatever the seed or the grid size.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy.spatial import cKDTree

from rs.testing._grid import Grid
from rs.testing._noise import rng_for, smooth_noise

__all__ = ["LandCover", "LandscapeBase", "generate_landscape"]

_PURPOSE = 1  # rng key of the landscape


class LandCover(IntEnum):
    """Land-cover class codes of the synthetic world (0 is never used)."""

    WATER = 1
    FOREST = 2
    CROPLAND = 3
    GRASSLAND = 4
    BUILT_UP = 5
    BARE_SOIL = 6


@dataclass(frozen=True)
class LandscapeBase:
    """The static landscape on the 10 m grid.

    ``landcover`` uint8 class codes; ``crop_shift`` per-pixel phenology shift in days (parcels);
    ``double_crop`` True where a parcel grows winter wheat then rice; ``texture`` a multiplicative
    brightness factor around 1 (within-class variability); ``parcel`` the parcel id. Parcel
    attributes cover every pixel, so an event that turns a pixel into cropland finds a crop cycle.
    """

    landcover: np.ndarray
    crop_shift: np.ndarray
    double_crop: np.ndarray
    texture: np.ndarray
    parcel: np.ndarray


def _river(grid: Grid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A west-east meandering river; returns (water mask, distance to the bank in pixels)."""
    h, w = grid.height, grid.width
    x = np.arange(w, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi)
    centre = h * (
        0.62
        + 0.06 * np.sin(2 * np.pi * x / (1.3 * w) + phase)
        + 0.015 * np.sin(2 * np.pi * x / (0.31 * w) + 2 * phase)
    )
    half = h * (0.028 + 0.006 * np.sin(2 * np.pi * x / (0.7 * w) + 3 * phase))
    rows = np.arange(h, dtype=np.float64)[:, None]
    dist = np.abs(rows - centre[None, :]) - half[None, :]
    return dist < 0, dist.astype(np.float32)


def _roads(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    """Two straight 20 m wide roads: one roughly west-east, one roughly north-south."""
    h, w = grid.height, grid.width
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    r0, slope_r = h * rng.uniform(0.18, 0.3), rng.uniform(-0.08, 0.08)
    c0, slope_c = w * rng.uniform(0.45, 0.6), rng.uniform(-0.1, 0.1)
    ew = np.abs(rows - (r0 + slope_r * cols)) < 1.0
    ns = np.abs(cols - (c0 + slope_c * rows)) < 1.0
    return ew | ns


def _parcels(
    grid: Grid, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi crop parcels (about 250 m across) with their own phase, cropping and brightness."""
    h, w = grid.height, grid.width
    n = max(4, int(h * w / 25.0**2))
    seeds = rng.uniform(0, 1, size=(n, 2)) * np.array([h, w])
    rows, cols = np.mgrid[0:h, 0:w]
    _, parcel = cKDTree(seeds).query(np.column_stack([rows.ravel(), cols.ravel()]))
    parcel = parcel.reshape(h, w).astype(np.int32)
    shift = rng.normal(0.0, 7.0, size=n).astype(np.float32)
    double = rng.random(n) < 0.7
    bright = rng.normal(1.0, 0.05, size=n).astype(np.float32)
    return parcel, shift[parcel], double[parcel], bright[parcel]


def generate_landscape(grid: Grid, seed: int) -> LandscapeBase:
    """Build the static landscape of a world (pure, deterministic for ``seed``)."""
    shape = (grid.height, grid.width)
    rng = rng_for(seed, _PURPOSE)
    big = max(6.0, min(shape) / 14.0)
    elevation = smooth_noise(rng, shape, big) + 0.3 * smooth_noise(rng, shape, big / 3)
    urban = smooth_noise(rng, shape, big * 0.8)
    moist = smooth_noise(rng, shape, big / 2)
    river, bank_dist = _river(grid, rng)
    roads = _roads(grid, rng)
    parcel, shift, double, bright = _parcels(grid, rng)

    lc = np.full(shape, LandCover.CROPLAND, dtype=np.uint8)
    free = np.ones(shape, dtype=bool)

    def put(mask: np.ndarray, cls: LandCover) -> None:
        m = mask & free
        lc[m] = cls
        free[m] = False

    put(river | (elevation < np.quantile(elevation, 0.03)), LandCover.WATER)
    put(elevation > np.quantile(elevation, 0.76), LandCover.FOREST)
    put(urban > np.quantile(urban, 0.88), LandCover.BUILT_UP)
    put(roads, LandCover.BUILT_UP)
    put(bank_dist < 4, LandCover.GRASSLAND)  # riparian meadows along the banks
    put(moist > np.quantile(moist, 0.95), LandCover.BARE_SOIL)
    put(moist < np.quantile(moist, 0.12), LandCover.GRASSLAND)

    texture = 1.0 + 0.04 * smooth_noise(rng, shape, 1.5)
    crop = lc == LandCover.CROPLAND
    texture = np.where(crop, texture * bright, texture).astype(np.float32)
    return LandscapeBase(
        landcover=lc,
        crop_shift=shift.astype(np.float32),
        double_crop=double,
        texture=texture,
        parcel=parcel,
    )
