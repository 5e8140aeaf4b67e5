"""Theil–Sen slopes and Mann–Kendall significance, per pixel and per polygon (pure, vectorised).

For every series (a pixel's values over time, or a polygon's column of a table) with its NaNs
dropped:

- ``slope``: Theil–Sen estimator, the median of the slopes ``(y_j - y_i) / (t_j - t_i)`` over
  all pairs of valid values at different times. Units: value units **per year** when the time
  axis holds datetimes (decimal years, leap years counted, ``rs.coast.stats.decimal_years``);
  per unit of the time coordinate when it is numeric (per year for a coordinate of years);
  per time step when there is no coordinate (then it equals ``pymannkendall.sens_slope``);
- ``intercept``: Conover's intercept ``median(y) - median(t) * slope`` with ``t`` counted
  from the first time of the axis, i.e. the fitted value at the first time step (as
  pymannkendall, whose ``t`` is the index);
- ``tau`` (Kendall's τ = S / (n(n-1)/2)), ``s`` (S = Σ_{i<j} sign(y_j - y_i)), ``var_s``
  (``(n(n-1)(2n+5) - Σ_g t_g(t_g-1)(2t_g+5)) / 18`` over groups of tied values, as
  pymannkendall's ``original_test``), ``z`` (continuity-corrected: ``(S ∓ 1)/√var``, 0 for
  S = 0), ``p`` (two-sided normal p-value), ``n`` (valid values);
- ``trend_class``: 1 significant increase ("improvement", p < alpha and slope > 0), -1
  significant decrease ("degradation", p < alpha and slope < 0), 0 stable; NaN when there is
  no test. (pymannkendall's ``trend`` follows the sign of z instead: the two differ only when
  ties make a significant series' median slope exactly 0, which is "stable" here.)

Series with fewer than ``min_count`` valid values (default 4), NaN-only ones included, give
NaN everywhere but ``n``; never an exception. Times are sorted first; two values at the same
time form no pair (no slope, no sign).

Vectorised: the pairs are a fixed (i < j) index over the time axis, so S is a matrix product
of pair signs, the slopes one array, and their NaN-aware median one sort along the pair axis.
Series are processed in groups of about 4 M pair values (~32 MB) to bound memory. Per pixel,
a dask-backed cube stays lazy (``xarray.apply_ufunc(dask="parallelized")``, one chunk along
time: the cube is rechunked to it if needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from rs.errors import SpecError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["TREND_STATS", "pixel_trends", "series_trends", "trend_arrays", "trend_times"]

#: Output statistics, in the order of :func:`trend_arrays`'s last axis
TREND_STATS: tuple[str, ...] = ("slope", "intercept", "tau", "s", "var_s", "z", "p", "n",
                                "trend_class")
#: Pair values processed at once (series x pairs), about 32 MB of float64
_PAIR_BUDGET = 1 << 22


def _check(alpha: float, min_count: int) -> None:
    if not 0 < alpha < 1:
        raise SpecError(f"alpha is a significance level between 0 and 1 (e.g. 0.05), got {alpha}")
    if int(min_count) != min_count or min_count < 2:
        raise SpecError(f"min_count is the fewest valid values a series needs for a trend, an "
                        f"integer >= 2; got {min_count}")


def trend_times(times: Any) -> tuple[np.ndarray, str]:
    """Time axis -> (float times counted from the first one, slope units).

    Datetimes become decimal years (``"per year"``); numbers are used as they are (``"per
    time unit"``: per year for years); ``None`` gives the positions 0, 1, 2... (``"per time
    step"``).
    """
    if times is None:
        raise ValueError("trend_times needs times; use np.arange(n) for positions")
    arr = np.asarray(times)
    if arr.dtype.kind == "M" or isinstance(times, pd.DatetimeIndex):
        from rs.coast.stats import decimal_years

        t = decimal_years(pd.DatetimeIndex(times))
        units = "per year"
    elif arr.dtype.kind in "iuf":
        t = arr.astype(np.float64)
        units = "per time unit"
    else:
        raise SpecError(f"the time axis must hold datetimes or numbers, got {arr.dtype} "
                        f"({arr[:3].tolist()}...); for plain positions use 0, 1, 2...")
    if t.ndim != 1 or not np.isfinite(t).all():
        raise SpecError("the time axis must be one-dimensional with no missing times")
    return t - t[0] if len(t) else t, units


def _masked_median(sorted_vals: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Median of each row of ``sorted_vals`` (NaNs sorted last) over its first ``k`` values."""
    lo = np.clip((k - 1) // 2, 0, None)
    hi = np.clip(k // 2, 0, sorted_vals.shape[1] - 1)
    a = np.take_along_axis(sorted_vals, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(sorted_vals, hi[:, None], axis=1)[:, 0]
    return np.where(k > 0, (a + b) / 2, np.nan)


def _group(y: np.ndarray, t: np.ndarray, iu: tuple[np.ndarray, np.ndarray], alpha: float,
           min_count: int) -> np.ndarray:
    """The statistics of a group of series ``y`` (m, T): (m, len(TREND_STATS))."""
    i, j = iu
    valid = ~np.isnan(y)
    n = valid.sum(axis=1)
    d = y[:, j] - y[:, i]  # (m, P): NaN where either value is missing
    dt = t[j] - t[i]
    sgn = np.sign(d)
    sgn[np.isnan(sgn)] = 0.0
    s = sgn @ np.sign(dt)
    keep = dt != 0
    slopes = np.sort(d[:, keep] / dt[keep], axis=1)  # NaN last
    slope = _masked_median(slopes, (~np.isnan(slopes)).sum(axis=1))
    med_y = _masked_median(np.sort(y, axis=1), n)
    t_valid = np.sort(np.where(valid, t, np.nan), axis=1)
    intercept = med_y - _masked_median(t_valid, n) * slope
    # ties: a value in a group of g equal values adds (g-1)(2g+5); summed, Σ_g g(g-1)(2g+5)
    g = (y[:, :, None] == y[:, None, :]).sum(axis=2)
    ties = np.where(valid, (g - 1) * (2 * g + 5), 0).sum(axis=1)
    nf = n.astype(np.float64)
    var_s = (nf * (nf - 1) * (2 * nf + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(var_s)
        z = np.where(s > 0, (s - 1) / root, np.where(s < 0, (s + 1) / root, 0.0))
        tau = s / (0.5 * nf * (nf - 1))
    p = 2.0 * ndtr(-np.abs(z))
    cls = np.where(p < alpha, np.sign(slope), 0.0)
    out = np.stack([slope, intercept, tau, s, var_s, z, p, nf, cls], axis=1)
    out[n < min_count, :] = np.nan
    out[:, TREND_STATS.index("n")] = nf
    return out


def trend_arrays(values: np.ndarray, t: np.ndarray | None = None, *, alpha: float = 0.05,
                 min_count: int = 4) -> np.ndarray:
    """Trend statistics of every series along the **last** axis of ``values``.

    :param values: (..., T) array, NaN where missing; any float or int dtype (computed in
        float64).
    :param t: (T,) float times (e.g. from :func:`trend_times`), ascending; ``None``: positions.
    :returns: (..., len(TREND_STATS)) float64, the statistics in :data:`TREND_STATS` order.
    """
    _check(alpha, min_count)
    y = np.asarray(values, dtype=np.float64)
    nt = y.shape[-1]
    tt = np.arange(nt, dtype=np.float64) if t is None else np.asarray(t, dtype=np.float64)
    if tt.shape != (nt,):
        raise ValueError(f"{tt.shape[0] if tt.ndim == 1 else tt.shape} times for {nt} values")
    flat = y.reshape(-1, nt)
    out = np.full((flat.shape[0], len(TREND_STATS)), np.nan)
    iu = np.triu_indices(nt, 1)
    step = max(1, _PAIR_BUDGET // max(len(iu[0]), nt * nt, 1))
    for start in range(0, flat.shape[0], step):
        out[start:start + step] = _group(flat[start:start + step], tt, iu, alpha, min_count)
    return out.reshape(*y.shape[:-1], len(TREND_STATS))


def series_trends(table: pd.DataFrame, *, alpha: float = 0.05,
                  min_count: int = 4) -> pd.DataFrame:
    """Trend of every column of ``table`` (rows = times, columns = polygons or other series).

    The index gives the times: datetimes (slope per year) or numbers (per unit: per year for
    years; a RangeIndex: per time step). Rows are sorted by time first.
    :returns: one row per column of ``table`` (same order, index named as ``table.columns``),
        columns :data:`TREND_STATS`; ``attrs["slope_units"]`` says the slope's unit.
    """
    t, units = trend_times(table.index)
    if isinstance(table.index, pd.RangeIndex):
        units = "per time step"
    order = np.argsort(t, kind="stable")
    t = t[order] - t[order][0] if len(t) else t
    values = table.to_numpy(dtype=np.float64)[order].T
    stats = trend_arrays(values, t, alpha=alpha, min_count=min_count)
    out = pd.DataFrame(stats, index=table.columns, columns=list(TREND_STATS))
    out.attrs["slope_units"] = units
    return out


def pixel_trends(cube: xr.DataArray, *, dim: str = "time", alpha: float = 0.05,
                 min_count: int = 4) -> xr.Dataset:
    """Per-pixel trends of ``cube`` along ``dim``: a Dataset of :data:`TREND_STATS` over the
    other dimensions (``n`` int32, the rest float64). Lazy when ``cube`` is dask-backed (one
    task per spatial chunk; ``dim`` is rechunked to one chunk).

    The ``dim`` coordinate gives the times (datetimes: slope per year; numbers: per unit);
    without one, positions (per time step). ``attrs["slope_units"]`` says which.
    """
    import xarray as xr

    _check(alpha, min_count)
    if dim not in cube.dims:
        raise SpecError(f"the cube has no {dim!r} dimension (dimensions: {list(cube.dims)})")
    if dim in cube.coords:
        cube = cube.sortby(dim)
        t, units = trend_times(cube[dim].values)
    else:
        t, units = None, "per time step"
    if cube.chunks is not None:
        cube = cube.chunk({dim: -1})

    def block(values: np.ndarray) -> np.ndarray:
        return trend_arrays(values, t, alpha=alpha, min_count=min_count)

    stats = xr.apply_ufunc(
        block, cube, input_core_dims=[[dim]], output_core_dims=[["stat"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"stat": len(TREND_STATS)}},
    )
    ds = stats.assign_coords(stat=list(TREND_STATS)).to_dataset(dim="stat")
    ds["n"] = ds["n"].astype(np.int32)
    ds.attrs.update(slope_units=units, alpha=alpha, min_count=min_count,
                    trend_class="1 significant increase, -1 significant decrease, 0 stable, "
                    "NaN no test")
    return ds
