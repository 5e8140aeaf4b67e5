"""The tidy station schema every adapter returns, and the checks that make a table fit it (pure).

Two tables and a report:

* **stations**, one row per station: ``station_id`` (str, unique), ``name`` (str), ``lon`` and
  ``lat`` (float64, WGS84 degrees), then any number of attribute columns (``city``,
  ``station_type``, ``land_cover``, ``region``, ...) kept as they came;
* **observations**, one row per measurement: ``station_id`` (str), ``time`` (UTC,
  ``datetime64[ns, UTC]``), ``variable`` (lower case, e.g. ``no2``, ``pm25``, ``no2_24h``),
  ``value`` (float64, never NaN) and ``unit`` (canonical spelling, :mod:`rs.stations.units`),
  sorted by station, variable and time;
* **issues**, one row per problem that was reported rather than raised (partial failure is
  data): ``source`` (the file or table), ``station_id``, ``problem`` and ``detail``.

What is reported and skipped: a station whose coordinates are missing or out of range (its
observations stay in the observations table; a matchup reports it again), a station id listed
more than once at places within :data:`SAME_STATION_M` of each other (the first row is kept),
exact duplicate observations. What is refused (:class:`~rs.errors.AssetReadError`, naming the
source): a missing column, an empty station id, a station id listed at places farther apart
(unless ``on_duplicate="first"``), a value that is not a number, times that mix offsets with
none. Times without an offset need an explicit ``tz`` (:class:`~rs.errors.SpecError`
otherwise): no time zone is ever assumed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from rs.errors import AssetReadError, SpecError
from rs.stations.units import normalize_unit

__all__ = [
    "EARTH_RADIUS_M",
    "ISSUE_COLUMNS",
    "OBSERVATION_COLUMNS",
    "SAME_STATION_M",
    "STATION_COLUMNS",
    "TIME_DTYPE",
    "StationData",
    "combine",
    "haversine_m",
    "issues_frame",
    "make_observations",
    "make_stations",
    "normalize_variable",
    "to_utc",
    "unlocated",
]

STATION_COLUMNS = ("station_id", "name", "lon", "lat")
OBSERVATION_COLUMNS = ("station_id", "time", "variable", "value", "unit")
ISSUE_COLUMNS = ("source", "station_id", "problem", "detail")
TIME_DTYPE = "datetime64[ns, UTC]"
#: rows of one station id closer than this (m) are the same station (a duplicate is kept once)
SAME_STATION_M = 100.0
EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

#: spellings of PM2.5 (after lower-casing) written ``pm25`` in the schema
_PM25_ALIASES = ("pm2.5", "pm2_5")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)


@dataclass(frozen=True)
class StationData:
    """Stations, their observations and what was reported while reading them (module doc)."""

    stations: pd.DataFrame
    observations: pd.DataFrame
    issues: pd.DataFrame

    @property
    def attributes(self) -> list[str]:
        """The station attribute columns (every column but id, name, lon, lat)."""
        return [c for c in self.stations.columns if c not in STATION_COLUMNS]

    def variable(self, name: str) -> pd.DataFrame:
        """The observations of one variable (``name`` normalised like the table's)."""
        v = normalize_variable(name)
        return self.observations[self.observations["variable"] == v].reset_index(drop=True)


def normalize_variable(name: str) -> str:
    """``"PM2.5_24h"`` -> ``"pm25_24h"``: lower case, stripped, ``pm2.5`` spelt ``pm25``."""
    v = str(name).strip().lower()
    for alias in _PM25_ALIASES:
        if v == alias or v.startswith(alias + "_"):
            return "pm25" + v[len(alias):]
    return v


def haversine_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> np.ndarray:
    """Great-circle distance (m) on a sphere of :data:`EARTH_RADIUS_M` (broadcasting)."""
    p1, p2 = np.radians(np.asarray(lat1, "float64")), np.radians(np.asarray(lat2, "float64"))
    dlon = np.radians(np.asarray(lon2, "float64") - np.asarray(lon1, "float64"))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def issues_frame(rows: Iterable[Mapping[str, object]] = ()) -> pd.DataFrame:
    """An issues table (columns :data:`ISSUE_COLUMNS`, all str) from dict rows."""
    df = pd.DataFrame(list(rows), columns=list(ISSUE_COLUMNS))
    return df.astype(dict.fromkeys(ISSUE_COLUMNS, "str"))


def to_utc(
    values: pd.Series, *, tz: str | tzinfo | None, source: str, column: str
) -> pd.Series:
    """Parse ``values`` to UTC times (:data:`TIME_DTYPE`), never assuming a time zone.

    Values with an offset (``+08:00``, ``Z``) or a tz-aware column keep their own offset; values
    without one are read in ``tz`` (an IANA name such as ``"Asia/Shanghai"``, ``"UTC"``, or a
    ``tzinfo``) and refused with :class:`~rs.errors.SpecError` when ``tz`` is None. A column
    mixing both is refused (:class:`~rs.errors.AssetReadError`), naming an example of each.
    """
    s = pd.Series(values).reset_index(drop=True)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").astype(TIME_DTYPE)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        naive = s
    else:
        text = s.astype("str").str.strip()
        has = text.str.contains(_OFFSET, regex=True)
        if has.all():
            return _parse(text, source, column, utc=True).astype(TIME_DTYPE)
        if has.any():
            raise AssetReadError(
                f"{source}: column {column!r} mixes times with an offset ({text[has].iloc[0]!r})"
                f" and without one ({text[~has].iloc[0]!r}): give every time an offset or none"
            )
        naive = _parse(text, source, column, utc=False)
    if tz is None:
        raise SpecError(
            f"{source}: the times in column {column!r} have no time zone (e.g. "
            f"{str(naive.iloc[0]) if len(naive) else '-'}): say which with tz=..., e.g. "
            "tz='UTC' or tz='Asia/Shanghai' (no time zone is assumed)"
        )
    try:
        local = naive.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except (ValueError, TypeError, KeyError) as e:  # unknown zone, or a DST gap / overlap
        raise SpecError(f"{source}: cannot read column {column!r} in time zone {tz!r}: {e}") from e
    return local.dt.tz_convert("UTC").astype(TIME_DTYPE)


def _parse(text: pd.Series, source: str, column: str, *, utc: bool) -> pd.Series:
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=utc)
    bad = parsed.isna() & text.ne("") & text.ne("nan")
    if bad.any() or parsed.isna().any():
        where = int(np.flatnonzero(bad.to_numpy() | parsed.isna().to_numpy())[0])
        raise AssetReadError(
            f"{source}: column {column!r} row {where + 1}: {text.iloc[where]!r} is not a time "
            "(ISO 8601 expected, e.g. 2019-01-05 13:00 or 2019-01-05T05:00:00Z)"
        )
    return parsed


def make_stations(
    df: pd.DataFrame,
    *,
    source: str,
    on_duplicate: Literal["error", "first"] = "error",
    same_within_m: float = SAME_STATION_M,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check a stations table (columns :data:`STATION_COLUMNS` + attributes) -> (stations, issues).

    Stations with missing or out-of-range coordinates are dropped and reported. A station id
    listed more than once keeps its first row (reported) when all its rows lie within
    ``same_within_m`` metres of the first (a re-surveyed position: OpenAQ lists FR04143 at two
    places 49 m apart); farther apart it is refused unless ``on_duplicate="first"``.
    """
    _require(df, STATION_COLUMNS, source)
    out = df.copy()
    out["station_id"] = _ids(out["station_id"], source)
    out["name"] = out["name"].fillna("").astype("str")
    lon = pd.to_numeric(out["lon"], errors="coerce").astype("float64")
    lat = pd.to_numeric(out["lat"], errors="coerce").astype("float64")
    out["lon"], out["lat"] = lon, lat
    issues: list[dict[str, object]] = []
    missing = lon.isna() | lat.isna()
    bad = ~missing & ((lon.abs() > 180) | (lat.abs() > 90))
    for i in np.flatnonzero(missing.to_numpy() | bad.to_numpy()):
        raw = f"lon={df['lon'].iloc[i]!r}, lat={df['lat'].iloc[i]!r}"
        problem = "unknown coordinates" if missing.iloc[i] else "coordinates out of range"
        issues.append(_issue(source, out["station_id"].iloc[i], problem, f"{raw}: skipped"))
    out = out[~(missing | bad)]
    dup = out["station_id"].duplicated(keep=False)
    if dup.any():
        for sid, rows in out[dup].groupby("station_id", sort=True):
            lon0, lat0 = float(rows["lon"].iloc[0]), float(rows["lat"].iloc[0])
            far = float(np.max(haversine_m(lon0, lat0, rows["lon"], rows["lat"])))
            coords = "; ".join(
                f"({x:.5f}, {y:.5f})" for x, y in zip(rows["lon"], rows["lat"], strict=True)
            )
            if far > same_within_m and on_duplicate == "error":
                raise AssetReadError(
                    f"{source}: station id {sid!r} is listed {len(rows)} times at places "
                    f"{far:.0f} m apart (lon, lat: {coords}): fix the station list, or pass "
                    "on_duplicate='first' to keep the first row"
                )
            issues.append(
                _issue(source, str(sid), "duplicate station id",
                       f"listed {len(rows)} times, up to {far:.0f} m apart ({coords}): "
                       "kept the first row")
            )
        out = out[~out["station_id"].duplicated(keep="first")]
    cols = list(STATION_COLUMNS) + [c for c in out.columns if c not in STATION_COLUMNS]
    return out[cols].reset_index(drop=True), issues_frame(issues)


def make_observations(df: pd.DataFrame, *, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check an observations table -> (observations, issues).

    ``time`` must already be UTC (:func:`to_utc`). Values are numbers (a text that is not a
    number is refused, naming its row); missing values are dropped; units get their canonical
    spelling; exact duplicate rows are dropped and reported, one issue per station.
    """
    _require(df, OBSERVATION_COLUMNS, source)
    out = df[list(OBSERVATION_COLUMNS)].reset_index(drop=True)
    out["station_id"] = _ids(out["station_id"], source)
    if not isinstance(out["time"].dtype, pd.DatetimeTZDtype):
        raise AssetReadError(f"{source}: observation times must be tz-aware UTC (to_utc)")
    out["time"] = out["time"].dt.tz_convert("UTC").astype(TIME_DTYPE)
    raw = out["value"]
    value = pd.to_numeric(raw, errors="coerce").astype("float64")
    nonnum = pd.Series(False, index=raw.index)
    if raw.dtype.kind not in "fiub":  # text: a cell that is not a number is refused
        text = raw.astype("str").str.strip().str.lower()
        nonnum = value.isna() & raw.notna() & ~text.isin(["", "nan", "na", "n/a", "-", "none"])
    if nonnum.any():
        i = int(np.flatnonzero(nonnum.to_numpy())[0])
        raise AssetReadError(
            f"{source}: value {raw.iloc[i]!r} of station {out['station_id'].iloc[i]!r} at "
            f"{out['time'].iloc[i]} is not a number"
        )
    out["value"] = value
    out = out[value.notna() & out["time"].notna()]
    for col, norm in (("variable", normalize_variable), ("unit", normalize_unit)):
        codes, uniques = pd.factorize(out[col].astype("str"))
        canon = np.asarray([norm(u) for u in uniques], dtype=object)
        out[col] = pd.array(canon[codes], dtype="str")
    issues: list[dict[str, object]] = []
    dup = out.duplicated(keep="first")
    if dup.any():
        for sid, n in out[dup].groupby("station_id").size().items():
            issues.append(_issue(source, str(sid), "duplicate observations",
                                 f"{n} exact duplicate rows dropped"))
        out = out[~dup]
    out = out.sort_values(["station_id", "variable", "time"], kind="stable")
    return out.reset_index(drop=True), issues_frame(issues)


def combine(*parts: StationData, on_duplicate: Literal["error", "first"] = "error") -> StationData:
    """Join several :class:`StationData` (e.g. one per file): stations checked again for
    duplicates across parts, observations and issues concatenated."""
    if not parts:
        raise SpecError("combine() needs at least one StationData")
    stations = pd.concat([p.stations for p in parts], ignore_index=True)
    stations, more = make_stations(stations, source="combined", on_duplicate=on_duplicate)
    obs = pd.concat([p.observations for p in parts], ignore_index=True)
    obs = obs.sort_values(["station_id", "variable", "time"], kind="stable")
    issues = pd.concat([*(p.issues for p in parts), more], ignore_index=True)
    issues = issues_frame(issues.to_dict("records"))
    return StationData(stations, obs.reset_index(drop=True), issues)


def unlocated(obs: pd.DataFrame, stations: pd.DataFrame, source: str) -> pd.DataFrame:
    """One issue per observed station that has no coordinates in ``stations``."""
    missing = sorted(set(obs["station_id"].unique()) - set(stations["station_id"]))
    return issues_frame(
        {"source": source, "station_id": s, "problem": "unknown coordinates",
         "detail": "observed station not in the station list: no matchup possible"}
        for s in missing
    )


def _require(df: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AssetReadError(
            f"{source}: missing column(s) {', '.join(missing)} "
            f"(columns: {', '.join(map(str, df.columns))})"
        )


def _ids(ids: pd.Series, source: str) -> pd.Series:
    out = ids.astype("str").str.strip()
    empty = ids.isna() | out.eq("") | out.eq("nan")
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise AssetReadError(f"{source}: row {i + 1} has no station id")
    return out


def _issue(source: str, station_id: object, problem: str, detail: str) -> dict[str, object]:
    return {"source": source, "station_id": str(station_id), "problem": problem, "detail": detail}
