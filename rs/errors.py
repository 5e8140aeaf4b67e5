"""One exception hierarchy for rs.

Every error a user can meet is an :class:`RsError` whose message says what to change.
The CLI maps the classes to exit codes (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "AoiError",
    "AssetReadError",
    "ClusterError",
    "EmptyProductError",
    "LocalSourceError",
    "NoScenesError",
    "OutputError",
    "RsError",
    "RsWarning",
    "RunLockedError",
    "ServerError",
    "SourceError",
    "SourceUnavailableError",
    "SpecError",
    "UnknownCollectionError",
    "exit_code_for",
]


class RsError(Exception):
    """Base class of every error rs raises on purpose."""


class RsWarning(UserWarning):
    """Base class of the warnings rs issues on purpose (the CLI shows them as one line)."""


class SpecError(RsError):
    """A pipeline spec (YAML) is malformed, has an unknown key or a bad value."""


class AoiError(RsError):
    """An area of interest cannot be read, is empty, invalid or in an unusable CRS."""


class SourceError(RsError):
    """A scene source (STAC API, Sentinel Hub) answered with something unusable."""


class SourceUnavailableError(SourceError):
    """A scene source could not be reached, even after retries."""


class NoScenesError(SourceError):
    """A search matched no scene: the AOI, dates or filters exclude everything."""


class UnknownCollectionError(SourceError):
    """A STAC API does not have a collection asked for (a misspelt or wrong-API id)."""


class LocalSourceError(SourceError):
    """A local file or folder to serve as STAC is not a STAC Item JSON or a usable GeoTIFF."""


class AssetReadError(RsError):
    """An asset (a raster file of a scene) cannot be opened or read."""


class EmptyProductError(RsError):
    """A product came out with no valid pixel: nothing worth publishing."""


class OutputError(RsError):
    """An output cannot be written (folder not writable, disk full, ...)."""


class ServerError(RsError):
    """The embedded STAC API could not be started or stopped cleanly."""


class ClusterError(RsError):
    """The Dask scheduler given could not be reached, or a local cluster could not start."""


class RunLockedError(RsError):
    """Another run of a pipeline writing to the same output folder holds its lock."""


#: Process exit codes used by the CLI. 1 is any other failure.
EXIT_CODES: dict[type[RsError], int] = {
    SpecError: 2,
    AoiError: 2,
    NoScenesError: 2,
    UnknownCollectionError: 2,
    LocalSourceError: 2,
    SourceUnavailableError: 3,
    SourceError: 3,
    AssetReadError: 4,
    OutputError: 5,
    EmptyProductError: 2,
    ServerError: 6,
    ClusterError: 3,
    RunLockedError: 7,
}


def exit_code_for(error: BaseException) -> int:
    """Exit code for ``error``: the most specific class in :data:`EXIT_CODES`, else 1."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1
