"""Sentinel-5P (and other NetCDF4) swath files: sensing times, discovery, the preflight check.

Helpers of :class:`rs.load.readers.SwathReader` (I/O: reads file names and NetCDF attributes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rs.errors import SourceError
from rs.load._preflight import SkippedScene, local_file

if TYPE_CHECKING:
    from rs.load.readers import InputRef

__all__ = ["SwathFile", "as_utc_bound", "check_swath", "coverage_times", "s5p_times", "walk"]


#: S5P_<stream>_<product, 10 chars>_<start>_<end>_<orbit>_<collection>_<processor>_<production>
_S5P_NAME = re.compile(
    r"^S5P_(?P<stream>[A-Z0-9]{4})_(?P<product>.{10})_(?P<start>\d{8}T\d{6})_"
    r"(?P<end>\d{8}T\d{6})_(?P<orbit>\d{5})_"
)


def _utc(text: str, fmt: str | None = None) -> dt.datetime:
    if fmt is not None:
        return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def s5p_times(name: str) -> tuple[dt.datetime, dt.datetime] | None:
    """Sensing start and end (UTC) from a Sentinel-5P file name, or ``None`` if it is not one.

    >>> s5p_times("S5P_OFFL_L2__NO2____20200303T013547_20200303T031717_12367_01_010302_"
    ...           "20200306T053815.nc")[0].isoformat()
    '2020-03-03T01:35:47+00:00'
    """
    m = _S5P_NAME.match(Path(name).name)
    if m is None:
        return None
    try:
        return _utc(m["start"], "%Y%m%dT%H%M%S"), _utc(m["end"], "%Y%m%dT%H%M%S")
    except ValueError:
        return None


def _attr_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "tolist"):  # numpy scalar or 1-element array
        value = value.tolist()
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
    return str(value)


def coverage_times(path: Path) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``time_coverage_start`` / ``_end`` global attributes, ``None`` where absent or unreadable."""
    import h5netcdf

    out: list[dt.datetime | None] = []
    try:
        with h5netcdf.File(path, "r") as f:
            for key in ("time_coverage_start", "time_coverage_end"):
                try:
                    out.append(_utc(_attr_text(f.attrs[key])) if key in f.attrs else None)
                except ValueError:
                    out.append(None)
    except (OSError, ValueError):
        return None, None
    return out[0], out[1]


def as_utc_bound(value: dt.date | dt.datetime | str | None, *, end: bool) -> dt.datetime | None:
    """A time-window bound: a date covers the whole day; naive datetimes are UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:  # YYYY-MM-DD
            value = dt.date.fromisoformat(text)
        else:
            return _utc(text)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    day = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    return day + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else day


@dataclass(frozen=True)
class SwathFile:
    path: Path
    start: dt.datetime | None
    end: dt.datetime | None


def walk(folder_or_paths: Path | str | Iterable[Path | str], pattern: str) -> list[Path]:
    if isinstance(folder_or_paths, str | Path):
        root = Path(folder_or_paths)
        if root.is_dir():
            return sorted(p for p in root.rglob(pattern) if p.is_file())
        if not root.exists():
            raise SourceError(
                f"swath folder or file {root} does not exist; give a folder of {pattern} files "
                "or a list of files"
            )
        return [root]
    return [Path(p) for p in folder_or_paths]


def _lookup(group: Any, name: str) -> bool:
    """Whether ``name`` ("GROUP/SUB/variable" or a group path) exists under ``group``."""
    *groups, last = [p for p in name.strip("/").split("/") if p]
    for part in groups:
        if part not in group.groups:
            return False
        group = group.groups[part]
    return last in group.variables or last in group.groups


def check_swath(ref: InputRef, variables: Sequence[str]) -> SkippedScene | None:
    import h5netcdf

    path = local_file(ref.id, ref.href)
    if isinstance(path, SkippedScene):
        return path
    try:
        with h5netcdf.File(path, "r") as f:
            missing = [v for v in variables if not _lookup(f, v)]
    except (OSError, ValueError, KeyError) as e:
        return SkippedScene(ref.id, "file", f"cannot open as NetCDF4/HDF5: {e}", ref.href)
    if missing:
        return SkippedScene(
            ref.id, ",".join(missing), f"missing group or variable {', '.join(missing)}", ref.href
        )
    if ref.datetime is None:
        return SkippedScene(
            ref.id, "time_coverage_start", "no sensing time: neither a Sentinel-5P file name "
            "nor a time_coverage_start attribute", ref.href,
        )
    return None
