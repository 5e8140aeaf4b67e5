"""Hotspots: Getis-Ord Gi* hotspots of an earlier step's gridded lon/lat field (NO2 means).

Reads ``layer`` (default ``mean`` of an ``s5p-grid`` step), computes Gi* with PySAL's esda over
contiguity or great-circle distance-band weights among the cells with data, two-sided p-values
(normal approximation, or seeded permutations) and, with ``fdr``, Benjamini-Hochberg q-values
(:mod:`rs.atmos.hotspots`). Connected hot cells become polygons.

Outputs: ``gi_z.tif`` (float32 z), ``hotspot_class.tif`` (uint8: 1 cold, 2 not significant,
3 hot, 0 no data) and ``hotspots`` (GeoPackage/GeoParquet: polygons with area, mean and max
value, max z, min p).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from rs.products.base import Needs, OneOutput, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "HotspotsSpec"]

_CODES = {-1: 1, 0: 2, 1: 3}  # Gi* class -> uint8 code; anything else (no data) -> 0


class HotspotsSpec(StepSpec):
    """Gi* hotspots of ``layer`` of the ``field`` step (see the module)."""

    kind: Literal["hotspots"]
    field: OneOutput = Field(description="upstream step with a lon/lat grid, e.g. 'no2'")
    layer: str = "mean"
    weights: Literal["queen", "rook", "distance"] = "queen"
    distance_km: float | None = Field(default=None, gt=0)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    fdr: bool = True
    method: Literal["normal", "permutation"] = "normal"
    permutations: int = Field(default=999, ge=99)
    seed: int = 0


def needs(spec: HotspotsSpec) -> Needs:
    return Needs(upstream={"field": spec.field})


def outputs(spec: HotspotsSpec) -> list[str]:
    return ["gi_z.tif", "hotspot_class.tif", "hotspots.gpkg"]


def build(ctx: StepContext) -> StepSummary:
    import geopandas as gpd
    import rasterio

    from rs.atmos import LonLatGrid
    from rs.atmos.hotspots import getis_ord, hotspot_polygons
    from rs.errors import SpecError
    from rs.export.cog import CogWriter, GridSpec
    from rs.export.raster import RasterBand, raster_asset
    from rs.export.vectors import typed_for_writing, write_vector

    spec: HotspotsSpec = ctx.spec
    (up,) = ctx.upstream["field"]
    with rasterio.open(up.asset(spec.layer)) as ds:
        values = ds.read(1).astype(np.float64)
        t, crs = ds.transform, ds.crs
        if ds.nodata is not None and not np.isnan(ds.nodata):
            values[values == ds.nodata] = np.nan
    if crs is None or not crs.is_geographic or abs(t.a + t.e) > 1e-12 * abs(t.a):
        raise SpecError(f"step {spec.id!r}: {spec.field}'s {spec.layer} must be a north-up "
                        "lon/lat grid with square cells (an s5p-grid output)")
    ny, nx = values.shape
    grid = LonLatGrid(west=t.c, south=t.f - ny * t.a, res=t.a, nx=nx, ny=ny)
    result = getis_ord(values, grid, weights=spec.weights, distance_km=spec.distance_km,
                       alpha=spec.alpha, method=spec.method, permutations=spec.permutations,
                       seed=spec.seed, fdr=spec.fdr)
    code = np.zeros(values.shape, dtype=np.uint8)
    for k, v in _CODES.items():
        code[result.cls == k] = v
    gspec = GridSpec(crs="EPSG:4326", transform=t, shape=(ny, nx))
    for key, data, dtype, nodata, band in (
        ("gi_z", result.z.astype(np.float32), "float32", float("nan"),
         RasterBand("z", unit="1", description="Getis-Ord Gi* z-score")),
        ("hotspot_class", code, "uint8", 0.0,
         RasterBand("class", description="1 cold, 2 not significant, 3 hot")),
    ):
        path = ctx.out.path(key, "tif")
        with CogWriter(path, gspec, [band], dtype=dtype, nodata=nodata, tags=ctx.tags()) as w:
            w.write_block(0, 0, data[None])
        ctx.out.add(raster_asset(key, path, gspec, [band], dtype=dtype, nodata=nodata))
    table = hotspot_polygons(result, values)
    frame = gpd.GeoDataFrame(table.drop(columns="geometry"), geometry=list(table["geometry"]),
                             crs="EPSG:4326")
    frame, schema = typed_for_writing(frame)
    ctx.out.add(*write_vector(frame, ctx.out.staging, f"{ctx.out.stem}_hotspots",
                              key="hotspots", layer="hotspots", schema=schema,
                              geometry_type="MultiPolygon" if len(frame) == 0 else None,
                              title="Gi* hotspots"))
    return StepSummary(properties={"rs:hotspots": {
        "n": len(frame), "hot_cells": int((code == 3).sum()), "cold_cells": int((code == 1).sum()),
        "weights": spec.weights, "alpha": spec.alpha, "fdr": spec.fdr, "method": spec.method,
    }})


PRODUCT = ProductDef(kind="hotspots", spec=HotspotsSpec, needs=needs, build=build,
                     outputs=outputs)
