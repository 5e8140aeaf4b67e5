"""The committed demo AOI files must equal rs.testing.demo_aois() (so they cannot drift)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from rs.testing import DEFAULT_GRID, demo_aois

AOI_DIR = Path(__file__).resolve().parents[1] / "aoi"


def _assert_same(committed: gpd.GeoDataFrame, expected: gpd.GeoDataFrame) -> None:
    assert committed.crs is not None and committed.crs.to_epsg() == 4326
    assert list(committed.columns) == list(expected.columns)
    attrs = [c for c in expected.columns if c != "geometry"]
    assert committed[attrs].to_dict("records") == expected[attrs].to_dict("records")
    for got, want in zip(committed.geometry, expected.geometry, strict=True):
        assert shapely.equals_exact(shapely.normalize(got), shapely.normalize(want), tolerance=1e-9)


@pytest.mark.parametrize("name", ["demo_region", "demo_redlines"])
def test_demo_aois__committed_file_matches(name: str) -> None:
    aois = demo_aois()
    expected = aois.region if name == "demo_region" else aois.redlines
    committed = gpd.read_file(AOI_DIR / f"{name}.geojson")
    assert len(committed) == len(expected)
    _assert_same(committed, expected)


def test_demo_aois__inside_default_world_and_valid() -> None:
    aois = demo_aois()
    world = DEFAULT_GRID.footprint()
    region = aois.region.geometry.iloc[0]
    assert list(aois.region["name"]) == ["rs demo region (Jiangning, Nanjing)"]
    assert region.is_valid and world.contains(region)
    red = aois.redlines
    assert set(red["kind"]) == {"red_line", "nature_reserve"}
    reserve_zones = set(red.loc[red["kind"] == "nature_reserve", "zone"])
    assert reserve_zones == {"core", "buffer", "experimental"}
    assert red.is_valid.all()
    assert all(region.contains(g) for g in red.geometry)
    # the zones of one reserve tile it without overlapping
    zones = red[red["kind"] == "nature_reserve"].geometry.tolist()
    for a in range(len(zones)):
        for b in range(a + 1, len(zones)):
            assert zones[a].intersection(zones[b]).area < 1e-12
