"""rs.ecology.zonal: exact zonal statistics against exactextract itself, exact and supersampled
references written here, a COG on disk, polygons outside the raster and bad input."""

from __future__ import annotations

import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import xarray as xr
from affine import Affine
from exactextract import exact_extract
from exactextract.operation import Operation
from exactextract.raster import NumPyRasterSource
from pyproj import CRS

import rs.ecology._zonal_quantiles as zonal_quantiles
from rs.ecology.zonal import weighted_quantiles, zonal_stats
from rs.errors import AssetReadError, SpecError
from rs.export.cog import CogWriter, GridSpec, RasterBand

from ._cluster import dask_processes

CRS_UTM = "EPSG:32633"
PX = 10.0  # metres
H, W = 40, 50
T = Affine(PX, 0, 500_000, 0, -PX, 5_000_400)  # top-left (500000, 5000400)


def _raster(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.uniform(100, 200, (H, W))
    a[rng.random((H, W)) < 0.05] = np.nan
    return a


def _xy(col: float, row: float) -> tuple[float, float]:
    """Map coordinates of a (fractional) pixel position."""
    return T.c + col * PX, T.f - row * PX


def _rect(c0: float, r0: float, c1: float, r1: float) -> shapely.Polygon:
    (x0, y0), (x1, y1) = _xy(c0, r0), _xy(c1, r1)
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _random_polygons(n: int, seed: int, scale: tuple[float, float]) -> list[shapely.Polygon]:
    """Valid star-shaped polygons with 4-8 vertices around a centre (gaps between vertex
    angles < π), radius in pixels drawn from ``scale``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        cx, cy = _xy(rng.uniform(3, W - 3), rng.uniform(3, H - 3))
        k = int(rng.integers(4, 9))
        ang = (np.arange(k) + rng.uniform(0, 0.5, k)) * 2 * np.pi / k
        r = rng.uniform(*scale) * PX * rng.uniform(0.5, 1.0, k)
        out.append(shapely.Polygon(np.c_[cx + r * np.cos(ang), cy + r * np.sin(ang)]))
    assert all(g.is_valid for g in out)
    return out


def _frame(geoms: list[shapely.Geometry], crs: str = CRS_UTM) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"zone": [f"z{i}" for i in range(len(geoms))]}, geometry=geoms,
                            crs=crs)


def _pixel_boxes() -> np.ndarray:
    cols, rows = np.meshgrid(np.arange(W), np.arange(H))
    x0, y1 = T.c + cols * PX, T.f - rows * PX
    return shapely.box(x0, y1 - PX, x0 + PX, y1)  # (H, W)


def _exact_weights(geom: shapely.Geometry) -> np.ndarray:
    """Reference coverage of every pixel: shapely's area of polygon ∩ pixel / pixel area."""
    return shapely.area(shapely.intersection(_pixel_boxes(), geom)) / PX**2


def _supersampled_weights(geom: shapely.Geometry, k: int = 10) -> np.ndarray:
    """Brute force: each pixel split into k×k sub-pixels, their centres tested in the polygon."""
    off = (np.arange(k) + 0.5) / k
    cols = (np.arange(W)[:, None] + off).ravel()
    rows = (np.arange(H)[:, None] + off).ravel()
    xx, yy = np.meshgrid(T.c + cols * PX, T.f - rows * PX)
    inside = shapely.contains_xy(geom, xx, yy)
    return inside.reshape(H, k, W, k).sum(axis=(1, 3)) / k**2


def _weighted(a: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """count, mean, std (population) of ``a`` with weights ``w`` over valid pixels."""
    ok = ~np.isnan(a) & (w > 0)
    ww, v = w[ok], a[ok]
    count = float(ww.sum())
    if count == 0:
        return {"count": 0.0, "mean": np.nan, "std": np.nan, "min": np.nan, "max": np.nan}
    mean = float((ww * v).sum() / count)
    std = float(np.sqrt((ww * (v - mean) ** 2).sum() / count))
    return {"count": count, "mean": mean, "std": std, "min": float(v.min()),
            "max": float(v.max())}


# --- exactextract itself -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["float", "integer with ties"])
@pytest.mark.parametrize("max_cells", [2048 * 2048, 60])  # one batch / many (and pieces)
def test_equals_exactextract_on_the_same_in_memory_array(kind, max_cells):
    a = _raster()
    if kind != "float":  # few distinct values: quantiles of tied values with partial coverage
        a = np.where(np.isnan(a), -1, a // 20).astype(np.int16)
    geoms = _random_polygons(40, seed=1, scale=(0.2, 6.0))
    got = zonal_stats(a, _frame(geoms), id_column="zone", transform=T, crs=CRS_UTM,
                      percentiles=(0, 10, 33.3, 90, 100), nodata=-1,
                      max_cells_in_memory=max_cells)

    wkt = CRS.from_user_input(CRS_UTM).to_wkt()
    src = NumPyRasterSource(a, T.c, T.f - H * PX, T.c + W * PX, T.f, srs_wkt=wkt, nodata=-1)
    names = ["count", "mean", "median", "stdev", "min", "max"]
    ops = [Operation(n, n, src) for n in names]
    pct = (0, 10, 33.3, 90, 100)
    ops += [Operation("quantile", f"q{q}", src, options={"q": q / 100}) for q in pct]
    ref = exact_extract(src, _frame(geoms).rename(columns={"zone": "z"}), ops,
                        include_cols=["z"], output="pandas").set_index("z")
    ref.columns = ["count", "mean", "median", "std", "min", "max", *(f"p{q:g}" for q in pct)]

    assert list(got.index) == list(ref.index)  # input order kept (rs visits in Hilbert order)
    assert got.index.name == "zone"
    assert (got["count"] > 0).all()
    quantiles = ["median", *(f"p{q:g}" for q in pct)]
    if kind != "float":  # exactextract casts an integer raster's quantiles to its type; rs not
        assert (got[quantiles] != np.trunc(got[quantiles])).any().any()
        got[quantiles] = np.trunc(got[quantiles])
    for col in ref.columns:
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-12, err_msg=col)


# --- independent references ----------------------------------------------------------------------


def _lattice_polygons() -> list[shapely.Polygon]:
    """Rectangles whose edges fall on the 1/10-pixel lattice: some inside one pixel (smaller
    than a pixel), some across pixel edges and corners (straddling), some a few pixels wide."""
    return [
        _rect(5.1, 7.2, 5.4, 7.9),  # 0.3 x 0.7 px inside one pixel
        _rect(10.6, 3.3, 11.2, 3.8),  # 0.6 x 0.5 px across a vertical pixel edge
        _rect(20.7, 12.8, 21.4, 13.1),  # 0.7 x 0.3 px across a pixel corner
        _rect(30.9, 20.9, 31.1, 21.1),  # 0.2 x 0.2 px on a corner (4 pixels)
        _rect(2.3, 30.6, 6.8, 33.2),  # 4.5 x 2.6 px
        _rect(12.1, 15.5, 19.9, 24.4),  # 7.8 x 8.9 px
    ]


def test_equals_a_10x_supersampled_reference_for_subpixel_and_straddling_polygons():
    # The brute force counts sub-pixel centres: it is exact when edges lie on the 1/10-pixel
    # lattice, as here; for arbitrary edges it is itself off by several % on sub-pixel
    # polygons (see the exact shapely reference below).
    a = np.random.default_rng(2).uniform(100, 200, (H, W))
    a[3, 10] = np.nan  # one pixel under the second rectangle has no value
    geoms = _lattice_polygons()
    got = zonal_stats(a, _frame(geoms), id_column="zone", transform=T, crs=CRS_UTM)
    for i, g in enumerate(geoms):
        w = _supersampled_weights(g)
        ref = _weighted(a, w)
        row = got.iloc[i]
        for key in ("count", "mean", "std"):
            assert row[key] == pytest.approx(ref[key], rel=0.005, abs=1e-12), (i, key)
        assert row["min"] == ref["min"] and row["max"] == ref["max"]
        assert row["valid_share"] == pytest.approx(ref["count"] / w.sum(), rel=0.005)
    assert got["valid_share"].iloc[1] < 1  # the nodata pixel counts as without value


def test_equals_exact_pixel_intersections_for_arbitrary_polygons():
    """Coverage from shapely's polygon ∩ pixel areas (independent of exactextract), small and
    large polygons with arbitrary edges: count, mean, std, min, max to 1e-6 (exactextract
    keeps coverage fractions in float32)."""
    a = _raster(3)
    geoms = _random_polygons(25, seed=4, scale=(0.15, 0.6)) + _random_polygons(
        15, seed=5, scale=(1.0, 5.0))
    got = zonal_stats(a, _frame(geoms), id_column="zone", transform=T, crs=CRS_UTM)
    for i, g in enumerate(geoms):
        ref = _weighted(a, _exact_weights(g))
        row = got.iloc[i]
        if ref["count"] == 0:  # a tiny polygon on a NaN pixel
            assert row["count"] == 0 and np.isnan(row["mean"])
            continue
        for key in ("count", "mean", "std", "min", "max"):
            assert row[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-6), (i, key)


def test_valid_share_counts_parts_outside_the_raster_and_nodata_as_without_value():
    a = np.ones((H, W))
    a[:, :5] = np.nan  # the first 5 columns have no value
    straddle_edge = _rect(-2, 10, 2, 12)  # half outside the raster (west), half on NaN
    half_nan = _rect(3, 10, 7, 12)  # 2 of its 4 columns are NaN
    got = zonal_stats(a, _frame([straddle_edge, half_nan]), transform=T, crs=CRS_UTM)
    assert got["count"].tolist() == pytest.approx([0.0, 4.0])
    assert got["valid_share"].tolist() == pytest.approx([0.0, 0.5])
    assert np.isnan(got["mean"].iloc[0]) and got["mean"].iloc[1] == 1.0


# --- no valid pixels -----------------------------------------------------------------------------


def test_polygons_outside_the_raster_nan_only_and_empty_give_zero_valid_rows():
    a = _raster()
    a[20:25, 20:25] = np.nan
    inside = _rect(1, 1, 3, 3)
    outside = [_rect(-10, -10, -5, -5), _rect(W + 1, 2, W + 4, 5), _rect(3, H + 2, 9, H + 9)]
    nan_only = _rect(20.5, 20.5, 24.5, 24.5)
    geoms = [inside, *outside, nan_only, shapely.Polygon(), None]
    for categorical in (False, True):
        got = zonal_stats(a if not categorical else np.nan_to_num(a // 50, nan=255),
                          _frame(geoms), id_column="zone", transform=T, crs=CRS_UTM,
                          categorical=categorical, nodata=255 if categorical else None)
        assert got["count"].iloc[0] == pytest.approx(4.0)
        assert (got["count"].iloc[1:] == 0).all()
        assert (got["valid_share"].iloc[1:5] == 0).all()  # outside / NaN: 0 of the polygon
        assert got["valid_share"].iloc[5:].isna().all()  # no geometry: no share
        if categorical:
            assert (got.filter(like="area_m2").iloc[1:] == 0).all().all()
        else:
            assert got.iloc[1:].drop(columns=["count", "valid_share"]).isna().all().all()


# --- categorical ---------------------------------------------------------------------------------


def test_area_per_class_equals_the_supersampled_and_exact_areas():
    rng = np.random.default_rng(6)
    cls = rng.choice(np.array([1, 2, 3, 7], dtype=np.uint8), size=(H, W))
    cls[0:3, 0:3] = 0  # nodata
    names = {1: "forest", 2: "grass", 3: "water", 9: "ice"}
    lattice = [*_lattice_polygons(), _rect(0.5, 0.5, 4.3, 2.2)]
    arbitrary = _random_polygons(10, seed=7, scale=(0.3, 4.0))
    for geoms, weights, rel in ((lattice, _supersampled_weights, 0.005),
                                (arbitrary, _exact_weights, 1e-6)):
        got = zonal_stats(cls, _frame(geoms), transform=T, crs=CRS_UTM, nodata=0,
                          classes=names)
        # named classes in the mapping's order (ice absent: zeros), then unnamed values
        assert list(got.columns) == ["count", "valid_share", "area_m2", "area_m2_forest",
                                     "area_m2_grass", "area_m2_water", "area_m2_ice",
                                     "area_m2_7"]
        for i, g in enumerate(geoms):
            w = weights(g)
            for value, col in ((1, "forest"), (2, "grass"), (3, "water"), (7, "7"), (9, "ice")):
                ref = float(w[cls == value].sum()) * PX * PX
                assert got[f"area_m2_{col}"].iloc[i] == pytest.approx(ref, rel=rel, abs=1e-6)
            assert got["area_m2"].iloc[i] == pytest.approx(
                float(w[cls != 0].sum()) * PX * PX, rel=rel, abs=1e-6)


def test_class_areas_on_a_geographic_raster_are_spherical_m2():
    # 1° pixels from 60°N down to 40°N; class 1 north of 50°N, class 2 south of it. A pixel's
    # area on the sphere (exactextract: R = 6378137 m) is R² Δλ (sin φ_top - sin φ_bottom):
    # it shrinks northwards, so areas need area weights, not coverage fractions alone.
    t = Affine(1.0, 0, 10.0, 0, -1.0, 60.0)
    cls = np.ones((20, 10), dtype=np.uint8)
    cls[10:] = 2
    polys = [shapely.box(10.5, 44.0, 12.25, 57.0), shapely.box(13.2, 52.5, 13.7, 52.9)]
    got = zonal_stats(cls, _frame(polys, "EPSG:4326"), transform=t, crs="EPSG:4326",
                      classes={1: "north", 2: "south"})
    r = 6_378_137.0

    def sphere(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
        return r * r * np.radians(lon1 - lon0) * (np.sin(np.radians(lat1))
                                                   - np.sin(np.radians(lat0)))

    # a pixel is a lon/lat rectangle and each polygon one too: with an equal-area pixel split
    # in longitude, the covered part of a pixel row is a lon/lat rectangle as well
    north = [sphere(10.5, 50.0, 12.25, 57.0), sphere(13.2, 52.5, 13.7, 52.9)]
    south = [sphere(10.5, 44.0, 12.25, 50.0), 0.0]
    # coverage inside a pixel is planar in degrees: per pixel, fraction × the pixel's area
    def reference(poly: shapely.Polygon, value: int) -> float:
        total = 0.0
        for row in range(20):
            for col in range(10):
                if cls[row, col] != value:
                    continue
                lat1, lon0 = 60.0 - row, 10.0 + col
                frac = poly.intersection(shapely.box(lon0, lat1 - 1, lon0 + 1, lat1)).area
                total += frac * sphere(lon0, lat1 - 1, lon0 + 1, lat1)
        return total

    for i, poly in enumerate(polys):
        assert got["area_m2_north"].iloc[i] == pytest.approx(reference(poly, 1), rel=1e-6)
        assert got["area_m2_south"].iloc[i] == pytest.approx(reference(poly, 2), rel=1e-6)
        # close to the true spherical areas (pixel-planar coverage differs slightly)
        assert got["area_m2_north"].iloc[i] == pytest.approx(north[i], rel=0.01)
        assert got["area_m2_south"].iloc[i] == pytest.approx(south[i], rel=0.01, abs=1)


# --- inputs --------------------------------------------------------------------------------------


def _write_cog(path, bands: np.ndarray, names: list[str], dtype: str, nodata: float) -> None:
    grid = GridSpec(crs=CRS_UTM, transform=T, shape=(H, W))
    with CogWriter(path, grid, [RasterBand(n) for n in names], dtype=dtype, nodata=nodata,
                   blocksize=16) as w:
        w.write_block(0, 0, bands)


def test_a_cog_on_disk_gives_the_same_as_the_in_memory_array(tmp_path):
    a, b = _raster(8).astype(np.float32), _raster(9).astype(np.float32)
    path = tmp_path / "two.tif"
    _write_cog(path, np.stack([a, b]), ["ndvi", "lst"], "float32", np.nan)
    geoms = _random_polygons(30, seed=10, scale=(0.2, 8.0))
    geoms.append(_rect(-5, -5, -1, -1))  # outside
    from_file = zonal_stats(path, _frame(geoms), id_column="zone")
    in_memory = zonal_stats(np.stack([a, b]), _frame(geoms), id_column="zone", transform=T,
                            crs=CRS_UTM, band_names=["ndvi", "lst"])
    assert from_file.columns[0] == "ndvi_count" and "lst_p90" in from_file.columns
    pd.testing.assert_frame_equal(from_file, in_memory, rtol=1e-12)
    # one set of columns per band, each equal to that band alone
    alone = zonal_stats(b, _frame(geoms), id_column="zone", transform=T, crs=CRS_UTM)
    np.testing.assert_allclose(in_memory[[f"lst_{c}" for c in alone.columns]], alone,
                               rtol=1e-12)


def test_batches_on_dask_worker_processes_give_the_same_table(tmp_path):
    """With the run's PartMap the batches of a file run as tasks on real worker processes (a
    scheduler and two workers on loopback), each reading the file itself: the same table, row
    for row."""
    from distributed import Client, get_task_stream

    from rs.pipeline.context import Runtime

    a, b = _raster(20).astype(np.float32), _raster(21).astype(np.float32)
    path = tmp_path / "two.tif"
    _write_cog(path, np.stack([a, b]), ["ndvi", "lst"], "float32", np.nan)
    cls = np.random.default_rng(22).integers(1, 5, (H, W)).astype(np.uint8)
    cls_path = tmp_path / "classes.tif"
    _write_cog(cls_path, cls[np.newaxis], ["landcover"], "uint8", 255)
    geoms = [*_random_polygons(60, seed=23, scale=(0.3, 8.0)), _rect(-5, -5, -1, -1),
             shapely.Polygon()]
    frame = _frame(geoms)
    alone = zonal_stats(path, frame, id_column="zone", max_cells_in_memory=300)
    classes = zonal_stats(cls_path, frame, id_column="zone", categorical=True,
                          max_cells_in_memory=300)
    with (dask_processes(tmp_path, n_workers=2) as address, Client(address) as client,
          get_task_stream(client) as stream):
        parallel = Runtime(client).part_map("zones")  # what the products pass
        on_workers = zonal_stats(path, frame, id_column="zone", max_cells_in_memory=300,
                                 parallel=parallel)
        classes_on_workers = zonal_stats(cls_path, frame, id_column="zone", categorical=True,
                                         max_cells_in_memory=300, parallel=parallel)
    parts = [t for t in stream.data if t["key"].startswith("_file_part")]
    assert len(parts) >= 4 and len({t["worker"] for t in parts}) == 2
    assert on_workers["ndvi_count"].notna().all() and on_workers["ndvi_count"].iloc[-2] == 0
    pd.testing.assert_frame_equal(on_workers, alone)
    pd.testing.assert_frame_equal(classes_on_workers, classes)


def test_batches_go_to_tasks_in_consecutive_runs_of_about_equal_cells():
    from rs.ecology.zonal import _runs

    def split(cells, n):
        return [list(r) for r in _runs(np.asarray(cells, dtype=float), n)]

    # four full batches and the remainder: one task each, the remainder with the last
    assert split([100, 100, 100, 100, 1], 4) == [[0], [1], [2], [3, 4]]
    assert split([50, 50, 100, 100, 100], 4) == [[0, 1], [2], [3], [4]]
    assert split([10] * 8, 3) == [[0, 1, 2], [3, 4], [5, 6, 7]]
    assert split([500], 4) == [[0]]  # fewer batches than tasks: no empty task


def test_an_integer_cog_with_nodata_gives_the_same_class_areas(tmp_path):
    cls = np.random.default_rng(11).integers(1, 4, (H, W)).astype(np.uint8)
    cls[10:20, 10:20] = 255
    path = tmp_path / "classes.tif"
    _write_cog(path, cls[np.newaxis], ["landcover"], "uint8", 255)
    geoms = [*_random_polygons(20, seed=12, scale=(0.3, 6.0)), _rect(8.5, 8.5, 12.5, 12.5)]
    from_file = zonal_stats(path, _frame(geoms), categorical=True)
    in_memory = zonal_stats(cls, _frame(geoms), transform=T, crs=CRS_UTM, nodata=255,
                            categorical=True)
    assert "area_m2_255" not in from_file.columns
    # the last square: 16 pixels, 2.5 x 2.5 of them on nodata
    assert from_file["count"].iloc[-1] == pytest.approx(16 - 2.5 * 2.5)
    pd.testing.assert_frame_equal(from_file, in_memory, rtol=1e-12)


def test_polygons_in_another_crs_are_reprojected():
    a = _raster(13)
    geoms = _random_polygons(15, seed=14, scale=(0.5, 4.0))
    utm = zonal_stats(a, _frame(geoms), id_column="zone", transform=T, crs=CRS_UTM)
    lonlat = zonal_stats(a, _frame(geoms).to_crs("EPSG:4326"), id_column="zone", transform=T,
                         crs=CRS_UTM)
    pd.testing.assert_frame_equal(utm, lonlat, rtol=1e-6)


def test_a_dask_backed_dataarray_is_read_lazily_and_equals_numpy():
    a = _raster(15)
    stack = np.stack([a, a * 2])
    reads: list[tuple[int, ...]] = []

    def spy(block: np.ndarray) -> np.ndarray:
        reads.append(block.shape)
        return block

    lazy = da.from_array(stack, chunks=(1, 10, 10)).map_blocks(spy, dtype=stack.dtype)
    cube = xr.DataArray(lazy, dims=("band", "y", "x"),
                        coords={"band": ["a", "b"],
                                "y": T.f - (np.arange(H) + 0.5) * PX,
                                "x": T.c + (np.arange(W) + 0.5) * PX})
    small = [_rect(1.2, 1.2, 3.5, 3.5), _rect(30.1, 22.3, 31.9, 25.5)]
    got = zonal_stats(cube, _frame(small), crs=CRS_UTM)  # transform from the coordinates
    want = zonal_stats(stack, _frame(small), transform=T, crs=CRS_UTM, band_names=["a", "b"])
    pd.testing.assert_frame_equal(got, want)
    assert 0 < len(reads) < 2 * 4 * 5  # only the chunks under the polygons, not all 40


def test_polygons_go_to_exactextract_in_bounded_batches(monkeypatch):
    import exactextract

    calls: list[int] = []
    real = exactextract.exact_extract

    def spy(rast, vec, ops, **kw):
        cells = sum(int(np.ceil((b[2] - b[0]) / PX + 2) * np.ceil((b[3] - b[1]) / PX + 2))
                    for b in shapely.bounds(shapely.from_wkb(vec.wkbs)))
        calls.append(cells if len(vec.wkbs) > 1 else 0)  # a lone polygon may be larger
        assert kw["max_cells_in_memory"] == 400
        return real(rast, vec, ops, **kw)

    monkeypatch.setattr(exactextract, "exact_extract", spy)
    a = _raster(18)
    geoms = _random_polygons(30, seed=19, scale=(0.5, 6.0))
    got = zonal_stats(a, _frame(geoms), transform=T, crs=CRS_UTM, max_cells_in_memory=400)
    assert len(calls) > 3 and max(calls) <= 400 + 4 * len(geoms)  # bboxes rounded out
    monkeypatch.setattr(exactextract, "exact_extract", real)
    one = zonal_stats(a, _frame(geoms), transform=T, crs=CRS_UTM)
    pd.testing.assert_frame_equal(got, one, rtol=1e-12)


def test_percentiles_are_configurable_and_p50_is_the_median():
    a = _raster(16)
    got = zonal_stats(a, _frame(_random_polygons(10, 17, (1, 5))), transform=T, crs=CRS_UTM,
                      percentiles=[2.5, 50])
    assert [c for c in got.columns if c.startswith("p")] == ["p2.5", "p50"]
    np.testing.assert_allclose(got["p50"], got["median"])
    assert (got["p2.5"] <= got["median"]).all()


def _quantiles_by_definition(values: np.ndarray, weights: np.ndarray,
                             qs: np.ndarray) -> np.ndarray:
    """exactextract's weighted quantile, written out: distinct values v_k with summed weights
    W_k and running sums C_k; s_k = k W_k + (n - 1) C_{k-1}; linear in s at q (n - 1) C_{n-1}."""
    v = np.unique(values)
    w = np.array([weights[values == x].astype(np.float64).sum() for x in v])
    n = v.size
    c = np.cumsum(w)
    s = np.array([k * w[k] + (n - 1) * (c[k - 1] if k else 0.0) for k in range(n)])
    out = []
    for q in qs:
        t = q * (n - 1) * c[-1]
        r = int(np.searchsorted(s, t, side="right"))
        out.append(float(v[-1]) if r >= n else float(v[r - 1]) + (t - s[r - 1])
                   * (float(v[r]) - float(v[r - 1])) / (s[r] - s[r - 1]))
    return np.array(out)


@pytest.mark.parametrize("small", [0, 10**9])  # evaluated around the quantiles / everywhere
def test_weighted_quantiles_follow_the_definition_with_ties_and_partial_weights(monkeypatch,
                                                                                small):
    monkeypatch.setattr(zonal_quantiles, "SMALL_QUANTILES", small)
    rng = np.random.default_rng(23)
    for i in range(400):
        n = int(rng.integers(1, 400))
        values = [rng.normal(size=n).astype(np.float32),  # all distinct (nearly)
                  rng.integers(0, int(rng.integers(1, 12)), n).astype(np.int16),  # ties
                  np.round(rng.normal(size=n), 1)][i % 3]
        weights = np.ones(n, dtype=np.float32)
        part = rng.random(n) < rng.choice([0.0, 0.1, 0.5, 1.0])  # none ... all partly covered
        weights[part] = rng.uniform(0.001, 1, int(part.sum()))
        qs = np.concatenate([[0.0, 0.5, 1.0], rng.uniform(0, 1, 3)])
        np.testing.assert_allclose(weighted_quantiles(values, weights, qs),
                                   _quantiles_by_definition(values, weights, qs), rtol=1e-12,
                                   err_msg=f"case {i}: {n} values")
    assert np.isnan(weighted_quantiles(np.zeros(0), np.zeros(0), [0.5])).all()


@pytest.mark.parametrize("kind", ["float", "integer with ties"])
def test_equals_exactextract_with_quantiles_evaluated_around_the_quantiles_only(monkeypatch,
                                                                                 kind):
    """The path large polygons take (more than SMALL_QUANTILES values), on small ones."""
    monkeypatch.setattr(zonal_quantiles, "SMALL_QUANTILES", 0)
    test_equals_exactextract_on_the_same_in_memory_array(kind, 60)


# --- bad input -----------------------------------------------------------------------------------


def test_bad_input_says_what_to_change(tmp_path):
    a = _raster()
    frame = _frame([_rect(1, 1, 2, 2), _rect(3, 3, 4, 4)])
    with pytest.raises(SpecError, match="no id column 'county'"):
        zonal_stats(a, frame, id_column="county", transform=T, crs=CRS_UTM)
    dup = frame.assign(zone=["a", "a"])
    with pytest.raises(SpecError, match="unique; 'a' repeats"):
        zonal_stats(a, dup, id_column="zone", transform=T, crs=CRS_UTM)
    with pytest.raises(SpecError, match="polygons have no CRS"):
        zonal_stats(a, frame.set_crs(None, allow_override=True), transform=T, crs=CRS_UTM)
    with pytest.raises(SpecError, match="needs its transform"):
        zonal_stats(a, frame, crs=CRS_UTM)
    with pytest.raises(SpecError, match="has no CRS"):
        zonal_stats(a, frame, transform=T)
    with pytest.raises(SpecError, match="between 0 and 100"):
        zonal_stats(a, frame, transform=T, crs=CRS_UTM, percentiles=[150])
    with pytest.raises(SpecError, match="north-up"):
        zonal_stats(a, frame, transform=Affine(PX, 0, 0, 0, PX, 0), crs=CRS_UTM)
    with pytest.raises(AssetReadError, match=r"missing\.tif"):
        zonal_stats(tmp_path / "missing.tif", frame)
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(AssetReadError, match=r"bad\.tif"):
        zonal_stats(bad, frame)


def test_invalid_polygons_are_repaired_not_miscounted():
    a = np.ones((H, W))
    x0, y0 = _xy(10, 10)
    x1, y1 = _xy(14, 14)
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # self-intersecting
    assert not bowtie.is_valid
    got = zonal_stats(a, _frame([bowtie]), transform=T, crs=CRS_UTM)
    assert got["count"].iloc[0] == pytest.approx(shapely.make_valid(bowtie).area / PX**2)


def test_rasterio_reads_the_cog_written_here(tmp_path):
    """The COG fixture is what the tests think it is (band names, nodata, tiling)."""
    path = tmp_path / "x.tif"
    _write_cog(path, _raster()[np.newaxis].astype(np.float32), ["v"], "float32", np.nan)
    with rasterio.open(path) as ds:
        assert ds.descriptions == ("v",) and ds.block_shapes == [(16, 16)]
        assert ds.transform == T
