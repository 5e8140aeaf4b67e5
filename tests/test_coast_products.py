"""Coastline products end to end on the synthetic coast (rs.testing.coast): known shoreline
positions, rates, tide, cloud and reclamation.

One ``rs run`` builds three steps: the shorelines of every scene (tide-corrected DSAS statistics
per transect), the MNDWI composites of 2019 and 2023, and the land gained and lost between them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml

from rs.testing.coast import CoastWorld, generate_coast
from tests._pipelines import run_spec
from tests.test_export_stac import stac_errors

RES = 10.0


@pytest.fixture(scope="module")
def coast(tmp_path_factory: pytest.TempPathFactory) -> tuple[CoastWorld, Path]:
    root = tmp_path_factory.mktemp("coast")
    return generate_coast(root), root


def _spec(root: Path, out: Path, **shore: Any) -> dict[str, Any]:
    c = root / "coast"
    step = {
        "id": "shore", "kind": "shorelines", "resolution": RES, "periods": ["all"],
        "reference": str(c / "reference_shoreline.geojson"),
        "transects": str(c / "transects.geojson"),
        "tides": str(c / "tides.csv"), "slopes": str(c / "slopes.csv"), **shore,
    }
    return {
        "name": "coast",
        "aoi": str(c / "region.geojson"),
        "sources": {"s2": {"embedded": str(root), "collections": ["sentinel-2-l2a"]}},
        "periods": {
            "all": {"start": "2019-01-01", "end": "2023-12-31"},
            "y2019": {"start": "2019-01-01", "end": "2019-12-31"},
            "y2023": {"start": "2023-01-01", "end": "2023-12-31"},
        },
        "steps": [
            step,
            {"id": "comp", "kind": "composite", "bands": ["green", "swir16"],
             # MNDWI at its native 20 m (Sentinel-2 B11): a 10 m grid would smear the SWIR
             # edge of the fill half a pixel outwards
             "indices": ["mndwi"], "resolution": 2 * RES, "quicklook": False,
             "periods": ["y2019", "y2023"]},
            {"id": "land", "kind": "land-change", "before": "comp@y2019", "after": "comp@y2023",
             "periods": ["y2023"]},
            {"id": "gis", "kind": "bundle", "inputs": ["shore@all", "land@y2023"],
             "periods": ["y2023"]},
        ],
        "output": str(out),
    }


@pytest.fixture(scope="module")
def run(coast: tuple[CoastWorld, Path], tmp_path_factory: pytest.TempPathFactory,
        rs_cache: Path) -> Path:
    _, root = coast
    work = tmp_path_factory.mktemp("coast-run")
    run_spec(_spec(root, work / "out"), work / "coast.yaml", rs_cache)
    return work / "out"


def _one(out: Path, pattern: str) -> Path:
    (path,) = out.glob(pattern)
    return path


def test_shorelines__positions_within_a_fifth_of_a_pixel(coast, run):
    world, _ = coast
    pos = pd.read_parquet(_one(run, "coast_shore_*_positions.parquet"))
    when = {t: i for i, t in enumerate(pd.DatetimeIndex(world.times))}
    s_of = dict(zip(world.transects()["id"], world.config.transect_s, strict=True))
    pos = pos[~pos["transect_id"].map(lambda t: world.in_reclamation(s_of[t]))]
    truth = [world.position(when[d], s_of[t]) for d, t in zip(pos["date"], pos["transect_id"],
                                                             strict=True)]
    err = pos["chainage"].to_numpy() - np.asarray(truth)
    ok = np.isfinite(err)
    assert ok.sum() > 0.85 * len(err)  # a few positions under cloud have none
    rmse = float(np.sqrt(np.mean(err[ok] ** 2)))
    assert rmse <= 0.2 * RES, rmse


def test_shorelines__tide_corrected_rates_within_5_percent(coast, run):
    world, _ = coast
    stats = gpd.read_file(_one(run, "coast_shore_*_transects.gpkg")).set_index("id")
    for tid, s in zip(world.transects()["id"], world.config.transect_s, strict=True):
        if world.in_reclamation(s):
            assert stats.loc[tid, "lrr"] > 0  # the fill moves the shoreline seaward
            continue
        truth = world.rate(s)
        assert stats.loc[tid, "lrr"] == pytest.approx(truth, rel=0.05), tid
        assert stats.loc[tid, "nsm"] < 0 and stats.loc[tid, "sce"] > 0
    # without the tide correction the scatter is larger: the correction matters
    pos = pd.read_parquet(_one(run, "coast_shore_*_positions.parquet"))
    assert (pos["chainage_corrected"] - pos["chainage"]).abs().max() > 5


def test_shorelines__clouded_scene_dropped_and_cloud_segments_counted(coast, run):
    world, _ = coast
    scenes = pd.read_csv(_one(run, "coast_shore_*_scenes.csv"))
    dropped = scenes[scenes["status"] == "dropped"]
    assert len(dropped) == len(world.config.overcast)
    assert dropped["reason"].str.contains("masked").all()
    lines = gpd.read_file(_one(run, "coast_shore_*_shorelines.gpkg"))
    assert len(lines) == len(world.times) - len(world.config.overcast)
    cloudy = {world.times[i].date() for i in world.config.cloudy_coast}
    counted = lines[pd.to_datetime(lines["date"]).dt.date.isin(cloudy)]["cloud_segments"]
    assert len(counted) == len(cloudy) and (counted > 0).all()
    item = json.loads(_one(run, "items/coast-shore-all*.json").read_text())
    assert stac_errors(item) == []
    assert item["properties"]["rs:dropped_scenes"][0]["reason"] == dropped["reason"].iloc[0]


def test_land_change__reclamation_area_and_flag(coast, run):
    world, _ = coast
    years = [t.year for t in world.times]
    before = [i for i, y in enumerate(years) if y == 2019 and i not in world.config.overcast]
    after = [i for i, y in enumerate(years) if y == 2023 and i not in world.config.overcast]
    truth = world.land_change_truth(before, after)
    patches = gpd.read_file(_one(run, "coast_land_*_land_patches.gpkg"))
    flagged = patches[patches["probable_reclamation"]]
    assert len(flagged) == 1 and (flagged["change"] == "gain").all()
    assert flagged.geometry.iloc[0].intersects(world.reclamation_polygon())
    assert flagged["area_m2"].iloc[0] == pytest.approx(truth["reclamation_m2"], rel=0.05)
    loss = patches.loc[patches["change"] == "loss", "area_m2"].sum()
    assert loss == pytest.approx(truth["erosion_m2"], rel=0.15)
    assert not patches.loc[patches["change"] == "loss", "probable_reclamation"].any()


def test_shorelines__missing_reference_names_the_option(tmp_path, coast, rs_cli: Callable):
    _, root = coast
    spec = _spec(root, tmp_path / "out")
    del spec["steps"][0]["reference"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    done = rs_cli("run", str(path))
    assert done.returncode == 2
    assert "'reference'" in done.stdout + done.stderr


def test_demo_coast_files_match_the_generator(tmp_path):
    """aoi/demo_coast (used by pipelines/coast.yaml) is what the generator writes."""
    CoastWorld().write_site_files(tmp_path)
    repo = Path(__file__).resolve().parents[1] / "aoi" / "demo_coast"
    names = sorted(p.name for p in repo.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir() if p.name != "truth.json")
    for name in names:
        assert (repo / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_coast_pipeline_dry_run(rs_cli: Callable):
    spec = Path(__file__).resolve().parents[1] / "pipelines" / "coast.yaml"
    done = rs_cli("run", str(spec), "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("shorelines", "water", "land"):
        assert step in done.stdout


def test_shorelines__transects_cast_from_a_baseline(coast, tmp_path, rs_cli: Callable):
    """A baseline 300 m landward gives shore-normal transects every 200 m; rates as planted;
    WLR with a positional uncertainty equals LRR for equal weights."""
    world, root = coast
    s = np.array([-700.0, 700.0])
    xs, ys = world.to_map(s, np.full(2, -300.0))
    base = gpd.GeoDataFrame(geometry=[__import__("shapely").LineString(zip(xs, ys, strict=True))],
                            crs=world.config.grid.crs).to_crs("EPSG:4326")  # reprojected by rs
    base.to_file(tmp_path / "baseline.geojson", driver="GeoJSON")
    spec = _spec(root, tmp_path / "out", baseline=str(tmp_path / "baseline.geojson"),
                 transect_spacing=200.0, transect_length=600.0, seaward="right",
                 slopes=world.config.slope, uncertainty_m=3.0)
    del spec["steps"][0]["transects"]
    spec["steps"] = spec["steps"][:1]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    done = rs_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    stats = gpd.read_file(_one(tmp_path / "out", "coast_shore_*_transects.gpkg"))
    assert len(stats) == 8  # 0, 200, ..., 1400 m along a 1,400 m baseline
    along = stats["baseline_distance"].to_numpy() - 700.0  # the world's along-shore s
    for row, s_k in zip(stats.itertuples(), along, strict=True):
        if world.in_reclamation(s_k) or abs(s_k) > 900:
            continue
        assert row.lrr == pytest.approx(world.rate(s_k), rel=0.05), row.id
        assert row.wlr == pytest.approx(row.lrr, rel=1e-9)


def test_bundle__one_geopackage_with_a_layer_per_table(run):
    import pyogrio

    path = _one(run, "coast_gis_*_bundle.gpkg")
    layers = dict(pyogrio.list_layers(path))
    want = {
        "shore_all_20190101_20231231_shorelines": "MultiLineString",
        "shore_all_20190101_20231231_transects": "LineString",
        "shore_all_20190101_20231231_positions": None,
        "land_y2023_20230101_20231231_land_patches": "Polygon",
        "land_y2023_20230101_20231231_land_areas": None,
    }
    for name, kind in want.items():
        assert layers.get(name, "missing") == kind, (name, layers)
    same = pd.read_parquet(_one(run, "coast_shore_*_positions.parquet"))
    back = pyogrio.read_dataframe(path, layer="shore_all_20190101_20231231_positions")
    assert len(back) == len(same)
    np.testing.assert_allclose(back["chainage"], same["chainage"])


def test_outputs_as_gdal_and_ogr_see_them(run):
    """Every COG and GeoPackage layer (shorelines, land change, the bundle) reopened with
    gdalinfo / ogrinfo matches its STAC asset (tests/_gdal.py)."""
    from tests._gdal import check_outputs

    assert check_outputs(run) >= 4
