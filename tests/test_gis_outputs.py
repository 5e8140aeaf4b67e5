"""Outputs reopened with GDAL/OGR's own command-line tools (``gdalinfo -json``, ``ogrinfo``), as
a GIS user's software sees them, and checked against what rs says about them (the STAC item):
COG layout, CRS, grid, nodata, band descriptions and the RS_* tags of every raster; layer name,
feature count, fields and CRS of every GeoPackage layer and of the zipped Shapefile
(``export: {shapefile: true}``); and QGIS's style conventions (a same-named ``.qml`` beside the
raster, a ``layer_styles`` row with ``useAsDefault`` = 1 in the GeoPackage) with QML naming every
class value.

Needs gdal-bin (``.ci/run`` installs it); without ``gdalinfo`` / ``ogrinfo`` the module skips.
``ogrinfo``'s text report is parsed, not ``-json``: Debian 12's GDAL 3.6 has no ``ogrinfo -json``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from rs.change.typing_model import TYPES
from rs.ecology.rsei import CLASS_NAMES as RSEI_NAMES
from rs.products.trend import CLASS_NAMES as TREND_NAMES
from rs.testing.s5p import S5PConfig, generate_s5p
from rs.testing.world import World
from tests._gdal import (
    _file,
    _items,
    check_rasters,
    check_vectors,
    gdalinfo,
    needs_gdal,
    ogrinfo,
    palette,
    run_tool,
)
from tests._pipelines import run_spec
from tests.conftest import world_bbox

REPO = Path(__file__).resolve().parents[1]

pytestmark = needs_gdal


def _style(out: Path, pattern: str) -> tuple[dict[str, Any], Path]:
    (item,) = [i for i in _items(out).values() if any(
        Path(a["href"]).match(pattern) for a in i["assets"].values())]
    (a,) = [a for a in item["assets"].values() if Path(a["href"]).match(pattern)]
    return a, _file(out / "items" / f"{item['id']}.json", a)


# --- the runs --------------------------------------------------------------------------------


def _zones(world: World, path: Path) -> None:
    g = world.grid
    west = shapely.box(*g.xy(0.0, 1.0), *g.xy(0.5, 0.0))
    east = shapely.box(*g.xy(0.5, 1.0), *g.xy(1.0, 0.0))
    gpd.GeoDataFrame({"name": ["Reserve A", "Reserve B"], "level": ["national", "provincial"],
                      "zone": ["core", "buffer"]}, geometry=[west, east],
                     crs=g.crs).to_crs("EPSG:4326").to_file(path)


@pytest.fixture(scope="module")
def redline_out(small_world: World, tmp_path_factory: pytest.TempPathFactory,
                rs_cache: Path) -> Path:
    """The small Sentinel-2 world (a clearing inside the first dates' year): composites of
    two summers and the red-line change, with zipped Shapefiles on."""
    tmp = tmp_path_factory.mktemp("gis-redline")
    _zones(small_world, tmp / "zones.geojson")
    spec = {
        "name": "gis",
        "aoi": world_bbox(small_world),
        "sources": {"s2": {"embedded": str(small_world.root),
                           "collections": ["sentinel-2-l2a"]}},
        "periods": {"before": {"start": "2021-05-01", "end": "2021-11-30"},
                    "after": {"start": "2022-03-01", "end": "2022-09-30"}},
        "steps": [
            {"id": "composite", "kind": "composite", "quicklook": False, "indices": ["ndvi"],
             "bands": ["blue", "green", "red", "nir", "swir16", "swir22"]},
            {"id": "redline", "kind": "redline-change", "periods": ["after"],
             "before": "composite@before", "after": "composite@after", "scope": "all",
             "protected": str(tmp / "zones.geojson"), "thumbnails": False,
             "model": str(REPO / "models" / "redline_typing.skops")},
        ],
        "export": {"shapefile": True},
        "output": str(tmp / "out"),
        "dask": {"workers": 1, "threads_per_worker": 2},
    }
    run_spec(spec, tmp / "spec.yaml", rs_cache)
    return tmp / "out"


@pytest.fixture(scope="module")
def ecology_out(tmp_path_factory: pytest.TempPathFactory, rs_cache: Path) -> Path:
    """Four Landsat summers of the ecology demo world: RSEI of the last, NDVI trend."""
    tmp = tmp_path_factory.mktemp("gis-ecology")
    seasons = {f"gs{y}": {"start": f"{y}-07-01", "end": f"{y}-09-30"} for y in range(2020, 2024)}
    spec = {
        "name": "gise",
        "aoi": str(REPO / "aoi" / "demo_region.geojson"),
        "sources": {"ls": {"embedded": "ecology-demo", "collections": ["landsat-c2-l2"]}},
        "periods": seasons,
        "steps": [
            {"id": "c", "kind": "composite", "resolution": 30, "quicklook": False,
             "bands": ["blue", "green", "red", "nir", "swir16", "swir22", "thermal"],
             "indices": ["ndvi"]},
            {"id": "r", "kind": "rsei", "composite": "c@gs2023", "periods": ["gs2023"]},
            {"id": "t", "kind": "trend", "series": "c@*", "periods": ["gs2023"]},
        ],
        "output": str(tmp / "out"),
        "dask": {"workers": 1, "threads_per_worker": 2},
    }
    run_spec(spec, tmp / "spec.yaml", rs_cache)
    return tmp / "out"


@pytest.fixture(scope="module")
def s5p_out(tmp_path_factory: pytest.TempPathFactory, rs_cache: Path) -> Path:
    tmp = tmp_path_factory.mktemp("gis-s5p")
    for k in range(2):
        generate_s5p(tmp / "swaths", S5PConfig(
            product="ch4", start=dt.datetime(2021, 6, 1 + k, 5, 0, tzinfo=dt.UTC),
            orbit=18_800 + k, seed=k))
    spec = {
        "name": "gisch4",
        "aoi": "118.0,31.0,119.6,33.0",
        "sources": {"s5p": {"kind": "swaths", "folder": str(tmp / "swaths")}},
        "periods": {"june": {"start": "2021-06-01", "end": "2021-06-30"}},
        "steps": [{"id": "grid", "kind": "s5p-grid", "product": "ch4", "resolution": 0.05}],
        "output": str(tmp / "out"),
    }
    run_spec(spec, tmp / "spec.yaml", rs_cache)
    return tmp / "out"


# --- the checks ------------------------------------------------------------------------------


def test_redline_rasters_and_layers_as_gdal_sees_them(redline_out: Path) -> None:
    # composite, ndvi and clear count of both periods, and the change classes
    assert check_rasters(redline_out) == 7
    assert check_vectors(redline_out) == 1  # the patch layer


def test_redline_patches_style_in_the_geopackage(redline_out: Path) -> None:
    _, gpkg = _style(redline_out, "*_patches.gpkg")
    with sqlite3.connect(gpkg) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML "
                          "FROM layer_styles").fetchall()
    ((table, geom, default, text),) = rows
    assert (table, default) == ("redline_patches", 1)
    assert geom == run_tool("ogrinfo", "-ro", "-so", str(gpkg), "redline_patches").split(
        "Geometry Column = ")[1].split()[0]
    root = ET.fromstring(text.split("\n", 1)[1])
    (renderer,) = root.iter("renderer-v2")
    assert renderer.get("attr") == "type"
    values = {c.get("value") for c in root.iter("category")}
    assert values == {*TYPES, "unclassified"}
    (item,) = [i for i in _items(redline_out).values() if "patches_gpkg" in i["assets"]]
    style = item["assets"]["patches_style"]
    assert "style" in style["roles"] and style["href"].endswith("_patches.qml")
    assert _file(redline_out / "items" / f"{item['id']}.json", style) == gpkg.with_suffix(".qml")


def test_redline_zipped_shapefile_matches_the_geopackage(redline_out: Path) -> None:
    (item,) = [i for i in _items(redline_out).values() if "patches_gpkg" in i["assets"]]
    item_path = redline_out / "items" / f"{item['id']}.json"
    gpkg_asset, shp_asset = item["assets"]["patches_gpkg"], item["assets"]["patches_shp"]
    gpkg, shp = _file(item_path, gpkg_asset), _file(item_path, shp_asset)
    assert shp.name == gpkg.name.replace(".gpkg", ".shp.zip") and shp.exists()
    assert shp_asset["type"] == "application/x-shapefile+zip"
    src = ogrinfo(str(gpkg), "redline_patches")
    got = ogrinfo(f"/vsizip/{shp}/{gpkg.stem}.shp")
    assert got["count"] == src["count"] == gpkg_asset["table:row_count"]
    assert got["epsg"] == src["epsg"]
    mapping = shp_asset["rs:shapefile_fields"]
    assert list(got["fields"]) == [mapping[f] for f in src["fields"]]
    assert all(len(f) <= 10 for f in got["fields"])
    assert src["count"] > 0, "the planted clearing gave no patch"


def test_rsei_and_trend_classes_styled_beside_the_cogs(ecology_out: Path) -> None:
    # composite, ndvi and clear count of 4 summers, rsei and its classes, 3 trend layers
    assert check_rasters(ecology_out) == 17
    for pattern, names in (("*_rsei_class.tif", RSEI_NAMES),
                           ("*_trend_class.tif", {k: v for k, v in TREND_NAMES.items() if k})):
        _, tif = _style(ecology_out, pattern)
        qml = tif.with_suffix(".qml")  # the name QGIS looks for
        assert palette(qml.read_text(encoding="utf-8")) == {
            str(k): v for k, v in names.items()}, pattern
        assert gdalinfo(tif)["bands"][0]["noDataValue"] == 0
        with rasterio.open(tif) as ds:  # every value the raster holds is named, but nodata
            held = {int(v) for v in np.unique(ds.read(1))} - {0}
        assert held and held <= {int(k) for k in names}, pattern


def test_s5p_mean_ramp_beside_the_cog(s5p_out: Path) -> None:
    assert check_rasters(s5p_out) == 2
    _, tif = _style(s5p_out, "*_mean.tif")
    root = ET.fromstring(tif.with_suffix(".qml").read_text(encoding="utf-8").split("\n", 1)[1])
    (shader,) = root.iter("colorrampshader")
    assert (shader.get("minimumValue"), shader.get("maximumValue")) == ("1800.0", "1950.0")
    info = gdalinfo(tif)
    assert info["bands"][0].get("unit") == "ppb"
    (item,) = _items(s5p_out).values()
    assert item["assets"]["mean_style"]["href"].endswith("_mean.qml")
