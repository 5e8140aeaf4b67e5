"""EQI: the regional ecological quality index per zone (county, reserve), and its change.

``eqi`` computes, for every polygon of ``zones``, the sensed indicators of
:mod:`rs.ecology.eqi` on one grid (the upstream ``vegetation`` step's NDVI layer): ecological
and built-up land shares and natural-land patch density from the ``landcover`` raster (read
onto that grid with nearest-neighbour resampling), vegetation cover (mean FVC from NDVI with
fixed end-members ``ndvi_soil`` / ``ndvi_veg``), a productivity proxy (mean NDVI) and, with a
``change`` step (a ``difference`` output), human disturbance. Indicators rs cannot sense
(biodiversity, water conservation, ...) come from the user ``table`` (a CSV with the zone id
column). The method's weights, normalisations and classes are :func:`rs.ecology.eqi
.default_config`, overridden by the YAML file ``config`` if given (see the sources and the
unconfirmed defaults listed in :mod:`rs.ecology.eqi_defaults`).

Each polygon is read as one window of the grid (its bounding box), so memory grows with the
largest polygon, not with the number of polygons. Pixels are weighted by the exact share of
their area inside the polygon (a polygon smaller than a pixel still has its indicators).

Outputs: ``eqi`` (CSV/Parquet: indicator values and scores, dimension scores, EQI, class,
reason) and ``eqi_zones`` (GeoPackage/GeoParquet: the zones with the same columns).
``eqi-change`` (:mod:`rs.products.eqi_change`) compares two ``eqi`` steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from rs.products.base import Needs, OneOutput, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "EqiSpec", "config_of", "publish_zone_table"]


class EqiSpec(StepSpec):
    """EQI per zone (see the module docstring)."""

    PATH_FIELDS = ("zones", "landcover", "table", "config")

    kind: Literal["eqi"]
    zones: str = Field(description="polygons (counties, reserves) with an id column")
    zone_id: str = "id"
    landcover: str = Field(description="categorical land-cover raster (classes: config)")
    vegetation: OneOutput = Field(description="upstream step whose layer is NDVI, e.g. 'composite'")
    vegetation_layer: str = "ndvi"
    change: OneOutput | None = Field(default=None, description="upstream 'difference' step")
    change_layer: str = "change_class"
    table: str | None = Field(default=None, description="CSV of table indicators per zone")
    config: str | None = Field(default=None, description="YAML overriding the method defaults")
    ndvi_soil: float = Field(default=0.05, description="NDVI of bare soil (FVC = 0)")
    ndvi_veg: float = Field(default=0.86, description="NDVI of full vegetation (FVC = 1)")


def _needs(spec: EqiSpec) -> Needs:
    up = {"vegetation": spec.vegetation}
    if spec.change is not None:
        up["change"] = spec.change
    return Needs(upstream=up)


def _outputs(spec: EqiSpec) -> list[str]:
    return ["eqi.csv", "eqi.parquet", "eqi_zones.gpkg"]


def config_of(spec: Any) -> Any:
    """The EQI configuration of a step: the method defaults, overridden by ``spec.config``."""
    import yaml

    from rs.ecology.eqi import eqi_config
    from rs.errors import SpecError

    if spec.config is None:
        return eqi_config()
    try:
        with open(spec.config, encoding="utf-8") as f:
            overrides = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"EQI config {spec.config!r} cannot be read: {e}") from e
    return eqi_config(overrides)


def _zones(path: str, id_column: str, crs: str) -> gpd.GeoDataFrame:

    from rs.errors import SpecError
    from rs.load.vectors import read_vector

    zones = read_vector(path)
    if id_column not in zones.columns:
        raise SpecError(f"zones {path!r} have no column {id_column!r} (columns: "
                        f"{', '.join(map(str, zones.columns))}): set zone_id")
    if zones[id_column].duplicated().any():
        dup = zones.loc[zones[id_column].duplicated(), id_column].iloc[0]
        raise SpecError(f"zones {path!r}: id {dup!r} appears more than once")
    if zones.crs is None:
        raise SpecError(f"zones {path!r} have no CRS")
    return zones.to_crs(crs)


def _windows(zone: Any, grid: Any) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The zone's bounding window on ``grid`` and each pixel's exact coverage fraction (the
    share of the pixel inside the zone), or None when the zone misses the grid."""
    import shapely
    from rasterio.features import geometry_mask
    from rasterio.windows import from_bounds

    h, w = grid.shape
    win = from_bounds(*zone.bounds, transform=grid.transform)
    row0, col0 = max(0, int(np.floor(win.row_off))), max(0, int(np.floor(win.col_off)))
    row1 = min(h, int(np.ceil(win.row_off + win.height)) + 1)
    col1 = min(w, int(np.ceil(win.col_off + win.width)) + 1)
    if row1 <= row0 or col1 <= col0:
        return None
    t = grid.transform * grid.transform.translation(col0, row0)
    shape = (row1 - row0, col1 - col0)
    touched = ~geometry_mask([zone], out_shape=shape, transform=t, all_touched=True)
    if not touched.any():
        return None
    rows, cols = np.nonzero(touched)
    x0, y0 = t * (cols, rows)
    x1, y1 = t * (cols + 1, rows + 1)
    boxes = shapely.box(np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1),
                        np.maximum(y0, y1))
    cover = np.zeros(shape)
    cover[rows, cols] = shapely.area(shapely.intersection(boxes, zone)) / shapely.area(boxes)
    if not (cover > 0).any():
        return None
    return (row0, col0, shape[0], shape[1]), cover


def _landcover(path: str, grid: Any, window: tuple[int, int, int, int]) -> np.ndarray:
    """The land-cover classes on ``grid`` over ``window`` (nearest neighbour)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    row, col, h, w = window
    t = grid.transform * grid.transform.translation(col, row)
    with rasterio.open(path) as src, WarpedVRT(
        src, crs=grid.crs, transform=t, width=w, height=h, resampling=Resampling.nearest
    ) as vrt:
        return vrt.read(1)


def build(ctx: StepContext) -> StepSummary:
    import pandas as pd
    import xarray as xr

    from rs.ecology.eqi import compute_eqi, sensed_indicators
    from rs.errors import SpecError
    from rs.fvc import fractional_vegetation_cover
    from rs.load.outputs import raster_info, read_window

    spec: EqiSpec = ctx.spec
    config = config_of(spec)
    (veg,) = ctx.upstream["vegetation"]
    ndvi_path = veg.asset(spec.vegetation_layer)
    grid, _ = raster_info(ndvi_path)
    change_path = ctx.upstream["change"][0].asset(spec.change_layer) if spec.change else None
    if change_path is not None and raster_info(change_path)[0] != grid:
        raise SpecError(f"step {spec.id!r}: {spec.change} and {spec.vegetation} are on "
                        "different grids; give both the same crs and resolution")
    zones = _zones(spec.zones, spec.zone_id, grid.crs)
    pixel_area = abs(grid.transform.a * grid.transform.e)
    rows: list[dict[str, Any]] = []
    for zid, geom in zip(zones[spec.zone_id], zones.geometry, strict=True):
        found = _windows(geom, grid)
        if found is None:
            rows.append({"zone": zid, "sensed_reason": "outside the raster"})
            continue
        win, cover = found
        ndvi = read_window(ndvi_path, win).astype(np.float64)
        fvc = np.asarray(fractional_vegetation_cover(
            xr.DataArray(ndvi), ndvi_soil=spec.ndvi_soil, ndvi_veg=spec.ndvi_veg).values,
            dtype=np.float64)
        change = read_window(change_path, win) if change_path is not None else None
        values = sensed_indicators(
            _landcover(spec.landcover, grid, win), config.landcover, pixel_area,
            fvc=fvc, ndvi=ndvi,
            change=None if change is None else np.nan_to_num(change, nan=255).astype(np.uint8),
            weights=cover,
        )
        rows.append({"zone": zid, **values, "sensed_reason": ""})
    sensed = pd.DataFrame(rows).set_index("zone")
    if "human_disturbance" not in sensed.columns and "built_up_share" in sensed.columns:
        # without a change step, disturbance is the built-up share alone (stated per row)
        sensed["human_disturbance"] = sensed["built_up_share"]
        sensed["sensed_reason"] = sensed["sensed_reason"].replace(
            "", "human_disturbance = built-up share (no change step)")
    values = sensed.drop(columns=["sensed_reason"])
    if spec.table is not None:
        values = values.join(_table(spec.table, spec.zone_id), how="left")
    result = compute_eqi(values, config)
    result = values.join(result)
    result.insert(0, "sensed_reason", sensed["sensed_reason"])
    result.index.name = spec.zone_id
    return publish_zone_table(ctx, result, zones, spec.zone_id, "eqi", "EQI per zone")


def _table(path: str, zone_id: str) -> pd.DataFrame:
    import pandas as pd

    from rs.errors import SpecError

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise SpecError(f"EQI table {path!r} cannot be read: {e}") from e
    if zone_id not in table.columns:
        raise SpecError(f"EQI table {path!r} has no column {zone_id!r}: its zone ids must be "
                        f"in a column named like zone_id ({zone_id!r})")
    return table.set_index(zone_id)


def publish_zone_table(ctx: StepContext, table: pd.DataFrame, zones: gpd.GeoDataFrame, zone_id: str,
             key: str, title: str) -> StepSummary:
    import geopandas as gpd
    import pandas as pd

    from rs.export.tables import write_table
    from rs.export.vectors import typed_for_writing, write_vector

    table = table.copy()
    for col in table.columns:
        if table[col].dtype == object:
            table[col] = table[col].astype("string").fillna("")
    ctx.out.add(*write_table(table, ctx.out.staging, f"{ctx.out.stem}_{key}", key=key,
                             title=title))
    frame = zones[[zone_id, "geometry"]].merge(table.reset_index(), on=zone_id, how="left")
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=zones.crs)
    frame, schema = typed_for_writing(frame)
    ctx.out.add(*write_vector(frame, ctx.out.staging, f"{ctx.out.stem}_{key}_zones",
                              key=f"{key}_zones", layer=f"{key}_zones", schema=schema,
                              title=title))
    value = "eqi" if key == "eqi" else "delta_eqi"
    summary = {str(z): (None if pd.isna(v) else float(v))
               for z, v in zip(table.index, table[value], strict=True)}
    return StepSummary(properties={f"rs:{value}": summary})


PRODUCT = ProductDef(kind="eqi", spec=EqiSpec, needs=_needs, build=build, outputs=_outputs)
