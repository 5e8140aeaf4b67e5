"""rs: ecological monitoring products from satellite scenes.

The public API is re-exported here; heavy modules are imported on first use so that
``import rs`` (and ``rs --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rs.errors import (
    AoiError,
    AssetReadError,
    ClusterError,
    NoScenesError,
    OutputError,
    RsError,
    ServerError,
    SourceError,
    SourceUnavailableError,
    SpecError,
)

__version__ = "0.1.0"

_LAZY = {
    "Aoi": "rs.aoi",
    "load_aoi": "rs.aoi",
    "search_items": "rs.sources.stac",
    "EmbeddedStacApi": "rs.sources.local",
    "build_api_files": "rs.sources.local",
    "load_optical": "rs.load",
    "check_assets": "rs.load",
    "temporal_composite": "rs.composite",
    "compute_indices": "rs.indices",
    "ndvi": "rs.indices",
    "load_spec": "rs.pipeline.spec",
    "run_pipeline": "rs.pipeline.runner",
}

__all__ = [
    "Aoi",
    "AoiError",
    "AssetReadError",
    "ClusterError",
    "EmbeddedStacApi",
    "NoScenesError",
    "OutputError",
    "RsError",
    "ServerError",
    "SourceError",
    "SourceUnavailableError",
    "SpecError",
    "__version__",
    "build_api_files",
    "check_assets",
    "compute_indices",
    "load_aoi",
    "load_optical",
    "load_spec",
    "ndvi",
    "run_pipeline",
    "search_items",
    "temporal_composite",
]

if TYPE_CHECKING:
    from rs.aoi import Aoi, load_aoi
    from rs.composite import temporal_composite
    from rs.indices import compute_indices, ndvi
    from rs.load import check_assets, load_optical
    from rs.pipeline.runner import run_pipeline
    from rs.pipeline.spec import load_spec
    from rs.sources.local import EmbeddedStacApi, build_api_files
    from rs.sources.stac import search_items


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rs' has no attribute {name!r}")
