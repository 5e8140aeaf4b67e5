"""China national air-quality network (CNEMC) daily files into the tidy schema (I/O).

The daily files ``china_sites_YYYYMMDD.csv`` (the widely used archive of the national
network's hourly releases) are wide::

    date,hour,type,1001A,1002A,...
    20190101,0,AQI,73,,...
    20190101,0,NO2,75,,...

one row per hour and ``type`` (pollutant), one column per station code (``1001A``: four digits
and a capital letter), hours 0-23 in Beijing time (UTC+8, China has had no daylight saving time
since 1991). :func:`read_cnemc` reads any number of them (or a folder) and turns
``date + hour`` into UTC: ``20190101`` hour ``0`` is ``2018-12-31T16:00Z``. The hour is the
label the file gives; nothing is shifted to an hour's start or end.

``type`` becomes ``variable`` and ``unit`` (:data:`TYPES`): ``NO2`` -> ``no2`` in µg/m³,
``PM2.5_24h`` -> ``pm25_24h`` (the 24-hour running mean), ``CO`` -> ``co`` in mg/m³, ``AQI`` ->
``aqi`` (unit ``1``). A type not in :data:`TYPES` is reported and skipped.

The station list (``StationList-*.csv``: ``监测点编码,监测点名称,城市,经度,纬度`` = code, name,
city, longitude, latitude; or the English ``code,name,city,lon,lat``) gives coordinates;
stations with ``-`` or empty coordinates are reported and skipped, as are duplicate codes with
the same coordinates (the list of 2020-01-01 has ``3207A`` twice).

A daily file whose header is not ``date,hour,type`` followed by station codes, repeats a
column, holds a date other than its name's, an hour outside 0-23 or a value that is not a
number raises :class:`~rs.errors.AssetReadError` naming the file and the column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from rs.errors import AssetReadError, SpecError
from rs.stations.generic import read_table
from rs.stations.schema import (
    TIME_DTYPE,
    StationData,
    issues_frame,
    make_observations,
    make_stations,
    normalize_variable,
    unlocated,
)

__all__ = [
    "BEIJING",
    "CODE_PATTERN",
    "STATION_LIST_COLUMNS",
    "TYPES",
    "read_cnemc",
    "read_cnemc_day",
    "read_cnemc_stations",
]

#: Beijing time (China Standard Time), the clock of the daily files
BEIJING = timezone(timedelta(hours=8), "UTC+08:00")
#: a station code column: four digits and a capital letter (1001A)
CODE_PATTERN = re.compile(r"^\d{4}[A-Z]$")
_MASS = "µg/m³"
#: the file's ``type`` -> (variable, unit)
TYPES: dict[str, tuple[str, str]] = {
    "AQI": ("aqi", "1"),
    **{t: (normalize_variable(t), _MASS) for t in (
        "PM2.5", "PM2.5_24h", "PM10", "PM10_24h", "SO2", "SO2_24h", "NO2", "NO2_24h",
        "O3", "O3_24h", "O3_8h", "O3_8h_24h")},
    "CO": ("co", "mg/m³"),
    "CO_24h": ("co_24h", "mg/m³"),
}
#: station-list headers (Chinese, English) -> schema columns
STATION_LIST_COLUMNS: dict[str, str] = {
    "监测点编码": "station_id", "监测点名称": "name", "城市": "city", "经度": "lon", "纬度": "lat",
    "code": "station_id", "name": "name", "city": "city", "lon": "lon", "lat": "lat",
}
_HEAD = ("date", "hour", "type")
_NAME_DATE = re.compile(r"(\d{8})")


def read_cnemc_stations(
    path: Path | str, *, on_duplicate: Literal["error", "first"] = "error"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The national station list -> (stations with a ``city`` attribute, issues)."""
    df = read_table(path, "CNEMC station list")
    cols = {c: STATION_LIST_COLUMNS[str(c).strip()] for c in df.columns
            if str(c).strip() in STATION_LIST_COLUMNS}
    missing = {"station_id", "lon", "lat"} - set(cols.values())
    if missing:
        raise AssetReadError(
            f"{path}: not a CNEMC station list: no column for {', '.join(sorted(missing))} "
            f"(expected 监测点编码,监测点名称,城市,经度,纬度 or code,name,city,lon,lat; columns: "
            f"{', '.join(map(str, df.columns))})"
        )
    out = df[list(cols)].rename(columns=cols)
    if "name" not in out.columns:
        out["name"] = out["station_id"]
    return make_stations(out, source=str(path), on_duplicate=on_duplicate)


def read_cnemc_day(
    path: Path | str, *, variables: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One daily file -> (observations in UTC, not yet checked; issues). ``variables`` keeps
    only those (schema names, e.g. ``["no2"]``, or the file's types, e.g. ``["NO2"]``)."""
    path = Path(path)
    header = _header(path)
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={"date": "str", "type": "str"},
                         keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise AssetReadError(f"cannot read CNEMC daily file {path}: {e}") from e
    codes = header[3:]
    issues: list[dict[str, object]] = []
    types = df["type"].astype("str").str.strip()
    unknown = sorted(set(types) - set(TYPES))
    for t in unknown:
        issues.append({"source": str(path), "station_id": "", "problem": "unknown type",
                       "detail": f"type {t!r} is not one of {', '.join(TYPES)}: rows skipped"})
    keep = types.isin(list(TYPES))
    if variables is not None:
        wanted = {normalize_variable(v) for v in variables}
        keep &= types.map(lambda t: TYPES.get(t, ("",))[0] in wanted).astype(bool)
    df, types = df[keep.to_numpy()], types[keep.to_numpy()]
    hours = _hours(df["hour"], path)
    day = _day(df["date"], path)
    local = pd.to_datetime(day, format="%Y%m%d") + pd.to_timedelta(hours, unit="h")
    utc = pd.DatetimeIndex(local).tz_localize(BEIJING).tz_convert("UTC").astype(TIME_DTYPE)
    values = np.empty((len(df), len(codes)), dtype="float64")
    for j, code in enumerate(codes):
        col = df[code]
        if col.dtype.kind not in "fiu":
            num = pd.to_numeric(col, errors="coerce")
            bad = num.isna() & col.notna()
            if bad.any():
                raise AssetReadError(
                    f"{path}: column {code!r}: {col[bad].iloc[0]!r} is not a number"
                )
            col = num
        values[:, j] = col.to_numpy(dtype="float64", na_value=np.nan)
    rows, cols = np.nonzero(np.isfinite(values))
    var_unit = [TYPES[t] for t in types]
    obs = pd.DataFrame({
        "station_id": np.asarray(codes, dtype=object)[cols],
        "time": utc[rows],
        "variable": np.asarray([v for v, _ in var_unit], dtype=object)[rows],
        "value": values[rows, cols],
        "unit": np.asarray([u for _, u in var_unit], dtype=object)[rows],
    })
    return obs, issues_frame(issues)


def read_cnemc(
    files: Path | str | Iterable[Path | str],
    *,
    station_list: Path | str | None = None,
    variables: Sequence[str] | None = None,
    on_duplicate: Literal["error", "first"] = "error",
) -> StationData:
    """Daily files (a list, or a folder read as ``china_sites_*.csv`` in name order) and the
    station list -> :class:`StationData` with every station column of the files (module doc).

    Without ``station_list`` no station has coordinates: each observed station is reported.
    A station column with no value (of ``variables``) in any file is reported as
    ``no observations``, so observed + reported = every station column of the files.
    """
    paths = _files(files)
    parts, issues = [], []
    columns: dict[str, int] = {}
    for p in paths:
        obs, found = read_cnemc_day(p, variables=variables)
        parts.append(obs)
        issues.append(found)
        for code in _header(p)[3:]:
            columns[code] = columns.get(code, 0) + 1
    source = str(paths[0].parent) if len(paths) > 1 else str(paths[0])
    obs_df, obs_issues = make_observations(pd.concat(parts, ignore_index=True), source=source)
    observed = set(obs_df["station_id"].unique())
    what = f"of {', '.join(variables)} " if variables else ""
    issues.append(issues_frame(
        {"source": source, "station_id": code, "problem": "no observations",
         "detail": f"a column in {n} of {len(paths)} daily files, with no value {what}in any"}
        for code, n in sorted(columns.items()) if code not in observed
    ))
    if station_list is not None:
        stations, st_issues = read_cnemc_stations(station_list, on_duplicate=on_duplicate)
    else:
        stations, st_issues = make_stations(
            pd.DataFrame({"station_id": pd.Series(dtype="str"), "name": pd.Series(dtype="str"),
                          "lon": pd.Series(dtype="float64"), "lat": pd.Series(dtype="float64"),
                          "city": pd.Series(dtype="str")}), source=source)
    all_issues = pd.concat([st_issues, *issues, obs_issues, unlocated(obs_df, stations, source)],
                           ignore_index=True)
    return StationData(stations, obs_df, issues_frame(all_issues.to_dict("records")))


def _files(files: Path | str | Iterable[Path | str]) -> list[Path]:
    if isinstance(files, str | Path):
        p = Path(files)
        paths = sorted(p.glob("china_sites_*.csv")) if p.is_dir() else [p]
        if not paths:
            raise SpecError(f"{p}: no china_sites_YYYYMMDD.csv file in this folder")
    else:
        paths = [Path(f) for f in files]
        if not paths:
            raise SpecError("read_cnemc: no daily file given")
    return paths


def _header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), None)
    except FileNotFoundError as e:
        raise AssetReadError(f"CNEMC daily file {path} does not exist") from e
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise AssetReadError(f"cannot read CNEMC daily file {path}: {e}") from e
    if not header:
        raise AssetReadError(f"{path}: empty file, expected a header date,hour,type,<codes>")
    header = [h.strip() for h in header]
    for i, want in enumerate(_HEAD):
        got = header[i] if i < len(header) else None
        if got != want:
            raise AssetReadError(
                f"{path}: unexpected header: column {i + 1} is {got!r}, expected {want!r} "
                "(a CNEMC daily file starts date,hour,type, then one column per station code)"
            )
    seen: set[str] = set()
    for i, code in enumerate(header[3:], start=4):
        if not CODE_PATTERN.match(code):
            raise AssetReadError(
                f"{path}: unexpected header: column {i} {code!r} is not a station code "
                "(four digits and a capital letter, e.g. 1001A)"
            )
        if code in seen:
            raise AssetReadError(f"{path}: unexpected header: column {i} {code!r} is repeated")
        seen.add(code)
    if len(header) == 3:
        raise AssetReadError(f"{path}: unexpected header: no station column after date,hour,type")
    return header


def _hours(col: pd.Series, path: Path) -> np.ndarray:
    h = pd.to_numeric(col, errors="coerce")
    bad = h.isna() | (h < 0) | (h > 23) | (h != np.floor(h))
    if bad.any():
        raise AssetReadError(
            f"{path}: column 'hour': {str(col[bad].iloc[0])!r} is not an hour 0-23 (Beijing time)"
        )
    return h.to_numpy(dtype="int64")


def _day(col: pd.Series, path: Path) -> np.ndarray:
    d = col.astype("str").str.strip().to_numpy()
    m = _NAME_DATE.search(path.name)
    bad = ~pd.Series(d).str.fullmatch(r"\d{8}").to_numpy()
    if m is not None:
        bad |= d != m.group(1)
    if bad.any():
        expected = f" (the file's name says {m.group(1)})" if m else ""
        raise AssetReadError(
            f"{path}: column 'date': {d[bad][0]!r} is not the file's date YYYYMMDD{expected}"
        )
    return d
