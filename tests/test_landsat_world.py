"""rs.testing.landsat: the synthetic Landsat 8/9 C2 L2 world, its ecological truth and counties."""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import shapely
import xarray as xr
from pyproj import Transformer
from scipy.stats import theilslopes
from shapely.geometry import shape

from rs.errors import SourceError, SpecError
from rs.load import load_optical
from rs.load.masks import qa_pixel_flags, qa_pixel_mask
from rs.testing import LandCover, demo_aois, generate_landsat_world, generate_world
from rs.testing.landsat import (
    NDVI_SOIL,
    NOISE_SR,
    NOISE_ST,
    LandsatWorld,
    LandsatWorldConfig,
    PlantedTrend,
    demo_counties,
    demo_counties_text,
    load_landsat_world,
)
from rs.testing.landsat_items import (
    LANDSAT9_FIRST_DAY,
    QA_CONFIDENCE,
    SR_KEYS,
    decode_sr,
    decode_st,
    encode_sr,
    encode_st,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = LandsatWorldConfig(
    seed=5, width=40, height=36, n_years=2, doys=(212, 244), fill_scenes=(1,), cloudy_share=0.8
)
LOAD_BANDS = ["red", "nir", "swir16", "swir22", "thermal", "qa_pixel"]
FILE_OF = {"red": "red", "nir": "nir08", "swir16": "swir16", "swir22": "swir22"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LandsatWorld:
    return generate_landsat_world(tmp_path_factory.mktemp("landsat"))


@pytest.fixture(scope="module")
def loaded(world: LandsatWorld) -> xr.Dataset:
    """Every scene through rs.load with its defaults (no grid given), on the world's pixels."""
    ds = load_optical(world.items(), LOAD_BANDS).compute()
    g = world.grid
    xs = g.x0 + (np.arange(g.width) + 0.5) * g.res
    ys = g.y0 - (np.arange(g.height) + 0.5) * g.res
    return ds.sel(x=xs, y=ys)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix.lower() != ".json"
    }


def _season_composites(world: LandsatWorld, values: np.ndarray) -> np.ndarray:
    """Per year, the per-pixel median of the clear observations (years, y, x)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack([np.nanmedian(values[world.scenes_of(y)], axis=0) for y in world.years])


def _slopes(years: list[int], series: np.ndarray) -> np.ndarray:
    """Least-squares slope per pixel of (years, y, x) -> (y, x)."""
    t = np.asarray(years, dtype=np.float64) - np.mean(years)
    centred = series - series.mean(axis=0)
    return np.tensordot(t, centred, axes=1) / float((t * t).sum())


# --- generation: determinism, caching, configuration ------------------------------------------


def test_generate__same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = generate_landsat_world(tmp_path / "a", TINY)
    b = generate_landsat_world(tmp_path / "b", TINY)
    fa, fb = _files(a.root), _files(b.root)
    assert len(fa) == 4 * 8 + 4 + 2 + 1  # 8 files a scene; 4 truth layers, 2 years of v, regions
    assert fa == fb
    for pa, pb in zip(a.item_paths(), b.item_paths(), strict=True):
        ja = pa.read_text().replace(a.root.as_uri(), "ROOT")
        assert ja == pb.read_text().replace(b.root.as_uri(), "ROOT")
    truth_a = (a.root / "truth" / "truth.json").read_text()
    assert truth_a == (b.root / "truth" / "truth.json").read_text()
    other = LandsatWorld(tmp_path, replace(TINY, seed=6))
    red_a, red_other = a.observed_reflectance(0)["red"], other.observed_reflectance(0)["red"]
    assert not np.array_equal(red_a, red_other)


def test_generate__second_call_is_a_no_op_and_a_new_config_replaces_the_files(
    tmp_path: Path,
) -> None:
    three = replace(TINY, n_years=3, fill_scenes=())
    w = generate_landsat_world(tmp_path, three)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    again = generate_landsat_world(tmp_path, three)
    assert again.config == three
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == stamps
    last = tmp_path / "truth" / f"vegetation_fraction_{w.years[-1]}.tif"
    assert last.exists()
    generate_landsat_world(tmp_path, TINY)
    assert not last.exists()  # the previous world's truth files are gone
    assert len(list((tmp_path / "landsat-c2-l2").iterdir())) == 4
    assert load_landsat_world(tmp_path).config == TINY


def test_generate__refuses_a_sentinel2_world_folder_and_load_needs_a_world(
    tmp_path: Path,
) -> None:
    (tmp_path / "world.json").write_text("{}")
    with pytest.raises(SpecError, match="Sentinel-2 world"):
        generate_landsat_world(tmp_path, TINY)
    with pytest.raises(SourceError, match="no synthetic Landsat world"):
        load_landsat_world(tmp_path / "nothing")


def test_generate__both_worlds_live_side_by_side_in_their_own_folders(tmp_path: Path) -> None:
    """``rs.testing`` exports the generator; each world keeps its own ``truth/``."""
    from rs.testing import WorldConfig

    s2 = generate_world(tmp_path / "s2", WorldConfig(width=64, height=64, n_dates=1))
    ls = generate_landsat_world(tmp_path / "ls", TINY)
    assert (s2.root / "truth" / "landcover.tif").exists()
    assert (ls.root / "truth" / "landcover.tif").exists()


def test_config__round_trips_through_its_dict() -> None:
    trend = PlantedTrend("x", ((0.0, 0.0), (90.0, 0.0), (90.0, 90.0)), 3, 0.5, -0.1)
    config = replace(TINY, trends=(trend,))
    back = LandsatWorldConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config
    assert LandsatWorldConfig.from_dict(LandsatWorldConfig().to_dict()) == LandsatWorldConfig()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"origin": (660000.0, 3552015.0)}, "15 m"),
        ({"doys": (244, 212)}, "increasing"),
        ({"n_years": 1}, "two seasons"),
        ({"fill_scenes": (99,)}, "scene indices"),
        ({"crs": "EPSG:4326"}, "UTM"),
        ({"trends": (PlantedTrend("x", ((0, 0), (1, 0), (1, 1)), 2, 0.1, -0.2),)}, "leaves"),
        ({"trends": (PlantedTrend("x", ((0, 0), (1, 0), (1, 1)), 5, 0.1, 0.1),)}, "landcover"),
    ],
)
def test_config__rejects_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        replace(TINY, **kwargs)


# --- items ------------------------------------------------------------------------------------


def test_items__follow_the_landsat_c2_l2_layout(world: LandsatWorld) -> None:
    items = world.items()
    assert len(items) == 24
    years = sorted({it.datetime.year for it in items if it.datetime})
    assert years == list(range(2018, 2024))
    for it in items:
        assert it.datetime is not None
        d = it.datetime.date()
        assert 6 <= d.month <= 9 and it.collection_id == "landsat-c2-l2"
        assert re.fullmatch(r"LC0[89]_L2SP_120038_\d{8}_02_T1", it.id)
        assert it.id.split("_")[3] == f"{d:%Y%m%d}"
        platform = it.properties["platform"]
        assert it.id.startswith("LC09" if platform == "landsat-9" else "LC08")
        assert platform == "landsat-8" or d >= LANDSAT9_FIRST_DAY
        assert set(it.assets) == {*SR_KEYS, "lwir11", "qa_pixel"}
        assert it.properties["proj:code"] == "EPSG:32650"
        for key, asset in it.assets.items():
            t = asset.extra_fields["proj:transform"]
            assert t[0] == 30 and t[4] == -30 and t[2] % 30 == 15 and t[5] % 30 == 15
            assert asset.extra_fields["proj:shape"] == [172, 172]
            rb = asset.extra_fields["raster:bands"][0]
            assert rb["data_type"] == "uint16" and rb["spatial_resolution"] == 30
            if key == "qa_pixel":
                assert rb["nodata"] == 1 and "scale" not in rb
            elif key == "lwir11":
                assert (rb["scale"], rb["offset"], rb["nodata"]) == (0.00341802, 149.0, 0)
            else:
                assert (rb["scale"], rb["offset"], rb["nodata"]) == (2.75e-5, -0.2, 0)
        assert 50 < it.properties["view:sun_elevation"] < 80
    platforms = [it.properties["platform"] for it in items]
    assert platforms[-4:] == ["landsat-8", "landsat-9", "landsat-8", "landsat-9"]
    assert set(platforms[:16]) == {"landsat-8"}
    covers = [it.properties["eo:cloud_cover"] for it in items]
    assert covers == [world.cloud_cover(i) for i in range(24)]
    assert min(covers) == 0 and 20 < max(covers) < 40 and 8 <= sum(c > 0 for c in covers) <= 18


def test_dn_encoding__round_trips_within_half_a_step() -> None:
    r = np.array([-0.05, 0.0, 0.0312, 0.45, np.nan], dtype=np.float32)
    back = decode_sr(encode_sr(r))
    assert np.isnan(back[-1]) and encode_sr(r)[-1] == 0
    assert np.all(np.abs(back[:-1] - r[:-1]) <= 2.75e-5 / 2 + 1e-7)
    t = np.array([270.0, 298.15, 318.4], dtype=np.float32)
    assert np.all(np.abs(decode_st(encode_st(t)) - t) <= 0.00341802 / 2 + 1e-4)


# --- loading through rs -----------------------------------------------------------------------


def test_load_optical__default_grid_is_the_landsat_grid_pixel_for_pixel(
    world: LandsatWorld, loaded: xr.Dataset
) -> None:
    ds = load_optical(world.items()[:1], ["red"])
    assert ds.sizes["x"] == world.grid.width and ds.sizes["y"] == world.grid.height
    assert float(ds.x[0]) == world.grid.x0 + 15 and float(ds.y[0]) == world.grid.y0 - 15
    assert "anchor x=0.5" in ds.attrs["grid"]
    for i in range(world.n_scenes):
        masked = world.masked(i)
        for band, key in FILE_OF.items():
            expected = np.where(masked, np.nan, decode_sr(_read(world.band_path(i, key))))
            np.testing.assert_array_equal(loaded[band].values[i], expected)
        thermal = np.where(masked, np.nan, decode_st(_read(world.band_path(i, "lwir11"))))
        np.testing.assert_array_equal(loaded["thermal"].values[i], thermal)
        np.testing.assert_array_equal(loaded["qa_pixel"].values[i], world.qa_pixel(i))


def test_load_optical__clear_pixels_are_truth_plus_noise(
    world: LandsatWorld, loaded: xr.Dataset
) -> None:
    assert loaded["thermal"].attrs["units"] == "K"
    for band, key in FILE_OF.items():
        res = np.concatenate([
            (loaded[band].values[i] - world.clear_reflectance(i)[key]).ravel()
            for i in range(world.n_scenes)
        ])
        res = res[np.isfinite(res)]
        assert res.size == sum(int((~world.masked(i)).sum()) for i in range(world.n_scenes))
        assert abs(res.mean()) < 1e-4  # 600,000 draws: sd of the mean 7e-6
        assert res.std() == pytest.approx(NOISE_SR, rel=0.01)
        assert np.abs(res).max() < 6 * NOISE_SR
    t = loaded["thermal"].values
    res = np.concatenate([(t[i] - world.surface_temperature(i)).ravel() for i in range(24)])
    res = res[np.isfinite(res)]
    assert abs(res.mean()) < 0.005 and res.std() == pytest.approx(NOISE_ST, rel=0.01)
    clear = t[np.isfinite(t)]
    assert clear.min() > 294 and clear.max() < 323
    lc = world.landcover()
    by_class = {c: float(np.nanmean(t[:, lc == c])) for c in LandCover}
    assert by_class[LandCover.WATER] == min(by_class.values())
    for hot in (LandCover.BUILT_UP, LandCover.BARE_SOIL):
        for cool in (LandCover.FOREST, LandCover.CROPLAND, LandCover.GRASSLAND):
            assert by_class[hot] > by_class[cool] + 5


def test_qa_pixel__bits_follow_the_usgs_collection_2_layout(world: LandsatWorld) -> None:
    lc = world.landcover()
    seen: set[int] = set()
    for i in range(world.n_scenes):
        qa, sky = world.qa_pixel(i), world.sky(i)
        seen |= {int(v) for v in np.unique(qa)}
        np.testing.assert_array_equal(qa == 1, sky.fill)
        flags = {k: np.asarray(v) & ~sky.fill for k, v in qa_pixel_flags(qa).items()}
        np.testing.assert_array_equal(flags["cloud"], sky.cloud)
        np.testing.assert_array_equal(flags["dilated_cloud"], sky.dilated)
        np.testing.assert_array_equal(flags["shadow"], sky.shadow)
        np.testing.assert_array_equal(flags["clear"], ~(sky.cloud | sky.dilated | sky.fill))
        water = (lc == LandCover.WATER) & ~sky.cloud & ~sky.fill
        np.testing.assert_array_equal(flags["water"], water)
        assert not flags["snow"].any() and not flags["cirrus"].any()
        cloud_conf = (qa >> QA_CONFIDENCE["cloud_confidence"]) & 3
        np.testing.assert_array_equal(cloud_conf[~sky.fill], np.where(sky.cloud, 3, 1)[~sky.fill])
        np.testing.assert_array_equal(np.asarray(qa_pixel_mask(qa)), world.masked(i))
        # every pixel touched by cloud or haze is flagged: the kept pixels are clear sky
        assert not (sky.alpha[~world.masked(i)] > 0).any()
    # the values of real C2 scenes: fill, clear land / water, cloud, dilated cloud, shadow
    assert {1, 21824, 21952, 22280, 21762, 23888} <= seen


def _moved(mask: np.ndarray, drow: int, dcol: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(0, drow) : h + min(0, drow), max(0, dcol) : w + min(0, dcol)] = mask[
        max(0, -drow) : h + min(0, -drow), max(0, -dcol) : w + min(0, -dcol)
    ]
    return out


def test_clouds__shadows_are_the_clouds_moved_away_from_the_sun(world: LandsatWorld) -> None:
    from scipy.signal import fftconvolve

    checked = 0
    for i in range(world.n_scenes):
        sky = world.sky(i)
        if not sky.cloud.any():
            assert not (sky.shadow | sky.dilated).any() and world.cloud_cover(i) == 0
            continue
        # the shift that best turns clouds into shadows (cross-correlation, any direction)
        corr = fftconvolve(sky.shadow.astype(float), sky.cloud[::-1, ::-1].astype(float))
        peak = np.unravel_index(np.argmax(corr), corr.shape)
        h, w = sky.cloud.shape
        drow, dcol = int(peak[0]) - (h - 1), int(peak[1]) - (w - 1)
        assert (_moved(sky.cloud, drow, dcol) & ~sky.cloud & ~sky.fill == sky.shadow).all()
        azimuth, elevation = world.sun(i)
        direction = math.degrees(math.atan2(dcol, -drow))  # clockwise from north
        off = (direction - (azimuth + 180) + 180) % 360 - 180
        assert abs(off) < 5
        height = math.hypot(drow, dcol) * world.grid.res * math.tan(math.radians(elevation))
        assert 800 - 60 < height < 2500 + 60  # metres
        checked += 1
    assert checked >= 10


# --- the planted truth ------------------------------------------------------------------------


def test_truth__vegetation_fraction_and_trend_mask(world: LandsatWorld) -> None:
    mask, lc = world.trend_mask(), world.landcover()
    d, r = world.trend_pixels("degradation"), world.trend_pixels("recovery")
    assert 300 < d.sum() < 600 and 200 < r.sum() < 400 and not (d & r).any()
    np.testing.assert_array_equal(mask, d.astype(np.int8) * -1 + r.astype(np.int8))
    assert (lc[d] == LandCover.FOREST).all() and (lc[r] == LandCover.GRASSLAND).all()
    for k, y in enumerate(world.years):
        v = world.vegetation_fraction(y)
        assert np.allclose(v[d], 0.95 - 0.08 * k) and np.allclose(v[r], 0.25 + 0.10 * k)
        vegetated = np.isin(lc, [LandCover.FOREST, LandCover.CROPLAND, LandCover.GRASSLAND])
        assert (v[~vegetated] == 0).all() and (v[vegetated & (mask == 0)] >= 0.5).all()
        np.testing.assert_array_equal(v[mask == 0], world.vegetation_fraction(2018)[mask == 0])
    np.testing.assert_array_equal(world.vegetation_fraction_slope()[d], -0.08)
    with pytest.raises(ValueError, match="not a season"):
        world.vegetation_fraction(2017)


def test_truth__ndvi_is_linear_in_the_vegetation_fraction(world: LandsatWorld) -> None:
    """The soil background keeps red + nir, so NDVI = NDVI_SOIL + v (NDVI_V - NDVI_SOIL) and the
    pixel dichotomy model recovers v exactly: slopes are exact, not approximate."""
    planted = world.trend_mask() != 0
    n_doys = len(world.config.doys)
    for i in range(n_doys, world.n_scenes):
        first = world.ndvi(i % n_doys).astype(np.float64)[planted]
        now = world.ndvi(i).astype(np.float64)[planted]
        ratio = (now - NDVI_SOIL) / (first - NDVI_SOIL)
        v_now = world.vegetation_fraction(world.scene_year(i))[planted]
        v_first = world.vegetation_fraction(2018)[planted]
        np.testing.assert_allclose(ratio, v_now / v_first, rtol=2e-5)


def test_truth__slopes_are_exact_in_planted_regions_and_zero_elsewhere(
    world: LandsatWorld,
) -> None:
    slope, lst = world.truth_slope_ndvi(), world.truth_slope_lst()
    stable = world.trend_mask() == 0
    assert (slope[stable] == 0).all() and (lst[stable] == 0).all()
    season = np.stack([world.season_ndvi(y) for y in world.years]).astype(np.float64)
    for name, rate, sign in (("degradation", -0.08, -1), ("recovery", 0.10, 1)):
        m = world.trend_pixels(name)
        # closed form: rate * (season median of the vegetation's NDVI - NDVI_SOIL)
        v0 = world.vegetation_fraction(2018)[m]
        ndvi_v = NDVI_SOIL + (season[0][m] - NDVI_SOIL) / v0
        np.testing.assert_allclose(slope[m], rate * (ndvi_v - NDVI_SOIL), atol=1e-6)
        assert np.ptp(slope[m]) < 1e-6 and np.sign(slope[m]).min() == sign
        fitted = np.polyfit(world.years, season[:, m], 1)
        residual = season[:, m] - (np.outer(world.years, fitted[0]) + fitted[1])
        assert np.abs(residual).max() < 1e-6  # exactly linear (float32 rounding)
        assert np.sign(lst[m]).max() == -sign and 1.0 < np.abs(lst[m]).min() < 2.0
    assert slope[world.trend_pixels("degradation")].mean() == pytest.approx(-0.05804, abs=1e-5)
    assert slope[world.trend_pixels("recovery")].mean() == pytest.approx(0.06293, abs=1e-5)


def test_truth__files_hold_the_truth_functions(world: LandsatWorld) -> None:
    t = world.root / "truth"
    np.testing.assert_array_equal(_read(t / "landcover.tif"), world.landcover())
    np.testing.assert_array_equal(_read(t / "trend_mask.tif"), world.trend_mask())
    np.testing.assert_array_equal(
        _read(t / "ndvi_slope.tif"), world.truth_slope_ndvi().astype(np.float32)
    )
    np.testing.assert_array_equal(
        _read(t / "lst_slope.tif"), world.truth_slope_lst().astype(np.float32)
    )
    for y in world.years:
        v = _read(t / f"vegetation_fraction_{y}.tif")
        np.testing.assert_array_equal(v, world.vegetation_fraction(y).astype(np.float32))
    with rasterio.open(t / "landcover.tif") as src:
        assert src.crs.to_epsg() == 32650 and src.transform == world.grid.transform()
    summary = json.loads((t / "truth.json").read_text())
    assert summary == json.loads(json.dumps(world.truth_summary()))
    rates = {tr["name"]: tr["rate"] for tr in summary["trends"]}
    assert rates == {"degradation": -0.08, "recovery": 0.1}
    regions = json.loads((t / "planted_regions.geojson").read_text())
    assert [f["properties"]["name"] for f in regions["features"]] == ["degradation", "recovery"]
    fushan = demo_aois().redlines.geometry.iloc[0]
    assert fushan.contains(shape(regions["features"][0]["geometry"]))


def test_trend__planted_slopes_are_in_the_loaded_data(
    world: LandsatWorld, loaded: xr.Dataset
) -> None:
    """Growing-season median composites of the clear observations, NDVI per pixel and year.

    Tolerance of a region's slope: 0.002 NDVI/yr (3 % of the planted slope). The noise of a
    pixel's slope is about 0.004/yr (measured on stable forest below), so the mean of ~300
    pixels is within 0.0003 of its expectation; what remains is the bias of the NDVI of noisy
    reflectance (second order in the 0.005 noise, nearly the same every year) and clouds
    removing different days from different years (the scenes sit on the summer plateau, where
    the vegetation's NDVI varies by < 0.01).
    """
    red, nir = loaded["red"].values, loaded["nir"].values
    composite = _season_composites(world, (nir - red) / (nir + red))
    assert np.isfinite(composite).all()
    truth = world.truth_slope_ndvi()
    per_pixel = _slopes(world.years, composite)
    for name in ("degradation", "recovery"):
        m = world.trend_pixels(name)
        series = composite[:, m].mean(axis=1)
        ols = np.polyfit(world.years, series, 1)[0]
        sen = theilslopes(series, world.years)[0]
        assert ols == pytest.approx(truth[m].mean(), abs=0.002)
        assert sen == pytest.approx(truth[m].mean(), abs=0.002)
        assert (np.sign(per_pixel[m]) == np.sign(truth[m])).mean() >= 0.99
    lc, stable = world.landcover(), world.trend_mask() == 0
    land = stable & (lc != LandCover.WATER)  # water's NDVI is noise over a tiny red + nir
    assert abs(per_pixel[land].mean()) < 0.001
    assert per_pixel[land].std() < 0.006
    assert per_pixel[stable & (lc == LandCover.FOREST)].std() < 0.005
    t = loaded["thermal"].values
    lst = _slopes(world.years, _season_composites(world, t))
    for name in ("degradation", "recovery"):
        m = world.trend_pixels(name)
        assert lst[m].mean() == pytest.approx(world.truth_slope_lst()[m].mean(), abs=0.1)


def _rsei(world: LandsatWorld, year: int, land: np.ndarray) -> np.ndarray:
    """RSEI (Xu 2013) of the noise-free season composites, written out here: NDVI, Landsat 8
    tasseled-cap wetness (Baig et al. 2014), LST and NDBSI, min-max normalised, PC1 with
    greenness positive, rescaled to 0..1; ``land`` excludes water."""
    idx = world.scenes_of(year)
    b = {
        k: np.median([world.clear_reflectance(i)[k] for i in idx], axis=0).astype(np.float64)
        for k in SR_KEYS
    }
    blue, green, red, nir, s1, s2 = (b[k] for k in SR_KEYS)
    ndvi = (nir - red) / (nir + red)
    wet = 0.1511 * blue + 0.1973 * green + 0.3283 * red + 0.3407 * nir - 0.7117 * s1 - 0.4559 * s2
    lst = np.median([world.surface_temperature(i) for i in idx], axis=0)
    built = 2 * s1 / (s1 + nir)
    veg = nir / (nir + red) + green / (green + s1)
    si = (s1 + red - nir - blue) / (s1 + red + nir + blue)
    ndbsi = ((built - veg) / (built + veg) + si) / 2
    parts = [c[land] for c in (ndvi, wet, lst, ndbsi)]
    x = np.column_stack([(c - c.min()) / np.ptp(c) for c in parts])
    pc1 = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)[2][0]
    score = x @ (pc1 if pc1[0] > 0 else -pc1)
    out = np.full(land.shape, np.nan)
    out[land] = (score - score.min()) / np.ptp(score)
    return out


def test_truth__rsei_falls_with_degradation_and_rises_with_recovery(world: LandsatWorld) -> None:
    land = world.landcover() != LandCover.WATER
    first, last = _rsei(world, world.years[0], land), _rsei(world, world.years[-1], land)
    d, r = world.trend_pixels("degradation"), world.trend_pixels("recovery")
    assert np.nanmean(last[d] - first[d]) < -0.3 and np.nanmean(last[r] - first[r]) > 0.3
    stable = land & (world.trend_mask() == 0)
    assert np.nanmax(np.abs(last[stable] - first[stable])) < 0.005


# --- counties ---------------------------------------------------------------------------------


def test_counties__committed_file_equals_the_generator() -> None:
    path = ROOT / "aoi" / "demo_counties.geojson"
    assert path.read_text(encoding="utf-8") == demo_counties_text(), (
        "aoi/demo_counties.geojson is stale: run "
        "python -c 'from rs.testing.landsat import write_demo_counties as w; "
        "w(\"aoi/demo_counties.geojson\")'"
    )


def test_counties__tile_the_demo_region_with_an_enclave_and_one_outside(
    world: LandsatWorld,
) -> None:
    import geopandas as gpd

    gdf = gpd.read_file(ROOT / "aoi" / "demo_counties.geojson")
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf["county_id"]) == ["C01", "C02", "C03", "C04", "C05", "C06"]
    assert gdf["name"].is_unique
    utm = gdf.to_crs(32650).set_index("county_id").geometry
    region = demo_aois().region.to_crs(32650).geometry.iloc[0]
    inside = shapely.union_all(utm.loc[["C01", "C02", "C03", "C04", "C05"]].to_numpy())
    assert inside.symmetric_difference(region).area < 100  # m², 1e-7 degree rounding
    for a in utm.index:
        for b in utm.index:
            if a < b:
                assert utm[a].intersection(utm[b]).area < 50
    assert len(utm["C04"].interiors) == 1 and utm["C05"].area < 900  # a sub-pixel enclave
    world_box = shapely.box(*world.grid.bounds)
    for cid in ("C01", "C02", "C03", "C04", "C05"):
        assert world_box.contains(utm[cid])
    part = utm["C06"].intersection(world_box).area / utm["C06"].area
    assert 0.1 < part < 0.5
    cover = world.county_coverage()
    assert (np.count_nonzero(cover["C05"])) == 4
    for cid, frac in cover.items():
        assert frac.min() >= 0 and frac.max() <= 1 + 1e-9
        expected = utm[cid].intersection(world_box).area / 900
        assert frac.sum() == pytest.approx(expected, rel=1e-4)
    total = sum(cover[c] for c in ("C01", "C02", "C03", "C04", "C05"))
    assert total.max() <= 1 + 1e-6


def test_counties__truth_rows_name_the_planted_regions(world: LandsatWorld) -> None:
    rows = {r["county_id"]: r for r in world.county_truth()}
    assert rows["C01"]["degradation_m2"] > 0.8 * 900 * world.trend_pixels("degradation").sum()
    assert rows["C02"]["recovery_m2"] > 0.8 * 900 * world.trend_pixels("recovery").sum()
    for cid in ("C03", "C04", "C05", "C06"):
        assert rows[cid]["degradation_m2"] == rows[cid]["recovery_m2"] == 0
        assert rows[cid]["mean_ndvi_slope"] == 0
    assert rows["C01"]["mean_ndvi_slope"] < 0 < rows["C02"]["mean_ndvi_slope"]
    assert sum(rows["C05"]["class_area_m2"].values()) == pytest.approx(
        rows["C05"]["area_in_world_m2"]
    )
    assert demo_counties()["features"][0]["properties"] == {"county_id": "C01", "name": "Beishan"}


# --- the embedded STAC source -----------------------------------------------------------------


def test_embedded_source__serves_the_world_to_search_and_load(
    world: LandsatWorld, rs_cache: Path
) -> None:
    from rs.pipeline.progress import QuietReporter
    from rs.pipeline.source import open_source
    from rs.pipeline.spec import StacSource
    from rs.sources.stac import search_items

    to_ll = Transformer.from_crs(world.grid.crs, "EPSG:4326", always_xy=True)
    left, bottom, right, top = world.grid.bounds
    west, south = to_ll.transform(left + 600, bottom + 600)
    east, north = to_ll.transform(right - 600, top - 600)
    source = StacSource(embedded=str(world.root), collections=["landsat-c2-l2"])
    with open_source(source, QuietReporter()) as url:
        items = search_items(
            url, "landsat-c2-l2", bbox=(west, south, east, north),
            datetime="2022-06-01/2022-09-30",
        )
    assert [it.id for it in items] == world.item_ids[16:20]
    assert [it.properties["platform"] for it in items] == ["landsat-8", "landsat-9"] * 2
    ds = load_optical(items, ["red", "nir", "thermal"], bbox=(west, south, east, north))
    assert ds.sizes["time"] == 4 and float(ds["thermal"].mean()) > 290
    assert pystac.Item.from_dict(items[0].to_dict()).id == items[0].id
    assert date(2022, 6, 1) <= items[0].datetime.date()  # type: ignore[union-attr]
