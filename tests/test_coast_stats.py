"""DSAS statistics per transect (rs.coast.stats) against an independent computation and
hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from rs.coast.stats import COLUMNS, decimal_years, transect_stats
from rs.errors import SpecError

TOL = {"rtol": 1e-9, "atol": 1e-9}


def _decimal_year(t: pd.Timestamp) -> float:
    """Independent decimal year: plain Timestamp arithmetic, one time at a time."""
    t = t.tz_convert("UTC")
    start, end = pd.Timestamp(t.year, 1, 1, tz="UTC"), pd.Timestamp(t.year + 1, 1, 1, tz="UTC")
    return t.year + (t - start) / (end - start)


def _reference(years: np.ndarray, x: np.ndarray, sigma: np.ndarray, conf: float) -> dict:
    """One transect, the textbook way: scipy linregress for OLS, numpy lstsq for WLS."""
    m = np.isfinite(x)
    t, y, s = years[m], x[m], sigma[m]
    n = m.sum()
    order = np.argsort(t, kind="stable")
    t_sorted, y_sorted, s_sorted = t[order], y[order], s[order]
    out = {
        "n": n,
        "sce": y.max() - y.min(),
        "nsm": y_sorted[-1] - y_sorted[0],
        "epr": (y_sorted[-1] - y_sorted[0]) / (t_sorted[-1] - t_sorted[0]),
        "epr_unc": np.hypot(s_sorted[0], s_sorted[-1]) / (t_sorted[-1] - t_sorted[0]),
    }
    q = sps.t.ppf(0.5 + conf / 2, n - 2)
    lr = sps.linregress(t, y)
    res = y - (lr.intercept + lr.slope * t)
    out |= {
        "lrr": lr.slope,
        "lrr_se": lr.stderr,
        "lrr_r2": lr.rvalue**2,
        "lse": np.sqrt((res**2).sum() / (n - 2)),
        "lrr_ci": q * lr.stderr,
    }
    w = 1 / s**2
    a = np.column_stack([np.ones_like(t), t]) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(a, y * np.sqrt(w), rcond=None)
    wres = y - (coef[0] + coef[1] * t)
    wse = np.sqrt((w * wres**2).sum() / (n - 2))
    cov = wse**2 * np.linalg.inv(a.T @ a)
    ybar_w = (w * y).sum() / w.sum()
    out |= {
        "wlr": coef[1],
        "wse": wse,
        "wlr_se": np.sqrt(cov[1, 1]),
        "wlr_ci": q * np.sqrt(cov[1, 1]),
        "wlr_r2": 1 - (w * wres**2).sum() / (w * (y - ybar_w) ** 2).sum(),
    }
    return out


def _random_table(seed: int, n_dates: int = 60, n_transects: int = 25):
    rng = np.random.default_rng(seed)
    # irregular times over ~30 years, shuffled (the function must not assume sorted rows)
    seconds = rng.uniform(0, 30 * 365.25 * 86400, n_dates)
    times = pd.Timestamp("1990-03-07T10:00Z") + pd.to_timedelta(seconds, unit="s")
    rates = rng.normal(0, 1.5, n_transects)
    years = np.array([_decimal_year(t) for t in times])
    x = 50 + rates * (years[:, None] - 1990) + rng.normal(0, 8, (n_dates, n_transects))
    x[rng.random(x.shape) < 0.3] = np.nan  # 30 % missing
    sigma = rng.uniform(2, 15, x.shape)
    df = pd.DataFrame(x, index=pd.DatetimeIndex(times), columns=[f"T{i}" for i in range(25)])
    return df, pd.DataFrame(sigma, index=df.index, columns=df.columns), years


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("conf", [0.95, 0.8])
def test_transect_stats__equal_an_independent_computation(seed: int, conf: float) -> None:
    df, sigma, years = _random_table(seed)
    got = transect_stats(df, uncertainty=sigma, confidence=conf)
    assert list(got.columns) == list(COLUMNS)
    assert list(got.index) == list(df.columns) and got.index.name == "transect"
    for j, name in enumerate(df.columns):
        ref = _reference(years, df.iloc[:, j].to_numpy(), sigma.iloc[:, j].to_numpy(), conf)
        for key, value in ref.items():
            np.testing.assert_allclose(got.loc[name, key], value, **TOL, err_msg=f"{name} {key}")
    assert (got["reason"] == "").all()
    assert got.attrs["confidence"] == conf


def test_transect_stats__oldest_youngest_are_the_end_points_per_transect() -> None:
    df, _, _ = _random_table(3)
    got = transect_stats(df)
    for name in df.columns:
        valid = df[name].dropna().sort_index()
        assert got.loc[name, "oldest"] == valid.index[0]
        assert got.loc[name, "youngest"] == valid.index[-1]
        span = _decimal_year(valid.index[-1]) - _decimal_year(valid.index[0])
        np.testing.assert_allclose(got.loc[name, "span_years"], span, **TOL)


def test_transect_stats__row_order_and_other_columns_do_not_matter() -> None:
    df, sigma, _ = _random_table(4)
    whole = transect_stats(df, uncertainty=sigma)
    shuffled = df.sample(frac=1.0, random_state=1)
    again = transect_stats(shuffled, uncertainty=sigma.loc[shuffled.index])
    one = transect_stats(df[["T7"]], uncertainty=sigma[["T7"]])
    num = [c for c in COLUMNS if c not in ("oldest", "youngest", "reason")]
    np.testing.assert_allclose(again[num].to_numpy(float), whole[num].to_numpy(float), **TOL)
    np.testing.assert_allclose(one[num].to_numpy(float), whole.loc[["T7"], num].to_numpy(float))


def test_decimal_years__calendar_fraction_with_leap_years() -> None:
    times = pd.DatetimeIndex(
        ["2020-01-01T00:00Z", "2020-07-02T00:00Z", "2021-07-02T12:00Z", "1999-12-31T23:59:59Z"]
    )
    got = decimal_years(times)
    np.testing.assert_allclose(got, [_decimal_year(t) for t in times], rtol=0, atol=1e-12)
    assert got[1] == 2020 + 183 / 366
    # naive times are UTC; another offset is converted
    assert decimal_years(pd.DatetimeIndex(["2020-07-02"]))[0] == got[1]
    assert decimal_years(pd.DatetimeIndex(["2020-07-02T10:00+10:00"]))[0] == got[1]


def test_transect_stats__exactly_2_m_per_year() -> None:
    years = np.arange(2000, 2011)
    times = pd.DatetimeIndex([f"{y}-01-01T00:00Z" for y in years])
    df = pd.DataFrame({"A": 10 + 2.0 * (years - 2000)}, index=times)
    row = transect_stats(df).loc["A"]
    assert row["n"] == 11 and row["span_years"] == 10
    assert row["lrr"] == pytest.approx(2, abs=1e-12)
    assert row["epr"] == pytest.approx(2, abs=1e-12)
    assert row["nsm"] == pytest.approx(20, abs=1e-12)
    assert row["sce"] == pytest.approx(20, abs=1e-12)
    assert row["lrr_r2"] == pytest.approx(1, abs=1e-12)
    assert row["lse"] == pytest.approx(0, abs=1e-9)
    assert row["lrr_ci"] == pytest.approx(0, abs=1e-9)
    assert row["reason"] == ""


def test_transect_stats__2_m_per_year_at_any_time_of_year_and_retreat_is_negative() -> None:
    times = pd.DatetimeIndex(
        ["2003-02-11T10:30Z", "2004-09-30T01:00Z", "2008-06-15T22:10Z", "2012-12-31T23:00Z"]
    )
    years = decimal_years(times)
    df = pd.DataFrame({"up": 5 + 2 * (years - 2003), "down": 80 - 0.5 * (years - 2003)}, times)
    got = transect_stats(df)
    np.testing.assert_allclose(got["lrr"], [2, -0.5], atol=1e-9)
    np.testing.assert_allclose(got["epr"], [2, -0.5], atol=1e-9)
    assert got.loc["down", "nsm"] < 0  # landward: erosion


def test_transect_stats__too_few_positions_give_nan_and_a_reason() -> None:
    times = pd.DatetimeIndex([f"{y}-06-01T00:00Z" for y in (2001, 2002, 2003, 2004)])
    nan = np.nan
    df = pd.DataFrame(
        {
            "none": [nan, nan, nan, nan],
            "one": [nan, 3.0, nan, nan],
            "two": [1.0, nan, nan, 4.0],
            "flat": [7.0, 7.0, 7.0, 7.0],
        },
        index=times,
    )
    got = transect_stats(df, uncertainty=1.0)
    assert got["n"].tolist() == [0, 1, 2, 4]
    assert got.loc[["none", "one"], ["sce", "nsm", "epr", "lrr", "wlr"]].isna().all().all()
    assert pd.isna(got.loc["none", "oldest"]) and got.loc["one", "oldest"] == times[1]
    two = got.loc["two"]
    span = decimal_years(times[3:])[0] - decimal_years(times[:1])[0]
    assert two["nsm"] == 3.0 and two["sce"] == 3.0
    assert two["lrr"] == pytest.approx(3 / span) and two["epr"] == pytest.approx(3 / span)
    assert two[["lrr_se", "lrr_ci", "lrr_r2", "lse", "wlr_se", "wlr_ci", "wse"]].isna().all()
    flat = got.loc["flat"]
    assert flat["lrr"] == 0 and flat["lse"] == 0 and pd.isna(flat["lrr_r2"])
    assert got["reason"].tolist() == [
        "no valid position",
        "1 valid position: change statistics need 2",
        "2 valid positions: standard errors, confidence intervals and R² need 3",
        "all positions equal: R² undefined",
    ]


def test_transect_stats__positions_on_one_date_have_no_rate() -> None:
    t = pd.Timestamp("2010-05-05T10:00Z")
    df = pd.DataFrame({"A": [1.0, 4.0, 2.0]}, index=pd.DatetimeIndex([t, t, t]))
    row = transect_stats(df).loc["A"]
    assert row["sce"] == 3 and np.isnan(row["epr"]) and np.isnan(row["lrr"])
    assert row["reason"] == "all positions on one date: no rate"


def test_transect_stats__without_uncertainty_wlr_is_nan_and_one_sigma_gives_lrr() -> None:
    df, _, _ = _random_table(5)
    bare = transect_stats(df)
    assert bare[["wlr", "wlr_se", "wlr_ci", "wlr_r2", "wse", "epr_unc"]].isna().all().all()
    same = transect_stats(df, uncertainty=4.0)
    np.testing.assert_allclose(same["wlr"], same["lrr"], **TOL)
    np.testing.assert_allclose(same["wlr_se"], same["lrr_se"], **TOL)
    np.testing.assert_allclose(same["wlr_r2"], same["lrr_r2"], **TOL)
    np.testing.assert_allclose(same["wse"], same["lse"] / 4.0, **TOL)
    np.testing.assert_allclose(same["epr_unc"], np.sqrt(2) * 4.0 / same["span_years"], **TOL)


def test_transect_stats__uncertainty_per_date_weights_the_fit() -> None:
    times = pd.DatetimeIndex([f"{y}-01-01T00:00Z" for y in range(2000, 2006)])
    x = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 30.0])  # the last point is far off the 2 m/yr line
    df = pd.DataFrame({"A": x}, index=times)
    per_date = pd.Series([1, 1, 1, 1, 1, 1e6], index=times)  # ... and very uncertain
    row = transect_stats(df, uncertainty=per_date).loc["A"]
    assert row["wlr"] == pytest.approx(2, abs=1e-6)
    assert row["lrr"] > 3  # OLS is pulled by it


def test_transect_stats__bad_uncertainty_and_parameters_are_refused() -> None:
    df, sigma, _ = _random_table(6)
    sigma.iloc[0, 0] = 0.0 if np.isfinite(df.iloc[0, 0]) else sigma.iloc[0, 0]
    sigma.loc[df["T1"].notna(), "T1"] = -1.0
    with pytest.raises(SpecError, match="uncertainty must be a number > 0"):
        transect_stats(df, uncertainty=sigma)
    with pytest.raises(SpecError, match="confidence"):
        transect_stats(df, confidence=95)
    with pytest.raises(SpecError, match="outlier"):
        transect_stats(df, outlier_k=0)


def test_transect_stats__outliers_dropped_only_when_asked() -> None:
    years = np.arange(2000, 2021)
    times = pd.DatetimeIndex([f"{y}-01-01T00:00Z" for y in years])
    rng = np.random.default_rng(3)
    x = 2.0 * (years - 2000) + rng.normal(0, 0.5, years.size)
    x[7] += 60  # one bad shoreline
    df = pd.DataFrame({"A": x, "B": 2.0 * (years - 2000)}, index=times)
    kept = transect_stats(df).loc["A"]
    assert kept["n"] == 21 and kept["n_outliers"] == 0 and kept["sce"] > 60
    got = transect_stats(df, outlier_k=3)
    clean = transect_stats(df.drop(index=times[7]))
    assert got.loc["A", "n_outliers"] == 1 and got.loc["A", "n"] == 20
    num = ["sce", "nsm", "epr", "lrr", "lrr_se", "lrr_r2", "lse"]
    np.testing.assert_allclose(got.loc["A", num].astype(float), clean.loc["A", num].astype(float))
    # a perfect line has MAD 0: nothing dropped
    assert got.loc["B", "n_outliers"] == 0 and got.loc["B", "lrr"] == pytest.approx(2)
