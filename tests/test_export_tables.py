"""Export of tables (CSV + Parquet) and vector layers (GeoPackage + GeoParquet)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
from shapely.geometry import MultiPolygon, box

from rs.export.tables import write_table
from rs.export.vectors import write_vector

CRS = "EPSG:32650"
PATCH_SCHEMA = {"patch_id": "int", "kind": "str", "area_m2": "float", "detected": "date"}


def _zonal() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "county": ["南京市", "Jiangning", "Pukou"],
            "pixels": [1200, 0, 875],
            "ndvi_mean": [0.61234567890123, float("nan"), -0.05],
        }
    )


def test_write_table__csv_and_parquet_round_trip(tmp_path: Path) -> None:
    df = _zonal()
    assets = write_table(
        df, tmp_path, "zonal", key="zonal", title="NDVI by county",
        descriptions={"ndvi_mean": "mean NDVI of clear pixels"},
    )  # fmt: skip
    by_key = {a.key: a for a in assets}
    assert set(by_key) == {"zonal_csv", "zonal_parquet"}
    csv, parquet = by_key["zonal_csv"], by_key["zonal_parquet"]
    assert csv.path == tmp_path / "zonal.csv" and csv.media_type == "text/csv"
    assert parquet.media_type == "application/vnd.apache.parquet"
    pd.testing.assert_frame_equal(pd.read_csv(csv.path, encoding="utf-8"), df)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet.path), df)
    text = csv.path.read_bytes().decode("utf-8")
    assert text.splitlines()[0] == "county,pixels,ndvi_mean", "no index column"
    assert "南京市" in text
    schema = pq.read_schema(parquet.path)
    for a in assets:
        cols = a.extra["table:columns"]
        assert [c["name"] for c in cols] == schema.names
        assert [c["type"] for c in cols] == [str(t) for t in schema.types]
        assert cols[2]["description"] == "mean NDVI of clear pixels"
        assert "description" not in cols[0]
        assert a.extra["table:row_count"] == pq.read_metadata(parquet.path).num_rows == 3
        assert a.extra["file:size"] == a.path.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zonal.csv", "zonal.parquet"]


def test_write_table__named_index_becomes_a_column(tmp_path: Path) -> None:
    df = _zonal().set_index("county")
    (a,) = write_table(df, tmp_path, "z", key="z", formats=("parquet",))
    back = pd.read_parquet(a.path)
    assert list(back.columns) == ["county", "pixels", "ndvi_mean"]
    assert back["county"].tolist() == ["南京市", "Jiangning", "Pukou"]


def test_write_table__bad_format_and_unknown_description_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="xlsx"):
        write_table(_zonal(), tmp_path, "z", key="z", formats=("csv", "xlsx"))
    with pytest.raises(ValueError, match="ndwi_mean"):
        write_table(_zonal(), tmp_path, "z", key="z", descriptions={"ndwi_mean": "x"})
    assert list(tmp_path.iterdir()) == []


def _patches() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "patch_id": [1, 2, 3],
            "kind": ["construction", "mining", "road"],
            "area_m2": [1200.0, 350.5, 80.25],
            "detected": [dt.date(2022, 5, 1), dt.date(2022, 6, 12), dt.date(2022, 9, 30)],
        },
        geometry=[box(0, 0, 30, 40), box(100, 100, 110, 135.05), box(200, 0, 201, 80.25)],
        crs=CRS,
    )


def test_write_vector__gpkg_schema_and_geoparquet_round_trip(tmp_path: Path) -> None:
    gdf = _patches()
    assets = write_vector(
        gdf, tmp_path, "change", key="patches", layer="change_patches",
        schema=PATCH_SCHEMA, geometry_type="Polygon", title="change patches",
    )  # fmt: skip
    by_key = {a.key: a for a in assets}
    gpkg, gpq = by_key["patches_gpkg"], by_key["patches_parquet"]
    assert gpkg.media_type == "application/geopackage+sqlite3"
    assert gpq.media_type == "application/vnd.apache.parquet"
    assert pyogrio.list_layers(gpkg.path).tolist() == [["change_patches", "Polygon"]]
    info = pyogrio.read_info(gpkg.path, layer="change_patches")
    assert dict(zip(info["fields"], info["dtypes"], strict=True)) == {
        "patch_id": "int64",
        "kind": "object",
        "area_m2": "float64",
        "detected": "datetime64[D]",
    }
    assert info["features"] == 3 and info["crs"] == CRS
    back = pyogrio.read_dataframe(gpkg.path, layer="change_patches")
    assert back["kind"].tolist() == gdf["kind"].tolist()
    assert back.geometry.geom_equals(gdf.geometry).all()

    gp = gpd.read_parquet(gpq.path)
    assert gp.crs == gdf.crs
    assert gp.geometry.geom_equals(gdf.geometry).all()
    for col in PATCH_SCHEMA:
        assert gp[col].tolist() == gdf[col].tolist(), col
    arrow = pq.read_schema(gpq.path)
    assert str(arrow.field("patch_id").type) == "int64"
    assert str(arrow.field("detected").type) == "date32[day]"
    for a in assets:
        assert a.extra["proj:code"] == CRS
        assert a.extra["table:row_count"] == 3
        assert a.extra["table:primary_geometry"] == "geometry"
        types = {c["name"]: c["type"] for c in a.extra["table:columns"]}
        assert types == {
            "patch_id": "int64",
            "kind": "string",
            "area_m2": "double",
            "detected": "date32[day]",
            "geometry": "geometry",
        }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["change.gpkg", "change.parquet"]


def test_write_vector__empty_frame_makes_a_typed_layer(tmp_path: Path) -> None:
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=CRS))
    gpkg, gpq = write_vector(
        empty, tmp_path, "change", key="patches", layer="change_patches",
        schema=PATCH_SCHEMA, geometry_type="MultiPolygon",
    )  # fmt: skip
    info = pyogrio.read_info(gpkg.path, layer="change_patches")
    assert info["features"] == 0
    assert info["geometry_type"] == "MultiPolygon"
    assert info["crs"] == CRS
    assert dict(zip(info["fields"], info["dtypes"], strict=True)) == {
        "patch_id": "int64",
        "kind": "object",
        "area_m2": "float64",
        "detected": "datetime64[D]",
    }
    back = gpd.read_parquet(gpq.path)
    assert len(back) == 0 and back.crs == CRS
    assert list(back.columns) == [*PATCH_SCHEMA, "geometry"]
    arrow = pq.read_schema(gpq.path)
    assert str(arrow.field("area_m2").type) == "double"
    assert gpkg.extra["table:row_count"] == 0


def test_write_vector__singles_promoted_to_multi(tmp_path: Path) -> None:
    gdf = _patches()
    gdf.loc[0, "geometry"] = MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)])
    gpkg, _ = write_vector(
        gdf, tmp_path, "c", key="c", layer="c", schema=PATCH_SCHEMA, geometry_type="MultiPolygon"
    )
    back = pyogrio.read_dataframe(gpkg.path)
    assert set(back.geom_type) == {"MultiPolygon"}
    assert back.geometry.area.round(2).tolist() == gdf.geometry.area.round(2).tolist()


def test_write_vector__columns_outside_schema_refused(tmp_path: Path) -> None:
    gdf = _patches().assign(score=0.5, note="x")
    with pytest.raises(ValueError, match="columns not in the schema: score, note"):
        write_vector(gdf, tmp_path, "c", key="c", layer="c", schema=PATCH_SCHEMA)
    with pytest.raises(ValueError, match="holds Point"):
        write_vector(
            _patches().set_geometry(_patches().centroid), tmp_path, "c", key="c", layer="c",
            schema=PATCH_SCHEMA, geometry_type="Polygon",
        )  # fmt: skip
    with pytest.raises(ValueError, match="no CRS"):
        write_vector(_patches().set_crs(None, allow_override=True), tmp_path, "c", key="c",
                     layer="c")  # fmt: skip
    with pytest.raises(ValueError, match="'kind' cannot be written as type int64"):
        write_vector(_patches(), tmp_path, "c", key="c", layer="c",
                     schema={**PATCH_SCHEMA, "kind": "int"})  # fmt: skip
    assert list(tmp_path.iterdir()) == []
