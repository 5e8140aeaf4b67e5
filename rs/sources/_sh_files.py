"""The local side of the Sentinel Hub source: request tiles, scene GeoTIFFs and STAC items.

:mod:`rs.sources.sentinelhub` asks Sentinel Hub for pixels; this module decides the grid those
pixels are asked on and turns what comes back into files the rest of rs reads like any
Sentinel-2 L2A item of a STAC API (Earth Search v1 asset keys, ``raster:bands`` with the DN
scale, ``proj:*`` per asset):

- the grid is the AOI's UTM zone, 10 m bands at 10 m and 20 m bands at 20 m, every edge on a
  multiple of 20 m, the pixel grid of the Sentinel-2 tiles themselves, so nothing is resampled;
- the AOI is cut into tiles by sentinelhub's :class:`~sentinelhub.BBoxSplitter` (only tiles
  touching the AOI are kept) and each tile is snapped outwards onto that grid; neighbouring
  tiles may then overlap by less than a 20 m pixel, where they hold the same values;
- a scene's files cover the union of the tiles, one tiled GeoTIFF per band (DN as uint16, SCL
  as uint8, nodata 0), filled window by window as tiles arrive.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

__all__ = [
    "BANDS",
    "GRID_STEP",
    "MARGIN",
    "SceneFiles",
    "ShBand",
    "Tile",
    "extent",
    "plan_tiles",
    "save_item",
    "scene_item",
    "write_tiles",
]

#: every tile edge lies on a multiple of this many metres (the 20 m pixel grid)
GRID_STEP = 20
#: metres fetched around the AOI, so resampling kernels at its edge (bilinear, cubic) read
#: real neighbours rather than the edge of the files
MARGIN = 60


@dataclass(frozen=True)
class ShBand:
    """One band as rs names it (``key``, the asset key) and as Sentinel Hub names it."""

    key: str
    sh_id: str
    res: int

    @property
    def is_scl(self) -> bool:
        return self.key == "scl"


#: the bands rs reads from Sentinel-2 L2A, with Sentinel Hub's band ids and native resolution
BANDS: tuple[ShBand, ...] = (
    ShBand("blue", "B02", 10),
    ShBand("green", "B03", 10),
    ShBand("red", "B04", 10),
    ShBand("nir", "B08", 10),
    ShBand("swir16", "B11", 20),
    ShBand("swir22", "B12", 20),
    ShBand("scl", "SCL", 20),
)


@dataclass(frozen=True)
class Tile:
    """One Process API request area: UTM bounds on the 20 m grid."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def size(self, res: int) -> tuple[int, int]:
        """(width, height) in pixels of ``res`` metres."""
        return round((self.maxx - self.minx) / res), round((self.maxy - self.miny) / res)


def _snap(v: float, up: bool) -> float:
    """``v`` moved down (or ``up``) onto the grid; a value already on it stays."""
    steps = math.ceil(v / GRID_STEP - 1e-9) if up else math.floor(v / GRID_STEP + 1e-9)
    return float(steps * GRID_STEP)


def plan_tiles(aoi_utm: BaseGeometry, epsg: int, tile_size: int) -> list[Tile]:
    """Tiles of at most about ``tile_size`` 10 m pixels a side covering ``aoi_utm`` (a shape in
    UTM zone ``epsg``) and :data:`MARGIN` around it, split by sentinelhub's
    :class:`~sentinelhub.BBoxSplitter` and snapped outwards onto the 20 m grid; in a stable
    order (north to south, west to east)."""
    from sentinelhub import CRS, BBoxSplitter

    size = max(GRID_STEP, (tile_size * 10 // GRID_STEP) * GRID_STEP)
    area = aoi_utm.buffer(MARGIN, join_style="mitre")
    splitter = BBoxSplitter([area], CRS(epsg), split_size=size)
    tiles = {
        Tile(_snap(b.min_x, False), _snap(b.min_y, False), _snap(b.max_x, True),
             _snap(b.max_y, True))
        for b in splitter.get_bbox_list()
    }
    return sorted(tiles, key=lambda t: (-t.maxy, t.minx))


def extent(tiles: Sequence[Tile]) -> Tile:
    """The union of ``tiles`` (the extent of a scene's files)."""
    return Tile(min(t.minx for t in tiles), min(t.miny for t in tiles),
                max(t.maxx for t in tiles), max(t.maxy for t in tiles))


def _profile(full: Tile, epsg: int, band: ShBand) -> dict[str, Any]:
    from rasterio.transform import from_origin

    w, h = full.size(band.res)
    return {
        "driver": "GTiff", "width": w, "height": h, "count": 1, "crs": f"EPSG:{epsg}",
        "transform": from_origin(full.minx, full.maxy, band.res, band.res),
        "dtype": "uint8" if band.is_scl else "uint16", "nodata": 0, "compress": "deflate",
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }


class SceneFiles:
    """The open GeoTIFFs of one scene being written (``.tmp`` names until :meth:`close`)."""

    def __init__(self, folder: Path, full: Tile, epsg: int) -> None:
        import rasterio

        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.full = folder, full
        self.paths = {b.key: folder / f"{b.key}.tif" for b in BANDS}
        # per process: two runs fetching the same scene never write the same file
        self._tmp = {k: p.with_name(f".{p.name}.{os.getpid()}.tmp") for k, p in self.paths.items()}
        self._ds = {
            b.key: rasterio.open(self._tmp[b.key], "w", **_profile(full, epsg, b)) for b in BANDS
        }

    def write(self, tile: Tile, bands: Sequence[ShBand], data: np.ndarray) -> None:
        """Write one Process API answer (``(h, w, bands)`` or ``(h, w)``) at ``tile``."""
        from rasterio.windows import Window

        arr = data[..., None] if data.ndim == 2 else data
        res = bands[0].res
        w, h = tile.size(res)
        if arr.shape[:2] != (h, w) or arr.shape[2] != len(bands):
            from rs.errors import SourceError

            raise SourceError(
                f"Sentinel Hub answered a {arr.shape} array for a {h} x {w} x {len(bands)} "
                "request: the Process API evalscript or output format is not what rs sent"
            )
        col = round((tile.minx - self.full.minx) / res)
        row = round((self.full.maxy - tile.maxy) / res)
        for k, band in enumerate(bands):
            ds = self._ds[band.key]
            ds.write(arr[:, :, k].astype(ds.dtypes[0]), 1, window=Window(col, row, w, h))

    def close(self, keep: bool) -> None:
        """Close the files; move them into place when ``keep``, else remove them."""
        for key, ds in self._ds.items():
            ds.close()
            if keep:
                os.replace(self._tmp[key], self.paths[key])
            else:
                self._tmp[key].unlink(missing_ok=True)


def write_tiles(files: SceneFiles, tile: Tile, results: dict[int, np.ndarray]) -> None:
    """Write the answers of one tile: ``results`` maps a resolution (10, 20) to its array."""
    for res, data in results.items():
        files.write(tile, [b for b in BANDS if b.res == res], data)


def _lonlat_box(full: Tile, epsg: int) -> BaseGeometry:
    """The lon/lat outline of ``full`` (edges densified, so the footprint follows the UTM box)."""
    import shapely
    from pyproj import Transformer

    ring = shapely.segmentize(box(full.minx, full.miny, full.maxx, full.maxy), 200.0)
    to_ll = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
    xs, ys = to_ll.transform(*np.asarray(ring.exterior.coords).T)
    return shapely.Polygon(list(zip(xs, ys, strict=True)))


def scene_item(
    scene_id: str,
    when: datetime,
    properties: dict[str, Any],
    footprint: dict[str, Any] | None,
    files: SceneFiles,
    epsg: int,
) -> pystac.Item:
    """The STAC item of one fetched scene: local file assets with the keys, ``raster:bands``
    (uint16 DN, scale 1e-4, nodata 0; SCL unscaled) and ``proj:*`` rs's loader reads. Its
    geometry is the scene's footprint clipped to the fetched extent."""
    from pystac.extensions.eo import Band, EOExtension
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import DataType, RasterBand, RasterExtension

    full = files.full
    geom = _lonlat_box(full, epsg)
    if footprint:
        clipped = shape(footprint).intersection(geom)
        geom = clipped if not clipped.is_empty else geom
    item = pystac.Item(scene_id, mapping(geom), list(geom.bounds), when, dict(properties))
    item.collection_id = "sentinel-2-l2a"
    EOExtension.add_to(item)
    RasterExtension.add_to(item)
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{epsg}"
    proj.bbox = [full.minx, full.miny, full.maxx, full.maxy]
    for b in BANDS:
        asset = pystac.Asset(
            href=files.paths[b.key].resolve().as_uri(),
            media_type=pystac.MediaType.GEOTIFF,
            roles=["data", "cloud"] if b.is_scl else ["data"],
            title=f"{b.sh_id} ({b.res} m) from the Sentinel Hub Process API",
        )
        item.add_asset(b.key, asset)
        EOExtension.ext(asset).bands = [
            Band.create(name=b.sh_id, common_name=None if b.is_scl else b.key)
        ]
        RasterExtension.ext(asset).bands = [
            RasterBand.create(
                nodata=0,
                data_type=DataType.UINT8 if b.is_scl else DataType.UINT16,
                scale=None if b.is_scl else 1e-4,
                spatial_resolution=b.res,
            )
        ]
        pa = ProjectionExtension.ext(asset)
        pa.code = f"EPSG:{epsg}"
        pa.shape = list(full.size(b.res))[::-1]
        pa.transform = [float(b.res), 0.0, full.minx, 0.0, -float(b.res), full.maxy]
    return item


def save_item(item: pystac.Item, path: Path) -> None:
    """Write ``item`` to ``path`` atomically (the scene's files are complete once it exists)."""
    item.set_self_href(str(path))
    text = json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), indent=1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
