"""Seeded, smooth random fields: the raw material of land cover, texture and clouds."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["rng_for", "smooth_noise"]


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator for one purpose (``keys``), so results never depend on the order in
    which dates or bands are computed."""
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])


def smooth_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    sigma: float | tuple[float, float],
) -> np.ndarray:
    """Gaussian-smoothed white noise, standardised to zero mean and unit variance (float32)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=sigma, mode="reflect")
    std = float(field.std())
    return ((field - field.mean()) / (std if std > 0 else 1.0)).astype(np.float32)
