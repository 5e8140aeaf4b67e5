"""Block planning: tiling covers the grid once, items per tile match a brute-force check."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pystac
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from shapely.geometry import box

from rs.pipeline.planning import WORLD, PlannedBlock, footprints_of, plan_blocks, task_key

UTM = "EPSG:32633"

grid_shapes = st.tuples(st.integers(1, 300), st.integers(1, 300))
blocks = st.tuples(st.integers(1, 128), st.integers(1, 128))


def lonlat_grid(h: int, w: int, res: float = 0.01) -> GeoBox:
    return GeoBox.from_bbox((10.0, 40.0, 10.0 + w * res, 40.0 + h * res), "EPSG:4326",
                            shape=(h, w))


def utm_grid(h: int, w: int, res: float = 100.0) -> GeoBox:
    return GeoBox.from_bbox((500_000, 4_400_000, 500_000 + w * res, 4_400_000 + h * res), UTM,
                            resolution=res)


@st.composite
def boxes_near(draw: st.DrawFn, bounds: tuple[float, float, float, float], n_max: int = 40
               ) -> list[shapely.Geometry]:
    """Random lon/lat boxes in and around ``bounds`` (some miss it)."""
    west, south, east, north = bounds
    dx, dy = east - west, north - south
    out = []
    for _ in range(draw(st.integers(0, n_max))):
        x0 = draw(st.floats(west - 0.5 * dx, east + 0.2 * dx))
        y0 = draw(st.floats(south - 0.5 * dy, north + 0.2 * dy))
        w = draw(st.floats(1e-4, 0.6 * dx + 1e-3))
        h = draw(st.floats(1e-4, 0.6 * dy + 1e-3))
        out.append(box(x0, y0, x0 + w, y0 + h))
    return out


def item(item_id: str, geometry: dict | None, bbox: list[float] | None) -> pystac.Item:
    return pystac.Item(item_id, geometry, bbox, dt.datetime(2021, 6, 1, tzinfo=dt.UTC), {})


@settings(max_examples=60, deadline=None)
def _n_tiles(shape: tuple[int, int], block: tuple[int, int]) -> int:
    return -(-shape[0] // block[0]) * -(-shape[1] // block[1])


@given(shape=grid_shapes, block=blocks)
def test_plan_blocks__every_pixel_in_exactly_one_tile(shape: tuple[int, int],
                                                      block: tuple[int, int]) -> None:
    assume(_n_tiles(shape, block) <= 2000)  # 1-px blocks of a 300 px grid add only time
    gbox = utm_grid(*shape)
    planned = plan_blocks(gbox, [], block)
    count = np.zeros(gbox.shape.yx, dtype=int)
    for b in planned:
        h, w = b.tile.shape.yx
        assert h >= 1 and w >= 1
        count[b.row : b.row + h, b.col : b.col + w] += 1
    assert (count == 1).all()
    assert [(b.iy, b.ix) for b in planned] == sorted((b.iy, b.ix) for b in planned)


@settings(max_examples=60, deadline=None)
@given(shape=grid_shapes, block=blocks)
def test_plan_blocks__offsets_match_tile_geoboxes(shape: tuple[int, int],
                                                  block: tuple[int, int]) -> None:
    assume(_n_tiles(shape, block) <= 2000)
    gbox = utm_grid(*shape)
    for b in plan_blocks(gbox, [], block):
        assert (b.row, b.col) == (b.iy * block[0], b.ix * block[1])
        h, w = b.tile.shape.yx
        window = gbox[b.row : b.row + h, b.col : b.col + w]
        assert b.tile.shape == window.shape
        assert b.tile.affine.almost_equals(window.affine)
        assert b.tile.crs == gbox.crs
        # the tile's origin is the grid's pixel (row, col) corner
        x0, y0 = gbox.affine @ (b.col, b.row)
        assert b.tile.affine.c == pytest.approx(x0) and b.tile.affine.f == pytest.approx(y0)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), shape=st.tuples(st.integers(1, 80), st.integers(1, 80)),
       block=st.tuples(st.integers(1, 40), st.integers(1, 40)))
def test_plan_blocks__lonlat_grid_items_iff_footprint_intersects_tile(
    data: st.DataObject, shape: tuple[int, int], block: tuple[int, int]
) -> None:
    gbox = lonlat_grid(*shape)
    footprints = data.draw(boxes_near(tuple(gbox.extent.boundingbox)))
    for b in plan_blocks(gbox, footprints, block):
        tile_box = box(*b.tile.extent.boundingbox)
        brute = tuple(n for n, fp in enumerate(footprints) if fp.intersects(tile_box))
        assert b.items == brute


def _to_utm(fp: shapely.Geometry) -> shapely.Geometry:
    to_utm = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    dense = shapely.segmentize(fp, 1e-4)
    return shapely.transform(dense, lambda xy: np.column_stack(to_utm.transform(*xy.T)))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=st.tuples(st.integers(1, 120), st.integers(1, 120)),
       block=st.tuples(st.integers(4, 60), st.integers(4, 60)))
def test_plan_blocks__projected_grid_items_match_brute_force_within_a_pixel(
    data: st.DataObject, shape: tuple[int, int], block: tuple[int, int]
) -> None:
    """Projected grid: footprints reprojected densely and tested in the grid's own CRS.

    Both sides approximate a curved edge by straight segments, so the check allows one pixel
    (100 m): a footprint reaching into the tile shrunk by a pixel must be listed, one missing
    the tile grown by a pixel must not.
    """
    gbox = utm_grid(*shape)
    footprints = data.draw(boxes_near(tuple(gbox.extent.to_crs(4326).boundingbox)))
    projected = [_to_utm(fp) for fp in footprints]
    res = 100.0
    for b in plan_blocks(gbox, footprints, block):
        tile_box = box(*b.tile.extent.boundingbox)
        for n, fp in enumerate(projected):
            if fp.intersects(tile_box.buffer(-res, join_style="mitre")):
                assert n in b.items
            if not fp.intersects(tile_box.buffer(res, join_style="mitre")):
                assert n not in b.items


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape=st.tuples(st.integers(1, 100), st.integers(1, 100)),
       block=st.tuples(st.integers(1, 50), st.integers(1, 50)))
def test_plan_blocks__deterministic(data: st.DataObject, shape: tuple[int, int],
                                    block: tuple[int, int]) -> None:
    gbox = lonlat_grid(*shape)
    footprints = data.draw(boxes_near(tuple(gbox.extent.boundingbox)))
    first = plan_blocks(gbox, footprints, block)
    again = plan_blocks(gbox, list(footprints), block)
    assert first == again
    keys = [task_key("rs-block", b.tile, b.items) for b in first]
    assert keys == [task_key("rs-block", b.tile, b.items) for b in again]
    assert len(set(keys)) == len(keys)  # tiles differ, so keys differ


def test_plan_blocks__tiles_without_items_are_kept() -> None:
    gbox = lonlat_grid(100, 100)  # lon 10..11, lat 40..41
    corner = box(10.0, 40.9, 10.1, 41.0)  # only the top-left tile
    planned = plan_blocks(gbox, [corner], (50, 50))
    assert len(planned) == 4
    assert [b.items for b in planned] == [(0,), (), (), ()]
    assert all(isinstance(b, PlannedBlock) for b in planned)


def test_plan_blocks__unknown_footprint_reaches_every_tile() -> None:
    gbox = lonlat_grid(100, 100)
    planned = plan_blocks(gbox, [box(20.0, 20.0, 21.0, 21.0), None], (30, 30))
    assert len(planned) == 16
    assert all(b.items == (1,) for b in planned)


def test_plan_blocks__footprint_touching_a_tile_edge_is_listed_for_both_tiles() -> None:
    gbox = lonlat_grid(100, 100)
    left_half = box(9.0, 39.0, 10.5, 42.0)  # its east edge is the tiles' shared edge
    planned = plan_blocks(gbox, [left_half], (100, 50))
    assert [b.items for b in planned] == [(0,), (0,)]


def test_plan_blocks__grid_across_the_antimeridian() -> None:
    # UTM zone 1 west of its central meridian (-177) reaches across 180 at the equator
    gbox = GeoBox.from_bbox((-150_000, 0, 500_000, 200_000), "EPSG:32601", resolution=1000)
    east = box(179.5, 0.5, 179.9, 1.0)  # just west of the antimeridian, in the grid's west part
    west = box(-178.0, 0.5, -177.5, 1.0)
    far = box(0.0, 0.5, 1.0, 1.0)  # Africa: on no tile
    planned = plan_blocks(gbox, [east, west, far], (100, 100))
    listed = {n for b in planned for n in b.items}
    assert listed == {0, 1}
    # the eastmost footprint only in western tiles of the grid, the other only in eastern ones
    cols_of = {n: {b.ix for b in planned if n in b.items} for n in (0, 1)}
    assert max(cols_of[0]) < min(cols_of[1])


def test_plan_blocks__rejects_a_non_positive_block() -> None:
    with pytest.raises(ValueError, match="block"):
        plan_blocks(lonlat_grid(10, 10), [], (0, 5))


def test_footprints_of__geometry_then_bbox_then_world() -> None:
    poly = box(10.0, 40.0, 11.0, 41.0)
    items = [
        item("geom", shapely.geometry.mapping(poly), list(poly.bounds)),
        item("bbox", None, [12.0, 40.0, 13.0, 41.0]),
        item("bbox3d", None, [12.0, 40.0, 0.0, 13.0, 41.0, 100.0]),
        item("across", None, [179.0, 0.0, -179.0, 1.0]),
        item("none", None, None),
    ]
    fps = footprints_of(items)
    assert fps[0].equals(poly)
    assert fps[1].equals(box(12.0, 40.0, 13.0, 41.0))
    assert fps[2].equals(box(12.0, 40.0, 13.0, 41.0))
    assert fps[3].area == pytest.approx(2.0) and fps[3].contains(shapely.Point(179.5, 0.5))
    assert fps[3].contains(shapely.Point(-179.5, 0.5))
    assert fps[4].equals(WORLD)


def test_footprints_of__ring_across_the_antimeridian_is_split() -> None:
    ring = {"type": "Polygon",
            "coordinates": [[[179.0, 0.0], [-179.0, 0.0], [-179.0, 1.0], [179.0, 1.0],
                             [179.0, 0.0]]]}
    (fp,) = footprints_of([item("x", ring, [179.0, 0.0, -179.0, 1.0])])
    assert fp.area == pytest.approx(2.0)
    assert fp.contains(shapely.Point(179.5, 0.5)) and fp.contains(shapely.Point(-179.5, 0.5))
    assert not fp.contains(shapely.Point(0.0, 0.5))


@given(a=st.lists(st.integers(0, 999), max_size=20).map(tuple),
       b=st.lists(st.integers(0, 999), max_size=20).map(tuple))
def test_task_key__differs_when_inputs_differ(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    tile = lonlat_grid(8, 8)
    assert (task_key("rs-x", tile, a) == task_key("rs-x", tile, b)) == (a == b)
    assert task_key("rs-x", tile, a).startswith("rs-x-")
    assert task_key("rs-x", tile, a) != task_key("rs-y", tile, a)
    assert task_key("rs-x", tile, a) != task_key("rs-x", lonlat_grid(8, 9), a)


def test_task_key__refuses_objects_without_a_deterministic_token() -> None:
    class Opaque:  # holds a lock: no deterministic serialisation exists
        def __init__(self) -> None:
            self.lock = threading.Lock()

    with pytest.raises(RuntimeError, match="deterministically"):
        task_key("rs-x", Opaque())


def test_footprints_of__crossing_ring_invalid_only_before_the_split_keeps_its_area() -> None:
    # valid once longitudes are continuous (x + 360 for x < 0), self-intersecting as given
    shifted = shapely.Polygon([(178, 0), (182, 0), (182, 2), (180.5, 1), (178, 2)])
    raw = [[x - 360.0 if x > 180 else x, y] for x, y in shifted.exterior.coords]
    assert not shapely.Polygon(raw).is_valid
    ring = {"type": "Polygon", "coordinates": [raw]}
    (fp,) = footprints_of([item("x", ring, [178.0, 0.0, -178.0, 2.0])])
    assert fp.is_valid and fp.area == pytest.approx(shifted.area)
    assert fp.contains(shapely.Point(179.0, 1.5)) and fp.contains(shapely.Point(-178.5, 0.5))
    assert not fp.contains(shapely.Point(-179.5, 1.5))  # the notch stays a notch
    assert not fp.contains(shapely.Point(0.0, 1.0))


def test_footprints_of__ring_around_a_pole_reaches_everything() -> None:
    ring = {"type": "Polygon",
            "coordinates": [[[-170.0, 80.0], [-10.0, 85.0], [100.0, 80.0], [170.0, 85.0],
                             [-170.0, 80.0]]]}
    (fp,) = footprints_of([item("pole", ring, [-180.0, 80.0, 180.0, 90.0])])
    assert fp.equals(WORLD)
