"""Preflight: open every needed asset header before building a load graph (I/O).

A scene whose asset is missing or is not a raster becomes a :class:`SkippedScene` row (policy
``on_error="skip"``) or an :class:`~rs.errors.AssetReadError` naming item, asset and href
(``on_error="fail"``). Only headers are read: this is cheap and catches dead links before Dask
workers hit them mid-computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlparse

import pystac
import rasterio
from rasterio.errors import RasterioError

from rs.errors import AssetReadError, SourceError
from rs.load.bands import detect_product, mask_band_for, resolve_assets

__all__ = ["GDAL_ENV", "OnError", "SkippedScene", "check_assets"]

OnError = Literal["skip", "fail"]

#: GDAL options for header reads: do not list sibling files (slow on object stores).
GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


@dataclass(frozen=True)
class SkippedScene:
    """One scene left out of a run, and why (a row of the run report)."""

    item_id: str
    asset: str
    reason: str
    href: str = ""


def _gdal_path(href: str) -> str:
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return href


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
    if on_error not in ("skip", "fail"):
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
        reasons = list(pool.map(lambda c: _open_header(c.href), checks))

    index = {id(item): n for n, item in enumerate(items)}
    for check, reason in zip(checks, reasons, strict=True):
        n = index[id(check.item)]
        if reason is not None and n not in failures:
            failures[n] = SkippedScene(check.item.id, check.asset, reason, check.href)

    if on_error == "fail" and failures:
        first = failures[min(failures)]
        raise AssetReadError(
            f"item {first.item_id!r}: asset {first.asset!r} at {first.href or '(no href)'} "
            f"is unreadable ({first.reason}); fix or remove the scene, or skip such scenes "
            "(on_error='skip'; in a pipeline spec on_scene_error: skip)"
        )
    readable = [item for n, item in enumerate(items) if n not in failures]
    return readable, [failures[n] for n in sorted(failures)]
