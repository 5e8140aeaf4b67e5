"""10 m wind at a plume: user wind fields and the effective wind of the IME method.

Wind sources (all answer :meth:`at(lon, lat, time) -> (u10, v10)` in m/s, NaN when the field
does not cover the point or time):

* :class:`GridWind`: ``u10``/``v10`` on ``lat``/``lon`` (and optionally ``time``) axes, as in a
  NetCDF file (:func:`read_wind` with ``.nc``: variables ``u10``/``v10``, coordinates
  ``lon``/``lat`` or ``longitude``/``latitude``, optional ``time``); bilinear in space, linear
  in time; outside the axes NaN.
* :class:`PointWind`: a table of ``time, lon, lat, u10, v10`` rows (:func:`read_wind` with
  ``.csv``): the rows of the time nearest to the plume (within ``max_gap``), inverse-distance
  weighted (power 2) over the points within ``max_km``; none -> NaN.
* :class:`ConstantWind`: one wind everywhere (tests, a user's single measurement).

**Effective wind** (:func:`effective_wind`): ``U_eff = a · U10 + b``, the form Varon et al.
(2018, AMT 11, 5673, doi:10.5194/amt-11-5673-2018) fitted to large-eddy simulations for the
IME method ``Q = U_eff · IME / L`` with ``L = sqrt(plume area)``; Schuit et al. (2023, ACP 23,
9071, doi:10.5194/acp-23-9071-2023) use the same kind of linear ``U_eff(U10)`` for TROPOMI
plumes. The coefficients depend on the pixel size, the plume masking and the atmosphere, so
the defaults here (:data:`UEFF_A`, :data:`UEFF_B`) are *our own* calibration for the synthetic
Gaussian plume of :mod:`rs.testing.s5p` as detected and masked by
:func:`rs.atmos.plumes.swath_plumes` with its defaults (see :data:`UEFF_A`); pass
``a``/``b`` for a published calibration matching real data and your masking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "UEFF_A",
    "UEFF_B",
    "ConstantWind",
    "GridWind",
    "PointWind",
    "WindSource",
    "effective_wind",
    "read_wind",
]

#: U_eff = UEFF_A · U10 + UEFF_B (m/s): the median of Q_true · L / (IME · U10) over the
#: synthetic calibration plumes (rs.atmos.plumes module docstring: how it was measured).
UEFF_A = 0.72
UEFF_B = 0.0


def effective_wind(u10: float, a: float = UEFF_A, b: float = UEFF_B) -> float:
    """``a · U10 + b`` (m/s); NaN for a NaN wind."""
    return a * u10 + b if math.isfinite(u10) else math.nan


class WindSource(Protocol):
    def at(self, lon: float, lat: float, time: np.datetime64 | None) -> tuple[float, float]:
        """(u10, v10) in m/s at a point and time; NaN when unknown."""
        ...


@dataclass(frozen=True)
class ConstantWind:
    u10: float
    v10: float

    def at(self, lon: float, lat: float, time: np.datetime64 | None) -> tuple[float, float]:
        return float(self.u10), float(self.v10)


_THREE_HOURS = np.timedelta64(3, "h")


def _bilinear(axis: np.ndarray, x: float) -> tuple[int, int, float] | None:
    """(i0, i1, weight of i1) of ``x`` on an ascending ``axis``; None outside."""
    if axis.size == 1:
        return (0, 0, 0.0) if x == axis[0] else None
    if not axis[0] <= x <= axis[-1]:
        return None
    i1 = int(np.clip(np.searchsorted(axis, x, side="right"), 1, axis.size - 1))
    i0 = i1 - 1
    return i0, i1, float((x - axis[i0]) / (axis[i1] - axis[i0]))


@dataclass(frozen=True, eq=False)
class GridWind:
    """``u10``/``v10`` of shape ``(time, lat, lon)``, axes ascending (``time`` may be None:
    then the arrays are ``(lat, lon)``)."""

    lon: np.ndarray
    lat: np.ndarray
    u10: np.ndarray
    v10: np.ndarray
    time: np.ndarray | None = None

    def __post_init__(self) -> None:
        lon, lat = np.asarray(self.lon, float), np.asarray(self.lat, float)
        u, v = np.asarray(self.u10, float), np.asarray(self.v10, float)
        if self.time is None:
            u, v = u[None], v[None]
        if u.shape != v.shape or u.shape[1:] != (lat.size, lon.size):
            raise ValueError(f"wind arrays {u.shape} do not match lat {lat.size} x lon {lon.size}")
        ilon, ilat = np.argsort(lon), np.argsort(lat)  # ascending axes
        u, v = u[:, ilat][:, :, ilon], v[:, ilat][:, :, ilon]
        t = None
        if self.time is not None:
            t = np.asarray(self.time, dtype="datetime64[ms]")
            it = np.argsort(t)
            t, u, v = t[it], u[it], v[it]
        for name, val in (("lon", lon[ilon]), ("lat", lat[ilat]), ("u10", u), ("v10", v),
                          ("time", t)):
            object.__setattr__(self, name, val)

    def at(self, lon: float, lat: float, time: np.datetime64 | None) -> tuple[float, float]:
        x = _bilinear(self.lon, float(lon))
        y = _bilinear(self.lat, float(lat))
        if x is None or y is None:
            return math.nan, math.nan
        if self.time is None:
            frames = [(0, 1.0)]
        else:
            if time is None:
                return math.nan, math.nan
            t = self.time.astype(np.int64).astype(float)
            z = _bilinear(t, float(np.asarray(time, dtype="datetime64[ms]").astype(np.int64)))
            if z is None:
                return math.nan, math.nan
            frames = [(z[0], 1.0 - z[2]), (z[1], z[2])]
        (i0, i1, wx), (j0, j1, wy) = x, y
        out = []
        for arr in (self.u10, self.v10):
            val = 0.0
            for k, wt in frames:
                if wt == 0.0:
                    continue
                a = arr[k]
                val += wt * ((1 - wy) * ((1 - wx) * a[j0, i0] + wx * a[j0, i1])
                             + wy * ((1 - wx) * a[j1, i0] + wx * a[j1, i1]))
            out.append(float(val))
        return out[0], out[1]


@dataclass(frozen=True, eq=False)
class PointWind:
    """Wind measured or modelled at points: a DataFrame with ``time, lon, lat, u10, v10``."""

    table: Any  # pandas.DataFrame
    max_gap: np.timedelta64 = _THREE_HOURS
    max_km: float = 100.0

    def at(self, lon: float, lat: float, time: np.datetime64 | None) -> tuple[float, float]:
        t = self.table
        times = np.asarray(t["time"].to_numpy(), dtype="datetime64[ms]")
        if time is None:
            rows = np.ones(len(t), dtype=bool)
        else:
            gap = np.abs(times - np.asarray(time, dtype="datetime64[ms]"))
            if gap.size == 0 or gap.min() > self.max_gap:
                return math.nan, math.nan
            rows = times == times[np.argmin(gap)]
        plon = np.asarray(t["lon"], float)[rows]
        plat = np.asarray(t["lat"], float)[rows]
        d = _distance_km(plon, plat, float(lon), float(lat))
        near = d <= self.max_km
        if not near.any():
            return math.nan, math.nan
        w = 1.0 / np.maximum(d[near], 1e-3) ** 2
        u = np.asarray(t["u10"], float)[rows][near]
        v = np.asarray(t["v10"], float)[rows][near]
        return float((w * u).sum() / w.sum()), float((w * v).sum() / w.sum())


def _distance_km(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    p1, p2 = np.radians(lat), math.radians(lat0)
    dl = np.radians(lon - lon0)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _pick(names: Any, *options: str) -> str:
    for o in options:
        if o in names:
            return o
    raise ValueError(f"none of {', '.join(options)} in the wind file (has {', '.join(names)})")


def read_wind(path: str | Path, **kwargs: Any) -> GridWind | PointWind:
    """A wind file: NetCDF (``.nc``/``.nc4``) -> :class:`GridWind`; CSV -> :class:`PointWind`
    (``kwargs`` go to it: ``max_gap``, ``max_km``). A missing variable raises ValueError naming
    the file."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            import pandas as pd

            table = pd.read_csv(p)
            missing = {"time", "lon", "lat", "u10", "v10"} - set(table.columns)
            if missing:
                raise ValueError(f"missing columns {', '.join(sorted(missing))}")
            table["time"] = pd.to_datetime(table["time"], utc=True).dt.tz_localize(None)
            return PointWind(table, **kwargs)
        import xarray as xr

        with xr.open_dataset(p, engine="h5netcdf") as ds:
            lon = _pick(ds.variables, "lon", "longitude")
            lat = _pick(ds.variables, "lat", "latitude")
            u, v = _pick(ds.variables, "u10", "u"), _pick(ds.variables, "v10", "v")
            has_time = "time" in ds[u].dims
            order = [d for d in ("time", lat, lon) if d in ds[u].dims]
            return GridWind(ds[lon].values, ds[lat].values,
                            ds[u].transpose(*order).values, ds[v].transpose(*order).values,
                            ds["time"].values if has_time else None)
    except (KeyError, ValueError) as e:
        raise ValueError(f"{p}: not a usable wind file ({e})") from e
