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
vertices of many shorelines are matched to the transects' bands by one ``STRtree`` query per
chunk, projected with array arithmetic and reduced per (date, transect) by sorting, not by a
loop over pairs.

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

#: vertices per STRtree query (memory bound of one chunk of shorelines)
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
    total = baseline.length
    s = np.arange(start, total + 1e-9 * max(total, 1.0), spacing)
    if len(s) == 0:
        raise SpecError(f"the baseline ({total:g} long) is shorter than start={start:g}")
    half = spacing / 2
    a, b = (
        shapely.get_coordinates(shapely.line_interpolate_point(baseline, np.clip(at, 0, total)))
        for at in (s - half, s + half)
    )
    tangent = b - a
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])  # right of the walking direction
    if side == "left":
        normal = -normal
    station = shapely.get_coordinates(shapely.line_interpolate_point(baseline, s))
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


def _bands(tr: Transects, band: float, lo: np.ndarray, hi: np.ndarray) -> shapely.STRtree:
    n = np.column_stack([-tr.direction[:, 1], tr.direction[:, 0]])
    a = tr.origin + tr.direction * lo[:, None]
    b = tr.origin + tr.direction * hi[:, None]
    ring = np.stack([a - band * n, b - band * n, b + band * n, a + band * n, a - band * n], 1)
    return shapely.STRtree(shapely.polygons(ring))


def _chunk_stats(
    xy: np.ndarray, which: np.ndarray, n_dates: int, tr: Transects, tree: shapely.STRtree,
    band: float, lo: np.ndarray, hi: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Stats ``(n_dates * n_transects,)`` of the vertices ``xy`` of shorelines ``which``."""
    nt = len(tr)
    pi, ti = tree.query(shapely.points(xy))
    rel = xy[pi] - tr.origin[ti]
    d = tr.direction[ti]
    along = rel[:, 0] * d[:, 0] + rel[:, 1] * d[:, 1]
    cross = rel[:, 1] * d[:, 0] - rel[:, 0] * d[:, 1]
    ok = (np.abs(cross) <= band) & (along >= lo[ti]) & (along <= hi[ti])
    key = which[pi[ok]] * nt + ti[ok]
    along = along[ok]
    order = np.lexsort((along, key))
    key, v = key[order], along[order]
    size = n_dates * nt
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
        tree = _bands(transects, band_m, lo, hi)
        sizes = shapely.get_num_coordinates(geoms)
        d0 = 0
        while d0 < nd:  # chunks of whole dates, about CHUNK_VERTICES vertices each
            cum = np.cumsum(sizes[d0:])
            d1 = d0 + max(1, int(np.searchsorted(cum, CHUNK_VERTICES, side="right")))
            xy, which = shapely.get_coordinates(geoms[d0:d1], return_index=True)
            stats = _chunk_stats(xy, which, d1 - d0, transects, tree, band_m, lo, hi)
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
