"""Trend: Theil–Sen slope and Mann–Kendall significance of a layer over a series of periods.

Reads ``layer`` (e.g. ``ndvi`` of yearly growing-season composites, or ``rsei``) of every
period of the ``series`` step (``step@*``), block by block, and computes per pixel the
Theil–Sen slope (per year, from the periods' mid-dates), the two-sided Mann–Kendall p-value
and a class (:mod:`rs.ecology.trend`). With ``zones`` the same per zone, on the zone means of
each period (exact coverage-weighted, :func:`rs.ecology.zonal.zonal_stats`).

Outputs: ``trend_slope.tif`` (float32, layer units per year), ``trend_p.tif`` (float32),
``trend_class.tif`` (uint8: 1 significant degradation, 2 stable, 3 significant improvement,
0 no data or fewer than ``min_count`` values) and with ``zones`` ``trend_zones``
(CSV/Parquet and GeoPackage: slope, p, tau, n, class per zone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, field_validator

from rs.products.base import Needs, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.pipeline.blocks import BlockResult
    from rs.pipeline.context import StepContext

__all__ = ["CLASS_CODES", "PRODUCT", "TrendSpec"]

#: trend class -> uint8 code in trend_class.tif
CLASS_CODES = {-1: 1, 0: 2, 1: 3}
CLASS_NAMES = {0: "no data", 1: "significant degradation", 2: "stable",
               3: "significant improvement"}


class TrendSpec(StepSpec):
    """Per-pixel (and per-zone) trends of ``layer`` over the periods of ``series``."""

    PATH_FIELDS = ("zones",)

    kind: Literal["trend"]
    series: str = Field(description="the step whose periods make the series, 'step@*'")
    layer: str = Field(default="ndvi", description="output key of the layer")
    alpha: float = Field(default=0.05, gt=0, lt=1)
    min_count: int = Field(default=4, ge=3, description="fewest values for a trend")
    zones: str | None = None
    zone_id: str = "id"

    @field_validator("series")
    @classmethod
    def _every_period(cls, v: str) -> str:
        if not v.endswith("@*"):
            raise ValueError(f"series {v!r} must name every period of a step: write '{v}@*'")
        return v


def needs(spec: TrendSpec) -> Needs:
    return Needs(upstream={"series": spec.series})


def outputs(spec: TrendSpec) -> list[str]:
    files = ["trend_slope.tif", "trend_p.tif", "trend_class.tif"]
    return files + (["trend_zones.csv", "trend_zones.gpkg"] if spec.zones else [])


def _block(paths: list[str], window: tuple[int, int, int, int], t: np.ndarray, alpha: float,
           min_count: int) -> BlockResult:
    from rs.ecology.trend import TREND_STATS, trend_arrays
    from rs.load.outputs import read_window
    from rs.pipeline.blocks import BlockResult

    cube = np.stack([read_window(p, window) for p in paths], axis=-1)
    stats = trend_arrays(cube, t, alpha=alpha, min_count=min_count)
    cls = stats[..., TREND_STATS.index("trend_class")]
    code = np.zeros(cls.shape, dtype=np.float32)
    for k, v in CLASS_CODES.items():
        code[cls == k] = v
    return BlockResult(np.stack([
        stats[..., TREND_STATS.index("slope")], stats[..., TREND_STATS.index("p")], code,
    ]).astype(np.float32))


def build(ctx: StepContext) -> StepSummary:
    import dask
    import pandas as pd

    from rs.ecology.trend import trend_times
    from rs.errors import SpecError
    from rs.export.cog import CogWriter
    from rs.export.raster import RasterBand, raster_asset
    from rs.export.styles import TREND_CLASSES, write_raster_style
    from rs.load.outputs import raster_info
    from rs.pipeline.blocks import BlockTask
    from rs.pipeline.planning import task_key
    from rs.products._pairs import windows

    spec: TrendSpec = ctx.spec
    ups = sorted(ctx.upstream["series"], key=lambda u: u.period.start)
    if len(ups) < spec.min_count:
        raise SpecError(f"step {spec.id!r}: {spec.series} has {len(ups)} period(s); a trend "
                        f"needs at least min_count = {spec.min_count}")
    paths = [str(u.asset(spec.layer)) for u in ups]
    grid, _ = raster_info(paths[0])
    if any(raster_info(p)[0] != grid for p in paths[1:]):
        raise SpecError(f"step {spec.id!r}: the periods of {spec.series} are on different grids")
    mid = pd.DatetimeIndex([pd.Timestamp(u.period.start) + (pd.Timestamp(u.period.end)
                                                             - pd.Timestamp(u.period.start)) / 2
                            for u in ups])
    t, units = trend_times(mid)
    t = t - t[0]
    tasks = []
    for win in windows(grid.shape, ctx.runtime.block_shape(len(paths) * 2, itemsize=8)):
        key = task_key(f"rs-{spec.id}", tuple(paths), tuple(u.run_key for u in ups), win,
                       spec.alpha, spec.min_count)
        tasks.append(BlockTask(win[0], win[1], dask.delayed(_block, pure=True)(
            paths, win, t, spec.alpha, spec.min_count, dask_key_name=key)))
    bands = [
        ("trend_slope", RasterBand("slope", unit=f"{spec.layer} {units}",
                                   description=f"Theil-Sen slope of {spec.layer}"), "float32",
         float("nan")),
        ("trend_p", RasterBand("p", unit="1", description="Mann-Kendall two-sided p-value"),
         "float32", float("nan")),
        ("trend_class", RasterBand("trend_class", description=", ".join(
            f"{k} {v}" for k, v in CLASS_NAMES.items())), "uint8", 0.0),
    ]
    counts = np.zeros(4, dtype=np.int64)
    tags = {**ctx.tags(), "RS_SERIES": ",".join(u.item["id"] for u in ups)}
    writers = [CogWriter(ctx.out.path(k, "tif"), grid, [b], dtype=d, nodata=n, tags=tags)
               for k, b, d, n in bands]
    try:
        for wr in writers:
            wr.__enter__()
        for block in ctx.runtime.compute_blocks(tasks, f"{ctx.out.stem}: {len(tasks)} blocks"):
            code = block.data[2].astype(np.uint8)
            counts += np.bincount(code.ravel(), minlength=4)[:4]
            for wr, layer in zip(writers, (block.data[0], block.data[1], code), strict=True):
                wr.write_block(block.row, block.col, layer)
    finally:
        for wr in writers:
            wr.__exit__(None, None, None)
    for k, b, d, n in bands:
        ctx.out.add(raster_asset(k, ctx.out.path(k, "tif"), grid, [b], dtype=d, nodata=n))
    ctx.out.add(write_raster_style(ctx.out.path("trend_class", "tif"), "trend_class",
                                   TREND_CLASSES))
    props = {
        "rs:trend": {
            "layer": spec.layer, "slope_units": f"{spec.layer} {units}", "alpha": spec.alpha,
            "periods": [u.period.label for u in ups],
            "pixels": {CLASS_NAMES[k]: int(counts[k]) for k in CLASS_NAMES},
        }
    }
    if spec.zones:
        _zones(ctx, spec, paths, mid)
    return StepSummary(valid_pixels=int(counts[1:].sum()), properties=props)


def _zones(ctx: StepContext, spec: TrendSpec, paths: list[str], mid: object) -> None:
    import geopandas as gpd
    import pandas as pd

    from rs.ecology.trend import series_trends
    from rs.ecology.zonal import zonal_stats
    from rs.errors import SpecError
    from rs.export.tables import write_table
    from rs.export.vectors import typed_for_writing, write_vector
    from rs.load.vectors import read_vector

    assert spec.zones is not None
    zones = read_vector(spec.zones)
    if spec.zone_id not in zones.columns:
        raise SpecError(f"zones {spec.zones!r} have no column {spec.zone_id!r}: set zone_id")
    means = pd.DataFrame(
        {str(t): zonal_stats(p, zones, id_column=spec.zone_id, percentiles=(),
                             parallel=ctx.runtime.part_map(f"{ctx.out.stem}: zones"))["mean"]
         for t, p in zip(pd.DatetimeIndex(mid), paths, strict=True)}
    ).T
    means.index = pd.DatetimeIndex(means.index)
    table = series_trends(means, alpha=spec.alpha, min_count=spec.min_count)
    table.index.name = spec.zone_id
    table["trend"] = table["trend_class"].map({-1.0: "significant degradation", 0.0: "stable",
                                               1.0: "significant improvement"}).fillna("no data")
    ctx.out.add(*write_table(table, ctx.out.staging, f"{ctx.out.stem}_trend_zones",
                             key="trend_zones", title=f"trend of the zone mean of {spec.layer}"))
    frame = zones[[spec.zone_id, "geometry"]].merge(table.reset_index(), on=spec.zone_id)
    frame, schema = typed_for_writing(gpd.GeoDataFrame(frame, geometry="geometry",
                                                       crs=zones.crs))
    ctx.out.add(*write_vector(frame, ctx.out.staging, f"{ctx.out.stem}_trend_zones_map",
                              key="trend_zones_map", layer="trend_zones", schema=schema,
                              title=f"trend of {spec.layer} per zone"))


PRODUCT = ProductDef(kind="trend", spec=TrendSpec, needs=needs, build=build, outputs=outputs)
