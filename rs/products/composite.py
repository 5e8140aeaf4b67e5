"""Composite: a cloud-masked temporal composite of optical bands, its spectral indices and the
number of clear observations per pixel, clipped to the AOI.

Each output block is one task that loads every date of its window with odc-stac (eagerly,
inside the task) from only the scenes whose footprint reaches it, and reduces it. Memory is
bounded by the block size whatever the area. A scene whose pixels turn out to be unreadable is
left out of the block (and recorded per block) or fails the run, as the spec says.

Outputs: ``composite.tif`` (the bands, reflectance 0..1), one ``<index>.tif`` per index,
``clear_count.tif`` (uint16, 65535 = outside the AOI) and PNG quicklooks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, field_validator

from rs.products.base import GridMixin, Needs, ProductDef, SourceNeed, StepSpec, StepSummary

if TYPE_CHECKING:
    import pystac
    import xarray as xr
    from odc.geo.geobox import GeoBox
    from shapely.geometry.base import BaseGeometry

    from rs.load import SkippedScene
    from rs.pipeline.blocks import BlockResult
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "CompositeSpec", "composite_layers", "load_bands"]

MaskClass = Literal["cloud", "shadow", "snow", "cirrus", "invalid"]
_DEFAULT_MASK: tuple[MaskClass, ...] = ("cloud", "cirrus", "shadow", "snow")
# colour-ramp range of each index's quicklook
_INDEX_RANGES = {"ndvi": (-0.2, 0.9), "ndwi": (-0.8, 0.6), "mndwi": (-0.8, 0.8)}
_COUNT_NODATA = 65535


class CompositeSpec(StepSpec, GridMixin):
    """Cloud-masked temporal composite of ``bands`` plus spectral ``indices`` of it."""

    kind: Literal["composite"]
    source: str | None = Field(default=None, description="optical source (default: the only one)")
    bands: list[str] = Field(default_factory=lambda: ["red", "green", "blue", "nir"], min_length=1)
    statistic: Literal["median", "mean", "min", "max"] = "median"
    indices: list[str] = Field(default_factory=lambda: ["ndvi"])
    mask: list[MaskClass] = Field(default_factory=lambda: list(_DEFAULT_MASK))
    quicklook: bool = True

    @field_validator("bands")
    @classmethod
    def _known_bands(cls, v: list[str]) -> list[str]:
        from rs.load.bands import COMMON_BANDS

        return _known(v, list(COMMON_BANDS), "band")

    @field_validator("indices")
    @classmethod
    def _known_indices(cls, v: list[str]) -> list[str]:
        from rs.indices import INDICES, SCENE_DEPENDENT

        per_scene = [i for i in v if i in SCENE_DEPENDENT]
        if per_scene:
            raise ValueError(
                f"index {per_scene} depends on the whole scene's statistics (e.g. FVC's NDVI "
                "percentiles), which a block-wise composite cannot give: compute it from the "
                "composite's NDVI in a later step"
            )
        return _known(v, sorted(INDICES), "index")


def _known(values: list[str], allowed: list[str], what: str) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad}: available are {allowed}")
    return values


def load_bands(spec: CompositeSpec) -> list[str]:
    """Bands to load: the composite's own and those its indices need."""
    from rs.indices import required_bands

    return list(dict.fromkeys([*spec.bands, *required_bands(spec.indices)]))


def layers_of(spec: CompositeSpec) -> list[str]:
    return [*spec.bands, *spec.indices, "clear_count"]


def needs(spec: CompositeSpec) -> Needs:
    return Needs(
        sources={
            "scenes": SourceNeed(
                "optical", spec.source, {"bands": load_bands(spec), "mask": bool(spec.mask)}
            )
        }
    )


def outputs(spec: CompositeSpec) -> list[str]:
    files = ["composite.tif", *(f"{i}.tif" for i in spec.indices), "clear_count.tif"]
    if spec.quicklook:
        if _rgb_bands(spec) is not None:
            files.append("quicklook.png")
        files += [f"{i}_quicklook.png" for i in spec.indices]
    return files


def _rgb_bands(spec: CompositeSpec) -> list[int] | None:
    """1-based composite bands of red, green and blue, or ``None`` unless all three are in it."""
    if all(b in spec.bands for b in ("red", "green", "blue")):
        return [spec.bands.index(b) + 1 for b in ("red", "green", "blue")]
    return None


def composite_layers(ds: xr.Dataset, spec: CompositeSpec) -> xr.Dataset:
    """Composite bands, indices and ``clear_count`` of a masked time stack (pure, lazy or not)."""
    from rs.composite import temporal_composite, valid_count
    from rs.indices import compute_indices

    comp = temporal_composite(ds, spec.statistic)
    out = comp[spec.bands]
    if spec.indices:
        out = out.merge(compute_indices(comp, spec.indices))
    out["clear_count"] = valid_count(ds[load_bands(spec)]).astype("float32")
    return out


def _block(
    items: Sequence[pystac.Item],
    which: tuple[int, ...],
    tile: GeoBox,
    spec: CompositeSpec,
    aoi: BaseGeometry,
    on_error: Literal["skip", "fail"],
    gdal_env: Mapping[str, str],
) -> BlockResult:
    """One output block: read the scenes in ``which`` over ``tile``, composite, clip."""
    import rasterio
    from odc.geo.xr import xr_zeros

    from rs.clip import aoi_mask, clip_to_aoi
    from rs.load import load_block
    from rs.pipeline.blocks import BlockResult

    layers = layers_of(spec)
    mine = [items[i] for i in which]
    env = rasterio.Env(**gdal_env) if gdal_env else contextlib.nullcontext()
    ds: xr.Dataset | None = None
    skipped: list[SkippedScene] = []
    if mine:
        with env:
            ds, skipped = load_block(
                mine, load_bands(spec), geobox=tile, mask=tuple(spec.mask), on_error=on_error
            )
    if ds is None:  # no scene reaches this block, or none was readable: no observation
        inside = aoi_mask(xr_zeros(tile, dtype="float32"), aoi).values
        data = np.full((len(layers), *tile.shape), np.nan, dtype=np.float32)
        data[layers.index("clear_count")][inside] = 0
        return BlockResult(data, tuple(skipped))
    out = clip_to_aoi(composite_layers(ds, spec), aoi)
    data = np.stack([np.asarray(out[v].values, dtype=np.float32) for v in layers])
    return BlockResult(data, tuple(skipped))


def build(ctx: StepContext) -> StepSummary:
    """Compute the composite block by block and write its COGs and quicklooks."""
    import dask

    from rs.export.cog import CogWriter, GridSpec
    from rs.export.raster import RasterBand, raster_asset
    from rs.indices import UNITS
    from rs.load.optical import grid_anchor, scaling_provenance
    from rs.pipeline.blocks import BlockTask
    from rs.pipeline.planning import plan_blocks, task_key
    from rs.pipeline.summary import LayerStats
    from rs.products._grid import output_geobox

    spec: CompositeSpec = ctx.spec
    refs = ctx.inputs["scenes"]
    items = ctx.items("scenes")
    aoi = ctx.aoi.union
    assert ctx.crs is not None, "a raster step always has a grid CRS"
    bands = load_bands(spec)
    anchor = grid_anchor(items, bands, ctx.crs, spec.resolution)
    gbox = output_geobox(aoi, ctx.crs, spec.resolution, anchor.anchor)
    shape = ctx.runtime.block_shape(len(items), itemsize=4 * (len(bands) + 1))
    plan = plan_blocks(gbox, [r.geometry for r in refs], shape)
    # sent to the workers once; block tasks name them by key
    shared = ctx.runtime.shared(items, "rs-items", [(r.id, r.href) for r in refs])
    aoi_node = ctx.runtime.shared(aoi, "rs-aoi", aoi.wkt)
    env_node = ctx.runtime.shared(ctx.runtime.gdal_env, "rs-gdal-env", ctx.runtime.gdal_env)
    params = spec.parameters()
    tasks = [
        BlockTask(
            b.row,
            b.col,
            dask.delayed(_block, pure=True)(
                shared,
                b.items,
                b.tile,
                spec,
                aoi_node,
                ctx.runtime.on_error,
                env_node,
                dask_key_name=task_key(
                    f"rs-{spec.id}",
                    shared.key,
                    aoi_node.key,
                    env_node.key,
                    tuple(b.tile.transform)[:6],
                    b.tile.shape.yx,
                    b.items,
                    params,
                    ctx.runtime.on_error,
                ),
            ),
            tuple(refs[i].id for i in b.items),
        )
        for b in plan
    ]
    layers = layers_of(spec)
    grid = GridSpec(crs=str(gbox.crs), transform=gbox.transform, shape=(gbox.shape.y, gbox.shape.x))
    refl = [
        RasterBand(b, unit="K", description="surface temperature") if b == "thermal"
        else RasterBand(b, unit="1", description=f"{b} surface reflectance")
        for b in spec.bands
    ]
    files: dict[str, tuple[list[str], list[RasterBand], str, float]] = {
        "composite": (list(spec.bands), refl, "float32", float("nan")),
        **{
            i: ([i], [RasterBand(i, unit=UNITS[i], description=i.upper())], "float32",
                float("nan"))
            for i in spec.indices
        },
        "clear_count": (
            ["clear_count"],
            [RasterBand("clear_count", unit="count", description="clear observations")],
            "uint16",
            float(_COUNT_NODATA),
        ),
    }
    stats = [LayerStats(v) for v in layers]
    tags = ctx.tags()
    with contextlib.ExitStack() as opened:
        writers = {
            key: opened.enter_context(
                CogWriter(
                    ctx.out.path(key, "tif"),
                    grid,
                    rb,
                    dtype=dtype,
                    nodata=nodata,
                    tags=tags,
                    colorinterp=_rgb_interp(spec.bands) if key == "composite" else None,
                )
            )
            for key, (_, rb, dtype, nodata) in files.items()
        }
        desc = f"{ctx.out.stem}: {len(tasks)} blocks"
        for block in ctx.runtime.compute_blocks(tasks, desc, ctx.scene_use):
            for s, layer in zip(stats, block.data, strict=True):
                s.add(layer)
            for key, (names, _, _, _) in files.items():
                sel = block.data[[layers.index(b) for b in names]]
                # NaN (outside the AOI) is stored as nodata by the writer, also in the counts
                writers[key].write_block(block.row, block.col, sel)
    for key, (_, rb, dtype, nodata) in files.items():
        ctx.out.add(
            raster_asset(
                key,
                ctx.out.path(key, "tif"),
                grid,
                rb,
                dtype=dtype,
                nodata=nodata,
                title=f"{key} ({', '.join(b.name for b in rb)})",
            )
        )
    if spec.quicklook:
        _quicklooks(ctx, spec)
    # clear_count is defined (0 or more) on every pixel inside the AOI and NaN outside
    aoi_pixels = next(s.valid for s in stats if s.name == "clear_count")
    valid = next(s.valid for s in stats if s.name == spec.bands[0])
    return StepSummary(
        layers=[s.as_dict(aoi_pixels) for s in stats],
        valid_pixels=valid,
        properties={"rs:scaling": scaling_provenance(items, bands), "rs:grid": anchor.reason},
    )


def _rgb_interp(bands: Sequence[str]) -> list[str] | None:
    if list(bands[:3]) == ["red", "green", "blue"]:
        return ["red", "green", "blue", *(["undefined"] * (len(bands) - 3))]
    return None


def _quicklooks(ctx: StepContext, spec: CompositeSpec) -> None:
    from rs.export.quicklook import quicklook_asset, write_quicklook

    rgb = _rgb_bands(spec)
    if rgb is not None:
        q = write_quicklook(
            ctx.out.path("composite", "tif"), ctx.out.path("quicklook", "png"), bands=rgb
        )
        ctx.out.add(
            quicklook_asset("thumbnail", q, title="true colour", roles=("thumbnail", "overview"))
        )
    for i in spec.indices:
        q = write_quicklook(
            ctx.out.path(i, "tif"),
            ctx.out.path(f"{i}_quicklook", "png"),
            value_range=_INDEX_RANGES.get(i, (-1.0, 1.0)),
        )
        ctx.out.add(quicklook_asset(f"{i}_thumbnail", q, title=f"{i} quicklook"))


PRODUCT = ProductDef(
    kind="composite",
    spec=CompositeSpec,
    needs=needs,
    build=build,
    outputs=outputs,
)
