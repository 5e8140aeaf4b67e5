"""Products a pipeline can make: lazy graphs of one task per output block.

Only the composite product exists so far: a cloud-masked temporal composite of the chosen
bands, its spectral indices and a clear-observation count, clipped to the AOI.

Each output block is one task that loads every date of its window with odc-stac (eagerly,
inside the task) and reduces it. The scheduler sees a handful of tasks instead of thousands
(one per band, date and chunk), which is what keeps a distributed run as fast as a local one,
and memory is bounded by the block size whatever the area. A scene whose pixels turn out to be
unreadable is left out of the block (and reported) or fails the run, as the spec says.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import dask
import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox, GeoboxTiles
from odc.geo.geom import Geometry
from odc.geo.xr import xr_zeros
from shapely.geometry.base import BaseGeometry

from rs.clip import aoi_mask, clip_to_aoi
from rs.composite import temporal_composite, valid_count
from rs.indices import compute_indices, required_bands
from rs.load import load_block, reduction_chunks
from rs.pipeline.blocks import BlockResult, BlockTask
from rs.pipeline.spec import CompositeProduct

__all__ = ["TiledProduct", "composite_layers", "load_bands", "output_geobox", "tiled_composite"]


@dataclass(frozen=True)
class TiledProduct:
    """A product on ``geobox`` as lazy block tasks, each giving a (layer, h, w) float32 block."""

    geobox: GeoBox
    layers: list[str]
    tasks: list[BlockTask]


def load_bands(product: CompositeProduct) -> list[str]:
    """Bands to load: the composite's own and those its indices need."""
    return list(dict.fromkeys([*product.bands, *required_bands(product.indices)]))


def composite_layers(ds: xr.Dataset, product: CompositeProduct) -> xr.Dataset:
    """Composite bands, indices and ``clear_count`` of a masked time stack (pure, lazy or not)."""
    comp = temporal_composite(ds, product.statistic)
    out = comp[product.bands]
    if product.indices:
        out = out.merge(compute_indices(comp, product.indices))
    out["clear_count"] = valid_count(ds[load_bands(product)]).astype("float32")
    return out


def output_geobox(aoi: BaseGeometry, crs: str, resolution: float) -> GeoBox:
    """The output grid: the AOI's bounds in ``crs`` on a ``resolution`` grid anchored at 0."""
    return GeoBox.from_geopolygon(Geometry(aoi, "EPSG:4326").to_crs(crs), resolution=resolution)


def _composite_block(
    items: list[pystac.Item],
    tile: GeoBox,
    product: CompositeProduct,
    aoi: BaseGeometry,
    layers: list[str],
    on_error: Literal["skip", "fail"],
) -> BlockResult:
    ds, skipped = load_block(
        items, load_bands(product), geobox=tile, mask=tuple(product.mask), on_error=on_error
    )
    if ds is None:  # every scene of this block was unreadable: no observation anywhere
        inside = aoi_mask(xr_zeros(tile, dtype="float32"), aoi).values
        data = np.full((len(layers), *tile.shape), np.nan, dtype=np.float32)
        data[layers.index("clear_count")][inside] = 0
        return BlockResult(data, tuple(skipped))
    out = clip_to_aoi(composite_layers(ds, product), aoi)
    data = np.stack([np.asarray(out[v].values, dtype=np.float32) for v in layers])
    return BlockResult(data, tuple(skipped))


def tiled_composite(
    items: Sequence[pystac.Item],
    product: CompositeProduct,
    aoi: BaseGeometry,
    crs: str,
    *,
    on_error: Literal["skip", "fail"] = "fail",
) -> TiledProduct:
    """The composite product over ``aoi`` as a :class:`TiledProduct` (nothing is read yet).

    ``on_error`` is the policy for a scene whose pixels turn out unreadable while computing.
    """
    bands = load_bands(product)
    layers = [*product.bands, *product.indices, "clear_count"]
    gbox = output_geobox(aoi, crs, product.resolution)
    # the chunking rule: a block holds every date of every band (and the mask) within budget
    block = reduction_chunks(len(items), itemsize=4 * (len(bands) + 1))
    tiles = GeoboxTiles(gbox, (block["y"], block["x"]))
    token = uuid.uuid4().hex[:12]
    shared = dask.delayed(list(items), name=f"rs-items-{token}", traverse=False)
    tasks = []
    for iy in range(tiles.shape[0]):
        for ix in range(tiles.shape[1]):
            tile = tiles[iy, ix]
            task = dask.delayed(_composite_block, pure=True)(
                shared,
                tile,
                product,
                aoi,
                layers,
                on_error,
                dask_key_name=f"rs-composite-{token}-{iy}-{ix}",
            )
            tasks.append(BlockTask(iy * block["y"], ix * block["x"], task))
    return TiledProduct(gbox, layers, tasks)
