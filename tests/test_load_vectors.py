"""rs.load.vectors: the geometry layer of a file that also holds QGIS's layer_styles table."""

from __future__ import annotations

import warnings

import geopandas as gpd
import pytest
import shapely

from rs.errors import SpecError
from rs.export.styles import REDLINE_TYPES, write_gpkg_style
from rs.load.vectors import geometry_layers, read_vector


def _frame(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"patch_id": list(range(n))},
                            geometry=[shapely.box(i, 0, i + 1, 1) for i in range(n)],
                            crs="EPSG:32650")


def test_an_rs_geopackage_with_a_style_table_reads_its_patch_layer_without_a_warning(tmp_path):
    path = tmp_path / "patches.gpkg"
    _frame(3).to_file(path, layer="patches")
    write_gpkg_style(path, "patches", REDLINE_TYPES, attribute="type")
    assert geometry_layers(path) == ["patches"]  # layer_styles has no geometry
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = read_vector(path)
    assert list(got["patch_id"]) == [0, 1, 2]


def test_two_geometry_layers_need_a_name(tmp_path):
    path = tmp_path / "two.gpkg"
    _frame(2).to_file(path, layer="a")
    _frame(5).to_file(path, layer="b")
    with pytest.raises(SpecError, match=r"several layers .*\['a', 'b'\]"):
        read_vector(path)
    assert len(read_vector(path, "b")) == 5
