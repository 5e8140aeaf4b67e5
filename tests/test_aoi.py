"""Tests for rs.aoi: every input kind becomes valid, named polygons in EPSG:4326."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, mapping

from rs.aoi import Aoi, AoiWarning, load_aoi, looks_like_bbox, split_antimeridian
from rs.errors import AoiError

GEOD = Geod(ellps="WGS84")
BOWTIE = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
DATELINE_RING = [(179.0, 10.0), (-179.0, 10.0), (-179.0, 20.0), (179.0, 20.0), (179.0, 10.0)]


def _write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _feature(geom, **props) -> dict:
    return {"type": "Feature", "geometry": None if geom is None else mapping(geom),
            "properties": props}


def _geodesic_area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def _assert_normalised(gdf: gpd.GeoDataFrame) -> None:
    assert CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326))
    assert gdf.columns[0] == "name"
    assert gdf["name"].is_unique
    assert gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert gdf.is_valid.all()


def test_load_aoi__geojson_file(tmp_path):
    path = _write_geojson(tmp_path / "reserves.geojson", [
        _feature(box(118.6, 31.9, 118.9, 32.2), name="Laoshan", code=1),
        _feature(box(119.0, 32.0, 119.2, 32.1), name="Zijinshan", code=2),
    ])
    gdf = load_aoi(path)
    _assert_normalised(gdf)
    assert list(gdf["name"]) == ["Laoshan", "Zijinshan"]
    assert list(gdf["code"]) == [1, 2]
    np.testing.assert_allclose(gdf.total_bounds, [118.6, 31.9, 119.2, 32.2])
    # str path and exterior rings counter-clockwise (RFC 7946)
    assert load_aoi(str(path)).geometry[0].exterior.is_ccw


def test_load_aoi__geopackage_layer(tmp_path):
    path = tmp_path / "regions.gpkg"
    reserves = gpd.GeoDataFrame({"NAME": ["A", "B"]},
                                geometry=[box(0, 0, 1, 1), box(2, 2, 3, 3)], crs=4326)
    counties = gpd.GeoDataFrame({"county": ["X"]}, geometry=[box(5, 5, 6, 6)], crs=4326)
    reserves.to_file(path, layer="reserves", engine="pyogrio")
    counties.to_file(path, layer="counties", engine="pyogrio")

    gdf = load_aoi(path, layer="reserves")
    _assert_normalised(gdf)
    assert list(gdf["name"]) == ["A", "B"]
    assert "NAME" not in gdf.columns  # no case-clash with `name` when written to GeoPackage
    c = load_aoi(path, layer="counties", name_field="county")
    assert list(c["name"]) == ["X"] and "county" not in c.columns

    with pytest.raises(AoiError, match=r"several layers.*layer="):
        load_aoi(path)
    with pytest.raises(AoiError, match=r"no layer 'lakes'.*reserves"):
        load_aoi(path, layer="lakes")


def test_load_aoi__shapefile_projected_reprojected(tmp_path):
    x0, y0, x1, y1 = 660000.0, 3546880.0, 665120.0, 3552000.0
    src = gpd.GeoDataFrame({"id": [7]}, geometry=[box(x0, y0, x1, y1)], crs=32650)
    path = tmp_path / "demo.shp"
    src.to_file(path, engine="pyogrio")

    gdf = load_aoi(path)
    _assert_normalised(gdf)
    assert list(gdf["name"]) == ["demo_1"]
    to_lonlat = Transformer.from_crs(32650, 4326, always_xy=True)
    vertices = np.asarray(gdf.geometry[0].exterior.coords)
    for corner in [(x0, y0), (x0, y1), (x1, y0), (x1, y1)]:
        lon, lat = to_lonlat.transform(*corner)
        assert np.min(np.hypot(vertices[:, 0] - lon, vertices[:, 1] - lat)) < 1e-9
    lon_ul, lat_ul = to_lonlat.transform(x0, y1)
    assert 118.6 < lon_ul < 118.8 and 32.0 < lat_ul < 32.1  # near Nanjing


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_load_aoi__shapefile_without_crs_refused(tmp_path):
    path = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]).to_file(path, engine="pyogrio")
    with pytest.raises(AoiError, match="has no CRS; set one"):
        load_aoi(path)


def test_load_aoi__geojson_mapping_string_and_geometry():
    geom = box(10, 20, 11, 21)
    for source in (mapping(geom), json.dumps(mapping(geom)),
                   {"type": "Feature", "geometry": mapping(geom), "properties": {"Name": "f"}},
                   geom):
        gdf = load_aoi(source)
        _assert_normalised(gdf)
        assert gdf.geometry[0].equals(geom)
    assert load_aoi(geom)["name"].tolist() == ["aoi_1"]
    feature = {"type": "Feature", "geometry": mapping(geom), "properties": {"Name": "f"}}
    assert load_aoi(feature)["name"].tolist() == ["f"]
    with pytest.raises(AoiError, match="not valid GeoJSON"):
        load_aoi('{"type": "Polygon", ')


def test_load_aoi__bbox_string():
    gdf = load_aoi("118.6, 31.9, 118.9, 32.2")
    _assert_normalised(gdf)
    assert gdf["name"].tolist() == ["bbox_1"]
    np.testing.assert_allclose(gdf.total_bounds, [118.6, 31.9, 118.9, 32.2])
    assert gdf.geometry[0].equals(box(118.6, 31.9, 118.9, 32.2))
    assert load_aoi((1, 2, 3, 4)).geometry[0].equals(box(1, 2, 3, 4))


@pytest.mark.parametrize("text, message", [
    ("1,2,3", "has 3 values"),
    ("1,2,3,x", "'x' is not a number"),
    ("1,5,3,4", "need miny < maxy"),
    ("3,2,3,4", "need minx != maxx"),
    ("500000,3000000,600000,3100000", "within -180..180"),
    ("0,-91,1,0", "within -180..180"),
    ("0,nan,1,2", "not finite"),
    ("118.8,32.0,118.7,32.2", "swapped"),
    ("10,0,-10,1", "swapped"),
])
def test_load_aoi__bbox_string_refused(text, message):
    with pytest.raises(AoiError, match=message) as info:
        load_aoi(text)
    assert "looks like a bbox" in str(info.value)
    assert "4 numbers 'minx,miny,maxx,maxy' in lon/lat" in str(info.value)


@pytest.mark.parametrize("text", ["118.7,32.0,118.8", "118.7,32.0,118.8,abc",
                                  "118.7, 32.0, 118.8, 32.1, 5"])
def test_load_aoi__malformed_bbox_is_not_taken_for_a_file(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AoiError) as info:
        load_aoi(text)
    message = str(info.value)
    assert "looks like a bbox" in message and "4 numbers" in message
    assert "AOI file" not in message
    # the same text made absolute (as a spec resolves relative paths) is still read as a bbox
    with pytest.raises(AoiError, match="looks like a bbox, not a file"):
        load_aoi(str(tmp_path / text))


@pytest.mark.parametrize("text, expected", [
    ("118.6,31.9,118.9,32.2", True),
    ("118.7,32.0,118.8", True),
    ("118.7,32.0,118.8,abc", True),
    ("118.7, 32.0, 118.8, 32.1, 9", True),
    ("1,2", False),
    ("1,2,3,4,5,6", False),
    ("a,b,c,1", False),
    ("aoi/118.7,32.0,118.8,32.1", False),
    ("C:\\aoi\\1,2,3,4", False),
    ("field,2022,v2.geojson", False),
    ("region.geojson", False),
])
def test_looks_like_bbox__numbers_versus_paths(text, expected):
    assert looks_like_bbox(text) is expected


def test_load_aoi__bbox_antimeridian_split():
    aoi = Aoi.load("170,-10,-170,10")
    geom = aoi.gdf.geometry[0]
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 2
    bounds = sorted(p.bounds for p in geom.geoms)
    assert bounds == [(-180.0, -10.0, -170.0, 10.0), (170.0, -10.0, 180.0, 10.0)]
    assert aoi.crosses_antimeridian
    assert aoi.bbox == (170.0, -10.0, -170.0, 10.0)
    assert aoi.bounds == (-180.0, -10.0, 180.0, 10.0)
    assert aoi.utm_crs().to_epsg() == 32601  # centroid on the dateline, zone 1 (north)


def test_load_aoi__antimeridian_file_split(tmp_path):
    path = _write_geojson(tmp_path / "pacific.geojson",
                          [_feature(Polygon(DATELINE_RING), name="fiji")])
    gdf = load_aoi(path)
    _assert_normalised(gdf)
    geom = gdf.geometry[0]
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 2
    west, east = sorted(geom.geoms, key=lambda p: p.bounds[0])
    assert west.bounds == (-180.0, 10.0, -179.0, 20.0)
    assert east.bounds == (179.0, 10.0, 180.0, 20.0)
    # equal-area check: geodesic area of the unsplit (continuous, 179..181) ring is preserved
    continuous = Polygon([(x % 360, y) for x, y in DATELINE_RING])
    expected = _geodesic_area(shapely.segmentize(continuous, 0.1))
    got = _geodesic_area(shapely.segmentize(geom, 0.1))
    assert got == pytest.approx(expected, rel=1e-6)
    assert got == pytest.approx(2 * _geodesic_area(shapely.segmentize(east, 0.1)), rel=1e-6)


def test_load_aoi__antimeridian_pole_refused():
    crossing_twice = Polygon([(-170, 80), (170, 80), (170, 85), (-170, 85)])
    assert len(split_antimeridian(crossing_twice).geoms) == 2
    around_pole = Polygon([(lon, 80) for lon in (-150, -90, -30, 30, 90, 150)])  # one jump
    with pytest.raises(AoiError, match="encloses a pole"):
        load_aoi(around_pole)


def test_split_antimeridian__non_crossing_unchanged():
    geom = box(100, 0, 120, 10)
    assert split_antimeridian(geom).equals(geom)


def test_load_aoi__bowtie_repaired():
    with pytest.warns(AoiWarning, match=r"polygon 'aoi_1' \(Self-intersection.*\) was invalid "
                      "and repaired") as record:
        gdf = load_aoi(BOWTIE)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    geom = gdf.geometry[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    assert geom.area == pytest.approx(0.5)  # two triangles of 0.25 deg² each


def test_load_aoi__bowtie_refused_without_repair(tmp_path):
    path = _write_geojson(tmp_path / "bowtie.geojson", [_feature(BOWTIE, name="bow")])
    with pytest.raises(AoiError, match=r"'bow' is not a valid polygon: Self-intersection"):
        load_aoi(path, repair=False)


def test_load_aoi__empty_file(tmp_path):
    with pytest.raises(AoiError, match="no features"):
        load_aoi(_write_geojson(tmp_path / "empty.geojson", []))
    (tmp_path / "zero.geojson").write_bytes(b"")
    with pytest.raises(AoiError, match="empty"):
        load_aoi(tmp_path / "zero.geojson")


def test_load_aoi__missing_file(tmp_path):
    with pytest.raises(AoiError, match="does not exist"):
        load_aoi(tmp_path / "nope.geojson")


def test_load_aoi__unreadable_file(tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("this is not GeoJSON at all")
    with pytest.raises(AoiError, match="Cannot read"):
        load_aoi(path)


def test_load_aoi__points_and_lines_refused(tmp_path):
    path = _write_geojson(tmp_path / "sites.geojson", [
        _feature(box(0, 0, 1, 1), name="a"), _feature(Point(1, 1), name="p"),
        _feature(LineString([(0, 0), (1, 1)]), name="l"),
    ])
    with pytest.raises(AoiError, match=r"non-polygon geometries \(LineString, Point\).*buffer"):
        load_aoi(path)


def test_load_aoi__null_geometries_dropped(tmp_path):
    path = _write_geojson(tmp_path / "gaps.geojson",
                          [_feature(None, name="x"), _feature(box(0, 0, 1, 1), name="y")])
    with pytest.warns(AoiWarning, match="dropped 1 null/empty"):
        gdf = load_aoi(path)
    assert gdf["name"].tolist() == ["y"]
    only_null = _write_geojson(tmp_path / "nulls.geojson", [_feature(None)])
    with pytest.raises(AoiError, match="null or empty"):
        load_aoi(only_null)


def test_load_aoi__projected_coordinates_in_4326_refused(tmp_path):
    path = _write_geojson(tmp_path / "utm.geojson",
                          [_feature(box(660000, 3546880, 665120, 3552000), name="oops")])
    with pytest.raises(AoiError, match="looks like projected metres: set the CRS"):
        load_aoi(path)
    with pytest.raises(AoiError, match=r"0\.\.360"):
        load_aoi(box(170, 0, 190, 10))


def test_load_aoi__projected_gdf_and_no_crs_gdf():
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(660000, 3546880, 665120, 3552000)],
                           crs=32650)
    out = load_aoi(gdf)
    assert 118.6 < out.total_bounds[0] < 118.8
    with pytest.raises(AoiError, match="no CRS"):
        load_aoi(gdf.set_crs(None, allow_override=True))


def test_load_aoi__name_column_rules(tmp_path):
    geoms = [box(i, 0, i + 1, 1) for i in range(5)]
    path = _write_geojson(tmp_path / "fields.geojson", [
        _feature(g, label=lab, Name=nm)
        for g, lab, nm in zip(geoms, ["a", "b", "c", "d", "e"], ["x", "x", None, "x_2", " "],
                              strict=True)
    ])
    # Name column; blanks -> stem + row number; duplicates suffixed without reusing "x_2"
    assert load_aoi(path)["name"].tolist() == ["x", "x_3", "fields_3", "x_2", "fields_5"]
    assert load_aoi(path, name_field="label")["name"].tolist() == ["a", "b", "c", "d", "e"]
    with pytest.raises(AoiError, match=r"no column 'nom'.*'label'"):
        load_aoi(path, name_field="nom")
    plain = _write_geojson(tmp_path / "plain.geojson", [_feature(g) for g in geoms[:2]])
    assert load_aoi(plain)["name"].tolist() == ["plain_1", "plain_2"]


def test_aoi__union_bbox_utm():
    aoi = Aoi.load("118.6,31.9,118.9,32.2")
    assert aoi.union.equals(box(118.6, 31.9, 118.9, 32.2))
    assert aoi.bbox == pytest.approx((118.6, 31.9, 118.9, 32.2))
    assert not aoi.crosses_antimeridian
    assert aoi.utm_crs() == CRS.from_epsg(32650)
    assert Aoi.load("-70,-34,-69,-33").utm_crs().to_epsg() == 32719
    with pytest.raises(AoiError, match="polar CRS"):
        Aoi.load("0,85,10,89").utm_crs()
    with pytest.raises(AoiError, match="EPSG:4326"):
        Aoi(gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 1, 1)], crs=32650))


_lon = st.floats(-180, 180, allow_nan=False)
_lat = st.floats(-90, 90, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(x=st.tuples(_lon, _lon), y=st.tuples(_lat, _lat))
def test_load_aoi__bbox_round_trips(x, y):
    (minx, maxx), (miny, maxy) = x, sorted(y)
    widths = [maxx - minx] if minx <= maxx else [180 - minx, maxx + 180]
    if maxy - miny < 1e-6 or min(widths) < 1e-6:
        return  # refused or (nearly) zero-area; covered by test_load_aoi__bbox_string_refused
    if minx > maxx and not (minx > 0 > maxx and maxx + 360 - minx < 180):
        with pytest.raises(AoiError, match="swapped"):  # not a plausible antimeridian box
            Aoi.load(f"{minx!r},{miny!r},{maxx!r},{maxy!r}")
        return
    aoi = Aoi.load(f"{minx!r},{miny!r},{maxx!r},{maxy!r}")
    _assert_normalised(aoi.gdf)
    assert aoi.bbox == (minx, miny, maxx, maxy)
    assert aoi.crosses_antimeridian == (minx > maxx)


def test_looks_like_bbox__one_recogniser_shared_with_rs_bbox():
    import rs._bbox

    assert looks_like_bbox is rs._bbox.looks_like_bbox
    # numbers given as strings or numbers are read alike (one number test for both)
    assert load_aoi([" 1", "2 ", 3, 4.0]).geometry[0].equals(box(1, 2, 3, 4))
    with pytest.raises(AoiError, match="'x' is not a number"):
        load_aoi([1, 2, 3, "x"])
