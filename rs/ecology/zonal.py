"""Exact zonal statistics per polygon, with partial-pixel coverage weights from exactextract.

:func:`zonal_stats` summarises a raster inside every polygon of a GeoDataFrame. Every pixel
counts with the fraction of it the polygon covers, computed by exactextract from the
polygon's edges (nothing here computes coverage), so a polygon smaller than a pixel or one
straddling pixels gets the area-true answer.

Columns per band (one band: these names; several: ``<band>_<name>``, band names from the
file's band descriptions, a DataArray's band coordinate or ``band_names``, else ``band_<i>``):

- ``count``: Σ coverage over the pixels with a value (exactextract ``count``);
- ``valid_share``: ``count`` over the pixels the polygon covers (its area in the raster's CRS
  over one pixel's): the share of the polygon with a value. Parts outside the raster count
  as without value: 0 for a polygon outside the raster, NaN for an empty geometry;
- continuous (default): ``mean``, ``std`` (population), ``min``, ``max`` (exactextract
  ``mean``, ``stdev``, ``min``, ``max``: coverage-weighted; min/max over the pixels touched),
  ``median`` and one ``p<q>`` per percentile: exactextract's weighted quantile definition
  (:func:`weighted_quantiles`, ``rs.ecology._zonal_quantiles``), computed with numpy from
  exactextract's ``values`` and ``coverage``: exactextract's own quantiles keep a hash map of
  every distinct value and were 4-5x slower than all the other statistics together on float
  rasters (and on an integer raster exactextract truncates them to integers; here they stay
  floats);
- categorical (``categorical=True`` or ``classes``): ``area_m2`` (area with a value) and
  ``area_m2_<class>``: Σ coverage × pixel area over the class's pixels (exactextract ``frac``
  and ``count`` with an area ``coverage_weight``). ``classes`` maps values to names: named
  classes first (0 where absent), then other values found, named by value. Pixel area:
  ``|dx·dy|`` × (CRS unit in m)² on a projected CRS, each pixel's spherical area
  (``area_spherical_m2``) on a geographic one.

A polygon outside the raster, or over nodata/NaN pixels only, gives ``count`` 0 and NaN
statistics (class areas 0), never an exception.

Rasters (``rs.ecology._zonal_sources``): a file path (a COG written by rs, any GDAL raster),
read window by window through rasterio/GDAL, never whole (nodata, mask bands and scale/offset
honoured); or an array with ``transform`` and ``crs``: numpy (y, x) / (band, y, x), or an
xarray DataArray in that order (transform and CRS from odc-geo when not given), of which a
dask-backed one is computed only in the windows under the polygons.

Memory: exactextract's ``strategy="feature-sequential"`` (one polygon at a time, reading the
window of its bounding box in pieces of at most ``max_cells_in_memory`` cells; its
``raster-sequential`` keeps every polygon's running state and is not used). Polygons go in
Hilbert order of their centres (neighbours reuse GDAL's cached blocks: ``GDAL_CACHEMAX`` adds
to the memory) in batches whose bounding boxes hold at most ``max_cells_in_memory`` cells,
whose values and coverage (for the quantiles) are held at once: about 16 bytes a cell, 64 MB at
the default 2048²; a single polygon larger than that is a batch of its own (exact quantiles
need all its values). Rows come back in input order.

Parallel: given ``parallel`` (a :class:`PartMap`) and a raster *file*, runs of consecutive
batches (neighbours in Hilbert order share tiles) of about equal cells become parallel tasks,
about two per slot; each task (:func:`_file_part`) opens the file itself and returns its rows'
statistics, never the pixels. How the tasks run is the caller's: the products pass the run's
``Runtime.part_map`` (Dask tasks; worker *processes* scale with the cores, threads of one
process share its GIL during exactextract's coverage pass and gain less). Arrays are always
summarised in this process.

This module reads (a raster path, through exactextract) and writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from pyproj import CRS

from rs.ecology._zonal_quantiles import weighted_quantiles
from rs.ecology._zonal_sources import Polygons, Raster, in_memory, open_file
from rs.errors import SpecError

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr
    from affine import Affine

__all__ = ["DEFAULT_PERCENTILES", "MAX_CELLS_IN_MEMORY", "class_areas", "weighted_quantiles",
           "zonal_stats"]

#: Percentiles computed by default (columns p10, p25, p75, p90; the median is its own column)
DEFAULT_PERCENTILES: tuple[float, ...] = (10.0, 25.0, 75.0, 90.0)
#: Cells exactextract reads at once, and cells per batch of polygons (2048²)
MAX_CELLS_IN_MEMORY = 2048 * 2048

_ROW = "__rs_row__"


# --- polygons ----------------------------------------------------------------------------------


def _ids(polygons: gpd.GeoDataFrame, id_column: str | None) -> pd.Index:
    if id_column is None:
        ids = polygons.index
    elif id_column not in polygons.columns:
        raise SpecError(f"the polygons have no id column {id_column!r} "
                        f"(columns: {', '.join(map(str, polygons.columns))})")
    else:
        ids = pd.Index(polygons[id_column], name=id_column)
    if ids.hasnans:
        raise SpecError(f"polygon ids ({id_column or 'the index'}) must not be missing")
    if not ids.is_unique:
        dup = ids[ids.duplicated()][0]
        raise SpecError(f"polygon ids ({id_column or 'the index'}) must be unique; "
                        f"{dup!r} repeats")
    return ids


def _repaired(geoms: gpd.GeoSeries) -> np.ndarray:
    """Invalid polygons (self-intersections...) made valid, keeping their polygonal parts:
    exactextract's coverage of an invalid polygon is meaningless."""
    import shapely

    arr = geoms.to_numpy()
    bad = ~shapely.is_valid(arr) & ~shapely.is_missing(arr)
    if bad.any():
        arr = arr.copy()
        arr[bad] = shapely.make_valid(arr[bad], method="structure", keep_collapsed=False)
    return arr


# --- statistics --------------------------------------------------------------------------------


def _pct_label(q: float) -> str:
    return f"p{q:g}"


def _check(percentiles: Sequence[float], max_cells: int) -> None:
    for q in percentiles:
        if not 0 <= q <= 100:
            raise SpecError(f"percentiles are between 0 and 100, got {q}")
    if len({_pct_label(q) for q in percentiles}) != len(percentiles):
        raise SpecError(f"percentiles must be distinct, got {list(percentiles)}")
    if max_cells < 1:
        raise SpecError(f"max_cells_in_memory must be >= 1, got {max_cells}")


def _area_weight(crs: CRS) -> tuple[str, float]:
    """exactextract's coverage weight giving areas, and the factor to m² it needs."""
    if crs.is_geographic:
        return "area_spherical_m2", 1.0
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return "area_cartesian", float(factor) ** 2


def _op_specs(n_bands: int, categorical: bool,
              weight: str) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(band index, label, exactextract stat, options) of every operation, in output order."""
    per_band: list[tuple[str, str, dict[str, Any]]] = [("count", "count", {})]
    if categorical:
        per_band += [("area", "count", {"coverage_weight": weight}), ("unique", "unique", {}),
                     ("frac", "frac", {"coverage_weight": weight})]
    else:
        per_band += [("mean", "mean", {}), ("std", "stdev", {}), ("min", "min", {}),
                     ("max", "max", {}), ("values", "values", {}), ("coverage", "coverage", {})]
    return [(b, label, stat, opts) for b in range(n_bands) for label, stat, opts in per_band]


def _bbox_cells(geoms: np.ndarray, pixel_area: float) -> np.ndarray:
    """Cells of each polygon's bounding box, rounded out to whole pixels (an upper bound)."""
    import shapely

    b = shapely.bounds(geoms)
    return ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) / pixel_area
            + 2 * ((b[:, 2] - b[:, 0]) + (b[:, 3] - b[:, 1])) / np.sqrt(pixel_area) + 4)


def _batches(geoms: np.ndarray, cells: np.ndarray, max_cells: int) -> Iterator[np.ndarray]:
    """Positions of ``geoms`` in Hilbert order, cut where their bounding boxes' ``cells``
    (:func:`_bbox_cells`) reach ``max_cells`` (a larger polygon is a batch alone)."""
    import geopandas as gpd

    if len(geoms) > 1:
        order = np.argsort(gpd.GeoSeries(geoms).hilbert_distance().to_numpy(), kind="stable")
    else:
        order = np.arange(len(geoms))
    start, total = 0, 0.0
    for k, c in zip(range(len(order)), cells[order], strict=True):
        if k > start and total + c > max_cells:
            yield order[start:k]
            start, total = k, 0.0
        total += c
    if start < len(order):
        yield order[start:]


def _quantile_columns(raw: pd.DataFrame, b: int, qs: np.ndarray, f32: bool) -> np.ndarray:
    """(rows, len(qs)) quantiles of band ``b`` from its ``values``/``coverage`` columns."""
    out = np.full((len(raw), len(qs)), np.nan)
    for i, (v, w) in enumerate(zip(raw[f"{b}:values"], raw[f"{b}:coverage"], strict=True)):
        if isinstance(v, np.ndarray) and v.size:
            out[i] = weighted_quantiles(v.astype(np.float32) if f32 else v, w, qs)
    return out


def _class_key(v: Any) -> Any:
    f = float(v)
    return int(f) if f.is_integer() else f


def _class_areas(unique: pd.Series, frac: pd.Series, area: np.ndarray,
                 classes: Mapping[Any, str] | None) -> dict[str, np.ndarray]:
    """``area_m2_<class>`` columns: frac(area-weighted) × valid area per class."""
    n = len(area)
    names = {_class_key(k): str(v) for k, v in (classes or {}).items()}
    per: dict[Any, np.ndarray] = {k: np.zeros(n) for k in names}
    for i, (vals, fr) in enumerate(zip(unique.to_numpy(), frac.to_numpy(), strict=True)):
        if not isinstance(vals, np.ndarray):  # a row without polygon (NaN)
            continue
        for v, f in zip(vals, fr, strict=True):
            per.setdefault(_class_key(v), np.zeros(n))[i] += float(f) * area[i]
    unnamed = sorted(k for k in per if k not in names)
    out: dict[str, np.ndarray] = {}
    for key in [*names, *unnamed]:
        label = f"area_m2_{names.get(key, key)}"
        if label in out:
            raise SpecError(f"two classes are both named {label[8:]!r}: class names must be "
                            "unique")
        out[label] = per[key]
    return out


# --- the function ----------------------------------------------------------------------------


def zonal_stats(
    raster: str | os.PathLike[str] | np.ndarray | xr.DataArray,
    polygons: gpd.GeoDataFrame,
    *,
    id_column: str | None = None,
    transform: Affine | Sequence[float] | None = None,
    crs: Any = None,
    nodata: float | None = None,
    band_names: Sequence[str] | None = None,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    categorical: bool = False,
    classes: Mapping[Any, str] | None = None,
    max_cells_in_memory: int = MAX_CELLS_IN_MEMORY,
    parallel: PartMap | None = None,
) -> pd.DataFrame:
    """Exact (coverage-weighted) statistics of ``raster`` in every polygon of ``polygons``.

    :param raster: a raster file path, or a numpy array / xarray DataArray (y, x) or
        (band, y, x) with ``transform`` and ``crs`` (see the module docstring).
    :param polygons: polygons in any CRS (reprojected to the raster's; invalid ones repaired
        with ``shapely.make_valid``); empty geometries give rows with count 0.
    :param id_column: the column identifying the polygons (unique); ``None``: the index.
    :param nodata: "no data" value of an in-memory array (files: their own nodata and mask);
        NaN is always no data.
    :param band_names: names of the bands (overrides the file's descriptions).
    :param percentiles: percentiles (0-100) for the ``p<q>`` columns.
    :param categorical: area per class instead of the continuous statistics.
    :param classes: class value -> name for the ``area_m2_<name>`` columns (implies
        ``categorical``).
    :param max_cells_in_memory: cells exactextract reads at once and cells per batch.
    :param parallel: runs the batches of a raster *file* as parallel tasks (see the module
        docstring; the pipeline's is ``Runtime.part_map``); ``None``: in this process.
    :returns: a DataFrame indexed by the polygon ids (input order), float64 columns as in the
        module docstring.
    """
    import geopandas as gpd
    import shapely

    if not isinstance(polygons, gpd.GeoDataFrame):
        raise SpecError(f"polygons must be a GeoDataFrame, got {type(polygons).__name__}")
    categorical = categorical or classes is not None
    percentiles = [float(q) for q in percentiles]
    _check(percentiles, max_cells_in_memory)
    ids = _ids(polygons, id_column)
    if polygons.crs is None:
        raise SpecError("the polygons have no CRS: set one (GeoDataFrame.set_crs)")

    path = os.fspath(raster) if isinstance(raster, str | os.PathLike) else None
    rast = (open_file(path, band_names) if path is not None
            else in_memory(raster, transform, crs, nodata, band_names))
    qs = np.array([0.5, *(q / 100 for q in percentiles)])
    try:
        geoms = _repaired(polygons.geometry.to_crs(rast.crs))  # shapely geometries
        usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        rows = np.flatnonzero(usable)
        cells = _bbox_cells(geoms, rast.pixel_area)  # per row; NaN where unusable
        cap, n_runs = max_cells_in_memory, 1
        if path is not None and parallel is not None:  # a few tasks for every slot
            n_runs = TASKS_PER_SLOT * max(1, parallel.slots)
            cap = min(cap, max(1, int(cells[rows].sum() / n_runs)))
        batches = [rows[b] for b in _batches(geoms[rows], cells[rows], cap)]
        if path is not None and parallel is not None and len(batches) > 1:
            runs = _runs(np.array([cells[b].sum() for b in batches]), n_runs)
            parts = parallel(_file_part, [
                (path, band_names, [(geoms[batches[i]], batches[i]) for i in run], categorical,
                 qs, max_cells_in_memory) for run in runs])
        else:
            parts = [_extract(rast, [(geoms[b], b) for b in batches], categorical, qs,
                              max_cells_in_memory)]
        raw = pd.concat(parts).reindex(range(len(geoms)))
        polygon_px = np.where(usable, shapely.area(geoms) / rast.pixel_area, np.nan)
    finally:
        rast.close()
    return _table(raw, rast, ids, percentiles, categorical, classes, polygon_px, usable)


def _labels(n_bands: int, categorical: bool, n_q: int) -> list[str]:
    """The raw columns :func:`_extract` returns (the quantiles in place of values/coverage)."""
    out = [f"{b}:{label}" for b, label, _, _ in _op_specs(n_bands, categorical, "")
           if label not in ("values", "coverage")]
    return out if categorical else out + [f"{b}:q{k}" for b in range(n_bands)
                                          for k in range(n_q)]


def _extract(rast: Raster, batches: Sequence[tuple[np.ndarray, np.ndarray]], categorical: bool,
             qs: np.ndarray, max_cells: int) -> pd.DataFrame:
    """exactextract over ``batches`` of (polygons, their row numbers), one batch at a time:
    the raw columns (``<band>:<label>``; quantiles ``<band>:q<k>``) indexed by row number."""
    from exactextract import exact_extract
    from exactextract.operation import Operation

    specs = _op_specs(len(rast.sources), categorical, _area_weight(rast.crs)[0])
    labels = [f"{b}:{label}" for b, label, _, _ in specs]
    ops = [Operation(stat, f"{b}:{label}", rast.sources[b], options=opts)
           for b, label, stat, opts in specs]
    parts = []
    for geoms, rows in batches:
        feats = Polygons(geoms, rows, _ROW, rast.crs.to_wkt())
        got = exact_extract(rast.sources, feats, ops, include_cols=[_ROW], output="pandas",
                            max_cells_in_memory=max_cells)
        got.columns = [_ROW, *labels]
        got = got.set_index(_ROW)
        if not categorical:  # quantiles now, so the batch's values can go
            for b in range(len(rast.sources)):
                got[[f"{b}:q{k}" for k in range(len(qs))]] = _quantile_columns(
                    got, b, qs, rast.f32_exact[b])
                got = got.drop(columns=[f"{b}:values", f"{b}:coverage"])
        parts.append(got)
    return pd.concat(parts) if parts else pd.DataFrame(
        columns=_labels(len(rast.sources), categorical, len(qs)))


def _file_part(path: str, band_names: Sequence[str] | None,
               batches: Sequence[tuple[np.ndarray, np.ndarray]], categorical: bool,
               qs: np.ndarray, max_cells: int) -> pd.DataFrame:
    """:func:`_extract` on a worker: the file opened there (its own GDAL cache)."""
    rast = open_file(path, band_names)
    try:
        return _extract(rast, batches, categorical, qs, max_cells)
    finally:
        rast.close()


#: Tasks per slot of a :class:`PartMap` (load balance vs. tiles decoded twice where two tasks'
#: polygons meet)
TASKS_PER_SLOT = 2


class PartMap(Protocol):
    """Runs ``fn`` on every argument tuple as parallel tasks and returns the results in order;
    ``slots``: how many run at once. rs's pipelines pass ``Runtime.part_map`` (Dask); this
    module never sees a scheduler."""

    @property
    def slots(self) -> int: ...

    def __call__(self, fn: Callable[..., pd.DataFrame],
                 args: Sequence[tuple[Any, ...]]) -> list[pd.DataFrame]: ...


def _runs(cells: np.ndarray, n_runs: int) -> list[np.ndarray]:
    """Consecutive batches (of ``cells`` each) in ``n_runs`` runs of about equal cells: a batch
    goes to the run its middle falls in (empty runs are dropped)."""
    middle = np.cumsum(cells) - cells / 2
    run_of = np.minimum((middle / max(cells.sum(), 1e-300) * n_runs).astype(int), n_runs - 1)
    return [r for k in range(n_runs) if len(r := np.flatnonzero(run_of == k))]


def _table(raw: pd.DataFrame, rast: Raster, ids: pd.Index, percentiles: Sequence[float],
           categorical: bool, classes: Mapping[Any, str] | None, polygon_px: np.ndarray,
           usable: np.ndarray) -> pd.DataFrame:
    """Named float columns from the raw ones; rows without values: count 0, NaN statistics."""
    _, to_m2 = _area_weight(rast.crs)
    multi = len(rast.names) > 1
    cols: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        return pd.to_numeric(raw[name]).to_numpy(dtype=np.float64)

    for b, band in enumerate(rast.names):
        prefix = f"{band}_" if multi else ""
        count = np.nan_to_num(column(f"{b}:count"))
        cols[f"{prefix}count"] = count
        with np.errstate(divide="ignore", invalid="ignore"):
            cols[f"{prefix}valid_share"] = np.where(
                polygon_px > 0, np.minimum(count / polygon_px, 1.0), np.where(usable, 0.0, np.nan))
        if categorical:
            area = np.nan_to_num(column(f"{b}:area")) * to_m2
            cols[f"{prefix}area_m2"] = area
            for name, values in _class_areas(raw[f"{b}:unique"], raw[f"{b}:frac"], area,
                                             classes).items():
                cols[f"{prefix}{name}"] = values
            continue
        stats = {"mean": f"{b}:mean", "median": f"{b}:q0", "std": f"{b}:std",
                 "min": f"{b}:min", "max": f"{b}:max"}
        stats.update({_pct_label(q): f"{b}:q{k + 1}" for k, q in enumerate(percentiles)})
        for stat, name in stats.items():
            cols[f"{prefix}{stat}"] = np.where(count > 0, column(name), np.nan)
    out = pd.DataFrame(cols, index=ids)
    out.index.name = ids.name
    return out


def class_areas(raster: str | os.PathLike[str] | np.ndarray | xr.DataArray,
                polygons: gpd.GeoDataFrame, *, id_column: str | None = None,
                names: Mapping[Any, str] | None = None, **options: Any) -> pd.DataFrame:
    """Area (m²) of every class of a categorical raster per polygon:
    ``zonal_stats(raster, polygons, categorical=True, classes=names, ...)`` (columns
    ``count``, ``valid_share``, ``area_m2``, ``area_m2_<class name>``)."""
    return zonal_stats(raster, polygons, id_column=id_column, categorical=True, classes=names,
                       **options)
