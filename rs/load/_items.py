"""Item metadata of older STAC schemas rewritten to what odc-stac parses (pure, on copies).

Older USGS items (STAC 1.0.0-beta.2, asset keys like ``SR_B4.TIF``) list ``eo:bands`` once on the
item and give each asset the *indexes* into that list (``"eo:bands": [3]``); odc-stac expects
band objects there and fails. :func:`normalise_items` replaces the indexes by the item's band
objects (or drops entries it cannot resolve). Items that need nothing are returned as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pystac

__all__ = ["normalise_items"]


def _fixed_bands(asset_bands: Any, item_bands: Any) -> list[Any] | None:
    """Band objects for an asset's ``eo:bands``, or ``None`` when they need no change."""
    if not isinstance(asset_bands, list) or all(isinstance(b, dict) for b in asset_bands):
        return None
    table = item_bands if isinstance(item_bands, list) else []
    out: list[Any] = []
    for b in asset_bands:
        if isinstance(b, dict):
            out.append(b)
        elif isinstance(b, int) and 0 <= b < len(table) and isinstance(table[b], dict):
            out.append(table[b])
    return out


def normalise_items(items: Sequence[pystac.Item]) -> list[pystac.Item]:
    """``items`` with index-style asset ``eo:bands`` resolved (changed items are copies)."""
    out: list[pystac.Item] = []
    for item in items:
        fixes = {
            key: fixed
            for key, asset in item.assets.items()
            if (fixed := _fixed_bands(asset.extra_fields.get("eo:bands"),
                                      item.properties.get("eo:bands"))) is not None
        }
        if not fixes:
            out.append(item)
            continue
        copy = item.clone()
        for key, bands in fixes.items():
            copy.assets[key].extra_fields["eo:bands"] = bands
        out.append(copy)
    return out
