"""Vector outputs (change patches, shorelines, transects, hotspots) as GeoPackage + GeoParquet.

Columns are cast to an explicit schema (Arrow types) before writing, so the GeoPackage field
types and the GeoParquet column types are what the product declares, not what pandas guessed
from the rows at hand. An empty frame still makes a GeoPackage layer with every field and the
geometry type given: a run that found zero change patches is a valid, loadable layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio

from rs.errors import OutputError
from rs.export._atomic import atomic_path, check_writable
from rs.export.raster import proj_fields
from rs.export.stac_items import OutputAsset, file_asset
from rs.export.tables import PARQUET_MEDIA_TYPE, table_columns

if TYPE_CHECKING:
    from rs.export.styles import Categories

__all__ = [
    "FIELD_TYPES",
    "GPKG_MEDIA_TYPE",
    "SHAPEFILE_ZIP_MEDIA_TYPE",
    "shapefile_assets",
    "shapefile_fields",
    "typed_for_writing",
    "write_shapefile_zip",
    "write_vector",
]

GPKG_MEDIA_TYPE = "application/geopackage+sqlite3"
SHAPEFILE_ZIP_MEDIA_TYPE = "application/x-shapefile+zip"

#: schema type names -> Arrow type (GeoPackage: Integer64, Integer, Real, String, Date, DateTime)
FIELD_TYPES: Mapping[str, pa.DataType] = {
    "int": pa.int64(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float": pa.float64(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "str": pa.string(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("ms", tz="UTC"),
}

_GEOMETRY_TYPES = {
    "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
    "GeometryCollection", "Unknown",
}  # fmt: skip


def _arrow_column(values: pd.Series, name: str, t: pa.DataType | None) -> pd.Series:
    """``values`` as an Arrow-backed column of type ``t`` (inferred when ``None``)."""
    try:
        arr = pa.array(values, from_pandas=True)
        if t is None and pa.types.is_null(arr.type):
            t = pa.string()  # an all-missing column without a declared type
        if t is not None and arr.type != t:
            arr = arr.cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        want = f"type {t}" if t is not None else "one Arrow type"
        raise ValueError(f"column {name!r} cannot be written as {want}: {e}") from e
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=values.index, name=name)


def _typed(gdf: gpd.GeoDataFrame, schema: Mapping[str, str] | None) -> gpd.GeoDataFrame:
    geom = gdf.geometry.name
    attrs = [str(c) for c in gdf.columns if c != geom]
    types: dict[str, pa.DataType | None]
    if schema is None:
        types = dict.fromkeys(attrs)
    else:
        bad_types = {c: t for c, t in schema.items() if t not in FIELD_TYPES}
        if bad_types:
            raise ValueError(
                f"unknown field types {bad_types}; use one of: {', '.join(FIELD_TYPES)}"
            )
        extra = [c for c in attrs if c not in schema]
        if extra:
            raise ValueError(
                f"columns not in the schema: {', '.join(extra)}; "
                "add them to the schema or drop them"
            )
        missing = [c for c in schema if c not in attrs]
        if missing and len(gdf):
            raise ValueError(f"schema columns missing from the frame: {', '.join(missing)}")
        types = {c: FIELD_TYPES[t] for c, t in schema.items()}
    cols = {}
    for c, t in types.items():
        values = gdf[c] if c in gdf.columns else pd.Series([], dtype=object, index=gdf.index)
        cols[c] = _arrow_column(values, c, t)
    return gpd.GeoDataFrame({**cols, geom: gdf.geometry}, geometry=geom, crs=gdf.crs)


def _check_geometry_type(gdf: gpd.GeoDataFrame, geometry_type: str | None) -> None:
    if geometry_type is None:
        return
    base = geometry_type.removesuffix(" Z")
    if base not in _GEOMETRY_TYPES:
        raise ValueError(
            f"unknown geometry_type {geometry_type!r}; "
            f"use one of: {', '.join(sorted(_GEOMETRY_TYPES))}"
        )
    if base in {"Unknown", "GeometryCollection"}:
        return
    allowed = {base, base.removeprefix("Multi")}  # singles are promoted to Multi*
    found = set(gdf.geometry.dropna().geom_type) - allowed
    if found:
        raise ValueError(
            f"geometry_type is {geometry_type} but the frame holds {', '.join(sorted(found))}"
        )


def typed_for_writing(
    frame: gpd.GeoDataFrame, *, datetimes: bool = True
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """A copy of ``frame`` ready for :func:`write_vector` and its ``schema``, inferred from the
    column dtypes: bool, int, float, datetime (tz-aware or naive UTC; written as text when
    ``datetimes`` is False) and everything else as text ("" where missing)."""
    import pandas as pd

    out = frame.copy()
    schema: dict[str, str] = {}
    for c in out.columns:
        if c == out.geometry.name:
            continue
        col = out[c]
        if pd.api.types.is_bool_dtype(col):
            schema[c] = "bool"
        elif pd.api.types.is_integer_dtype(col):
            schema[c] = "int"
        elif pd.api.types.is_float_dtype(col):
            schema[c] = "float"
        elif datetimes and pd.api.types.is_datetime64_any_dtype(col):
            schema[c] = "datetime"
        else:
            out[c] = col.astype("string").fillna("").astype(str)
            schema[c] = "str"
    return out, schema


def write_vector(
    gdf: gpd.GeoDataFrame,
    folder: Path,
    stem: str,
    *,
    key: str,
    layer: str,
    schema: Mapping[str, str] | None = None,
    title: str | None = None,
    geometry_type: str | None = None,
    descriptions: Mapping[str, str] | None = None,
    roles: Sequence[str] = ("data",),
    style: Categories | None = None,
) -> list[OutputAsset]:
    """Write ``gdf`` as layer ``layer`` of ``<folder>/<stem>.gpkg`` and as ``<stem>.parquet``.

    ``schema`` maps every attribute column to one of :data:`FIELD_TYPES` (``"int"``,
    ``"float"``, ``"str"``, ``"date"``, ...); a column not in it is refused (``ValueError``
    naming it). ``geometry_type`` (``"Polygon"``, ``"MultiPolygon"``, ``"Point"``, ...) fixes
    the layer's geometry type; give it for frames that may be empty. The GeoPackage file holds
    this one layer and is replaced whole. Returns the assets ``<key>_gpkg`` and
    ``<key>_parquet`` with ``table:columns``, ``table:row_count``, ``table:primary_geometry``
    and ``proj:code``. With ``style`` (:mod:`rs.export.styles`) the GeoPackage also holds the
    layer's QGIS default style (``layer_styles``) and ``<stem>.qml`` is written beside it (the
    asset ``<key>_style``).
    """
    if gdf.crs is None:
        raise ValueError(f"{stem}: the frame has no CRS; set one (gdf.set_crs) before writing")
    _check_geometry_type(gdf, geometry_type)
    typed = _typed(gdf, schema)
    folder = check_writable(Path(folder))
    geom = typed.geometry.name
    attr_schema = pa.schema(
        [pa.field(c, typed[c].dtype.pyarrow_dtype) for c in typed.columns if c != geom]
    )
    columns = [
        *table_columns(attr_schema, {k: v for k, v in (descriptions or {}).items() if k != geom}),
        {"name": geom, "type": "geometry"},
    ]
    common: dict[str, Any] = {
        "table:columns": columns,
        "table:primary_geometry": geom,
        "table:row_count": len(typed),
        **proj_fields(typed.crs),
    }
    gpkg = folder / f"{stem}.gpkg"
    parquet = folder / f"{stem}.parquet"
    styled: list[OutputAsset] = []
    try:
        with atomic_path(gpkg, suffix=".tmp.gpkg") as tmp:
            pyogrio.write_dataframe(
                typed,
                tmp,
                layer=layer,
                driver="GPKG",
                use_arrow=True,
                geometry_type=geometry_type,
                promote_to_multi=bool(geometry_type and geometry_type.startswith("Multi")),
            )
            if style is not None:
                from rs.export.styles import write_vector_style

                styled.append(write_vector_style(tmp, layer, key, style, gpkg.with_suffix(".qml")))
        with atomic_path(parquet) as tmp:
            typed.to_parquet(tmp, index=False)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as e:
        raise OutputError(f"cannot write vector output {stem} in {folder}: {e}") from e
    return [
        file_asset(
            f"{key}_gpkg",
            gpkg,
            GPKG_MEDIA_TYPE,
            roles=roles,
            title=f"{title} (GeoPackage layer {layer})" if title else None,
            extra={**common, "table:tables": [{"name": layer}]},
        ),
        file_asset(
            f"{key}_parquet",
            parquet,
            PARQUET_MEDIA_TYPE,
            roles=roles,
            title=f"{title} (GeoParquet)" if title else None,
            extra=common,
        ),
        *styled,
    ]


def shapefile_fields(names: Sequence[str]) -> dict[str, str]:
    """Field name -> its Shapefile name (dBASE: at most 10 characters): names of 10 or fewer
    are kept; longer ones are cut to 10, and a cut name already taken ends in ``_1``, ``_2``,
    ... instead (``thumbnail_before`` -> ``thumbnail_``, ``thumbnail_after`` -> ``thumbnai_1``).
    """
    out: dict[str, str] = {}
    taken = {n.lower() for n in names if len(n) <= 10}
    for n in names:
        if len(n) <= 10:
            out[n] = n
            continue
        short, i = n[:10], 0
        while short.lower() in taken:
            i += 1
            short = f"{n[:10 - len(str(i)) - 1]}_{i}"
        taken.add(short.lower())
        out[n] = short
    return out


def write_shapefile_zip(gpkg: Path, layer: str, key: str) -> OutputAsset:
    """Layer ``layer`` of ``gpkg`` as ``<gpkg stem>.shp.zip`` beside it: ``.shp``, ``.shx``,
    ``.dbf``, ``.prj``, ``.cpg`` (UTF-8), the ``.qml`` beside the GeoPackage if any, and
    ``<stem>.fields.csv`` (GeoPackage field, Shapefile field), the mapping of
    :func:`shapefile_fields`, also in the asset's ``rs:shapefile_fields``. Date-times are
    written as ISO 8601 text and booleans as 0/1 integers (dBASE has neither); text is cut at
    254 bytes. The asset ``<key>_shp``."""
    import tempfile
    import zipfile

    gpkg = Path(gpkg)
    stem = gpkg.stem
    frame = pyogrio.read_dataframe(gpkg, layer=layer)
    geom = frame.geometry.name
    mapping = shapefile_fields([str(c) for c in frame.columns if c != geom])
    for c in mapping:
        col = frame[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            frame[c] = col.map(lambda t: t.isoformat() if pd.notna(t) else None)
        elif pd.api.types.is_bool_dtype(col):
            frame[c] = col.astype("int64")
    frame = frame.rename(columns=mapping)
    target = gpkg.with_name(f"{stem}.shp.zip")
    try:
        with tempfile.TemporaryDirectory(dir=gpkg.parent) as tmpdir:
            shp = Path(tmpdir) / f"{stem}.shp"
            pyogrio.write_dataframe(frame, shp, driver="ESRI Shapefile",
                                    layer_options={"ENCODING": "UTF-8"})
            (Path(tmpdir) / f"{stem}.fields.csv").write_text(
                "gpkg_field,shapefile_field\n"
                + "".join(f"{a},{b}\n" for a, b in mapping.items()), encoding="utf-8")
            qml = gpkg.with_suffix(".qml")
            if qml.exists():
                (Path(tmpdir) / qml.name).write_bytes(qml.read_bytes())
            with atomic_path(target, suffix=".tmp.zip") as tmp, zipfile.ZipFile(
                tmp, "w", compression=zipfile.ZIP_DEFLATED
            ) as zf:
                for f in sorted(Path(tmpdir).iterdir()):  # fixed entry times (reproducible zip)
                    info = zipfile.ZipInfo(f.name, date_time=(1980, 1, 1, 0, 0, 0))
                    zf.writestr(info, f.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as e:
        raise OutputError(f"cannot write the zipped Shapefile of {gpkg}: {e}") from e
    return file_asset(f"{key}_shp", target, SHAPEFILE_ZIP_MEDIA_TYPE,
                      title=f"{layer} (zipped ESRI Shapefile)",
                      extra={"rs:shapefile_fields": mapping})


def shapefile_assets(assets: Sequence[OutputAsset]) -> list[OutputAsset]:
    """A zipped Shapefile (:func:`write_shapefile_zip`) of every one-layer GeoPackage asset
    with a geometry among ``assets`` (keys ``<key>_gpkg`` give ``<key>_shp``); the pipeline
    option ``export: {shapefile: true}``."""
    out = []
    for a in assets:
        tables = a.extra.get("table:tables", [])
        if a.media_type != GPKG_MEDIA_TYPE or len(tables) != 1:
            continue
        if "table:primary_geometry" not in a.extra:
            continue
        out.append(write_shapefile_zip(a.path, tables[0]["name"], a.key.removesuffix("_gpkg")))
    return out
