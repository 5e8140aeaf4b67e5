"""pipelines/ecology.yaml end to end on the synthetic Landsat world, against its planted truth.

The world (rs.testing.landsat) plants a forest degradation (NDVI -0.058/yr) and a grassland
recovery (+0.063/yr) in 2018-2023 and keeps everything else stable; the counties' exact pixel
coverage and truth are known (``county_coverage``, ``county_truth``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import yaml

from rs.testing.landsat import LandsatWorld, load_landsat_world
from tests._pipelines import run_spec
from tests.test_export_stac import stac_errors

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ecology(tmp_path_factory: pytest.TempPathFactory, rs_cache: Path) -> tuple[Path, LandsatWorld]:
    spec = yaml.safe_load((REPO / "pipelines" / "ecology.yaml").read_text(encoding="utf-8"))
    work = tmp_path_factory.mktemp("ecology")
    spec["output"] = str(work / "out")
    spec["aoi"] = str(REPO / "aoi" / "demo_region.geojson")
    for step in spec["steps"]:
        for key in ("zones", "landcover", "table"):
            if key in step:
                step[key] = str((REPO / "pipelines" / step[key]).resolve())
    run_spec(spec, work / "ecology.yaml", rs_cache)
    return work / "out", load_landsat_world(rs_cache / "landsat-world")


def _one(out: Path, pattern: str) -> Path:
    (path,) = out.glob(pattern)
    return path


def _read(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """The raster and its (row, col) offset in the world grid (outputs sit on it)."""
    with rasterio.open(path) as ds:
        data, t = ds.read(1), ds.transform
    return data, (round((3552015.0 - t.f) / 30), round((t.c - 659985.0) / 30))


def _crop(a: np.ndarray, off: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    return a[off[0]:off[0] + shape[0], off[1]:off[1] + shape[1]]


def test_trend__planted_signs_and_false_alarms(ecology):
    out, world = ecology
    cls, off = _read(_one(out, "ecology_trend_ndvi_*_trend_class.tif"))
    slope, _ = _read(_one(out, "ecology_trend_ndvi_*_trend_slope.tif"))
    mask = _crop(world.trend_mask(), off, cls.shape)
    truth = _crop(world.truth_slope_ndvi(), off, cls.shape)
    planted = mask != 0
    assert planted.sum() > 600
    assert (np.sign(slope[planted]) == mask[planted]).mean() >= 0.95
    assert (cls[mask == -1] == 1).mean() >= 0.95 and (cls[mask == 1] == 3).mean() >= 0.95
    assert np.median(np.abs(slope[planted] - truth[planted])) < 0.005
    land = _crop(world.landcover(), off, cls.shape) != 1  # water NDVI is noise
    stable = (mask == 0) & land & (cls > 0)
    rate = float(((cls == 1) | (cls == 3))[stable].mean())
    print(f"stable pixels flagged significant: {rate:.4f} (alpha 0.05, n = 6 years)")
    # Mann-Kendall with n = 6 is discrete: its real size is below alpha; never far above it
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / stable.sum())


def test_trend__per_county_against_truth(ecology):
    out, world = ecology
    zones = pd.read_csv(_one(out, "ecology_trend_ndvi_*_trend_zones.csv")).set_index("county_id")
    truth = {c["county_id"]: c for c in world.county_truth()}
    for cid in ("C01", "C02"):
        assert zones.loc[cid, "slope"] == pytest.approx(truth[cid]["mean_ndvi_slope"], rel=0.1)
    assert zones.loc["C01", "trend"] == "significant degradation"
    assert zones.loc["C02", "trend"] == "significant improvement"
    assert zones.loc["C03", "trend"] == "stable" and abs(zones.loc["C03", "slope"]) < 1e-3


def test_zonal__county_means_equal_exact_coverage(ecology):
    out, world = ecology
    table = pd.read_csv(_one(out, "ecology_zonal_ndvi_gs2023-*_zonal.csv")).set_index("county_id")
    ndvi, off = _read(_one(out, "ecology_season_gs2023-*_ndvi.tif"))
    # Landsat pixel edges sit at 15 m past multiples of 30 m: the composite is anchored there
    season = json.loads(_one(out, "items/ecology-season-gs2023-*.json").read_text())
    assert season["properties"]["rs:grid"] == (
        "output grid on the source grid (anchor x=0.5, y=0.5 of a pixel)")
    coverage = world.county_coverage()  # exact shapely fractions on the world grid
    for cid, frac in coverage.items():
        f = _crop(frac, off, ndvi.shape)
        ok = np.isfinite(ndvi) & (f > 0)
        if not ok.any():
            continue
        want = float((ndvi[ok] * f[ok]).sum() / f[ok].sum())
        assert table.loc[cid, "mean"] == pytest.approx(want, rel=1e-4), cid


def test_rsei__degradation_and_recovery(ecology):
    out, world = ecology
    first, off = _read(_one(out, "ecology_rsei_gs2018-*_rsei.tif"))
    last, _ = _read(_one(out, "ecology_rsei_gs2023-*_rsei.tif"))
    mask = _crop(world.trend_mask(), off, first.shape)
    assert np.nanmean(last[mask == -1]) - np.nanmean(first[mask == -1]) < -0.2
    assert np.nanmean(last[mask == 1]) - np.nanmean(first[mask == 1]) > 0.2
    item = json.loads(_one(out, "items/ecology-rsei-gs2023-*.json").read_text())
    assert stac_errors(item) == []
    load = item["properties"]["rs:rsei"]["pc1_loadings"]
    assert load["greenness"] > 0 and load["heat"] < 0 and load["dryness"] < 0
    pca = pd.read_csv(_one(out, "ecology_rsei_gs2023-*_rsei_pca.csv"))
    assert pca["explained_variance_ratio"].sum() == pytest.approx(1.0)
    areas = pd.read_csv(_one(out, "ecology_rsei_gs2023-*_rsei_zones.csv"))
    assert {"area_m2_poor", "area_m2_excellent"} <= set(areas.columns)


def test_eqi__change_follows_the_planted_trends(ecology):
    out, _ = ecology
    change = pd.read_csv(_one(out, "ecology_eqi_change_*_eqi_change.csv")).set_index("county_id")
    assert change.loc["C01", "delta_eqi"] < -0.1  # the degradation lies in C01
    assert change.loc["C02", "delta_eqi"] > 0.1  # the recovery in C02
    assert abs(change.loc["C03", "delta_eqi"]) < 0.05
    eqi = pd.read_csv(_one(out, "ecology_eqi_gs2023-*_eqi.csv")).set_index("county_id")
    assert eqi["eqi"].notna().all() and len(eqi) == 6  # C05 is smaller than one pixel
    assert eqi["eqi_class"].between(1, 5).all()


def test_bundle__layers_for_every_table(ecology):
    out, _ = ecology
    names = [n for n, _ in pyogrio.list_layers(_one(out, "ecology_gis_*_bundle.gpkg"))]
    for word in ("zonal", "rsei", "eqi", "trend"):
        assert any(word in n for n in names), word


def test_rsei__refuses_a_composite_without_thermal(tmp_path, rs_cli):
    spec = {
        "name": "nothermal",
        "aoi": str(REPO / "aoi" / "demo_region.geojson"),
        "sources": {"ls": {"embedded": "ecology-demo", "collections": ["landsat-c2-l2"]}},
        "periods": {"gs": {"start": "2023-07-01", "end": "2023-09-30"}},
        "steps": [
            {"id": "c", "kind": "composite", "resolution": 30, "quicklook": False,
             "bands": ["blue", "green", "red", "nir", "swir16", "swir22"], "indices": ["ndvi"]},
            {"id": "r", "kind": "rsei", "composite": "c"},
        ],
        "output": str(tmp_path / "out"),
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    done = rs_cli("run", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "thermal" in done.stdout + done.stderr and "three-component" in done.stdout + done.stderr


def test_demo_landcover_is_the_worlds(ecology):
    """aoi/demo_landcover.tif (used by pipelines/ecology.yaml) is the world's land cover."""
    _, world = ecology
    with rasterio.open(REPO / "aoi" / "demo_landcover.tif") as ds:
        assert ds.crs.to_string() == "EPSG:32650"
        assert tuple(ds.transform)[:6] == (30.0, 0.0, 659985.0, 0.0, -30.0, 3552015.0)
        np.testing.assert_array_equal(ds.read(1), world.landcover())


def _season_spec(tmp_path: Path, on_empty: str) -> Path:
    periods = {f"gs{y}": {"start": f"{y}-07-01", "end": f"{y}-09-30"} for y in range(2017, 2024)}
    spec = {
        "name": "gaps",
        "aoi": str(REPO / "aoi" / "demo_region.geojson"),
        "sources": {"ls": {"embedded": "ecology-demo", "collections": ["landsat-c2-l2"]}},
        "periods": periods,  # the world starts in 2018: gs2017 has no scene at all
        "steps": [
            {"id": "c", "kind": "composite", "resolution": 30, "quicklook": False,
             "bands": ["red", "nir"], "indices": ["ndvi"]},
            {"id": "single", "kind": "difference", "before": "c@gs2017", "after": "c@gs2023",
             "periods": ["gs2023"]},
            {"id": "t", "kind": "trend", "series": "c@*", "periods": ["gs2023"]},
        ],
        "on_empty_period": on_empty,
        "output": str(tmp_path / "out"),
    }
    path = tmp_path / f"{on_empty}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_empty_period__recorded_and_the_run_goes_on(tmp_path, rs_cli, ecology):
    done = rs_cli("run", str(_season_spec(tmp_path, "skip")))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out" / "reports" / "gaps-latest.json").read_text())
    status = {s["item_id"]: (s["status"], s["reason"]) for s in report["steps"]}
    assert status["gaps-c-gs2017-20170701-20170930"][0] == "empty"
    assert "no scenes" in status["gaps-c-gs2017-20170701-20170930"][1]
    assert status["gaps-single-gs2023-20230701-20230930"][0] == "skipped"
    assert status["gaps-t-gs2023-20230701-20230930"][0] == "built"  # six seasons are enough
    item = json.loads(_one(tmp_path / "out", "items/gaps-t-*.json").read_text())
    assert len(item["properties"]["rs:trend"]["periods"]) == 6
    # the default stops at the empty season with exit code 2, naming it
    (tmp_path / "f").mkdir()
    failed = rs_cli("run", str(_season_spec(tmp_path / "f", "fail")))
    assert failed.returncode == 2 and "2017" in failed.stdout + failed.stderr


def test_outputs_as_gdal_and_ogr_see_them(ecology):
    """Every COG and GeoPackage layer (composites, RSEI, trend, zonal, EQI) reopened with
    gdalinfo / ogrinfo matches its STAC asset (tests/_gdal.py)."""
    from tests._gdal import check_outputs

    out, _ = ecology
    assert check_outputs(out) >= 8
