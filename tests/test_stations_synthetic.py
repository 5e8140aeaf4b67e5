"""Synthetic truth (rs.testing.stations): matchups of the synthetic NO2 product with its station
network give back the known pixels and overpass means, the known linear relation is recovered
(slope within 2 %), and a wrong clock is seen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rs.stations.matchup import MatchupParams, match
from rs.stations.stats import stats_table
from rs.testing.stations import StationsConfig, SyntheticNetwork, synthetic_network


@pytest.fixture(scope="module")
def net() -> SyntheticNetwork:
    return synthetic_network()


def _matched(net: SyntheticNetwork, **kw: object) -> pd.DataFrame:
    p = MatchupParams(variable="no2", qa_min=0.5, **kw)  # type: ignore[arg-type]
    return match(net.rasters, net.stations, net.observations, p).table


def test_the_network_is_what_the_docstring_says(net: SyntheticNetwork) -> None:
    c = net.config
    assert len(net.rasters) == c.n_dates and len(net.stations) == c.n_stations + c.n_outside
    assert net.observations["time"].dt.minute.eq(0).all()  # whole UTC hours
    assert (net.observations.groupby("station_id").size() == 24 * c.n_dates).all()
    assert net.truth["in_gap"].any() and (net.truth["qa"] < 0.5).any()
    assert set(net.stations["station_type"]) == {"urban", "suburban", "rural"}
    again = synthetic_network()
    pd.testing.assert_frame_equal(again.observations, net.observations)  # seeded
    other = synthetic_network(StationsConfig(seed=11))
    assert not np.allclose(other.truth["x"], net.truth["x"][: len(other.truth)])


def test_matchups_recover_the_truth(net: SyntheticNetwork) -> None:
    m = match(net.rasters, net.stations, net.observations,
              MatchupParams(variable="no2", qa_min=0.5))
    t = m.table
    assert len(t) == net.config.n_stations * net.config.n_dates
    outside = m.report[m.report["problem"] == "outside the footprint"]
    assert len(outside) == net.config.n_outside
    j = t.merge(net.truth, on=["station_id", "time"], validate="one_to_one")
    # the satellite value is the station's pixel; QA < 0.5 and the gap are not valid
    ok = np.isfinite(j["sat_value"])
    assert (j.loc[ok, "sat_value"] == j.loc[ok, "x"]).all()
    assert (ok == (~j["in_gap"] & (j["qa"] >= 0.5))).all() and (j["usable"] == ok).all()
    assert 0.1 < 1 - ok.mean() < 0.3
    # the ground value is the overpass mean m (two hours inside 13:30 ± 1 h solar time)
    assert (j["ground_n"] == 2).all()
    np.testing.assert_allclose(j["ground_value"], j["overpass_mean"], rtol=1e-12)
    daily = _matched(net, ground="daily").merge(net.truth, on=["station_id", "time"])
    np.testing.assert_allclose(daily["ground_value"], daily["daily_mean"], rtol=1e-12)


def test_slope_recovered_within_2_percent(net: SyntheticNetwork) -> None:
    t = _matched(net)
    s = stats_table(t, reference="sat_value", estimate="ground_value").iloc[0]
    c = net.config
    assert s["n"] > 1800
    assert abs(s["ols_slope"] / c.slope - 1) < 0.02
    assert abs(s["ols_intercept"] - c.intercept) < 1.0
    r2 = s["r"] ** 2
    assert abs(r2 - net.theoretical_r2(t.loc[t["usable"], "sat_value"])) < 0.02


def test_a_wrong_clock_or_window_is_seen(net: SyntheticNetwork) -> None:
    c = net.config
    # observations taken as Beijing time when they are UTC: 8 hours off
    wrong = net.observations.assign(time=net.observations["time"] - pd.Timedelta(hours=8))
    t = match(net.rasters, net.stations, wrong, MatchupParams(variable="no2", qa_min=0.5)).table
    s = stats_table(t, reference="sat_value", estimate="ground_value").iloc[0]
    assert s["ols_intercept"] - c.intercept > 10  # the night-time excess leaks in
    # daily means instead of the overpass window: the same slope, a larger intercept
    d = stats_table(_matched(net, ground="daily"), reference="sat_value",
                    estimate="ground_value").iloc[0]
    assert abs(d["ols_slope"] / c.slope - 1) < 0.02 and d["ols_intercept"] > c.intercept + 15


def test_written_files_read_back_give_the_same_matchups(net: SyntheticNetwork,
                                                        tmp_path: Path) -> None:
    """The files a pipeline would read (COGs, stations and observations CSV) through the
    generic adapter: the same matchups as in memory (the COGs are float32)."""
    import rasterio

    from rs.stations.generic import read_observations
    from rs.stations.matchup import Raster
    from rs.testing.stations import write_network

    files = write_network(net, tmp_path)
    data = read_observations(tmp_path / "observations.csv", stations=tmp_path / "stations.csv")
    assert data.issues.empty and len(data.stations) == len(net.stations)
    rasters = []
    for p, q in zip(files["rasters"], files["qa"], strict=True):
        with rasterio.open(p) as src, rasterio.open(q) as qsrc:
            day = pd.Timestamp(p.stem.split("_")[-1], tz="UTC") + pd.Timedelta(hours=5.5)
            rasters.append(Raster(src.read(1), src.transform, src.crs.to_string(), day,
                                  qa=qsrc.read(1)))
    params = MatchupParams(variable="no2", qa_min=0.5)
    got = match(rasters, data.stations, data.observations, params).table
    want = match(net.rasters, net.stations, net.observations, params).table
    assert got["usable"].tolist() == want["usable"].tolist()
    np.testing.assert_allclose(got["sat_value"], want["sat_value"], rtol=1e-6)
    np.testing.assert_allclose(got["ground_value"], want["ground_value"], rtol=1e-12)
    assert got["station_type"].tolist() == want["station_type"].tolist()
