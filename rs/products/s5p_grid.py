"""S5P grid: Sentinel-5P NO2 / CH4 swaths of a period, QA-filtered and gridded by exact area
weighting onto a regular lon/lat grid (:mod:`rs.atmos`).

One Dask task per orbit file reads the swath, drops pixels failing QA (``min_qa``, default per
product) or with degenerate corners, and grids it (``grid_orbit``: each cell gets the overlap
area weighted sum, the weight and the pixel count). The per-orbit sums are added and divided
once, so orbits average correctly. The grid covers the AOI (or ``bbox``, lon/lat, west > east
across the antimeridian) at ``resolution`` degrees.

Outputs: ``grid.nc`` (CF-1.8 NetCDF: mean, weight, count, std) and ``mean.tif`` (COG, EPSG:4326,
the mean; ``count.tif`` the pixel count). A period whose pixels all fail QA gives an empty but
valid grid and a warning, not a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from rs.products.base import Needs, ProductDef, SourceNeed, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.atmos import Accumulator, LonLatGrid, QaReport
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "S5PGridSpec"]


class S5PGridSpec(StepSpec):
    """Gridded period mean of a Sentinel-5P product (see the module)."""

    kind: Literal["s5p-grid"]
    source: str | None = Field(default=None, description="swaths source (default: the only one)")
    product: Literal["no2", "ch4", "ch4_blended"]
    resolution: float = Field(default=0.05, ge=0.001, le=1.0, description="cell size, degrees")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="west, south, east, north (default: the AOI's bounds)"
    )
    min_qa: float | None = Field(default=None, ge=0, lt=1, description="default per product")
    weighting: Literal["area", "area/precision2"] = "area"


def needs(spec: S5PGridSpec) -> Needs:
    from rs.atmos import required_variables

    check = {"variables": list(required_variables(spec.product))}
    return Needs(sources={"swaths": SourceNeed("swaths", spec.source, check)})


def outputs(spec: S5PGridSpec) -> list[str]:
    return ["grid.nc", "mean.tif", "count.tif"]


def _orbit(href: str, product: str, grid: LonLatGrid, min_qa: float | None,
           weighting: Literal["area", "area/precision2"]) -> tuple[Accumulator, QaReport]:
    """Runs in a Dask task: one orbit file -> its accumulator and QA counts."""
    import warnings

    from rs.atmos import apply_qa, grid_orbit, read_swath
    from rs.load._preflight import local_path

    path = local_path(href)
    swath = read_swath(path if path is not None else href, product)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an orbit without pixels is fine; the period decides
        kept, report = apply_qa(swath, min_qa=min_qa)
    return grid_orbit(kept, grid, weighting=weighting), report


def build(ctx: StepContext) -> StepSummary:
    import dataclasses
    import warnings

    import dask

    from rs.atmos import LonLatGrid, sum_accumulators
    from rs.errors import RsWarning
    from rs.export.cog import CogWriter, GridSpec
    from rs.export.raster import RasterBand, raster_asset
    from rs.export.stac_items import file_asset
    from rs.export.styles import s5p_ramp, write_raster_style
    from rs.pipeline.planning import task_key

    spec: S5PGridSpec = ctx.spec
    refs = ctx.inputs["swaths"]
    bbox = spec.bbox or ctx.aoi.bbox
    grid = LonLatGrid.from_bbox(bbox, spec.resolution)
    tasks = [
        dask.delayed(_orbit, pure=True)(
            r.href, spec.product, grid, spec.min_qa, spec.weighting,
            dask_key_name=task_key(f"rs-{spec.id}", r.id, r.checksum, dataclasses.astuple(grid),
                                   spec.product, spec.min_qa, spec.weighting),
        )
        for r in refs
    ]
    accs: list[Accumulator] = []
    qa: dict[str, dict[str, int]] = {}
    for i, (acc, report) in ctx.runtime.compute_each(tasks, f"{ctx.out.stem}: orbits"):
        accs.append(acc)
        qa[refs[i].id] = dataclasses.asdict(report)
        ctx.scene_use.record([refs[i].id], [])
    mean = sum_accumulators(accs, grid).finalise()
    cells = int((mean.count > 0).sum())
    if cells == 0:
        text = (f"{ctx.out.stem}: every pixel of {len(refs)} orbit(s) failed QA or fell outside "
                "the grid: the grid is empty")
        ctx.runtime.reporter.stage(f"[yellow]warning:[/] {text}")
        warnings.warn(RsWarning(text), stacklevel=1)
    nc = ctx.out.path("grid", "nc")
    mean.to_dataset(spec.product, f"{spec.product} period mean").to_netcdf(nc, engine="h5netcdf")
    ctx.out.add(file_asset("grid", nc, "application/x-netcdf", title="gridded period mean (CF)"))
    from affine import Affine

    gspec = GridSpec(crs="EPSG:4326", transform=Affine(*grid.transform[:6]),
                     shape=(grid.ny, grid.nx))
    for key, data, dtype, nodata, band in (
        ("mean", mean.mean.astype(np.float32), "float32", float("nan"),
         RasterBand(spec.product, unit=mean.units, description=f"{spec.product} mean")),
        ("count", np.minimum(mean.count, 65534).astype(np.float32), "uint16", 65535.0,
         RasterBand("count", unit="pixels", description="swath pixels per cell")),
    ):
        path = ctx.out.path(key, "tif")
        with CogWriter(path, gspec, [band], dtype=dtype, nodata=nodata, tags=ctx.tags()) as w:
            w.write_block(0, 0, data[None])
        ctx.out.add(raster_asset(key, path, gspec, [band], dtype=dtype, nodata=nodata))
    ctx.out.add(write_raster_style(ctx.out.path("mean", "tif"), "mean", s5p_ramp(spec.product)))
    return StepSummary(
        valid_pixels=cells if cells else None,  # an empty grid is published, with a warning
        properties={
            "rs:s5p": {"product": spec.product, "units": mean.units, "resolution": spec.resolution,
                       "weighting": spec.weighting, "cells_with_data": cells,
                       "regional_mean": float(mean.regional_mean()) if cells else None,
                       "qa": qa},
        },
    )


PRODUCT = ProductDef(kind="s5p-grid", spec=S5PGridSpec, needs=needs, build=build,
                     outputs=outputs)
