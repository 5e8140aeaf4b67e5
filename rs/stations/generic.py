"""The generic adapter: long station tables (CSV or Parquet) into the tidy schema (I/O).

An observations table has one row per measurement::

    station_id,time,variable,value,unit
    S001,2019-01-05T05:00:00Z,no2,41.5,ug/m3

and a stations table one row per station (``station_id,name,lon,lat`` and any attribute
columns). Columns are found by their usual names (any case; :data:`NAMES`) or named explicitly
with ``columns={"station_id": "code", "time": "datetime_local", ...}``. An observations table
with ``lon``/``lat`` columns carries its own stations. A table without a ``variable`` or
``unit`` column needs ``variable=`` / ``unit=``: neither is assumed, and nor is a time zone
(times without an offset need ``tz=``, :func:`rs.stations.schema.to_utc`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from rs.errors import AssetReadError, SpecError
from rs.stations.schema import (
    STATION_COLUMNS,
    StationData,
    issues_frame,
    make_observations,
    make_stations,
    to_utc,
    unlocated,
)

__all__ = ["NAMES", "find_column", "read_observations", "read_stations", "read_table"]

#: usual column names per schema column (compared in lower case)
NAMES: dict[str, tuple[str, ...]] = {
    "station_id": ("station_id", "station", "id", "code", "station_code", "site", "site_id",
                   "location_id", "location"),
    "name": ("name", "station_name", "site_name"),
    "lon": ("lon", "longitude", "lng", "x", "coordinates.longitude"),
    "lat": ("lat", "latitude", "y", "coordinates.latitude"),
    "time": ("time", "datetime", "date_time", "timestamp", "date.utc", "utc", "date"),
    "variable": ("variable", "parameter", "pollutant", "species"),
    "value": ("value", "concentration", "measurement"),
    "unit": ("unit", "units"),
}


def read_table(path: Path | str, what: str = "table") -> pd.DataFrame:
    """Read a CSV (UTF-8, BOM allowed; every column as text) or Parquet file, or raise
    AssetReadError naming it."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq", ".geoparquet"):
            return pd.read_parquet(path)
        # every column as text: ids such as "0012" keep their zeros; numbers are parsed later
        return pd.read_csv(path, encoding="utf-8-sig", dtype="str", keep_default_na=False,
                           na_values=[""])
    except FileNotFoundError as e:
        raise AssetReadError(f"{what} file {path} does not exist") from e
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise AssetReadError(f"cannot read {what} file {path}: {e}") from e


def find_column(
    df: pd.DataFrame, key: str, columns: Mapping[str, str] | None, *, required: bool, source: str
) -> str | None:
    """The column of ``df`` holding schema column ``key``: ``columns[key]`` when given (it must
    exist), else the first of :data:`NAMES` [key] present (any case)."""
    if columns and key in columns:
        name = columns[key]
        if name not in df.columns:
            raise SpecError(
                f"{source}: no column {name!r} (given for {key}); columns: "
                f"{', '.join(map(str, df.columns))}"
            )
        return name
    lower = {str(c).strip().lower(): c for c in df.columns}
    for cand in NAMES[key]:
        if cand in lower:
            return str(lower[cand])
    if required:
        raise SpecError(
            f"{source}: no {key} column: name it one of {', '.join(NAMES[key])} or say which "
            f"with columns={{{key!r}: ...}} (columns: {', '.join(map(str, df.columns))})"
        )
    return None


def read_stations(
    path: Path | str,
    *,
    columns: Mapping[str, str] | None = None,
    on_duplicate: Literal["error", "first"] = "error",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stations table -> (stations, issues) (:func:`rs.stations.schema.make_stations`).

    Columns other than id, name, lon and lat are kept as attributes; a table without a name
    column gets the id as name.
    """
    source = str(path)
    df = read_table(path, "stations")
    return stations_from(df, source=source, columns=columns, on_duplicate=on_duplicate)


def stations_from(
    df: pd.DataFrame,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    on_duplicate: Literal["error", "first"] = "error",
    keep: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stations from any frame (found columns renamed to the schema's); ``keep`` limits the
    attribute columns kept (default: all)."""
    found = {k: find_column(df, k, columns, required=k != "name", source=source)
             for k in STATION_COLUMNS}
    used = {v for v in found.values() if v is not None}
    attrs = [c for c in df.columns if c not in used and (keep is None or c in keep)]
    out = pd.DataFrame({k: df[v] if v is not None else df[found["station_id"]]
                        for k, v in found.items()})
    for c in attrs:
        out[str(c)] = _maybe_numeric(df[c])
    return make_stations(out, source=source, on_duplicate=on_duplicate)


def read_observations(
    path: Path | str,
    *,
    tz: str | tzinfo | None = None,
    columns: Mapping[str, str] | None = None,
    variable: str | None = None,
    unit: str | None = None,
    stations: Path | str | pd.DataFrame | None = None,
    on_duplicate: Literal["error", "first"] = "error",
) -> StationData:
    """A long observations table (module doc) -> :class:`StationData`.

    ``stations``: a stations file or table; otherwise the observation table's own ``lon`` /
    ``lat`` columns (one row per station kept), otherwise no station has coordinates (reported).
    """
    source = str(path)
    df = read_table(path, "observations")
    obs = observations_from(df, source=source, tz=tz, columns=columns, variable=variable,
                            unit=unit)
    obs_df, obs_issues = make_observations(obs, source=source)
    if isinstance(stations, pd.DataFrame):
        st, st_issues = stations_from(stations, source="stations table", on_duplicate=on_duplicate)
    elif stations is not None:
        st, st_issues = read_stations(stations, on_duplicate=on_duplicate)
    elif find_column(df, "lon", columns, required=False, source=source) is not None:
        sid = find_column(df, "station_id", columns, required=True, source=source)
        st, st_issues = stations_from(
            df.drop_duplicates(subset=[sid]), source=source, columns=columns,
            on_duplicate=on_duplicate, keep=[],
        )
    else:
        st, st_issues = stations_from(
            pd.DataFrame({"station_id": pd.Series(dtype="str"), "lon": pd.Series(dtype="float64"),
                          "lat": pd.Series(dtype="float64")}), source=source)
    issues = pd.concat([st_issues, obs_issues, unlocated(obs_df, st, source)], ignore_index=True)
    return StationData(st, obs_df, issues_frame(issues.to_dict("records")))


def observations_from(
    df: pd.DataFrame,
    *,
    source: str,
    tz: str | tzinfo | None,
    columns: Mapping[str, str] | None = None,
    variable: str | None = None,
    unit: str | None = None,
) -> pd.DataFrame:
    """The five observation columns from any long frame (times to UTC; not yet checked)."""
    sid = find_column(df, "station_id", columns, required=True, source=source)
    tcol = find_column(df, "time", columns, required=True, source=source)
    vcol = find_column(df, "value", columns, required=True, source=source)
    varcol = find_column(df, "variable", columns, required=variable is None, source=source)
    ucol = find_column(df, "unit", columns, required=False, source=source)
    if ucol is None and unit is None:
        raise SpecError(
            f"{source}: no unit column ({', '.join(NAMES['unit'])}): say the unit of every "
            "value with unit=..., e.g. unit='ug/m3' (no unit is assumed)"
        )
    assert sid is not None and tcol is not None and vcol is not None
    n = len(df)
    return pd.DataFrame({
        "station_id": df[sid].to_numpy(),
        "time": to_utc(df[tcol], tz=tz, source=source, column=tcol).array,
        "variable": df[varcol].to_numpy() if varcol is not None else [variable] * n,
        "value": df[vcol].to_numpy(),
        "unit": df[ucol].astype("str").to_numpy() if ucol is not None else [unit] * n,
    })


def _maybe_numeric(col: pd.Series) -> np.ndarray:
    """A text column of numbers as float64 (when every non-empty cell is one), else as is."""
    if col.dtype.kind in "fiub":
        return col.to_numpy()
    num = pd.to_numeric(col, errors="coerce")
    if num.notna().sum() == col.notna().sum() and col.notna().any():
        return num.astype("float64").to_numpy()
    return col.to_numpy()
