"""rs.testing: the seeded synthetic Sentinel-2 world and its ground truth."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
import shapely

from rs.errors import SourceError, SpecError
from rs.testing import (
    DEFAULT_GRID,
    NOISE_SIGMA,
    LandCover,
    VegetationLoss,
    World,
    WorldConfig,
    decode_dn,
    default_events,
    demo_aois,
    generate_world,
    load_world,
)
from rs.testing.clouds import shadow_offset_cells

SMALL = WorldConfig(seed=7, width=128, height=128, n_dates=6, cloudiness=0.3)
TINY = WorldConfig(seed=3, width=64, height=64, n_dates=3, cloudiness=0.4)
BANDS10 = ("blue", "green", "red", "nir")
BANDS20 = ("swir16", "swir22")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return generate_world(tmp_path_factory.mktemp("world"), SMALL)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def _ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    return (nir - red) / (nir + red)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in {".tif", ".geojson"}
    }


# --- determinism and caching ------------------------------------------------------------------


def test_generate_world__same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = generate_world(tmp_path / "a", TINY)
    b = generate_world(tmp_path / "b", TINY)
    fa, fb = _files(a.root), _files(b.root)
    assert len(fa) == TINY.n_dates * 7 + 3  # 7 bands per scene; events, mask, land cover
    assert fa == fb
    for i in range(TINY.n_dates):
        ja = a.item_path(i).read_text().replace(a.root.as_uri(), "ROOT")
        jb = b.item_path(i).read_text().replace(b.root.as_uri(), "ROOT")
        assert ja == jb


def test_generate_world__different_seed_differs(tmp_path: Path) -> None:
    a = World(tmp_path, TINY)
    b = World(tmp_path, replace(TINY, seed=TINY.seed + 1))
    assert not np.array_equal(a.landcover(0), b.landcover(0))
    assert not np.array_equal(a.observed_reflectance(0)["nir"], b.observed_reflectance(0)["nir"])
    again = World(tmp_path, TINY)
    np.testing.assert_array_equal(
        a.observed_reflectance(1)["red"], again.observed_reflectance(1)["red"]
    )


def test_generate_world__cache_returns_without_rewriting(tmp_path: Path) -> None:
    first = generate_world(tmp_path, TINY)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    again = generate_world(tmp_path, TINY)
    assert again.config == TINY
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == stamps
    # a different configuration in the same root is rebuilt
    other = replace(TINY, seed=99)
    generate_world(tmp_path, other)
    assert json.loads((tmp_path / "world.json").read_text())["config"]["seed"] == 99
    assert first.band_path(0, "nir").stat().st_mtime_ns != stamps[first.band_path(0, "nir")]


def test_load_world__reads_back_config(world: World, tmp_path: Path) -> None:
    loaded = load_world(world.root)
    assert loaded.config == SMALL
    assert loaded.item_ids == world.item_ids
    with pytest.raises(SourceError, match="generate_world"):
        load_world(tmp_path / "nothing-here")


def test_world_config__round_trips_through_dict() -> None:
    ev = default_events(DEFAULT_GRID, date(2021, 5, 1), date(2022, 9, 30))
    cfg = WorldConfig(seed=5, events=ev)
    back = WorldConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    assert WorldConfig.from_dict(WorldConfig().to_dict()).events is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"width": 127},
        {"height": 32},
        {"n_dates": 0},
        {"cloudiness": 1.5},
        {"end_date": date(2020, 1, 1)},
        {"crs": "EPSG:4326"},
    ],
)
def test_world_config__rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(SpecError):
        WorldConfig(**kwargs)  # type: ignore[arg-type]


# --- files: COGs and items --------------------------------------------------------------------


def test_generate_world__writes_valid_cogs(world: World) -> None:
    paths = [
        world.band_path(i, k) for i in (0, world.n_dates - 1) for k in (*BANDS10, *BANDS20, "scl")
    ]
    for path in paths:
        with rasterio.open(path) as ds:
            assert ds.driver == "GTiff"
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert ds.block_shapes == [(512, 512)]  # tiled: blocks wider than the 128 px image
            assert ds.overviews(1), f"{path} has no internal overviews"
            assert ds.nodata == 0
            assert ds.compression is not None and ds.compression.name == "deflate"
            assert ds.crs.to_epsg() == 32650
            res = 20 if path.stem in (*BANDS20, "scl") else 10
            assert ds.res == (res, res)
            assert ds.dtypes[0] == ("uint8" if path.stem == "scl" else "uint16")
            assert ds.shape == (SMALL.height * 10 // res, SMALL.width * 10 // res)


def test_generate_world__items_follow_contract(world: World) -> None:
    baselines = set()
    for i, path in enumerate(world.item_paths()):
        raw = json.loads(path.read_text())
        item = pystac.Item.from_file(str(path))
        assert item.id == world.item_ids[i] == path.stem
        assert item.id.startswith(("S2A_50SPA_", "S2B_50SPA_")) and item.id.endswith("_0_L2A")
        assert item.collection_id == "sentinel-2-l2a"
        assert item.datetime is not None and item.datetime.utcoffset() is not None
        assert item.datetime.date() == world.datetimes[i].date()
        p = item.properties
        assert p["platform"] in {"sentinel-2a", "sentinel-2b"}
        assert p["constellation"] == "sentinel-2"
        assert p["proj:code"] == "EPSG:32650"
        expected_bl = "04.00" if item.datetime.date() >= date(2022, 1, 25) else "03.01"
        assert p["s2:processing_baseline"] == expected_bl
        baselines.add(expected_bl)
        assert 0.0 <= p["eo:cloud_cover"] <= 100.0
        assert set(item.assets) == {*BANDS10, *BANDS20, "scl"}
        footprint = shapely.geometry.shape(item.geometry)
        assert footprint.contains(world.grid.to_lonlat(shapely.box(*world.grid.bounds).centroid))
        for key, asset in item.assets.items():
            a = raw["assets"][key]
            assert a["href"].startswith("file://")
            local = Path(a["href"].removeprefix("file://"))
            assert local.is_file() and local == world.band_path(i, key)
            assert a["type"] == pystac.MediaType.COG
            assert "data" in a["roles"]
            assert a["eo:bands"][0]["name"]
            if key != "scl":
                assert a["eo:bands"][0]["common_name"] == key
            rb = a["raster:bands"][0]
            assert "offset" not in rb
            assert rb["nodata"] == 0
            assert rb["data_type"] == ("uint8" if key == "scl" else "uint16")
            assert ("scale" in rb) == (key != "scl")
            if key != "scl":
                assert rb["scale"] == 0.0001
            with rasterio.open(local) as ds:
                assert rb["spatial_resolution"] == ds.res[0]
                assert a["proj:code"] == "EPSG:32650"
                assert a["proj:shape"] == [ds.height, ds.width]
                assert a["proj:transform"] == list(ds.transform)[:6]
            assert asset.href == a["href"]
    assert baselines == {"03.01", "04.00"}


# --- encoding and truth -----------------------------------------------------------------------


def test_decode_dn__round_trips_observed_reflectance(world: World) -> None:
    for i in range(world.n_dates):
        bl = world.processing_baseline(i)
        observed = world.observed_reflectance(i)
        for band in (*BANDS10, *BANDS20):
            got = decode_dn(_read(world.band_path(i, band)), bl)
            want = observed[band]
            ok = (want > 0.0001) & (want < 5.0)
            assert ok.mean() > 0.95
            np.testing.assert_allclose(got[ok], want[ok], atol=0.5e-4 + 1e-6)


def test_decode_dn__clear_pixels_equal_truth_plus_noise(world: World) -> None:
    for i in range(world.n_dates):
        bl = world.processing_baseline(i)
        for band in (*BANDS10, *BANDS20):
            res = 20 if band in BANDS20 else 10
            clear = ~world.cloud_mask(i, res) & ~world.shadow_mask(i, res)
            assert clear.sum() > 100
            got = decode_dn(_read(world.band_path(i, band)), bl)
            truth = world.clear_reflectance(i, resolution=res)[band]
            diff = (got - truth)[clear & (truth > 0.03)]
            assert abs(float(diff.mean())) < 0.0006, (i, band, bl)
            assert 0.8 * NOISE_SIGMA < float(diff.std()) < 1.2 * NOISE_SIGMA
            assert float(np.abs(diff).max()) < 7 * NOISE_SIGMA


def test_scl__marks_exactly_the_planted_masks(world: World) -> None:
    n_cloud = n_shadow = 0
    for i in range(world.n_dates):
        scl = _read(world.band_path(i, "scl"))
        np.testing.assert_array_equal(scl, world.scl(i))
        cloud20, shadow20 = world.cloud_mask(i, 20), world.shadow_mask(i, 20)
        np.testing.assert_array_equal(np.isin(scl, (8, 9, 10)), cloud20)
        np.testing.assert_array_equal(scl == 3, shadow20)
        np.testing.assert_array_equal(scl == 10, world.cirrus_mask(i, 20))
        np.testing.assert_array_equal(world.cloud_mask(i), np.kron(cloud20, np.ones((2, 2), bool)))
        assert set(np.unique(scl)) <= {3, 4, 5, 6, 8, 9, 10}
        n_cloud += int(cloud20.sum())
        n_shadow += int(shadow20.sum())
    assert n_cloud > 0 and n_shadow > 0


def test_scl__clear_land_classes_follow_landcover(world: World) -> None:
    i = 2  # midsummer-ish date of SMALL
    scl = world.scl(i)
    lc20 = world.landcover(i)[::2, ::2]
    clear = ~world.cloud_mask(i, 20) & ~world.shadow_mask(i, 20)
    assert (scl[clear & (lc20 == LandCover.FOREST)] == 4).mean() > 0.9
    assert (scl[clear & (lc20 == LandCover.BUILT_UP)] == 5).mean() > 0.8
    assert (scl[clear & (lc20 == LandCover.WATER)] == 6).mean() > 0.8


def test_cloud_mask__shadows_fall_north_west_of_clouds(world: World) -> None:
    drow, dcol = shadow_offset_cells(20.0)
    assert drow < 0 and dcol < 0
    for i in range(world.n_dates):
        rows, cols = np.nonzero(world.shadow_mask(i, 20))
        cloud = world.clouds(i).cloud20
        assert cloud[rows - drow, cols - dcol].all()


def test_cloud_cover__equals_scl_cloud_fraction(world: World) -> None:
    covers = []
    for i, path in enumerate(world.item_paths()):
        cover = json.loads(path.read_text())["properties"]["eo:cloud_cover"]
        scl = _read(world.band_path(i, "scl"))
        assert cover == pytest.approx(100 * np.isin(scl, (8, 9, 10)).mean(), abs=1e-3)
        covers.append(cover)
    assert max(covers) > 5.0


def test_clear_reflectance__classes_have_realistic_spectra(world: World) -> None:
    i = 2
    r = world.clear_reflectance(i)
    lc = world.landcover(i)
    assert set(np.unique(lc)) == set(LandCover)
    water, forest = lc == LandCover.WATER, lc == LandCover.FOREST
    built, bare = lc == LandCover.BUILT_UP, lc == LandCover.BARE_SOIL
    assert float(np.median(r["nir"][water])) < 0.04
    assert 0.3 < float(np.median(r["nir"][forest])) < 0.45
    assert 0.02 < float(np.median(r["red"][forest])) < 0.05
    assert float(np.median(r["swir16"][built])) > float(np.median(r["nir"][built]))
    assert float(np.median(_ndvi(r["red"], r["nir"])[bare])) < 0.2
    # cropland has a stronger seasonal cycle than forest
    crop = lc == LandCover.CROPLAND
    nd = np.array(
        [
            [np.median(_ndvi(c["red"], c["nir"])[m]) for m in (crop, forest)]
            for c in (world.clear_reflectance(j) for j in range(world.n_dates))
        ]
    )
    amplitude = nd.max(axis=0) - nd.min(axis=0)
    assert amplitude[0] > 2 * amplitude[1] > 0


# --- planted events -----------------------------------------------------------------------------


def test_vegetation_loss__truth_files(world: World) -> None:
    gdf = gpd.read_file(world.root / "truth" / "events.geojson")
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert {"event_type", "start_date", "area_m2", "geometry"} <= set(gdf.columns)
    assert list(gdf["event_type"]) == ["vegetation_loss"] * len(world.events) and len(gdf) == 2
    with rasterio.open(world.root / "truth" / "vegetation_loss.tif") as ds:
        mask = ds.read(1)
        assert ds.dtypes[0] == "uint8" and ds.shape == (SMALL.height, SMALL.width)
        assert ds.transform == world.grid.transform()
    assert set(np.unique(mask)) == {0, 1}
    assert gdf["area_m2"].sum() == pytest.approx(mask.sum() * 100.0)
    # the vector outline and the raster agree
    area_utm = gdf.to_crs(32650).area.sum()
    assert area_utm == pytest.approx(mask.sum() * 100.0, rel=1e-3)


def test_vegetation_loss__ndvi_drops_after_event_and_not_before(world: World) -> None:
    assert len(world.events) == 2
    outside = np.ones(world.grid.shape(), bool)
    for ev in world.events:
        assert isinstance(ev, VegetationLoss)
        m = ev.mask(world.grid)
        outside &= ~m
        assert m.sum() > 20
        before: list[float] = []
        after: list[float] = []
        for i, t in enumerate(world.datetimes):
            r = world.clear_reflectance(i)
            ndvi = float(_ndvi(r["red"], r["nir"])[m].mean())
            (after if t.date() >= ev.start_date else before).append(ndvi)
            want = ev.to_class if t.date() >= ev.start_date else ev.from_class
            assert (world.landcover(i)[m] == want).all()
        assert before and after
        assert max(after) < min(before) - 0.05
        assert max(after) < 0.2
        # the same signal is in the files, on pixels the clouds leave clear
        for i, t in enumerate(world.datetimes):
            clear = m & ~world.cloud_mask(i) & ~world.shadow_mask(i)
            if clear.sum() < 10:
                continue
            bl = world.processing_baseline(i)
            red = decode_dn(_read(world.band_path(i, "red")), bl)
            nir = decode_dn(_read(world.band_path(i, "nir")), bl)
            ndvi = float(_ndvi(red, nir)[clear].mean())
            if t.date() >= ev.start_date:
                assert ndvi < 0.2
            elif ev.from_class == LandCover.FOREST:
                assert ndvi > 0.6
    # nothing else changes class over time
    lc0 = world.landcover(0)
    for i in range(1, world.n_dates):
        np.testing.assert_array_equal(world.landcover(i)[outside], lc0[outside])


def test_default_events__inside_and_outside_red_lines() -> None:
    grid = DEFAULT_GRID
    events = default_events(grid, date(2021, 5, 1), date(2022, 9, 30))
    aois = demo_aois()
    red = aois.redlines
    region = aois.region.geometry.iloc[0]
    inside, outside = (ev.truth(grid).rows[0]["geometry"] for ev in events)
    assert any(red[red["kind"] == "red_line"].geometry.contains(inside))
    assert not any(red.geometry.intersects(outside))
    assert region.contains(inside) and region.contains(outside)
    assert all(date(2021, 5, 1) < ev.start_date < date(2022, 9, 30) for ev in events)
