"""The only place rs writes outputs: COGs, tables, vector layers, quicklooks, STAC items.

Every writer is atomic (temporary file + rename) and returns :class:`OutputAsset` descriptions
for the product's STAC item. Names are imported on first use, so ``import rs.export.cog`` does
not pull in geopandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "atomic_path": "rs.export._atomic",
    "check_writable": "rs.export._atomic",
    "CogWriter": "rs.export.cog",
    "GridSpec": "rs.export.raster",
    "RasterBand": "rs.export.raster",
    "check_nodata": "rs.export.raster",
    "raster_asset": "rs.export.raster",
    "write_table": "rs.export.tables",
    "write_vector": "rs.export.vectors",
    "Quicklook": "rs.export.quicklook",
    "quicklook_asset": "rs.export.quicklook",
    "write_quicklook": "rs.export.quicklook",
    "OutputAsset": "rs.export.stac_items",
    "file_asset": "rs.export.stac_items",
    "output_item": "rs.export.stac_items",
    "read_output_items": "rs.export.stac_items",
    "refresh_catalog": "rs.export.stac_items",
    "write_output_item": "rs.export.stac_items",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rs.export' has no attribute {name!r}")
