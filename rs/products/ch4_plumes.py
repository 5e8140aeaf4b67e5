"""CH4 plumes: methane plume detection and emission rates from Sentinel-5P CH4 orbits.

One Dask task per orbit (ESA L2 CH4 layout, the swath image is needed) reads the swath, applies
QA, estimates the background by a moving median on the swath image (plumes left out of the
windows on a second pass), detects connected enhancements above ``k`` robust standard deviations
and quantifies each plume by the integrated mass enhancement, Q = U_eff · IME / L, with the
effective wind from the user ``wind`` file (NetCDF u10/v10, or CSV of time, lon, lat, u10, v10)
and a 1σ uncertainty from wind, background and retrieval noise (:mod:`rs.atmos.plumes`). A plume
without wind is kept, with Q empty and the reason. The anomaly (value − background) of every
orbit is also gridded and averaged over the period onto a lon/lat grid.

Outputs: ``plumes`` (GeoPackage/GeoParquet polygons) and ``emissions`` (CSV/Parquet: date,
lon, lat, Q in t/h and its 1σ, wind used, pixel count, reason), ``anomaly.tif`` (period mean
enhancement, ppb, EPSG:4326).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from rs.products.base import Needs, ProductDef, SourceNeed, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.atmos import Accumulator, LonLatGrid
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "Ch4PlumesSpec"]


class Ch4PlumesSpec(StepSpec):
    """Plumes and emission rates from CH4 orbits (see the module)."""

    PATH_FIELDS = ("wind",)

    kind: Literal["ch4-plumes"]
    source: str | None = None
    wind: str | None = Field(
        default=None,
        description="NetCDF (u10, v10) or CSV wind file; 'ch4-demo' for the demo's wind",
    )
    k: float = Field(default=4.5, gt=0, description="detection threshold, robust sigmas")
    min_pixels: int = Field(default=5, ge=1)
    window_px: int = Field(default=31, ge=5, description="background moving-median window")
    min_qa: float | None = Field(default=None, ge=0, lt=1)
    resolution: float = Field(default=0.05, ge=0.005, le=1.0, description="anomaly grid, deg")
    bbox: tuple[float, float, float, float] | None = None

    def with_paths_under(self, base: Path) -> StepSpec:
        """The wind file made absolute under the spec's folder (not the demo's name)."""
        return self if self.wind == "ch4-demo" else super().with_paths_under(base)


def needs(spec: Ch4PlumesSpec) -> Needs:
    from rs.atmos import required_variables

    check = {"variables": list(required_variables("ch4"))}
    return Needs(sources={"swaths": SourceNeed("swaths", spec.source, check)})


def outputs(spec: Ch4PlumesSpec) -> list[str]:
    return ["plumes.gpkg", "emissions.csv", "anomaly.tif"]


def _orbit(href: str, spec: Ch4PlumesSpec, grid: LonLatGrid) -> tuple[Any, Accumulator]:
    """Runs in a Dask task: one CH4 orbit -> (plume table, anomaly accumulator)."""
    import dataclasses
    import warnings

    from rs.atmos import apply_qa, grid_orbit, read_swath
    from rs.atmos.plumes import swath_plumes
    from rs.atmos.wind import read_wind
    from rs.load._preflight import local_path

    path = local_path(href)
    swath = read_swath(path if path is not None else href, "ch4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept, _ = apply_qa(swath, min_qa=spec.min_qa)
    wind = None
    if spec.wind == "ch4-demo":
        from rs.pipeline.source import ch4_demo_root

        wind = read_wind(ch4_demo_root() / "wind.csv")
    elif spec.wind:
        wind = read_wind(spec.wind)
    table, _, anomaly = swath_plumes(kept, wind, window_px=spec.window_px, k=spec.k,
                                     min_pixels=spec.min_pixels)
    assert kept.scanline is not None and kept.ground_pixel is not None
    flat = np.asarray(anomaly)[kept.scanline, kept.ground_pixel]
    acc = grid_orbit(dataclasses.replace(kept, value=flat), grid)
    table["orbit"] = swath.source
    return table, acc


def build(ctx: StepContext) -> StepSummary:
    import dask
    import geopandas as gpd
    import pandas as pd
    from affine import Affine

    from rs.atmos import LonLatGrid, sum_accumulators
    from rs.export.cog import CogWriter, GridSpec
    from rs.export.raster import RasterBand, raster_asset
    from rs.export.tables import write_table
    from rs.export.vectors import typed_for_writing, write_vector
    from rs.pipeline.planning import task_key

    spec: Ch4PlumesSpec = ctx.spec
    refs = ctx.inputs["swaths"]
    grid = LonLatGrid.from_bbox(spec.bbox or ctx.aoi.bbox, spec.resolution)
    params = spec.parameters()
    tasks = [dask.delayed(_orbit, pure=True)(
        r.href, spec, grid, dask_key_name=task_key(f"rs-{spec.id}", r.id, r.checksum, params,
                                                   grid.transform, grid.nx, grid.ny))
        for r in refs]
    tables, accs = [], []
    for i, (table, acc) in ctx.runtime.compute_each(tasks, f"{ctx.out.stem}: orbits"):
        tables.append(table)
        accs.append(acc)
        ctx.scene_use.record([refs[i].id], [])
    plumes = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    plumes = gpd.GeoDataFrame(plumes, geometry="geometry", crs="EPSG:4326")
    plumes["plume_id"] = np.arange(1, len(plumes) + 1)
    plumes, schema = typed_for_writing(plumes, datetimes=False)
    ctx.out.add(*write_vector(plumes, ctx.out.staging, f"{ctx.out.stem}_plumes", key="plumes",
                              layer="plumes", schema=schema, geometry_type="MultiPolygon"
                              if plumes.empty else None, title="CH4 plumes"))
    ctx.out.add(*write_table(pd.DataFrame(plumes.drop(columns="geometry")), ctx.out.staging,
                             f"{ctx.out.stem}_emissions", key="emissions",
                             title="CH4 emission rates (IME), t/h with 1 sigma"))
    mean = sum_accumulators(accs, grid).finalise()
    gspec = GridSpec(crs="EPSG:4326", transform=Affine(*grid.transform), shape=(grid.ny, grid.nx))
    band = RasterBand("anomaly", unit="ppb", description="CH4 enhancement over the background")
    path = ctx.out.path("anomaly", "tif")
    with CogWriter(path, gspec, [band], dtype="float32", nodata=float("nan"),
                   tags=ctx.tags()) as w:
        w.write_block(0, 0, mean.mean.astype(np.float32)[None])
    ctx.out.add(raster_asset("anomaly", path, gspec, [band], dtype="float32",
                             nodata=float("nan")))
    rates = plumes["q_t_h"].dropna() if "q_t_h" in plumes else pd.Series(dtype=float)
    return StepSummary(properties={"rs:ch4_plumes": {
        "plumes": len(plumes), "with_rate": len(rates), "orbits": len(refs),
        "total_q_t_h": float(rates.sum()) if len(rates) else None,
    }})


PRODUCT = ProductDef(kind="ch4-plumes", spec=Ch4PlumesSpec, needs=needs, build=build,
                     outputs=outputs)
