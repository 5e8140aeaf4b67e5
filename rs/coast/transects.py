"""Shore-normal transects and shoreline positions along them (pure: geometries and arrays in,
arrays and tables out; file I/O is the caller's).

**Transects.** A transect is a straight line from a landward *origin* out to sea; a position on
it is its *chainage*, the distance from the origin, increasing seaward. :func:`cast_transects`
casts them from a baseline at a given spacing; user transects come as a GeoDataFrame of
LineStrings with an id column (first vertex = origin, last vertex = seaward end, as CoastSat's
and DSAS's transect files are laid out) and become arrays with :meth:`Transects.from_frame`.

**Positions.** A shoreline (a line or the vertices of one) can cross a transect several times
(a wiggly waterline, a rip, a river mouth). As CoastSat does (``compute_intersection_QC``),
:func:`intersect` takes the shoreline vertices within ``band_m`` of the transect line (and
between ``min_chainage`` and ``max_chainage`` along it), projects them onto the transect and
takes their **median** chainage; it also reports their number, standard deviation, IQR and
range, and NaN with a reason where no position can be given. The work is vectorised: the
vertices of many shorelines are matched to the transects' bands through a uniform grid over the
bands (numpy only: cell keys, ``searchsorted``), projected with array arithmetic and reduced per
(date, transect) by sorting; there is no loop over transects or pairs, only over chunks of about
:data:`CHUNK_VERTICES` vertices.

:func:`intersect_frames` takes GeoDataFrames and reprojects the shorelines to the transects'
CRS (which must be projected: bands and chainages are in its units, metres).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from rs.errors import SpecError

if TYPE_CHECKING:
    from rs.coast.shoreline import Shoreline

__all__ = [
    "REASONS",
    "Intersections",
    "Transects",
    "cast_transects",
    "intersect",
    "intersect_frames",
]

#: reason code -> text; 0 is "a position was found"
REASONS: tuple[str, ...] = (
    "",
    "no shoreline for this date",
    "no shoreline vertex within band_m of the transect (between min_chainage and max_chainage)",
    "fewer than min_points shoreline vertices near the transect",
    "vertices near the transect spread more than max_std",
    "vertices near the transect span more than max_range",
)
OK, NO_SHORELINE, NO_POINTS, FEW_POINTS, WIDE_STD, WIDE_RANGE = range(6)

#: vertices per chunk of whole shorelines (the memory bound of one step)
CHUNK_VERTICES = 1_000_000

#: one date's shoreline: a geometry, an (n, 2) array of vertices, a Shoreline, or None
ShorelineLike: TypeAlias = "BaseGeometry | np.ndarray | Shoreline | None"


@dataclass(frozen=True)
class Transects:
    """Transects as arrays: ``origin`` and unit seaward ``direction`` ``(n, 2)``, ``length``
    ``(n,)``, in the units of ``crs``."""

    ids: tuple[Hashable, ...]
    origin: np.ndarray
    direction: np.ndarray
    length: np.ndarray
    crs: Any = None

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame, id_column: str = "id") -> Transects:
        """Transects from a GeoDataFrame of LineStrings: origin = first vertex, seaward end =
        last vertex (intermediate vertices are ignored), ids from ``id_column``."""
        if id_column not in frame.columns:
            raise SpecError(
                f"the transects have no column {id_column!r} (columns: "
                f"{', '.join(map(str, frame.columns))}): name the id column with id_column="
            )
        ids = tuple(frame[id_column].tolist())
        if len(set(ids)) != len(ids):
            dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
            raise SpecError(f"transect ids in {id_column!r} must be unique; {dup!r} repeats")
        geoms = np.asarray(frame.geometry.values, dtype=object)
        kinds = shapely.get_type_id(geoms)
        if len(geoms) and (kinds != 1).any():
            bad = ids[int(np.flatnonzero(kinds != 1)[0])]
            raise SpecError(f"transect {bad!r} is not a LineString: each transect is one line "
                            "from its landward origin to its seaward end")
        n = shapely.get_num_coordinates(geoms)
        first = shapely.get_coordinates(shapely.get_point(geoms, 0))
        last = shapely.get_coordinates(shapely.get_point(geoms, n - 1))
        vec = last - first
        length = np.hypot(vec[:, 0], vec[:, 1])
        if (length == 0).any():
            bad = ids[int(np.flatnonzero(length == 0)[0])]
            raise SpecError(f"transect {bad!r} has zero length (its first and last vertex match)")
        return cls(ids, first, vec / length[:, None], length, frame.crs)

    def to_frame(self) -> gpd.GeoDataFrame:
        """A GeoDataFrame ``id, geometry`` of two-vertex LineStrings (origin -> seaward end)."""
        end = self.origin + self.direction * self.length[:, None]
        lines = shapely.linestrings(np.stack([self.origin, end], axis=1))
        return gpd.GeoDataFrame({"id": list(self.ids)}, geometry=lines, crs=self.crs)


def cast_transects(
    baseline: LineString,
    spacing: float,
    length: float,
    *,
    side: Literal["left", "right"] = "right",
    landward_offset: float = 0.0,
    start: float = 0.0,
    crs: Any = None,
    id_prefix: str = "T",
) -> gpd.GeoDataFrame:
    """Shore-normal transects every ``spacing`` along ``baseline`` (CRS units).

    ``side`` is the **seaward** side of the baseline, seen walking from its first vertex to its
    last: the transects point that way. Each starts ``landward_offset`` behind the baseline
    (origin, landward) and is ``length`` long. The normal at distance ``s`` along the baseline is
    perpendicular to the chord from ``s - spacing/2`` to ``s + spacing/2`` (smooths vertex
    kinks). Stations are at ``start, start + spacing, ...`` up to the baseline's length.
    Returns ``id`` (``id_prefix`` + a zero-padded number), ``baseline_distance`` and the
    LineStrings (origin -> seaward end) in ``crs``.
    """
    if spacing <= 0 or length <= 0:
        raise SpecError(f"transect spacing and length must be > 0, got {spacing}, {length}")
    if side not in ("left", "right"):
        raise SpecError(f"side must be 'left' or 'right' (the seaward side), got {side!r}")
    if getattr(baseline, "geom_type", None) != "LineString" or baseline.is_empty:
        raise SpecError("the baseline must be one LineString (landward of the shorelines)")
    xy = shapely.get_coordinates(baseline)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    total = float(cum[-1])
    s = np.arange(start, total + 1e-9 * max(total, 1.0), spacing)
    if len(s) == 0:
        raise SpecError(f"the baseline ({total:g} long) is shorter than start={start:g}")

    def at(d: np.ndarray) -> np.ndarray:  # points at distances d along the baseline
        d = np.clip(d, 0.0, total)
        return np.column_stack([np.interp(d, cum, xy[:, 0]), np.interp(d, cum, xy[:, 1])])

    a, b = at(s - spacing / 2), at(s + spacing / 2)
    tangent = b - a
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])  # right of the walking direction
    if side == "left":
        normal = -normal
    station = at(s)
    origin = station - landward_offset * normal
    end = origin + length * normal
    width = len(str(len(s) - 1))
    ids = [f"{id_prefix}{k:0{width}d}" for k in range(len(s))]
    lines = shapely.linestrings(np.stack([origin, end], axis=1))
    return gpd.GeoDataFrame({"id": ids, "baseline_distance": s}, geometry=lines, crs=crs)


@dataclass(frozen=True)
class Intersections:
    """Shoreline positions on transects: arrays ``(dates, transects)``.

    ``chainage`` is the median chainage of the vertices near the transect (NaN where there is
    no position; ``reason`` then holds a code into :data:`REASONS`), ``n_points`` their number,
    ``std`` (population), ``iqr`` and ``range`` their spread (NaN without vertices).
    """

    transect_ids: tuple[Hashable, ...]
    dates: tuple[Any, ...]
    chainage: np.ndarray
    n_points: np.ndarray
    std: np.ndarray
    iqr: np.ndarray
    range: np.ndarray
    reason: np.ndarray
    options: dict[str, Any] = field(default_factory=dict)

    def reason_text(self) -> np.ndarray:
        """``reason`` as text (``""`` where a position was found)."""
        return np.asarray(REASONS, dtype=object)[self.reason]

    def to_wide(self) -> pd.DataFrame:
        """CoastSat's layout: a ``dates`` column and one chainage column per transect."""
        out = pd.DataFrame(self.chainage, columns=list(self.transect_ids))
        out.insert(0, "dates", list(self.dates))
        return out

    def to_long(self) -> pd.DataFrame:
        """One row per date and transect: ``date, transect_id, chainage, n_points, std, iqr,
        range, reason``."""
        nd, nt = self.chainage.shape
        return pd.DataFrame({
            "date": np.repeat(np.asarray(self.dates, dtype=object), nt),
            "transect_id": np.tile(np.asarray(self.transect_ids, dtype=object), nd),
            "chainage": self.chainage.ravel(),
            "n_points": self.n_points.ravel(),
            "std": self.std.ravel(),
            "iqr": self.iqr.ravel(),
            "range": self.range.ravel(),
            "reason": self.reason_text().ravel(),
        })


def _as_geometry(s: ShorelineLike) -> BaseGeometry:
    if s is None:
        return shapely.MultiPoint()
    if isinstance(s, BaseGeometry):
        return s
    if hasattr(s, "geometry") and isinstance(s.geometry, BaseGeometry):  # a Shoreline
        return s.geometry
    arr = np.asarray(s, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"a shoreline as an array must be (n, 2) x, y; got shape {arr.shape}")
    return shapely.multipoints(arr[:, :2]) if len(arr) else shapely.MultiPoint()


def _group_quantile(v: np.ndarray, starts: np.ndarray, counts: np.ndarray, p: float) -> np.ndarray:
    """The ``p`` quantile (linear, as ``np.quantile``) of each sorted group ``v[start:start+n]``."""
    out = np.full(len(counts), np.nan)
    has = counts > 0
    pos = starts[has] + p * (counts[has] - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, starts[has] + counts[has] - 1)
    out[has] = v[lo] + (pos - lo) * (v[hi] - v[lo])
    return out


@dataclass(frozen=True)
class _Grid:
    """A uniform grid over the transects' bands: for each occupied cell (sorted ``keys``), the
    transects whose band's bounding box reaches it (``members[start:start + count]``)."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    keys: np.ndarray
    start: np.ndarray
    count: np.ndarray
    members: np.ndarray

    @classmethod
    def of(cls, tr: Transects, band: float, lo: np.ndarray, hi: np.ndarray) -> _Grid:
        n = np.column_stack([-tr.direction[:, 1], tr.direction[:, 0]])
        ends = [tr.origin + tr.direction * at[:, None] for at in (lo, hi)]
        corners = np.stack([e + sign * band * n for e in ends for sign in (-1, 1)], axis=1)
        bmin, bmax = corners.min(axis=1), corners.max(axis=1)
        # cells about an eighth of a band's bounding box: few cells per band, few bands per cell
        cell = max(2.0 * band, float(np.mean(np.hypot(*(bmax - bmin).T))) / 8.0)
        x0, y0 = bmin.min(axis=0)
        i0 = np.floor((bmin - (x0, y0)) / cell).astype(np.int64)
        i1 = np.floor((bmax - (x0, y0)) / cell).astype(np.int64)
        nx, ny = int(i1[:, 0].max()) + 1, int(i1[:, 1].max()) + 1
        span = i1 - i0 + 1
        per = span[:, 0] * span[:, 1]
        member = np.repeat(np.arange(len(tr)), per)
        local = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
        ix = i0[member, 0] + local // span[member, 1]
        iy = i0[member, 1] + local % span[member, 1]
        key = ix * ny + iy
        order = np.argsort(key, kind="stable")
        keys, start, count = np.unique(key[order], return_index=True, return_counts=True)
        return cls(float(x0), float(y0), cell, nx, ny, keys, start, count, member[order])

    def pairs(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate (point index, transect index) pairs: each point with every transect whose
        band's bounding box reaches the point's cell."""
        ix = np.floor((x - self.x0) / self.cell)
        iy = np.floor((y - self.y0) / self.cell)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        key = np.where(inside, ix * self.ny + iy, -1).astype(np.int64)
        pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        hit = inside & (self.keys[pos] == key)
        n = np.where(hit, self.count[pos], 0)
        pi = np.repeat(np.arange(len(x)), n)
        entry = np.repeat(self.start[pos] - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
        return pi, self.members[entry]


def _sort_groups(
    key: np.ndarray, along: np.ndarray, lo: float, hi: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``key`` and ``along`` sorted by key, then along. One float argsort of ``key + a
    fraction in [0, 0.5]`` (6x faster than ``lexsort``) when float64 still orders chainages
    1 µm apart within a key; ``lexsort`` otherwise."""
    span = max(hi - lo, 1e-9)
    if size * np.finfo(np.float64).eps * 2 * span < 1e-6:
        order = np.argsort(key + (along - lo) / (2 * span))
    else:
        order = np.lexsort((along, key))
    return key[order], along[order]


def _chunk_stats(
    xy: np.ndarray, which: np.ndarray, n_dates: int, tr: Transects, grid: _Grid,
    band: float, lo: np.ndarray, hi: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Stats ``(n_dates * n_transects,)`` of the vertices ``xy`` of shorelines ``which``."""
    nt = len(tr)
    x, y = xy[:, 0], xy[:, 1]
    pi, ti = grid.pairs(x, y)
    dx, dy = x[pi] - tr.origin[ti, 0], y[pi] - tr.origin[ti, 1]
    ux, uy = tr.direction[ti, 0], tr.direction[ti, 1]
    along = dx * ux + dy * uy
    ok = (np.abs(dy * ux - dx * uy) <= band) & (along >= lo[ti]) & (along <= hi[ti])
    key = which[pi[ok]] * nt + ti[ok]
    along = along[ok]
    size = n_dates * nt
    key, v = _sort_groups(key, along, float(lo.min()), float(hi.max()), size)
    counts = np.bincount(key, minlength=size)
    starts = np.cumsum(counts) - counts
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(key, v, minlength=size) / counts
        std = np.sqrt(np.bincount(key, (v - mean[key]) ** 2, minlength=size) / counts)
    median = _group_quantile(v, starts, counts, 0.5)
    iqr = _group_quantile(v, starts, counts, 0.75) - _group_quantile(v, starts, counts, 0.25)
    rng = np.full(size, np.nan)
    has = counts > 0
    rng[has] = v[starts[has] + counts[has] - 1] - v[starts[has]]
    return median, counts, std, iqr, rng


def intersect(
    shorelines: Sequence[ShorelineLike],
    transects: Transects,
    *,
    dates: Sequence[Any] | None = None,
    band_m: float = 25.0,
    min_chainage: float = 0.0,
    max_chainage: float | None = None,
    min_points: int = 1,
    max_std: float | None = None,
    max_range: float | None = None,
    densify_m: float | None = None,
) -> Intersections:
    """Positions of every shoreline on every transect (arrays in the transects' CRS).

    :param shorelines: one per date: a shapely geometry (lines, points or their multi-parts;
        lines are first segmentized to vertices at most ``densify_m`` apart, default
        ``band_m / 2``, so a sparse line still has vertices in the band), an ``(n, 2)`` array
        of vertices, a :class:`rs.coast.shoreline.Shoreline`, or None (no shoreline).
    :param band_m: half-width of the band around the transect line whose vertices count.
    :param min_chainage, max_chainage: the band's extent along the transect (default ``0`` to
        the transect's length: vertices behind the origin or beyond the end do not count;
        CoastSat allows -100 m to 1 km).
    :param min_points, max_std, max_range: quality control as CoastSat's: fewer vertices, a
        larger standard deviation or a larger range give NaN with a reason.
    """
    if band_m <= 0:
        raise SpecError(f"band_m must be > 0, got {band_m}")
    geoms = np.array([_as_geometry(s) for s in shorelines], dtype=object)
    nd, nt = len(geoms), len(transects)
    dates_t = tuple(range(nd)) if dates is None else tuple(dates)
    if len(dates_t) != nd:
        raise ValueError(f"{len(dates_t)} dates for {nd} shorelines")
    lo = np.full(nt, float(min_chainage))
    hi = transects.length.astype(float) if max_chainage is None else np.full(nt, max_chainage)
    step = band_m / 2 if densify_m is None else densify_m
    lines = np.isin(shapely.get_type_id(geoms), (1, 2, 5, 7))  # (multi)line, ring, collection
    if lines.any():
        geoms[lines] = shapely.segmentize(geoms[lines], step)
    out = {k: np.full((nd, nt), np.nan) for k in ("chainage", "std", "iqr", "range")}
    n_points = np.zeros((nd, nt), dtype=np.int64)
    empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
    if nt:
        grid = _Grid.of(transects, band_m, lo, hi)
        sizes = shapely.get_num_coordinates(geoms)
        d0 = 0
        while d0 < nd:  # chunks of whole dates, about CHUNK_VERTICES vertices each
            cum = np.cumsum(sizes[d0:])
            d1 = d0 + max(1, int(np.searchsorted(cum, CHUNK_VERTICES, side="right")))
            xy, which = shapely.get_coordinates(geoms[d0:d1], return_index=True)
            stats = _chunk_stats(xy, which, d1 - d0, transects, grid, band_m, lo, hi)
            for name, arr in zip(("chainage", "n_points", "std", "iqr", "range"), stats,
                                 strict=True):
                target = n_points if name == "n_points" else out[name]
                target[d0:d1] = arr.reshape(d1 - d0, nt)
            d0 = d1
    reason = np.zeros((nd, nt), dtype=np.uint8)
    reason[n_points == 0] = NO_POINTS
    reason[(n_points > 0) & (n_points < min_points)] = FEW_POINTS
    if max_std is not None:
        reason[(reason == OK) & (out["std"] > max_std)] = WIDE_STD
    if max_range is not None:
        reason[(reason == OK) & (out["range"] > max_range)] = WIDE_RANGE
    reason[empty, :] = NO_SHORELINE
    out["chainage"][reason != OK] = np.nan
    options = dict(band_m=band_m, min_chainage=min_chainage, max_chainage=max_chainage,
                   min_points=min_points, max_std=max_std, max_range=max_range, densify_m=step)
    return Intersections(transects.ids, dates_t, out["chainage"], n_points, out["std"],
                         out["iqr"], out["range"], reason, options)


def intersect_frames(
    shorelines: gpd.GeoDataFrame,
    transects: gpd.GeoDataFrame,
    *,
    id_column: str = "id",
    date_column: str = "date",
    **options: Any,
) -> Intersections:
    """:func:`intersect` for GeoDataFrames: one shoreline per row of ``shorelines`` (its date
    from ``date_column``), transects with ids in ``id_column``. Shorelines in another CRS are
    reprojected to the transects' CRS, which must be projected (metres); ``options`` are
    :func:`intersect`'s."""
    if transects.crs is None:
        raise SpecError("the transects have no CRS: set one (GeoDataFrame.set_crs) so shorelines "
                        "can be brought to it")
    if transects.crs.is_geographic:
        raise SpecError(f"the transects are in a geographic CRS ({transects.crs.to_string()}): "
                        "chainages and band_m need metres; reproject them to a projected CRS "
                        "(e.g. the local UTM zone)")
    if shorelines.crs is None:
        raise SpecError("the shorelines have no CRS: set one (GeoDataFrame.set_crs)")
    if date_column not in shorelines.columns:
        raise SpecError(f"the shorelines have no column {date_column!r} (columns: "
                        f"{', '.join(map(str, shorelines.columns))}): name it with date_column=")
    if shorelines.crs != transects.crs:
        shorelines = shorelines.to_crs(transects.crs)
    return intersect(
        list(shorelines.geometry.values), Transects.from_frame(transects, id_column),
        dates=shorelines[date_column].tolist(), **options,
    )
