"""Products a pipeline can make. Each builds a lazy graph, then streams it to files.

Only the composite product exists so far: a cloud-masked temporal composite of the chosen
bands, its spectral indices and a clear-observation count, clipped to the AOI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dask.array as da
import numpy as np
import pystac
import xarray as xr
from distributed import Client
from shapely.geometry.base import BaseGeometry

from rs.clip import clip_to_aoi
from rs.composite import temporal_composite, valid_count
from rs.export.cog import CogWriter, GridSpec
from rs.export.quicklook import write_quicklook
from rs.export.stac_items import OutputAsset
from rs.indices import compute_indices, required_bands
from rs.load import load_optical, reduction_chunks
from rs.pipeline.blocks import iter_blocks
from rs.pipeline.progress import Reporter
from rs.pipeline.spec import CompositeProduct
from rs.pipeline.summary import LayerStats

__all__ = ["ProductResult", "build_composite", "write_composite"]

NAN = float("nan")
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass
class ProductResult:
    """Files written for one product run and the per-layer statistics of what they hold."""

    assets: list[OutputAsset] = field(default_factory=list)
    stats: list[LayerStats] = field(default_factory=list)
    grid: GridSpec | None = None


def build_composite(
    items: Sequence[pystac.Item], product: CompositeProduct, aoi: BaseGeometry, crs: str
) -> xr.Dataset:
    """Lazy dataset of composite bands, indices and ``clear_count``, NaN outside the AOI."""
    bands = list(dict.fromkeys([*product.bands, *required_bands(product.indices)]))
    # load chunks sized so that one block holds every date of every band within the budget:
    # each output block is then computed from its own reads, with nothing shared or repeated
    block = reduction_chunks(len(items), itemsize=4 * (len(bands) + 1))
    ds = load_optical(
        list(items),
        bands,
        crs=crs,
        resolution=product.resolution,
        geopolygon=aoi,
        chunks={"y": block["y"], "x": block["x"]},
        mask=tuple(product.mask),
    )
    comp = temporal_composite(ds, product.statistic)
    out = comp[product.bands]
    if product.indices:
        out = out.merge(compute_indices(comp, product.indices))
    out["clear_count"] = valid_count(ds[bands]).astype("float32")
    return clip_to_aoi(out, aoi)


def write_composite(
    client: Client,
    ds: xr.Dataset,
    product: CompositeProduct,
    *,
    name: str,
    folder: Path,
    reporter: Reporter,
) -> ProductResult:
    """Compute ``ds`` block by block and write its COGs (and quicklooks) into ``folder``."""
    gbox = ds.odc.geobox
    grid = GridSpec(crs=str(gbox.crs), transform=gbox.transform, shape=tuple(gbox.shape))
    layers = [str(v) for v in ds.data_vars]
    stack = da.stack([ds[v].data.astype("float32") for v in layers])
    index_names = list(product.indices)
    files = {
        "composite": (folder / f"{name}_composite.tif", list(product.bands), "float32"),
        **{i: (folder / f"{name}_{i}.tif", [i], "float32") for i in index_names},
        "clear_count": (folder / f"{name}_clear_count.tif", ["clear_count"], "uint16"),
    }
    stats = [LayerStats(v) for v in layers]
    n_blocks = len(stack.chunks[1]) * len(stack.chunks[2])
    advance = reporter.bar(f"{name}: computing {n_blocks} blocks", n_blocks)
    with contextlib.ExitStack() as opened:
        writers = {
            key: opened.enter_context(
                CogWriter(path, grid, bands, dtype=dtype, nodata=0 if dtype == "uint16" else NAN)
            )
            for key, (path, bands, dtype) in files.items()
        }
        for block in iter_blocks(client, stack, on_done=advance):
            for s, layer in zip(stats, block.data, strict=True):
                s.add(layer)
            for key, (_, bands, dtype) in files.items():
                sel = block.data[[layers.index(b) for b in bands]]
                if dtype == "uint16":
                    sel = np.nan_to_num(sel, nan=0.0)
                writers[key].write_block(block.row, block.col, sel)
    result = ProductResult(stats=stats, grid=grid)
    proj = {
        "proj:code": grid.crs,
        "proj:shape": list(grid.shape),
        "proj:transform": list(grid.transform)[:6],
    }
    for key, (path, bands, _) in files.items():
        result.assets.append(
            OutputAsset(
                key=key,
                path=path,
                media_type=COG_TYPE,
                roles=("data",),
                title=f"{key} ({', '.join(bands)})",
                extra={**proj, "bands": [{"name": b} for b in bands]},
            )
        )
    if product.quicklook:
        result.assets.extend(_quicklooks(product, name, folder, files))
    return result


def _quicklooks(
    product: CompositeProduct,
    name: str,
    folder: Path,
    files: dict[str, tuple[Path, list[str], str]],
) -> list[OutputAsset]:
    out = []
    comp_path, comp_bands, _ = files["composite"]
    if all(b in comp_bands for b in ("red", "green", "blue")):
        png = folder / f"{name}_quicklook.png"
        rgb = [comp_bands.index(b) + 1 for b in ("red", "green", "blue")]
        write_quicklook(comp_path, png, bands=rgb)
        out.append(
            OutputAsset("thumbnail", png, "image/png", ("thumbnail", "overview"), "true colour")
        )
    for i in product.indices:
        png = folder / f"{name}_{i}_quicklook.png"
        write_quicklook(files[i][0], png, value_range=(-0.2, 0.9))
        out.append(OutputAsset(f"{i}_thumbnail", png, "image/png", ("overview",), f"{i} quicklook"))
    return out
