"""Preflight: open every needed asset header before building a load graph (I/O).

A scene whose asset is missing or is not a raster becomes a :class:`SkippedScene` row (policy
``on_error="skip"``) or an :class:`~rs.errors.AssetReadError` naming item, asset and href
(``on_error="fail"``). Only headers are read: this is cheap and catches dead links before Dask
workers hit them mid-computation.

Every reader (``rs.load.readers``) ends its preflight with :func:`raise_or_report`, the one
place the skip/fail policy is applied, and finds local files with :func:`local_path`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import unquote, urlparse

import pystac
import rasterio
from rasterio.errors import RasterioError

from rs.errors import AssetReadError, SourceError
from rs.load.bands import detect_product, mask_band_for, resolve_assets

__all__ = [
    "GDAL_ENV",
    "OnError",
    "SkippedScene",
    "check_assets",
    "local_file",
    "local_path",
    "raise_or_report",
]

OnError = Literal["skip", "fail"]

#: why a swath or table input with a remote href is skipped
REMOTE_FILES = "remote files are not supported yet; use a folder source"

_SKIP_HINT = "skip such inputs (on_error='skip'; in a pipeline spec on_scene_error: skip)"

_T = TypeVar("_T")

#: GDAL options for header reads: do not list sibling files (slow on object stores).
GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


@dataclass(frozen=True)
class SkippedScene:
    """One scene left out of a run, and why (a row of the run report)."""

    item_id: str
    asset: str
    reason: str
    href: str = ""


def local_path(href: str) -> Path | None:
    """The local path of a ``file://`` URI or a plain path; ``None`` for other schemes.

    >>> local_path("file:///data/a%20b.nc"), local_path("https://h/x.nc")
    (PosixPath('/data/a b.nc'), None)
    """
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if len(parsed.scheme) <= 1:  # no scheme, or a Windows drive letter ("C:\\data\\x.tif")
        return Path(href)
    return None


def local_file(ref_id: str, href: str) -> Path | SkippedScene:
    """The local file of a swath or table input, or why it cannot be used (a row of the run
    report): a remote href, or no file there."""
    path = local_path(href)
    if path is None:
        return SkippedScene(ref_id, "file", REMOTE_FILES, href)
    if not path.is_file():
        return SkippedScene(ref_id, "file", "file not found", href)
    return path


def _gdal_path(href: str) -> str:
    """What GDAL opens for ``href``: the local path of a file, else the URL as given."""
    path = local_path(href)
    return href if path is None else str(path)


def raise_or_report(
    inputs: Sequence[_T], reasons: Sequence[SkippedScene | None], on_error: OnError, what: str
) -> tuple[list[_T], list[SkippedScene]]:
    """Split ``inputs`` by ``reasons`` (``None`` = usable), or raise for the first bad one.

    ``reasons[n]`` is why ``inputs[n]`` cannot be used. With ``on_error="fail"`` the first bad
    input (in input order) raises :class:`AssetReadError` naming ``what``, its id, asset, href
    and reason; with ``"skip"`` returns the usable inputs (order kept) and the bad ones' rows.
    """
    if on_error not in ("skip", "fail"):
        raise ValueError(f"on_error must be 'skip' or 'fail', got {on_error!r}")
    bad = [r for r in reasons if r is not None]
    if on_error == "fail" and bad:
        first = bad[0]
        raise AssetReadError(
            f"{what} {first.item_id!r}: {first.asset!r} at {first.href or '(no href)'} is "
            f"unusable ({first.reason}); fix or remove it, or {_SKIP_HINT}"
        )
    good = [x for x, r in zip(inputs, reasons, strict=True) if r is None]
    return good, bad


def _open_header(href: str) -> str | None:
    """``None`` when ``href`` opens as a raster with at least one band, else the reason."""
    try:
        with rasterio.Env(**GDAL_ENV), rasterio.open(_gdal_path(href)) as src:
            if src.count < 1:
                return "raster has no bands"
    except (RasterioError, OSError) as e:
        return f"cannot open as raster: {e}"
    return None


@dataclass(frozen=True)
class _Check:
    item: pystac.Item
    asset: str
    href: str


def check_assets(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    on_error: OnError = "skip",
    with_mask: bool = False,
    max_workers: int = 8,
) -> tuple[list[pystac.Item], list[SkippedScene]]:
    """Open the header of every asset ``bands`` (common names) need, in threads.

    With ``with_mask`` the product's cloud-mask band (SCL or QA_PIXEL) is checked too.

    Returns the items whose assets all open (input order kept) and one :class:`SkippedScene` per
    skipped item (its first failing asset). With ``on_error="fail"`` the first failure (in input
    order) raises :class:`AssetReadError` naming the item, asset and href.
    """
    if on_error not in ("skip", "fail"):  # before any header is opened
        raise ValueError(f"on_error must be 'skip' or 'fail', got {on_error!r}")
    checks: list[_Check] = []
    failures: dict[int, SkippedScene] = {}
    for n, item in enumerate(items):
        try:
            product = detect_product(item.properties, list(item.assets), item.collection_id)
            wanted = [*bands, mask_band_for(product)] if with_mask else list(bands)
            _, keys = resolve_assets(product, list(item.assets), wanted, item.properties)
        except SourceError as e:
            failures[n] = SkippedScene(item.id, ",".join(bands), f"bands not available: {e}")
            continue
        checks.extend(_Check(item, key, item.assets[key].href) for key in keys.values())

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        opened = list(pool.map(lambda c: _open_header(c.href), checks))

    index = {id(item): n for n, item in enumerate(items)}
    for check, reason in zip(checks, opened, strict=True):
        n = index[id(check.item)]
        if reason is not None and n not in failures:
            failures[n] = SkippedScene(check.item.id, check.asset, reason, check.href)

    reasons = [failures.get(n) for n in range(len(items))]
    return raise_or_report(items, reasons, on_error, "item")
