"""Space-time matchups of a gridded product with ground stations (pure).

A product is one :class:`Raster` or a time series of them (a 2-D array, its affine transform
and CRS, its time, optionally a QA array: rs's COGs read back, or a gridded TROPOMI day). For
every station inside a raster's grid and every raster, :func:`match` takes

* the **satellite value** from the pixels of the station (``method``): the pixel containing it
  (``nearest``), the mean of the k x k pixels centred on that pixel (``window``, k odd), or the
  mean of the pixels whose centres lie within ``radius_m`` of the station (``radius``; great
  circle distance on a geographic grid; the containing pixel when no centre is that close). A
  pixel is valid when finite and, with ``qa_min``, when its QA value is at least ``qa_min``;
  window pixels beyond the grid edge count as invalid. Carried along: ``n_pixels``, ``n_valid``,
  ``valid_share`` and ``qa_mean`` (over the pixels inside the grid);
* the **ground value**, the mean of the station's observations of ``variable`` in a time window
  (``ground``): ``overpass`` is ``overpass_time`` in mean local solar time (UTC + lon/15 h) on
  the raster's UTC date ± ``half_window_min`` (both ends included): the satellite's equator
  crossing time, 13:30 for Sentinel-5P; ``time`` is the raster's own time ± ``half_window_min``;
  ``daily`` the raster's date as a local solar day, ``monthly`` its month from local solar
  midnight to midnight (start included, end excluded). ``ground_n`` counts the observations and
  ``ground_start`` / ``ground_end`` give the window in UTC.

A row is ``usable`` when ``valid_share >= min_valid_share``, there is at least one valid pixel
and at least ``min_ground_obs`` observations. The table (:data:`COLUMNS`, then the stations'
attribute columns) records every parameter in its own columns too, so a table is
self-describing; one row per station inside a raster's grid and raster, by station and time.

Reported (``Matchups.report``: station_id, lon, lat, problem, detail) and left out of the
table: observed stations with unknown coordinates, stations outside the footprint of every
raster (or of some of them), stations whose pixels are never valid, stations with no
observation of the variable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time as dtime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from affine import Affine
from pydantic import Field, field_validator

from rs._model import Strict
from rs.errors import SpecError
from rs.stations._pixels import satellite_values, station_pixels
from rs.stations.schema import normalize_variable
from rs.stations.units import DEFAULT_PRESSURE_HPA, DEFAULT_TEMPERATURE_C, convert_observations

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["COLUMNS", "MatchupParams", "Matchups", "Raster", "match", "to_geodataframe"]

COLUMNS = (
    "station_id", "lon", "lat", "time", "sat_value", "sat_variable", "sat_unit", "n_pixels",
    "n_valid", "valid_share", "qa_mean", "row", "col", "ground_value", "ground_n",
    "ground_variable", "ground_unit", "ground_start", "ground_end", "usable",
    "method", "window", "radius_m", "qa_min", "min_valid_share", "ground", "overpass_time",
    "half_window_min", "min_ground_obs",
)
_NS_PER_H = 3_600_000_000_000


@dataclass(frozen=True)
class Raster:
    """One gridded field: ``data`` (2-D, NaN = no data), ``transform`` (affine, pixel corner
    to CRS), ``crs`` (anything pyproj reads), ``time`` (tz-aware; a daily product's day is its
    UTC date), optional ``qa`` (same shape, higher is better)."""

    data: np.ndarray
    transform: Affine
    crs: str
    time: pd.Timestamp
    qa: np.ndarray | None = None
    variable: str = "value"
    unit: str = ""
    _key: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        data = np.asarray(self.data, dtype="float64")
        if data.ndim != 2:
            raise SpecError(f"a raster must be 2-D, got shape {data.shape}")
        qa = None if self.qa is None else np.asarray(self.qa, dtype="float64")
        if qa is not None and qa.shape != data.shape:
            raise SpecError(f"qa shape {qa.shape} differs from the data's {data.shape}")
        t = pd.Timestamp(self.time)
        if t.tzinfo is None:
            raise SpecError(
                f"raster time {t} has no time zone: give it one (e.g. "
                f"pd.Timestamp('{t}', tz='UTC')); no time zone is assumed"
            )
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "qa", qa)
        object.__setattr__(self, "time", t.tz_convert("UTC"))
        object.__setattr__(self, "transform", Affine(*tuple(self.transform)[:6]))
        object.__setattr__(self, "_key", (data.shape, tuple(self.transform)[:6], str(self.crs)))


class MatchupParams(Strict):
    """How to match (module doc); every field lands in the matchup table."""

    variable: str
    method: Literal["nearest", "window", "radius"] = "nearest"
    window: int = Field(3, ge=1)
    radius_m: float = Field(5000.0, gt=0)
    qa_min: float | None = None
    min_valid_share: float = Field(0.5, ge=0, le=1)
    ground: Literal["overpass", "time", "daily", "monthly"] = "overpass"
    overpass_time: str = "13:30"
    half_window_min: float = Field(60.0, gt=0)
    min_ground_obs: int = Field(1, ge=1)
    unit: str | None = None
    temperature_c: float = DEFAULT_TEMPERATURE_C
    pressure_hpa: float = DEFAULT_PRESSURE_HPA

    @field_validator("window")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"window must be odd (a k x k window centred on a pixel), got {v}")
        return v

    @field_validator("overpass_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        try:
            dtime.fromisoformat(v)
        except ValueError as e:
            raise ValueError(f"overpass_time {v!r} is not a time HH:MM") from e
        return v

    @field_validator("variable")
    @classmethod
    def _variable(cls, v: str) -> str:
        return normalize_variable(v)


@dataclass(frozen=True)
class Matchups:
    """The matchup table, what was reported, and the parameters used."""

    table: pd.DataFrame
    report: pd.DataFrame
    parameters: dict[str, Any]


def match(
    rasters: Raster | Sequence[Raster],
    stations: pd.DataFrame,
    observations: pd.DataFrame,
    params: MatchupParams,
) -> Matchups:
    """Match every raster with every station (module doc). ``stations`` and ``observations``
    are tidy tables (:mod:`rs.stations.schema`)."""
    series = [rasters] if isinstance(rasters, Raster) else list(rasters)
    if not series:
        raise SpecError("match() needs at least one raster")
    report: list[dict[str, Any]] = []
    obs = _ground_observations(observations, params)
    st = stations.reset_index(drop=True)
    for sid in sorted(set(obs["station_id"].unique()) - set(st["station_id"])):
        report.append(_row(sid, math.nan, math.nan, "unknown coordinates",
                           "observed station not in the station table"))
    no_obs = sorted(set(st["station_id"]) - set(obs["station_id"].unique()))
    for sid in no_obs:
        r = st[st["station_id"] == sid].iloc[0]
        report.append(_row(sid, r["lon"], r["lat"], "no observations",
                           f"no observation of {params.variable}"))
    st = st[~st["station_id"].isin(no_obs)].reset_index(drop=True)
    lon, lat = st["lon"].to_numpy("float64"), st["lat"].to_numpy("float64")
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, r in enumerate(series):
        groups.setdefault(r._key, []).append(i)
    parts, inside_count = [], np.zeros(len(st), dtype=int)
    valid_any = np.zeros(len(st), dtype=bool)
    for idx in groups.values():
        grid = series[idx[0]]
        rows, cols, inside = station_pixels(grid, lon, lat)
        inside_count += inside * len(idx)
        sel = np.flatnonzero(inside)
        if not sel.size:
            continue
        sat = satellite_values(
            [series[i] for i in idx], rows[sel], cols[sel], lon[sel], lat[sel], params
        )
        valid_any[sel] |= (sat["n_valid"] > 0).any(axis=0)
        for k, i in enumerate(idx):
            parts.append(_frame(series[i], sel, rows[sel], cols[sel],
                                {n: a[k] for n, a in sat.items()}))
    n_r = len(series)
    for j in range(len(st)):
        sid, x, y = st["station_id"].iloc[j], lon[j], lat[j]
        if inside_count[j] == 0:
            report.append(_row(sid, x, y, "outside the footprint",
                               f"outside the grid of all {n_r} raster(s)"))
        elif inside_count[j] < n_r:
            report.append(_row(sid, x, y, "outside the footprint",
                               f"outside the grid of {n_r - inside_count[j]} of {n_r} rasters"))
        if inside_count[j] and not valid_any[j]:
            report.append(_row(sid, x, y, "no valid pixel",
                               "no valid pixel at the station in any raster"))
    table = _assemble(parts, st, obs, params)
    rep = pd.DataFrame(report, columns=["station_id", "lon", "lat", "problem", "detail"])
    return Matchups(table, rep, params.model_dump())


def to_geodataframe(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """The matchup table as points (EPSG:4326) for a GeoParquet / GeoPackage writer."""
    import geopandas as gpd

    return gpd.GeoDataFrame(
        table.copy(), geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326"
    )


def _frame(
    r: Raster, sel: np.ndarray, rows: np.ndarray, cols: np.ndarray, sat: dict[str, np.ndarray]
) -> pd.DataFrame:
    return pd.DataFrame({
        "_station": sel, "time": r.time, "sat_variable": r.variable, "sat_unit": r.unit,
        "row": rows, "col": cols, **sat,
    })


# --- ground side ---------------------------------------------------------------------------


def _ground_observations(observations: pd.DataFrame, params: MatchupParams) -> pd.DataFrame:
    obs = observations[observations["variable"] == params.variable]
    if params.unit is not None:
        obs = convert_observations(obs, params.unit, temperature_c=params.temperature_c,
                                   pressure_hpa=params.pressure_hpa)
    units = sorted(obs["unit"].unique())
    if len(units) > 1:
        raise SpecError(
            f"observations of {params.variable} come in units {', '.join(units)}: "
            "name one with unit=... to convert them"
        )
    return obs


def _windows(
    times: np.ndarray, lon: np.ndarray, params: MatchupParams
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Ground windows [start, end] in UTC ns, one per row (a raster time at a station's
    longitude), and whether ``end`` is included."""
    t = pd.DatetimeIndex(times).tz_convert("UTC")
    day = t.floor("D").as_unit("ns").asi8
    shift = np.rint(lon / 15.0 * 3600.0).astype("int64") * 1_000_000_000  # solar - UTC, whole s
    half = round(params.half_window_min * 60e9)
    if params.ground == "overpass":
        hh = dtime.fromisoformat(params.overpass_time)
        at = day + (hh.hour * 3600 + hh.minute * 60 + hh.second) * 1_000_000_000 - shift
        return at - half, at + half, True
    if params.ground == "time":
        at = t.as_unit("ns").asi8
        return at - half, at + half, True
    if params.ground == "daily":
        start = day - shift
        return start, start + 24 * _NS_PER_H, False
    month = t.tz_localize(None).to_period("M")
    m0 = month.to_timestamp().as_unit("ns").asi8
    m1 = (month + 1).to_timestamp().as_unit("ns").asi8
    return m0 - shift, m1 - shift, False


def _assemble(
    parts: list[pd.DataFrame], st: pd.DataFrame, obs: pd.DataFrame, params: MatchupParams
) -> pd.DataFrame:
    attrs = [c for c in st.columns if c not in ("station_id", "lon", "lat", "name")]
    clash = [c for c in attrs if c in COLUMNS]
    if clash:
        raise SpecError(f"station attribute column(s) {', '.join(clash)} clash with matchup "
                        "columns: rename them")
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
        return empty.assign(**{c: pd.Series(dtype="object") for c in attrs})
    df = pd.concat(parts, ignore_index=True)
    j = df["_station"].to_numpy()
    lon = st["lon"].to_numpy("float64")[j]
    start, end, closed = _windows(df["time"].to_numpy(), lon, params)
    g_val, g_n = _ground_means(obs, st["station_id"].to_numpy(), j, start, end, closed)
    df.insert(0, "station_id", st["station_id"].to_numpy()[j])
    df.insert(1, "lon", lon)
    df.insert(2, "lat", st["lat"].to_numpy("float64")[j])
    df["ground_value"], df["ground_n"] = g_val, g_n
    df["ground_variable"] = params.variable
    unit = obs["unit"].iloc[0] if len(obs) else (params.unit or "")
    df["ground_unit"] = unit
    df["ground_start"] = pd.to_datetime(start, utc=True).as_unit("ns")
    df["ground_end"] = pd.to_datetime(end, utc=True).as_unit("ns")
    df["usable"] = ((df["valid_share"] >= params.min_valid_share) & (df["n_valid"] > 0)
                    & (df["ground_n"] >= params.min_ground_obs))
    p = params.model_dump()
    for c in COLUMNS[COLUMNS.index("method"):]:
        df[c] = p[c]
    for c in attrs:
        df[c] = st[c].to_numpy()[j]
    df = df.drop(columns="_station")[[*COLUMNS, *attrs]]
    return df.sort_values(["station_id", "time"], kind="stable").reset_index(drop=True)


def _ground_means(
    obs: pd.DataFrame, ids: np.ndarray, station: np.ndarray, start: np.ndarray, end: np.ndarray,
    closed: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count of each row's station's observations in [start, end] (or [start, end))."""
    code = pd.Index(ids).get_indexer(obs["station_id"])
    keep = code >= 0
    code = code[keep].astype("int64")
    t = pd.DatetimeIndex(obs["time"]).as_unit("ns").asi8[keep]
    v = obs["value"].to_numpy("float64")[keep]
    order = np.lexsort((t, code))
    code, t, v = code[order], t[order], v[order]
    bounds = np.searchsorted(code, np.arange(ids.size + 1))
    means = np.full(station.size, np.nan)
    counts = np.zeros(station.size, dtype="int64")
    for s in np.unique(station):
        rows = np.flatnonzero(station == s)
        lo, hi = bounds[s], bounds[s + 1]
        ts = t[lo:hi]
        csum = np.concatenate([[0.0], np.cumsum(v[lo:hi])])
        j0 = np.searchsorted(ts, start[rows], side="left")
        j1 = np.searchsorted(ts, end[rows], side="right" if closed else "left")
        n = j1 - j0
        counts[rows] = n
        with np.errstate(invalid="ignore", divide="ignore"):
            means[rows] = np.where(n > 0, (csum[j1] - csum[j0]) / n, np.nan)
    return means, counts


def _row(sid: Any, lon: float, lat: float, problem: str, detail: str) -> dict[str, Any]:
    return {"station_id": str(sid), "lon": float(lon), "lat": float(lat), "problem": problem,
            "detail": detail}
