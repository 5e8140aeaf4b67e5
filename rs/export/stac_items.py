"""STAC items for outputs, and the output folder's catalog.

Layout inside an output folder::

    catalog.json              links to every item below (rebuilt on each write)
    items/<item-id>.json      one item per product run; asset hrefs relative to the item
    <files>                   the COGs, PNGs and tables the items describe

Each item records the input scene ids, the parameters, the rs version and a run key, so a
scheduled job can tell whether a product is already up to date. Items link to the items they
were made from (``derived_from``) and declare in ``stac_extensions`` every extension whose
fields they use (see :data:`EXTENSIONS`), so they validate against the published schemas.
"""

from __future__ import annotations

import contextlib
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
    "EXTENSIONS",
    "OutputAsset",
    "file_asset",
    "item_extensions",
    "output_item",
    "read_output_items",
    "refresh_catalog",
    "write_output_item",
]

CATALOG_ID = "rs-outputs"

#: field prefix -> schema URI of the extension version whose fields rs writes
EXTENSIONS: Mapping[str, str] = {
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "table": "https://stac-extensions.github.io/table/v1.2.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
}


@dataclass(frozen=True)
class OutputAsset:
    """One file of a product run, described for its STAC item."""

    key: str
    path: Path
    media_type: str
    roles: tuple[str, ...] = ("data",)
    title: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


#: the field prefix of rs's own fields (``rs:inputs``, ``rs:value_range``, ...): no schema
OWN_PREFIX = "rs"


def file_asset(
    key: str,
    path: Path,
    media_type: str,
    *,
    roles: Sequence[str] = ("data",),
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> OutputAsset:
    """The asset of the file at ``path``: ``extra`` plus ``file:size`` (file extension v2.1)
    when the file exists already (a file not written yet gets no size)."""
    fields = dict(extra or {})
    with contextlib.suppress(FileNotFoundError):
        fields["file:size"] = Path(path).stat().st_size
    return OutputAsset(key, Path(path), media_type, tuple(roles), title, fields)


def item_extensions(item: Mapping[str, Any]) -> list[str]:
    """Schema URIs of the :data:`EXTENSIONS` whose fields ``item`` uses (properties, assets,
    links).

    A prefixed field (``prefix:name``) whose prefix is neither in :data:`EXTENSIONS` nor
    ``rs`` is a ``ValueError``: the item would use an extension it cannot declare.
    """
    used: set[str] = set()

    def scan(fields: Mapping[str, Any]) -> None:
        for k in fields:
            if ":" not in k:
                continue
            prefix = k.split(":", 1)[0]
            if prefix in EXTENSIONS:
                used.add(EXTENSIONS[prefix])
            elif prefix != OWN_PREFIX:
                known = ", ".join(sorted([*EXTENSIONS, OWN_PREFIX]))
                raise ValueError(
                    f"field {k!r} has the prefix {prefix!r} of an extension rs does not declare; "
                    f"use a known prefix ({known}) or add the extension to EXTENSIONS"
                )

    scan(item.get("properties", {}))
    for asset in item.get("assets", {}).values():
        scan(asset)
    for link in item.get("links", []):
        scan(link)
    return sorted(used)


def _link(link: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(link.get("rel"), str) or not isinstance(link.get("href"), str):
        raise ValueError(f"a link needs string 'rel' and 'href' fields, got {dict(link)!r}")
    return dict(link)


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
    derived_from: Sequence[str] = (),
    extra_links: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The item dict for ``items/<item_id>.json`` of ``out_dir`` (asset paths as they will be).

    ``derived_from`` names the ids of the output items (in the same ``items/`` folder) this
    product was made from; each becomes a ``derived_from`` link. ``extra_links`` are added as
    given (each needs ``rel`` and ``href``). ``stac_extensions`` lists every extension of
    :data:`EXTENSIONS` whose fields appear in the properties, assets or links.
    """
    _item_file(item_id)
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
        *(
            {"rel": "derived_from", "href": f"./{_item_file(i)}", "type": "application/geo+json"}
            for i in dict.fromkeys(derived_from)
        ),
        *(_link(link) for link in extra_links),
    ]
    d["stac_extensions"] = sorted({*d.get("stac_extensions", []), *item_extensions(d)})
    # exactly what write_output_item writes: JSON types only (lists, not shapely's tuples)
    out: dict[str, Any] = json.loads(json.dumps(d, default=str))
    return out


def _item_file(item_id: str) -> str:
    if not item_id or "/" in item_id or "\\" in item_id or item_id in {".", ".."}:
        raise ValueError(f"{item_id!r} is not an output item id (a file name without folders)")
    return f"{item_id}.json"


def write_output_item(out_dir: Path, item: Mapping[str, Any]) -> Path:
    """Write ``item`` (from :func:`output_item`) as ``items/<id>.json`` and refresh the catalog."""
    item_path = Path(out_dir) / "items" / _item_file(str(item["id"]))
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
    """Rewrite ``catalog.json`` with a link to every item file in ``items/`` (by file name:
    items are written as ``<id>.json``, so nothing is parsed)."""
    items_dir = Path(out_dir) / "items"
    names = sorted(p.name for p in items_dir.glob("*.json")) if items_dir.is_dir() else []
    links: list[dict[str, Any]] = [
        {"rel": "root", "href": "./catalog.json", "type": "application/json"},
        *({"rel": "item", "href": f"./items/{n}", "type": "application/geo+json"} for n in names),
    ]
    catalog = pystac.Catalog(id=CATALOG_ID, description="Products written by rs").to_dict(
        include_self_link=False
    )
    catalog["links"] = links
    _write_json(Path(out_dir) / "catalog.json", catalog)
