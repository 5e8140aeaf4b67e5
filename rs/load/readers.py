"""The reader seam: what a run's inputs are, and a cheap check that they can be read (I/O).

Every kind of input (optical scenes from STAC, Sentinel-5P swath files, station tables) is
described by an :class:`InputRef`, and a :class:`Reader` of that kind checks a list of them
before any graph is built (``preflight``). Products and the runner plan with ``InputRef``
objects only, so planning is tested without I/O against :class:`rs.testing.FakeReader`.

A reader's ``preflight`` never raises for a bad input under ``on_error="skip"``: the input is a
:class:`~rs.load.SkippedScene` row of the run report. Under ``on_error="fail"`` the first bad
input (in input order) raises :class:`~rs.errors.AssetReadError` naming it.

Readers::

    OpticalReader()   preflight = rs.load.check_assets on the items (needs: bands, mask)
    SwathReader()     find(folder_or_paths, start, end, pattern="*.nc"); preflight = opens as
                      NetCDF4/HDF5 and has the groups/variables in needs["variables"]
                      (e.g. "PRODUCT/qa_value")
    TableReader()     find(path); preflight = CSV/Parquet readable with needs["columns"]

Swath and table files must be local (a plain path or ``file://``); preflight skips (or fails on)
a remote href. The skip/fail policy and path parsing live in :mod:`rs.load._preflight`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pystac
from shapely.geometry.base import BaseGeometry

from rs._geom import footprints_of
from rs.errors import SourceError
from rs.load._preflight import (
    OnError,
    SkippedScene,
    check_assets,
    local_path,
    raise_or_report,
)

__all__ = [
    "InputRef",
    "OnError",
    "OpticalReader",
    "Reader",
    "SwathReader",
    "TableReader",
    "file_key",
    "s5p_times",
]

_REMOTE = "remote files are not supported yet; use a folder source"


@dataclass(frozen=True)
class InputRef:
    """One input of a run: a scene, a swath file or a table.

    ``geometry`` is the EPSG:4326 footprint when known; ``item`` the STAC item when there is
    one. ``checksum`` is the :func:`file_key` of a local file (a fingerprint of its name, size
    and modification time, not of its bytes: what a run key of a local file is made of, so a
    replaced or rewritten file gives a new key), ``None`` for STAC scenes and missing files.
    """

    id: str
    href: str
    datetime: dt.datetime | None
    geometry: BaseGeometry | None
    checksum: str | None = None
    item: pystac.Item | None = None

    @classmethod
    def from_item(cls, item: pystac.Item, href: str | None = None) -> InputRef:
        """The ref of a STAC item: its id, self link (or ``href``), datetime and footprint."""
        if href is None:
            href = item.get_self_href() or ""
        when = item.datetime or item.common_metadata.start_datetime
        return cls(item.id, href, when, footprints_of([item])[0], None, item)


@runtime_checkable
class Reader(Protocol):
    """Checks inputs of one kind before a run (``kind``: "optical", "swaths", "table", ...)."""

    @property
    def kind(self) -> str:
        """The kind of input this reader checks (a class constant of each reader)."""
        ...

    def preflight(
        self, refs: Sequence[InputRef], *, on_error: OnError, needs: Mapping[str, Any]
    ) -> tuple[list[InputRef], list[SkippedScene]]:
        """Readable refs (input order kept) and one :class:`SkippedScene` per unreadable one."""
        ...


def file_key(path: Path | str) -> str:
    """A cheap fingerprint of a local file: 16 hex digits of the sha256 of its name, size and
    modification time (``st_mtime_ns``), read from one ``stat``; the content is not read.

    Raises ``OSError`` when the file cannot be stat'ed.
    """
    p = Path(path)
    st = p.stat()
    text = f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _key_or_none(path: Path) -> str | None:
    try:
        return file_key(path)
    except OSError:
        return None


# --- optical scenes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpticalReader:
    """STAC scenes: preflight opens the header of every asset the bands (and mask) need.

    ``needs``: ``bands`` (common names, required) and ``mask`` (check the cloud-mask band
    too; default ``True``).
    """

    max_workers: int = 8
    kind: ClassVar[str] = "optical"

    def preflight(
        self, refs: Sequence[InputRef], *, on_error: OnError, needs: Mapping[str, Any]
    ) -> tuple[list[InputRef], list[SkippedScene]]:
        if "bands" not in needs:
            raise ValueError("OpticalReader.preflight needs {'bands': [...]} (common band names)")
        items: list[pystac.Item] = []
        for ref in refs:
            if ref.item is None:
                raise ValueError(
                    f"input {ref.id!r} has no STAC item; make optical refs with "
                    "InputRef.from_item(item)"
                )
            items.append(ref.item)
        readable, skipped = check_assets(
            items,
            list(needs["bands"]),
            on_error=on_error,
            with_mask=bool(needs.get("mask", True)),
            max_workers=self.max_workers,
        )
        kept = {id(item) for item in readable}
        return [ref for ref in refs if id(ref.item) in kept], skipped


# --- Sentinel-5P swaths --------------------------------------------------------------------------

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


def _coverage_times(path: Path) -> tuple[dt.datetime | None, dt.datetime | None]:
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


def _as_utc_bound(value: dt.date | dt.datetime | str | None, *, end: bool) -> dt.datetime | None:
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
class _SwathFile:
    path: Path
    start: dt.datetime | None
    end: dt.datetime | None


def _walk(folder_or_paths: Path | str | Iterable[Path | str], pattern: str) -> list[Path]:
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


def _check_swath(ref: InputRef, variables: Sequence[str]) -> SkippedScene | None:
    import h5netcdf

    path = local_path(ref.href)
    if path is None:
        return SkippedScene(ref.id, "file", _REMOTE, ref.href)
    if not path.is_file():
        return SkippedScene(ref.id, "file", "file not found", ref.href)
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


@dataclass(frozen=True)
class SwathReader:
    """Sentinel-5P (or any NetCDF4) swath files in a local folder.

    The sensing time comes from the Sentinel-5P file name
    (``S5P_<stream>_<PRODUCT>_<start>_<end>_<orbit>_...nc``) or, for other names, from the
    ``time_coverage_start`` / ``time_coverage_end`` global attributes. Swath footprints are
    unknown until the file is read (``geometry=None``: planning puts them on every block).
    """

    max_workers: int = 4
    kind: ClassVar[str] = "swaths"

    def find(
        self,
        folder_or_paths: Path | str | Iterable[Path | str],
        start: dt.date | dt.datetime | str | None = None,
        end: dt.date | dt.datetime | str | None = None,
        *,
        pattern: str = "*.nc",
    ) -> list[InputRef]:
        """Swath files (``pattern``, recursively) whose sensing period overlaps [start, end].

        ``pattern`` is a glob matched against file names below a folder (``"*.nc"``,
        ``"S5P_*_L2__CH4___*.nc"``); explicit paths are taken as given. A date bound covers
        its whole day; naive datetimes are UTC. A file whose time cannot be found (not an S5P
        name, no readable attribute) is kept with ``datetime=None``, so that :meth:`preflight`
        reports it instead of it vanishing from the run. Refs come sorted by start time
        (unknown last), then path; each carries the file's :func:`file_key` as ``checksum``.
        """
        lo, hi = _as_utc_bound(start, end=False), _as_utc_bound(end, end=True)
        files = []
        for path in _walk(folder_or_paths, pattern):
            times = s5p_times(path.name)
            t0, t1 = times if times is not None else _coverage_times(path)
            files.append(_SwathFile(path, t0, t1 or t0))
        kept = [
            f for f in files
            if f.start is None
            or ((hi is None or f.start <= hi) and (lo is None or (f.end or f.start) >= lo))
        ]
        kept.sort(key=lambda f: (f.start is None, f.start or dt.datetime.min, str(f.path)))
        return [
            InputRef(f.path.name.removesuffix(".nc"), f.path.resolve().as_uri(), f.start, None,
                     _key_or_none(f.path))
            for f in kept
        ]

    def preflight(
        self, refs: Sequence[InputRef], *, on_error: OnError, needs: Mapping[str, Any]
    ) -> tuple[list[InputRef], list[SkippedScene]]:
        """Each file opens as NetCDF4/HDF5 and has each group/variable of ``needs["variables"]``."""
        variables = list(needs.get("variables", []))
        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            reasons = list(pool.map(lambda r: _check_swath(r, variables), refs))
        return raise_or_report(refs, reasons, on_error, "swath file")


# --- tables --------------------------------------------------------------------------------------

_PARQUET = (".parquet", ".pq", ".geoparquet")
_CSV = (".csv", ".csv.gz", ".txt", ".tsv")


def _table_columns(path: Path) -> list[str]:
    """Column names of a CSV or Parquet file (Parquet: footer only; CSV: first rows parsed)."""
    name = path.name.lower()
    if name.endswith(_PARQUET):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if name.endswith(_CSV):
        import pandas as pd

        sep = "\t" if name.endswith(".tsv") else ","
        return [str(c) for c in pd.read_csv(path, sep=sep, nrows=100).columns]
    raise ValueError(f"unknown table format (expected one of {', '.join(_CSV + _PARQUET)})")


def _check_table(ref: InputRef, columns: Sequence[str]) -> SkippedScene | None:
    path = local_path(ref.href)
    if path is None:
        return SkippedScene(ref.id, "file", _REMOTE, ref.href)
    if not path.is_file():
        return SkippedScene(ref.id, "file", "file not found", ref.href)
    try:
        present = set(_table_columns(path))
    except (OSError, ValueError) as e:  # pandas / pyarrow parser errors are ValueErrors
        return SkippedScene(ref.id, "file", f"cannot read as a table: {e}", ref.href)
    missing = [c for c in columns if c not in present]
    if missing:
        return SkippedScene(
            ref.id, ",".join(missing), f"missing column {', '.join(missing)}", ref.href
        )
    return None


@dataclass(frozen=True)
class TableReader:
    """A CSV or Parquet table (station series, matchups, ...) as one input."""

    kind: ClassVar[str] = "table"

    def find(self, path: Path | str) -> list[InputRef]:
        """One ref for the file at ``path`` (``checksum``: its :func:`file_key`, ``None`` if it
        does not exist)."""
        p = Path(path)
        stem = p.name.split(".")[0] or p.name
        return [InputRef(stem, p.resolve().as_uri(), None, None, _key_or_none(p))]

    def preflight(
        self, refs: Sequence[InputRef], *, on_error: OnError, needs: Mapping[str, Any]
    ) -> tuple[list[InputRef], list[SkippedScene]]:
        """Each table reads as CSV/Parquet and has every column of ``needs["columns"]``."""
        columns = list(needs.get("columns", []))
        reasons = [_check_table(ref, columns) for ref in refs]
        return raise_or_report(refs, reasons, on_error, "table")
