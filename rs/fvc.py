"""Fractional vegetation cover by the pixel dichotomy model (pure: xarray in, xarray out, lazy).

A pixel is taken as a linear mix of bare soil and full vegetation, so its NDVI lies between the
NDVI of pure soil and of pure vegetation:

    FVC = (NDVI - NDVI_soil) / (NDVI_veg - NDVI_soil),   clipped to [0, 1]

Gutman, G. & Ignatov, A. (1998), "The derivation of the green vegetation fraction from
NOAA/AVHRR data for use in numerical weather prediction models", Int. J. Remote Sensing 19(8),
1533-1543. NDVI_soil / NDVI_veg are either given or taken as a low and a high percentile of the
scene's NDVI (default 5 % and 95 %: the cumulative-frequency confidence interval common in
vegetation-cover practice, e.g. Li Miaomiao et al. 2004, in Chinese, not checked against the
original here), which removes the noise of the extreme pixels. Unitless fraction, 0..1.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = ["fractional_vegetation_cover", "ndvi_endmembers"]


def _check_percentiles(percentiles: Sequence[float]) -> tuple[float, float]:
    if len(percentiles) != 2:
        raise ValueError(f"percentiles must be (soil, vegetation), got {tuple(percentiles)}")
    lo, hi = float(percentiles[0]), float(percentiles[1])
    if not 0.0 <= lo < hi <= 100.0:
        raise ValueError(
            f"percentiles must satisfy 0 <= soil < vegetation <= 100, got ({lo}, {hi})"
        )
    return lo, hi


def _nanpercentile(values: np.ndarray, q: tuple[float, float]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN input: NaN end-members
        return np.asarray(np.nanpercentile(np.asarray(values, np.float64), q), np.float64)


def ndvi_endmembers(
    ndvi: xr.DataArray, percentiles: Sequence[float] = (5.0, 95.0)
) -> tuple[xr.DataArray, xr.DataArray]:
    """``(NDVI_soil, NDVI_veg)``: the given percentiles of ``ndvi`` over all its pixels.

    NaN is skipped; percentiles interpolate linearly (``numpy.nanpercentile``). Both are 0-d
    DataArrays, dask-backed (lazy) when ``ndvi`` is: the exact percentile needs every pixel in
    one task, so for large rasters compute the end-members once from a sample and pass them to
    :func:`fractional_vegetation_cover` as numbers. All-NaN input gives NaN end-members.
    """
    q = _check_percentiles(percentiles)
    import dask
    import dask.array as da

    data = ndvi.data
    if isinstance(data, da.Array):
        pair = da.from_delayed(
            dask.delayed(_nanpercentile, pure=True)(data, q), shape=(2,), dtype=np.float64
        )
    else:
        pair = _nanpercentile(np.asarray(data), q)
    return xr.DataArray(pair[0]), xr.DataArray(pair[1])


def fractional_vegetation_cover(
    ndvi: xr.DataArray,
    *,
    ndvi_soil: float | None = None,
    ndvi_veg: float | None = None,
    percentiles: Sequence[float] = (5.0, 95.0),
) -> xr.DataArray:
    """FVC = ((NDVI - NDVI_soil) / (NDVI_veg - NDVI_soil)) clipped to [0, 1], float32.

    ``ndvi_soil`` / ``ndvi_veg``: NDVI of bare soil and of full vegetation; each one not given
    is the matching percentile of ``ndvi`` (``percentiles = (soil, vegetation)``, default 5 and
    95, see :func:`ndvi_endmembers`). NaN where NDVI is NaN, and everywhere when the end-members
    coincide (a zero denominator). Lazy for dask input. Raises ``ValueError`` when both are
    given and ``ndvi_veg <= ndvi_soil`` or the percentiles are not ``0 <= soil < veg <= 100``.
    """
    _check_percentiles(percentiles)
    if ndvi_soil is not None and ndvi_veg is not None and not ndvi_veg > ndvi_soil:
        raise ValueError(
            f"ndvi_veg ({ndvi_veg}) must be greater than ndvi_soil ({ndvi_soil}) for the pixel "
            "dichotomy model"
        )
    soil: xr.DataArray | float
    veg: xr.DataArray | float
    if ndvi_soil is None or ndvi_veg is None:
        soil_q, veg_q = ndvi_endmembers(ndvi, percentiles)
        soil = soil_q if ndvi_soil is None else float(ndvi_soil)
        veg = veg_q if ndvi_veg is None else float(ndvi_veg)
    else:
        soil, veg = float(ndvi_soil), float(ndvi_veg)
    den = xr.DataArray(veg - soil)  # 0-d; lazy when an end-member is
    frac = (ndvi.astype(np.float64) - soil) / den.where(den > 0)
    out = frac.clip(0.0, 1.0).astype(np.float32)
    out.attrs = {"units": "1"}
    return out
