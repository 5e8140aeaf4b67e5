"""Land change: land gained (accretion, reclamation) and lost (erosion) between two earlier
steps' water-index layers, as polygons with area and a probable-reclamation flag.

Reads ``layer`` (default ``mndwi``, a composite index) of the ``before`` and ``after`` steps
window by window from their published COGs, classifies each pixel with
:func:`rs.coast.landchange.land_change` and polygonises gains and losses (merged across block
seams). Gains that are large, compact and straight-edged are flagged ``probable_reclamation``
(:class:`rs.coast.landchange.ReclamationRule`).

Outputs: ``land_change.tif`` (0 unchanged, 1 gain, 2 loss, 255 no data), ``land_areas``
(CSV/Parquet: area per class) and ``land_patches`` (GeoPackage/GeoParquet: one polygon per
patch with its change, area and shape measures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from rs.products.base import Needs, OneOutput, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.pipeline.blocks import BlockResult
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "LandChangeSpec"]


class LandChangeSpec(StepSpec):
    """Land gained and lost between two earlier steps' water index (see the module)."""

    kind: Literal["land-change"]
    before: OneOutput = Field(description="upstream output: 'step' or 'step@period'")
    after: OneOutput = Field(description="upstream output: 'step' or 'step@period'")
    layer: str = Field(default="mndwi", description="water index output of the upstream steps")
    threshold: float = Field(default=0.0, description="water where the index is above this")
    min_area_m2: float = Field(default=500.0, ge=0, description="smallest patch kept")
    reclamation_min_area_m2: float = Field(default=10_000.0, ge=0)
    reclamation_min_compactness: float = Field(default=0.4, ge=0, le=1)
    reclamation_min_straightness: float = Field(default=0.6, ge=0, le=1)



def needs(spec: LandChangeSpec) -> Needs:
    return Needs(upstream={"before": spec.before, "after": spec.after})


def outputs(spec: LandChangeSpec) -> list[str]:
    return ["land_change.tif", "land_areas.csv", "land_patches.gpkg"]


def _block(
    before: str, after: str, window: tuple[int, int, int, int], threshold: float
) -> BlockResult:
    from rs.coast.landchange import land_change
    from rs.load.outputs import read_window
    from rs.pipeline.blocks import BlockResult

    cls = land_change(read_window(before, window, 1), read_window(after, window, 1), threshold)
    return BlockResult(cls[None].astype(np.float32))


def build(ctx: StepContext) -> StepSummary:
    import dask
    import geopandas as gpd
    import pandas as pd
    from affine import Affine

    from rs.change import class_polygons, merge_patches
    from rs.coast.landchange import CHANGES, NODATA, ReclamationRule, shape_measures
    from rs.export.cog import CogWriter
    from rs.export.raster import RasterBand, raster_asset
    from rs.export.tables import write_table
    from rs.export.vectors import write_vector
    from rs.pipeline.blocks import BlockTask
    from rs.pipeline.planning import task_key
    from rs.products._pairs import before_after, windows

    spec: LandChangeSpec = ctx.spec
    pair = before_after(ctx, spec.layer)
    before, after, grid = pair.before, pair.after, pair.grid
    pa, pb = pair.before_path, pair.after_path
    tasks = []
    for win in windows(grid.shape, ctx.runtime.block_shape(2, itemsize=8)):
        key = task_key(f"rs-{spec.id}", str(pa), str(pb), before.run_key, after.run_key,
                       win, spec.threshold)
        tasks.append(BlockTask(win[0], win[1], dask.delayed(_block, pure=True)(
            str(pa), str(pb), win, spec.threshold, dask_key_name=key)))
    t = grid.transform
    pixel = abs(t.a)
    pixel_area = abs(t.a * t.e - t.b * t.d)
    count = np.zeros(3, dtype=np.int64)
    pieces: dict[int, list[Any]] = {k: [] for k in CHANGES}
    band = RasterBand("land_change", description="0 unchanged, 1 gain, 2 loss")
    path = ctx.out.path("land_change", "tif")
    tags = {**ctx.tags(), "RS_BEFORE": before.item["id"], "RS_AFTER": after.item["id"]}
    with CogWriter(path, grid, [band], dtype="uint8", nodata=NODATA, tags=tags) as out:
        for block in ctx.runtime.compute_blocks(tasks, f"{ctx.out.stem}: {len(tasks)} blocks"):
            cls = block.data[0].astype(np.uint8)
            count += np.bincount(cls[cls != NODATA].ravel(), minlength=3)[:3]
            out.write_block(block.row, block.col, cls)
            where = t @ Affine.translation(block.col, block.row)
            for k, polys in class_polygons(cls, where, CHANGES).items():
                pieces[k].extend(polys)
    ctx.out.add(raster_asset("land_change", path, grid, [band], dtype="uint8",
                             nodata=float(NODATA)))
    names = {0: "unchanged", **CHANGES}
    areas = pd.DataFrame({
        "change": [names[k] for k in range(3)],
        "pixels": count,
        "area_m2": count * pixel_area,
        "area_ha": count * pixel_area / 1e4,
    })
    ctx.out.add(*write_table(areas, ctx.out.staging, f"{ctx.out.stem}_land_areas",
                             key="land_areas", title="area per land-change class"))
    rule = ReclamationRule(spec.reclamation_min_area_m2, spec.reclamation_min_compactness,
                           spec.reclamation_min_straightness)
    polys = merge_patches(pieces, CHANGES, min_area=spec.min_area_m2)
    measures = [shape_measures(p, pixel) for _, p in polys]
    gdf = gpd.GeoDataFrame(
        {
            "patch_id": np.arange(1, len(polys) + 1, dtype=np.int64),
            "change": [c for c, _ in polys],
            "area_m2": [m.area for m in measures],
            "compactness": [m.compactness for m in measures],
            "straightness": [m.straightness for m in measures],
            "rectangularity": [m.rectangularity for m in measures],
            "probable_reclamation": [
                c == "gain" and rule(m) for (c, _), m in zip(polys, measures, strict=True)
            ],
        },
        geometry=[p for _, p in polys],
        crs=grid.crs,
    )
    schema = {"patch_id": "int", "change": "str", "area_m2": "float", "compactness": "float",
              "straightness": "float", "rectangularity": "float", "probable_reclamation": "bool"}
    ctx.out.add(*write_vector(gdf, ctx.out.staging, f"{ctx.out.stem}_land_patches",
                              key="land_patches", layer="land_patches", schema=schema,
                              geometry_type="Polygon", title="land gained and lost"))
    flagged = gdf[gdf["probable_reclamation"]]
    return StepSummary(
        layers=[],
        valid_pixels=int(count.sum()),
        properties={
            "rs:gain_m2": float(count[1] * pixel_area),
            "rs:loss_m2": float(count[2] * pixel_area),
            "rs:probable_reclamation_m2": float(flagged["area_m2"].sum()),
        },
    )


PRODUCT = ProductDef(
    kind="land-change", spec=LandChangeSpec, needs=needs, build=build, outputs=outputs
)
