"""RSEI: the Remote Sensing Ecological Index (Xu 2013) of an earlier composite step.

Reads the upstream ``composite`` (a growing-season composite with the bands blue, green, red,
nir, swir16, swir22 and thermal) window by window, three times: (1) the four components'
ranges and a seeded random sample of pixels, (2) after the PCA is fitted on the sample, the
range of PC1, (3) RSEI and its class, written as COGs (:mod:`rs.ecology.rsei`). Memory is
bounded by the block size whatever the area.

Without a thermal band (e.g. a Sentinel-2 composite) the step refuses: a three-component index
is not RSEI.

Outputs: ``rsei.tif`` (float32, 0..1, NaN for water and no data), ``rsei_class.tif`` (uint8,
1 poor .. 5 excellent, 0 no data), ``rsei_pca`` (CSV/Parquet: loadings of the four components
on PC1..PC4 and explained variance; PC1's also in the STAC item), and with ``zones`` the area
of each class per zone (``rsei_zones``, via exactextract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from rs.products.base import Needs, OneOutput, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.ecology.rsei import BlockSummary, RseiModel
    from rs.pipeline.blocks import BlockResult
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "RseiSpec"]

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "thermal")


class RseiSpec(StepSpec):
    """RSEI of the upstream ``composite`` step's ``layer`` output (see the module)."""

    PATH_FIELDS = ("zones",)

    kind: Literal["rsei"]
    composite: OneOutput = Field(description="upstream composite: 'step' or 'step@period'")
    layer: str = Field(default="composite", description="output key of the bands' COG")
    sensor: Literal["landsat-c2-l2", "sentinel-2-l2a"] = Field(
        default="landsat-c2-l2", description="tasseled-cap coefficients of this sensor"
    )
    water_threshold: float = Field(default=0.0, description="water where MNDWI is above this")
    sample_size: int = Field(default=100_000, gt=10, description="pixels the PCA is fitted on")
    seed: int = 0
    zones: str | None = Field(default=None, description="polygons for class areas per zone")
    zone_id: str = "id"



def needs(spec: RseiSpec) -> Needs:
    return Needs(upstream={"composite": spec.composite})


def outputs(spec: RseiSpec) -> list[str]:
    files = ["rsei.tif", "rsei_class.tif", "rsei_pca.csv"]
    return files + (["rsei_zones.csv"] if spec.zones else [])


def components(bands: dict[str, np.ndarray], sensor: str, water_threshold: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """The raw components ``(4, h, w)`` (greenness NDVI, wetness TC-wetness, heat LST in °C,
    dryness NDBSI) and the water mask, from reflectance and thermal (K) arrays."""
    import xarray as xr

    from rs.indices import lst, mndwi, ndbsi, ndvi, tcw

    ds = xr.Dataset({k: (("y", "x"), v) for k, v in bands.items()}, attrs={"product": sensor})
    stack = np.stack([
        np.asarray(f(ds).values, dtype=np.float64)
        for f in (ndvi, lambda d: tcw(d, sensor=sensor), lst, ndbsi)
    ])
    with np.errstate(invalid="ignore"):
        water = np.asarray(mndwi(ds).values) > water_threshold
    return stack, water


def _read(path: str, index: dict[str, int], window: tuple[int, int, int, int]
          ) -> dict[str, np.ndarray]:
    from rs.load.outputs import read_window

    return {b: read_window(path, window, index[b]).astype(np.float64) for b in BANDS}


def _summary(path: str, index: dict[str, int], window: tuple[int, int, int, int],
             sensor: str, water_threshold: float, fraction: float, seed: int) -> BlockSummary:
    from rs.ecology.rsei import block_summary

    stack, water = components(_read(path, index, window), sensor, water_threshold)
    return block_summary(stack, water, fraction=fraction, seed=seed, block=window[:2])


def _pc1_range(path: str, index: dict[str, int], window: tuple[int, int, int, int],
               sensor: str, water_threshold: float, model: RseiModel) -> tuple[float, float]:
    from rs.ecology.rsei import pc1

    stack, water = components(_read(path, index, window), sensor, water_threshold)
    score = pc1(model, stack, water)
    if not np.isfinite(score).any():
        return np.inf, -np.inf
    return float(np.nanmin(score)), float(np.nanmax(score))


def _block(path: str, index: dict[str, int], window: tuple[int, int, int, int], sensor: str,
           water_threshold: float, model: RseiModel) -> BlockResult:
    from rs.ecology.rsei import classify, pc1, rsei
    from rs.pipeline.blocks import BlockResult

    stack, water = components(_read(path, index, window), sensor, water_threshold)
    value = rsei(model, pc1(model, stack, water))
    return BlockResult(np.stack([value, classify(value)]).astype(np.float32))


def build(ctx: StepContext) -> StepSummary:
    import dataclasses

    import dask
    import pandas as pd

    from rs.ecology.rsei import CLASS_NAMES, COMPONENTS, NODATA_CLASS, fit, merge_summaries
    from rs.errors import SpecError
    from rs.export.cog import CogWriter
    from rs.export.raster import RasterBand, raster_asset
    from rs.export.styles import RSEI_CLASSES, write_raster_style
    from rs.export.tables import write_table
    from rs.load.outputs import band_names, raster_info
    from rs.pipeline.blocks import BlockTask
    from rs.pipeline.planning import task_key
    from rs.pipeline.summary import LayerStats
    from rs.products._pairs import windows

    spec: RseiSpec = ctx.spec
    (up,) = ctx.upstream["composite"]
    path = str(up.asset(spec.layer))
    names = band_names(path)
    missing = [b for b in BANDS if b not in names]
    if "thermal" in missing:
        raise SpecError(
            f"step {spec.id!r}: RSEI needs land surface temperature, but {spec.composite}'s "
            f"{spec.layer} has no 'thermal' band (bands: {names}); composite Landsat Collection "
            "2 Level-2 scenes with 'thermal' among the bands (Sentinel-2 has no thermal band). "
            "rs never makes a three-component RSEI"
        )
    if missing:
        raise SpecError(f"step {spec.id!r}: RSEI needs bands {missing} in {spec.composite}'s "
                        f"{spec.layer} (it has {names}); add them to the composite's bands")
    index = {b: names.index(b) + 1 for b in BANDS}
    grid, _ = raster_info(path)
    h, w = grid.shape
    wins = windows(grid.shape, ctx.runtime.block_shape(len(BANDS) + 4, itemsize=8))
    fraction = min(1.0, spec.sample_size / max(1, h * w))
    key = (path, up.run_key, spec.sensor, spec.water_threshold)

    def each(fn: Any, *args: Any, what: str) -> list[Any]:
        tasks = [dask.delayed(fn, pure=True)(
            path, index, win, spec.sensor, spec.water_threshold, *args,
            dask_key_name=task_key(f"rs-{spec.id}-{what}", *key, win, *map(repr, args)))
            for win in wins]
        out: list[Any] = [None] * len(tasks)
        for i, result in ctx.runtime.compute_each(tasks, f"{ctx.out.stem}: {what}"):
            out[i] = result
        return out

    summary = merge_summaries(each(_summary, fraction, spec.seed, what="sample"))
    model = fit(summary, seed=spec.seed)
    ranges = each(_pc1_range, model, what="pc1")
    model = dataclasses.replace(model, pc1_min=min(r[0] for r in ranges),
                                pc1_max=max(r[1] for r in ranges))
    tasks = [BlockTask(win[0], win[1], dask.delayed(_block, pure=True)(
        path, index, win, spec.sensor, spec.water_threshold, model,
        dask_key_name=task_key(f"rs-{spec.id}-rsei", *key, win, repr(model))))
        for win in wins]
    bands = {
        "rsei": RasterBand("rsei", unit="1", description="RSEI (Xu 2013), 0 worst .. 1 best"),
        "rsei_class": RasterBand(
            "rsei_class", description="1 poor, 2 fair, 3 moderate, 4 good, 5 excellent"),
    }
    tags = {**ctx.tags(), "RS_COMPOSITE": up.item["id"]}
    stats = LayerStats("rsei")
    counts = np.zeros(6, dtype=np.int64)
    vpath, cpath = ctx.out.path("rsei", "tif"), ctx.out.path("rsei_class", "tif")
    with (
        CogWriter(vpath, grid, [bands["rsei"]], dtype="float32", nodata=float("nan"),
                  tags=tags) as vw,
        CogWriter(cpath, grid, [bands["rsei_class"]], dtype="uint8",
                  nodata=float(NODATA_CLASS), tags=tags) as cw,
    ):
        for block in ctx.runtime.compute_blocks(tasks, f"{ctx.out.stem}: rsei"):
            stats.add(block.data[0])
            cls = block.data[1].astype(np.uint8)
            counts += np.bincount(cls.ravel(), minlength=6)[:6]
            vw.write_block(block.row, block.col, block.data[0])
            cw.write_block(block.row, block.col, cls)
    ctx.out.add(raster_asset("rsei", vpath, grid, [bands["rsei"]], dtype="float32",
                             nodata=float("nan")))
    ctx.out.add(raster_asset("rsei_class", cpath, grid, [bands["rsei_class"]], dtype="uint8",
                             nodata=float(NODATA_CLASS)))
    ctx.out.add(write_raster_style(cpath, "rsei_class", RSEI_CLASSES))  # QGIS: <stem>.qml
    pca = pd.DataFrame(
        {
            "pc": [f"PC{i + 1}" for i in range(len(COMPONENTS))],
            **{c: model.components[:, j] for j, c in enumerate(COMPONENTS)},
            "explained_variance_ratio": model.explained,
        }
    )
    ctx.out.add(*write_table(pca, ctx.out.staging, f"{ctx.out.stem}_rsei_pca", key="rsei_pca",
                             title="RSEI principal components: loadings and explained variance"))
    if spec.zones:
        ctx.out.add(*_zone_areas(ctx, spec, str(cpath)))
    pixel_area = abs(grid.transform.a * grid.transform.e)
    return StepSummary(
        layers=[stats.as_dict(int(counts.sum()))],
        valid_pixels=int(counts[1:].sum()),
        properties={
            "rs:rsei": {
                "definition": "Xu 2013: PCA of min-max normalised NDVI, TC wetness, LST (°C) "
                "and NDBSI; PC1 oriented so greenness loads positive; rescaled to 0..1",
                "pc1_loadings": dict(zip(COMPONENTS, map(float, model.loadings), strict=True)),
                "explained_variance_ratio": [float(v) for v in model.explained],
                "sample_size": model.sample_size,
                "water_threshold": spec.water_threshold,
                "sensor": spec.sensor,
                "class_area_m2": {CLASS_NAMES[k]: float(counts[k] * pixel_area)
                                  for k in CLASS_NAMES},
            },
        },
    )


def _zone_areas(ctx: StepContext, spec: RseiSpec, class_path: str) -> list[Any]:
    """Area of each RSEI class per zone (exact partial-pixel coverage)."""

    from rs.ecology.rsei import CLASS_NAMES
    from rs.ecology.zonal import class_areas
    from rs.errors import SpecError
    from rs.export.tables import write_table
    from rs.load.vectors import read_vector

    assert spec.zones is not None
    zones = read_vector(spec.zones)
    if spec.zone_id not in zones.columns:
        raise SpecError(f"zones {spec.zones!r} have no column {spec.zone_id!r}: set zone_id")
    table = class_areas(class_path, zones, id_column=spec.zone_id, names=CLASS_NAMES,
                        parallel=ctx.runtime.part_map(f"{ctx.out.stem}: zones"))
    return write_table(table, ctx.out.staging, f"{ctx.out.stem}_rsei_zones", key="rsei_zones",
                       title="area (m²) of each RSEI class per zone")


PRODUCT = ProductDef(kind="rsei", spec=RseiSpec, needs=needs, build=build, outputs=outputs)
