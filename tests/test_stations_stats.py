"""Validation statistics (rs.stations.stats) against independent numpy / scipy references to
1e-9 relative, bootstrap intervals against a loop over the same draws, and the grouped tables."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from rs.errors import SpecError
from rs.stations.stats import (
    CI_STATS,
    STATS,
    bootstrap,
    stats_table,
    summary_table,
    validation_stats,
)

REL = 1e-9


def _reference(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Each statistic from numpy / scipy directly (module doc of rs.stations.stats)."""
    lr = ss.linregress(x, y)
    rma = np.sign(lr.rvalue) * np.std(y) / np.std(x)
    rmse = float(np.sqrt(np.mean((y - x) ** 2)))
    return {
        "n": x.size, "mean_ref": float(np.mean(x)), "mean_est": float(np.mean(y)),
        "bias": float(np.mean(y) - np.mean(x)), "mae": float(np.mean(np.abs(y - x))),
        "rmse": rmse, "nrmse": rmse / float(np.mean(x)),
        "r": float(ss.pearsonr(x, y).statistic), "spearman_r": float(ss.spearmanr(x, y).statistic),
        "ols_slope": float(lr.slope), "ols_intercept": float(lr.intercept),
        "rma_slope": float(rma), "rma_intercept": float(np.mean(y) - rma * np.mean(x)),
    }


def _check(got: dict[str, float], want: dict[str, float]) -> None:
    assert set(got) == set(STATS)
    for k in STATS:
        assert got[k] == pytest.approx(want[k], rel=REL, abs=1e-12), k


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_statistics_equal_numpy_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 2000))
    x = rng.gamma(3.0, 10.0, n)
    y = 4.0 + 0.8 * x + rng.normal(0, 6.0, n)
    _check(validation_stats(x, y), _reference(x, y))


def test_ties_negative_relation_and_nan_pairs() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 12, 300).astype(float)  # many ties: average ranks
    y = 50 - 2 * x + rng.integers(0, 5, 300)
    got = validation_stats(x, y)
    _check(got, _reference(x, y))
    assert got["rma_slope"] < 0 and got["r"] < 0
    xn, yn = x.copy(), y.copy()
    xn[::7], yn[3::11] = np.nan, np.inf  # pairs with a non-finite member are dropped
    keep = np.isfinite(xn) & np.isfinite(yn)
    _check(validation_stats(xn, yn), _reference(x[keep], y[keep]))


def test_degenerate_inputs_give_nan_not_errors() -> None:
    one = validation_stats([3.0], [4.0])
    assert one["n"] == 1 and one["bias"] == 1.0 and np.isnan(one["r"])
    assert np.isnan(one["ols_slope"]) and np.isnan(one["spearman_r"])
    const = validation_stats([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert np.isnan(const["r"]) and np.isnan(const["ols_slope"]) and const["rmse"] > 0
    zero = validation_stats([-1.0, 1.0], [0.0, 0.0])
    assert np.isnan(zero["nrmse"])  # the reference mean is 0
    empty = validation_stats([], [])
    assert empty["n"] == 0 and np.isnan(empty["bias"])
    with pytest.raises(SpecError, match="differ in length"):
        validation_stats([1.0, 2.0], [1.0])


def test_bootstrap_equals_a_loop_over_the_same_draws() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(20, 5, 60)
    y = x + rng.normal(1, 3, 60)
    ci = bootstrap(x, y, n_boot=400, level=0.9, seed=11)
    draws = np.random.default_rng(11).integers(0, 60, size=(400, 60))
    loop = {k: [] for k in CI_STATS}
    for idx in draws:
        ref = _reference(x[idx], y[idx])
        for k in CI_STATS:
            loop[k].append(ref[k])
    for k in CI_STATS:
        lo, hi = np.percentile(loop[k], [5, 95])
        assert ci[k][0] == pytest.approx(lo, rel=REL) and ci[k][1] == pytest.approx(hi, rel=REL)
    est = validation_stats(x, y)
    assert all(ci[k][0] <= est[k] <= ci[k][1] for k in ("bias", "rmse", "r", "ols_slope"))
    assert bootstrap(x, y, n_boot=400, level=0.9, seed=11) == ci  # seeded: repeatable
    assert bootstrap(x, y, n_boot=400, level=0.9, seed=12) != ci
    with pytest.raises(SpecError, match="level"):
        bootstrap(x, y, level=95)


def test_bootstrap_in_blocks_for_large_samples() -> None:
    rng = np.random.default_rng(4)
    n = 120_000  # 2_000_000 // n = 16 draws per block: two blocks
    x = rng.normal(10, 2, n)
    y = x + rng.normal(0, 1, n)
    ci = bootstrap(x, y, n_boot=20, seed=1)
    est = validation_stats(x, y)
    assert ci["bias"][0] < est["bias"] < ci["bias"][1]
    assert ci["bias"][1] - ci["bias"][0] < 0.03  # ~ 4 standard errors of 1/sqrt(n)


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    rows = []
    for s in range(12):
        n = int(rng.integers(5, 40))
        g = rng.gamma(3, 10, n)
        rows.append(pd.DataFrame({
            "station_id": f"s{s:02d}", "region": "north" if s < 5 else "south",
            "ground_value": g, "sat_value": 2 + 1.1 * g + rng.normal(0, 4, n),
            "usable": rng.random(n) > 0.1}))
    return pd.concat(rows, ignore_index=True)


def test_stats_table_overall_and_by_group_with_intervals() -> None:
    t = _table()
    u = t[t["usable"]]
    overall = stats_table(t)
    assert len(overall) == 1 and overall["n"].iloc[0] == len(u)
    _check(overall.iloc[0][list(STATS)].to_dict(),
           _reference(u["ground_value"].to_numpy(), u["sat_value"].to_numpy()))
    by = stats_table(t, by="station_id", n_boot=200, seed=5)
    assert by["station_id"].tolist() == [f"s{s:02d}" for s in range(12)]
    for row in by.itertuples():
        g = u[u["station_id"] == row.station_id]
        _check({k: getattr(row, k) for k in STATS},
               _reference(g["ground_value"].to_numpy(), g["sat_value"].to_numpy()))
        # each group has its own seed from (seed, name): same interval computed alone
        alone = bootstrap(g["ground_value"], g["sat_value"], n_boot=200,
                          seed=[5, zlib.crc32(row.station_id.encode())])
        assert (row.rmse_lo, row.rmse_hi) == alone["rmse"]
    assert stats_table(t, usable_only=False)["n"].iloc[0] == len(t)
    with pytest.raises(SpecError, match="no column 'sat'"):
        stats_table(t, estimate="sat")


def test_summary_table_levels() -> None:
    t = _table()
    s = summary_table(t, region="region")
    assert s["level"].tolist() == ["overall"] + ["region"] * 2 + ["station"] * 12
    assert s["group"].tolist()[:3] == ["all", "north", "south"]
    north = t[t["usable"] & (t["region"] == "north")]
    assert s.iloc[1]["n"] == len(north)
    assert s.iloc[1]["rmse"] == pytest.approx(
        np.sqrt(np.mean((north["sat_value"] - north["ground_value"]) ** 2)), rel=REL)
    assert {"n", "bias", "rmse", "r"} <= set(s.columns)
