"""A seeded synthetic coast with known truth: shoreline motion, tide, reclamation and clouds.

The coast is a straight shoreline at ``angle_deg`` clockwise from grid north, land to the west,
sea to the east. In shore coordinates around the grid centre (``s`` along-shore, ``c``
cross-shore, positive seaward) the waterline of scene ``i`` is

    c = d0 + (rate0 + rate1 * s / 1000) * years(t_i) - (eta(t_i) - z_ref) / slope

so every transect has a known linear trend (m/yr), and the tide ``eta`` (m) moves the waterline
landward at high water by ``eta / slope`` (slope = tan(beta) of the beach face). After
``reclamation_date`` a rectangle of fill (``reclamation`` in shore coordinates, known area) is
land. Some scenes have a cloud over part of the coast (``cloudy_coast``) and one is clouded over
entirely (``overcast``). Pixels mix land covers by their exact area fractions (box-spline area of
a half-plane in a square), so sub-pixel shoreline positions have an exact answer.

``generate_coast(root)`` writes Sentinel-2 L2A items like the demo world (Earth Search v1 keys,
ESA baseline DN encoding) under ``<root>/sentinel-2-l2a/`` and, under ``<root>/coast/``:
``transects.geojson`` (id, landward origin first), ``reference_shoreline.geojson``,
``tides.csv`` (time, level), ``slopes.csv`` (transect, slope), ``region.geojson`` (the AOI) and
``truth.json`` (rates, positions per scene, reclamation area, cloud status).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Polygon

from rs.testing._cog import write_cog
from rs.testing._grid import Grid, block_mean
from rs.testing._noise import rng_for
from rs.testing.sentinel2 import S2_BANDS, build_item, encode_dn, processing_baseline

__all__ = ["COAST_GRID", "CoastConfig", "CoastWorld", "generate_coast"]

#: Bohai Bay, UTM 50N: 240 x 200 px of 10 m
COAST_GRID = Grid(crs="EPSG:32650", x0=560000.0, y0=4310000.0, width=240, height=200, res=10.0)

_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: reflectance per cover, in _BANDS order
SPECTRA: dict[str, tuple[float, ...]] = {
    "water": (0.08, 0.10, 0.07, 0.04, 0.03, 0.02),
    "wet_sand": (0.10, 0.12, 0.13, 0.16, 0.15, 0.11),
    "dry_sand": (0.15, 0.18, 0.21, 0.25, 0.32, 0.27),
    "vegetation": (0.04, 0.08, 0.05, 0.35, 0.20, 0.10),
    "fill": (0.18, 0.20, 0.22, 0.24, 0.30, 0.28),
    "cloud": (0.45, 0.46, 0.47, 0.50, 0.40, 0.33),
}
_SCL = {"water": 6, "wet_sand": 5, "dry_sand": 5, "vegetation": 4, "fill": 5}
_NOISE_PURPOSE = 11
_EPOCH = date(2019, 1, 1)


@dataclass(frozen=True)
class CoastConfig:
    """Everything the synthetic coast depends on (see the module docstring)."""

    seed: int = 7
    grid: Grid = COAST_GRID
    start: date = date(2019, 1, 10)
    n_dates: int = 40
    step_days: int = 46
    overpass_utc: tuple[int, int] = (2, 50)
    angle_deg: float = 15.0
    d0: float = 0.0
    rate0: float = -6.0  # m/yr at s = 0 (erosion: the waterline moves landward)
    rate1: float = 3.0  # m/yr per km along-shore
    slope: float = 0.08  # tan(beta)
    z_ref: float = 0.0
    wet_sand_m: float = 40.0
    dry_sand_m: float = 120.0
    transect_s: tuple[float, ...] = tuple(float(s) for s in range(-800, 801, 100))
    transect_c: tuple[float, float] = (-300.0, 300.0)
    reclamation: tuple[float, float, float, float] = (230.0, 610.0, -30.0, 140.0)  # s0 s1 c0 c1
    reclamation_date: date = date(2022, 6, 1)
    cloudy_coast: tuple[int, ...] = (5, 17, 29)
    overcast: tuple[int, ...] = (23,)
    noise: float = 0.005


def _ramp(t: np.ndarray) -> np.ndarray:
    return np.maximum(t, 0.0) ** 2


def half_plane_fraction(
    a: float, b: float, c: float, x: np.ndarray, y: np.ndarray, res: float
) -> np.ndarray:
    """Fraction of each ``res`` square with lower-left corner (x, y) where ``a*x + b*y <= c``.

    Exact (the box-spline area formula); ``a`` and ``b`` must not both be 0.
    """
    big_a, big_b = a * res, b * res
    rhs = c - a * x - b * y
    if big_a < 0:
        rhs, big_a = rhs - big_a, -big_a
    if big_b < 0:
        rhs, big_b = rhs - big_b, -big_b
    big_a, big_b = max(big_a, 1e-9), max(big_b, 1e-9)
    area = _ramp(rhs) - _ramp(rhs - big_a) - _ramp(rhs - big_b) + _ramp(rhs - big_a - big_b)
    return np.clip(area / (2 * big_a * big_b), 0.0, 1.0)


class CoastWorld:
    """The synthetic coast: truth functions (pure) and the writer."""

    def __init__(self, config: CoastConfig | None = None) -> None:
        self.config = config or CoastConfig()
        cfg = self.config
        th = math.radians(cfg.angle_deg)
        self.u = np.array([math.sin(th), math.cos(th)])  # along-shore
        self.n = np.array([math.cos(th), -math.sin(th)])  # seaward
        left, bottom, right, top = cfg.grid.bounds
        self.origin = np.array([(left + right) / 2, (bottom + top) / 2])

    # --- time -------------------------------------------------------------------------------
    @property
    def times(self) -> list[datetime]:
        cfg = self.config
        h, m = cfg.overpass_utc
        return [
            datetime.combine(cfg.start + timedelta(days=i * cfg.step_days), datetime.min.time())
            .replace(hour=h, minute=m, tzinfo=UTC)
            for i in range(cfg.n_dates)
        ]

    @staticmethod
    def years(t: datetime) -> float:
        return (t - datetime.combine(_EPOCH, datetime.min.time(), tzinfo=UTC)).days / 365.25 + (
            t.hour * 3600 + t.minute * 60
        ) / (365.25 * 86400)

    @staticmethod
    def tide(t: datetime | pd.DatetimeIndex) -> Any:
        """Water level (m) at ``t``: two semi-diurnal constituents and a spring-neap term."""
        ts = pd.DatetimeIndex([t]) if isinstance(t, datetime) else pd.DatetimeIndex(t)
        hours = np.asarray((ts - pd.Timestamp("2019-01-01", tz="UTC")).total_seconds()) / 3600
        level = (
            0.7 * np.sin(2 * np.pi * hours / 12.42)
            + 0.25 * np.sin(2 * np.pi * hours / 12.0 + 1.0)
            + 0.1 * np.sin(2 * np.pi * hours / (14.77 * 24))
        )
        return float(level[0]) if isinstance(t, datetime) else level

    # --- geometry ---------------------------------------------------------------------------
    def to_shore(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = x - self.origin[0], y - self.origin[1]
        return dx * self.u[0] + dy * self.u[1], dx * self.n[0] + dy * self.n[1]

    def to_map(self, s: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.origin[0] + s * self.u[0] + c * self.n[0]
        y = self.origin[1] + s * self.u[1] + c * self.n[1]
        return x, y

    def waterline(self, i: int, s: np.ndarray | float, tide: bool = True) -> Any:
        """Cross-shore position ``c`` (m) of the waterline of scene ``i`` at along-shore ``s``."""
        cfg = self.config
        t = self.times[i]
        c = cfg.d0 + (cfg.rate0 + cfg.rate1 * np.asarray(s) / 1000.0) * self.years(t)
        if tide:
            c = c - (self.tide(t) - cfg.z_ref) / cfg.slope
        return c

    def rate(self, s: float) -> float:
        """True shoreline change rate (m/yr, positive seaward) at along-shore ``s``."""
        return self.config.rate0 + self.config.rate1 * s / 1000.0

    def reclaimed(self, i: int) -> bool:
        return self.times[i].date() >= self.config.reclamation_date

    def reclamation_polygon(self) -> Polygon:
        s0, s1, c0, c1 = self.config.reclamation
        xs, ys = self.to_map(np.array([s0, s1, s1, s0]), np.array([c0, c0, c1, c1]))
        return Polygon(zip(xs, ys, strict=True))

    def transects(self) -> gpd.GeoDataFrame:
        c0, c1 = self.config.transect_c
        rows = []
        for k, s in enumerate(self.config.transect_s):
            xs, ys = self.to_map(np.array([s, s]), np.array([c0, c1]))
            line = LineString(zip(xs, ys, strict=True))
            rows.append({"id": f"T{k:02d}", "s": s, "geometry": line})
        return gpd.GeoDataFrame(rows, crs=self.config.grid.crs)

    def in_reclamation(self, s: float) -> bool:
        s0, s1, _, _ = self.config.reclamation
        return s0 - 50 <= s <= s1 + 50

    def position(self, i: int, s: float) -> float:
        """True chainage (m from the transect's landward origin) of scene ``i``'s waterline."""
        return float(self.waterline(i, s)) - self.config.transect_c[0]

    def region(self) -> Polygon:
        """The AOI (``coast/region.geojson``) in the grid CRS."""
        return self.config.grid.footprint().buffer(-0.0005)

    def median_waterline(self, indices: list[int], s: np.ndarray) -> np.ndarray:
        """Per-pixel median composites put the waterline at the median of the scenes' ones."""
        return np.median(np.stack([self.waterline(i, s) for i in indices]), axis=0)

    def land_change_truth(self, before: list[int], after: list[int]) -> dict[str, float]:
        """Areas (m², inside the AOI) gained by reclamation and lost to erosion between the
        median composites of scenes ``before`` and ``after`` (every ``after`` scene reclaimed).
        """
        from pyproj import Transformer
        from shapely import transform as reproject

        tr = Transformer.from_crs("EPSG:4326", self.config.grid.crs, always_xy=True)
        region = reproject(
            self.region(), lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
        )
        s = np.linspace(-1600.0, 1600.0, 321)  # the grid (lines cross beyond s = 2 km)
        cb, ca = self.median_waterline(before, s), self.median_waterline(after, s)
        far = np.full_like(s, 5000.0)

        def band(c_low: np.ndarray, c_high: np.ndarray) -> Polygon:
            x1, y1 = self.to_map(s, c_low)
            x2, y2 = self.to_map(s[::-1], c_high[::-1])
            return Polygon(np.column_stack([np.r_[x1, x2], np.r_[y1, y2]]))

        rect = self.reclamation_polygon()
        sea_before = band(cb, far)
        gained = rect.intersection(sea_before).intersection(region).area
        lost = band(ca, cb).intersection(region).difference(rect).area
        return {"reclamation_m2": float(gained), "erosion_m2": float(lost)}

    def shoreline(self, i: int) -> LineString:
        s = np.array([-1500.0, 1500.0])
        xs, ys = self.to_map(s, self.waterline(i, s))
        return LineString(zip(xs, ys, strict=True))

    # --- pixels -----------------------------------------------------------------------------
    def _land_fraction(self, i: int, offset: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fraction of each 10 m pixel landward of the line ``c = waterline - offset``."""
        cfg = self.config
        t = self.times[i]
        k = (cfg.rate1 / 1000.0) * self.years(t)
        base = self.waterline(i, 0.0) - offset
        # c - k*s <= base, written as a*x + b*y <= rhs in map coordinates
        a = self.n[0] - k * self.u[0]
        b = self.n[1] - k * self.u[1]
        rhs = base + a * self.origin[0] + b * self.origin[1]
        return half_plane_fraction(a, b, rhs, x, y, cfg.grid.res)

    def _fill_fraction(self, x: np.ndarray, y: np.ndarray, sub: int = 8) -> np.ndarray:
        res = self.config.grid.res
        frac = np.zeros_like(x)
        for fy in (np.arange(sub) + 0.5) / sub:
            for fx in (np.arange(sub) + 0.5) / sub:
                s, c = self.to_shore(x + fx * res, y + fy * res)
                s0, s1, c0, c1 = self.config.reclamation
                frac += (s >= s0) & (s <= s1) & (c >= c0) & (c <= c1)
        return frac / sub**2

    def covers(self, i: int) -> dict[str, np.ndarray]:
        """Area fraction of each cover per 10 m pixel (sums to 1)."""
        cfg = self.config
        g = cfg.grid
        rows, cols = np.mgrid[0 : g.height, 0 : g.width].astype(np.float64)
        x = g.x0 + cols * g.res
        y = g.y0 - (rows + 1) * g.res  # lower-left corners
        land = self._land_fraction(i, 0.0, x, y)
        dry = self._land_fraction(i, cfg.wet_sand_m, x, y)
        veg = self._land_fraction(i, cfg.wet_sand_m + cfg.dry_sand_m, x, y)
        out = {
            "water": 1 - land,
            "wet_sand": land - dry,
            "dry_sand": dry - veg,
            "vegetation": veg,
            "fill": np.zeros_like(land),
        }
        if self.reclaimed(i):
            fill = self._fill_fraction(x, y)
            for k in ("water", "wet_sand", "dry_sand", "vegetation"):
                out[k] = out[k] * (1 - fill)
            out["fill"] = fill
        return out

    def cloud(self, i: int) -> np.ndarray:
        """Cloud mask on the 20 m grid (SCL resolution)."""
        g = self.config.grid
        h, w = g.height // 2, g.width // 2
        if i in self.config.overcast:
            return np.ones((h, w), dtype=bool)
        if i not in self.config.cloudy_coast:
            return np.zeros((h, w), dtype=bool)
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
        x = g.x0 + (cols + 0.5) * 20
        y = g.y0 - (rows + 0.5) * 20
        s, c = self.to_shore(x, y)
        centre = -500.0 + 150 * self.config.cloudy_coast.index(i)
        return (s - centre) ** 2 + c**2 <= 250.0**2

    def reflectance(self, i: int) -> dict[str, np.ndarray]:
        """Per band reflectance at the band's resolution (10 m or 20 m), with noise and cloud."""
        fr = self.covers(i)
        cloud20 = self.cloud(i)
        cloud10 = np.repeat(np.repeat(cloud20, 2, axis=0), 2, axis=1)
        rng = rng_for(self.config.seed, _NOISE_PURPOSE, i)
        out = {}
        for b, band in enumerate(_BANDS):
            r10 = sum(fr[k] * SPECTRA[k][b] for k in fr)
            r10 = np.where(cloud10, SPECTRA["cloud"][b], r10)
            res = next(x.res for x in S2_BANDS if x.key == band)
            r = block_mean(r10, res // 10)
            out[band] = r + rng.normal(0, self.config.noise, r.shape)
        fr20 = {k: block_mean(v, 2) for k, v in fr.items()}
        dominant = np.argmax(np.stack([fr20[k] for k in _SCL]), axis=0)
        scl = np.array([_SCL[k] for k in _SCL], dtype=np.uint8)[dominant]
        out["scl"] = np.where(cloud20, np.uint8(9), scl)
        return out

    # --- files --------------------------------------------------------------------------------
    def write(self, root: Path) -> None:
        root = Path(root)
        cfg = self.config
        for i, t in enumerate(self.times):
            refl = self.reflectance(i)
            baseline = processing_baseline(t.date())
            hrefs: dict[str, Path] = {}
            item_dir = root / "sentinel-2-l2a" / f"coast-{i:03d}"
            for b in S2_BANDS:
                path = item_dir / f"{b.key}.tif"
                tr = cfg.grid.transform(b.res)
                if b.is_scl:
                    write_cog(path, refl["scl"], tr, cfg.grid.crs, nodata=0, resampling="nearest")
                else:
                    write_cog(path, encode_dn(refl[b.key], baseline), tr, cfg.grid.crs)
                hrefs[b.key] = path
            cover = round(100.0 * float(self.cloud(i).mean()), 4)
            item = build_item(cfg.grid, t, cover, hrefs)
            item.id = f"{item.id}_C{i:03d}"
            item_path = item_dir / f"{item.id}.json"
            item_path.write_text(json.dumps(item.to_dict(), indent=1), encoding="utf-8")
        self.write_site_files(root / "coast")

    def write_site_files(self, out: Path) -> None:
        """The site files a user would have (transects, reference shoreline, AOI, tides,
        slopes) and ``truth.json`` into ``out`` (``aoi/demo_coast`` holds a copy)."""
        cfg = self.config
        out.mkdir(parents=True, exist_ok=True)
        crs = cfg.grid.crs
        self.transects().to_file(out / "transects.geojson", driver="GeoJSON")
        s = np.array([-1400.0, 1400.0])
        xs, ys = self.to_map(s, np.full(2, cfg.d0))
        line = LineString(zip(xs, ys, strict=True))
        ref = gpd.GeoDataFrame({"name": ["reference"]}, geometry=[line], crs=crs)
        ref.to_file(out / "reference_shoreline.geojson", driver="GeoJSON")
        region = gpd.GeoDataFrame({"name": ["coast"]}, geometry=[self.region()], crs="EPSG:4326")
        region.to_file(out / "region.geojson", driver="GeoJSON")
        # a gauge record around each scene: hourly, a day either side (small enough to commit)
        times = pd.DatetimeIndex(sorted({
            t.floor("h") + pd.Timedelta(hours=h)
            for t in pd.DatetimeIndex(self.times) for h in range(-24, 25)
        }))
        pd.DataFrame(
            {"time": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "level": np.round(self.tide(times), 4)}
        ).to_csv(out / "tides.csv", index=False)
        tr = self.transects()
        pd.DataFrame({"transect": tr["id"], "slope": cfg.slope}).to_csv(
            out / "slopes.csv", index=False
        )
        truth = {
            "config": {k: v for k, v in asdict(cfg).items() if k != "grid"},
            "crs": crs,
            "rates": {row.id: self.rate(row.s) for row in tr.itertuples()},
            "in_reclamation": {row.id: self.in_reclamation(row.s) for row in tr.itertuples()},
            "reclamation_area_m2": self.reclamation_polygon().area,
            "reclamation_wkt": self.reclamation_polygon().wkt,
            "scenes": [
                {
                    "time": t.isoformat(),
                    "tide": self.tide(t),
                    "cloudy_coast": i in cfg.cloudy_coast,
                    "overcast": i in cfg.overcast,
                    "reclaimed": self.reclaimed(i),
                    "positions": {row.id: self.position(i, row.s) for row in tr.itertuples()},
                }
                for i, t in enumerate(self.times)
            ],
        }
        (out / "truth.json").write_text(json.dumps(truth, indent=1, default=str), encoding="utf-8")


def generate_coast(root: Path | str, config: CoastConfig | None = None) -> CoastWorld:
    """Write the synthetic coast under ``root`` (no-op when ``root/coast/truth.json`` exists
    for the same configuration) and return it."""
    world = CoastWorld(config)
    root = Path(root)
    marker = root / "coast" / "truth.json"
    if marker.exists():
        stored = json.loads(marker.read_text(encoding="utf-8")).get("config")
        current = {k: v for k, v in asdict(world.config).items() if k != "grid"}
        if stored == json.loads(json.dumps(current, default=str)):
            return world
    world.write(root)
    return world
