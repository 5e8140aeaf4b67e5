"""Stream a tiled product from the cluster into its files: COGs, quicklooks, statistics."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from distributed import Client

from rs.export.cog import CogWriter, GridSpec
from rs.export.quicklook import write_quicklook
from rs.export.stac_items import OutputAsset
from rs.load import SkippedScene
from rs.pipeline.blocks import iter_blocks
from rs.pipeline.products import TiledProduct
from rs.pipeline.progress import Reporter
from rs.pipeline.spec import CompositeProduct
from rs.pipeline.summary import LayerStats

__all__ = ["ProductResult", "write_composite"]

# colour-ramp range of each index's quicklook
_INDEX_RANGES = {"ndvi": (-0.2, 0.9), "ndwi": (-0.8, 0.6)}
_NODATA = {"float32": float("nan"), "uint16": 65535}
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

# file key -> (path, layers it holds, dtype)
_Files = dict[str, tuple[Path, list[str], str]]


@dataclass
class ProductResult:
    """Files written for one product run and the per-layer statistics of what they hold."""

    assets: list[OutputAsset] = field(default_factory=list)
    stats: list[LayerStats] = field(default_factory=list)
    skipped: list[SkippedScene] = field(default_factory=list)


def write_composite(
    client: Client,
    tiled: TiledProduct,
    product: CompositeProduct,
    *,
    name: str,
    folder: Path,
    reporter: Reporter,
) -> ProductResult:
    """Compute ``tiled`` block by block and write its COGs (and quicklooks) into ``folder``."""
    gbox = tiled.geobox
    grid = GridSpec(crs=str(gbox.crs), transform=gbox.transform, shape=(gbox.shape.y, gbox.shape.x))
    layers = tiled.layers
    files: _Files = {
        "composite": (folder / f"{name}_composite.tif", list(product.bands), "float32"),
        **{i: (folder / f"{name}_{i}.tif", [i], "float32") for i in product.indices},
        "clear_count": (folder / f"{name}_clear_count.tif", ["clear_count"], "uint16"),
    }
    stats = [LayerStats(v) for v in layers]
    n_blocks = len(tiled.tasks)
    skipped: dict[str, SkippedScene] = {}
    advance = reporter.bar(f"{name}: computing {n_blocks} blocks", n_blocks)
    with contextlib.ExitStack() as opened:
        writers = {
            key: opened.enter_context(
                CogWriter(path, grid, bands, dtype=dtype, nodata=_NODATA[dtype])
            )
            for key, (path, bands, dtype) in files.items()
        }
        for block in iter_blocks(client, tiled.tasks, on_done=advance):
            for scene in block.skipped:
                skipped.setdefault(scene.item_id, scene)
            for s, layer in zip(stats, block.data, strict=True):
                s.add(layer)
            for key, (_, bands, dtype) in files.items():
                sel = block.data[[layers.index(b) for b in bands]]
                if dtype == "uint16":  # counts: 0 is a valid value, outside the AOI is nodata
                    sel = np.nan_to_num(sel, nan=_NODATA["uint16"])
                writers[key].write_block(block.row, block.col, sel)
    result = ProductResult(stats=stats, skipped=list(skipped.values()))
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
    product: CompositeProduct, name: str, folder: Path, files: _Files
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
        write_quicklook(files[i][0], png, value_range=_INDEX_RANGES.get(i, (-1.0, 1.0)))
        out.append(OutputAsset(f"{i}_thumbnail", png, "image/png", ("overview",), f"{i} quicklook"))
    return out
