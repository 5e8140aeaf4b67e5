"""Build the files ``rustac serve`` loads: Collection JSON(s) and one items FeatureCollection.

:func:`build_api_files` turns folders of STAC Item JSON (such as the synthetic world of
:mod:`rs.testing`: ``<root>/<collection>/<item_id>/<item_id>.json``) and bare GeoTIFF files
into one Collection JSON per collection plus one items FeatureCollection JSON;
:func:`item_from_geotiff` makes the item of one bare GeoTIFF. Serving them is
:mod:`rs.sources.local`'s job, which re-exports these names.

Gotchas handled here:

- Asset hrefs are written as ``file://`` URIs. A bare absolute path would be resolved by
  pystac against the *API URL* (``http://127.0.0.1:PORT/tmp/...``) and fail to open.
- Every item carries ``proj:code`` (from ``proj:epsg``, its assets or the raster itself).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import rasterio
import rasterio.errors
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping, shape

from rs.errors import LocalSourceError, OutputError

__all__ = [
    "DEFAULT_COLLECTION",
    "ApiFiles",
    "build_api_files",
    "item_from_geotiff",
]

#: What a served path must be, for messages.
WHAT_TO_SERVE = (
    "give a STAC Item JSON file (a GeoJSON Feature with 'stac_version'), a GeoTIFF (.tif) "
    "whose name carries its date as YYYYMMDD or whose TIFFTAG_DATETIME tag is set, or a "
    "folder holding either"
)

#: Collection id given to items (bare GeoTIFFs, items without one) when none is chosen.
DEFAULT_COLLECTION = "local"

_STAC_VERSION = "1.1.0"
_PROJ_EXT = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
_RASTER_EXT = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
_TIFF_SUFFIXES = (".tif", ".tiff")
_GEOTIFF_TYPE = "image/tiff; application=geotiff"
_STRUCTURAL_RELS = {"self", "root", "parent", "collection", "items", "child", "item"}
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")


@dataclass(frozen=True)
class ApiFiles:
    """Files to load into ``rustac serve``: one JSON per collection and one items file."""

    collections: list[Path]
    items: Path


def _file_uri(href: str, base_dir: Path) -> str:
    """``href`` as an absolute ``file://`` URI when it is local; remote URLs unchanged."""
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return href
    if parsed.scheme and len(parsed.scheme) > 1:  # http, s3, ... (one letter: Windows drive)
        return href
    path = Path(href)
    return (path if path.is_absolute() else base_dir / path).resolve().as_uri()


def _proj_fields(src: rasterio.DatasetReader, path: Path) -> dict[str, Any]:
    """``proj:code`` (or ``proj:wkt2``) / ``proj:shape`` / ``proj:transform`` of an open raster."""
    if src.crs is None:
        raise LocalSourceError(
            f"{path} has no CRS; assign one before serving it (e.g. gdal_edit.py -a_srs EPSG:...)"
        )
    epsg = src.crs.to_epsg()
    proj: dict[str, Any] = {"proj:code": f"EPSG:{epsg}" if epsg else None}
    if epsg is None:
        proj["proj:wkt2"] = src.crs.to_wkt()
    proj["proj:shape"] = [src.height, src.width]
    proj["proj:transform"] = list(src.transform)[:6]
    return proj


def _raster_proj(path: Path) -> dict[str, Any]:
    """:func:`_proj_fields` of a raster file."""
    try:
        with rasterio.open(path) as src:
            return _proj_fields(src, path)
    except rasterio.errors.RasterioIOError as e:
        raise LocalSourceError(f"cannot read {path} as a GeoTIFF ({e})") from e


def _ensure_proj_code(item: dict[str, Any], where: Path) -> None:
    props = item["properties"]
    if props.get("proj:code"):
        return
    if props.get("proj:epsg"):
        props["proj:code"] = f"EPSG:{int(props['proj:epsg'])}"
        return
    codes = set()
    for asset in item.get("assets", {}).values():
        if asset.get("proj:code"):
            codes.add(asset["proj:code"])
        elif asset.get("proj:epsg"):
            codes.add(f"EPSG:{int(asset['proj:epsg'])}")
    if len(codes) == 1:
        props["proj:code"] = codes.pop()
        return
    from rs.load._preflight import local_path  # here: rs.load imports odc-stac, dask, xarray

    for asset in item.get("assets", {}).values():
        path = local_path(asset.get("href", ""))
        if path is not None and path.suffix.lower() in _TIFF_SUFFIXES and path.exists():
            code = _raster_proj(path)["proj:code"]
            if code:
                props["proj:code"] = code
                return
    raise LocalSourceError(
        f"item {item.get('id')!r} in {where} has no proj:code (nor proj:epsg, nor a readable "
        "local GeoTIFF asset); add properties['proj:code'] like 'EPSG:32650'"
    )


def _normalise_item(raw: dict[str, Any], where: Path, collection_id: str | None) -> dict[str, Any]:
    item = json.loads(json.dumps(raw))  # deep copy, JSON-clean
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise LocalSourceError(f"{where} is a STAC item without an id")
    item.setdefault("stac_version", _STAC_VERSION)
    item.setdefault("properties", {})
    item["collection"] = collection_id or item.get("collection") or DEFAULT_COLLECTION
    for asset in item.get("assets", {}).values():
        if isinstance(asset.get("href"), str):
            asset["href"] = _file_uri(asset["href"], where.parent)
    item["links"] = [
        link
        for link in item.get("links", [])
        if link.get("rel") not in _STRUCTURAL_RELS
        and not (isinstance(link.get("href"), str) and not urlparse(link["href"]).scheme)
    ]
    if item.get("geometry") and not item.get("bbox"):
        item["bbox"] = list(shape(item["geometry"]).bounds)
    _ensure_proj_code(item, where)
    exts = item.setdefault("stac_extensions", [])
    if not any("/projection/" in e for e in exts):
        exts.append(_PROJ_EXT)
    return item


def _tiff_datetime(path: Path, tags: dict[str, str]) -> dt.datetime:
    value = tags.get("TIFFTAG_DATETIME", "").strip()
    if value:
        for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)
            except ValueError:
                continue
    for match in _DATE_IN_NAME.finditer(path.stem):
        try:
            year, month, day = (int(g) for g in match.groups())
            return dt.datetime(year, month, day, tzinfo=dt.UTC)
        except ValueError:
            continue
    raise LocalSourceError(
        f"cannot tell the acquisition date of {path}: it has no TIFFTAG_DATETIME tag and no "
        "YYYYMMDD in its name. Rename it (e.g. scene_20220415.tif) or set the tag "
        "(gdal_edit.py -mo TIFFTAG_DATETIME='2022:04:15 02:50:00' FILE)"
    )


def item_from_geotiff(path: Path, collection_id: str | None = None) -> dict[str, Any]:
    """A STAC item dict for one GeoTIFF: footprint in EPSG:4326, proj:*, one asset ``data``."""
    path = Path(path).resolve()
    try:
        with rasterio.open(path) as src:
            proj = _proj_fields(src, path)
            bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
            tags = src.tags()
            bands = [
                {
                    "data_type": str(src.dtypes[i]),
                    **({"nodata": src.nodata} if src.nodata is not None else {}),
                }
                for i in range(src.count)
            ]
    except rasterio.errors.RasterioIOError as e:
        raise LocalSourceError(
            f"cannot read {path} as a GeoTIFF ({e}): {WHAT_TO_SERVE}"
        ) from e
    when = _tiff_datetime(path, tags)
    props: dict[str, Any] = {"datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    props.update({k: v for k, v in proj.items() if v is not None})
    return {
        "type": "Feature",
        "stac_version": _STAC_VERSION,
        "stac_extensions": [_PROJ_EXT, _RASTER_EXT],
        "id": path.stem,
        "collection": collection_id or DEFAULT_COLLECTION,
        "geometry": mapping(box(*bounds)),
        "bbox": list(bounds),
        "properties": props,
        "links": [],
        "assets": {
            "data": {
                "href": path.as_uri(),
                "type": _GEOTIFF_TYPE,
                "roles": ["data"],
                "raster:bands": bands,
                **{k: v for k, v in proj.items() if v is not None},
            }
        },
    }


def _walk_json(folder: Path) -> Iterator[Path]:
    """JSON files under ``folder``, sorted, skipping hidden folders (like ``.git``)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".json"):
                yield Path(dirpath) / name


def _walk_tiffs(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in _TIFF_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _read_stac(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and "stac_version" in data:
        return data
    return None


def _time_range(item: dict[str, Any]) -> tuple[str, str]:
    props = item["properties"]
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    if not start or not end:
        raise LocalSourceError(f"item {item['id']!r} has neither datetime nor start/end_datetime")
    return _iso(start), _iso(end)


def _iso(value: str) -> str:
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise LocalSourceError(
            f"{value!r} is not an RFC 3339 date-time; write item datetimes like "
            "'2022-04-15T02:50:00Z'"
        ) from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _collection(cid: str, items: list[dict[str, Any]], base: dict[str, Any] | None) -> dict:
    boxes = [it["bbox"] for it in items if it.get("bbox")]
    spatial = (
        [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[-2] for b in boxes),
            max(b[-1] for b in boxes),
        ]
        if boxes
        else [-180.0, -90.0, 180.0, 90.0]
    )
    ranges = [_time_range(it) for it in items]
    col = {k: v for k, v in (base or {}).items() if k not in ("links", "extent")}
    col.update(type="Collection", stac_version=col.get("stac_version", _STAC_VERSION), id=cid)
    col.setdefault("description", f"Items served from local files ({cid})")
    col.setdefault("license", "other")
    col["extent"] = {
        "spatial": {"bbox": [spatial]},
        "temporal": {"interval": [[min(r[0] for r in ranges), max(r[1] for r in ranges)]]},
    }
    col["links"] = []
    return col


def _write_json_atomic(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_api_files(
    sources: Sequence[Path], out_dir: Path, collection_id: str | None = None
) -> ApiFiles:
    """Write Collection JSON(s) and one items FeatureCollection for ``rustac serve``.

    ``sources`` may hold folders, STAC Item JSON files and GeoTIFF files:

    - a folder contributes every STAC Item JSON found recursively (hidden folders skipped);
      a folder with no Item JSON at all contributes its GeoTIFFs as bare files instead;
    - a Collection JSON found there lends its metadata (title, description, license, ...);
      the extent is always recomputed from the items;
    - a GeoTIFF becomes one item (see :func:`item_from_geotiff`); its date comes from the
      ``TIFFTAG_DATETIME`` tag or a ``YYYYMMDD`` in its name, else it is refused.

    ``collection_id`` puts every item into that collection; otherwise items keep theirs and
    items without one go to :data:`DEFAULT_COLLECTION`. Asset hrefs become ``file://`` URIs.
    Files are written atomically into ``out_dir`` (created if needed).

    Raises:
        LocalSourceError: a source is missing, yields no item, an item id repeats in a
            collection, a GeoTIFF has no date or CRS, or an item lacks a projection.
        OutputError: ``out_dir`` cannot be written.
    """
    items: dict[tuple[str, str], tuple[dict[str, Any], Path]] = {}
    bases: dict[str, dict[str, Any]] = {}

    def add(item: dict[str, Any], where: Path) -> None:
        key = (item["collection"], item["id"])
        if key in items and items[key][1] != where:
            raise LocalSourceError(
                f"item id {item['id']!r} appears twice in collection {item['collection']!r}: "
                f"{items[key][1]} and {where}; remove one or serve them separately"
            )
        items[key] = (item, where)

    for source in (Path(s).expanduser().resolve() for s in sources):
        if not source.exists():
            raise LocalSourceError(f"{source} does not exist: {WHAT_TO_SERVE}")
        if source.is_dir():
            found = 0
            for path in _walk_json(source):
                data = _read_stac(path)
                if data is None:
                    continue
                if data.get("type") == "Feature":
                    add(_normalise_item(data, path, collection_id), path)
                    found += 1
                elif data.get("type") == "Collection" and isinstance(data.get("id"), str):
                    bases.setdefault(data["id"], data)
            if not found:
                for tif in _walk_tiffs(source):
                    add(item_from_geotiff(tif, collection_id), tif)
        elif source.suffix.lower() in _TIFF_SUFFIXES:
            add(item_from_geotiff(source, collection_id), source)
        else:
            data = _read_stac(source)
            if data is None or data.get("type") != "Feature":
                raise LocalSourceError(
                    f"{source} is neither a STAC Item JSON nor a GeoTIFF: {WHAT_TO_SERVE}"
                )
            add(_normalise_item(data, source, collection_id), source)

    if not items:
        raise LocalSourceError(
            f"no STAC item JSON or GeoTIFF found in {', '.join(str(s) for s in sources)}: "
            f"{WHAT_TO_SERVE}"
        )
    by_collection: dict[str, list[dict[str, Any]]] = {}
    for (cid, _), (item, _) in sorted(items.items(), key=lambda kv: kv[0]):
        by_collection.setdefault(cid, []).append(item)

    out_dir = Path(out_dir).expanduser().resolve()
    collections = {}
    for cid, members in by_collection.items():
        members.sort(key=lambda it: (_time_range(it)[0], it["id"]))
        name = f"collection-{re.sub(r'[^A-Za-z0-9._-]', '_', cid)}.json"
        collections[name] = _collection(cid, members, bases.get(cid))
    features = [it for cid in by_collection for it in by_collection[cid]]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, collection in collections.items():
            _write_json_atomic(out_dir / name, collection)
        items_path = out_dir / "items.json"
        _write_json_atomic(items_path, {"type": "FeatureCollection", "features": features})
    except OSError as e:
        raise OutputError(
            f"cannot write the STAC API files into {out_dir} ({e}); make it writable or set "
            "RS_CACHE_DIR to a writable folder"
        ) from e
    return ApiFiles(collections=[out_dir / n for n in collections], items=items_path)
