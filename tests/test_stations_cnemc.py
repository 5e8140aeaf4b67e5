"""China national network daily files (rs.stations.cnemc): the real files in
../shared/data/real/stations/cnemc_2019 (values checked by hand against the raw CSV), and
daily files written here with bad headers, dates and values."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rs.errors import AssetReadError, SpecError
from rs.stations.cnemc import read_cnemc, read_cnemc_day, read_cnemc_stations
from rs.stations.schema import OBSERVATION_COLUMNS, STATION_COLUMNS

#: Real data folder beside the repository (../shared/data/real), as tests/test_readers.py finds it
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
CNEMC = REAL / "stations/cnemc_2019"
LIST = CNEMC / "StationList-2020.01.01.csv"
needs_real = pytest.mark.skipif(not CNEMC.is_dir(), reason=f"real data absent: {CNEMC}")


@pytest.fixture(scope="module")
def real():  # type: ignore[no-untyped-def]
    return read_cnemc(CNEMC, station_list=LIST)


def _raw_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return next(csv.reader(f))[3:]


@pytest.mark.realdata
@needs_real
def test_real_files__every_station_column_read_with_utc_times(real) -> None:  # type: ignore[no-untyped-def]
    files = sorted(CNEMC.glob("china_sites_*.csv"))
    assert len(files) == 3
    columns = set().union(*(_raw_columns(f) for f in files))
    assert len(columns) == 1605  # every station column of the files ...
    observed = set(real.observations["station_id"].unique())
    empty = set(real.issues.loc[real.issues["problem"] == "no observations", "station_id"])
    assert observed | empty == columns and not observed & empty  # ... is read or reported
    assert len(observed) == 1474 and len(empty) == 131
    assert list(real.observations.columns) == list(OBSERVATION_COLUMNS)
    assert str(real.observations["time"].dtype) == "datetime64[ns, UTC]"
    # 2019-01-01 00:00 Beijing time is 2018-12-31 16:00 UTC; 2019-01-03 23:00 is 15:00 UTC
    assert real.observations["time"].min() == pd.Timestamp("2018-12-31T16:00Z")
    assert real.observations["time"].max() == pd.Timestamp("2019-01-03T15:00Z")
    assert set(real.observations["variable"]) == {
        "aqi", "pm25", "pm25_24h", "pm10", "pm10_24h", "so2", "so2_24h", "no2", "no2_24h",
        "o3", "o3_24h", "o3_8h", "o3_8h_24h", "co", "co_24h"}


@pytest.mark.realdata
@needs_real
def test_real_files__values_checked_by_hand(real) -> None:  # type: ignore[no-untyped-def]
    obs = real.observations.set_index(["station_id", "variable", "time"])["value"]
    unit = real.observations.set_index(["station_id", "variable"])["unit"]
    # china_sites_20190101.csv: "20190101,0,NO2,75,..." and "20190101,23,NO2,44,..." (1001A)
    assert obs[("1001A", "no2", pd.Timestamp("2018-12-31T16:00Z"))] == 75.0
    assert obs[("1001A", "no2", pd.Timestamp("2019-01-01T15:00Z"))] == 44.0
    # china_sites_20190103.csv, hour 13 (05:00 UTC): NO2 1001A 85, 3169A 56, 1605A empty;
    # PM2.5 1001A 137, 1605A 40; CO 1605A 1.2 (mg/m3)
    t = pd.Timestamp("2019-01-03T05:00Z")
    assert obs[("1001A", "no2", t)] == 85.0
    assert obs[("3169A", "no2", t)] == 56.0
    assert ("1605A", "no2", t) not in obs.index
    assert obs[("1001A", "pm25", t)] == 137.0 and obs[("1605A", "pm25", t)] == 40.0
    assert obs[("1605A", "co", t)] == 1.2
    assert unit[("1605A", "co")].iloc[0] == "mg/m³" and unit[("1001A", "no2")].iloc[0] == "µg/m³"
    # and a whole column against the raw file, read independently with the csv module
    with (CNEMC / "china_sites_20190102.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    j = rows[0].index("3169A")
    raw = {int(r[1]): float(r[j]) for r in rows[1:] if r[2] == "NO2" and r[j] != ""}
    ours = obs.loc[("3169A", "no2")]
    ours = ours[(ours.index >= pd.Timestamp("2019-01-01T16:00Z"))
                & (ours.index < pd.Timestamp("2019-01-02T16:00Z"))]
    assert len(raw) >= 20
    assert {(t - pd.Timedelta(hours=-8)).hour: v for t, v in ours.items()} == raw


@pytest.mark.realdata
@needs_real
def test_real_station_list__unknown_coordinates_and_duplicate_reported(real) -> None:  # type: ignore[no-untyped-def]
    st = real.stations
    assert list(st.columns) == [*STATION_COLUMNS, "city"]
    assert len(st) == 1626 and st["station_id"].is_unique  # 1641 rows - 14 unlocated - 1 dup
    row = st.set_index("station_id").loc["1001A"]
    assert (row["name"], row["city"], row["lon"], row["lat"]) == ("万寿西宫", "北京", 116.366,
                                                                    39.8673)
    issues = real.issues
    unknown = issues[issues["problem"] == "unknown coordinates"]
    assert len(unknown) == 14 and {"1028A", "3019A"} <= set(unknown["station_id"])
    dup = issues[issues["problem"] == "duplicate station id"]
    assert list(dup["station_id"]) == ["3207A"]
    assert st.set_index("station_id").loc["3207A", "name"] == "市政府原办公楼(190307启用)"


@pytest.mark.realdata
@needs_real
def test_real_files__a_variable_and_a_list_of_files() -> None:
    files = [CNEMC / "china_sites_20190103.csv", CNEMC / "china_sites_20190101.csv"]
    data = read_cnemc(files, station_list=LIST, variables=["NO2"])
    assert set(data.observations["variable"]) == {"no2"}
    assert data.observations["time"].dt.date.astype(str).isin(
        ["2018-12-31", "2019-01-01", "2019-01-02", "2019-01-03"]).all()
    # every station reporting NO2 at 13:00 local on 2019-01-03 in the raw file is there
    with files[0].open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    raw = next(r for r in rows[1:] if r[1] == "13" and r[2] == "NO2")
    n_raw = sum(v != "" for v in raw[3:])
    at = data.observations[data.observations["time"] == pd.Timestamp("2019-01-03T05:00Z")]
    assert len(at) == n_raw == 1394


# --- daily files written here ---------------------------------------------------------------


def _day(folder: Path, name: str, header: str, *rows: str) -> Path:
    p = folder / name
    p.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return p


def _list(folder: Path, *rows: str) -> Path:
    p = folder / "StationList.csv"
    p.write_text("\n".join(["监测点编码,监测点名称,城市,经度,纬度", *rows]) + "\n",
                 encoding="utf-8-sig")
    return p


def test_daily_files__several_days_to_utc(tmp_path: Path) -> None:
    h = "date,hour,type,1001A,2002B"
    a = _day(tmp_path, "china_sites_20190301.csv", h, "20190301,0,NO2,10,", "20190301,0,CO,0.5,1",
             "20190301,8,NO2,12,20")
    b = _day(tmp_path, "china_sites_20190302.csv", h, "20190302,23,NO2,,7")
    lst = _list(tmp_path, "1001A,甲,北京,116.4,39.9", "2002B,乙,上海,121.4,31.2")
    data = read_cnemc([a, b], station_list=lst, variables=["no2"])
    obs = data.observations
    assert list(obs["station_id"]) == ["1001A", "1001A", "2002B", "2002B"]
    assert list(obs["time"]) == [pd.Timestamp(t) for t in (
        "2019-02-28T16:00Z", "2019-03-01T00:00Z", "2019-03-01T00:00Z", "2019-03-02T15:00Z")]
    assert list(obs["value"]) == [10.0, 12.0, 20.0, 7.0]
    assert set(obs["unit"]) == {"µg/m³"}
    assert data.issues.empty
    assert list(data.stations["city"]) == ["北京", "上海"]


def test_daily_files__a_folder_and_no_station_list(tmp_path: Path) -> None:
    _day(tmp_path, "china_sites_20190301.csv", "date,hour,type,1001A", "20190301,1,NO2,3")
    data = read_cnemc(tmp_path)
    assert len(data.observations) == 1 and data.stations.empty
    assert list(data.issues["problem"]) == ["unknown coordinates"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"no china_sites_YYYYMMDD\.csv"):
        read_cnemc(tmp_path / "empty")
    with pytest.raises(AssetReadError, match="nothing-here does not exist"):
        read_cnemc(tmp_path / "nothing-here")


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("date,hour,kind,1001A", "column 3 is 'kind', expected 'type'"),
        ("hour,date,type,1001A", "column 1 is 'hour', expected 'date'"),
        ("date,hour,type,1001A,Beijing", "column 5 'Beijing' is not a station code"),
        ("date,hour,type,1001A,1001A", "column 5 '1001A' is repeated"),
        ("date,hour,type", "no station column"),
    ],
)
def test_daily_file__unexpected_header_names_file_and_column(
    tmp_path: Path, header: str, match: str
) -> None:
    p = _day(tmp_path, "china_sites_20190301.csv", header, "20190301,0,NO2,1,2")
    with pytest.raises(AssetReadError, match=match) as e:
        read_cnemc([p])
    assert "china_sites_20190301.csv" in str(e.value)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("20190302,0,NO2,1", r"'20190302' is not the file's date .*20190301"),
        ("20190301,24,NO2,1", "column 'hour': '24' is not an hour 0-23"),
        ("20190301,0,NO2,lots", "column '1001A': 'lots' is not a number"),
    ],
)
def test_daily_file__bad_rows_name_file_and_column(tmp_path: Path, row: str, match: str) -> None:
    p = _day(tmp_path, "china_sites_20190301.csv", "date,hour,type,1001A", row)
    with pytest.raises(AssetReadError, match=match):
        read_cnemc_day(p)


def test_daily_file__unknown_type_reported_and_skipped(tmp_path: Path) -> None:
    p = _day(tmp_path, "china_sites_20190301.csv", "date,hour,type,1001A",
             "20190301,0,NO2,1", "20190301,0,HCHO,2")
    obs, issues = read_cnemc_day(p)
    assert list(obs["variable"]) == ["no2"]
    assert list(issues["problem"]) == ["unknown type"] and "'HCHO'" in issues["detail"][0]


def test_station_list__bad_input(tmp_path: Path) -> None:
    lst = _list(tmp_path, "1001A,甲,北京,116.4,39.9", "1002A,乙,北京,-,-", "1003A,丙,北京,200,39",
                "1001A,甲2,北京,116.4,39.9")
    st, issues = read_cnemc_stations(lst)
    assert list(st["station_id"]) == ["1001A"] and st["name"][0] == "甲"
    assert list(issues["problem"]) == ["unknown coordinates", "coordinates out of range",
                                       "duplicate station id"]
    far = _list(tmp_path, "1001A,甲,北京,116.4,39.9", "1001A,甲,上海,121.4,31.2")
    with pytest.raises(AssetReadError, match=r"'1001A' is listed 2 times at places \d+ m apart"):
        read_cnemc_stations(far)
    st, issues = read_cnemc_stations(far, on_duplicate="first")
    assert st["lon"].tolist() == [116.4] and issues["problem"].tolist() == ["duplicate station id"]
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,x,y\n1001A,1,2\n")
    with pytest.raises(AssetReadError, match="not a CNEMC station list"):
        read_cnemc_stations(wrong)


def test_every_value_of_a_wide_file_lands_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    codes = [f"{1000 + i}A" for i in range(40)]
    values = rng.integers(1, 300, size=(24, 40)).astype(float)
    values[rng.random(values.shape) < 0.3] = np.nan
    rows = [",".join(["20190301", str(h), "NO2",
                      *("" if np.isnan(v) else str(int(v)) for v in values[h])])
            for h in range(24)]
    p = _day(tmp_path, "china_sites_20190301.csv", "date,hour,type," + ",".join(codes), *rows)
    obs, _ = read_cnemc_day(p)
    assert len(obs) == int(np.isfinite(values).sum())
    got = obs.pivot(index="time", columns="station_id", values="value")
    want = pd.DataFrame(values, columns=codes,
                        index=pd.date_range("2019-02-28T16:00Z", periods=24, freq="h"))
    pd.testing.assert_frame_equal(
        got.reindex(index=want.index, columns=codes), want, check_names=False, check_freq=False
    )


@pytest.mark.realdata
@needs_real
def test_real_network_matched_at_the_overpass_in_local_solar_time(real) -> None:  # type: ignore[no-untyped-def]
    """The real network against a flat raster over China on 2019-01-02: the ground value is the
    mean of the hours within 13:30 ± 1 h mean local solar time, checked by hand in the raw
    file for Beijing (1001A, 116.366 E) and Urumqi (1490A, 87.580 E)."""
    from affine import Affine

    from rs.stations.matchup import MatchupParams, Raster, match

    raster = Raster(np.ones((160, 280)), Affine(0.25, 0, 70, 0, -0.25, 55), "EPSG:4326",
                    pd.Timestamp("2019-01-02T05:30Z"))
    m = match(raster, real.stations, real.observations, MatchupParams(variable="no2"))
    t = m.table.set_index("station_id")
    # 1001A: 13:30 solar = 05:44:32 UTC; the window holds 05:00 and 06:00 UTC, i.e. 13:00 and
    # 14:00 Beijing time: "20190102,13,NO2,49" and "20190102,14,NO2,60"
    assert (t.loc["1001A", "ground_n"], t.loc["1001A", "ground_value"]) == (2, 54.5)
    assert t.loc["1001A", "ground_start"] == pd.Timestamp("2019-01-02T04:44:32Z")
    # 1490A: 13:30 solar = 07:39:41 UTC: 07:00 and 08:00 UTC = 15:00 and 16:00 Beijing: 81, 88
    assert (t.loc["1490A", "ground_n"], t.loc["1490A", "ground_value"]) == (2, 84.5)
    # every located station with NO2 is matched or reported; none is lost
    no2 = set(real.observations.loc[real.observations["variable"] == "no2", "station_id"])
    located = set(real.stations["station_id"])
    assert set(t.index) == located & no2
    assert len(t) > 1400 and t["usable"].sum() > 1300
    assert set(m.report.loc[m.report["problem"] == "no observations", "station_id"]) == \
        located - no2
