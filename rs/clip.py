"""Clip rasters to an area of interest (pure: xarray in, xarray out, lazy).

The polygon is rasterised block by block inside the Dask graph, so a large AOI never becomes
one big in-memory mask, and each block's task carries only the geometry.
"""

from __future__ import annotations

import warnings
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from affine import Affine
from odc.geo.geom import Geometry
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import geometry_mask
from shapely.geometry.base import BaseGeometry

__all__ = ["aoi_mask", "clip_to_aoi"]


def _mask_block(
    block: np.ndarray,
    transform: tuple[float, ...],
    geom: BaseGeometry,
    block_info: Any = None,
) -> np.ndarray:
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    # the transform travels as a plain tuple: dask would unpack an Affine (a namedtuple)
    t = Affine(*transform[:6]) @ Affine.translation(c0, r0)
    with warnings.catch_warnings():
        # rasterio warns spuriously for some small windows the geometry misses; t is explicit
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return geometry_mask(
            [geom], out_shape=(r1 - r0, c1 - c0), transform=t, invert=True, all_touched=False
        )


def aoi_mask(like: xr.DataArray, geom: BaseGeometry, crs: str = "EPSG:4326") -> xr.DataArray:
    """Boolean (y, x) DataArray, True where a pixel's centre lies inside ``geom``.

    The centre rule gives the same answer whatever the chunking (GDAL's "all touched" rule does
    not at block edges), so block-wise and whole-raster results are identical.

    Chunked like ``like`` when it is dask-backed; ``geom`` is given in ``crs``.
    """
    gbox = like.odc.geobox
    native = Geometry(geom, crs).to_crs(gbox.crs).geom
    ydim, xdim = like.odc.spatial_dims
    chunks = like.chunksizes
    shape = (like.sizes[ydim], like.sizes[xdim])
    transform = tuple(gbox.transform)[:6]
    data: np.ndarray | da.Array
    if chunks:
        template = da.zeros(shape, chunks=(chunks[ydim], chunks[xdim]), dtype=bool)
        data = template.map_blocks(
            _mask_block, transform, native, dtype=bool, meta=np.array((), dtype=bool)
        )
    else:  # numpy-backed: rasterise now (no graph inside what may already be a Dask task)
        whole = {None: {"array-location": [(0, shape[0]), (0, shape[1])]}}
        data = _mask_block(np.empty(0), transform, native, block_info=whole)
    return xr.DataArray(data, dims=(ydim, xdim), coords={ydim: like[ydim], xdim: like[xdim]})


def clip_to_aoi(ds: xr.Dataset, geom: BaseGeometry, crs: str = "EPSG:4326") -> xr.Dataset:
    """``ds`` with every pixel outside ``geom`` set to NaN (floating variables only)."""
    first = next(iter(ds.data_vars.values()))
    inside = aoi_mask(first, geom, crs)
    return ds.where(inside)
