"""Features of change patches for typing them (pure: polygons and arrays in, tables out).

A patch is described by its spectral trajectory and its shape:

- per index of :data:`INDICES` (NDVI, NDBI, BSI, MNDWI, brightness): the mean before
  (``<i>_before``), after (``<i>_after``), their difference (``d_<i>`` = after - before) and
  the texture of the change, the standard deviation of the per-pixel difference within the
  patch (``<i>_dstd``);
- shape (:func:`shape_features`, in the polygon's CRS units, metres expected): ``area_m2``,
  ``elongation`` (long / short side of the minimum rotated rectangle, >= 1),
  ``compactness`` (4πA/P², 1 for a disc) and ``rectangularity`` (A / area of the minimum
  rotated rectangle, 1 for a rectangle).

:data:`FEATURES` lists the columns in model order. The index statistics come either from
before/after index rasters on one grid (:func:`patch_features`) or from columns already in a
table (:func:`features_from_columns`, which derives missing deltas and the shape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry

from rs.errors import SpecError

__all__ = [
    "FEATURES",
    "INDICES",
    "SHAPE_FEATURES",
    "features_from_columns",
    "index_layers",
    "patch_features",
    "shape_features",
    "spectral_feature_names",
]

#: the indices whose before/after statistics describe a patch
INDICES: tuple[str, ...] = ("ndvi", "ndbi", "bsi", "mndwi", "brightness")

#: shape features, in model order
SHAPE_FEATURES: tuple[str, ...] = ("area_m2", "elongation", "compactness", "rectangularity")


def spectral_feature_names(index: str) -> tuple[str, str, str, str]:
    """The four columns of one index: mean before, mean after, delta, std of the delta."""
    return (f"{index}_before", f"{index}_after", f"d_{index}", f"{index}_dstd")


#: every feature column, in model order
FEATURES: tuple[str, ...] = (
    *(c for i in INDICES for c in spectral_feature_names(i)),
    *SHAPE_FEATURES,
)

#: reflectance bands (surface reflectance, 0..1) the indices can be computed from
_REFLECTANCE = ("blue", "green", "red", "nir", "swir16")


def shape_features(geom: BaseGeometry) -> dict[str, float]:
    """Area, elongation, compactness and rectangularity of a polygon (CRS units; NaN for an
    empty or zero-area geometry)."""
    area = float(geom.area) if geom is not None and not geom.is_empty else 0.0
    if area <= 0:
        return dict.fromkeys(SHAPE_FEATURES, float("nan"))
    perim = float(geom.length)
    rect = shapely.minimum_rotated_rectangle(geom)
    xy = np.asarray(shapely.get_coordinates(rect))
    if len(xy) >= 4:
        sides = np.hypot(*np.diff(xy[:3], axis=0).T)
        long_side, short_side = float(sides.max()), float(sides.min())
    else:  # degenerate: a line
        long_side, short_side = float(perim) / 2, 0.0
    elong = long_side / short_side if short_side > 0 else float("nan")
    rect_area = float(rect.area)
    return {
        "area_m2": area,
        "elongation": elong,
        "compactness": 4 * np.pi * area / perim**2 if perim > 0 else float("nan"),
        "rectangularity": area / rect_area if rect_area > 0 else float("nan"),
    }


def index_layers(bands: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The :data:`INDICES` from a mapping of layers named by (lower-case) band name: layers
    named after an index are taken as they are; missing ones are computed from reflectance
    bands (blue, green, red, nir, swir16; brightness = their mean). Refuses (SpecError) when
    an index can be neither found nor computed."""
    b = {k.lower(): np.asarray(v, dtype="float64") for k, v in bands.items()}

    def index(name: str) -> np.ndarray:  # the one definition of each index: rs.indices
        import xarray as xr

        from rs import indices

        ds = xr.Dataset({k: (("y", "x"), np.atleast_2d(b[k])) for k in formulas[name][0]})
        value = np.asarray(getattr(indices, name)(ds).values, dtype="float64")
        return value.reshape(b[formulas[name][0][0]].shape)

    formulas = {
        "ndvi": (("nir", "red"), lambda: index("ndvi")),
        "ndbi": (("swir16", "nir"), lambda: index("ndbi")),
        "mndwi": (("green", "swir16"), lambda: index("mndwi")),
        "bsi": (("swir16", "red", "nir", "blue"), lambda: index("bsi")),
        "brightness": (_REFLECTANCE, lambda: np.mean([b[k] for k in _REFLECTANCE], axis=0)),
    }
    out: dict[str, np.ndarray] = {}
    missing = []
    for name in INDICES:
        if name in b:
            out[name] = b[name]
            continue
        need, fn = formulas[name]
        if all(k in b for k in need):
            out[name] = fn()
        else:
            missing.append(f"{name} (or bands {', '.join(need)})")
    if missing:
        raise SpecError(
            f"the rasters have no layer for {'; '.join(missing)}; layers found: "
            f"{', '.join(sorted(b)) or '-'} (name the bands by their descriptions)"
        )
    return out


def patch_features(
    geoms: Sequence[BaseGeometry],
    before: Mapping[str, np.ndarray],
    after: Mapping[str, np.ndarray],
    transform: Affine,
) -> pd.DataFrame:
    """:data:`FEATURES` of each polygon (one row per polygon, in order) from before/after
    layers on one pixel grid (``transform``; polygons in the grid's CRS). ``before`` and
    ``after`` map index names to 2-D arrays (see :func:`index_layers`). A pixel belongs to a
    patch when its centre is inside; a patch smaller than a pixel takes the pixels it touches.
    NaN pixels are left out; a patch without a valid pixel has NaN spectral features.
    Polygons should not overlap (a pixel goes to the later one)."""
    b, a = index_layers(before), index_layers(after)
    shape = next(iter(b.values())).shape
    for name in INDICES:
        if b[name].shape != shape or a[name].shape != shape:
            raise SpecError(f"before/after layer {name} is not on the grid {shape}")
    n = len(geoms)
    labels = _labels(geoms, shape, transform, all_touched=False)
    counts = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    empty = [i for i in range(n) if counts[i] == 0 and geoms[i] is not None
             and not geoms[i].is_empty]
    if empty:  # tiny or thin patches: the pixels they touch
        extra = _labels([geoms[i] for i in empty], shape, transform, all_touched=True)
        sel = (extra > 0) & (labels == 0)
        labels[sel] = np.asarray(empty, dtype=labels.dtype)[extra[sel] - 1] + 1
    cols: dict[str, np.ndarray] = {}
    flat = labels.ravel()
    inside = flat > 0
    for name in INDICES:
        vb, va = b[name].ravel(), a[name].ravel()
        ok = inside & np.isfinite(vb) & np.isfinite(va)
        lab = flat[ok] - 1
        d = va[ok] - vb[ok]
        cnt = np.bincount(lab, minlength=n).astype("float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            mb = np.bincount(lab, vb[ok], minlength=n) / cnt
            ma = np.bincount(lab, va[ok], minlength=n) / cnt
            md = np.bincount(lab, d, minlength=n) / cnt
            var = np.bincount(lab, d * d, minlength=n) / cnt - md * md
        col_b, col_a, col_d, col_s = spectral_feature_names(name)
        cols[col_b], cols[col_a], cols[col_d] = mb, ma, ma - mb
        cols[col_s] = np.sqrt(np.clip(var, 0, None))
    table = pd.DataFrame(cols)
    shp = pd.DataFrame([shape_features(g) for g in geoms], columns=list(SHAPE_FEATURES))
    return pd.concat([table, shp], axis=1)[list(FEATURES)]


def _labels(
    geoms: Sequence[BaseGeometry], shape: tuple[int, ...], transform: Affine, *, all_touched: bool
) -> np.ndarray:
    """Pixels labelled 1..n by the polygon that covers them, 0 elsewhere."""
    items = [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not items:
        return np.zeros(shape, dtype="int64")
    out = rasterize(items, out_shape=shape, transform=transform, fill=0, dtype="int32",
                    all_touched=all_touched)
    return out.astype("int64")


def features_from_columns(table: pd.DataFrame, geoms: Sequence[BaseGeometry] | None = None,
                          ) -> pd.DataFrame:
    """:data:`FEATURES` from a table that holds per-patch index statistics as columns: deltas
    missing are after - before, a missing ``<i>_dstd`` is NaN (the model accepts NaN), shape
    features missing are computed from ``geoms`` (metric CRS). Refuses (SpecError) a table
    without the before and after means of every index."""
    out = pd.DataFrame(index=table.index)
    missing = []
    for name in INDICES:
        col_b, col_a, col_d, col_s = spectral_feature_names(name)
        if col_b in table and col_a in table:
            out[col_b] = pd.to_numeric(table[col_b], errors="coerce")
            out[col_a] = pd.to_numeric(table[col_a], errors="coerce")
        elif col_d not in table:
            missing.append(f"{col_b}/{col_a}")
            continue
        else:
            out[col_b] = out[col_a] = np.nan
        out[col_d] = (pd.to_numeric(table[col_d], errors="coerce") if col_d in table
                      else out[col_a] - out[col_b])
        out[col_s] = pd.to_numeric(table[col_s], errors="coerce") if col_s in table else np.nan
    if missing:
        raise SpecError(f"the table has no columns {', '.join(missing)} (or the d_<index> "
                        "deltas); give them, or rasters to compute them from")
    have = [c for c in SHAPE_FEATURES if c in table]
    if len(have) < len(SHAPE_FEATURES):
        if geoms is None:
            lack = ", ".join(c for c in SHAPE_FEATURES if c not in have)
            raise SpecError(f"shape features {lack} missing and no geometries to compute "
                            "them from")
        shp = pd.DataFrame([shape_features(g) for g in geoms], index=table.index,
                           columns=list(SHAPE_FEATURES))
        for c in SHAPE_FEATURES:
            out[c] = pd.to_numeric(table[c], errors="coerce") if c in table else shp[c]
    else:
        for c in SHAPE_FEATURES:
            out[c] = pd.to_numeric(table[c], errors="coerce")
    return out[list(FEATURES)].astype("float64")
