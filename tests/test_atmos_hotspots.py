"""Getis-Ord Gi* hotspots on a lon/lat grid (rs.atmos.hotspots)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from esda.getisord import G_Local
from libpysal.weights import W, lat2W

from rs.atmos.hotspots import (
    COLD,
    HOT,
    NO_DATA,
    NOT_SIGNIFICANT,
    benjamini_hochberg,
    getis_ord,
    grid_weights,
    hotspot_polygons,
)
from rs.atmos.lonlat import LonLatGrid
from rs.testing.s5p import Hotspot, S5PConfig, truth_field

ALPHA = 0.05
PLANTED = (  # amplitudes 3 to 6 noise sigmas, sigma 8-12 km
    Hotspot(118.45, 31.55, 2.5e15, 10.0),
    Hotspot(119.20, 32.20, 4.0e15, 12.0),
    Hotspot(118.70, 32.45, 2.1e15, 8.0),
)
NOISE = 7e14


def _planted_field(seed: int = 0) -> tuple[LonLatGrid, np.ndarray]:
    grid = LonLatGrid.from_bbox((118.0, 31.2, 119.6, 32.8), 0.04)  # 40 x 40 cells, ~4 km
    cfg = S5PConfig(product="no2", background=1.5e15, hotspots=PLANTED)
    lon, lat = np.meshgrid(grid.lon, grid.lat)
    truth = truth_field(cfg, lon, lat)
    return grid, truth + NOISE * np.random.default_rng(seed).standard_normal(grid.shape)


def _cell(grid: LonLatGrid, lon: float, lat: float) -> tuple[int, int]:
    return int((grid.north - lat) // grid.res), int((lon - grid.west) // grid.res)


@pytest.mark.parametrize("fdr", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_planted_hotspot_is_found(seed: int, fdr: bool) -> None:
    grid, y = _planted_field(seed)
    res = getis_ord(y, grid, alpha=ALPHA, fdr=fdr)
    for h in PLANTED:
        r, c = _cell(grid, h.lon, h.lat)
        assert res.cls[r, c] == HOT, (h, res.z[r, c], res.p[r, c])
    table = hotspot_polygons(res, y)
    for h in PLANTED:  # each planted centre lies in one hotspot polygon with a high mean
        inside = [i for i, g in enumerate(table["geometry"])
                  if shapely.contains_xy(g, h.lon, h.lat)]
        assert len(inside) == 1
        row = table.iloc[inside[0]]
        assert row["mean_value"] > 1.5e15 + 0.3 * h.amplitude
        assert row["max_z"] > 3.0
        assert row["area_km2"] == pytest.approx(
            row["n_cells"] * grid.cell_area_km2().mean(), rel=0.01)
    if fdr:  # with FDR the polygons are the planted hotspots and nothing else
        assert len(table) == len(PLANTED)


def _noise_rates(fdr: bool, seeds: range) -> tuple[float, float, int]:
    grid = LonLatGrid.from_bbox((118.0, 31.0, 119.6, 32.6), 0.02)  # 80 x 80
    sig = hot = n = 0
    for s in seeds:
        y = 1.5e15 + NOISE * np.random.default_rng(100 + s).standard_normal(grid.shape)
        res = getis_ord(y, grid, alpha=ALPHA, fdr=fdr)
        sig += int((res.cls == HOT).sum() + (res.cls == COLD).sum())
        hot += int((res.cls == HOT).sum())
        n += int(res.tested.sum())
    return sig / n, hot / n, n


def test_false_positive_rate_on_pure_noise_is_about_alpha() -> None:
    rate, hot_rate, n = _noise_rates(False, range(4))
    # neighbouring Gi* share cells, so the significant cells come in clumps: the binomial
    # tolerance uses n / 9 (the queen neighbourhood) as the effective number of tests
    tol = 3.0 * math.sqrt(ALPHA * (1 - ALPHA) / (n / 9))
    assert ALPHA - tol <= rate <= ALPHA + tol, rate  # measured 0.0460 (tol 0.0123)
    assert hot_rate == pytest.approx(rate / 2, abs=tol / 2)  # two-sided: half of it hot


def test_false_positive_rate_with_fdr_is_much_lower() -> None:
    rate, _, _ = _noise_rates(True, range(4))
    assert rate <= ALPHA / 10, rate  # measured 0 of 25,600 cells


def test_z_equals_a_direct_esda_call() -> None:
    grid = LonLatGrid.from_bbox((10.0, 40.0, 10.7, 40.6), 0.1)  # 6 x 7
    y = np.random.default_rng(5).gamma(3.0, 1.0, grid.shape)
    for rook in (False, True):
        w = lat2W(grid.ny, grid.nx, rook=rook)
        ref = G_Local(y.ravel(), w, transform="B", star=True, permutations=0)
        res = getis_ord(y, grid, weights="rook" if rook else "queen")
        np.testing.assert_allclose(res.z.ravel(), ref.Zs, rtol=1e-12)
        np.testing.assert_allclose(res.p.ravel(), 2 * ref.p_norm, rtol=1e-12)
        # a corner cell: 2 (rook) or 3 (queen) neighbours, plus the cell itself
        assert res.n_neighbours[0, 0] == (3 if rook else 4)


def test_nan_cells_are_left_out_of_the_weights() -> None:
    grid = LonLatGrid.from_bbox((10.0, 40.0, 10.5, 40.5), 0.1)  # 5 x 5
    y = np.random.default_rng(6).gamma(3.0, 1.0, grid.shape)
    y[1, 1:4] = np.nan
    y[3, 3] = np.nan
    y[4, 4] = 1e6  # an island once its neighbours are gone
    y[3, 4] = y[4, 3] = np.nan
    res = getis_ord(y, grid, weights="rook")
    assert res.cls[4, 4] == NO_DATA and np.isnan(res.z[4, 4])  # island: not tested
    assert (res.cls[np.isnan(y)] == NO_DATA).all()
    # reference: rook neighbours written by hand among the valid non-island cells
    ok = np.isfinite(y)
    ok[4, 4] = False
    ids = {(r, c): k for k, (r, c) in enumerate(zip(*np.nonzero(ok), strict=True))}
    nb = {k: [ids[(r + dr, c + dc)] for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
              if (r + dr, c + dc) in ids] for (r, c), k in ids.items()}
    ref = G_Local(y[ok], W(nb), transform="B", star=True, permutations=0)
    np.testing.assert_allclose(res.z[ok], ref.Zs, rtol=1e-12)
    assert (res.cls[ok] != NO_DATA).all()


def test_distance_band_counts_cells_within_the_distance_on_the_sphere() -> None:
    grid = LonLatGrid.from_bbox((118.0, 31.0, 119.0, 32.0), 0.05)
    w, ids = grid_weights(np.ones(grid.shape, bool), grid, "distance", distance_km=12.0)
    lon, lat = np.meshgrid(grid.lon, grid.lat)
    lo, la = np.radians(lon.ravel()), np.radians(lat.ravel())
    for i in (0, 210, 399):
        a = (np.sin((la - la[i]) / 2) ** 2
             + np.cos(la) * np.cos(la[i]) * np.sin((lo - lo[i]) / 2) ** 2)
        d = 2 * 6371.0072 * np.arcsin(np.sqrt(a))
        assert w.cardinalities[i] == int((d <= 12.0).sum()) - 1  # self excluded
    assert ids.size == grid.nx * grid.ny


def test_permutation_significance_is_seeded_and_agrees_at_the_hotspots() -> None:
    grid, y = _planted_field(0)
    a = getis_ord(y, grid, method="permutation", permutations=199, seed=3)
    b = getis_ord(y, grid, method="permutation", permutations=199, seed=3)
    np.testing.assert_array_equal(a.p, b.p)
    assert a.p[np.isfinite(a.p)].min() == pytest.approx(2 / 200)
    for h in PLANTED:
        r, c = _cell(grid, h.lon, h.lat)
        assert a.cls[r, c] == HOT


def test_benjamini_hochberg_matches_the_definition() -> None:
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.2, 0.001])
    q = benjamini_hochberg(p)
    # sorted 0.001, 0.01, 0.03, 0.04, 0.2 (m = 5): p * m / rank, then the running minimum
    expect = {5: 0.005, 0: 0.025, 2: 0.05, 1: 0.05, 4: 0.2}
    for i, v in expect.items():
        assert q[i] == pytest.approx(v)
    assert np.isnan(q[3])


def test_cold_spots_and_classes() -> None:
    grid, y = _planted_field(0)
    y = 2 * 1.5e15 - y  # hotspots become cold spots
    res = getis_ord(y, grid, fdr=True)
    for h in PLANTED:
        r, c = _cell(grid, h.lon, h.lat)
        assert res.cls[r, c] == COLD
    assert set(np.unique(res.cls)) <= {HOT, COLD, NOT_SIGNIFICANT}
    assert len(hotspot_polygons(res, y, cls=COLD)) == len(PLANTED)


def test_polygons_across_the_antimeridian_are_split() -> None:
    grid = LonLatGrid.from_bbox((179.0, 0.0, -179.0, 1.0), 0.1)  # 20 x 10, across ±180
    y = np.random.default_rng(7).normal(0.0, 1.0, grid.shape) + 100.0
    y[3:7, 8:12] += 8.0  # a block on both sides of 180
    res = getis_ord(y, grid, fdr=True)
    table = hotspot_polygons(res, y)
    assert len(table) >= 1
    g = table.iloc[0]["geometry"]
    west, _, east, _ = g.bounds
    assert west >= -180.0 and east <= 180.0
    assert g.geom_type == "MultiPolygon"
