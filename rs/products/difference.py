"""Difference: the change of one raster layer between two earlier steps' outputs.

``after - before`` of one band of an upstream raster output (e.g. the NDVI of the composites of
two half-years), classified as decrease (``diff < -threshold``), stable, or increase
(``diff > threshold``), with the change patches as polygons. Both inputs are read back from
their published COGs window by window, so memory is bounded by the block size.

Outputs:

* ``difference.tif``: ``after - before`` (float32, NaN where either has no value);
* ``change_class.tif``: 0 stable, 1 decrease, 2 increase (uint8, 255 = no data);
* ``change_areas.csv`` / ``.parquet``: pixels, area (m², ha) and mean difference per class;
* ``patches.gpkg`` / ``.parquet``: one polygon per connected patch (4-connectivity) of decrease
  or increase of at least ``min_area_m2``, merged across block seams, with its area.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from rs.change.patches import NODATA
from rs.products.base import Needs, OneOutput, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.pipeline.blocks import BlockResult
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "DifferenceSpec"]

CLASSES = {0: "stable", 1: "decrease", 2: "increase"}
CHANGES = {1: "decrease", 2: "increase"}  # the classes that make patches


class DifferenceSpec(StepSpec):
    """``after - before`` of ``layer`` (an output key of the upstream steps)."""

    kind: Literal["difference"]
    before: OneOutput = Field(description="upstream output: 'step', 'step@period'")
    after: OneOutput = Field(description="upstream output: 'step', 'step@period'")
    layer: str = Field(default="ndvi", description="output key of the upstream items to compare")
    band: int = Field(default=1, ge=1, description="band of that output (1-based)")
    threshold: float = Field(default=0.2, gt=0, description="|difference| counted as change")
    min_area_m2: float = Field(default=1000.0, ge=0, description="smallest patch kept")



def needs(spec: DifferenceSpec) -> Needs:
    return Needs(upstream={"before": spec.before, "after": spec.after})


def outputs(spec: DifferenceSpec) -> list[str]:
    return [
        "difference.tif",
        "change_class.tif",
        "change_areas.csv",
        "change_areas.parquet",
        "patches.gpkg",
        "patches.parquet",
    ]


def _block(
    before: str, after: str, band: int, window: tuple[int, int, int, int], threshold: float
) -> BlockResult:
    """Read one window of both inputs, return (difference, class) as float32 layers."""
    from rs.change import classify
    from rs.load.outputs import read_window
    from rs.pipeline.blocks import BlockResult

    a = read_window(before, window, band)
    b = read_window(after, window, band)
    diff = (b - a).astype(np.float32)
    return BlockResult(np.stack([diff, classify(diff, threshold).astype(np.float32)]))


def build(ctx: StepContext) -> StepSummary:
    import dask
    import geopandas as gpd
    import pandas as pd
    from affine import Affine

    from rs.change import class_polygons, merge_patches
    from rs.errors import SpecError
    from rs.export.cog import CogWriter
    from rs.export.raster import RasterBand, raster_asset
    from rs.export.tables import write_table
    from rs.export.vectors import write_vector
    from rs.pipeline.blocks import BlockTask
    from rs.pipeline.planning import task_key
    from rs.products._pairs import before_after, windows

    spec: DifferenceSpec = ctx.spec
    pair = before_after(ctx, spec.layer)
    before, after, grid = pair.before, pair.after, pair.grid
    pa, pb = pair.before_path, pair.after_path
    if spec.band > pair.bands:
        raise SpecError(
            f"step {spec.id!r}: {spec.layer} has {pair.bands} band(s), not {spec.band}"
        )
    tasks = []
    for win in windows(grid.shape, ctx.runtime.block_shape(2, itemsize=8)):
        key = task_key(f"rs-{spec.id}", str(pa), str(pb), before.run_key, after.run_key, win,
                       spec.band, spec.threshold)
        task = dask.delayed(_block, pure=True)(
            str(pa), str(pb), spec.band, win, spec.threshold, dask_key_name=key
        )
        tasks.append(BlockTask(win[0], win[1], task))
    t = grid.transform
    pixel_area = abs(t.a * t.e - t.b * t.d)
    pieces: dict[int, list[Any]] = {k: [] for k in CHANGES}
    count = np.zeros(3, dtype=np.int64)
    total = np.zeros(3, dtype=np.float64)
    diff_band = RasterBand("difference", unit="1", description=f"{spec.layer} after - before")
    cls_band = RasterBand("change_class", description="0 stable, 1 decrease, 2 increase")
    diff_path, cls_path = ctx.out.path("difference", "tif"), ctx.out.path("change_class", "tif")
    tags = {**ctx.tags(), "RS_BEFORE": before.item["id"], "RS_AFTER": after.item["id"]}
    with (
        CogWriter(
            diff_path, grid, [diff_band], dtype="float32", nodata=float("nan"), tags=tags
        ) as dw,
        CogWriter(cls_path, grid, [cls_band], dtype="uint8", nodata=NODATA, tags=tags) as cw,
    ):
        for block in ctx.runtime.compute_blocks(tasks, f"{ctx.out.stem}: {len(tasks)} blocks"):
            diff, cls = block.data[0], block.data[1].astype(np.uint8)
            for k in CLASSES:
                sel = cls == k
                count[k] += int(sel.sum())
                total[k] += float(diff[sel].sum(dtype=np.float64))
            dw.write_block(block.row, block.col, diff)
            cw.write_block(block.row, block.col, cls)
            where = t @ Affine.translation(block.col, block.row)
            for k, polys in class_polygons(cls, where, CHANGES).items():
                pieces[k].extend(polys)
    for key, path, band, dtype, nodata in (
        ("difference", diff_path, diff_band, "float32", float("nan")),
        ("change_class", cls_path, cls_band, "uint8", float(NODATA)),
    ):
        ctx.out.add(raster_asset(key, path, grid, [band], dtype=dtype, nodata=nodata))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    table = pd.DataFrame(
        {
            "change": [CLASSES[k] for k in CLASSES],
            "pixels": count,
            "area_m2": count * pixel_area,
            "area_ha": count * pixel_area / 1e4,
            "mean_difference": mean,
        }
    )
    ctx.out.add(
        *write_table(
            table,
            ctx.out.staging,
            f"{ctx.out.stem}_change_areas",
            key="change_areas",
            title="area per change class",
        )
    )
    polys = merge_patches(pieces, CHANGES, min_area=spec.min_area_m2)
    gdf = gpd.GeoDataFrame(
        {
            "patch_id": np.arange(1, len(polys) + 1, dtype=np.int64),
            "change": [p[0] for p in polys],
            "area_m2": [p[1].area for p in polys],
        },
        geometry=[p[1] for p in polys],
        crs=grid.crs,
    )
    ctx.out.add(
        *write_vector(
            gdf,
            ctx.out.staging,
            f"{ctx.out.stem}_patches",
            key="patches",
            layer="patches",
            schema={"patch_id": "int", "change": "str", "area_m2": "float"},
            geometry_type="Polygon",
            title="change patches",
        )
    )
    valid = int(count.sum())
    layers = [
        {
            "layer": f"{CLASSES[k]}",
            "pixels": int(count[k]),
            "area_ha": round(count[k] * pixel_area / 1e4, 4),
        }
        for k in CLASSES
    ]
    return StepSummary(
        layers=layers,
        valid_pixels=valid,
        properties={
            "rs:change_patches": len(polys),
            "rs:change_threshold": spec.threshold,
        },
    )


PRODUCT = ProductDef(
    kind="difference",
    spec=DifferenceSpec,
    needs=needs,
    build=build,
    outputs=outputs,
)
