"""rs.ecology.trend: Theil–Sen + Mann–Kendall against pymannkendall and scipy, planted trends,
NaN handling, dask laziness and the real Sentinel-2 NDVI series."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pymannkendall as mk
import pytest
import xarray as xr
from scipy import stats as sps

from rs.ecology.trend import TREND_STATS, pixel_trends, series_trends, trend_arrays
from rs.errors import SpecError

#: Real data folder beside the repository (../shared/data/real), as tests/test_coast_positions.py
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
S2_NDVI = REAL / "optical/s2_ndvi_timeseries_slovenia"

PMK = {"slope": "slope", "intercept": "intercept", "tau": "Tau", "s": "s", "var_s": "var_s",
       "z": "z", "p": "p"}
TOL = {"slope": 1e-9, "intercept": 1e-9, "tau": 1e-12, "s": 0, "var_s": 1e-9, "z": 1e-9,
       "p": 1e-6}


def _assert_pmk(got: np.ndarray, series: np.ndarray, alpha: float = 0.05) -> None:
    """``got`` (one row of TREND_STATS) equals pymannkendall.original_test of ``series``."""
    ref = mk.original_test(series, alpha=alpha)
    row = dict(zip(TREND_STATS, got, strict=True))
    for ours, theirs in PMK.items():
        assert row[ours] == pytest.approx(getattr(ref, theirs), abs=TOL[ours], rel=0), ours
    assert row["slope"] == pytest.approx(mk.sens_slope(series).slope, abs=1e-9, rel=0)
    assert row["n"] == np.count_nonzero(~np.isnan(series))
    # the class: significant (p < alpha) and the sign of the slope; pymannkendall's 'trend'
    # follows the sign of z instead, which differs when ties make the median slope 0
    expected = np.sign(ref.slope) if ref.p < alpha else 0
    assert row["trend_class"] == expected
    if ref.slope != 0:
        assert expected == {"increasing": 1, "decreasing": -1, "no trend": 0}[ref.trend]


def test_equals_pymannkendall_on_random_series_with_ties_and_nans():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        n = int(rng.integers(5, 30))
        y = rng.normal(size=n) + rng.uniform(-0.1, 0.1) * np.arange(n)
        y = np.round(y, int(rng.integers(0, 2)))  # 0 or 1 decimal: many ties
        y[rng.random(n) < rng.uniform(0, 0.3)] = np.nan
        if np.count_nonzero(~np.isnan(y)) < 4:
            continue
        _assert_pmk(trend_arrays(y), y)
        checked += 1
    assert checked > 250


def test_a_batch_of_series_equals_one_at_a_time():
    rng = np.random.default_rng(1)
    y = np.round(rng.normal(size=(500, 12)), 1)
    y[rng.random(y.shape) < 0.15] = np.nan
    batch = trend_arrays(y.reshape(20, 25, 12))
    assert batch.shape == (20, 25, len(TREND_STATS))
    flat = batch.reshape(500, -1)
    for k in range(0, 500, 37):
        np.testing.assert_array_equal(flat[k], trend_arrays(y[k]))


def test_series_trends_per_polygon_with_years_and_dates():
    rng = np.random.default_rng(2)
    years = np.arange(2010, 2024)
    table = pd.DataFrame(np.round(rng.normal(size=(14, 6)) + 0.05 * np.arange(14)[:, None], 1),
                         index=years, columns=[f"county{i}" for i in range(6)])
    table.iloc[3, 2] = np.nan
    got = series_trends(table)
    assert list(got.index) == list(table.columns) and list(got.columns) == list(TREND_STATS)
    for col in table.columns:  # consecutive years: per year = per step, as pymannkendall
        _assert_pmk(got.loc[col].to_numpy(), table[col].to_numpy())
    # 1 January each year: decimal years are whole, the same answer per year
    dated = series_trends(table.set_axis(pd.to_datetime([f"{y}-01-01" for y in years])))
    pd.testing.assert_frame_equal(dated, got)
    assert dated.attrs["slope_units"] == "per year"
    # rows in any order: sorted by time first
    shuffled = table.iloc[rng.permutation(len(table))]
    pd.testing.assert_frame_equal(series_trends(shuffled), got)


def test_slope_per_year_on_irregular_dates_equals_scipy_theilslopes():
    rng = np.random.default_rng(3)
    days = np.sort(rng.choice(np.arange(0, 3650), size=40, replace=False))
    dates = pd.Timestamp("2015-01-01") + pd.to_timedelta(days, unit="D")
    y = 0.3 + 0.02 * days / 365.25 + rng.normal(0, 0.05, 40)
    y[rng.random(40) < 0.2] = np.nan
    got = series_trends(pd.DataFrame({"a": y}, index=dates)).loc["a"]
    from rs.coast.stats import decimal_years

    t = decimal_years(dates)
    ok = ~np.isnan(y)
    ref = sps.theilslopes(y[ok], t[ok])
    assert got["slope"] == pytest.approx(ref.slope, abs=1e-12)
    # intercept: the fitted value at the first date, median(y) - median(t - t0) * slope
    assert got["intercept"] == pytest.approx(
        np.median(y[ok]) - np.median(t[ok] - t[0]) * ref.slope, abs=1e-12)


def test_nan_only_and_short_series_give_nan_not_a_crash():
    y = np.full((4, 10), np.nan)
    y[1, :3] = [1.0, 2.0, 3.0]  # 3 values < min_count 4
    y[2, :4] = [1.0, 2.0, 3.0, 4.0]
    y[3] = 5.0  # constant: all tied, S = 0, var_s = 0 -> z 0, p 1, stable
    out = trend_arrays(y)
    n = TREND_STATS.index("n")
    assert out[:, n].tolist() == [0, 3, 4, 10]
    assert np.isnan(np.delete(out[0], n)).all() and np.isnan(np.delete(out[1], n)).all()
    assert not np.isnan(out[2]).any()
    const = dict(zip(TREND_STATS, out[3], strict=True))
    assert (const["slope"], const["s"], const["z"], const["p"], const["trend_class"]) == (
        0, 0, 0, 1, 0)
    # min_count is configurable
    relaxed = trend_arrays(y, min_count=3)
    assert not np.isnan(relaxed[1]).any()
    empty = series_trends(pd.DataFrame({"a": [np.nan] * 6}, index=np.arange(2000, 2006)))
    assert empty.loc["a", "n"] == 0 and np.isnan(empty.loc["a", "trend_class"])


def _planted_cube(seed: int = 4) -> tuple[xr.DataArray, np.ndarray]:
    """12 annual NDVI maps (80 x 80): +0.02/yr in the top-left block, -0.02/yr in the
    bottom-right block, noise (sd 0.02) everywhere, 5 % of values missing.
    Returns the cube and the planted sign per pixel (0: stable)."""
    rng = np.random.default_rng(seed)
    nt, ny, nx = 12, 80, 80
    truth = np.zeros((ny, nx))
    truth[:30, :30] = 1
    truth[50:, 50:] = -1
    years = np.arange(nt)
    values = 0.5 + 0.02 * truth[None] * years[:, None, None] + rng.normal(0, 0.02, (nt, ny, nx))
    values[rng.random(values.shape) < 0.05] = np.nan
    times = pd.to_datetime([f"{2012 + y}-01-01" for y in years])
    cube = xr.DataArray(values, dims=("time", "y", "x"), coords={"time": times})
    return cube, truth


def test_planted_trends_signs_and_false_positive_rate():
    cube, truth = _planted_cube()
    ds = pixel_trends(cube)
    cls = ds["trend_class"].values
    planted = truth != 0
    correct = np.mean(cls[planted] == truth[planted])
    assert correct >= 0.95
    assert np.mean(np.sign(ds["slope"].values[planted]) == truth[planted]) >= 0.99
    # slope per year close to the planted 0.02 on average
    assert np.nanmean(ds["slope"].values[truth == 1]) == pytest.approx(0.02, abs=0.002)
    assert np.nanmean(ds["slope"].values[truth == -1]) == pytest.approx(-0.02, abs=0.002)
    stable = cls[~planted]
    rate = float(np.mean(stable != 0))
    n = stable.size
    sigma = np.sqrt(0.05 * 0.95 / n)
    print(f"planted: {correct:.1%} significant with the right sign; stable pixels flagged "
          f"significant: {rate:.2%} of {n} (alpha 5%, ±4σ = ±{4 * sigma:.2%})")
    assert abs(rate - 0.05) <= 4 * sigma
    assert ds.attrs["slope_units"] == "per year"
    assert ds["n"].dtype == np.int32


def test_dask_backed_cube_stays_lazy_and_equals_the_eager_result():
    cube, _ = _planted_cube(5)
    cube[:, 10:14, 20:24] = np.nan  # a NaN-only patch
    computed: list[int] = []

    def spy(block: np.ndarray) -> np.ndarray:
        computed.append(1)
        return block

    # split along time too: pixel_trends rechunks to one time chunk
    lazy_data = da.from_array(cube.values, chunks=(6, 32, 32)).map_blocks(
        spy, meta=np.empty((0, 0, 0)))
    lazy = cube.copy(data=lazy_data)
    ds = pixel_trends(lazy)
    assert not computed
    assert all(v.chunks is not None for v in ds.data_vars.values())
    eager = pixel_trends(cube)
    result = ds.compute()
    assert computed
    xr.testing.assert_equal(result, eager)
    assert np.isnan(result["slope"].values[10:14, 20:24]).all()
    assert (result["n"].values[10:14, 20:24] == 0).all()


def test_a_cube_in_any_time_order_gives_the_same_trends():
    cube, _ = _planted_cube(7)
    shuffled = cube.isel(time=np.random.default_rng(8).permutation(cube.sizes["time"]))
    xr.testing.assert_equal(pixel_trends(shuffled), pixel_trends(cube))


def test_positions_without_a_time_coordinate_and_bad_input():
    cube, _ = _planted_cube(6)
    plain = cube.drop_vars("time")
    ds = pixel_trends(plain)
    assert ds.attrs["slope_units"] == "per time step"
    np.testing.assert_array_equal(ds["slope"].values, pixel_trends(cube)["slope"].values)
    with pytest.raises(SpecError, match="no 'year' dimension"):
        pixel_trends(cube, dim="year")
    with pytest.raises(SpecError, match="alpha"):
        trend_arrays(np.zeros(5), alpha=5)
    with pytest.raises(SpecError, match="min_count"):
        trend_arrays(np.zeros(5), min_count=1)
    with pytest.raises(SpecError, match="datetimes or numbers"):
        series_trends(pd.DataFrame({"a": [1.0, 2.0]}, index=["spring", "summer"]))
    with pytest.raises(SpecError, match="datetimes or numbers"):
        pixel_trends(cube.assign_coords(time=[f"t{i}" for i in range(cube.sizes["time"])]))


# --- the real Sentinel-2 NDVI series -------------------------------------------------------------


@pytest.mark.skipif(not S2_NDVI.exists(), reason=f"{S2_NDVI} not present")
def test_real_sentinel2_ndvi_series_equals_pymannkendall_per_pixel():
    ndvi = np.load(S2_NDVI / "data/NDVI.npy", allow_pickle=False)[..., 0].astype(np.float64)
    cloud = np.load(S2_NDVI / "mask/CLM.npy", allow_pickle=False)[..., 0].astype(bool)
    valid = np.load(S2_NDVI / "mask/IS_VALID.npy", allow_pickle=False)[..., 0]
    times = pd.to_datetime(json.loads((S2_NDVI / "timestamps.json").read_text()))
    ndvi[cloud | ~valid] = np.nan  # 68 dates, 101 x 100 pixels
    cube = xr.DataArray(ndvi, dims=("time", "y", "x"), coords={"time": times})
    # the index as time (pymannkendall's definition): every statistic equals it
    steps = pixel_trends(cube.drop_vars("time").chunk({"y": 50, "x": 50})).compute()
    rng = np.random.default_rng(7)
    pixels = [(int(r), int(c)) for r, c in zip(rng.integers(0, 101, 40),
                                              rng.integers(0, 100, 40), strict=True)]
    for r, c in pixels:
        got = np.array([steps[k].values[r, c] for k in TREND_STATS])
        _assert_pmk(got, ndvi[:, r, c])
    # the dates as time: slope per year equals scipy's Theil-Sen on decimal years
    from rs.coast.stats import decimal_years

    per_year = pixel_trends(cube)
    t = decimal_years(times)
    for r, c in pixels[:10]:
        ok = ~np.isnan(ndvi[:, r, c])
        ref = sps.theilslopes(ndvi[ok, r, c], t[ok])
        assert per_year["slope"].values[r, c] == pytest.approx(ref.slope, abs=1e-9)
    flagged = np.isin(steps["trend_class"].values, (-1, 1)).mean()
    print(f"real S2 NDVI: {flagged:.1%} of pixels with a significant trend (per step)")
