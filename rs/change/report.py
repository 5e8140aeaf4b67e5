"""From detected change patches to the red-line report (pure: arrays or lazy band readers and
GeoDataFrames in, tables out).

- :func:`typing_features`: the typing features (:mod:`rs.change.features`) of each whole
  patch, reading only its bounding window of the before/after composites;
- :func:`assign_types`: the typing model's type and calibrated confidence per patch
  (``unclassified`` and NaN without a model);
- :func:`outside_parts`: what of each patch lies outside every protected polygon (for
  ``scope: all``);
- :func:`zone_summary`: per protected polygon (reserve x zone), the patches, changed area per
  type and the area left unassessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from affine import Affine

from rs.change.features import FEATURES, patch_features
from rs.change.patches import pixel_window

if TYPE_CHECKING:
    import geopandas as gpd
    from sklearn.pipeline import Pipeline

__all__ = ["UNCLASSIFIED", "assign_types", "outside_parts", "typing_features", "zone_summary"]

#: the type of a patch when no typing model is given
UNCLASSIFIED = "unclassified"
_FEATURE_BANDS = ("blue", "green", "red", "nir", "swir16")


def _window_bands(comp: Mapping[str, Any], sl: tuple[slice, slice]) -> dict[str, np.ndarray]:
    read = getattr(comp, "read", None)  # rs.load.outputs.RasterBands: one read for all bands
    if callable(read):
        return dict(read(sl[0], sl[1], _FEATURE_BANDS))
    return {b: np.asarray(comp[b][sl]) for b in _FEATURE_BANDS}


def typing_features(
    patches: gpd.GeoDataFrame,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    transform: Affine,
) -> pd.DataFrame:
    """:data:`~rs.change.features.FEATURES` of each patch (rows in ``patches``' order, its
    index), from the blue, green, red, nir and swir16 bands of ``before`` and ``after``
    (arrays or lazy readers on the grid of ``transform``; patches in the grid's CRS)."""
    shape = tuple(int(v) for v in np.shape(before["red"]))
    rows = []
    for geom in patches.geometry:
        r0, c0, h, w = pixel_window(geom, transform, (shape[0], shape[1]), pad=1)
        sl = (slice(r0, r0 + h), slice(c0, c0 + w))
        wb, wa = _window_bands(before, sl), _window_bands(after, sl)
        wt = transform @ Affine.translation(c0, r0)
        rows.append(patch_features([geom], wb, wa, wt).iloc[0])
    if not rows:
        return pd.DataFrame(columns=list(FEATURES), index=patches.index, dtype="float64")
    return pd.DataFrame(rows, index=patches.index)[list(FEATURES)]


def assign_types(features: pd.DataFrame, model: Pipeline | None) -> pd.DataFrame:
    """``type`` and ``confidence`` per row of ``features`` (:func:`typing_features`): the
    model's most probable class and its calibrated probability, or :data:`UNCLASSIFIED` and
    NaN without a model."""
    if model is None:
        return pd.DataFrame({"type": UNCLASSIFIED, "confidence": np.nan}, index=features.index)
    from rs.change.typing_model import predict_types

    return predict_types(model, features)[["type", "confidence"]]


def outside_parts(patches: gpd.GeoDataFrame, protected: gpd.GeoDataFrame,
                  columns: Sequence[str]) -> gpd.GeoDataFrame:
    """The parts of ``patches`` outside every ``protected`` polygon, in the layout of
    :func:`rs.change.zones.clip_to_protected` (``reserve`` and the other ``columns`` empty)."""
    import geopandas as gpd

    from rs.change.zones import _areas_m2

    prot = protected.to_crs(patches.crs)
    union = shapely.union_all(shapely.make_valid(np.asarray(prot.geometry.values, dtype=object)))
    rows, parts = [], []
    for patch in patches.itertuples(index=False):
        rest = shapely.difference(patch.geometry, union)
        polys = [p for p in shapely.get_parts(rest) if p.geom_type == "Polygon" and p.area > 0]
        if not polys:
            continue
        part = shapely.union_all(polys)
        row = {"patch_id": patch.patch_id, "patch_area_m2": patch.area_m2}
        row.update({("reserve" if c == "name" else c): "" for c in columns})
        row["share"] = part.area / patch.geometry.area
        rows.append(row)
        parts.append(part)
    cols = ["patch_id", "patch_area_m2", *("reserve" if c == "name" else c for c in columns),
            "share"]
    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry=parts, crs=patches.crs)
    out.insert(len(cols) - 1, "area_m2", _areas_m2(parts, patches.crs))
    return out


def zone_summary(parts: pd.DataFrame, coverage: pd.DataFrame, types: Sequence[str],
                 keys: Sequence[str] = ("reserve", "level", "zone")) -> pd.DataFrame:
    """Per protected polygon (a row of ``coverage``, :func:`rs.change.zones.uncovered_by_zone`):
    ``n_patches`` (distinct patches with a part there), ``changed_m2`` and ``changed_<type>_m2``
    for each of ``types`` (sums of the parts' ``area_m2``), ``changed_fraction`` of the
    polygon's area, and its ``area_m2``/``uncovered_m2``/``uncovered_fraction``."""
    keys = [k for k in keys if k in coverage.columns]
    out = coverage.copy()
    inside = parts.loc[parts[keys[0]].astype(str) != ""] if len(parts) else parts
    grouped = inside.groupby(keys, dropna=False) if len(inside) else None
    n = grouped["patch_id"].nunique() if grouped is not None else pd.Series(dtype="int64")
    area = grouped["area_m2"].sum() if grouped is not None else pd.Series(dtype="float64")
    idx = pd.MultiIndex.from_frame(out[keys]) if len(keys) > 1 else pd.Index(out[keys[0]])
    out["n_patches"] = n.reindex(idx).fillna(0).astype("int64").to_numpy()
    out["changed_m2"] = area.reindex(idx).fillna(0.0).to_numpy()
    for t in types:
        sel = inside.loc[inside["type"] == t] if len(inside) else inside
        a = (sel.groupby(keys, dropna=False)["area_m2"].sum() if len(sel)
             else pd.Series(dtype="float64"))
        out[f"changed_{t}_m2"] = a.reindex(idx).fillna(0.0).to_numpy()
    out["changed_fraction"] = out["changed_m2"] / out["area_m2"].where(out["area_m2"] > 0)
    return out
