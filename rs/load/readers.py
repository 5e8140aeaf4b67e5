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
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pystac
from shapely.geometry.base import BaseGeometry

from rs._geom import footprints_of
from rs.load._preflight import (
    OnError,
    SkippedScene,
    check_assets,
    local_file,
    raise_or_report,
)
from rs.load._swaths import (
    SwathFile,
    as_utc_bound,
    check_swath,
    coverage_times,
    s5p_times,
    walk,
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


# --- Sentinel-5P swaths (file helpers in rs.load._swaths) ----------------------------------------


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
        lo, hi = as_utc_bound(start, end=False), as_utc_bound(end, end=True)
        files = []
        for path in walk(folder_or_paths, pattern):
            times = s5p_times(path.name)
            t0, t1 = times if times is not None else coverage_times(path)
            files.append(SwathFile(path, t0, t1 or t0))
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
            reasons = list(pool.map(lambda r: check_swath(r, variables), refs))
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
    path = local_file(ref.id, ref.href)
    if isinstance(path, SkippedScene):
        return path
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
