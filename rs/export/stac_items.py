"""STAC items for outputs, and the output folder's catalog.

Layout inside an output folder::

    catalog.json              links to every item below (rebuilt on each write)
    items/<item-id>.json      one item per product run; asset hrefs relative to the item
    <files>                   the COGs, PNGs and tables the items describe

Each item records the input scene ids, the parameters, the rs version and a run key, so a
scheduled job can tell whether a product is already up to date.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from rs.export._atomic import atomic_path

__all__ = [
    "OutputAsset",
    "output_item",
    "read_output_items",
    "refresh_catalog",
    "write_output_item",
]

CATALOG_ID = "rs-outputs"


@dataclass(frozen=True)
class OutputAsset:
    """One file of a product run, described for its STAC item."""

    key: str
    path: Path
    media_type: str
    roles: tuple[str, ...] = ("data",)
    title: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _write_json(path: Path, obj: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")


def output_item(
    out_dir: Path,
    *,
    item_id: str,
    geometry: BaseGeometry,
    start: dt.datetime,
    end: dt.datetime,
    assets: Sequence[OutputAsset],
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """The item dict for ``items/<item_id>.json`` of ``out_dir`` (asset paths as they will be)."""
    item_dir = Path(out_dir) / "items"
    item = pystac.Item(
        id=item_id,
        geometry=mapping(geometry),
        bbox=list(geometry.bounds),
        datetime=None,
        start_datetime=start,
        end_datetime=end,
        properties={"created": dt.datetime.now(dt.UTC).isoformat(), **properties},
    )
    for a in assets:
        item.add_asset(
            a.key,
            pystac.Asset(
                href=os.path.relpath(a.path, item_dir),
                media_type=a.media_type,
                roles=list(a.roles),
                title=a.title,
                extra_fields=dict(a.extra),
            ),
        )
    d = item.to_dict(include_self_link=False, transform_hrefs=False)
    d["links"] = [
        {"rel": "root", "href": "../catalog.json", "type": "application/json"},
        {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
    ]
    return d


def write_output_item(out_dir: Path, item: Mapping[str, Any]) -> Path:
    """Write ``item`` (from :func:`output_item`) as ``items/<id>.json`` and refresh the catalog."""
    item_path = Path(out_dir) / "items" / f"{item['id']}.json"
    _write_json(item_path, item)
    refresh_catalog(out_dir)
    return item_path


def read_output_items(out_dir: Path) -> list[dict[str, Any]]:
    """All output item dicts of ``out_dir`` (empty if none), sorted by id."""
    items_dir = Path(out_dir) / "items"
    if not items_dir.is_dir():
        return []
    out = []
    for p in sorted(items_dir.glob("*.json")):
        try:
            out.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue  # an unreadable item is treated as absent: the product is rebuilt
    return out


def refresh_catalog(out_dir: Path) -> None:
    """Rewrite ``catalog.json`` with a link to every item in ``items/``."""
    links: list[dict[str, Any]] = [
        {"rel": "root", "href": "./catalog.json", "type": "application/json"},
    ]
    for d in read_output_items(out_dir):
        links.append(
            {"rel": "item", "href": f"./items/{d['id']}.json", "type": "application/geo+json"}
        )
    catalog = pystac.Catalog(id=CATALOG_ID, description="Products written by rs").to_dict(
        include_self_link=False
    )
    catalog["links"] = links
    _write_json(Path(out_dir) / "catalog.json", catalog)
