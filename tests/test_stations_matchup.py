"""Matchups of gridded products with stations (rs.stations.matchup): pixels by hand on small
grids (geographic and UTM), QA and valid shares, the ground time windows against a brute-force
pandas reference, and what is reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from pydantic import ValidationError

from rs.errors import SpecError
from rs.stations.matchup import COLUMNS, MatchupParams, Raster, match, to_geodataframe
from rs.stations.units import conversion_factor

T0 = pd.Timestamp("2019-01-05T05:30Z")


def _stations(*rows: tuple[str, float, float], **attrs: list[object]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["station_id", "lon", "lat"]).assign(name="n")
    for k, v in attrs.items():
        df[k] = v
    return df


def _obs(rows: list[tuple[str, str, float]], unit: str = "µg/m³") -> pd.DataFrame:
    return pd.DataFrame({
        "station_id": [r[0] for r in rows],
        "time": pd.to_datetime([r[1] for r in rows], utc=True).as_unit("ns"),
        "variable": "no2", "value": [r[2] for r in rows], "unit": unit})


def _grid() -> Raster:
    # 4 x 5 pixels of 1°, upper-left corner (100 E, 40 N); value = 10 * row + col
    data = np.arange(20, dtype=float).reshape(4, 5) + 5 * np.arange(4)[:, None]
    return Raster(data, Affine(1, 0, 100, 0, -1, 40), "EPSG:4326", T0, variable="col",
                  unit="mol/m²")


def test_nearest_window_and_qa_on_a_geographic_grid() -> None:
    r = _grid()
    assert r.data[1, 2] == 12 and r.data[3, 4] == 34
    st = _stations(("a", 102.5, 38.5), ("corner", 100.2, 39.9))
    obs = _obs([("a", "2019-01-05T05:30Z", 1.0), ("corner", "2019-01-05T05:30Z", 2.0)])
    m = match(r, st, obs, MatchupParams(variable="no2", ground="time"))
    t = m.table.set_index("station_id")
    assert (t.loc["a", "row"], t.loc["a", "col"], t.loc["a", "sat_value"]) == (1, 2, 12.0)
    assert t.loc["corner", "sat_value"] == 0.0
    assert list(m.table.columns) == list(COLUMNS)
    p = MatchupParams(variable="no2", ground="time", method="window", window=3)
    w = match(r, st, obs, p).table
    w = w.set_index("station_id")
    assert w.loc["a", "sat_value"] == pytest.approx(np.mean(r.data[0:3, 1:4]), rel=1e-15)
    assert (w.loc["a", "n_pixels"], w.loc["a", "n_valid"], w.loc["a", "valid_share"]) == (9, 9, 1)
    # the corner's window is 4 of 9 pixels inside the grid: below min_valid_share 0.5
    assert w.loc["corner", "sat_value"] == np.mean([0, 1, 10, 11])
    assert w.loc["corner", "valid_share"] == pytest.approx(4 / 9)
    assert not w.loc["corner", "usable"] and w.loc["a", "usable"]
    # QA: pixels below qa_min are not valid; qa_mean over the pixels inside the grid
    qa = np.ones((4, 5))
    qa[0, 1:4] = 0.2
    rq = Raster(r.data, r.transform, r.crs, r.time, qa=qa)
    p = MatchupParams(variable="no2", ground="time", method="window", qa_min=0.5)
    q = match(rq, st, obs, p).table
    q = q.set_index("station_id")
    assert q.loc["a", "sat_value"] == pytest.approx(np.mean(r.data[1:3, 1:4]))
    assert (q.loc["a", "n_valid"], q.loc["a", "qa_mean"]) == (6, pytest.approx(6.6 / 9))
    # NaN pixels are not valid either
    data = r.data.copy()
    data[1, 2] = np.nan
    n = match(Raster(data, r.transform, r.crs, r.time), st, obs,
              MatchupParams(variable="no2", ground="time")).table.set_index("station_id")
    assert np.isnan(n.loc["a", "sat_value"]) and not n.loc["a", "usable"]
    assert n.loc["a", "ground_value"] == 1.0  # the ground side stays


def test_radius_on_a_utm_grid_and_pixels_against_rasterio() -> None:
    from pyproj import Transformer
    from rasterio.transform import rowcol

    tr = Affine(1000, 0, 600000, 0, -1000, 3600000)
    data = np.random.default_rng(0).random((40, 50))
    r = Raster(data, tr, "EPSG:32650", T0)
    to_ll = Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)
    # a station on the centre of pixel (20, 30), others anywhere
    x0, y0 = tr @ (30.5, 20.5)
    lon0, lat0 = to_ll.transform(x0, y0)
    rng = np.random.default_rng(1)
    xs, ys = rng.uniform(600000, 650000, 30), rng.uniform(3560000, 3600000, 30)
    lons, lats = to_ll.transform(xs, ys)
    st = _stations(("c", lon0, lat0), *[(f"s{i}", lo, la) for i, (lo, la) in
                                        enumerate(zip(lons, lats, strict=True))])
    obs = _obs([(s, "2019-01-05T05:00Z", 1.0) for s in st["station_id"]])
    t = match(r, st, obs, MatchupParams(variable="no2")).table.set_index("station_id")
    want = [rowcol(tr, x, y) for x, y in zip(xs, ys, strict=True)]
    assert [(t.loc[f"s{i}", "row"], t.loc[f"s{i}", "col"]) for i in range(30)] == [
        (int(a), int(b)) for a, b in want]
    # radius 1001 m: the centre and its 4 neighbours (1000 m); 1500 m adds the 4 diagonals
    for radius, cells in ((1001.0, [(20, 30), (19, 30), (21, 30), (20, 29), (20, 31)]),
                          (1500.0, [(i, j) for i in (19, 20, 21) for j in (29, 30, 31)]),
                          (300.0, [(20, 30)])):  # no centre that close: its own pixel
        c = match(r, st, obs, MatchupParams(variable="no2", method="radius", radius_m=radius))
        row = c.table.set_index("station_id").loc["c"]
        assert row["n_pixels"] == len(cells)
        assert row["sat_value"] == pytest.approx(np.mean([data[i, j] for i, j in cells]))


def test_radius_on_a_geographic_grid_uses_great_circle_distance() -> None:
    data = np.arange(100.0).reshape(10, 10)
    r = Raster(data, Affine(0.1, 0, 10, 0, -0.1, 60.5), "EPSG:4326", T0)
    st = _stations(("c", 10.45, 60.05))  # centre of pixel (4, 4) at 60° N
    obs = _obs([("c", "2019-01-05T05:00Z", 1.0)])
    # 0.1° of longitude at 60° N is ~5.6 km, of latitude ~11.1 km: 6 km reaches E and W only
    c = match(r, st, obs, MatchupParams(variable="no2", method="radius", radius_m=6000))
    row = c.table.iloc[0]
    assert row["n_pixels"] == 3 and row["sat_value"] == np.mean([data[4, 3], data[4, 4],
                                                                  data[4, 5]])


def test_ground_windows_by_hand() -> None:
    st = _stations(("east", 120.0, 38.0), ("west", -90.0, 38.0))
    # east (lon 120): 13:30 local solar time = 05:30 UTC; ± 60 min, both ends included
    rows = [("east", t, v) for t, v in [("2019-01-05T04:29Z", 100), ("2019-01-05T04:30Z", 1),
                                        ("2019-01-05T05:00Z", 2), ("2019-01-05T06:30Z", 3),
                                        ("2019-01-05T06:31Z", 100), ("2019-01-04T17:00Z", 50)]]
    # west (lon -90): 13:30 local = 19:30 UTC
    rows += [("west", "2019-01-05T19:00Z", 7.0), ("west", "2019-01-05T05:30Z", 70.0)]
    obs = _obs(rows)
    r2 = Raster(np.ones((180, 360)), Affine(1, 0, -180, 0, -1, 90), "EPSG:4326", T0)  # 05:30Z
    m = match(r2, st, obs, MatchupParams(variable="no2")).table.set_index("station_id")
    assert (m.loc["east", "ground_value"], m.loc["east", "ground_n"]) == (2.0, 3)
    assert m.loc["east", "ground_start"] == pd.Timestamp("2019-01-05T04:30Z")
    assert m.loc["west", "ground_value"] == 7.0
    # 'time': the raster's own time ± 60 min
    m = match(r2, st, obs, MatchupParams(variable="no2", ground="time")).table
    m = m.set_index("station_id")
    assert (m.loc["east", "ground_n"], m.loc["west", "ground_value"]) == (3, 70.0)
    # 'daily': the local solar day 2019-01-05 of east is 2019-01-04 16:00 .. 01-05 16:00 UTC
    m = match(r2, st, obs, MatchupParams(variable="no2", ground="daily")).table
    m = m.set_index("station_id")
    assert m.loc["east", "ground_n"] == 6
    assert m.loc["east", "ground_value"] == pytest.approx((100 + 1 + 2 + 3 + 100 + 50) / 6)
    assert m.loc["east", "ground_end"] == pd.Timestamp("2019-01-05T16:00Z")
    m = match(r2, st, obs, MatchupParams(variable="no2", ground="monthly")).table
    assert m.set_index("station_id").loc["west", "ground_n"] == 2


def test_ground_means_equal_a_brute_force_reference() -> None:
    rng = np.random.default_rng(5)
    n_st = 25
    lons = rng.uniform(-179, 179, n_st)
    st = _stations(*[(f"s{i}", lo, rng.uniform(-60, 60)) for i, lo in enumerate(lons)])
    times = pd.date_range("2019-01-01", "2019-03-01", freq="37min", tz="UTC")
    rows = []
    for s in st["station_id"]:
        pick = times[rng.random(times.size) < 0.3]
        rows += [(s, str(t), float(v)) for t, v in zip(pick, rng.gamma(3, 10, pick.size),
                                                       strict=True)]
    obs = _obs(rows)
    rasters = [Raster(np.ones((180, 360)), Affine(1, 0, -180, 0, -1, 90), "EPSG:4326",
                      pd.Timestamp(d, tz="UTC") + pd.Timedelta(hours=h))
               for d, h in (("2019-01-10", 5.5), ("2019-02-03", 18), ("2019-02-28", 0))]
    o = obs.set_index("station_id")
    for ground, half in (("overpass", 45.0), ("time", 90.0), ("daily", 60.0), ("monthly", 60.0)):
        p = MatchupParams(variable="no2", ground=ground, half_window_min=half,
                          overpass_time="10:15")
        table = match(rasters, st, obs, p).table
        assert len(table) == n_st * 3
        for row in table.itertuples():
            shift = pd.Timedelta(seconds=round(row.lon / 15 * 3600))
            day = row.time.floor("D")
            if ground == "overpass":
                at = day + pd.Timedelta(hours=10, minutes=15) - shift
                lo, hi, closed = at - pd.Timedelta(minutes=half), at + pd.Timedelta(
                    minutes=half), True
            elif ground == "time":
                lo, hi, closed = row.time - pd.Timedelta(minutes=half), row.time + pd.Timedelta(
                    minutes=half), True
            elif ground == "daily":
                lo, hi, closed = day - shift, day - shift + pd.Timedelta(days=1), False
            else:
                m0 = day.replace(day=1)
                lo, hi, closed = m0 - shift, m0 + pd.offsets.MonthBegin(1) - shift, False
            t = o.loc[[row.station_id]]
            sel = t[(t["time"] >= lo) & ((t["time"] <= hi) if closed else (t["time"] < hi))]
            assert row.ground_n == len(sel), (ground, row.station_id)
            if len(sel):
                assert row.ground_value == pytest.approx(sel["value"].mean(), rel=1e-12)
            else:
                assert np.isnan(row.ground_value)


def test_reported_stations_and_parameters_recorded() -> None:
    r = _grid()
    st = _stations(("in", 102.5, 38.5), ("out", 130.0, 38.5), ("quiet", 101.5, 37.5),
                   city=["x", "y", "z"])
    obs = _obs([("in", "2019-01-05T05:30Z", 1.0), ("out", "2019-01-05T05:30Z", 1.0),
                ("ghost", "2019-01-05T05:30Z", 1.0)])
    p = MatchupParams(variable="NO2", method="window", window=5, qa_min=0.7, ground="daily",
                      min_ground_obs=2)
    m = match([r, r], st, obs, p)
    assert m.report[["station_id", "problem"]].values.tolist() == [
        ["ghost", "unknown coordinates"], ["quiet", "no observations"],
        ["out", "outside the footprint"]]
    assert "all 2 raster(s)" in m.report["detail"].iloc[2]
    t = m.table
    assert t["station_id"].tolist() == ["in", "in"] and t["city"].tolist() == ["x", "x"]
    assert (t["method"].iloc[0], t["window"].iloc[0], t["qa_min"].iloc[0]) == ("window", 5, 0.7)
    assert (t["ground"].iloc[0], t["ground_variable"].iloc[0]) == ("daily", "no2")
    assert not t["usable"].any()  # one observation < min_ground_obs 2
    assert m.parameters["window"] == 5 and m.parameters["variable"] == "no2"
    g = to_geodataframe(t)
    assert g.crs.to_epsg() == 4326 and g.geometry.iloc[0].x == 102.5
    # a raster series on two grids: a station outside one of them is reported as such
    small = Raster(np.ones((2, 2)), Affine(1, 0, 102, 0, -1, 39), "EPSG:4326", T0)
    m = match([r, small], st.iloc[:1], obs.iloc[:1], MatchupParams(variable="no2"))
    assert len(m.table) == 2 and m.report.empty
    m = match([r, small], _stations(("edge", 100.5, 36.5)),
              _obs([("edge", "2019-01-05T05:30Z", 1.0)]), MatchupParams(variable="no2"))
    assert m.report["detail"].tolist() == ["outside the grid of 1 of 2 rasters"]


def test_units_converted_and_mixed_units_refused() -> None:
    r = _grid()
    st = _stations(("a", 102.5, 38.5), ("b", 103.5, 38.5))
    obs = pd.concat([_obs([("a", "2019-01-05T05:30Z", 10.0)], unit="ppb"),
                     _obs([("b", "2019-01-05T05:30Z", 10.0)], unit="ug/m3")])
    with pytest.raises(SpecError, match="units ppb, µg/m³: name one with unit"):
        match(r, st, obs.assign(unit=["ppb", "µg/m³"]), MatchupParams(variable="no2"))
    t = match(r, st, obs.assign(unit=["ppb", "µg/m³"]),
              MatchupParams(variable="no2", unit="ug/m3", ground="time")).table
    t = t.set_index("station_id")
    assert t.loc["a", "ground_value"] == pytest.approx(10 * conversion_factor(
        "ppb", "µg/m³", variable="no2"))
    assert t.loc["b", "ground_value"] == 10.0 and set(t["ground_unit"]) == {"µg/m³"}


def test_bad_rasters_and_parameters() -> None:
    with pytest.raises(SpecError, match="no time zone"):
        Raster(np.ones((2, 2)), Affine.identity(), "EPSG:4326", pd.Timestamp("2019-01-05"))
    with pytest.raises(SpecError, match="must be 2-D"):
        Raster(np.ones(3), Affine.identity(), "EPSG:4326", T0)
    with pytest.raises(SpecError, match="qa shape"):
        Raster(np.ones((2, 2)), Affine.identity(), "EPSG:4326", T0, qa=np.ones((3, 3)))
    with pytest.raises(ValidationError, match="window must be odd"):
        MatchupParams(variable="no2", window=4)
    with pytest.raises(ValidationError, match="not a time HH:MM"):
        MatchupParams(variable="no2", overpass_time="1:30pm")
    with pytest.raises(ValidationError, match="Extra inputs"):
        MatchupParams(variable="no2", methd="nearest")  # type: ignore[call-arg]
    with pytest.raises(SpecError, match="at least one raster"):
        match([], _stations(), _obs([]), MatchupParams(variable="no2"))


def test_a_0_360_grid_finds_stations_given_in_minus_180_180() -> None:
    r = Raster(np.arange(360.0)[None, :].repeat(180, 0), Affine(1, 0, 0, 0, -1, 90),
               "EPSG:4326", T0)
    st = _stations(("w", -75.5, 40.0))
    t = match(r, st, _obs([("w", "2019-01-05T18:00Z", 1.0)]), MatchupParams(variable="no2"))
    assert t.table["sat_value"].tolist() == [284.0] and t.report.empty
