"""Reading positions (wide and long), tides and slopes tables (rs.coast.positions), on tables
written here and on the real CoastSat / SDS benchmark files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rs.coast.positions import read_positions, read_slopes, read_tides
from rs.errors import AssetReadError, SpecError

#: Real data folder beside the repository (../shared/data/real), as tests/test_readers.py finds it
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
NARRA = REAL / "coast/coastsat_narrabeen"
SDS = REAL / "coast/sds_benchmark"


def _write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n")
    return path


def test_read_positions__wide_coastsat_style(tmp_path: Path) -> None:
    p = _write(
        tmp_path / "wide.csv",
        """
,dates,T1,T2,satname
0,1987-05-22 23:07:44+00:00,89.5,,L5
1,1987-09-12 09:10:29+10:00,96.25,85.0,L5
2,2001-01-03,100,80.5,L7
""",
    )
    pos = read_positions(p)
    assert pos.layout == "wide" and pos.sigma is None
    assert pos.ignored == ("Unnamed: 0", "satname")
    assert list(pos.table.columns) == ["T1", "T2"]
    assert list(pos.table.index) == [
        pd.Timestamp("1987-05-22T23:07:44Z"),
        pd.Timestamp("1987-09-11T23:10:29Z"),  # +10:00 converted to UTC
        pd.Timestamp("2001-01-03T00:00Z"),  # no offset: UTC
    ]
    np.testing.assert_array_equal(pos.table["T1"], [89.5, 96.25, 100.0])
    assert np.isnan(pos.table["T2"].iloc[0])


def test_read_positions__wide_with_an_uncertainty_column(tmp_path: Path) -> None:
    p = _write(tmp_path / "w.csv", "date,A,B,err\n2000-01-01,1,2,5\n2001-01-01,2,3,7.5\n")
    pos = read_positions(p, uncertainty="err")
    assert list(pos.table.columns) == ["A", "B"]
    assert pos.sigma is not None and pos.sigma.tolist() == [5.0, 7.5]
    with pytest.raises(SpecError, match="no uncertainty column 'sigma'"):
        read_positions(p, uncertainty="sigma")


def test_read_positions__long_with_uncertainty_and_parquet(tmp_path: Path) -> None:
    text = """
transect,date,position,uncertainty,source
NB2,2010-01-01T00:00:00Z,12.5,3,a
NB1,2010-01-01T00:00:00Z,20,4,a
NB1,2011-01-01T00:00:00Z,21,4.5,b
NB2,2012-06-01T00:00:00Z,,3,b
"""
    csv = _write(tmp_path / "long.csv", text)
    pos = read_positions(csv)
    assert pos.layout == "long" and pos.ignored == ("source",)
    assert list(pos.table.columns) == ["NB2", "NB1"]  # order of first appearance
    assert len(pos.table) == 3
    assert pos.table.loc[pd.Timestamp("2011-01-01T00:00Z"), "NB1"] == 21
    assert np.isnan(pos.table.loc[pd.Timestamp("2011-01-01T00:00Z"), "NB2"])
    assert isinstance(pos.sigma, pd.DataFrame)
    assert pos.sigma.loc[pd.Timestamp("2011-01-01T00:00Z"), "NB1"] == 4.5
    pq = tmp_path / "long.parquet"
    pd.read_csv(csv).to_parquet(pq)
    again = read_positions(pq)
    pd.testing.assert_frame_equal(again.table, pos.table)


def test_read_positions__unparseable_date_names_line_and_value(tmp_path: Path) -> None:
    p = _write(tmp_path / "w.csv", "date,A\n2000-01-01,1\n2000-02-30,2\n2000-03-01,3\n")
    with pytest.raises(SpecError, match=r"w\.csv: line 3: date '2000-02-30' in column 'date'"):
        read_positions(p)
    p = _write(tmp_path / "w2.csv", "date,A\n2000-01-01,1\n,2\n")
    with pytest.raises(SpecError, match="line 3: date an empty cell"):
        read_positions(p)
    p = _write(tmp_path / "l.csv", "transect,time,chainage\nA,2000-01-01,1\nA,yesterday,2\n")
    with pytest.raises(SpecError, match="line 3: date 'yesterday'"):
        read_positions(p)


def test_read_positions__bad_tables_refused(tmp_path: Path) -> None:
    with pytest.raises(AssetReadError, match="does not exist"):
        read_positions(tmp_path / "missing.csv")
    with pytest.raises(SpecError, match="is empty"):
        read_positions(_write(tmp_path / "empty.csv", ""))
    with pytest.raises(SpecError, match="has no rows"):
        read_positions(_write(tmp_path / "header.csv", "date,A,B"))
    with pytest.raises(SpecError, match="no date column"):
        read_positions(_write(tmp_path / "nodate.csv", "when,A\n2000-01-01,1"))
    with pytest.raises(SpecError, match="no transect column"):
        read_positions(_write(tmp_path / "none.csv", "date,name\n2000-01-01,x"))
    with pytest.raises(SpecError, match=r"line 3: '12,5m' in column 'A' is not a number"):
        read_positions(_write(tmp_path / "num.csv", 'date,A\n2000-01-01,1\n2001-01-01,"12,5m"'))
    with pytest.raises(SpecError, match="needs a position column"):
        read_positions(_write(tmp_path / "l1.csv", "transect,date,value\nA,2000-01-01,1"))
    with pytest.raises(SpecError, match="line 3: transect A has two positions on 2000-01-01"):
        read_positions(
            _write(tmp_path / "l2.csv", "transect,date,position\nA,2000-01-01,1\nA,2000-01-01,2")
        )


def test_read_tides__common_names_and_two_columns(tmp_path: Path) -> None:
    a = read_tides(_write(tmp_path / "a.csv", "dates,tide\n2024-01-01 00:00:00+00:00,0.5"))
    b = read_tides(_write(tmp_path / "b.csv", "Time,Water_Level\n2024-01-01T00:00Z,0.5"))
    c = read_tides(_write(tmp_path / "c.csv", "t_utc,h\n2024-01-01,0.5"))
    for s in (a, b, c):
        assert s.index[0] == pd.Timestamp("2024-01-01T00:00Z") and s.iloc[0] == 0.5
    with pytest.raises(SpecError, match="needs a time column"):
        read_tides(_write(tmp_path / "d.csv", "t,h,q\n2024-01-01,0.5,1"))
    with pytest.raises(SpecError, match="line 2: date 'noon'"):
        read_tides(_write(tmp_path / "e.csv", "time,level\nnoon,0.5"))


def test_read_slopes__unknown_transect_and_bad_slope(tmp_path: Path) -> None:
    p = _write(tmp_path / "s.csv", "transect,slope\nA,0.1\nB,0.05")
    s = read_slopes(p, transects=["A", "B", "C"])
    assert s.to_dict() == {"A": 0.1, "B": 0.05}
    with pytest.raises(SpecError, match=r"s\.csv: unknown transect\(s\) B: the positions have A"):
        read_slopes(p, transects=["A"])
    with pytest.raises(SpecError, match=r"line 3: slope of transect B is 0\.0"):
        read_slopes(_write(tmp_path / "z.csv", "transect,tanbeta\nA,0.1\nB,0"))
    with pytest.raises(SpecError, match="more than one slope"):
        read_slopes(_write(tmp_path / "d.csv", "transect,slope\nA,0.1\nA,0.2"))


@pytest.mark.realdata
def test_read_positions__real_coastsat_narrabeen() -> None:
    path = NARRA / "NARRA_time_series_tidally_corrected.csv"
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    pos = read_positions(path)
    assert pos.layout == "wide" and pos.ignored == ("Unnamed: 0",)
    assert list(pos.table.columns) == ["NA1", "NA2", "NA3", "NA4", "NA5"]
    assert len(pos.table) == 622
    assert pos.table.index[0] == pd.Timestamp("1987-05-22T23:07:44Z")
    assert pos.table.index[-1] == pd.Timestamp("2021-12-29T23:44:22Z")
    assert pos.table.notna().sum().tolist() == [564, 556, 558, 564, 550]


@pytest.mark.realdata
def test_read_real_tides_and_shoreshop_submission() -> None:
    tides, sub = NARRA / "NARRA_tides.csv", SDS / "example_submission_NARRABEEN"
    if not tides.exists() or not sub.exists():
        pytest.skip(f"real data not found: {tides} / {sub}")
    t = read_tides(tides)
    assert len(t) == 35137 and t.index.is_monotonic_increasing
    assert (t.index[1] - t.index[0]) == pd.Timedelta("15min")
    pos = read_positions(sub / "PF1_timeseries_tidally_corrected.csv")
    assert pos.ignored == ("satname",) and list(pos.table.columns) == ["PF1"]
    assert len(pos.table) == 866
