"""QGIS styles (rs.export.styles) and the zipped Shapefile (rs.export.vectors): the QML names
every class of the products' own class tables, the GeoPackage carries QGIS's layer_styles row,
and the Shapefile holds the GeoPackage's rows under a documented field-name mapping."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from rs.change.typing_model import TYPES
from rs.ecology.rsei import CLASS_NAMES as RSEI_NAMES
from rs.export.styles import (
    REDLINE_TYPES,
    RSEI_CLASSES,
    TREND_CLASSES,
    qml,
    s5p_ramp,
    write_raster_style,
)
from rs.export.vectors import (
    shapefile_assets,
    shapefile_fields,
    typed_for_writing,
    write_shapefile_zip,
    write_vector,
)
from rs.pipeline.spec import PipelineSpec
from rs.products.trend import CLASS_NAMES as TREND_NAMES
from tests._gdal import palette


def test_raster_class_styles_name_every_class_of_the_products() -> None:
    assert palette(qml(RSEI_CLASSES)) == {str(k): v for k, v in RSEI_NAMES.items()}
    assert palette(qml(TREND_CLASSES)) == {str(k): v for k, v in TREND_NAMES.items() if k}
    root = ET.fromstring(qml(RSEI_CLASSES).split("\n", 1)[1])
    (r,) = root.iter("rasterrenderer")
    assert (r.get("type"), r.get("band")) == ("paletted", "1")


def test_s5p_ramps_span_the_products_units() -> None:
    no2, ch4 = s5p_ramp("no2"), s5p_ramp("ch4")
    assert (no2.unit, no2.stops[0][0], no2.stops[-1][0]) == ("molecules cm-2", 0.0, 1.2e16)
    assert (ch4.unit, ch4.stops[0][0], ch4.stops[-1][0]) == ("ppb", 1800.0, 1950.0)
    assert s5p_ramp("ch4_blended") == ch4
    root = ET.fromstring(qml(ch4).split("\n", 1)[1])
    (shader,) = root.iter("colorrampshader")
    assert (shader.get("minimumValue"), shader.get("maximumValue")) == ("1800.0", "1950.0")
    assert [float(i.get("value", "")) for i in shader.iter("item")] == [
        1800.0, 1837.5, 1875.0, 1912.5, 1950.0]
    with pytest.raises(ValueError, match="no colour ramp"):
        s5p_ramp("o3")


def test_raster_style_is_the_same_named_qml(tmp_path: Path) -> None:
    tif = tmp_path / "x_rsei_class.tif"
    asset = write_raster_style(tif, "rsei_class", RSEI_CLASSES)
    assert asset.path == tmp_path / "x_rsei_class.qml" and asset.key == "rsei_class_style"
    assert "style" in asset.roles and asset.extra["file:size"] == asset.path.stat().st_size


def _patches() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"type": ["mining", "road", "unclassified"], "reserve": ["保护区 A", "B", "C"],
         "thumbnail_before": ["a.png", "b.png", ""], "thumbnail_after": ["c.png", "", ""],
         "verified": [True, False, True],
         "seen": pd.to_datetime(["2022-01-01", "2022-02-01", "2022-03-01"], utc=True),
         "area_m2": [2500.0, 3000.5, 4100.25]},
        geometry=[shapely.box(0, 0, 50, 50), shapely.box(100, 0, 160, 50),
                  shapely.box(0, 100, 70, 170)], crs="EPSG:32650")
    return frame


def test_vector_style_in_layer_styles_and_beside(tmp_path: Path) -> None:
    typed, schema = typed_for_writing(_patches())
    assets = write_vector(typed, tmp_path, "p", key="patches", layer="redline_patches",
                          schema=schema, geometry_type="MultiPolygon", style=REDLINE_TYPES)
    by_key = {a.key: a for a in assets}
    assert set(by_key) == {"patches_gpkg", "patches_parquet", "patches_style"}
    gpkg = tmp_path / "p.gpkg"
    assert by_key["patches_gpkg"].extra["file:size"] == gpkg.stat().st_size  # written before
    with sqlite3.connect(gpkg) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, styleName, useAsDefault, "
                          "styleQML, styleSLD FROM layer_styles").fetchall()
        kind = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = "
                          "'layer_styles'").fetchone()
    assert kind == ("attributes",)  # registered as QGIS's own table is
    ((table, geom, name, default, text, sld),) = rows
    assert (table, geom, name, default) == ("redline_patches", "geom", "redline_patches", 1)
    root = ET.fromstring(text.split("\n", 1)[1])
    (renderer,) = root.iter("renderer-v2")
    assert (renderer.get("type"), renderer.get("attr")) == ("categorizedSymbol", "type")
    assert {c.get("value") for c in root.iter("category")} == {*TYPES, "unclassified"}
    assert ET.fromstring(sld).tag.endswith("StyledLayerDescriptor")
    assert (tmp_path / "p.qml").read_text(encoding="utf-8") == text


def test_shapefile_field_names_known_mapping() -> None:
    assert shapefile_fields(["type", "thumbnail_before", "thumbnail_after", "abcdefghij",
                             "abcdefghijk"]) == {
        "type": "type", "thumbnail_before": "thumbnail_", "thumbnail_after": "thumbnai_1",
        "abcdefghij": "abcdefghij", "abcdefghijk": "abcdefgh_1"}


def test_zipped_shapefile_holds_the_geopackage(tmp_path: Path) -> None:
    typed, schema = typed_for_writing(_patches())
    assets = write_vector(typed, tmp_path, "p", key="patches", layer="redline_patches",
                          schema=schema, geometry_type="MultiPolygon", style=REDLINE_TYPES)
    (shp,) = shapefile_assets(assets)
    assert shp.key == "patches_shp" and shp.path == tmp_path / "p.shp.zip"
    mapping = shp.extra["rs:shapefile_fields"]
    assert mapping["thumbnail_before"] == "thumbnail_"
    with zipfile.ZipFile(shp.path) as zf:
        names = set(zf.namelist())
        assert {f"p.{e}" for e in ("shp", "shx", "dbf", "prj", "cpg", "qml")} <= names
        assert zf.read("p.cpg").decode().strip() == "UTF-8"
        assert zf.read("p.fields.csv").decode().splitlines()[3] == "thumbnail_before,thumbnail_"
    back = pyogrio.read_dataframe(f"/vsizip/{shp.path}/p.shp")
    gpkg = pyogrio.read_dataframe(tmp_path / "p.gpkg", layer="redline_patches")
    assert back.crs == gpkg.crs and len(back) == len(gpkg) == 3
    assert list(back.columns) == [mapping[c] for c in gpkg.columns if c != "geometry"] + [
        "geometry"]
    assert list(back["reserve"]) == ["保护区 A", "B", "C"]  # UTF-8 through the .cpg
    assert list(back["verified"]) == [1, 0, 1]
    assert list(back["seen"]) == ["2022-01-01T00:00:00+00:00", "2022-02-01T00:00:00+00:00",
                                  "2022-03-01T00:00:00+00:00"]
    assert list(back["area_m2"]) == [2500.0, 3000.5, 4100.25]
    assert back.geometry.area.tolist() == gpkg.geometry.area.tolist()


def test_shapefile_zip_of_a_layer_without_style(tmp_path: Path) -> None:
    typed, schema = typed_for_writing(_patches()[["type", "geometry"]])
    write_vector(typed, tmp_path, "q", key="k", layer="l", schema=schema)
    asset = write_shapefile_zip(tmp_path / "q.gpkg", "l", "k")
    with zipfile.ZipFile(asset.path) as zf:
        assert not any(n.endswith(".qml") for n in zf.namelist())
    first = asset.path.read_bytes()
    assert write_shapefile_zip(tmp_path / "q.gpkg", "l", "k").path.read_bytes() == first


def test_pipeline_export_option() -> None:
    source = {"embedded": "demo", "collections": ["sentinel-2-l2a"]}
    base = {"name": "x", "aoi": "0,0,1,1", "sources": {"s": source},
            "periods": {"p": {"start": "2021-01-01", "end": "2021-02-01"}},
            "steps": [{"id": "c", "kind": "composite", "bands": ["red"]}], "output": "out"}
    assert PipelineSpec.model_validate(base).export.shapefile is False
    spec = PipelineSpec.model_validate({**base, "export": {"shapefile": True}})
    assert spec.export.shapefile is True
    with pytest.raises(ValueError, match="shapfile"):
        PipelineSpec.model_validate({**base, "export": {"shapfile": True}})
