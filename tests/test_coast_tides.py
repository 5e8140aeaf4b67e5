"""Tide correction of shoreline positions (rs.coast.tides): the sign convention on planted
shifts, linear interpolation, coverage and gap refusals, slope checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rs.coast.tides import check_slopes, tide_correct, tide_levels, tide_shift
from rs.errors import SpecError

T0 = pd.Timestamp("2020-03-01T00:00Z")


def _tide(hours: list[float], levels: list[float]) -> pd.Series:
    return pd.Series(levels, index=T0 + pd.to_timedelta(hours, unit="h"))


def _flat(level: float, hours: float = 6) -> pd.Series:
    """A constant water level every 15 minutes for ``hours`` from T0."""
    grid = np.arange(0, hours + 0.25, 0.25)
    return _tide(list(grid), [level] * grid.size)


def test_tide_correct__planted_half_metre_with_slope_0_1_moves_5_m_seaward() -> None:
    times = T0 + pd.to_timedelta([1, 2, 3], unit="h")
    x = pd.DataFrame({"A": [40.0, 41.0, 42.0], "B": [10.0, np.nan, 12.0]}, index=times)
    tide = _flat(0.5)
    corr = tide_correct(x, tide, 0.1, z_ref=0.0)
    # a higher water level puts the waterline landward: the correction moves it seaward (+x)
    np.testing.assert_allclose(corr.positions["A"], [45.0, 46.0, 47.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(corr.positions["B"], [15.0, np.nan, 17.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(corr.shift.to_numpy(), 5.0, rtol=0, atol=1e-12)
    assert corr.uncovered.empty and (corr.levels == 0.5).all()


def test_tide_correct__below_the_reference_moves_landward_and_slopes_are_per_transect() -> None:
    times = T0 + pd.to_timedelta([1, 2], unit="h")
    x = pd.DataFrame({"A": [40.0, 40.0], "B": [20.0, 20.0]}, index=times)
    tide = _flat(0.2)
    corr = tide_correct(x, tide, {"A": 0.1, "B": 0.05}, z_ref=0.7)  # 0.5 m below z_ref
    np.testing.assert_allclose(corr.positions["A"], [35.0, 35.0], atol=1e-12)
    np.testing.assert_allclose(corr.positions["B"], [10.0, 10.0], atol=1e-12)


def test_tide_correct__recovers_a_beach_seen_at_varying_tide() -> None:
    # the z_ref contour sits at x0; at water level η the waterline is (η - z_ref)/tanβ landward
    rng = np.random.default_rng(1)
    hours = np.sort(rng.uniform(0, 24 * 30, 40))
    times = T0 + pd.to_timedelta(hours, unit="h")
    grid = np.arange(0, 24 * 31, 0.25)
    tide = _tide(list(grid), list(0.8 * np.sin(2 * np.pi * grid / 12.42)))
    slopes = {"A": 0.08, "B": 0.12}
    eta = np.interp(hours, grid, tide.to_numpy())
    x0 = {"A": 55.0, "B": 70.0}
    z_ref = 0.3
    seen = pd.DataFrame({k: x0[k] - (eta - z_ref) / slopes[k] for k in x0}, index=times)
    corr = tide_correct(seen, tide, slopes, z_ref=z_ref)
    for k in x0:
        np.testing.assert_allclose(corr.positions[k], x0[k], rtol=0, atol=1e-9)


def test_tide_levels__linear_between_samples_any_order() -> None:
    tide = _tide([2, 0, 1], [3.0, 1.0, 2.0])  # unsorted on purpose
    q = T0 + pd.to_timedelta([0, 0.5, 1, 1.75, 2], unit="h")
    lv = tide_levels(tide.index, tide.to_numpy(), q)
    np.testing.assert_allclose(lv.levels, [1.0, 1.5, 2.0, 2.75, 3.0], rtol=0, atol=1e-12)
    assert (lv.reasons == "").all() and not lv.missing.any()
    # naive times are UTC; offsets are converted
    naive = pd.DatetimeIndex(["2020-03-01T00:30"])
    offset = pd.DatetimeIndex(["2020-03-01T10:30+10:00"])
    assert tide_levels(tide.index, tide.to_numpy(), naive).levels[0] == pytest.approx(1.5)
    assert tide_levels(tide.index, tide.to_numpy(), offset).levels[0] == pytest.approx(1.5)


def test_tide_levels__outside_the_series_or_beyond_the_gap_is_nan_with_a_reason() -> None:
    tide = _tide([0, 1, 7, 8], [0.0, 1.0, 7.0, 8.0])  # a 6 h hole between 1 h and 7 h
    q = T0 + pd.to_timedelta([-1, 1.5, 4, 6.5, 9], unit="h")
    lv = tide_levels(tide.index, tide.to_numpy(), q, max_gap=pd.Timedelta("1h"))
    assert lv.missing.tolist() == [True, False, True, False, True]
    np.testing.assert_allclose(lv.levels[[1, 3]], [1.5, 6.5])
    assert lv.reasons[0].startswith("before the tide series (starts 2020-03-01T00:00:00")
    assert "no tide sample within 0 days 01:00:00" in lv.reasons[2]
    assert lv.reasons[4].startswith("after the tide series (ends 2020-03-01T08:00:00")
    wide = tide_levels(tide.index, tide.to_numpy(), q, max_gap=pd.Timedelta("3h"))
    assert wide.missing.tolist() == [True, False, False, False, True]
    np.testing.assert_allclose(wide.levels[2], 4.0)


def test_tide_correct__uncovered_dates_are_nan_and_listed() -> None:
    times = T0 + pd.to_timedelta([1, 30], unit="h")
    x = pd.DataFrame({"A": [40.0, 41.0]}, index=times)
    corr = tide_correct(x, _flat(0.5), 0.1)
    assert corr.positions["A"].isna().tolist() == [False, True]
    assert list(corr.uncovered.index) == [times[1]]
    assert corr.uncovered.iloc[0].startswith("after the tide series")


def test_tide_levels__bad_series_refused() -> None:
    q = pd.DatetimeIndex([T0])
    with pytest.raises(SpecError, match="repeated time"):
        tide_levels(pd.DatetimeIndex([T0, T0]), [1.0, 2.0], q)
    with pytest.raises(SpecError, match="no water level"):
        tide_levels(pd.DatetimeIndex([T0]), [np.nan], q)
    with pytest.raises(SpecError, match="0 or more"):
        tide_levels(pd.DatetimeIndex([T0]), [1.0], q, max_gap=pd.Timedelta("-1h"))


def test_check_slopes__refusals_and_order() -> None:
    np.testing.assert_array_equal(check_slopes({"B": 0.2, "A": 0.1}, ["A", "B"]), [0.1, 0.2])
    np.testing.assert_array_equal(check_slopes(0.1, ["A", "B"]), [0.1, 0.1])
    with pytest.raises(SpecError, match=r"transect B is 0\.0"):
        check_slopes({"A": 0.1, "B": 0.0}, ["A", "B"])
    with pytest.raises(SpecError, match="> 0"):
        check_slopes(-0.1, ["A"])
    with pytest.raises(SpecError, match="> 0"):
        check_slopes({"A": np.nan}, ["A"])
    with pytest.raises(SpecError, match=r"no beach slope for transect.*B"):
        check_slopes({"A": 0.1}, ["A", "B"])
    with pytest.raises(SpecError, match=r"unknown transect.*Z"):
        check_slopes({"A": 0.1, "Z": 0.1}, ["A"])


def test_tide_shift__dates_by_transects() -> None:
    got = tide_shift(np.array([0.0, 0.5, 1.0]), np.array([0.1, 0.5]), z_ref=0.5)
    np.testing.assert_allclose(got, [[-5.0, -1.0], [0.0, 0.0], [5.0, 1.0]], atol=1e-12)
