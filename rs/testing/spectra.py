"""Sentinel-2 L2A surface reflectance of each land-cover class, dormant and at peak greenness.

Values follow typical bottom-of-atmosphere spectra (ASTER/ECOSTRESS spectral library shapes and
published S2 class means): water is dark in the NIR (~0.02), green vegetation has red ~0.03-0.05 and
NIR ~0.3-0.45, built-up and bare soil are bright in the SWIR.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rs.testing.landcover import LandCover

__all__ = [
    "BANDS",
    "CIRRUS_REFLECTANCE",
    "CLOUD_REFLECTANCE",
    "DORMANT",
    "PEAK",
    "SHADOW_FACTOR",
    "render",
]

BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22")

#: class -> reflectance in BANDS order, leaf-off / bare field state
_DORMANT = {
    LandCover.WATER: (0.055, 0.065, 0.045, 0.020, 0.012, 0.008),
    LandCover.FOREST: (0.040, 0.065, 0.060, 0.230, 0.200, 0.120),
    LandCover.CROPLAND: (0.070, 0.095, 0.120, 0.190, 0.270, 0.210),
    LandCover.GRASSLAND: (0.060, 0.085, 0.100, 0.200, 0.280, 0.200),
    LandCover.BUILT_UP: (0.120, 0.130, 0.140, 0.190, 0.240, 0.220),
    LandCover.BARE_SOIL: (0.100, 0.140, 0.190, 0.250, 0.330, 0.280),
}
#: class -> reflectance at peak greenness (same as dormant for non-vegetated classes)
_PEAK = {
    **_DORMANT,
    LandCover.FOREST: (0.025, 0.050, 0.030, 0.360, 0.170, 0.080),
    LandCover.CROPLAND: (0.030, 0.075, 0.035, 0.430, 0.220, 0.110),
    LandCover.GRASSLAND: (0.035, 0.080, 0.045, 0.320, 0.230, 0.120),
}


def _table(d: Mapping[LandCover, tuple[float, ...]]) -> np.ndarray:
    t = np.zeros((max(LandCover) + 1, len(BANDS)), dtype=np.float32)
    for cls, vals in d.items():
        t[int(cls)] = vals
    return t


DORMANT = _table(_DORMANT)
PEAK = _table(_PEAK)

#: apparent reflectance of an opaque cloud and of thin cirrus, per band
CLOUD_REFLECTANCE = np.array([0.62, 0.60, 0.59, 0.62, 0.45, 0.32], dtype=np.float32)
CIRRUS_REFLECTANCE = np.array([0.30, 0.30, 0.30, 0.32, 0.28, 0.22], dtype=np.float32)
#: fraction of surface reflectance left in a cloud shadow (diffuse light only)
SHADOW_FACTOR = 0.35


def render(landcover: np.ndarray, green: np.ndarray, texture: np.ndarray) -> dict[str, np.ndarray]:
    """Clear-sky, noise-free reflectance per band (float32):
    ``(dormant[class] + green * (peak[class] - dormant[class])) * texture``."""
    out: dict[str, np.ndarray] = {}
    for b, name in enumerate(BANDS):
        lo = DORMANT[landcover, b]
        hi = PEAK[landcover, b]
        out[name] = ((lo + green * (hi - lo)) * texture).astype(np.float32)
    return out
