"""The one AOI normaliser: file / GeoJSON / geometry / bbox -> valid polygons in EPSG:4326.

Everything downstream takes the result of :func:`load_aoi` (a GeoDataFrame) or an :class:`Aoi`
and never parses vector input again. The normalised form is:

* one row per input feature, a unique ``str`` column ``name`` first, the other attribute columns
  after it (any other column spelled ``name`` in another case is dropped, so the table can be
  written to GeoPackage), geometry last, a fresh ``RangeIndex``;
* CRS EPSG:4326 (x = longitude, y = latitude), 2-D, valid ``Polygon`` / ``MultiPolygon`` only,
  exterior rings counter-clockwise (RFC 7946);
* shapes that cross the antimeridian split into parts on either side of ±180 (RFC 7946 §3.1.9).

Every refusal is an :class:`rs.errors.AoiError` saying what to change; every silent-looking fix
(dropped empty rows, repaired geometries) is announced with an :class:`AoiWarning`.
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from rs._bbox import BBOX_HELP, bbox_polygon, looks_like_bbox
from rs._geom import as_polygonal, flat_parts, lonlat_polygons, split_antimeridian
from rs.errors import AoiError, RsWarning
from rs.load.vectors import geometry_layers

__all__ = ["Aoi", "AoiSource", "AoiWarning", "load_aoi", "looks_like_bbox", "split_antimeridian"]

#: What :func:`load_aoi` accepts.
AoiSource: TypeAlias = (
    str | os.PathLike[str] | Mapping[str, Any] | BaseGeometry | gpd.GeoDataFrame | gpd.GeoSeries
    | Sequence[float]
)

_WGS84 = CRS.from_epsg(4326)
_NAME_COLUMNS = ("name", "NAME", "Name")
_GEOJSON_DRIVERS = {"GeoJSON", "GeoJSONSeq", "TopoJSON"}
_POLYGONAL = {"Polygon", "MultiPolygon"}
_READ_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.CRSError, pyogrio.errors.GeometryError,
                pyogrio.errors.FeatureError, OSError, ValueError)


class AoiWarning(RsWarning):
    """An AOI was changed on the way in (rows dropped, geometries repaired)."""


def load_aoi(
    source: AoiSource,
    *,
    name_field: str | None = None,
    layer: str | None = None,
    repair: bool = True,
) -> gpd.GeoDataFrame:
    """Read and normalise an area of interest into valid polygons in EPSG:4326.

    ``source`` may be a path (GeoJSON, GeoPackage, Shapefile, anything GDAL reads through
    pyogrio), a GeoJSON mapping or string (FeatureCollection, Feature or geometry), a shapely
    geometry (lon/lat), a GeoDataFrame/GeoSeries with a CRS, or a bbox ``"minx,miny,maxx,maxy"``
    (string or 4 numbers, lon/lat; ``minx > maxx`` means it crosses the antimeridian).

    ``name`` comes from ``name_field``, else a ``name``/``NAME``/``Name`` column, else
    ``<file stem>_<row number>`` (1-based; ``aoi`` / ``bbox`` for in-memory sources); blank names
    fall back the same way and duplicates get ``_2``, ``_3``, ... . ``layer`` picks a layer of a
    multi-layer file. With ``repair=True`` invalid geometries are fixed with
    :func:`shapely.make_valid` (polygonal parts kept), else refused with the reason.

    Files without a CRS are EPSG:4326 only for GeoJSON (by spec); other CRSs are reprojected.
    """
    return _normalise(_read(source, layer), name_field=name_field, repair=repair)


@dataclass(frozen=True, eq=False)
class Aoi:
    """A normalised AOI: :func:`load_aoi`'s table plus the derived facts pipelines need.

    Treat ``gdf`` as read-only (the dataclass is frozen, the table inside is not).
    """

    gdf: gpd.GeoDataFrame

    def __post_init__(self) -> None:
        g = self.gdf
        if g.crs is None or not CRS.from_user_input(g.crs).equals(_WGS84):
            raise AoiError("Aoi needs a GeoDataFrame in EPSG:4326; build it with Aoi.load(...).")
        if len(g) == 0 or "name" not in g.columns or not g["name"].is_unique:
            raise AoiError("Aoi needs rows with a unique 'name' column; build it with Aoi.load.")
        if not (g.geom_type.isin(list(_POLYGONAL)).all() and g.is_valid.all()):
            raise AoiError("Aoi needs valid Polygon/MultiPolygon rows; build it with Aoi.load.")

    @classmethod
    def load(
        cls,
        source: AoiSource,
        *,
        name_field: str | None = None,
        layer: str | None = None,
        repair: bool = True,
    ) -> Aoi:
        """:func:`load_aoi` wrapped in an :class:`Aoi` (same arguments)."""
        return cls(load_aoi(source, name_field=name_field, layer=layer, repair=repair))

    @property
    def names(self) -> tuple[str, ...]:
        """Row names, unique, in row order."""
        return tuple(self.gdf["name"])

    @cached_property
    def union(self) -> Polygon | MultiPolygon:
        """All rows dissolved into one shapely (Multi)Polygon, EPSG:4326."""
        return as_polygonal(shapely.union_all(np.asarray(self.gdf.geometry.values)))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Plain ``(minx, miny, maxx, maxy)``; spans -180..180 for an antimeridian AOI."""
        minx, miny, maxx, maxy = (float(v) for v in self.gdf.total_bounds)
        return minx, miny, maxx, maxy

    @cached_property
    def _gap(self) -> tuple[float, float] | None:
        """Widest longitude gap ``(west, east)`` of an antimeridian AOI, else None."""
        b = shapely.bounds(shapely.get_parts(self.union))
        east, west = b[:, 2] >= 180.0, b[:, 0] <= -180.0
        if not (east.any() and west.any()) or (east & west).any():
            return None
        merged: list[list[float]] = []
        for lo, hi in sorted(zip(b[:, 0].tolist(), b[:, 2].tolist(), strict=True)):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        gaps = [(a[1], c[0]) for a, c in itertools.pairwise(merged)]
        return max(gaps, key=lambda g: g[1] - g[0]) if gaps else None

    @property
    def crosses_antimeridian(self) -> bool:
        """True when parts lie against both +180 and -180 (a split antimeridian shape)."""
        return self._gap is not None

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """RFC 7946 bbox: as :attr:`bounds`, but ``minx > maxx`` when crossing the antimeridian.

        For a crossing AOI the bbox is the globe minus the widest longitude gap between parts.
        """
        minx, miny, maxx, maxy = self.bounds
        if self._gap is not None:
            maxx, minx = self._gap
        return float(minx), miny, float(maxx), maxy

    def utm_crs(self) -> CRS:
        """WGS 84 / UTM CRS (EPSG:326xx north, 327xx south) of the AOI centroid's zone.

        The plain 6° zone (no Norway/Svalbard exceptions); the centroid is taken on the
        unsplit shape for antimeridian AOIs. Raises beyond 84°N / 80°S, where UTM is undefined.
        """
        geom, gap = self.union, self._gap
        if gap is not None:  # make the shape continuous: move the part west of the gap by +360
            geom = shapely.transform(geom, lambda c: np.where(
                c[:, :1] < gap[1], c + np.array([360.0, 0.0]), c))
        lon, lat = geom.centroid.x, geom.centroid.y
        if not -80.0 <= lat <= 84.0:
            raise AoiError(f"The AOI centroid is at latitude {lat:.2f}, outside UTM (80°S..84°N); "
                           "choose a polar CRS yourself (e.g. EPSG:3413 north, EPSG:3031 south).")
        lon = (lon + 180.0) % 360.0 - 180.0
        zone = min(int((lon + 180.0) // 6.0) + 1, 60)
        return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


# --- reading -----------------------------------------------------------------------------------

class _Raw(NamedTuple):
    gdf: gpd.GeoDataFrame
    stem: str  # fallback names are f"{stem}_{row}"
    where: str  # how messages name the source
    default_4326: bool  # no CRS means EPSG:4326 (GeoJSON, lon/lat input)
    split: bool = True  # look for antimeridian jumps (bbox parts are already split)


def _read(source: AoiSource, layer: str | None) -> _Raw:
    if layer is not None and not isinstance(source, str | os.PathLike):
        raise AoiError("layer= only applies to files; drop it for in-memory AOIs.")
    if isinstance(source, gpd.GeoSeries):
        source = source.to_frame(name="geometry")
    if isinstance(source, gpd.GeoDataFrame):
        if source.crs is None:
            raise AoiError("The GeoDataFrame has no CRS; set it with gdf.set_crs(...) first.")
        return _Raw(source.copy(), "aoi", "The GeoDataFrame", False)
    if isinstance(source, BaseGeometry):
        return _Raw(_frame([source]), "aoi", "The shapely geometry", True)
    if isinstance(source, Mapping):
        return _Raw(_from_geojson(source), "aoi", "The GeoJSON mapping", True)
    if isinstance(source, str) and source.lstrip().startswith("{"):
        try:
            mapping = json.loads(source)
        except json.JSONDecodeError as e:
            raise AoiError(f"The AOI string is not valid GeoJSON ({e}); fix the JSON.") from e
        return _Raw(_from_geojson(mapping), "aoi", "The GeoJSON string", True)
    if isinstance(source, str) and looks_like_bbox(source) and not Path(source).exists():
        return _Raw(_frame([bbox_polygon(source.split(","), source)]), "bbox", "The bbox",
                    True, split=False)
    if isinstance(source, Sequence) and not isinstance(source, str):
        return _Raw(_frame([bbox_polygon(list(source), str(source))]), "bbox", "The bbox",
                    True, split=False)
    if isinstance(source, str | os.PathLike):
        return _read_file(Path(source), layer)
    raise AoiError(f"Cannot use a {type(source).__name__} as an AOI; pass a file path, GeoJSON, "
                   "a shapely geometry or a bbox 'minx,miny,maxx,maxy'.")


def _read_file(path: Path, layer: str | None) -> _Raw:
    where = f"AOI file '{path}'"
    if not path.exists():
        if looks_like_bbox(path.name):
            raise AoiError(f"The AOI {path.name!r} looks like a bbox, not a file: {BBOX_HELP}. "
                           f"(No file {path} exists either.)")
        raise AoiError(f"{where} does not exist; check the path (relative paths are resolved "
                       f"from {Path.cwd()}).")
    if path.is_file() and path.stat().st_size == 0:
        raise AoiError(f"{where} is empty (0 bytes); export the AOI again.")
    try:
        layers = geometry_layers(path)
        if layer is None and len(layers) > 1:
            raise AoiError(f"{where} has several layers {layers}; pick one with layer=...")
        if layer is not None and layer not in layers:
            raise AoiError(f"{where} has no layer {layer!r}; its layers are {layers}.")
        driver = pyogrio.read_info(path, layer=layer)["driver"]
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except _READ_ERRORS as e:
        raise AoiError(f"Cannot read {where} ({e}); use a GeoJSON, GeoPackage or Shapefile "
                       "that GDAL can open.") from e
    if not isinstance(gdf, gpd.GeoDataFrame) or "geometry" not in gdf:
        raise AoiError(f"{where} has no geometry column; use a vector layer with polygons.")
    return _Raw(gdf, path.stem, where, driver in _GEOJSON_DRIVERS)


def _frame(geoms: list[BaseGeometry | None], data: Any = None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms), crs=None)


def _from_geojson(obj: Mapping[str, Any]) -> gpd.GeoDataFrame:
    kind = obj.get("type")
    try:
        if kind == "FeatureCollection":
            feats = list(obj.get("features") or [])
        elif kind == "Feature":
            feats = [obj]
        else:
            feats = [{"type": "Feature", "geometry": obj, "properties": {}}]
        geoms = [shape(f["geometry"]) if f.get("geometry") else None for f in feats]
        props = pd.DataFrame([f.get("properties") or {} for f in feats], index=range(len(feats)))
    except (KeyError, TypeError, AttributeError, ValueError, shapely.errors.GEOSException) as e:
        raise AoiError(f"The GeoJSON is malformed ({type(e).__name__}: {e}); it must be a "
                       "FeatureCollection, Feature or geometry object (RFC 7946).") from e
    gdf = _frame(geoms, props.drop(columns=["geometry"], errors="ignore"))
    crs_name = (obj.get("crs") or {}).get("properties", {}).get("name")  # pre-RFC 7946 member
    if crs_name:
        gdf = gdf.set_crs(crs_name)
    return gdf


# --- normalising -------------------------------------------------------------------------------

def _normalise(raw: _Raw, *, name_field: str | None, repair: bool) -> gpd.GeoDataFrame:
    gdf, stem, where = raw.gdf, raw.stem, raw.where
    if len(gdf) == 0:
        raise AoiError(f"{where} has no features; add at least one polygon.")
    names, name_col = _names(gdf, name_field, stem, where)
    gdf = gdf.assign(name=names).reset_index(drop=True)
    if gdf.crs is None:
        if not raw.default_4326:
            raise AoiError(f"{where} has no CRS; set one (e.g. add the .prj of a Shapefile, or "
                           "ogr2ogr -a_srs EPSG:xxxx) so it can be reprojected to EPSG:4326.")
        gdf = gdf.set_crs(_WGS84)

    missing = gdf.geometry.isna() | gdf.geometry.is_empty
    if missing.all():
        raise AoiError(f"{where}: all {len(gdf)} geometries are null or empty; add polygons.")
    if missing.any():
        warnings.warn(f"{where}: dropped {int(missing.sum())} null/empty geometries.",
                      AoiWarning, stacklevel=3)
        gdf = gdf.loc[~missing].reset_index(drop=True)
    _check_polygonal(gdf, where)

    crs = CRS.from_user_input(gdf.crs)
    if crs.is_geographic:
        _check_lonlat(gdf, where, crs)
    if not crs.equals(_WGS84):
        gdf = gdf.to_crs(_WGS84)
        if not np.isfinite(gdf.total_bounds).all():
            raise AoiError(f"{where}: reprojecting from {crs.name} to EPSG:4326 failed; "
                           "check that the declared CRS is the real one.")
    _check_lonlat(gdf, where, _WGS84)

    fixed, repaired, n_dropped = [], [], 0
    for nm, geom in zip(gdf["name"], gdf.geometry, strict=True):
        out, reason = lonlat_polygons(shapely.force_2d(geom), repair=repair, split=raw.split,
                                      where=f"{where}, {nm!r}")
        if reason is not None:
            repaired.append(f"{nm!r} ({reason})")
        n_dropped += out is None
        fixed.append(out)
    if repaired:
        shown = ", ".join(repaired[:5]) + (f" and {len(repaired) - 5} more"
                                           if len(repaired) > 5 else "")
        what = "polygon" if len(repaired) == 1 else f"{len(repaired)} polygons"
        warnings.warn(f"{where}: {what} {shown} {'was' if len(repaired) == 1 else 'were'} "
                      "invalid and repaired with make_valid; check the result or fix the source.",
                      AoiWarning, stacklevel=3)
    if n_dropped == len(fixed):
        raise AoiError(f"{where}: no polygon with area is left after repair; fix the geometry.")
    if n_dropped:
        warnings.warn(f"{where}: dropped {n_dropped} geometries that collapsed to no area.",
                      AoiWarning, stacklevel=3)
    keep = np.array([g is not None for g in fixed])
    geoms = shapely.orient_polygons(np.array(fixed, dtype=object)[keep])
    attrs = [c for c in gdf.columns if c not in ("name", gdf.geometry.name, name_col)
             and str(c).casefold() != "name"]
    out_df = pd.DataFrame(gdf.loc[keep, ["name", *attrs]]).reset_index(drop=True)
    out_df["name"] = _dedupe(list(out_df["name"]))
    return gpd.GeoDataFrame(out_df, geometry=gpd.GeoSeries(geoms), crs=_WGS84)


def _names(gdf: gpd.GeoDataFrame, name_field: str | None, stem: str,
           where: str) -> tuple[list[str], str | None]:
    col = name_field
    if col is not None and col not in gdf.columns:
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        raise AoiError(f"{where} has no column {col!r} for names; its columns are {cols}.")
    if col is None:
        col = next((c for c in _NAME_COLUMNS if c in gdf.columns), None)
    values = list(gdf[col]) if col is not None else [None] * len(gdf)
    names = []
    for i, v in enumerate(values, start=1):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        text = "" if v is None or (np.isscalar(v) and bool(pd.isna(v))) else str(v).strip()
        names.append(text or f"{stem}_{i}")
    return names, col


def _dedupe(names: list[str]) -> list[str]:
    """Second and later copies of a name get ``_2``, ``_3``...; never reuse a name in the list."""
    taken, out = set(names), []
    seen: set[str] = set()
    for n in names:
        if n in seen:
            k = 2
            while f"{n}_{k}" in taken:
                k += 1
            n = f"{n}_{k}"
            taken.add(n)
        seen.add(n)
        out.append(n)
    return out


def _check_polygonal(gdf: gpd.GeoDataFrame, where: str) -> None:
    kinds = sorted({p.geom_type for g in gdf.geometry for p in flat_parts(g)} - {"Polygon"})
    if kinds:
        raise AoiError(f"{where} contains non-polygon geometries ({', '.join(kinds)}); an AOI "
                       "must be an area: buffer points/lines into polygons first (in a projected "
                       "CRS, e.g. gdf.to_crs(32650).buffer(500)).")


def _check_lonlat(gdf: gpd.GeoDataFrame, where: str, crs: CRS) -> None:
    minx, miny, maxx, maxy = gdf.total_bounds
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return
    found = f"x {minx:.6g}..{maxx:.6g}, y {miny:.6g}..{maxy:.6g}"
    if minx >= -180 and maxx <= 360 and miny >= -90 and maxy <= 90:
        raise AoiError(f"{where}: longitudes reach {maxx:.6g} (0..360 convention); subtract 360 "
                       "from longitudes above 180 so they are within -180..180.")
    raise AoiError(f"{where}: coordinates ({found}) are not lon/lat degrees although the CRS is "
                   f"{crs.name}; this looks like projected metres: set the CRS the data really "
                   "uses (e.g. gdf.set_crs('EPSG:32650', allow_override=True), or "
                   "ogr2ogr -a_srs) instead of EPSG:4326.")
