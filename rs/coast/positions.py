"""Read tables of shoreline positions, tide levels and beach slopes (CSV or Parquet).

Positions come in one of two layouts, told apart by their column names:

* **wide** (what CoastSat and ShoreShop publish): a date column and one column per transect,
  each cell a chainage in metres (empty where the shoreline did not cross)::

      dates,NA1,NA2
      1987-05-22 23:07:44+00:00,89.08,56.39

  Unnamed columns (a written pandas index) are left out, and so are columns with no number
  at all (e.g. CoastSat's ``satname``); they are listed in :attr:`Positions.ignored`.
* **long**: one row per transect and date, with a transect column, a date column, a position
  column and optionally an uncertainty column (σ, metres)::

      transect,date,position,uncertainty
      T1,2019-01-03,52.1,4.5

Accepted column names (any case): dates ``date``, ``dates``, ``time``, ``times``,
``datetime``, ``timestamp``; transects ``transect``, ``transect_id``, ``transects``,
``profile``, ``id``; positions ``position``, ``chainage``, ``distance``, ``cross_distance``,
``x``; uncertainty ``uncertainty``, ``sigma``, ``unc``, ``error``. A table with a transect
column and a position column is long; anything else is wide.

Dates are parsed to UTC (ISO 8601 preferred; a time without an offset is taken as UTC).
Problems are :class:`~rs.errors.SpecError` (the table's content asks for something impossible:
an unparseable date, naming its line and value; a missing column; an empty table; a text in a
number column; a transect twice on one date) or :class:`~rs.errors.AssetReadError` (the file
cannot be opened or parsed as a table).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rs.errors import AssetReadError, SpecError

__all__ = ["Positions", "read_positions", "read_slopes", "read_tides"]

DATE_NAMES = ("date", "dates", "time", "times", "datetime", "timestamp")
TRANSECT_NAMES = ("transect", "transect_id", "transects", "profile", "id")
POSITION_NAMES = ("position", "chainage", "distance", "cross_distance", "x")
UNCERTAINTY_NAMES = ("uncertainty", "sigma", "unc", "error")
LEVEL_NAMES = ("tide", "tides", "level", "water_level", "waterlevel", "tide_level", "wl", "eta")
SLOPE_NAMES = ("slope", "beach_slope", "tanbeta", "tan_beta", "tanb")

_UNNAMED = re.compile(r"^Unnamed: \d+$")


@dataclass(frozen=True)
class Positions:
    """A positions table read from a file.

    ``table``: rows are dates (UTC ``DatetimeIndex`` named ``date``, in file order), columns
    transects (str), cells chainages in metres (NaN where missing). ``sigma``: the positional
    uncertainty (m) when the file has one: a Series per date (wide, from a named column) or a
    DataFrame like ``table`` (long); else None. ``layout`` is ``"wide"`` or ``"long"``;
    ``ignored`` the columns left out.
    """

    table: pd.DataFrame
    layout: str
    sigma: pd.Series | pd.DataFrame | None = None
    ignored: tuple[str, ...] = field(default_factory=tuple)


def read_positions(path: Path | str, *, uncertainty: str | None = None) -> Positions:
    """Read a positions table, wide or long (module docstring), from CSV or Parquet.

    ``uncertainty`` names the column of positional uncertainties (σ, m): in a wide table a
    column with one σ per date (it is then not a transect), in a long table a σ per row. A long
    table's column named like an uncertainty (``uncertainty``, ``sigma``, ...) is used without
    being named.
    """
    path = Path(path)
    df = _read_table(path, "positions")
    cols = _columns(df)
    transect_col = _find(cols, TRANSECT_NAMES)
    position_col = _find(cols, POSITION_NAMES)
    date_col = _find(cols, DATE_NAMES)
    if date_col is None:
        raise SpecError(
            f"{path}: no date column: name it one of {', '.join(DATE_NAMES)} "
            f"(columns: {_show(df.columns)})"
        )
    if uncertainty is not None and uncertainty not in df.columns:
        raise SpecError(
            f"{path}: no uncertainty column {uncertainty!r} (columns: {_show(df.columns)})"
        )
    if transect_col is not None and position_col is not None:
        return _long(path, df, date_col, transect_col, position_col, uncertainty)
    if transect_col is not None:
        raise SpecError(
            f"{path}: a long table (column {transect_col!r}) needs a position column named one "
            f"of {', '.join(POSITION_NAMES)} (columns: {_show(df.columns)})"
        )
    return _wide(path, df, date_col, uncertainty)


def read_tides(path: Path | str) -> pd.Series:
    """Read a tide series: a time column and a water-level column (m), named as the module
    docstring lists (levels: ``tide``, ``level``, ``water_level``, ``wl``, ``eta``, ...), or
    any two columns in that order. Returns the levels (float) indexed by UTC time, file order.
    """
    path = Path(path)
    df = _read_table(path, "tides")
    time_col, level_col = _pair(path, df, DATE_NAMES, LEVEL_NAMES, "time", "water level")
    times = _dates(df[time_col], path)
    levels = _numbers(df[level_col], path, level_col)
    return pd.Series(levels, index=pd.DatetimeIndex(times, name="time"), name="level")


def read_slopes(path: Path | str, transects: Sequence[str] | None = None) -> pd.Series:
    """Read beach-face slopes (tanβ, > 0): a transect column and a slope column (``slope``,
    ``beach_slope``, ``tanbeta``, ...), or any two columns in that order. Returns the slopes
    indexed by transect (str). With ``transects``, a transect not among them is refused
    (a slopes file for another site), naming it.
    """
    path = Path(path)
    df = _read_table(path, "slopes")
    t_col, s_col = _pair(path, df, TRANSECT_NAMES, SLOPE_NAMES, "transect", "slope")
    names = df[t_col].astype(str).str.strip()
    slopes = _numbers(df[s_col], path, s_col)
    dup = names[names.duplicated()]
    if len(dup):
        raise SpecError(f"{path}: transect {dup.iloc[0]!r} has more than one slope")
    if transects is not None:
        known = {str(t) for t in transects}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SpecError(
                f"{path}: unknown transect(s) {', '.join(unknown[:10])}: the positions have "
                f"{_show(transects)}"
            )
    bad = ~(np.isfinite(slopes) & (slopes > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpecError(
            f"{path}: {_row(path, i)}: slope of transect {names.iloc[i]} is {slopes[i]}: a beach "
            "slope tanβ must be a number > 0 (e.g. 0.1)"
        )
    return pd.Series(slopes, index=pd.Index(names.to_list(), name="transect"), name="slope")


# --- layouts ---------------------------------------------------------------------------------


def _wide(path: Path, df: pd.DataFrame, date_col: str, uncertainty: str | None) -> Positions:
    dates = _dates(df[date_col], path)
    ignored, transects = [], []
    for c in df.columns:
        if c in (date_col, uncertainty):
            continue
        if _UNNAMED.match(str(c)) or not _has_numbers(df[c]):
            ignored.append(str(c))
        else:
            transects.append(c)
    if not transects:
        raise SpecError(
            f"{path}: no transect column: a wide table has a date column and one column of "
            f"positions (m) per transect (columns: {_show(df.columns)})"
        )
    data = {str(c): _numbers(df[c], path, str(c)) for c in transects}
    index = pd.DatetimeIndex(dates, name="date")
    table = pd.DataFrame(data, index=index)
    table.columns.name = "transect"
    sigma = None
    if uncertainty is not None:
        sigma = pd.Series(_numbers(df[uncertainty], path, uncertainty), index=index, name="sigma")
    return Positions(table=table, layout="wide", sigma=sigma, ignored=tuple(ignored))


def _long(
    path: Path,
    df: pd.DataFrame,
    date_col: str,
    transect_col: str,
    position_col: str,
    uncertainty: str | None,
) -> Positions:
    unc_col = uncertainty or _find(_columns(df), UNCERTAINTY_NAMES)
    used = {date_col, transect_col, position_col, unc_col}
    ignored = tuple(str(c) for c in df.columns if c not in used)
    missing = df[transect_col].isna()
    if missing.any():
        raise SpecError(f"{path}: {_row(path, int(np.flatnonzero(missing)[0]))} has no transect")
    long = pd.DataFrame(
        {
            "date": _dates(df[date_col], path),
            "transect": df[transect_col].astype(str).str.strip().to_numpy(dtype=object),
            "position": _numbers(df[position_col], path, position_col),
        }
    )
    if unc_col is not None:
        long["sigma"] = _numbers(df[unc_col], path, unc_col)
    dup = long.duplicated(["date", "transect"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise SpecError(
            f"{path}: {_row(path, i)}: transect {long['transect'].iloc[i]} has two positions on "
            f"{long['date'].iloc[i].isoformat()}: keep one row per transect and date"
        )
    order = pd.unique(long["transect"])
    table = long.pivot(index="date", columns="transect", values="position")
    table = table.reindex(columns=order)
    table.index = pd.DatetimeIndex(table.index, name="date")
    table.columns = pd.Index([str(c) for c in table.columns], name="transect")
    sigma = None
    if unc_col is not None:
        sigma = long.pivot(index="date", columns="transect", values="sigma")
        sigma = sigma.reindex(index=table.index, columns=order)
        sigma.columns = table.columns
    return Positions(table=table, layout="long", sigma=sigma, ignored=ignored)


# --- cells -----------------------------------------------------------------------------------


def _read_table(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise AssetReadError(f"{what} file {path} does not exist (or is not a file)")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError as e:
        raise SpecError(f"{what} file {path} is empty: it needs a header and rows") from e
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise AssetReadError(f"cannot read {what} file {path} as a table: {e}") from e
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise SpecError(f"{what} file {path} has no rows (columns: {_show(df.columns)})")
    return df


def _columns(df: pd.DataFrame) -> dict[str, str]:
    """Lower-case name -> column name."""
    return {str(c).lower(): str(c) for c in df.columns}


def _find(cols: dict[str, str], names: Iterable[str]) -> str | None:
    return next((cols[n] for n in names if n in cols), None)


def _pair(
    path: Path,
    df: pd.DataFrame,
    first: Sequence[str],
    second: Sequence[str],
    first_what: str,
    second_what: str,
) -> tuple[str, str]:
    cols = _columns(df)
    a, b = _find(cols, first), _find(cols, second)
    if a is not None and b is not None:
        return a, b
    if len(df.columns) == 2 and a is None and b is None:
        return str(df.columns[0]), str(df.columns[1])
    raise SpecError(
        f"{path}: needs a {first_what} column ({', '.join(first)}) and a {second_what} column "
        f"({', '.join(second)}); columns: {_show(df.columns)}"
    )


def _dates(values: pd.Series, path: Path) -> pd.DatetimeIndex:
    """Values parsed to UTC times; the first unparseable or empty one is named by line."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
    else:
        text = values.astype("string").str.strip()
        try:
            parsed = pd.to_datetime(text, utc=True, format="ISO8601")
        except (ValueError, TypeError):
            parsed = pd.to_datetime(text, utc=True, format="mixed", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = values.iloc[i]
        shown = "an empty cell" if pd.isna(value) or str(value).strip() == "" else repr(value)
        raise SpecError(
            f"{path}: {_row(path, i)}: date {shown} in column {values.name!r} cannot be "
            f"read as a date ({int(bad.sum())} such row(s)): write dates as ISO 8601, e.g. "
            "2019-01-03 or 2019-01-03T10:15:00Z"
        )
    return pd.DatetimeIndex(parsed)


def _has_numbers(values: pd.Series) -> bool:
    """True when the column is numeric or holds at least one number (a position column with
    some bad cells is then refused by :func:`_numbers`, naming the cell)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return True
    return bool(pd.to_numeric(values, errors="coerce").notna().any())


def _numbers(values: pd.Series, path: Path, column: str) -> np.ndarray:
    """The column as float64 (empty cells NaN); a cell that is not a number is refused."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise SpecError(f"{path}: column {column!r} holds true/false, not numbers")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    nums = pd.to_numeric(values, errors="coerce")
    blank = values.isna() | (values.astype("string").str.strip() == "")
    bad = (nums.isna() & ~blank).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpecError(
            f"{path}: {_row(path, i)}: {values.iloc[i]!r} in column {column!r} is not a number"
        )
    return nums.to_numpy(dtype=np.float64, na_value=np.nan)


def _row(path: Path, i: int) -> str:
    """Where data row ``i`` (0-based) is in the file: its line in a CSV (line 1 is the
    header), its row number (from 1) in a Parquet file."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"row {i + 1}"
    return f"line {i + 2}"


def _show(names: Iterable[object], limit: int = 12) -> str:
    shown = [str(n) for n in names]
    more = f" ... ({len(shown)} in all)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more
