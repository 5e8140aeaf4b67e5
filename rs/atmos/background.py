"""Background and anomaly of an XCH4 (or any) field, and its robust noise level (pure).

The field is a 2-D array: a swath image (:meth:`rs.atmos.swath.Swath.image`, scanline x
ground pixel) or a gridded mean (:attr:`rs.atmos.grid.GriddedMean.mean`); NaN is no data.

* :func:`moving_median`: the median of the valid values in a square window centred on each
  pixel (``window_px`` pixels wide, or ``window_km`` with the pixel size ``pixel_km``). A plume
  narrower than half the window barely moves it; pass ``exclude`` (e.g. detected plume pixels)
  to leave them out of the windows of a second pass.
* :func:`regional_percentile`: one value, the ``q``-th percentile of the valid values (in
  ``region``), as a constant field. The median (q=50) of plume-free noise is its mean; a lower
  percentile sits ``z_q · σ`` below it (e.g. q=10: 1.28 σ).
* :func:`robust_sigma`: 1.4826 x the median absolute deviation (σ of Gaussian noise,
  insensitive to a plume occupying a few percent of the pixels).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "anomaly",
    "moving_median",
    "pixels_for_km",
    "regional_percentile",
    "robust_sigma",
]

MAD_TO_SIGMA = 1.4826  # σ of a Gaussian per median absolute deviation
_BLOCK_CELLS = 4_000_000  # window values held at once by moving_median


def pixels_for_km(window_km: float, pixel_km: float) -> int:
    """The odd window width in pixels closest to ``window_km`` with pixels ``pixel_km`` wide."""
    if not (window_km > 0 and pixel_km > 0):
        raise ValueError(f"window_km and pixel_km must be positive: {window_km}, {pixel_km}")
    n = max(1, round(window_km / pixel_km))
    return n if n % 2 else n + 1


def moving_median(
    field: np.ndarray, window_px: int | None = None, *, window_km: float | None = None,
    pixel_km: float | None = None, exclude: np.ndarray | None = None, min_valid: int = 5,
) -> np.ndarray:
    """Median of the valid values in the ``window_px`` x ``window_px`` window around each pixel
    (odd width; edges use the part of the window inside the field). Give either ``window_px``
    or ``window_km`` and ``pixel_km``. Pixels whose window holds fewer than ``min_valid`` valid
    values (outside ``exclude``) get NaN."""
    a = np.array(field, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"moving_median needs a 2-D field, not {a.ndim}-D")
    if window_px is None:
        if window_km is None or pixel_km is None:
            raise ValueError("give window_px, or window_km and pixel_km")
        window_px = pixels_for_km(window_km, pixel_km)
    if window_px < 1 or window_px % 2 == 0:
        raise ValueError(f"window_px must be a positive odd number, not {window_px}")
    if exclude is not None:
        a[np.asarray(exclude, dtype=bool)] = np.nan
    h = window_px // 2
    padded = np.pad(a, h, constant_values=np.nan)
    views = sliding_window_view(padded, (window_px, window_px))  # (ny, nx, w, w), no copy
    out = np.full(a.shape, np.nan)
    rows = max(1, _BLOCK_CELLS // max(1, a.shape[1] * window_px * window_px))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        for r0 in range(0, a.shape[0], rows):
            block = views[r0:r0 + rows].reshape(*views[r0:r0 + rows].shape[:2], -1)
            med = np.nanmedian(block, axis=-1)
            enough = np.isfinite(block).sum(axis=-1) >= min_valid
            out[r0:r0 + rows] = np.where(enough, med, np.nan)
    return out


def regional_percentile(field: np.ndarray, q: float = 50.0,
                        region: np.ndarray | None = None) -> np.ndarray:
    """The ``q``-th percentile of the valid values of ``field`` (inside ``region``) as a
    constant field of the same shape (NaN when no value is valid)."""
    a = np.asarray(field, dtype=np.float64)
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be in [0, 100], not {q}")
    ok = np.isfinite(a)
    if region is not None:
        ok &= np.asarray(region, dtype=bool)
    level = float(np.percentile(a[ok], q)) if ok.any() else math.nan
    return np.full(a.shape, level)


def anomaly(field: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``field - background`` (NaN where either is)."""
    return np.asarray(field, dtype=np.float64) - np.asarray(background, dtype=np.float64)


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite values (NaN when none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan
    return float(MAD_TO_SIGMA * np.median(np.abs(v - np.median(v))))
