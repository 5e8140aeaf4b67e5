"""Area-weighted oversampling (rs.atmos.grid): exact overlaps, conservation, accumulation over
orbits, the antimeridian, empty input; against an exact per-cell shapely reference on a real
blended CH4 orbit when the real data is present."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely

from rs.atmos import (
    Accumulator,
    LonLatGrid,
    QaWarning,
    Swath,
    apply_qa,
    grid_orbit,
    pixel_areas,
    read_swath,
    sum_accumulators,
    temporal_mean,
)
from rs.atmos.lonlat import EARTH_RADIUS_KM
from rs.testing.s5p import Hotspot, S5PConfig, generate_s5p

#: Real data folder beside the repository (../shared/data/real), as tests/test_readers.py finds it
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
BLENDED = REAL / "tropomi/ch4_blended"


def _pixels(lon_b: list[list[float]], lat_b: list[list[float]], value: list[float],
            precision: list[float] | None = None) -> Swath:
    lo, la = np.array(lon_b, float), np.array(lat_b, float)
    n = len(value)
    return Swath("ch4", "hand", "v", "ppb", lo.mean(1), la.mean(1), lo, la,
                 np.array(value, float), None if precision is None else np.array(precision),
                 np.ones(n), np.full(n, np.datetime64("2021-01-01", "ms")), None, (n,))


def _synthetic(tmp_path: Path, **kw: object) -> Swath:
    path, _ = generate_s5p(tmp_path, S5PConfig(**kw))  # type: ignore[arg-type]
    swath, _ = apply_qa(read_swath(path))
    return swath


def _bbox_of(s: Swath, margin: float = 0.2) -> tuple[float, float, float, float]:
    return (float(np.nanmin(s.lon_bounds)) - margin, float(np.nanmin(s.lat_bounds)) - margin,
            float(np.nanmax(s.lon_bounds)) + margin, float(np.nanmax(s.lat_bounds)) + margin)


# --- the grid ------------------------------------------------------------------------------------


def test_grid_from_bbox__snapped_outwards_north_up() -> None:
    g = LonLatGrid.from_bbox((118.62, 31.91, 118.93, 32.18), 0.05)
    assert (g.nx, g.ny) == (7, 6)
    assert g.bbox == pytest.approx((118.6, 31.9, 118.95, 32.2))
    assert g.lat[0] > g.lat[-1] and g.lat[0] == pytest.approx(32.175)
    assert g.transform == pytest.approx((0.05, 0.0, 118.6, 0.0, -0.05, 32.2))
    across = LonLatGrid.from_bbox((179.0, -1.0, -179.0, 1.0), 0.1)  # RFC 7946: west > east
    assert across.nx == 20 and across.crosses_antimeridian and across.east == pytest.approx(181)
    assert across.lon[0] == pytest.approx(179.05) and across.lon[-1] == pytest.approx(-179.05)
    world = LonLatGrid.world(1.0)
    assert world.shape == (180, 360)
    total = world.cell_area_km2().sum() * world.nx
    assert total == pytest.approx(4 * math.pi * EARTH_RADIUS_KM**2, rel=1e-9)
    with pytest.raises(ValueError, match="south < north"):
        LonLatGrid.from_bbox((0, 1, 1, 0), 0.1)


# --- exact overlaps ------------------------------------------------------------------------------


def test_a_pixel_over_four_cells_splits_into_exact_quarters() -> None:
    grid = LonLatGrid.from_bbox((0.0, 0.0, 0.1, 0.1), 0.05)
    s = _pixels([[0.025, 0.075, 0.075, 0.025]], [[0.025, 0.025, 0.075, 0.075]], [7.0])
    acc = grid_orbit(s, grid)
    np.testing.assert_allclose(acc.weight, np.full((2, 2), 0.025**2), rtol=1e-12)
    assert (acc.count == 1).all()
    np.testing.assert_allclose(acc.finalise().mean, 7.0, rtol=1e-15)
    # clockwise corners: the same areas
    cw = _pixels([[0.025, 0.025, 0.075, 0.075]], [[0.025, 0.075, 0.075, 0.025]], [7.0])
    np.testing.assert_allclose(grid_orbit(cw, grid).weight, acc.weight, rtol=1e-12)


def test_precision_weighting__inverse_variance_mean() -> None:
    grid = LonLatGrid.from_bbox((0.0, 0.0, 0.05, 0.05), 0.05)
    box = [0.0, 0.05, 0.05, 0.0]
    s = _pixels([box, box], [[0.0, 0.0, 0.05, 0.05]] * 2, [10.0, 20.0], precision=[1.0, 2.0])
    by_area = grid_orbit(s, grid).finalise()
    by_precision = grid_orbit(s, grid, weighting="area/precision2").finalise()
    assert by_area.mean[0, 0] == pytest.approx(15.0)
    assert by_precision.mean[0, 0] == pytest.approx((10 / 1 + 20 / 4) / (1 / 1 + 1 / 4))
    assert by_precision.std[0, 0] == pytest.approx(4.0)  # sqrt(0.8·6² + 0.2·4²)... = 4
    with pytest.raises(ValueError, match="needs a precision"):
        grid_orbit(replace(s, precision=None), grid, weighting="area/precision2")


def test_uniform_field_grids_to_itself_exactly(tmp_path: Path) -> None:
    s = _synthetic(tmp_path, noise=0.0, background=1850.0, cloud_fraction=0.3, bad_corners=4)
    grid = LonLatGrid.from_bbox(_bbox_of(s), 0.05)
    m = grid_orbit(s, grid).finalise()
    has = m.weight > 0
    assert has.sum() > 300 and ((m.count > 0) == has).all()
    np.testing.assert_allclose(m.mean[has], 1850.0, rtol=1e-13, atol=0)
    # the spread of a cell, from Σw·v² - mean²·Σw, has a rounding floor of ~1e-8 · mean
    assert np.isnan(m.mean[~has]).all() and np.nanmax(m.std) < 1e-3


def test_unusable_corners_never_weighted_even_without_qa(tmp_path: Path) -> None:
    path, _ = generate_s5p(tmp_path, S5PConfig(noise=0.0, cloud_fraction=0.0, bad_corners=6))
    raw = read_swath(path)  # no apply_qa: NaN corners reach grid_orbit
    grid = LonLatGrid.from_bbox(_bbox_of(raw), 0.05)
    m = grid_orbit(raw, grid).finalise()
    np.testing.assert_allclose(m.mean[m.weight > 0], 1880.0, rtol=1e-13)
    good, _ = apply_qa(raw)
    np.testing.assert_allclose(grid_orbit(good, grid).weight, m.weight, rtol=1e-12)


@pytest.mark.parametrize("res", [0.01, 0.05, 0.1])
def test_weighted_total_is_conserved(tmp_path: Path, res: float) -> None:
    spot = Hotspot(118.8, 32.0, 60.0, sigma_km=12.0)
    s = _synthetic(tmp_path, hotspots=(spot,), cloud_fraction=0.25, seed=5)
    # a grid smaller than the swath: the pixels entirely inside it
    west, south, east, north = 117.6, 30.6, 120.1, 33.4
    inside = ((s.lon_bounds > west) & (s.lon_bounds < east) & (s.lat_bounds > south)
              & (s.lat_bounds < north)).all(axis=1)
    sub = s.select(inside)
    acc = grid_orbit(sub, LonLatGrid.from_bbox((west, south, east, north), res))
    area = pixel_areas(sub)
    expected = float(np.sum(sub.value * area))
    assert len(sub) > 1000
    assert acc.weighted_sum.sum() == pytest.approx(expected, rel=1e-3)  # the goal: 0.1 %
    assert acc.weighted_sum.sum() == pytest.approx(expected, rel=1e-12)  # measured: exact
    assert acc.weight.sum() == pytest.approx(area.sum(), rel=1e-12)
    # pixels cut by the grid edge bring only their inside part
    partial = grid_orbit(s, LonLatGrid.from_bbox((west, south, east, north), res))
    assert area.sum() < partial.weight.sum() < pixel_areas(s).sum()


def test_hotspot_lands_in_the_right_cells(tmp_path: Path) -> None:
    spot = Hotspot(118.85, 32.1, 80.0, sigma_km=15.0)
    s = _synthetic(tmp_path, hotspots=(spot,), noise=0.0, cloud_fraction=0.0)
    grid = LonLatGrid.from_bbox(_bbox_of(s), 0.05)
    m = grid_orbit(s, grid).finalise()
    row, col = np.unravel_index(np.nanargmax(m.mean), m.mean.shape)
    assert abs(grid.lon[col] - 118.85) <= 0.05 and abs(grid.lat[row] - 32.1) <= 0.05
    assert 1880 + 70 < np.nanmax(m.mean) < 1880 + 80  # smoothed by the ~6 km pixels


def test_two_orbits_accumulate_as_one_file_of_both(tmp_path: Path) -> None:
    a = _synthetic(tmp_path / "a", seed=1, orbit=1)
    b = _synthetic(tmp_path / "b", seed=2, orbit=2, lon=118.95, lat=32.1)
    both = replace(a, source="both", **{
        k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in (
            "lon", "lat", "lon_bounds", "lat_bounds", "value", "precision", "qa", "time",
            "surface_pressure")})
    grid = LonLatGrid.from_bbox(_bbox_of(a), 0.05)
    added = grid_orbit(a, grid) + grid_orbit(b, grid)
    once = grid_orbit(both, grid)
    for name in ("weighted_sum", "weight", "weighted_sq"):
        np.testing.assert_allclose(getattr(added, name), getattr(once, name), rtol=1e-12)
    np.testing.assert_array_equal(added.count, once.count)
    assert added.sources == (a.source, b.source)
    mean = temporal_mean([grid_orbit(a, grid), grid_orbit(b, grid)])
    np.testing.assert_allclose(mean.mean, once.finalise().mean, rtol=1e-12)
    assert (added.count > grid_orbit(a, grid).count).any()  # the orbits overlap
    with pytest.raises(ValueError, match="different grids"):
        _ = added + grid_orbit(a, LonLatGrid.from_bbox(_bbox_of(a), 0.1))
    no2 = Accumulator.empty(grid, units="molecules cm-2")
    with pytest.raises(ValueError, match="cannot add accumulators of 'ppb'"):
        _ = added + no2


def test_a_swath_across_the_antimeridian_grids_to_both_sides(tmp_path: Path) -> None:
    s = _synthetic(tmp_path, lon=179.9, lat=-10.0, noise=0.0, background=1800.0,
                   gradient=(2.0, 0.0), cloud_fraction=0.1)
    crossing = np.ptp(s.lon_bounds, axis=1) > 180
    assert crossing.sum() > 50
    area = pixel_areas(s)
    assert area[crossing].max() < 2 * np.median(area)  # unwrapped, not 360° wide
    grid = LonLatGrid.from_bbox((175.0, -16.0, -175.0, -4.0), 0.05)
    acc = grid_orbit(s, grid)
    west, east = acc.weight[:, : grid.nx // 2], acc.weight[:, grid.nx // 2:]
    assert (west > 0).sum() > 100 and (east > 0).sum() > 100
    assert acc.weight.sum() == pytest.approx(area.sum(), rel=1e-12)
    assert acc.weighted_sum.sum() == pytest.approx(np.sum(s.value * area), rel=1e-12)
    # the same cells of a world grid, whose columns meet at ±180, get the same sums
    world = LonLatGrid.from_bbox((-180.0, -16.0, 180.0, -4.0), 0.05)
    w = grid_orbit(s, world)
    assert w.weight.sum() == pytest.approx(area.sum(), rel=1e-12)
    cols = np.round((grid.lon - world.west) / world.res - 0.5).astype(int)
    np.testing.assert_allclose(w.weight[:, cols], acc.weight, rtol=1e-9, atol=1e-15)
    # the field rises eastwards across the line: cells east of 180 are higher
    m = acc.finalise()
    row = np.nanargmax((m.weight > 0).sum(axis=1))
    lon_east = np.where(grid.lon < 0, grid.lon + 360, grid.lon)
    ok = m.weight[row] > 0
    slope = np.polyfit(lon_east[ok], m.mean[row, ok], 1)[0]
    assert slope == pytest.approx(2.0, rel=0.05)


def test_all_pixels_failing_qa__empty_valid_grid_and_a_warning(tmp_path: Path) -> None:
    path, _ = generate_s5p(tmp_path, S5PConfig(product="no2"))
    raw = read_swath(path)
    with pytest.warns(QaWarning, match=f"{path.name}: no pixel passes QA"):
        kept, report = apply_qa(replace(raw, qa=np.full(len(raw), 0.5)))
    assert len(kept) == 0 and report.low_qa == report.total
    grid = LonLatGrid.from_bbox(_bbox_of(raw), 0.1)
    acc = grid_orbit(kept, grid)
    assert acc.is_empty and acc.grid == grid and acc.sources == (path.name,)
    m = temporal_mean([acc])
    assert np.isnan(m.mean).all() and (m.weight == 0).all() and (m.count == 0).all()
    assert math.isnan(m.regional_mean())
    ds = m.to_dataset("no2", "tropospheric NO2 column")
    assert ds["no2"].shape == grid.shape and int(ds["no2_count"].sum()) == 0
    assert sum_accumulators([], grid).is_empty


def test_to_dataset__cf_variables_and_attributes(tmp_path: Path) -> None:
    s = _synthetic(tmp_path, product="no2")
    m = grid_orbit(s, LonLatGrid.from_bbox(_bbox_of(s), 0.1)).finalise()
    ds = m.to_dataset("no2")
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert ds["no2"].attrs["units"] == "molecules cm-2"
    assert ds["lat"].attrs["standard_name"] == "latitude"
    assert ds["crs"].attrs["grid_mapping_name"] == "latitude_longitude"
    assert float(ds["no2_count"].sum()) == float(m.count.sum())
    out = tmp_path / "no2.nc"
    ds.to_netcdf(out, engine="h5netcdf")
    assert out.stat().st_size > 0


# --- real blended CH4 orbits ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def orbits() -> list[Swath]:
    files = sorted(BLENDED.glob("S5P_BLND_L2__CH4____*.nc")) if BLENDED.is_dir() else []
    if not files:
        pytest.skip(f"real data folder {BLENDED} is absent")
    return [apply_qa(read_swath(p))[0] for p in files]


def _shapely_reference(s: Swath, grid: LonLatGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell means and weights by exact polygon clipping with shapely: each cell's box
    intersected with every pixel polygon that touches it."""
    polys = shapely.polygons(np.stack([s.lon_bounds, s.lat_bounds], axis=-1))
    tree = shapely.STRtree(polys)
    cols, rows = np.meshgrid(np.arange(grid.nx), np.arange(grid.ny))
    west = grid.west + cols.ravel() * grid.res
    north = grid.north - rows.ravel() * grid.res
    cells = shapely.box(west, north - grid.res, west + grid.res, north)
    cell_i, pix_i = tree.query(cells, predicate="intersects")
    area = shapely.area(shapely.intersection(polys[pix_i], cells[cell_i]))
    n = grid.nx * grid.ny
    weight = np.bincount(cell_i, area, minlength=n)
    total = np.bincount(cell_i, area * s.value[pix_i], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weight > 0, total / weight, np.nan)
    return mean.reshape(grid.shape), weight.reshape(grid.shape)


@pytest.mark.realdata
@pytest.mark.parametrize(("res", "size"), [(0.05, 2.0), (0.01, 0.5)])
def test_real_orbit__cell_means_equal_exact_shapely_clipping(
    orbits: list[Swath], res: float, size: float
) -> None:
    s = orbits[2]  # orbit 02883, over the densest 2° box of its pixels (Labrador Sea)
    west, south = -46.0, 62.0
    near = ((s.lon > west - 1) & (s.lon < west + size + 1) & (s.lat > south - 1)
            & (s.lat < south + size + 1))
    sub = s.select(near)
    grid = LonLatGrid.from_bbox((west, south, west + size, south + size), res)
    m = grid_orbit(sub, grid).finalise()
    ref_mean, ref_weight = _shapely_reference(sub, grid)
    has = ref_weight > 1e-12 * res**2
    assert has.sum() > 200
    np.testing.assert_array_equal(m.weight > 0, ref_weight > 0)
    diff = np.abs(m.mean[has] - ref_mean[has])
    assert diff.max() < 0.05  # ppb, the goal; measured <= 1e-11
    np.testing.assert_allclose(m.weight, ref_weight, rtol=1e-8, atol=1e-12 * res**2)


@pytest.mark.realdata
def test_real_orbits__regional_mean_equals_area_weighted_pixel_mean(
    orbits: list[Swath]
) -> None:
    for s in orbits:
        counts, xe, ye = np.histogram2d(s.lon, s.lat, bins=[np.arange(-130, -20, 10),
                                                            np.arange(-40, 90, 10)])
        i, j = np.unravel_index(counts.argmax(), counts.shape)
        bbox = (xe[i], ye[j], xe[i] + 10, ye[j] + 10)  # the orbit's densest 10° box
        m = grid_orbit(s, LonLatGrid.from_bbox(bbox, 0.1)).finalise()
        inside = ((s.lon >= bbox[0]) & (s.lon < bbox[2]) & (s.lat >= bbox[1])
                  & (s.lat < bbox[3]))
        area_km2 = pixel_areas(s) * np.cos(np.radians(s.lat))
        pixel_mean = np.sum((s.value * area_km2)[inside]) / area_km2[inside].sum()
        assert inside.sum() > 1000
        assert abs(m.regional_mean() - pixel_mean) < 1.0, s.source  # measured <= 0.013 ppb


@pytest.mark.realdata
def test_real_orbits__five_days_accumulate(orbits: list[Swath]) -> None:
    grid = LonLatGrid.from_bbox((-130.0, -40.0, -15.0, 85.0), 0.1)
    accs = [grid_orbit(s, grid) for s in orbits]
    total = sum_accumulators(accs)
    assert total.count.sum() == sum(int(a.count.sum()) for a in accs)
    assert total.weight.sum() == pytest.approx(sum(pixel_areas(s).sum() for s in orbits),
                                               rel=1e-9)
    m = total.finalise()
    assert 1700 < m.regional_mean() < 1900
    assert len(m.sources) == len(orbits)
