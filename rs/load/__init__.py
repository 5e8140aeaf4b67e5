"""Items -> lazy xarray (the I/O edge): band aliases, scale/offset, masks, odc-stac loading.

Public API::

    load_optical(items, bands, *, crs=None, resolution=None, geopolygon=None, bbox=None,
                 chunks=None, mask=("cloud", "shadow", "snow"), groupby="solar_day",
                 resampling=None) -> xarray.Dataset
    check_assets(items, bands, *, on_error="skip", max_workers=8)
        -> (readable_items, [SkippedScene(item_id, asset, reason, href)])
"""

from __future__ import annotations

from rs.load._chunks import load_chunks, reduction_chunks
from rs.load._preflight import SkippedScene, check_assets
from rs.load._scale import ScaleOffset, apply_scale_offset, scale_offset_for
from rs.load.bands import COMMON_BANDS, MASK_BANDS, detect_product, resolve_assets
from rs.load.block import load_block
from rs.load.masks import (
    DEFAULT_MASK,
    MASK_CLASSES,
    bqa_c1_mask,
    decode_bqa_c1,
    qa_pixel_flags,
    qa_pixel_mask,
    scl_mask,
)
from rs.load.optical import DEFAULT_LOAD_MASK, load_optical

__all__ = [
    "COMMON_BANDS",
    "DEFAULT_LOAD_MASK",
    "DEFAULT_MASK",
    "MASK_BANDS",
    "MASK_CLASSES",
    "ScaleOffset",
    "SkippedScene",
    "apply_scale_offset",
    "bqa_c1_mask",
    "check_assets",
    "decode_bqa_c1",
    "detect_product",
    "load_block",
    "load_chunks",
    "load_optical",
    "qa_pixel_flags",
    "qa_pixel_mask",
    "reduction_chunks",
    "resolve_assets",
    "scale_offset_for",
    "scl_mask",
]
