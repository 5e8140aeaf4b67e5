"""Sentinel-2 L2A / Landsat C2 L2 items -> lazy float32 xarray.Dataset, via odc-stac (I/O edge).

Four steps: (1) normalise items into a load plan (product, asset keys, per-item scale/offset,
time groups); (2) ``odc.stac.load`` raw digital numbers lazily (dtype and nodata from
``raster:bands``); (3) scale/offset per time slice (:mod:`rs.load._scale`, pure); (4) mask with
the quality band (:mod:`rs.load.masks`, pure) and drop it unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import odc.stac
import pystac
import xarray as xr
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry

from rs.errors import NoScenesError, SourceError
from rs.load._chunks import load_chunks
from rs.load._items import normalise_items
from rs.load._scale import (
    ScaleOffset,
    apply_scale_offset,
    asset_raster,
    group_scale_offset,
    scale_offset_for,
)
from rs.load.bands import (
    COMMON_BANDS,
    MASK_BANDS,
    Product,
    detect_product,
    mask_band_for,
    resolve_assets,
)
from rs.load.grid import Anchor, header_grid, item_crs, source_anchor
from rs.load.masks import normalise_mask_classes, qa_pixel_mask, scl_mask

__all__ = ["DEFAULT_LOAD_MASK", "grid_anchor", "load_optical", "scaling_provenance"]

#: Mask classes of :func:`load_optical` by default (``invalid`` is always added when masking).
DEFAULT_LOAD_MASK: tuple[str, ...] = ("cloud", "shadow", "snow")

_NATIVE_RES: Mapping[str, float] = {"sentinel-2-l2a": 10.0, "landsat-c2-l2": 30.0}
_DEFAULT_RASTER: Mapping[str, Mapping[str, Any]] = {
    # Fallbacks when an asset has no raster:bands (item metadata wins in odc-stac).
    "scl": {"data_type": "uint8", "nodata": 0},
    "qa_pixel": {"data_type": "uint16", "nodata": 1},
    "*": {"data_type": "uint16", "nodata": 0},
}
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class _Plan:
    product: Product
    provider: str
    keys: dict[str, str]  # common band -> asset key (load bands, mask band included)
    per_item: dict[str, dict[str, ScaleOffset]]  # band -> item id -> scale/offset
    groups: list[list[str]]  # item ids per time slice, in odc-stac order
    group_keys: list[Any]  # group key per item, input order


def _raster_band(item: pystac.Item, key: str) -> dict[str, Any]:
    return asset_raster(item.assets[key].extra_fields)


def _when(item: pystac.Item) -> datetime:
    when = item.datetime
    if when is None:
        start = item.properties.get("start_datetime")
        if start is None:
            raise SourceError(f"item {item.id!r} has no datetime; cannot place it in time")
        when = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    return when


def _centroid_lon(item: pystac.Item) -> float | None:
    if item.bbox:
        return (float(item.bbox[0]) + float(item.bbox[2])) / 2
    return None


def _group_key_fn(groupby: str, items: Sequence[pystac.Item], lon: float | None) -> list[Any]:
    if groupby == "solar_day":
        if lon is None:
            lons = [x for x in map(_centroid_lon, items) if x is not None]
            lon = float(np.mean(lons)) if lons else 0.0
        return [(_when(it) + timedelta(hours=lon / 15.0)).date() for it in items]
    if groupby == "time":
        return [_when(it) for it in items]
    if groupby == "id":
        return [(_when(it), it.id, n) for n, it in enumerate(items)]
    keys = [it.properties.get(groupby) for it in items]
    if any(k is None for k in keys):
        missing = [it.id for it, k in zip(items, keys, strict=True) if k is None]
        raise SourceError(
            f"groupby={groupby!r}: items {missing} lack that property; use 'solar_day', "
            "'time', 'id' or a property every item has"
        )
    return keys


def _groups(items: Sequence[pystac.Item], keys: Sequence[Any]) -> list[list[str]]:
    """Item ids per time slice, in the order odc-stac builds them (key, then time, then id)."""
    order = sorted(range(len(items)), key=lambda n: (keys[n], _when(items[n]), items[n].id))
    out: list[list[str]] = []
    last: Any = object()
    for n in order:
        if not out or keys[n] != last:
            out.append([])
            last = keys[n]
        out[-1].append(items[n].id)
    return out


def _plan(
    items: Sequence[pystac.Item],
    load_bands: Sequence[str],
    groupby: str,
    lon: float | None,
) -> _Plan:
    products = {detect_product(it.properties, list(it.assets), it.collection_id) for it in items}
    if len(products) != 1:
        raise SourceError(
            f"items mix products {sorted(products)}; load Sentinel-2 and Landsat separately"
        )
    (product,) = products
    provider = ""
    keys: dict[str, str] | None = None
    for it in items:
        table, it_keys = resolve_assets(product, list(it.assets), load_bands, it.properties)
        if keys is None:
            keys, provider = it_keys, table.provider
        elif it_keys != keys:
            raise SourceError(
                f"item {it.id!r} names bands {it_keys} but earlier items use {keys}; "
                "load items of one provider / sensor generation per call"
            )
    assert keys is not None
    if len({it.id for it in items}) != len(items):
        raise SourceError("duplicate item ids in input; de-duplicate the search results")
    per_item: dict[str, dict[str, ScaleOffset]] = {}
    for band, key in keys.items():
        per_item[band] = {
            it.id: scale_offset_for(
                product, band, _raster_band(it, key), it.properties, _when(it), it.id
            )
            for it in items
        }
    group_keys = _group_key_fn(groupby, items, lon)
    return _Plan(product, provider, keys, per_item, _groups(items, group_keys), group_keys)


def _native_crs(item: pystac.Item, keys: Iterable[str]) -> CRS:
    for key in [None, *keys]:
        found = item_crs(item, key)
        if found is not None:
            return found
    for key in keys:  # no proj fields at all (older USGS items): the file says
        header = header_grid(item.assets[key].href)
        if header is not None:
            return header[0]
    if item.bbox:
        lon = (item.bbox[0] + item.bbox[2]) / 2
        lat = (item.bbox[1] + item.bbox[3]) / 2
        return CRS.utm(lon, lat)
    raise SourceError(f"item {item.id!r} has no proj:code, proj:epsg or bbox; pass crs=")


def _native_resolution(item: pystac.Item, keys: Iterable[str], product: Product) -> float:
    found: list[float] = []
    for key in keys:
        asset = item.assets[key]
        rb = _raster_band(item, key)
        transform = asset.extra_fields.get("proj:transform")
        if rb.get("spatial_resolution"):
            found.append(float(rb["spatial_resolution"]))
        elif isinstance(transform, list) and len(transform) >= 6:
            found.append(abs(float(transform[0])))
        elif asset.extra_fields.get("gsd"):
            found.append(float(asset.extra_fields["gsd"]))
    return min(found) if found else _NATIVE_RES[product]


def _resampling(
    keys: Mapping[str, str], resampling: str | Mapping[str, str] | None
) -> dict[str, str]:
    out: dict[str, str] = {}
    for band, key in keys.items():
        if band in MASK_BANDS:
            method = "nearest"
        elif isinstance(resampling, str):
            method = resampling
        else:
            method = "bilinear"
        if isinstance(resampling, Mapping) and band in resampling:
            method = resampling[band]
        out[key] = method
    return out


def _stac_cfg(keys: Mapping[str, str], item: pystac.Item) -> dict[str, Any]:
    """odc-stac's fallback dtype/nodata per asset: the first item's raster metadata (either STAC
    layout, :func:`asset_raster`), else the product defaults."""
    assets: dict[str, dict[str, Any]] = {}
    for band, key in keys.items():
        cfg = dict(_DEFAULT_RASTER.get(band, _DEFAULT_RASTER["*"]))
        found = _raster_band(item, key)
        cfg.update({k: found[k] for k in ("data_type", "nodata") if k in found})
        assets[key] = cfg
    return {"*": {"assets": assets, "warnings": "ignore"}}


def _provenance(plan: _Plan) -> list[dict[str, Any]]:
    """Which rule scaled which items: one entry per distinct set of (band, scale, offset, rule)."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    ids = next(iter(plan.per_item.values()), {})
    for item_id in ids:
        key = tuple(
            (band, so.scale, so.offset, so.rule)
            for band, per in plan.per_item.items()
            for so in [per[item_id]]
            if band not in MASK_BANDS
        )
        groups.setdefault(key, []).append(item_id)
    return [
        {
            "items": sorted(members),
            "bands": {band: [scale, offset] for band, scale, offset, _ in key},
            "rule": " | ".join(dict.fromkeys(rule for *_, rule in key)),
        }
        for key, members in groups.items()
    ]


def grid_anchor(
    items: Sequence[pystac.Item], bands: Sequence[str], crs: Any, resolution: float
) -> Anchor:
    """The anchor that puts a ``crs`` / ``resolution`` output grid on the items' pixel grid
    (:func:`rs.load.grid.source_anchor`), judged on the assets of ``bands``."""
    want = [b for b in dict.fromkeys(bands) if b not in MASK_BANDS] or list(bands)
    if not items or not want:
        return Anchor(None, "no items: default grid")
    product = detect_product(items[0].properties, list(items[0].assets), items[0].collection_id)
    keys = [resolve_assets(product, list(it.assets), want, it.properties)[1] for it in items]
    return source_anchor(items, keys, crs, resolution)


def scaling_provenance(items: Sequence[pystac.Item], bands: Sequence[str]) -> list[dict[str, Any]]:
    """How the DN of ``items`` become physical values for ``bands``, grouped by rule.

    Each entry: ``items`` (ids), ``bands`` (``{band: [scale, offset]}``) and ``rule`` (which
    metadata decided, :mod:`rs.load._scale`). Products put it into their output item's provenance
    (``rs:scaling``). Mask bands are left out.
    """
    want = [b for b in dict.fromkeys(bands) if b not in MASK_BANDS]
    if not items or not want:
        return []
    return _provenance(_plan(items, want, "id", None))


def _normalise_geopolygon(geopolygon: Any) -> Geometry | None:
    if geopolygon is None or isinstance(geopolygon, Geometry):
        return geopolygon
    if hasattr(geopolygon, "geom_type"):  # shapely
        return Geometry(geopolygon, crs="EPSG:4326")
    raise TypeError("geopolygon must be a shapely geometry in EPSG:4326 or an odc.geo Geometry")


def load_optical(
    items: Iterable[pystac.Item],
    bands: Sequence[str],
    *,
    crs: str | int | CRS | None = None,
    resolution: float | None = None,
    geopolygon: Any = None,
    bbox: tuple[float, float, float, float] | None = None,
    chunks: int | Mapping[str, int] | None = None,
    mask: Sequence[str] | None = DEFAULT_LOAD_MASK,
    groupby: str = "solar_day",
    resampling: str | Mapping[str, str] | None = None,
    geobox: GeoBox | None = None,
    lazy: bool = True,
) -> xr.Dataset:
    """Load Sentinel-2 L2A or Landsat C2 L2 items as a lazy, float32, masked Dataset.

    :param items: pystac Items of one product and one provider (asset-key convention).
    :param bands: common names (``blue green red nir nir08 swir16 swir22 thermal``); add the
        mask band (``scl`` / ``qa_pixel``) to keep it (raw integers) in the output.
    :param crs: output CRS; default the first item's ``proj:code`` (else UTM of its centre).
    :param resolution: pixel size in CRS units; default the finest native band resolution
        (converted to degrees for a geographic CRS).
    :param geopolygon: shapely geometry in EPSG:4326 (or odc-geo Geometry) bounding the output.
    :param bbox: ``(min lon, min lat, max lon, max lat)``; alternative to ``geopolygon``.
    :param chunks: spatial chunk size (see :func:`rs.load._chunks.load_chunks`); time is 1.
    :param mask: mask classes (:data:`rs.load.masks.MASK_CLASSES`); ``invalid`` is always added;
        ``None`` or ``()`` disables masking.
    :param groupby: ``"solar_day"`` (default), ``"time"``, ``"id"`` or an item property name;
        items of one group are fused into one time slice (first valid pixel wins).
    :param resampling: one method for reflectance bands or ``{band: method}``; defaults bilinear
        for reflectance/thermal and nearest for mask bands.
    :param geobox: the exact output grid (odc-geo GeoBox); replaces crs, resolution, geopolygon
        and bbox. Used to load one block of a larger grid.
    :param lazy: ``False`` reads now into numpy (odc-stac's eager path, no Dask graph): for
        code that already runs inside a Dask task, such as a block of a tiled product.
    :returns: Dataset with dims ``(time, y, x)``, dask-backed; reflectance 0..1 and thermal in
        Kelvin as float32, NaN for nodata and masked pixels; ``attrs["item_ids"]`` lists the item
        ids of each time slice; the grid is ``ds.odc.geobox``.
    :raises NoScenesError: no items. :raises SourceError: unknown product / bands, mixed
        providers, or a time slice fusing items with different scale/offset.
    """
    items = normalise_items(list(items))
    if not items:
        raise NoScenesError("no items to load; widen the search or check the preflight report")
    want = list(dict.fromkeys(bands))
    if not want:
        raise SourceError("no bands requested; pass common band names such as ['red', 'nir']")
    if geopolygon is not None and bbox is not None:
        raise SourceError("pass either geopolygon or bbox, not both")
    if geobox is not None and any(v is not None for v in (crs, resolution, geopolygon, bbox)):
        raise SourceError(
            "geobox fixes the grid: do not also pass crs, resolution, geopolygon or bbox"
        )
    classes = normalise_mask_classes(("invalid", *mask)) if mask else ()

    gp = _normalise_geopolygon(geopolygon)
    lon: float | None = None
    if geobox is not None:
        gp = geobox.extent
    if gp is not None:
        lon = float(gp.to_crs("EPSG:4326").centroid.coords[0][0])
    elif bbox is not None:
        lon = (bbox[0] + bbox[2]) / 2

    product = detect_product(items[0].properties, list(items[0].assets), items[0].collection_id)
    mask_band = mask_band_for(product)
    load_bands = want + ([mask_band] if classes and mask_band not in want else [])
    plan = _plan(items, load_bands, groupby, lon)

    data_keys = [plan.keys[b] for b in want if b in COMMON_BANDS]
    grid_keys = data_keys or list(plan.keys.values())
    out_crs = CRS(crs) if crs is not None else _native_crs(items[0], grid_keys)
    if resolution is None:
        resolution = _native_resolution(items[0], grid_keys, plan.product)
        if out_crs.geographic:
            resolution = resolution / _METRES_PER_DEGREE

    anchor = Anchor(None, "grid given")
    grid: dict[str, Any] = {"geobox": geobox}
    if geobox is None:
        anchor = grid_anchor(items, want, out_crs, resolution)
        grid = {"crs": out_crs, "resolution": resolution, "geopolygon": gp, "bbox": bbox}
        if anchor.anchor is not None:
            grid["anchor"] = anchor.anchor
    raw = odc.stac.load(
        items,
        bands=list(plan.keys.values()),
        **grid,
        chunks=dict(load_chunks(chunks)) if lazy else None,
        groupby=lambda _item, _parsed, idx: plan.group_keys[idx],
        resampling=_resampling(plan.keys, resampling),
        stac_cfg=_stac_cfg(plan.keys, items[0]),
        fail_on_error=True,
    )
    if raw.sizes["time"] != len(plan.groups):
        raise SourceError(  # pragma: no cover - guards against an odc-stac grouping change
            f"odc-stac made {raw.sizes['time']} time slices, rs expected {len(plan.groups)}"
        )

    out = xr.Dataset(coords=raw.coords)
    for band in want:
        var = raw[plan.keys[band]]
        if band in MASK_BANDS:
            out[band] = var
            continue
        scale, offset = group_scale_offset(plan.groups, plan.per_item[band], band)
        value = apply_scale_offset(var, scale, offset, var.attrs.get("nodata"))
        value.attrs["units"] = "K" if band == "thermal" else "1"
        out[band] = value

    if classes:
        quality = raw[plan.keys[mask_band]]
        masked = (scl_mask if mask_band == "scl" else qa_pixel_mask)(quality, classes)
        for band in want:
            if band not in MASK_BANDS:
                attrs = out[band].attrs
                out[band] = out[band].where(~masked)
                out[band].attrs = attrs

    out.attrs = {
        "item_ids": [list(g) for g in plan.groups],
        "product": plan.product,
        "provider": plan.provider,
        "mask_classes": list(classes),
        "scaling": _provenance(plan),
        "grid": anchor.reason,
    }
    return out

