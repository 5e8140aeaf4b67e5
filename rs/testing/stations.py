"""Synthetic truth for ground validation: a gridded NO2-like product and a station network whose
surface values relate to it by a known linear function plus noise (seeded, deterministic).

The product is a daily tropospheric NO2 column (mol/m²) on a geographic 0.1° grid over eastern
China, one :class:`~rs.stations.matchup.Raster` per date (time: the date at 05:30 UTC, about
13:30 local solar time at 120° E), with a QA array (TROPOMI-like ``qa_value`` 0..1: cloudy
patches below 0.5) and a strip of missing pixels on one date. The field is a background plus
Gaussian plumes over a dozen cities whose strength changes from day to day.

Every station has hourly surface NO2 (µg/m³) over each date's local solar day. For station s
and date d, with x the column of the pixel containing s::

    m(s, d) = intercept + slope * x + e,        e ~ N(0, noise_sd²) independent

The observations inside ``overpass_time`` ± ``half_window_min`` (mean local solar time, both
ends included) average to m exactly (they spread symmetrically around it); every other hour is
m + a positive night/rush-hour excess (``excess`` µg/m³ on average), so a matchup that takes the
wrong hours (a wrong time zone, a wrong window) is biased and a test sees it. With the pairs
(x, m) of a set of station-days the best possible R² of m on x is the theoretical
``slope² var(x) / (slope² var(x) + noise_sd²)`` (:meth:`SyntheticNetwork.theoretical_r2`).

Stations carry ``station_type`` (urban / suburban / rural by distance to the nearest city),
``land_cover``, ``region`` (north / south of 33.5° N) and ``city``; covariates that do not enter
the truth. ``n_outside`` more stations lie east of the grid (outside the footprint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from affine import Affine

from rs.stations.matchup import Raster
from rs.testing._noise import rng_for, smooth_noise

__all__ = ["CITIES", "StationsConfig", "SyntheticNetwork", "synthetic_network",
           "synthetic_product", "write_network"]

#: (name, lon, lat, plume peak in mol/m², plume sigma in degrees)
CITIES: tuple[tuple[str, float, float, float, float], ...] = (
    ("Beijing", 116.4, 39.9, 1.6e-4, 0.6),
    ("Tianjin", 117.2, 39.1, 1.2e-4, 0.5),
    ("Shijiazhuang", 114.5, 38.0, 1.3e-4, 0.5),
    ("Jinan", 117.0, 36.7, 1.0e-4, 0.5),
    ("Zhengzhou", 113.6, 34.7, 1.1e-4, 0.5),
    ("Xi'an", 108.9, 34.3, 0.9e-4, 0.5),
    ("Nanjing", 118.8, 32.1, 1.1e-4, 0.5),
    ("Shanghai", 121.4, 31.2, 1.5e-4, 0.6),
    ("Hangzhou", 120.2, 30.3, 0.9e-4, 0.4),
    ("Wuhan", 114.3, 30.6, 1.1e-4, 0.5),
    ("Hefei", 117.3, 31.8, 0.8e-4, 0.4),
    ("Taiyuan", 112.5, 37.9, 1.0e-4, 0.4),
)
_NS_PER_H = 3_600_000_000_000


@dataclass(frozen=True)
class StationsConfig:
    """The synthetic product and network (all seeded by ``seed``)."""

    seed: int = 10
    west: float = 106.0
    north: float = 42.0
    res: float = 0.1
    width: int = 180
    height: int = 140
    start: str = "2019-01-05"
    n_dates: int = 8
    n_stations: int = 300
    n_outside: int = 3
    background: float = 1.5e-5  # mol/m²
    intercept: float = 8.0  # µg/m³
    slope: float = 2.5e5  # µg/m³ per mol/m²
    noise_sd: float = 3.5  # µg/m³
    overpass_time: str = "13:30"
    half_window_min: float = 60.0
    excess: float = 25.0  # µg/m³: mean excess of the hours outside the overpass window
    cloud_share: float = 0.15  # share of pixels with qa_value < 0.5 per date

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0.0, self.west, 0.0, -self.res, self.north)

    @property
    def dates(self) -> list[date]:
        d0 = date.fromisoformat(self.start)
        return [d0 + timedelta(days=i) for i in range(self.n_dates)]


@dataclass(frozen=True)
class SyntheticNetwork:
    """The product, the stations and their observations, and the truth behind them.

    ``truth``: one row per station inside the grid and date: ``station_id``, ``time`` (the
    raster's), ``x`` (the column of the station's pixel, also where the raster has a gap),
    ``qa`` (its QA value), ``in_gap`` (the raster has no value there), ``noise`` (e),
    ``overpass_mean`` (m), ``daily_mean`` (the mean of the station's 24 hours that day).
    """

    config: StationsConfig
    rasters: tuple[Raster, ...]
    stations: pd.DataFrame
    observations: pd.DataFrame
    truth: pd.DataFrame = field(repr=False)

    def theoretical_r2(self, x: np.ndarray) -> float:
        """The R² of m on x that a perfect model reaches over pairs with columns ``x``."""
        c = self.config
        signal = c.slope**2 * float(np.var(np.asarray(x, dtype="float64")))
        return signal / (signal + c.noise_sd**2)


def synthetic_product(config: StationsConfig | None = None) -> tuple[Raster, ...]:
    """One NO2-like column raster per date, with QA (module doc)."""
    c = config or StationsConfig()
    out = []
    for k, d in enumerate(c.dates):
        full, qa = _field(c, k)
        data = full.copy()
        if k == 1:  # a swath gap: missing pixels
            data[:, 60:68] = np.nan
        t = pd.Timestamp(d.isoformat(), tz="UTC") + pd.Timedelta(hours=5, minutes=30)
        out.append(Raster(data, c.transform, "EPSG:4326", t, qa=qa,
                          variable="no2_column", unit="mol/m²"))
    return tuple(out)


def _field(c: StationsConfig, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Date ``k``'s column field without gaps (the truth) and its QA."""
    lon, lat = _centres(c)
    rng = rng_for(c.seed, 1, k)
    field_ = np.full((c.height, c.width), c.background)
    for _name, x0, y0, peak, sig in CITIES:
        strength = rng.uniform(0.6, 1.4)
        dx, dy = rng.normal(0, 0.1, 2)
        r2 = (lon - x0 - dx) ** 2 + (lat - y0 - dy) ** 2
        field_ += strength * peak * np.exp(-r2 / (2 * sig**2))
    field_ *= 1 + 0.08 * smooth_noise(rng, field_.shape, 6.0)
    cloud = smooth_noise(rng, field_.shape, 8.0)
    qa = np.where(cloud > np.quantile(cloud, 1 - c.cloud_share), 0.4, 1.0)
    return field_, qa - 0.05 * rng.random(field_.shape)


def synthetic_network(config: StationsConfig | None = None) -> SyntheticNetwork:
    """The product, a station network on it and hourly observations (module doc)."""
    c = config or StationsConfig()
    rasters = synthetic_product(c)
    stations = _stations(c)
    rows, cols, inside = _pixels(c, stations)
    hh, mm = (int(v) for v in c.overpass_time.split(":")[:2])
    centre_h = hh + mm / 60
    half_h = c.half_window_min / 60
    lon = stations["lon"].to_numpy()
    shift = np.rint(lon / 15.0 * 3600.0).astype("int64") * 1_000_000_000  # solar - UTC
    inner = np.flatnonzero(inside)
    obs_parts, truth_parts = [], []
    for k, (d, r) in enumerate(zip(c.dates, rasters, strict=True)):
        rng = rng_for(c.seed, 2, k)
        noise = rng.normal(0.0, c.noise_sd, len(stations))
        full, qa_field = _field(c, k)
        x = np.full(len(stations), c.background * 3)  # outside: a plausible column, unseen
        x[inner] = full[rows[inner], cols[inner]]
        m = c.intercept + c.slope * x + noise
        day_ns = pd.Timestamp(d.isoformat(), tz="UTC").value
        first = -(-(day_ns - shift) // _NS_PER_H) * _NS_PER_H  # first whole UTC hour of the day
        t = first[:, None] + np.arange(24, dtype="int64")[None, :] * _NS_PER_H  # stations x 24
        lst_h = (t + shift[:, None] - day_ns) / _NS_PER_H
        win = np.abs(lst_h - centre_h) <= half_h
        n_in = win.sum(axis=1, keepdims=True)
        rank = np.cumsum(win, axis=1) - 1  # 0.. n_in-1 inside the window
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.where(n_in > 1, 2.0 * (2 * rank / (n_in - 1) - 1), 0.0)
        night = c.excess * (1 + 0.6 * np.cos(2 * np.pi * (lst_h - 2) / 24))
        values = m[:, None] + np.where(win, spread, night)
        obs_parts.append(pd.DataFrame({
            "station_id": np.repeat(stations["station_id"].to_numpy(), 24),
            "time": pd.to_datetime(t.ravel(), utc=True), "variable": "no2",
            "value": values.ravel(), "unit": "µg/m³"}))
        truth_parts.append(pd.DataFrame({
            "station_id": stations["station_id"].to_numpy()[inner], "time": r.time,
            "x": x[inner], "qa": qa_field[rows[inner], cols[inner]],
            "in_gap": ~np.isfinite(r.data[rows[inner], cols[inner]]),
            "noise": noise[inner], "overpass_mean": m[inner],
            "daily_mean": values[inner].mean(axis=1)}))
    obs = pd.concat(obs_parts, ignore_index=True).astype({"time": "datetime64[ns, UTC]"})
    obs = obs.sort_values(["station_id", "variable", "time"], kind="stable")
    truth = pd.concat(truth_parts, ignore_index=True)
    truth = truth.sort_values(["station_id", "time"], kind="stable")
    return SyntheticNetwork(c, rasters, stations, obs.reset_index(drop=True),
                            truth.reset_index(drop=True))


def write_network(net: SyntheticNetwork, folder: Path | str) -> dict[str, list[Path]]:
    """Write the network as files a pipeline reads: per date ``no2_column_YYYYMMDD.tif`` and
    ``qa_value_YYYYMMDD.tif`` (float32 COGs, EPSG:4326, NaN = no data), ``stations.csv``
    (station_id, name, lon, lat and the attributes), ``observations.csv`` (long: station_id,
    time in ISO 8601 UTC with ``Z``, variable, value, unit) and ``truth.csv``."""
    from rs.testing._cog import write_cog

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {"rasters": [], "qa": []}
    for r in net.rasters:
        day = r.time.strftime("%Y%m%d")
        p = folder / f"no2_column_{day}.tif"
        write_cog(p, r.data.astype("float32"), r.transform, r.crs, nodata=float("nan"))
        out["rasters"].append(p)
        if r.qa is not None:
            q = folder / f"qa_value_{day}.tif"
            write_cog(q, r.qa.astype("float32"), r.transform, r.crs, nodata=None)
            out["qa"].append(q)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    net.stations.to_csv(folder / "stations.csv", index=False)
    obs = net.observations.assign(time=net.observations["time"].dt.strftime(iso))
    obs.to_csv(folder / "observations.csv", index=False)
    net.truth.assign(time=net.truth["time"].dt.strftime(iso)).to_csv(folder / "truth.csv",
                                                                      index=False)
    out["tables"] = [folder / n for n in ("stations.csv", "observations.csv", "truth.csv")]
    return out


def _centres(c: StationsConfig) -> tuple[np.ndarray, np.ndarray]:
    cols = c.west + (np.arange(c.width) + 0.5) * c.res
    rows = c.north - (np.arange(c.height) + 0.5) * c.res
    lon, lat = np.meshgrid(cols, rows)
    return lon, lat


def _stations(c: StationsConfig) -> pd.DataFrame:
    rng = rng_for(c.seed, 3)
    margin = 2 * c.res
    east, south = c.west + c.width * c.res, c.north - c.height * c.res
    lon, lat = np.empty(c.n_stations), np.empty(c.n_stations)
    for i in range(c.n_stations):
        while True:
            if rng.random() < 0.6:
                _n, x0, y0, _p, _s = CITIES[rng.integers(len(CITIES))]
                x, y = x0 + rng.normal(0, 0.45), y0 + rng.normal(0, 0.45)
            else:
                x, y = rng.uniform(c.west, east), rng.uniform(south, c.north)
            if c.west + margin < x < east - margin and south + margin < y < c.north - margin:
                break
        lon[i], lat[i] = x, y
    out_lon = east + 1.0 + rng.uniform(0, 2, c.n_outside)
    out_lat = rng.uniform(south, c.north, c.n_outside)
    lon, lat = np.concatenate([lon, out_lon]), np.concatenate([lat, out_lat])
    city_xy = np.array([(x, y) for _n, x, y, _p, _s in CITIES])
    dist = np.hypot(lon[:, None] - city_xy[None, :, 0], lat[:, None] - city_xy[None, :, 1])
    near = dist.argmin(axis=1)
    dmin = dist.min(axis=1)
    kind = np.where(dmin < 0.3, "urban", np.where(dmin < 1.0, "suburban", "rural"))
    covers = {"urban": ("urban", "urban", "cropland"), "suburban": ("urban", "cropland", "forest"),
              "rural": ("cropland", "forest", "grassland")}
    land = [covers[k][rng.integers(3)] for k in kind]
    n = lon.size
    return pd.DataFrame({
        "station_id": [f"S{i:04d}" for i in range(n)],
        "name": [f"synthetic station {i}" for i in range(n)],
        "lon": lon, "lat": lat,
        "city": [CITIES[j][0] for j in near],
        "station_type": kind, "land_cover": land,
        "region": np.where(lat > 33.5, "north", "south"),
    }).astype({"station_id": "str", "name": "str", "city": "str", "station_type": "str",
               "land_cover": "str", "region": "str"})


def _pixels(c: StationsConfig, stations: pd.DataFrame) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    col = np.floor((stations["lon"].to_numpy() - c.west) / c.res).astype(int)
    row = np.floor((c.north - stations["lat"].to_numpy()) / c.res).astype(int)
    inside = (row >= 0) & (row < c.height) & (col >= 0) & (col < c.width)
    return row, col, inside
