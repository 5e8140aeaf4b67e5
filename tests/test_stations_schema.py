"""The tidy station schema (rs.stations.schema), units (rs.stations.units) and the generic long
CSV / Parquet adapter (rs.stations.generic), with their bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rs.errors import AssetReadError, SpecError
from rs.stations.generic import read_observations, read_stations
from rs.stations.schema import (
    StationData,
    combine,
    haversine_m,
    make_stations,
    normalize_variable,
    to_utc,
)
from rs.stations.units import (
    conversion_factor,
    convert,
    convert_observations,
    normalize_unit,
)

# --- units -----------------------------------------------------------------------------------


def test_no2_ppb_to_ugm3_at_the_documented_defaults() -> None:
    # 1 ppb NO2 at 25 °C, 1013.25 hPa: M P / (R T) = 46.0055 * 101325 / (8.314462618 * 298.15)
    want = 46.0055 * 101325.0 / (8.314462618 * 298.15) * 1e-3
    assert conversion_factor("ppb", "ug/m3", variable="no2") == pytest.approx(want, rel=1e-12)
    assert want == pytest.approx(1.8804, abs=1e-4)  # the textbook factor
    # round trip, other spellings, families
    v = np.array([0.0, 10.0, 40.0])
    back = convert(convert(v, "µg/m³", "ppbv", variable="no2_24h"), "ppb", "μg m-3",
                   variable="no2")
    np.testing.assert_allclose(back, v, rtol=1e-13)
    assert conversion_factor("mg/m3", "ug/m3") == 1000.0
    assert conversion_factor("ppm", "ppb") == 1000.0
    # colder, higher pressure air holds more mass per ppb
    cold = conversion_factor("ppb", "ug/m3", variable="no2", temperature_c=0.0)
    assert cold == pytest.approx(want * 298.15 / 273.15, rel=1e-12)
    assert conversion_factor("ppb", "ug/m3", variable="no2", pressure_hpa=506.625) == \
        pytest.approx(want / 2, rel=1e-12)


@pytest.mark.parametrize(
    ("src", "dst", "variable", "match"),
    [
        ("ug/m3", "ppb", "pm25", "known molar mass .*'pm25' is not one of them"),
        ("ug/m3", "ppb", None, "name the variable"),
        ("mol/m2", "ug/m3", "no2", "unit 'mol/m2' is unknown"),
        ("ug/m3", "AQI", "no2", "unit 'AQI' is unknown"),
    ],
)
def test_units_that_cannot_be_converted(src: str, dst: str, variable: str | None,
                                        match: str) -> None:
    with pytest.raises(SpecError, match=match):
        conversion_factor(src, dst, variable=variable)


def test_bad_conditions_refused() -> None:
    with pytest.raises(SpecError, match=r"above -273\.15"):
        conversion_factor("ppb", "ug/m3", variable="no2", temperature_c=-300)
    with pytest.raises(SpecError, match="positive pressure"):
        conversion_factor("ppb", "ug/m3", variable="no2", pressure_hpa=0)


def test_unit_spellings() -> None:
    for u in ("ug/m3", "µg/m³", "μg/m3", "ug m-3", "microgram/m3", "micrograms/m³", " UG/M3 "):
        assert normalize_unit(u) == "µg/m³", u
    assert [normalize_unit(u) for u in ("ppbv", "nmol/mol", "PPM", "mg/m3", "ng/m3")] == [
        "ppb", "ppb", "ppm", "mg/m³", "ng/m³"]
    assert normalize_unit("mol/m2") == "mol/m2"  # unknown: kept, refused only when converted


def test_convert_observations_per_variable_and_unit() -> None:
    obs = pd.DataFrame({"station_id": ["a", "a", "b", "b"], "variable": ["no2", "no2", "no2", "o3"],
                        "value": [10.0, 20.0, 5.0, 30.0], "unit": ["ppb", "ppb", "µg/m³", "ppb"]})
    out = convert_observations(obs, "ug/m3", variables="no2")
    f = conversion_factor("ppb", "ug/m3", variable="no2")
    assert out["value"].tolist() == [10 * f, 20 * f, 5.0, 30.0]
    assert out["unit"].tolist() == ["µg/m³", "µg/m³", "µg/m³", "ppb"]  # o3 untouched
    assert obs["unit"].tolist()[0] == "ppb"  # a copy
    with pytest.raises(SpecError, match="pm25"):
        convert_observations(obs.assign(variable="pm25"), "ppb")


# --- schema ----------------------------------------------------------------------------------


def test_to_utc__offsets_kept_naive_needs_tz() -> None:
    s = pd.Series(["2019-01-05T13:00:00+08:00", "2019-01-05T05:00:00Z"])
    assert list(to_utc(s, tz=None, source="f", column="t")) == [
        pd.Timestamp("2019-01-05T05:00Z")] * 2
    naive = pd.Series(["2019-01-05 13:00", "2019-07-05 13:00"])
    with pytest.raises(SpecError, match=r"no time zone .* tz='UTC' or tz='Asia/Shanghai'"):
        to_utc(naive, tz=None, source="f.csv", column="when")
    assert list(to_utc(naive, tz="Asia/Shanghai", source="f", column="t")) == [
        pd.Timestamp("2019-01-05T05:00Z"), pd.Timestamp("2019-07-05T05:00Z")]
    # a zone with summer time: Paris is UTC+1 in January, UTC+2 in July
    assert list(to_utc(naive, tz="Europe/Paris", source="f", column="t")) == [
        pd.Timestamp("2019-01-05T12:00Z"), pd.Timestamp("2019-07-05T11:00Z")]
    mixed = pd.Series(["2019-01-05 13:00", "2019-01-05T05:00Z"])
    with pytest.raises(AssetReadError, match="mixes times with an offset"):
        to_utc(mixed, tz="UTC", source="f", column="t")
    with pytest.raises(AssetReadError, match=r"row 2: 'yesterday' is not a time"):
        to_utc(pd.Series(["2019-01-05 13:00", "yesterday"]), tz="UTC", source="f", column="t")
    with pytest.raises(SpecError, match="in time zone 'Mars/Olympus'"):
        to_utc(naive, tz="Mars/Olympus", source="f", column="t")
    # a non-existent local time (the spring-forward gap) is refused, not guessed
    with pytest.raises(SpecError, match="Europe/Paris"):
        to_utc(pd.Series(["2019-03-31 02:30"]), tz="Europe/Paris", source="f", column="t")


def test_make_stations__duplicates_within_tolerance_kept_once() -> None:
    df = pd.DataFrame({"station_id": ["a", "a", "b"], "name": ["A", "A'", "B"],
                       "lon": [2.351, 2.35111, 3.0], "lat": [48.859, 48.85944, 48.0]})
    st, issues = make_stations(df, source="s")
    assert st["station_id"].tolist() == ["a", "b"] and st["name"].tolist() == ["A", "B"]
    assert "up to 50 m apart" in issues["detail"][0]
    with pytest.raises(AssetReadError, match="listed 2 times at places 50 m apart"):
        make_stations(df, source="s", same_within_m=10.0)
    with pytest.raises(AssetReadError, match="row 2 has no station id"):
        make_stations(df.assign(station_id=["a", None, "b"]), source="s")


def test_haversine_against_a_known_distance() -> None:
    # one degree of latitude on the mean sphere
    assert haversine_m(0, 0, 0, 1) == pytest.approx(6_371_008.8 * np.pi / 180, rel=1e-12)
    assert haversine_m(179.9, 0, -179.9, 0) == pytest.approx(haversine_m(0, 0, 0.2, 0))


def test_variable_names() -> None:
    assert [normalize_variable(v) for v in ("NO2", "PM2.5", "PM2.5_24h", "pm2_5", "O3_8h")] == [
        "no2", "pm25", "pm25_24h", "pm25", "o3_8h"]


# --- generic adapter -------------------------------------------------------------------------


def _csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_generic_long_csv_with_its_own_coordinates(tmp_path: Path) -> None:
    p = _csv(tmp_path / "obs.csv", """
station_id,time,variable,value,unit,lon,lat,station_type
0012,2019-01-05T13:00:00+08:00,NO2,40,ug/m3,116.4,39.9,urban
0012,2019-01-05T14:00:00+08:00,NO2,42,ug/m3,116.4,39.9,urban
0012,2019-01-05T14:00:00+08:00,NO2,42,ug/m3,116.4,39.9,urban
0099,2019-01-05T05:00:00Z,no2,,ug/m3,,,rural
0100,2019-01-05T05:00:00Z,no2,17,ppb,121.4,31.2,rural
""")
    data = read_observations(p)
    assert isinstance(data, StationData)
    assert data.stations["station_id"].tolist() == ["0012", "0100"]  # zeros kept
    obs = data.observations
    assert obs["station_id"].tolist() == ["0012", "0012", "0100"]  # NaN value dropped, dup once
    assert obs["time"].tolist() == [pd.Timestamp("2019-01-05T05:00Z"),
                                    pd.Timestamp("2019-01-05T06:00Z"),
                                    pd.Timestamp("2019-01-05T05:00Z")]
    assert obs["unit"].tolist() == ["µg/m³", "µg/m³", "ppb"]
    assert set(obs["variable"]) == {"no2"}
    assert sorted(data.issues["problem"]) == ["duplicate observations", "unknown coordinates"]


def test_generic_parquet_with_a_stations_file_and_renamed_columns(tmp_path: Path) -> None:
    obs = pd.DataFrame({
        "code": ["A", "B"], "when": pd.to_datetime(["2019-01-05 05:00", "2019-01-05 06:00"]),
        "conc": [1.5, 2.5]})
    obs.to_parquet(tmp_path / "o.parquet")
    _csv(tmp_path / "s.csv", "site,site_name,longitude,latitude,elevation\nA,a,1,2,30\nB,b,3,4,")
    with pytest.raises(SpecError, match=r"no unit column .* unit='ug/m3'"):
        read_observations(tmp_path / "o.parquet", columns={"station_id": "code", "time": "when",
                                                          "value": "conc"}, variable="no2")
    with pytest.raises(SpecError, match="have no time zone"):
        read_observations(tmp_path / "o.parquet", columns={"station_id": "code", "time": "when",
                                                          "value": "conc"}, variable="no2",
                          unit="ppb")
    data = read_observations(
        tmp_path / "o.parquet", columns={"station_id": "code", "time": "when", "value": "conc"},
        variable="no2", unit="ppb", tz="UTC", stations=tmp_path / "s.csv")
    assert data.observations["value"].tolist() == [1.5, 2.5]
    assert data.stations.columns.tolist() == ["station_id", "name", "lon", "lat", "elevation"]
    assert data.stations["elevation"].tolist()[0] == 30.0
    assert data.attributes == ["elevation"]
    assert data.issues.empty


def test_generic_bad_input(tmp_path: Path) -> None:
    with pytest.raises(AssetReadError, match="does not exist"):
        read_observations(tmp_path / "none.csv")
    p = _csv(tmp_path / "o.csv", "station,time,value,unit\nA,2019-01-05T05:00Z,40,ppb")
    with pytest.raises(SpecError, match="no variable column"):
        read_observations(p)
    p = _csv(tmp_path / "o2.csv",
             "station,time,variable,value,unit\nA,2019-01-05T05:00Z,no2,high,ppb")
    with pytest.raises(AssetReadError, match="value 'high' of station 'A'"):
        read_observations(p)
    with pytest.raises(SpecError, match="no column 'stn'"):
        read_observations(p, columns={"station_id": "stn"})
    s = _csv(tmp_path / "s.csv", "id,lon,lat\nA,1,2\nA,5,6")
    with pytest.raises(AssetReadError, match="'A' is listed 2 times"):
        read_stations(s)
    st, issues = read_stations(s, on_duplicate="first")
    assert st["lon"].tolist() == [1.0] and issues["problem"].tolist() == ["duplicate station id"]


def test_combine_checks_duplicates_across_parts() -> None:
    a = StationData(
        pd.DataFrame({"station_id": ["x"], "name": ["x"], "lon": [1.0], "lat": [2.0]}),
        pd.DataFrame({"station_id": ["x"], "time": pd.to_datetime(["2019-01-01"], utc=True),
                      "variable": ["no2"], "value": [1.0], "unit": ["ppb"]}),
        pd.DataFrame(columns=["source", "station_id", "problem", "detail"]))
    both = combine(a, a)
    assert len(both.stations) == 1 and len(both.observations) == 2
    assert both.issues["problem"].tolist() == ["duplicate station id"]
    far = StationData(a.stations.assign(lon=50.0), a.observations, a.issues)
    with pytest.raises(AssetReadError, match="'x' is listed 2 times"):
        combine(a, far)
