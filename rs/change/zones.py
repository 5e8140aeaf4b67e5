"""Change patches and protected areas (pure: GeoDataFrames in and out): patches clipped to the
protected polygons with each part's share and zone, and the unassessed area per polygon."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod
from shapely.geometry.base import BaseGeometry

__all__ = ["clip_to_protected", "uncovered_by_zone"]


def _areas_m2(geoms: Sequence[BaseGeometry], crs: CRS) -> np.ndarray:
    if not len(geoms):
        return np.zeros(0)
    if crs.is_geographic:
        geod = crs.get_geod() or Geod(ellps="WGS84")
        return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms])
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return shapely.area(np.asarray(geoms, dtype=object)) * factor**2


def clip_to_protected(
    patches: gpd.GeoDataFrame,
    protected: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] = ("name", "level", "zone"),
) -> gpd.GeoDataFrame:
    """Parts of ``patches`` inside the ``protected`` polygons (reprojected to the patches'
    CRS, repaired with ``make_valid``): one row per patch x polygon they share, with the
    patch's ``patch_id`` and ``patch_area_m2``, the polygon's ``columns`` (``name`` becomes
    ``reserve``), ``area_m2`` of the part and its ``share`` of the patch area. Parts outside
    every polygon are not reported."""
    missing = [c for c in columns if c not in protected.columns]
    if missing:
        raise ValueError(f"protected polygons lack column(s) {missing}")
    if protected.crs is None:
        raise ValueError("protected polygons have no CRS")
    crs = CRS.from_user_input(patches.crs)
    prot = protected.to_crs(crs)
    geoms = shapely.make_valid(np.asarray(prot.geometry.values, dtype=object))
    tree = shapely.STRtree(geoms)
    rows: list[dict[str, Any]] = []
    parts: list[BaseGeometry] = []
    for patch in patches.itertuples(index=False):
        g = patch.geometry
        for j in tree.query(g, predicate="intersects"):
            part = shapely.intersection(g, geoms[j])
            part = shapely.union_all(
                [p for p in shapely.get_parts(part) if p.geom_type in ("Polygon", "MultiPolygon")]
            )
            if part.is_empty or part.area <= 0:
                continue
            row = {"patch_id": patch.patch_id, "patch_area_m2": patch.area_m2}
            for col in columns:
                row["reserve" if col == "name" else col] = prot.iloc[int(j)][col]
            row["share"] = part.area / g.area
            rows.append(row)
            parts.append(part)
    out_cols = [
        "patch_id",
        "patch_area_m2",
        *("reserve" if c == "name" else c for c in columns),
        "share",
    ]
    df = pd.DataFrame(rows, columns=out_cols)
    out = gpd.GeoDataFrame(df, geometry=parts, crs=crs)
    out.insert(len(out_cols) - 1, "area_m2", _areas_m2(parts, crs))
    return out


def uncovered_by_zone(
    pieces: Sequence[BaseGeometry],
    crs: Any,
    protected: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] = ("name", "level", "zone"),
    extent: BaseGeometry | None = None,
) -> pd.DataFrame:
    """Per protected polygon, the area of the unassessed ``pieces`` (per-block polygons of the
    pixels where a date has no value, in ``crs``) inside it, plus, given the grid's
    ``extent``, the part of the polygon outside the grid: one row per polygon with its
    ``columns`` (``name`` as ``reserve``), ``area_m2``, ``uncovered_m2`` and
    ``uncovered_fraction``."""
    crs = CRS.from_user_input(crs)
    missing = [c for c in columns if c not in protected.columns]
    if missing:
        raise ValueError(f"protected polygons lack column(s) {missing}")
    if protected.crs is None:
        raise ValueError("protected polygons have no CRS")
    prot = protected.to_crs(crs)
    geoms = shapely.make_valid(np.asarray(prot.geometry.values, dtype=object))
    holes = shapely.union_all(list(pieces)) if len(pieces) else shapely.Polygon()
    if extent is not None:
        holes = shapely.union(holes, shapely.difference(shapely.union_all(geoms), extent))
    uncovered = [shapely.intersection(g, holes) for g in geoms]
    out = pd.DataFrame({("reserve" if c == "name" else c): prot[c].to_numpy() for c in columns})
    out["area_m2"] = _areas_m2(list(geoms), crs)
    out["uncovered_m2"] = [
        float(_areas_m2([u], crs)[0]) if not u.is_empty else 0.0 for u in uncovered
    ]
    out["uncovered_fraction"] = out["uncovered_m2"] / out["area_m2"].where(out["area_m2"] > 0)
    return out
