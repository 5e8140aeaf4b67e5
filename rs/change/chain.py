"""The whole change chain of :mod:`rs.change.detect` on in-memory or lazy composites (pure):
fit, blocks, patches above the minimum mapping unit, clipping to the protected polygons with
the area left unassessed per polygon, and per-part statistics (steps 5 and 6 of the chain).
The red-line product runs the same steps through its own tasks; this is the one-call form for
small grids, checks and notebooks, and :func:`patch_statistics` is shared by both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry

from rs.change.detect import (
    BANDS,
    INDEX_NAMES,
    ChangeModel,
    Composite,
    DetectConfig,
    _read,
    _shape,
    block_windows,
    change_patches,
    features,
    fit_change,
)
from rs.change.patches import class_polygons, pixel_window
from rs.change.zones import clip_to_protected, uncovered_by_zone

__all__ = ["Detection", "coverage_by_zone", "detect_changes", "patch_statistics"]


def coverage_by_zone(
    before: Composite,
    after: Composite,
    transform: Affine,
    crs: Any,
    protected: gpd.GeoDataFrame,
    *,
    block_size: int = 512,
    columns: Sequence[str] = ("name", "level", "zone"),
) -> pd.DataFrame:
    """Per protected polygon, the area where change could not be assessed because a date
    has no value for some band (no patch is ever reported there), block by block: see
    :func:`uncovered_by_zone`."""
    pieces: list[BaseGeometry] = []
    for win in block_windows(_shape(before), block_size):
        r, c, nr, nc = win
        rows, cols = slice(r, r + nr), slice(c, c + nc)
        ok = np.ones((nr, nc), bool)
        for comp in (before, after):
            for v in _read(comp, rows, cols).values():
                ok &= np.isfinite(v)
        if not ok.all():
            where = transform @ Affine.translation(c, r)
            pieces.extend(class_polygons((~ok).astype(np.uint8), where, [1])[1])
    return uncovered_by_zone(pieces, crs, protected, columns=columns)


def patch_statistics(
    parts: gpd.GeoDataFrame,
    before: Composite,
    after: Composite,
    transform: Affine,
    model: ChangeModel | None = None,
) -> gpd.GeoDataFrame:
    """``parts`` with, per row, ``{index}_before``, ``{index}_after`` and ``{index}_delta`` for
    each of :data:`INDEX_NAMES`, and with a ``model`` also ``magnitude_mean`` (change-vector
    magnitude) and ``statistic_mean`` (the model's decision statistic): means over the pixels
    whose centre lies in the geometry and that are valid on both dates (NaN where there is
    none); ``n_pixels`` (pixel centres inside) and the centroid ``lon``/``lat`` (EPSG:4326).
    Reads only each part's bounding window."""
    shape = _shape(before)
    out = parts.copy()
    names = [f"{k}_{s}" for k in INDEX_NAMES for s in ("before", "after", "delta")]
    if model is not None:
        names += ["magnitude_mean", "statistic_mean"]
    stats: dict[str, list[float]] = {n: [] for n in names}
    npix: list[int] = []
    nb = len(BANDS)
    for g in parts.geometry:
        r0, c0, nr, nc = pixel_window(g, transform, shape)
        inside = np.zeros((nr, nc), bool)
        if nr and nc:
            win_t = transform @ Affine.translation(c0, r0)
            burnt = rasterize([(g, 1)], out_shape=(nr, nc), transform=win_t, fill=0, dtype="uint8")
            inside = burnt.astype(bool)
        npix.append(int(inside.sum()))
        row = dict.fromkeys(names, float("nan"))
        if inside.any():
            rows, cols = slice(r0, r0 + nr), slice(c0, c0 + nc)
            fb = features(_read(before, rows, cols))[inside]
            fa = features(_read(after, rows, cols))[inside]
            ok = np.isfinite(fb).all(axis=-1) & np.isfinite(fa).all(axis=-1)
            if ok.any():
                fb, fa = fb[ok], fa[ok]
                for j, k in enumerate(INDEX_NAMES):
                    mb, ma = float(fb[:, nb + j].mean()), float(fa[:, nb + j].mean())
                    row[f"{k}_before"], row[f"{k}_after"], row[f"{k}_delta"] = mb, ma, ma - mb
                if model is not None:
                    row["magnitude_mean"] = float(model.magnitude(fb, fa).mean())
                    row["statistic_mean"] = float(model.statistic(fb, fa).mean())
        for n in names:
            stats[n].append(row[n])
    for col, vals in stats.items():
        out[col] = np.asarray(vals, dtype=np.float64)
    out["n_pixels"] = np.asarray(npix, dtype=np.int64)
    cent = shapely.centroid(np.asarray(parts.geometry.values, dtype=object))
    if len(cent):
        to_ll = Transformer.from_crs(CRS.from_user_input(parts.crs), "EPSG:4326", always_xy=True)
        lon, lat = to_ll.transform(shapely.get_x(cent), shapely.get_y(cent))
    else:
        lon = lat = np.zeros(0)
    out["lon"] = np.asarray(lon, dtype=np.float64)
    out["lat"] = np.asarray(lat, dtype=np.float64)
    geom_col = out.geometry.name
    return out[[c for c in out.columns if c != geom_col] + [geom_col]]


@dataclass(frozen=True)
class Detection:
    """What :func:`detect_changes` returns: the fitted ``model``, the merged ``patches`` and
    the reported ``parts`` (clipped to the protected polygons when given, else one per patch
    with ``share`` 1), with their statistics, and with protected polygons their
    ``coverage`` (:func:`coverage_by_zone`)."""

    model: ChangeModel
    patches: gpd.GeoDataFrame
    parts: gpd.GeoDataFrame
    coverage: pd.DataFrame | None = None


def detect_changes(
    before: Composite,
    after: Composite,
    transform: Affine,
    crs: Any,
    protected: gpd.GeoDataFrame | None = None,
    *,
    config: DetectConfig | None = None,
    block_size: int = 512,
) -> Detection:
    """The whole chain (module docstring): fit, blocks, patches >= MMU, clipping to
    ``protected`` (if given, with its coverage) and per-part statistics."""
    model = fit_change(before, after, config)
    patches = change_patches(before, after, transform, crs, model=model, block_size=block_size)
    if protected is not None:
        parts = clip_to_protected(patches, protected)
    else:
        parts = patches.rename(columns={"area_m2": "patch_area_m2"})
        parts["area_m2"] = parts["patch_area_m2"]
        parts["share"] = 1.0
    parts = patch_statistics(parts, before, after, transform, model)
    coverage = None
    if protected is not None:
        coverage = coverage_by_zone(before, after, transform, crs, protected, block_size=block_size)
    return Detection(model, patches, parts, coverage)
