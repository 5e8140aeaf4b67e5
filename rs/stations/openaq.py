"""OpenAQ exports into the tidy schema (I/O).

Three layouts are recognised by their columns:

* the long tables of OpenAQ's v1/v2 exports and of the pandas tutorial data
  (``city,country,date.utc,location,parameter,value,unit`` or
  ``location,city,country,utc,local,parameter,value,unit,latitude,longitude,attribution``):
  the station id is ``location``;
* the v3 archive files (``location_id,sensors_id,location,datetime,lat,lon,parameter,units,
  value``): the id is ``location_id``, the name ``location``.

Times come from the UTC column (``date.utc``, ``utc``) or the ``datetime`` column with its
offset; a local-time column (``local``, ``date.local``) is not read. A time without an offset
needs ``tz=``. ``parameter`` becomes ``variable`` (``pm25``, ``no2``), ``unit`` is spelt
canonically (``µg/m³``, ``ppm``). Coordinates come from the export's own ``latitude`` /
``longitude`` (``lat``/``lon``, ``coordinates.latitude``/...) columns or from a separate
stations table (``stations=``: e.g. the tutorial's ``air_quality_stations.csv`` with
``location,coordinates.latitude,coordinates.longitude``, where several stations are listed
twice a few metres apart, kept once and reported). ``city`` and ``country`` are kept as station
attributes.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Literal

import pandas as pd

from rs.errors import SpecError
from rs.stations.generic import find_column, observations_from, read_table, stations_from
from rs.stations.schema import (
    StationData,
    issues_frame,
    make_observations,
    unlocated,
)

__all__ = ["read_openaq"]

_TIME_COLUMNS = ("date.utc", "utc", "datetime", "datetimeutc", "date_utc")
_ATTRIBUTES = ("city", "country")


def read_openaq(
    path: Path | str,
    *,
    stations: Path | str | pd.DataFrame | None = None,
    tz: str | tzinfo | None = None,
    parameters: list[str] | None = None,
    on_duplicate: Literal["error", "first"] = "error",
) -> StationData:
    """An OpenAQ export (module doc) -> :class:`StationData`; ``parameters`` keeps only those
    (``["no2"]``)."""
    source = str(path)
    df = read_table(path, "OpenAQ export")
    lower = {str(c).strip().lower(): str(c) for c in df.columns}
    time_col = next((lower[c] for c in _TIME_COLUMNS if c in lower), None)
    if time_col is None:
        raise SpecError(
            f"{source}: not an OpenAQ export: no UTC time column ({', '.join(_TIME_COLUMNS)}; "
            f"columns: {', '.join(map(str, df.columns))})"
        )
    if "location_id" in lower:
        sid, name = lower["location_id"], lower.get("location")
    elif "location" in lower:
        sid, name = lower["location"], lower["location"]
    else:
        raise SpecError(f"{source}: not an OpenAQ export: no location or location_id column")
    columns = {"station_id": sid, "time": time_col}
    for key, cands in (("variable", ("parameter",)), ("unit", ("unit", "units")),
                       ("value", ("value",))):
        found = next((lower[c] for c in cands if c in lower), None)
        if found is None:
            raise SpecError(f"{source}: not an OpenAQ export: no {' or '.join(cands)} column")
        columns[key] = found
    if parameters is not None:
        wanted = {p.strip().lower() for p in parameters}
        df = df[df[columns["variable"]].astype("str").str.strip().str.lower().isin(wanted)]
    obs = observations_from(df, source=source, tz=tz, columns=columns)
    obs_df, obs_issues = make_observations(obs, source=source)
    if stations is not None:
        table = read_table(stations, "stations") if not isinstance(stations, pd.DataFrame) \
            else stations
        st_source = str(stations) if not isinstance(stations, pd.DataFrame) else "stations table"
        st, st_issues = stations_from(table, source=st_source, on_duplicate=on_duplicate)
    elif find_column(df, "lon", None, required=False, source=source) is not None:
        per = df.drop_duplicates(subset=[sid])
        cols = {"station_id": sid, **({"name": name} if name and name != sid else {})}
        st, st_issues = stations_from(per, source=source, columns=cols,
                                      on_duplicate=on_duplicate,
                                      keep=[lower[a] for a in _ATTRIBUTES if a in lower])
    else:
        st, st_issues = stations_from(
            pd.DataFrame({"station_id": pd.Series(dtype="str"), "lon": pd.Series(dtype="float64"),
                          "lat": pd.Series(dtype="float64")}), source=source)
    if stations is not None and len(st):
        # the export's city / country join the separate table's stations as attributes
        attrs = [lower[a] for a in _ATTRIBUTES if a in lower]
        if attrs:
            per = df.drop_duplicates(subset=[sid]).set_index(sid)[attrs]
            for a in attrs:
                if a not in st.columns:
                    st[a] = st["station_id"].map(per[a].astype("str").to_dict())
    issues = pd.concat([st_issues, obs_issues, unlocated(obs_df, st, source)], ignore_index=True)
    return StationData(st, obs_df, issues_frame(issues.to_dict("records")))
