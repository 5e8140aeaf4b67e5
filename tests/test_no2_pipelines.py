"""pipelines/no2.yaml and pipelines/validation.yaml end to end on the synthetic NO2 month
(rs.testing.no2_demo: three hotspots of known amplitude; 40 stations whose surface NO2 is
a + b x column / 1e15 + noise with a = 6, b = 4.5 µg/m³)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

from rs.testing.no2_demo import generate_no2_demo
from tests._pipelines import run_spec

REPO = Path(__file__).resolve().parents[1]


def _run(name: str, tmp: Path, rs_cache: Path, models_dir: Path | None = None) -> Path:
    spec = yaml.safe_load((REPO / "pipelines" / f"{name}.yaml").read_text(encoding="utf-8"))
    spec["aoi"] = str(REPO / "aoi" / "demo_region.geojson")
    spec["output"] = str(tmp / "out")
    for step in spec["steps"]:
        if "zones" in step:
            step["zones"] = str((REPO / "pipelines" / step["zones"]).resolve())
        if models_dir is not None and "calibration" in step:
            step["calibration"]["models_dir"] = str(models_dir)
    run_spec(spec, tmp / f"{name}.yaml", rs_cache)
    return tmp / "out"


def _one(out: Path, pattern: str) -> Path:
    (path,) = out.glob(pattern)
    return path


@pytest.fixture(scope="module")
def no2(tmp_path_factory: pytest.TempPathFactory, rs_cache: Path) -> Path:
    return _run("no2", tmp_path_factory.mktemp("no2"), rs_cache)


def test_no2__every_planted_hotspot_is_hot(no2, rs_cache):
    demo = generate_no2_demo(rs_cache / "no2-demo")
    with rasterio.open(_one(no2, "no2_hotspots_*_hotspot_class.tif")) as ds:
        cls = ds.read(1)
        for h in demo.hotspots:
            row, col = ds.index(h.hotspot.lon, h.hotspot.lat)
            assert cls[row, col] == 3, h.name  # 3 = hot (Gi*, FDR)
        far = ds.index(119.35, 31.55)  # a corner far from every hotspot
        assert cls[far] != 3
    hot = gpd.read_file(_one(no2, "no2_hotspots_*_hotspots.gpkg"))
    assert 1 <= len(hot) <= 3 and (hot["max_z"] > 3).all()


def test_no2__city_means_against_the_truth_field(no2, rs_cache):
    demo = generate_no2_demo(rs_cache / "no2-demo")
    table = pd.read_csv(_one(no2, "no2_cities_*_zonal.csv")).set_index("name")
    cities = gpd.read_file(REPO / "aoi" / "demo_cities.geojson").set_index("name")
    for name, geom in cities.geometry.items():
        west, south, east, north = geom.bounds
        lon, lat = np.meshgrid(np.linspace(west, east, 60), np.linspace(south, north, 60))
        inside = np.array([geom.contains(gpd.points_from_xy([x], [y])[0])
                           for x, y in zip(lon.ravel(), lat.ravel(), strict=True)])
        truth = float(demo.column(lon.ravel()[inside], lat.ravel()[inside]).mean())
        # footprint smoothing and noise: within 10 % of the polygon's mean truth column
        assert table.loc[name, "mean"] == pytest.approx(truth, rel=0.10), name
    ranked = table.loc[["Nanjing", "Yizheng chemical industry park", "Ma'anshan steel works"]]
    assert list(ranked["mean"]) == sorted(ranked["mean"], reverse=True)


def test_demo_cities_are_the_generators(rs_cache):
    demo = generate_no2_demo(rs_cache / "no2-demo")
    assert (REPO / "aoi" / "demo_cities.geojson").read_bytes() == demo.cities.read_bytes()


def test_validation__relation_recovered_and_report(tmp_path, rs_cache):
    from rs.stations.report import external_references

    out = _run("validation", tmp_path, rs_cache, models_dir=tmp_path / "models")
    stats = pd.read_csv(_one(out, "validation_validation_*_statistics.csv"))
    overall = stats[stats["level"] == "overall"].iloc[0]
    assert overall["n"] == 40 and overall["r"] > 0.9
    # estimate (column) on reference (surface): the reduced-major-axis slope is 1e15 / b
    b = 1e15 / overall["rma_slope"]
    print(f"recovered b = {b:.3f} (planted 4.5), r = {overall['r']:.3f}")
    assert b == pytest.approx(4.5, rel=0.10)
    matchups = gpd.read_file(_one(out, "validation_validation_*_matchups.gpkg"))
    assert len(matchups) == 40 and matchups["usable"].astype(bool).all()
    html = _one(out, "validation_validation_*_report.html").read_text(encoding="utf-8")
    assert external_references(html) == [] and html.count("<img") >= 3
    # the calibration: cross-validated by station, the kept model saved with skops + card
    cv = pd.read_csv(_one(out, "validation_validation_*_calibration_cv.csv"))
    pooled = cv[cv["fold"].astype(str) == "pooled"].set_index("model")
    print("cross-validated R2:", pooled["r2"].round(3).to_dict())
    assert pooled.loc["linear", "r2"] > 0.8
    assert (cv.loc[cv["fold"].astype(str) != "pooled", "shared_stations"] == 0).all()
    from tests._gdal import check_outputs

    assert check_outputs(out) >= 2  # the NO2 grids and the matchups layer, as GDAL/OGR see them
    from rs.stations.modelcard import load_model

    model, card = load_model(_one(out, "validation_validation_*_model.skops"))
    assert card == json.loads(_one(out, "validation_validation_*_model.card.json").read_text())
    assert hasattr(model, "predict")
    kept = sorted(p.name for p in (tmp_path / "models").iterdir())  # the copy in models_dir
    assert [n for n in kept if n.endswith(".skops")] and any(n.endswith(".card.md") for n in kept)


def test_no2__outputs_as_gdal_and_ogr_see_them(no2):
    """Every COG and GeoPackage layer (gridded NO2, Gi* hotspots, city means) reopened with
    gdalinfo / ogrinfo matches its STAC asset (tests/_gdal.py)."""
    from tests._gdal import check_outputs

    assert check_outputs(no2) >= 4
