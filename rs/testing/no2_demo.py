"""A seeded demo month of Sentinel-5P NO2 near Nanjing, with a ground network and city polygons.

:func:`generate_no2_demo` writes, under ``root``:

* ``s5p/S5P_OFFL_L2__NO2____<start>_<end>_<orbit>_02_020400_<production>.nc``: one synthetic
  orbit per day (``n_days``, default 15, from ``start``) in the exact ESA L2 layout
  (:mod:`rs.testing.s5p`; read with :func:`rs.atmos.read_swath`). Each day's nadir track
  passes at a different longitude (uniform within ``track_spread`` degrees of the region's
  centre, so the region is seen at nadir on some days and by wider off-nadir pixels on
  others) at about 13:30 local solar time, with its own clouds (``cloud_fraction`` drawn in
  ``cloud_range``: cloudy pixels get ``qa_value`` 0.40, cloud edges 0.65, both dropped by the
  default NO2 QA threshold 0.75) and Gaussian noise of ``noise`` molecules cm⁻² (1 sigma).
* ``stations/stations.csv`` (``station_id, name, lon, lat, type``; type ``urban``,
  ``industrial``, ``suburban`` or ``rural``), ``stations/observations.csv`` (long:
  ``station_id, time`` (UTC, ISO 8601 with ``Z``), ``variable`` (``no2``), ``value``,
  ``unit`` (``µg/m³``)) and ``stations/truth.csv`` (one row per station and day: ``station_id,
  time`` (that day's overpass), ``column`` (molecules cm⁻²), ``noise``, ``surface``).
* ``cities.geojson``: one polygon per hotspot (a circle of radius ``1.5 sigma`` on the ground)
  with ``name``, ``kind`` (``city`` / ``industrial park``), ``amplitude``, ``sigma_km``.
* ``no2-demo.json``: the configuration and the files; a second call with the same
  configuration writes nothing.

**Truth** (:meth:`No2Demo.column`, molecules cm⁻², constant over the month)::

    column(lon, lat) = background + gx (lon - lon0) + gy (lat - lat0) + Σ A_k exp(-d_k² / 2 σ_k²)

with (``lon0``, ``lat0``) the centre of ``bbox`` and ``d_k`` the great-circle distance to
hotspot k in km (:data:`HOTSPOTS`: Nanjing city 8e15 / 12 km, the Yizheng chemical industry
park 6e15 / 10 km, Ma'anshan steel works 5e15 / 10 km). Each orbit's pixels hold the mean of
this field over their footprint plus noise (the orbit's background is shifted so that the
gradient, which :mod:`rs.testing.s5p` anchors at the track's centre, is the same field on every
day).

**Stations.** ``n_stations`` (40) inside ``bbox``: 60 % around the hotspots, the rest uniform.
For station s on day d, with ``x = column(s) / 1e15`` (the point truth at the station)::

    m(s, d) = a + b x + e,        e ~ N(0, sigma²), independent        (µg/m³)

(:attr:`No2Demo.relation`: a = 6 µg/m³, b = 4.5 µg/m³ per 1e15 molecules cm⁻², sigma =
3 µg/m³), except that the drawn e are made orthogonal to (1, x) over all station-days of the
month (their least-squares line on x removed, 2 of 600 degrees of freedom): the OLS fit of m
on the point truth is then exactly a and b. With 40 x 15 independent draws the slope's
sampling error alone would be 1.4 % of b (2.4 standard errors off for the default seed), too
close to a 2 % validation goal; now any difference comes from the product and the matchup.
The hourly values (every hour of the UTC day) within ``window_min`` (60) minutes of
that day's overpass (both ends included) average to m exactly (they spread symmetrically by
± ``spread``); every other hour is m plus a positive diurnal excess (``excess`` µg/m³ on
average), so a matchup that takes the wrong hours is biased. A validation of the surface
values against the **point** truth recovers b; against a gridded product the column carries
retrieval noise and footprint smoothing (the OLS slope is attenuated; prefer RMA / Deming).

The demo region of ``aoi/demo_region.geojson`` (Jiangning, Nanjing; about 5 x 5 km, smaller
than one TROPOMI pixel) lies inside ``bbox`` near the Nanjing hotspot; the default ``bbox``
(118.2-119.4 E, 31.5-32.6 N, about 110 x 120 km) is what holds the hotspots and stations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rs.testing._noise import rng_for
from rs.testing.s5p import ORBIT_S, R_EARTH, Hotspot, S5PConfig, generate_s5p, truth_field

__all__ = ["HOTSPOTS", "NamedHotspot", "No2Demo", "No2DemoConfig", "Relation",
           "generate_no2_demo"]

COLUMN_SCALE = 1e15  # molecules cm-2: the unit of x in the station relation


@dataclass(frozen=True)
class NamedHotspot:
    """A planted hotspot over a named place (``kind``: city or industrial park)."""

    name: str
    kind: str
    hotspot: Hotspot


#: the planted hotspots (amplitude in molecules cm-2 above the background field)
HOTSPOTS: tuple[NamedHotspot, ...] = (
    NamedHotspot("Nanjing", "city", Hotspot(118.78, 32.05, 8.0e15, 12.0)),
    NamedHotspot("Yizheng chemical industry park", "industrial park",
                 Hotspot(119.18, 32.27, 6.0e15, 10.0)),
    NamedHotspot("Ma'anshan steel works", "industrial park", Hotspot(118.50, 31.69, 5.0e15, 10.0)),
)


@dataclass(frozen=True)
class Relation:
    """Surface NO2 (µg/m³) = ``a + b * column / scale + N(0, sigma²)``."""

    a: float
    b: float
    sigma: float
    scale: float = COLUMN_SCALE

    def surface(self, column: np.ndarray | float) -> np.ndarray:
        """The noise-free surface value at ``column`` (molecules cm⁻²)."""
        return self.a + self.b * np.asarray(column, dtype=np.float64) / self.scale


@dataclass(frozen=True)
class No2DemoConfig:
    seed: int = 8
    start: str = "2021-10-01"  # first day (UTC)
    n_days: int = 15  # one orbit per day
    bbox: tuple[float, float, float, float] = (118.2, 31.5, 119.4, 32.6)
    background: float = 2.0e15  # molecules cm-2 at the bbox centre
    gradient: tuple[float, float] = (1.0e15, -0.5e15)  # per degree lon (east), lat (north)
    hotspots: tuple[NamedHotspot, ...] = HOTSPOTS
    noise: float = 8.0e14  # retrieval noise, 1 sigma, molecules cm-2
    cloud_range: tuple[float, float] = (0.05, 0.4)
    track_spread: float = 1.5  # degrees of longitude of the nadir track around the centre
    n_scanlines: int = 30
    n_ground_pixels: int = 60
    n_stations: int = 40
    a: float = 6.0  # µg/m³
    b: float = 4.5  # µg/m³ per 1e15 molecules cm-2
    sigma: float = 3.0  # µg/m³
    window_min: float = 60.0
    spread: float = 2.0  # µg/m³, symmetric spread of the hours inside the window
    excess: float = 15.0  # µg/m³, mean excess of the hours outside the window

    @property
    def centre(self) -> tuple[float, float]:
        w, s, e, n = self.bbox
        return (w + e) / 2.0, (s + n) / 2.0

    @property
    def days(self) -> list[dt.date]:
        d0 = dt.date.fromisoformat(self.start)
        return [d0 + dt.timedelta(days=i) for i in range(self.n_days)]

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclass(frozen=True, eq=False)
class No2Demo:
    """The files written and the truth behind them (module doc)."""

    root: Path
    config: No2DemoConfig
    orbits: tuple[Path, ...]
    overpasses: tuple[dt.datetime, ...]  # UTC time of each orbit's middle scanline
    stations_csv: Path
    observations_csv: Path
    truth_csv: Path
    cities: Path
    written: bool  # False when the files were already there (idempotent no-op)
    _field: S5PConfig = field(repr=False)

    @property
    def s5p_dir(self) -> Path:
        return self.root / "s5p"

    @property
    def stations_dir(self) -> Path:
        return self.root / "stations"

    @property
    def orbit_configs(self) -> tuple[S5PConfig, ...]:
        """The configuration of each orbit (``rs.testing.s5p.simulate`` gives its pixel truth)."""
        return tuple(_orbit_configs(self.config))

    @property
    def hotspots(self) -> tuple[NamedHotspot, ...]:
        return self.config.hotspots

    @property
    def relation(self) -> Relation:
        c = self.config
        return Relation(c.a, c.b, c.sigma)

    def column(self, lon: np.ndarray | float, lat: np.ndarray | float) -> np.ndarray:
        """The true tropospheric NO2 column (molecules cm⁻²) at points (degrees)."""
        lo, la = np.broadcast_arrays(np.asarray(lon, dtype=np.float64),
                                     np.asarray(lat, dtype=np.float64))
        return truth_field(self._field, lo, la)


def _field_config(c: No2DemoConfig) -> S5PConfig:
    lon0, lat0 = c.centre
    return S5PConfig(product="no2", lon=lon0, lat=lat0, background=c.background,
                     gradient=c.gradient, hotspots=tuple(h.hotspot for h in c.hotspots))


def _orbit_configs(c: No2DemoConfig) -> list[S5PConfig]:
    lon0, lat0 = c.centre
    rng = rng_for(c.seed, 1)
    out = []
    for k, day in enumerate(c.days):
        track = lon0 + rng.uniform(-c.track_spread, c.track_spread)
        cloud = rng.uniform(*c.cloud_range)
        # 13:30 local solar time at the track's longitude, for the middle scanline
        mid = (dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
               + dt.timedelta(hours=13.5 - track / 15.0))
        half = (c.n_scanlines // 2) * _scanline_s(7.0)
        start = (mid - dt.timedelta(seconds=half)).replace(microsecond=0)
        out.append(S5PConfig(
            product="no2", lon=track, lat=lat0, n_scanlines=c.n_scanlines,
            n_ground_pixels=c.n_ground_pixels, along_km=7.0, start=start,
            orbit=20_400 + round(k * 14.2),
            # the gradient is anchored at each track's centre: shift the background so the
            # field is the same every day
            background=c.background + c.gradient[0] * (track - lon0),
            gradient=c.gradient, hotspots=tuple(h.hotspot for h in c.hotspots),
            noise=c.noise, cloud_fraction=cloud, seed=c.seed * 1000 + k))
    return out


def _stations(c: No2DemoConfig) -> pd.DataFrame:
    rng = rng_for(c.seed, 2)
    w, s, e, n = c.bbox
    margin = 0.05
    lon, lat = np.empty(c.n_stations), np.empty(c.n_stations)
    for i in range(c.n_stations):
        while True:
            if rng.random() < 0.6:
                h = c.hotspots[int(rng.integers(len(c.hotspots)))].hotspot
                r = rng.normal(0.0, 1.2 * h.sigma_km, 2)
                x = h.lon + r[0] / (111.32 * math.cos(math.radians(h.lat)))
                y = h.lat + r[1] / 110.57
            else:
                x, y = rng.uniform(w, e), rng.uniform(s, n)
            if w + margin < x < e - margin and s + margin < y < n - margin:
                break
        lon[i], lat[i] = round(x, 5), round(y, 5)
    kinds = []
    for x, y in zip(lon, lat, strict=True):
        d = [(_km(x, y, h.hotspot.lon, h.hotspot.lat) / h.hotspot.sigma_km, h)
             for h in c.hotspots]
        ratio, near = min(d, key=lambda t: t[0])
        if ratio < 1.0:
            kinds.append("urban" if near.kind == "city" else "industrial")
        else:
            kinds.append("suburban" if ratio < 2.5 else "rural")
    return pd.DataFrame({
        "station_id": [f"NJ{i + 1:03d}" for i in range(c.n_stations)],
        "name": [f"demo station {i + 1}" for i in range(c.n_stations)],
        "lon": lon, "lat": lat, "type": kinds,
    })


def _km(lon: float, lat: float, lon0: float, lat0: float) -> float:
    p1, p2 = math.radians(lat), math.radians(lat0)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon - lon0) / 2) ** 2)
    return 2 * R_EARTH * math.asin(math.sqrt(min(1.0, a)))


def _observations(c: No2DemoConfig, stations: pd.DataFrame, column: np.ndarray,
                  overpasses: list[dt.datetime]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rel = Relation(c.a, c.b, c.sigma)
    ids = stations["station_id"].to_numpy()
    lon = stations["lon"].to_numpy()
    obs, truth = [], []
    noises = _balanced_noise(c, column)
    for k, (day, over) in enumerate(zip(c.days, overpasses, strict=True)):
        noise = noises[k]
        m = rel.surface(column) + noise
        hours = pd.date_range(pd.Timestamp(day.isoformat(), tz="UTC"), periods=24, freq="h")
        dmin = (hours - pd.Timestamp(over)).total_seconds().to_numpy() / 60.0
        win = np.abs(dmin) <= c.window_min + 1e-9
        n_in = int(win.sum())
        rank = np.cumsum(win) - 1
        inside = (c.spread * (2 * rank / (n_in - 1) - 1) if n_in > 1
                  else np.zeros(24))
        utc_h = hours.hour.to_numpy() + hours.minute.to_numpy() / 60.0
        lst = (utc_h[None, :] + lon[:, None] / 15.0) % 24.0
        night = c.excess * (1 + 0.6 * np.cos(2 * np.pi * (lst - 2.0) / 24.0))
        values = m[:, None] + np.where(win[None, :], inside[None, :], night)
        obs.append(pd.DataFrame({
            "station_id": np.repeat(ids, 24),
            "time": np.tile(hours.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(), len(ids)),
            "variable": "no2", "value": np.round(values.ravel(), 4), "unit": "µg/m³"}))
        truth.append(pd.DataFrame({
            "station_id": ids, "time": f"{over:%Y-%m-%dT%H:%M:%SZ}", "column": column,
            "noise": noise, "surface": m}))
    return pd.concat(obs, ignore_index=True), pd.concat(truth, ignore_index=True)


def _balanced_noise(c: No2DemoConfig, column: np.ndarray) -> np.ndarray:
    """N(0, sigma²) per station and day ``(n_days, n_stations)``, minus its least-squares fit on
    (1, column) over the month: the OLS line of the station-day values on the truth column is
    then exactly (a, b), whatever the seed (2 of n_days x n_stations degrees of freedom)."""
    e = np.stack([rng_for(c.seed, 3, k).normal(0.0, c.sigma, column.size)
                  for k in range(c.n_days)])
    x = np.tile(column / COLUMN_SCALE, c.n_days)
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, e.ravel(), rcond=None)
    return (e.ravel() - design @ coef).reshape(e.shape)


def _circle(h: Hotspot, radius_km: float, n: int = 64) -> list[list[float]]:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    dx = radius_km * np.cos(t) / (111.32 * math.cos(math.radians(h.lat)))
    dy = radius_km * np.sin(t) / 110.57
    ring = [[round(h.lon + float(a), 6), round(h.lat + float(b), 6)] for a, b in zip(dx, dy,
                                                                                     strict=True)]
    return [*ring, ring[0]]


def _cities_geojson(c: No2DemoConfig) -> dict[str, Any]:
    return {"type": "FeatureCollection", "name": "no2_demo_cities", "features": [
        {"type": "Feature",
         "properties": {"name": h.name, "kind": h.kind, "amplitude": h.hotspot.amplitude,
                        "sigma_km": h.hotspot.sigma_km},
         "geometry": {"type": "Polygon", "coordinates": [_circle(h.hotspot,
                                                                   1.5 * h.hotspot.sigma_km)]}}
        for h in c.hotspots]}


def _scanline_s(along_km: float) -> float:
    """Seconds between scanlines ``along_km`` apart (as rs.testing.s5p times them)."""
    return along_km / (2 * math.pi * R_EARTH / ORBIT_S)


def _overpass(cfg: S5PConfig) -> dt.datetime:
    """The time of the middle scanline (to the second)."""
    t = cfg.start + dt.timedelta(seconds=(cfg.n_scanlines // 2) * _scanline_s(cfg.along_km))
    return t.replace(microsecond=0)


def generate_no2_demo(root: Path | str, config: No2DemoConfig | None = None) -> No2Demo:
    """Write the demo month under ``root`` (module doc), or find it there already."""
    c = config or No2DemoConfig()
    root = Path(root)
    manifest = root / "no2-demo.json"
    orbit_cfgs = _orbit_configs(c)
    overpasses = [_overpass(o) for o in orbit_cfgs]
    field_cfg = _field_config(c)
    st_dir = root / "stations"
    paths = {"stations": st_dir / "stations.csv", "observations": st_dir / "observations.csv",
             "truth": st_dir / "truth.csv", "cities": root / "cities.geojson"}
    if manifest.exists():
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        files = [root / f for f in recorded.get("orbits", [])]
        if (recorded.get("config") == c.to_json() and len(files) == c.n_days
                and all(p.exists() for p in [*files, *paths.values()])):
            return No2Demo(root, c, tuple(files), tuple(overpasses), paths["stations"],
                           paths["observations"], paths["truth"], paths["cities"], False,
                           field_cfg)
        manifest.unlink()
    orbits = []
    for o in orbit_cfgs:
        path, _ = generate_s5p(root / "s5p", o)
        orbits.append(path)
    stations = _stations(c)
    column = truth_field(field_cfg, stations["lon"].to_numpy(), stations["lat"].to_numpy())
    obs, truth = _observations(c, stations, column, overpasses)
    st_dir.mkdir(parents=True, exist_ok=True)
    stations.to_csv(paths["stations"], index=False)
    obs.to_csv(paths["observations"], index=False)
    truth.to_csv(paths["truth"], index=False)
    paths["cities"].write_text(json.dumps(_cities_geojson(c), indent=1), encoding="utf-8")
    manifest.write_text(json.dumps({
        "config": c.to_json(), "orbits": [str(p.relative_to(root)) for p in orbits],
        "stations": "stations/stations.csv", "observations": "stations/observations.csv",
        "truth": "stations/truth.csv", "cities": "cities.geojson",
    }, indent=1), encoding="utf-8")
    return No2Demo(root, c, tuple(orbits), tuple(overpasses), paths["stations"],
                   paths["observations"], paths["truth"], paths["cities"], True, field_cfg)
