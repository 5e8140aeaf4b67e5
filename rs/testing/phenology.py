"""Seasonal vegetation cycles: the green fraction (0..1) of each class on a day of the year.

Double-logistic curves (Beck et al. 2006, Remote Sens. Environ. 100:321-334):
``g(t) = 1 / (1 + exp(-(t - sos) / k_up)) - 1 / (1 + exp(-(t - eos) / k_down))``.
Cropland follows the Yangtze delta rotation: winter wheat greening in March and harvested late May,
then transplanted rice from late June to October; forests keep an evergreen base.
"""

from __future__ import annotations

import numpy as np

from rs.testing.landcover import LandCover

__all__ = ["double_logistic", "green_fraction"]


def double_logistic(
    doy: np.ndarray | float, sos: float, eos: float, k_up: float = 10.0, k_down: float = 12.0
) -> np.ndarray:
    """Double-logistic seasonal curve of day of year ``doy`` (0..1, start/end of season in days)."""
    t = np.asarray(doy, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(t - sos) / k_up)) - 1.0 / (1.0 + np.exp(-(t - eos) / k_down))


def green_fraction(
    landcover: np.ndarray, doy: int, crop_shift: np.ndarray, double_crop: np.ndarray
) -> np.ndarray:
    """Per-pixel green fraction on day of year ``doy`` (float32; 0 for water, built-up, bare)."""
    g = np.zeros(landcover.shape, dtype=np.float32)
    forest = landcover == LandCover.FOREST
    g[forest] = 0.55 + 0.45 * float(double_logistic(doy, 95, 305, 10, 14))
    grass = landcover == LandCover.GRASSLAND
    g[grass] = 0.15 + 0.85 * float(double_logistic(doy, 85, 300, 12, 15))
    crop = landcover == LandCover.CROPLAND
    t = doy - crop_shift[crop]
    rice = double_logistic(t, 180, 285, 7, 8)
    wheat = double_logistic(t, 55, 148, 9, 5)
    g[crop] = np.where(double_crop[crop], np.maximum(rice, wheat), rice)
    return g
