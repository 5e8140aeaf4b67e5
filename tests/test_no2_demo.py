"""The NO2 demo month (rs.testing.no2_demo): orbits, stations, cities and their truth."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rs.atmos import GriddedMean, LonLatGrid, apply_qa, grid_orbit, read_swath, temporal_mean
from rs.atmos.hotspots import HOT, getis_ord
from rs.stations import read_observations, read_stations
from rs.testing.no2_demo import No2Demo, generate_no2_demo
from rs.testing.s5p import simulate

RES = 0.05


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> No2Demo:
    return generate_no2_demo(tmp_path_factory.mktemp("no2demo"))


@pytest.fixture(scope="module")
def gridded(demo: No2Demo) -> tuple[GriddedMean, GriddedMean]:
    """The month from the files, and the same pixels' noise-free truth gridded alike."""
    grid = LonLatGrid.from_bbox(demo.config.bbox, RES)
    value, truth = [], []
    for path, cfg in zip(demo.orbits, demo.orbit_configs, strict=True):
        swath, _ = apply_qa(read_swath(path))
        value.append(grid_orbit(swath, grid))
        t = simulate(cfg).truth
        assert swath.scanline is not None and swath.ground_pixel is not None
        exact = dataclasses.replace(swath, value=t[swath.scanline, swath.ground_pixel])
        truth.append(grid_orbit(exact, grid))
    return temporal_mean(value), temporal_mean(truth)


def _cell(grid: LonLatGrid, lon: float, lat: float) -> tuple[int, int]:
    return int((grid.north - lat) // grid.res), int((lon - grid.west) // grid.res)


def test_files_read_back(demo: No2Demo) -> None:
    c = demo.config
    assert len(demo.orbits) == c.n_days == len(list((demo.root / "s5p").glob("S5P_*.nc")))
    for path, over in zip(demo.orbits, demo.overpasses, strict=True):
        s = read_swath(path)
        assert s.product == "no2" and s.units == "molecules cm-2"
        assert s.shape == (c.n_scanlines, c.n_ground_pixels)
        t0, t1 = s.time.min(), s.time.max()
        assert t0 <= np.datetime64(over.replace(tzinfo=None), "ms") <= t1
        w, so, e, n = c.bbox  # every orbit covers the region
        inside = (s.lon > w) & (s.lon < e) & (s.lat > so) & (s.lat < n)
        assert inside.sum() > 100
    stations, issues = read_stations(demo.stations_csv)
    assert len(stations) == c.n_stations and issues.empty
    assert set(stations["type"]) <= {"urban", "industrial", "suburban", "rural"}
    w, so, e, n = c.bbox
    assert stations["lon"].between(w, e).all() and stations["lat"].between(so, n).all()
    data = read_observations(demo.observations_csv, stations=demo.stations_csv)
    assert data.issues.empty
    obs = data.observations
    assert len(obs) == c.n_stations * c.n_days * 24
    assert set(obs["variable"]) == {"no2"} and set(obs["unit"]) == {"µg/m³"}
    assert str(obs["time"].dtype) == "datetime64[ns, UTC]"
    cities = json.loads(demo.cities.read_text(encoding="utf-8"))
    assert [f["properties"]["name"] for f in cities["features"]] == [
        h.name for h in demo.hotspots]


def test_generation_is_idempotent(demo: No2Demo) -> None:
    before = {p: p.stat().st_mtime_ns for p in demo.root.rglob("*") if p.is_file()}
    again = generate_no2_demo(demo.root)
    assert not again.written
    assert again.orbits == demo.orbits
    assert {p: p.stat().st_mtime_ns for p in demo.root.rglob("*") if p.is_file()} == before


def test_another_config_rewrites(tmp_path: Path) -> None:
    from rs.testing.no2_demo import No2DemoConfig

    a = generate_no2_demo(tmp_path, No2DemoConfig(n_days=2, n_stations=5))
    b = generate_no2_demo(tmp_path, No2DemoConfig(n_days=2, n_stations=6))
    assert a.written and b.written
    assert len(pd.read_csv(b.stations_csv)) == 6


def test_gridded_month_recovers_the_truth_within_noise(
    demo: No2Demo, gridded: tuple[GriddedMean, GriddedMean]
) -> None:
    mean, truth = gridded
    grid = mean.grid
    diff = mean.mean - truth.mean  # noise only: same pixels, same weights
    assert np.isfinite(diff).all()
    sd = float(diff.std())
    # 15 orbits x ~2 pixels per 0.05° cell: the noise of one cell is a few 1e14
    assert sd < demo.config.noise / 3  # measured 1.7e14 (noise 8e14)
    assert abs(float(diff.mean())) < sd / 5  # unbiased (measured -0.009e15)
    for h in demo.hotspots:
        r, c = _cell(grid, h.hotspot.lon, h.hotspot.lat)
        assert abs(diff[r, c]) < 3.5 * sd, (h.name, diff[r, c] / sd)
        # the truth of the cell (10 x 10 points inside it); the gridded pixel truth is
        # smoothed by the ~6 x 7 km footprints: within 10 % of the hotspot's amplitude
        lo = grid.west + (c + (np.arange(10) + 0.5) / 10) * grid.res
        la = grid.north - (r + (np.arange(10) + 0.5) / 10) * grid.res
        cell_truth = float(demo.column(*np.meshgrid(lo, la)).mean())
        assert abs(mean.mean[r, c] - cell_truth) < 3.5 * sd + 0.1 * h.hotspot.amplitude


def test_getis_ord_finds_the_demo_hotspots(
    demo: No2Demo, gridded: tuple[GriddedMean, GriddedMean]
) -> None:
    mean, _ = gridded
    res = getis_ord(mean, mean.grid, fdr=True)
    for h in demo.hotspots:
        r, c = _cell(mean.grid, h.hotspot.lon, h.hotspot.lat)
        assert res.cls[r, c] == HOT, h.name


def _window_means(demo: No2Demo) -> pd.DataFrame:
    data = read_observations(demo.observations_csv, stations=demo.stations_csv)
    obs = data.observations
    day = obs["time"].dt.floor("D")
    over = {pd.Timestamp(t).floor("D"): pd.Timestamp(t) for t in demo.overpasses}
    gap = (obs["time"] - day.map(over)).abs()
    win = obs[gap <= pd.Timedelta(minutes=demo.config.window_min)]
    means = win.groupby(["station_id", win["time"].dt.floor("D")])["value"].mean()
    st = data.stations.set_index("station_id")
    out = means.rename("surface").reset_index()
    out["column"] = demo.column(st.loc[out["station_id"], "lon"].to_numpy(),
                                st.loc[out["station_id"], "lat"].to_numpy())
    return out


def test_station_values_regress_on_the_truth_column_with_the_planted_slope(
    demo: No2Demo,
) -> None:
    rel = demo.relation
    pairs = _window_means(demo)
    assert len(pairs) == demo.config.n_stations * demo.config.n_days
    slope, intercept = np.polyfit(pairs["column"] / rel.scale, pairs["surface"], 1)
    assert slope == pytest.approx(rel.b, rel=0.02)  # measured 4.4999999 (noise balanced)
    assert intercept == pytest.approx(rel.a, abs=1.0)
    resid = pairs["surface"] - rel.surface(pairs["column"])
    assert float(resid.std()) == pytest.approx(rel.sigma, rel=0.15)
    # the recorded truth is the same relation
    truth = pd.read_csv(demo.truth_csv)
    np.testing.assert_allclose(truth["surface"], rel.surface(truth["column"]) + truth["noise"])
    merged = pairs.assign(time=pairs["time"].dt.strftime("%Y-%m-%d"))
    truth = truth.assign(time=truth["time"].str[:10])
    m = merged.merge(truth, on=["station_id", "time"], suffixes=("", "_truth"))
    np.testing.assert_allclose(m["surface"], m["surface_truth"], atol=1e-3)


def test_hours_outside_the_window_are_biased_high(demo: No2Demo) -> None:
    obs = pd.read_csv(demo.observations_csv)
    truth = pd.read_csv(demo.truth_csv)
    daily = obs.groupby(["station_id", obs["time"].str[:10]])["value"].mean()
    m = truth.set_index(["station_id", truth["time"].str[:10]])["surface"]
    assert float((daily - m).mean()) > 0.5 * demo.config.excess
