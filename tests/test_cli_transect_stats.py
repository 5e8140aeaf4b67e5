"""`rs transect-stats`: wide and long tables written here, tide correction, bad input and exit
codes, and the real CoastSat Narrabeen series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from scipy import stats as sps

from rs.cli import cli
from rs.coast.stats import decimal_years

#: Real data folder beside the repository (../shared/data/real), as tests/test_readers.py finds it
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
NARRA = REAL / "coast/coastsat_narrabeen"

YEARS = np.arange(2000, 2011)
TIMES = pd.DatetimeIndex([f"{y}-03-01T10:00:00Z" for y in YEARS])
RATES = {"T1": 2.0, "T2": -0.5, "T3": 0.0}


def _run(*args: object) -> Result:
    return CliRunner().invoke(cli, ["transect-stats", *map(str, args)])


def _truth() -> pd.DataFrame:
    """Positions moving exactly RATES m/yr (decimal years)."""
    t = decimal_years(TIMES)
    return pd.DataFrame({k: 50 + r * (t - 2000) for k, r in RATES.items()}, index=TIMES)


def _write_wide(path: Path, table: pd.DataFrame) -> Path:
    out = table.copy()
    out.insert(0, "dates", [t.isoformat() for t in table.index])
    out.to_csv(path, index=False)
    return path


def _write_tides(path: Path) -> tuple[Path, pd.Series]:
    """A semi-diurnal tide every 15 min for a day either side of each of TIMES."""
    # samples 7 minutes off the shoreline times: the levels are interpolated
    day = pd.timedelta_range("-1D", periods=2 * 96, freq="15min") + pd.Timedelta("7min")
    idx = pd.DatetimeIndex(np.concatenate([(t + day).to_numpy() for t in TIMES]), tz="UTC")
    hours = (idx - idx[0]) / pd.Timedelta("1h")
    eta = 0.9 * np.sin(hours * 2 * np.pi / 12.42)
    tide = pd.Series(eta, index=idx)
    pd.DataFrame({"dates": idx.map(pd.Timestamp.isoformat), "tide": eta}).to_csv(path, index=False)
    return path, tide


def test_transect_stats__wide_table_known_rates(tmp_path: Path) -> None:
    src = _write_wide(tmp_path / "wide.csv", _truth())
    res = _run(src, "--out", tmp_path / "stats.csv")
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "stats.csv", index_col="transect")
    assert list(got.index) == ["T1", "T2", "T3"]
    np.testing.assert_allclose(got["lrr"], list(RATES.values()), atol=1e-9)
    np.testing.assert_allclose(got["epr"], list(RATES.values()), atol=1e-9)
    np.testing.assert_allclose(got.loc[["T1", "T2"], "lrr_r2"], 1.0, atol=1e-12)
    assert (got["n"] == 11).all() and got["wlr"].isna().all()
    assert "wide table, 3 transect(s), 11 date(s)" in res.output
    assert "T1: n=11, LRR +2.000 ± 0.000 m/yr (95%)" in res.output
    assert f"wrote {tmp_path / 'stats.csv'}" in res.output


def test_transect_stats__long_table_with_uncertainty_to_parquet(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    truth = _truth() + rng.normal(0, 1.0, (len(TIMES), 3))
    rows = [
        {"transect": k, "date": t.isoformat(), "position": truth.loc[t, k], "sigma": 1 + i}
        for i, t in enumerate(TIMES)
        for k in RATES
    ]
    src = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    res = _run(src, "--out", tmp_path / "stats.parquet", "--confidence", 0.9)
    assert res.exit_code == 0, res.output
    got = pd.read_parquet(tmp_path / "stats.parquet").set_index("transect")
    t = decimal_years(TIMES)
    w = 1 / (1 + np.arange(len(TIMES))) ** 2
    for k in RATES:
        slope, _ = np.polyfit(t, truth[k], 1, w=np.sqrt(w))  # polyfit weights multiply residuals
        assert got.loc[k, "wlr"] == pytest.approx(slope, rel=1e-9)
        lr = sps.linregress(t, truth[k])
        assert got.loc[k, "lrr"] == pytest.approx(lr.slope, rel=1e-9)
        assert got.loc[k, "lrr_ci"] == pytest.approx(sps.t.ppf(0.95, 9) * lr.stderr, rel=1e-9)
    # one value for every position instead of the file's column
    res = _run(src, "--out", tmp_path / "one.csv", "--uncertainty", 2.5)
    assert res.exit_code == 0, res.output
    one = pd.read_csv(tmp_path / "one.csv", index_col="transect")
    np.testing.assert_allclose(one["wlr"], one["lrr"], rtol=1e-9)
    span = one["span_years"].iloc[0]  # 2000-03-01 .. 2010-03-01 in decimal years: not quite 10
    assert one["epr_unc"].iloc[0] == pytest.approx(np.hypot(2.5, 2.5) / span, rel=1e-12)


def test_transect_stats__tide_correction_recovers_the_rates(tmp_path: Path) -> None:
    slopes = {"T1": 0.1, "T2": 0.05, "T3": 0.08}
    tides, tide = _write_tides(tmp_path / "tides.csv")
    eta = np.interp(TIMES.asi8, tide.index.asi8, tide.to_numpy())
    z_ref = 0.2
    # the waterline seen at level η is (η - z_ref)/tanβ landward of the z_ref contour
    seen = _truth() - pd.DataFrame({k: (eta - z_ref) / s for k, s in slopes.items()}, index=TIMES)
    src = _write_wide(tmp_path / "seen.csv", seen)
    slopes_csv = tmp_path / "slopes.csv"
    pd.Series(slopes, name="slope").rename_axis("transect").to_csv(slopes_csv)
    raw = _run(src, "--out", tmp_path / "raw.csv")
    assert raw.exit_code == 0, raw.output
    assert pd.read_csv(tmp_path / "raw.csv")["lrr_r2"].min() < 0.99  # the tide adds scatter
    args = ["--tides", tides, "--slopes", slopes_csv, "--z-ref", z_ref]
    res = _run(src, "--out", tmp_path / "corrected.csv", *args)
    assert res.exit_code == 0, res.output
    assert "tide-corrected to z_ref=0.2 m" in res.output
    got = pd.read_csv(tmp_path / "corrected.csv", index_col="transect")
    np.testing.assert_allclose(got["lrr"], list(RATES.values()), atol=1e-9)
    nsm = got["span_years"] * np.array(list(RATES.values()))
    np.testing.assert_allclose(got["nsm"], nsm, atol=1e-8)


def test_transect_stats__bad_input_exit_codes(tmp_path: Path) -> None:
    good = _write_wide(tmp_path / "good.csv", _truth())
    out = tmp_path / "s.csv"
    bad_date = tmp_path / "bad_date.csv"
    bad_date.write_text("dates,T1\n2000-01-01,1\n2000-13-01,2\n")
    res = _run(bad_date, "--out", out)
    assert res.exit_code == 2
    assert "line 3: date '2000-13-01' in column 'dates' cannot be read as a date" in res.output

    slopes = tmp_path / "slopes.csv"
    slopes.write_text("transect,slope\nT1,0.1\nT2,0.1\nT3,0.1\nT9,0.1\n")
    tides, _ = _write_tides(tmp_path / "tides.csv")
    res = _run(good, "--out", out, "--tides", tides, "--slopes", slopes)
    assert res.exit_code == 2 and "unknown transect(s) T9" in res.output

    short = tmp_path / "short_tides.csv"
    short.write_text("time,level\n" + "".join(f"{y}-01-01T00:00Z,0.1\n" for y in range(2005, 2011)))
    res = _run(good, "--out", out, "--tides", short, "--slopes", 0.1, "--max-tide-gap", "90D")
    assert res.exit_code == 2
    assert "no water level for 6 of 11 date(s), first 2000-03-01T10:00:00+00:00" in res.output
    assert "before the tide series (starts 2005-01-01T00:00:00+00:00)" in res.output
    assert not out.exists()
    res = _run(
        good, "--out", out, "--tides", short, "--slopes", 0.1, "--max-tide-gap", "90D",
        "--drop-uncovered",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (pd.read_csv(out)["n"] == 5).all()  # 2005 .. 2009 only (2010-03 is after the end)

    assert _run(good, "--out", out, "--tides", tides).exit_code == 2  # no --slopes
    res = _run(good, "--out", tmp_path / "s.xlsx")
    assert res.exit_code == 2 and "name a .csv or .parquet file" in res.output
    res = _run(tmp_path / "missing.csv", "--out", out)
    assert res.exit_code == 4 and "does not exist" in res.output
    res = _run(good, "--out", out, "--confidence", 1.5)
    assert res.exit_code == 2 and "confidence" in res.output


def test_transect_stats__through_the_rs_command(tmp_path: Path, rs_cli) -> None:
    src = _write_wide(tmp_path / "wide.csv", _truth())
    proc = rs_cli("transect-stats", str(src), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 0, proc.stderr
    assert "T2: n=11, LRR -0.500" in proc.stdout
    proc = rs_cli("transect-stats", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 4 and "error:" in proc.stderr


@pytest.mark.realdata
def test_transect_stats__real_coastsat_narrabeen(tmp_path: Path) -> None:
    src = NARRA / "NARRA_time_series_tidally_corrected.csv"
    if not src.exists():
        pytest.skip(f"real data not found: {src}")
    res = _run(src, "--out", tmp_path / "narra.csv")
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "narra.csv", index_col="transect")
    assert list(got.index) == ["NA1", "NA2", "NA3", "NA4", "NA5"]
    assert got["n"].tolist() == [564, 556, 558, 564, 550]
    raw = pd.read_csv(src)
    t = decimal_years(pd.to_datetime(raw["dates"], utc=True))
    for k in got.index:
        m = raw[k].notna().to_numpy()
        lr = sps.linregress(t[m], raw[k].to_numpy()[m])
        assert got.loc[k, "lrr"] == pytest.approx(lr.slope, rel=1e-9)
        assert got.loc[k, "lrr_se"] == pytest.approx(lr.stderr, rel=1e-9)
        assert got.loc[k, "lrr_r2"] == pytest.approx(lr.rvalue**2, rel=1e-9)
        y = raw[k].to_numpy()[m]
        assert got.loc[k, "nsm"] == pytest.approx(y[-1] - y[0], rel=1e-12)
    # its tide file covers 2024 only, not 1987-2021: refused, naming the gap
    res = _run(src, "--out", tmp_path / "x.csv", "--tides", NARRA / "NARRA_tides.csv",
               "--slopes", 0.1)  # fmt: skip
    assert res.exit_code == 2
    assert "no water level for 622 of 622 date(s)" in res.output
    assert "starts 2024-01-01" in res.output
