"""Read one block of a grid now, inside a Dask task, isolating scenes with corrupt pixels (I/O)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import pystac
import xarray as xr
from odc.geo.geobox import GeoBox
from rasterio.errors import RasterioError

from rs.errors import AssetReadError
from rs.load._preflight import SkippedScene
from rs.load.optical import DEFAULT_LOAD_MASK, load_optical

__all__ = ["load_block"]


class _DropReadFailureLog(logging.Filter):
    """odc-stac logs every failed read at ERROR before raising; rs reports them itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to load")


logging.getLogger("odc.loader._rio").addFilter(_DropReadFailureLog())

_READ_ERRORS = (RasterioError, OSError)


def load_block(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    geobox: GeoBox,
    mask: Sequence[str] | None = DEFAULT_LOAD_MASK,
    on_error: Literal["skip", "fail"] = "fail",
) -> tuple[xr.Dataset | None, list[SkippedScene]]:
    """Read one block of a grid now (numpy-backed), isolating scenes whose pixels are unreadable.

    Headers are checked before a run (:func:`rs.load.check_assets`); a file whose header opens
    but whose pixel data is corrupt is only found here. On a read failure every scene is tried
    alone to find the culprits: with ``on_error="skip"`` they are left out and returned as
    :class:`SkippedScene` rows (the dataset is ``None`` if no scene is left); with ``"fail"`` an
    :class:`AssetReadError` names the first one.
    """
    items = list(items)
    try:
        return load_optical(items, bands, geobox=geobox, lazy=False, mask=mask), []
    except _READ_ERRORS as e:
        first = str(e)
    # Raised outside the except blocks on purpose: no rasterio exception is chained to the
    # AssetReadError, so it crosses to the Dask client intact (the message carries the cause).
    bad = [s for s in (_probe(item, bands, geobox, mask) for item in items) if s is not None]
    if not bad:
        raise AssetReadError(f"reading a block failed: {first}")
    if on_error == "fail":
        raise AssetReadError(
            f"item {bad[0].item_id!r}: {bad[0].reason}; fix or remove the scene, or skip "
            "such scenes (on_error='skip'; in a pipeline spec on_scene_error: skip)"
        )
    skipped = {b.item_id for b in bad}
    good = [it for it in items if it.id not in skipped]
    if not good:
        return None, bad
    return load_optical(good, bands, geobox=geobox, lazy=False, mask=mask), bad


def _probe(
    item: pystac.Item, bands: Sequence[str], geobox: GeoBox, mask: Sequence[str] | None
) -> SkippedScene | None:
    """Read ``item`` alone over ``geobox``: ``None`` if it reads, else why not."""
    try:
        load_optical([item], bands, geobox=geobox, lazy=False, mask=mask)
    except _READ_ERRORS as e:
        return SkippedScene(item.id, ",".join(bands), f"pixel data unreadable: {e}")
    return None
