"""A seeded synthetic Landsat 8/9 Collection 2 Level-2 world with known ecological truth.

**Grid.** 172 x 172 pixels of 30 m (5.16 km) in EPSG:32650, upper-left corner (659985, 3552015):
pixel edges at x = 15 and y = 15 (mod 30) m, like real Landsat scenes in UTM. It covers the demo
region (``aoi/demo_region.geojson``) and the Sentinel-2 demo grid.

**Scenes.** One scene on each day of the year in ``doys`` (default 212, 220, 244, 252: 31 July,
8 August, 1 and 9 September in common years) of every season ``first_year`` ..
``first_year + n_years - 1`` (default 2018-2023: 24 scenes, ~02:36 UTC, WRS-2 path 120 row 38).
The days are the same every year and lie on the summer plateau of every class's phenology, so
whichever of them clouds hide, a stable pixel's season composite has the same expectation every
year (with a June scene, rice transplanting makes cropland composites depend on which scenes are
clear). Landsat 8 only before 2021-10-31 (Landsat 9's first science data), then Landsat 8 and 9
alternate (212 and 244 Landsat 8, 220 and 252 Landsat 9: their 8-day offset). Items, COGs and
``QA_PIXEL``: :mod:`rs.testing.landsat_items`, under ``<root>/landsat-c2-l2/<item_id>/``.

**Land cover** (static, :class:`rs.testing.LandCover` codes 1 water, 2 forest, 3 cropland,
4 grassland, 5 built-up, 6 bare soil): the seeded landscape of :mod:`rs.testing.landcover` on the
30 m grid; a planted region is set to its trend's class.

**Surface reflectance** (0..1). A vegetated pixel (forest, cropland, grassland) with vegetation
fraction ``v`` is the linear mixture ``rho = texture * (v * V + (1 - v) * S)`` of its class
spectrum ``V`` at the date's green fraction (:mod:`rs.testing.spectra`,
:mod:`rs.testing.phenology`, parcel crop shifts halved) and a bare-soil background ``S``: blue
0.10, green 0.13, swir16 0.32, swir22 0.27, and red / nir with NDVI :data:`NDVI_SOIL` (0.12) and
the same red + nir as ``V``. Hence ``NDVI = NDVI_SOIL + v * (NDVI(V) - NDVI_SOIL)`` exactly: the
pixel dichotomy model holds (FVC = ``v``). Water, built-up and bare soil keep their class
spectra. ``v`` (:meth:`LandsatWorld.vegetation_fraction`) is 0 for those classes; for vegetated
pixels it is the class base (forest 0.90, cropland 0.95, grassland 0.80) plus smooth variation,
in [0.5, 1], the same every year outside the planted regions.

**Surface temperature** (Kelvin): vegetated ``v * T_V + (1 - v) * 319``, ``T_V`` going from the
class's dormant to peak value with the green fraction (forest 307 -> 301, cropland 311 -> 302,
grassland 312 -> 304); water 299, built-up 316, bare soil 319; plus a static texture (sd 0.8 K).
There is no weather: a pixel's temperature changes between scenes only with its phenology.

**Noise and sky.** Gaussian noise, sd :data:`NOISE_SR` (0.005) per band and :data:`NOISE_ST`
(0.4 K), independent per pixel, band and scene. About half the scenes have clouds (4-35 % of the
scene) with a dilated-cloud ring of haze and shadows cast away from the item's sun
(:func:`rs.testing.landsat_items.generate_sky`; shadow: reflectance x 0.35, -4 K). Scene 13
(2021-08-08) has its south-east corner outside the scene (fill: DN 0, ``QA_PIXEL`` 1). Every
pixel with cloud, haze or shadow is flagged, so the pixels rs keeps by default are exactly the
truth plus noise.

**Planted trends** (:func:`default_trends`; ``v`` is constant within a season and steps between
seasons). ``degradation``: forest inside the Fushan red line, ``v`` falling from 0.95 by 0.08 a
year (431 px); ``recovery``: grassland on a revegetated site in the north-east, ``v`` rising from
0.25 by 0.10 a year (265 px). Every other pixel is stable: its noise-free values are the same
every year. The *season composite truth* is the per-pixel median over a season's scenes of the
noise-free clear-sky value (:meth:`LandsatWorld.season_ndvi`, :meth:`LandsatWorld.season_lst`);
the *truth slope* is its least-squares slope over the years, per year
(:meth:`LandsatWorld.truth_slope_ndvi`, :meth:`LandsatWorld.truth_slope_lst`): exactly linear in
a planted region (NDVI: ``rate * (median NDVI(V) - 0.12)``, -0.05804/yr degradation, +0.06293/yr
recovery; LST +1.438 and -1.490 K/yr) and exactly 0 elsewhere. Greenness, wetness, dryness and
heat all follow ``v``, so RSEI falls in the degradation region and rises in the recovery region
(by how much depends on the PCA and is not stated).

**Counties.** :func:`rs.testing.landsat_items.demo_counties` (``aoi/demo_counties.geojson``);
:meth:`LandsatWorld.county_coverage` gives each pixel's exact covered fraction and
:meth:`LandsatWorld.county_truth` the expected zonal numbers.

**Files.** ``<root>/landsat-c2-l2/<item_id>/`` (8 COGs and the item JSON); ``<root>/truth/``:
``landcover.tif`` (uint8, nodata 0), ``trend_mask.tif`` (int8: -1 degradation, +1 recovery,
0 stable), ``ndvi_slope.tif`` (NDVI per year), ``lst_slope.tif`` (K per year),
``vegetation_fraction_<year>.tif`` (float32), ``planted_regions.geojson`` (EPSG:4326) and
``truth.json`` (units, trends, scenes, counties); ``<root>/landsat-world.json`` makes a second
call with the same configuration a no-op.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import shapely

from rs.errors import SourceError, SpecError
from rs.testing._cog import write_cog
from rs.testing._grid import Grid
from rs.testing._noise import rng_for, smooth_noise
from rs.testing.landcover import LandCover, LandscapeBase, generate_landscape
from rs.testing.landsat_config import (
    _COVER,
    _NOISE,
    _THERMAL,
    BASE_COVER,
    CLOUD_TEMPERATURE,
    GENERATOR_VERSION,
    LANDSAT_GRID,
    NDVI_SOIL,
    NOISE_SR,
    NOISE_ST,
    OVERPASS_UTC,
    SHADOW_COOLING,
    SOIL_REFLECTANCE,
    T_DORMANT,
    T_PEAK,
    T_SOIL,
    VEGETATED,
    LandsatWorldConfig,
    PlantedTrend,
    default_trends,
)
from rs.testing.landsat_items import (
    COLLECTION,
    COUNTY_NAMES,
    LANDSAT9_FIRST_DAY,
    LANDSAT_BANDS,
    QA_FILL,
    SR_KEYS,
    SkyState,
    build_item,
    county_coverage,
    demo_counties,
    demo_counties_text,
    encode_qa,
    encode_sr,
    encode_st,
    generate_sky,
    item_id,
    sun_angles,
)
from rs.testing.phenology import green_fraction
from rs.testing.spectra import BANDS, CLOUD_REFLECTANCE, SHADOW_FACTOR, render
from rs.testing.world import _Memo, _write_text

__all__ = [
    "GENERATOR_VERSION",
    "LANDSAT_GRID",
    "NDVI_SOIL",
    "NOISE_SR",
    "NOISE_ST",
    "LandsatWorld",
    "LandsatWorldConfig",
    "PlantedTrend",
    "default_trends",
    "demo_counties",
    "demo_counties_text",
    "generate_landsat_world",
    "load_landsat_world",
    "write_demo_counties",
]

def _ols_slope(series: list[np.ndarray], years: list[int]) -> np.ndarray:
    """Least-squares slope per pixel (per year), float64; exactly 0 for a constant series."""
    t = np.asarray(years, dtype=np.float64)
    t = t - t.mean()
    num = sum(tk * s.astype(np.float64) for tk, s in zip(t, series, strict=True))
    return np.asarray(num / float((t * t).sum()), dtype=np.float64)


@dataclass(eq=False)
class LandsatWorld:
    """The synthetic Landsat world: where its files are, and pure functions of its content.

    Arrays have shape ``(height, width)`` on the 30 m grid; nothing is read back from disk.
    Scenes are indexed ``0 .. n_scenes - 1`` in time order.
    """

    root: Path
    config: LandsatWorldConfig
    _memo: _Memo = field(default_factory=lambda: _Memo(8), repr=False)

    # --- layout -----------------------------------------------------------------------------
    @property
    def grid(self) -> Grid:
        return self.config.grid

    @cached_property
    def years(self) -> list[int]:
        return [self.config.first_year + k for k in range(self.config.n_years)]

    @cached_property
    def datetimes(self) -> list[datetime]:
        return [
            datetime.combine(date(y, 1, 1) + timedelta(days=d - 1), OVERPASS_UTC, UTC)
            for y in self.years
            for d in self.config.doys
        ]

    @property
    def n_scenes(self) -> int:
        return len(self.datetimes)

    def scene_year(self, i: int) -> int:
        return self.datetimes[i].year

    def scene_doy(self, i: int) -> int:
        return self.datetimes[i].timetuple().tm_yday

    def scenes_of(self, year: int) -> list[int]:
        return [i for i in range(self.n_scenes) if self.scene_year(i) == year]

    @cached_property
    def platforms(self) -> list[str]:
        n = len(self.config.doys)
        return [
            "landsat-9" if t.date() >= LANDSAT9_FIRST_DAY and i % n % 2 else "landsat-8"
            for i, t in enumerate(self.datetimes)
        ]

    @cached_property
    def item_ids(self) -> list[str]:
        return [item_id(p, t.date()) for p, t in zip(self.platforms, self.datetimes, strict=True)]

    def item_dir(self, i: int) -> Path:
        return self.root / COLLECTION / self.item_ids[i]

    def item_path(self, i: int) -> Path:
        return self.item_dir(i) / f"{self.item_ids[i]}.json"

    def band_path(self, i: int, key: str) -> Path:
        usgs = next(b.usgs for b in LANDSAT_BANDS if b.key == key)
        return self.item_dir(i) / f"{self.item_ids[i]}_{usgs}.TIF"

    def item_paths(self) -> list[Path]:
        return [self.item_path(i) for i in range(self.n_scenes)]

    def items(self) -> list[pystac.Item]:
        return [pystac.Item.from_file(str(p)) for p in self.item_paths()]

    # --- static truth -----------------------------------------------------------------------
    @cached_property
    def trends(self) -> tuple[PlantedTrend, ...]:
        return self.config.resolved_trends()

    @cached_property
    def _centres(self) -> tuple[np.ndarray, np.ndarray]:
        g = self.grid
        xs = g.x0 + (np.arange(g.width) + 0.5) * g.res
        ys = g.y0 - (np.arange(g.height) + 0.5) * g.res
        return np.meshgrid(xs, ys)

    def trend_pixels(self, name: str) -> np.ndarray:
        """Pixels of planted trend ``name``: centre inside its polygon (later trends win)."""
        found = {t.name: m for t, m in zip(self.trends, self._planted, strict=True)}
        return found[name].copy()

    @cached_property
    def _planted(self) -> list[np.ndarray]:
        masks = [shapely.contains_xy(t.geometry, *self._centres) for t in self.trends]
        for k in range(len(masks)):
            for later in masks[k + 1 :]:
                masks[k] = masks[k] & ~later
        return masks

    @cached_property
    def landscape(self) -> LandscapeBase:
        return generate_landscape(self.grid, self.config.seed)

    def landcover(self) -> np.ndarray:
        """Land-cover class codes (uint8, :class:`LandCover`), the same every year."""
        return self._landcover.copy()

    @cached_property
    def _landcover(self) -> np.ndarray:
        lc = self.landscape.landcover.copy()
        for t, mask in zip(self.trends, self._planted, strict=True):
            lc[mask] = t.landcover
        return lc

    @cached_property
    def _base_cover(self) -> np.ndarray:
        lc = self._landcover
        noise = smooth_noise(rng_for(self.config.seed, _COVER), lc.shape, 3.0)
        v = np.zeros(lc.shape, dtype=np.float64)
        for cls, base in BASE_COVER.items():
            v[lc == cls] = base
        vegetated = np.isin(lc, VEGETATED)
        return np.where(vegetated, np.clip(v + 0.05 * noise, 0.5, 1.0), 0.0)

    def vegetation_fraction(self, year: int) -> np.ndarray:
        """Vegetation fraction ``v`` (0..1, float64) in ``year``'s season (module docstring)."""
        if year not in self.years:
            raise ValueError(f"year {year} is not a season of this world ({self.years})")
        v = self._base_cover.copy()
        for t, mask in zip(self.trends, self._planted, strict=True):
            v[mask] = t.start + t.rate * (year - self.config.first_year)
        return v

    def vegetation_fraction_slope(self) -> np.ndarray:
        """Change of the vegetation fraction per year (float64; 0 outside planted regions)."""
        out = np.zeros(self.grid.shape(), dtype=np.float64)
        for t, mask in zip(self.trends, self._planted, strict=True):
            out[mask] = t.rate
        return out

    def trend_mask(self) -> np.ndarray:
        """int8: +1 planted increase, -1 planted decrease, 0 stable."""
        return np.sign(self.vegetation_fraction_slope()).astype(np.int8)

    # --- per-scene truth --------------------------------------------------------------------
    def _clear(self, i: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return self._memo.get(("clear", i), lambda: self._render(i))

    def _render(self, i: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        doy, lc, ls = self.scene_doy(i), self._landcover, self.landscape
        g = green_fraction(lc, doy, 0.5 * ls.crop_shift, ls.double_crop).astype(np.float64)
        veg = {b: a.astype(np.float64) for b, a in render(lc, g, np.ones_like(g)).items()}
        v = self.vegetation_fraction(self.scene_year(i))
        vegetated = np.isin(lc, VEGETATED)
        bright = veg["red"] + veg["nir"]
        soil = {
            **SOIL_REFLECTANCE,
            "red": bright * (1 - NDVI_SOIL) / 2,
            "nir": bright * (1 + NDVI_SOIL) / 2,
        }
        refl = {}
        for band, key in zip(BANDS, SR_KEYS, strict=True):
            mixed = np.where(vegetated, v * veg[band] + (1 - v) * soil[band], veg[band])
            refl[key] = (mixed * ls.texture).astype(np.float32)
        t_v = T_DORMANT[lc] + g * (T_PEAK[lc] - T_DORMANT[lc])
        t = np.where(vegetated, v * t_v + (1 - v) * T_SOIL, t_v)
        t = t + self._thermal_texture
        return refl, t.astype(np.float32)

    @cached_property
    def _thermal_texture(self) -> np.ndarray:
        shape = self.grid.shape()
        return 0.8 * smooth_noise(rng_for(self.config.seed, _THERMAL), shape, 2.0)

    def clear_reflectance(self, i: int) -> dict[str, np.ndarray]:
        """Noise-free clear-sky surface reflectance of scene ``i`` (float32; keys ``blue green
        red nir08 swir16 swir22``)."""
        return {k: v.copy() for k, v in self._clear(i)[0].items()}

    def surface_temperature(self, i: int) -> np.ndarray:
        """Noise-free clear-sky surface temperature of scene ``i`` (float32, Kelvin)."""
        return self._clear(i)[1].copy()

    def ndvi(self, i: int) -> np.ndarray:
        """NDVI of :meth:`clear_reflectance` (float32)."""
        r = self._clear(i)[0]
        red, nir = r["red"].astype(np.float64), r["nir08"].astype(np.float64)
        return ((nir - red) / (nir + red)).astype(np.float32)

    def season_ndvi(self, year: int) -> np.ndarray:
        """Season composite truth: per-pixel median of :meth:`ndvi` over ``year``'s scenes."""
        return np.median(np.stack([self.ndvi(i) for i in self.scenes_of(year)]), axis=0)

    def season_lst(self, year: int) -> np.ndarray:
        """Per-pixel median of :meth:`surface_temperature` over ``year``'s scenes (K)."""
        stack = [self._clear(i)[1] for i in self.scenes_of(year)]
        return np.median(np.stack(stack), axis=0)

    def truth_slope_ndvi(self) -> np.ndarray:
        """Least-squares slope of :meth:`season_ndvi` over the years (NDVI per year, float64)."""
        return self._slopes[0].copy()

    def truth_slope_lst(self) -> np.ndarray:
        """Least-squares slope of :meth:`season_lst` over the years (K per year, float64)."""
        return self._slopes[1].copy()

    @cached_property
    def _slopes(self) -> tuple[np.ndarray, np.ndarray]:
        ndvi = _ols_slope([self.season_ndvi(y) for y in self.years], self.years)
        return ndvi, _ols_slope([self.season_lst(y) for y in self.years], self.years)

    # --- sky, observation -------------------------------------------------------------------
    @cached_property
    def _lonlat(self) -> tuple[float, float]:
        c = self.grid.footprint().centroid
        return c.x, c.y

    def sun(self, i: int) -> tuple[float, float]:
        """(azimuth, elevation) of the sun in degrees at scene ``i`` (as in the item)."""
        return sun_angles(self.datetimes[i], *self._lonlat)

    def sky(self, i: int) -> SkyState:
        return self._memo.get(("sky", i), lambda: self._sky(i))

    def _sky(self, i: int) -> SkyState:
        cfg = self.config
        return generate_sky(
            self.grid.shape(), self.grid.res, cfg.seed, i, self.sun(i),
            cfg.cloudy_share, cfg.max_cloud, fill_corner=i in cfg.fill_scenes,
        )

    def masked(self, i: int) -> np.ndarray:
        """Pixels rs masks by default (fill, cloud, dilated cloud, cloud shadow) in scene ``i``."""
        s = self.sky(i)
        return s.fill | s.cloud | s.dilated | s.shadow

    def qa_pixel(self, i: int) -> np.ndarray:
        """QA_PIXEL of scene ``i`` (uint16, :func:`rs.testing.landsat_items.encode_qa`)."""
        s = self.sky(i)
        water = self._landcover == LandCover.WATER
        return encode_qa(
            cloud=s.cloud, dilated=s.dilated, shadow=s.shadow, water=water, fill=s.fill
        )

    def cloud_cover(self, i: int, land_only: bool = False) -> float:
        """Percent of the scene (or of its land) flagged cloud (QA_PIXEL bit 3)."""
        cloud = self.sky(i).cloud
        if land_only:
            cloud = cloud[self._landcover != LandCover.WATER]
        return round(100.0 * float(cloud.mean()), 2)

    def _noise(self, i: int, k: int, sd: float) -> np.ndarray:
        return rng_for(self.config.seed, _NOISE, i, k).normal(0.0, sd, self.grid.shape())

    def observed_reflectance(self, i: int) -> dict[str, np.ndarray]:
        """What the SR files hold before DN encoding: shadows, clouds, haze, noise; NaN = fill."""
        s, out = self.sky(i), {}
        shade = np.where(s.shadow, SHADOW_FACTOR, 1.0)
        for k, key in enumerate(SR_KEYS):
            v = self._clear(i)[0][key] * shade
            v = (1 - s.alpha) * v + s.alpha * CLOUD_REFLECTANCE[k] + self._noise(i, k, NOISE_SR)
            out[key] = np.where(s.fill, np.nan, v).astype(np.float32)
        return out

    def observed_temperature(self, i: int) -> np.ndarray:
        """What the ST file holds before DN encoding (K; NaN = fill)."""
        s = self.sky(i)
        t = self._clear(i)[1] - SHADOW_COOLING * s.shadow
        t = (1 - s.alpha) * t + s.alpha * CLOUD_TEMPERATURE + self._noise(i, 6, NOISE_ST)
        return np.where(s.fill, np.nan, t).astype(np.float32)

    # --- counties ---------------------------------------------------------------------------
    def county_coverage(self) -> dict[str, np.ndarray]:
        """Per county id, the exact fraction of each pixel inside the county
        (:func:`rs.testing.landsat_items.county_coverage`)."""
        return county_coverage(self.grid)

    def county_truth(self) -> list[dict[str, Any]]:
        """Per county: area in and out of the world, planted areas, coverage-weighted mean truth
        NDVI / LST slope and vegetation fraction, class areas (m², per year)."""
        px = self.grid.res**2
        slope_ndvi, slope_lst = self.truth_slope_ndvi(), self.truth_slope_lst()
        lc, trend = self._landcover, self.trend_mask()
        v = {y: self.vegetation_fraction(y) for y in self.years}
        rows = []
        for cid, cov in self.county_coverage().items():
            w = float(cov.sum())

            def mean(a: np.ndarray, w: float = w, cov: np.ndarray = cov) -> float | None:
                return round(float((a * cov).sum()) / w, 8) if w > 0 else None

            rows.append({
                "county_id": cid,
                "name": COUNTY_NAMES[cid],
                "area_in_world_m2": round(w * px, 3),
                "degradation_m2": round(float(cov[trend < 0].sum()) * px, 3),
                "recovery_m2": round(float(cov[trend > 0].sum()) * px, 3),
                "mean_ndvi_slope": mean(slope_ndvi),
                "mean_lst_slope": mean(slope_lst),
                "mean_vegetation_fraction": {str(y): mean(v[y]) for y in self.years},
                "class_area_m2": {
                    c.name.lower(): round(float(cov[lc == c].sum()) * px, 3) for c in LandCover
                },
            })
        return rows

    # --- writing ----------------------------------------------------------------------------
    def _write_scene(self, i: int) -> None:
        tr, crs = self.grid.transform(), self.grid.crs
        refl = self.observed_reflectance(i)
        hrefs: dict[str, Path] = {}
        for b in LANDSAT_BANDS:
            path = hrefs[b.key] = self.band_path(i, b.key)
            if b.kind == "sr":
                write_cog(path, encode_sr(refl[b.key]), tr, crs, nodata=0)
            elif b.kind == "st":
                write_cog(path, encode_st(self.observed_temperature(i)), tr, crs, nodata=0)
            else:
                write_cog(path, self.qa_pixel(i), tr, crs, nodata=QA_FILL, resampling="nearest")
        item = build_item(
            self.grid,
            self.datetimes[i],
            self.platforms[i],
            self.cloud_cover(i),
            self.cloud_cover(i, land_only=True),
            hrefs,
        )
        text = json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), indent=2)
        _write_text(self.item_path(i), text)

    def _write_truth(self) -> list[str]:
        tdir = self.root / "truth"
        tr, crs = self.grid.transform(), self.grid.crs
        layers: dict[str, tuple[np.ndarray, float | None]] = {
            "landcover.tif": (self._landcover, 0),
            "trend_mask.tif": (self.trend_mask(), None),
            "ndvi_slope.tif": (self.truth_slope_ndvi().astype(np.float32), None),
            "lst_slope.tif": (self.truth_slope_lst().astype(np.float32), None),
        }
        for y in self.years:
            v = self.vegetation_fraction(y).astype(np.float32)
            layers[f"vegetation_fraction_{y}.tif"] = (v, None)
        for name, (data, nodata) in layers.items():
            resampling = "average" if data.dtype == np.float32 else "nearest"
            write_cog(tdir / name, data, tr, crs, nodata, resampling)
        _write_text(tdir / "planted_regions.geojson", json.dumps(self._regions_geojson()))
        _write_text(tdir / "truth.json", json.dumps(self.truth_summary(), indent=1))
        return [f"truth/{n}" for n in [*layers, "planted_regions.geojson", "truth.json"]]

    def _regions_geojson(self) -> dict[str, Any]:
        feats = []
        for t in self.trends:
            geom = shapely.transform(self.grid.to_lonlat(t.geometry), lambda c: np.round(c, 7))
            props = {"name": t.name, "landcover": t.landcover, "start": t.start, "rate": t.rate}
            feats.append({"type": "Feature", "properties": props,
                          "geometry": shapely.geometry.mapping(geom)})
        return {"type": "FeatureCollection", "features": feats}

    def truth_summary(self) -> dict[str, Any]:
        """What ``truth/truth.json`` holds: units, classes, planted trends with their exact
        slopes, per-scene sky statistics and :meth:`county_truth`."""
        slope_ndvi, slope_lst = self.truth_slope_ndvi(), self.truth_slope_lst()
        trends = []
        for t in self.trends:
            m = self.trend_pixels(t.name)
            trends.append({
                **{k: v for k, v in asdict(t).items() if k != "polygon"},
                "vegetation_fraction": {str(y): round(t.start + t.rate * (y - self.years[0]), 6)
                                        for y in self.years},
                "pixels": int(m.sum()),
                "ndvi_slope_per_year": round(float(slope_ndvi[m].mean()), 6),
                "lst_slope_k_per_year": round(float(slope_lst[m].mean()), 5),
            })
        scenes = []
        for i in range(self.n_scenes):
            s = self.sky(i)
            scenes.append({
                "item_id": self.item_ids[i],
                "datetime": self.datetimes[i].isoformat(),
                "platform": self.platforms[i],
                "cloud_cover": self.cloud_cover(i),
                **{f"{k}_pixels": int(getattr(s, k).sum())
                   for k in ("cloud", "dilated", "shadow", "fill")},
                "masked_pixels": int(self.masked(i).sum()),
            })
        return {
            "generator": "rs.testing.landsat",
            "generator_version": GENERATOR_VERSION,
            "units": {
                "reflectance": "1", "temperature": "K", "ndvi_slope": "NDVI per year",
                "lst_slope": "K per year", "vegetation_fraction": "1",
            },
            "landcover": {str(int(c)): c.name.lower() for c in LandCover},
            "ndvi_soil": NDVI_SOIL,
            "noise": {"reflectance_sd": NOISE_SR, "temperature_sd_k": NOISE_ST},
            "years": self.years,
            "trends": trends,
            "scenes": scenes,
            "counties": self.county_truth(),
        }


# --- generation -------------------------------------------------------------------------------
def write_demo_counties(path: Path | str) -> Path:
    """Write :func:`demo_counties_text` to ``path`` (``aoi/demo_counties.geojson``)."""
    path = Path(path)
    _write_text(path, demo_counties_text())
    return path


def _meta(config: LandsatWorldConfig) -> dict[str, Any]:
    return {
        "generator": "rs.testing.landsat",
        "generator_version": GENERATOR_VERSION,
        "config": json.loads(json.dumps(config.to_dict())),
    }


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def generate_landsat_world(
    root: Path | str, config: LandsatWorldConfig | None = None
) -> LandsatWorld:
    """Write the synthetic Landsat world under ``root`` and return it.

    If ``root/landsat-world.json`` records the same configuration and generator version, nothing
    is rewritten. Otherwise ``root/landsat-c2-l2/`` and the truth files of the previous world are
    replaced. A Sentinel-2 world (``root/world.json``) in the same folder is refused: both write
    ``truth/landcover.tif``.
    """
    root = Path(root).resolve()
    config = config or LandsatWorldConfig()
    if (root / "world.json").exists():
        raise SpecError(
            f"{root} holds a Sentinel-2 world (world.json) whose truth/ the Landsat world would "
            "overwrite; generate the Landsat world into another folder"
        )
    meta_path, meta = root / "landsat-world.json", _meta(config)
    stored = _read_json(meta_path) if meta_path.exists() else None
    if stored is not None and all(stored.get(k) == v for k, v in meta.items()):
        return LandsatWorld(root, config)
    meta_path.unlink(missing_ok=True)
    for rel in (stored or {}).get("truth_files", []):
        (root / str(rel)).unlink(missing_ok=True)
    if (root / COLLECTION).is_dir():
        shutil.rmtree(root / COLLECTION)
    world = LandsatWorld(root, config)
    for i in range(world.n_scenes):
        world._write_scene(i)
    meta["truth_files"] = world._write_truth()
    meta["items"] = [str(p.relative_to(root)) for p in world.item_paths()]
    meta["datetimes"] = [t.isoformat() for t in world.datetimes]
    _write_text(meta_path, json.dumps(meta, indent=2))
    return world


def load_landsat_world(root: Path | str) -> LandsatWorld:
    """The world previously written by :func:`generate_landsat_world` under ``root``."""
    root = Path(root).resolve()
    meta = _read_json(root / "landsat-world.json")
    if meta is None:
        raise SourceError(
            f"no synthetic Landsat world at {root}: run "
            f"rs.testing.generate_landsat_world({str(root)!r}) first"
        )
    if meta.get("generator_version") != GENERATOR_VERSION:
        raise SourceError(
            f"the Landsat world at {root} was made by generator version "
            f"{meta.get('generator_version')}, this is {GENERATOR_VERSION}: generate it again"
        )
    return LandsatWorld(root, LandsatWorldConfig.from_dict(meta["config"]))
