"""OpenAQ exports (rs.stations.openaq): the real pandas-tutorial OpenAQ files in
../shared/data/real/stations/openaq_no2_2019, and the v1/v3 export layouts written here."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from rs.errors import AssetReadError, SpecError
from rs.stations.openaq import read_openaq

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
OPENAQ = REAL / "stations/openaq_no2_2019"
needs_real = pytest.mark.skipif(not OPENAQ.is_dir(), reason=f"real data absent: {OPENAQ}")


@pytest.mark.realdata
@needs_real
def test_real_no2_export_with_the_stations_file() -> None:
    data = read_openaq(OPENAQ / "air_quality_no2_long.csv",
                       stations=OPENAQ / "air_quality_stations.csv")
    obs = data.observations
    assert obs.groupby("station_id").size().to_dict() == {
        "BETR801": 95, "FR04014": 1004, "London Westminster": 969}
    assert set(obs["variable"]) == {"no2"} and set(obs["unit"]) == {"µg/m³"}
    assert obs["time"].min() == pd.Timestamp("2019-05-07T01:00Z")
    assert obs["time"].max() == pd.Timestamp("2019-06-21T00:00Z")
    # the first data rows of the raw file, read with the csv module
    with (OPENAQ / "air_quality_no2_long.csv").open(encoding="utf-8") as f:
        raw = list(csv.DictReader(f))[:50]
    by = obs.set_index(["station_id", "time"])["value"]
    for r in raw:
        assert by[(r["location"], pd.Timestamp(r["date.utc"]))] == float(r["value"])
    assert by[("FR04014", pd.Timestamp("2019-06-21T00:00Z"))] == 20.0  # by hand: line 2
    st = data.stations.set_index("station_id")
    assert (st.loc["FR04014", "lat"], st.loc["FR04014", "lon"]) == (48.83724, 2.3939)
    assert (st.loc["BETR801", "city"], st.loc["London Westminster", "country"]) == (
        "Antwerpen", "GB")
    # 8 Paris stations are listed twice a few metres apart: kept once, reported
    dup = data.issues[data.issues["problem"] == "duplicate station id"]
    assert len(dup) == 8 and "FR04143" in set(dup["station_id"])
    assert not (data.issues["problem"] == "unknown coordinates").any()


@pytest.mark.realdata
@needs_real
def test_real_pm25_export_without_coordinates_reports_every_station() -> None:
    data = read_openaq(OPENAQ / "air_quality_pm25_long.csv", parameters=["pm25"])
    assert set(data.observations["variable"]) == {"pm25"}
    assert data.stations.empty
    assert set(data.issues["problem"]) == {"unknown coordinates"}
    assert set(data.issues["station_id"]) == set(data.observations["station_id"])


def test_v1_export_with_coordinates(tmp_path: Path) -> None:
    p = tmp_path / "v1.csv"
    p.write_text(
        "location,city,country,utc,local,parameter,value,unit,latitude,longitude,attribution\n"
        "Dongsi,Beijing,CN,2019-01-05T05:00:00.000Z,2019-01-05T13:00:00+08:00,no2,41,µg/m³,"
        "39.929,116.417,x\n"
        "Dongsi,Beijing,CN,2019-01-05T05:00:00.000Z,2019-01-05T13:00:00+08:00,o3,0.02,ppm,"
        "39.929,116.417,x\n", encoding="utf-8")
    data = read_openaq(p, parameters=["no2"])
    assert data.observations["time"].tolist() == [pd.Timestamp("2019-01-05T05:00Z")]
    assert data.stations[["station_id", "lon", "lat", "city", "country"]].values.tolist() == [
        ["Dongsi", 116.417, 39.929, "Beijing", "CN"]]


def test_v3_archive_layout(tmp_path: Path) -> None:
    p = tmp_path / "v3.csv"
    p.write_text(
        "location_id,sensors_id,location,datetime,lat,lon,parameter,units,value\n"
        "2178,7,Del Norte,2023-01-01T01:00:00-07:00,35.1353,-106.5847,no2,ppm,0.012\n"
        "2178,7,Del Norte,2023-01-01T02:00:00-07:00,35.1353,-106.5847,no2,ppm,0.010\n",
        encoding="utf-8")
    data = read_openaq(p)
    assert data.stations[["station_id", "name"]].values.tolist() == [["2178", "Del Norte"]]
    assert data.observations["time"].tolist() == [pd.Timestamp("2023-01-01T08:00Z"),
                                                  pd.Timestamp("2023-01-01T09:00Z")]
    assert set(data.observations["unit"]) == {"ppm"}


def test_not_an_openaq_export(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(SpecError, match="no UTC time column"):
        read_openaq(p)
    p.write_text("location,utc,parameter,value\nX,2019-01-01T00:00Z,no2,1\n")
    with pytest.raises(SpecError, match="no unit or units column"):
        read_openaq(p)
    with pytest.raises(AssetReadError, match="does not exist"):
        read_openaq(tmp_path / "missing.csv")
