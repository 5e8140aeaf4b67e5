"""rs: ecological monitoring products from satellite scenes."""

from __future__ import annotations

from rs.errors import (
    AoiError,
    AssetReadError,
    NoScenesError,
    OutputError,
    RsError,
    ServerError,
    SourceError,
    SourceUnavailableError,
    SpecError,
)

__version__ = "0.1.0"

__all__ = [
    "AoiError",
    "AssetReadError",
    "NoScenesError",
    "OutputError",
    "RsError",
    "ServerError",
    "SourceError",
    "SourceUnavailableError",
    "SpecError",
    "__version__",
]
