"""Scale/offset rules: digital numbers -> physical units (pure: no I/O, no rasterio).

``value = DN * scale + offset``; DN equal to the band's nodata becomes NaN.

How a provider's DN become reflectance is read off each item's own metadata, in a fixed order of
trust, and the rule that decided is kept (:attr:`ScaleOffset.rule`) for the output item's
provenance. The decision table (also in the README):

Sentinel-2 L2A reflectance (ESA, *Sentinel-2 L2A products: processing baseline 04.00*,
S2-PDGS-MPC-L2A-PDD: from baseline 04.00 the products carry ``BOA_ADD_OFFSET = -1000`` DN, so
``reflectance = (DN - 1000) / 10000``):

1. an explicit "offset applied" flag, ``earthsearch:boa_offset_applied`` (Earth Search v1) or
   ``sentinel:boa_offset_applied`` (Earth Search v0): ``true`` means the provider already shifted
   the DN, so the offset is **0** whatever ``raster:bands`` says (Earth Search v1 keeps
   ``offset: -0.1`` there; its maintainers say the flag is the truth, Element84/earth-search #9,
   #71); ``false`` means the DN are as ESA wrote them, and the next rules decide;
2. the processing baseline: ``s2:processing_baseline`` (Planetary Computer, Earth Search v1),
   ``sentinel:processing_baseline`` (Earth Search v0), ``processing:version`` (CDSE, STAC 1.1),
   else the ``_Nxxxx_`` baseline field of ``s2:product_uri``, ``sentinel:product_id`` (Earth
   Search v0 items without a baseline property) or the item id: offset **-0.1** when
   the baseline is 04.00 or later, else **0** (this is right for products reprocessed with
   baseline 05.00 although acquired before 2022);
3. the offset in the asset's raster metadata (``raster:bands[0].offset``, STAC 1.1 asset-level
   ``raster:offset`` or ``bands[0]["raster:offset"]``);
4. only as a last resort, the acquisition date (baseline 04.00 went live on 2022-01-25).

The scale is the raster metadata's ``scale`` when given, else ``1e-4``.

Landsat Collection 2 Level-2 (USGS, *Landsat 8-9 Collection 2 Level 2 Science Product Guide*,
LSDS-1619; the same for Landsat 4-7, LSDS-1618): the raster metadata's ``scale`` / ``offset``
when given, else surface reflectance ``2.75e-5`` / ``-0.2`` and surface temperature
(``thermal``, Kelvin) ``0.00341802`` / ``149.0``.

Mask bands (``scl``, ``qa_pixel``) are never scaled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import xarray as xr

from rs.errors import SourceError

__all__ = [
    "BASELINE_04_DATE",
    "IDENTITY",
    "OFFSET_FLAGS",
    "ScaleOffset",
    "apply_scale_offset",
    "asset_raster",
    "group_scale_offset",
    "parse_baseline",
    "s2_offset",
    "scale_offset_for",
]

#: First acquisitions processed with Sentinel-2 baseline 04.00 (offset -1000 DN).
BASELINE_04_DATE = datetime(2022, 1, 25)

#: Item properties saying whether the provider already applied the baseline-04.00 offset.
OFFSET_FLAGS: tuple[str, ...] = ("earthsearch:boa_offset_applied", "sentinel:boa_offset_applied")
#: Item properties naming the Sentinel-2 processing baseline, most specific first.
BASELINE_KEYS: tuple[str, ...] = (
    "s2:processing_baseline",
    "sentinel:processing_baseline",
    "processing:version",
)


@dataclass(frozen=True)
class ScaleOffset:
    """``value = DN * scale + offset``; ``rule`` says which metadata decided (not compared)."""

    scale: float
    offset: float
    rule: str = field(default="", compare=False)


IDENTITY = ScaleOffset(1.0, 0.0, "mask band: not scaled")

_S2_SCALE = 1e-4
_S2_OFFSET_04 = -0.1
_LS_SR = ScaleOffset(2.75e-5, -0.2, "USGS Collection 2 Level-2 surface reflectance default")
_LS_ST = ScaleOffset(0.00341802, 149.0, "USGS Collection 2 Level-2 surface temperature default")
_MASK_BANDS = frozenset({"scl", "qa_pixel"})
_RASTER_KEYS = ("scale", "offset", "nodata", "data_type", "spatial_resolution")
_URI_BASELINE = re.compile(r"_N(\d{2})(\d{2})_")


def asset_raster(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Raster metadata of one asset (its ``extra_fields``) in either STAC layout.

    Reads STAC 1.0 ``raster:bands[0]`` (``scale``, ``offset``, ``nodata``, ``data_type``,
    ``spatial_resolution``), STAC 1.1 asset-level ``raster:scale`` / ``raster:offset`` /
    ``raster:spatial_resolution`` / ``nodata`` / ``data_type``, and STAC 1.1 ``bands[0]`` with the
    same keys; the first layout that gives a key wins, in that order. Only single-band assets are
    read (the first band).

    >>> asset_raster({"raster:scale": 0.0001, "raster:offset": -0.1, "nodata": 0})
    {'scale': 0.0001, 'offset': -0.1, 'nodata': 0}
    """
    layouts: list[tuple[Mapping[str, Any], str]] = []  # (fields, prefix of scale/offset/res)
    rb = fields.get("raster:bands")
    if isinstance(rb, list) and rb and isinstance(rb[0], Mapping):
        layouts.append((rb[0], ""))
    layouts.append((fields, "raster:"))
    bands = fields.get("bands")
    if isinstance(bands, list) and bands and isinstance(bands[0], Mapping):
        layouts.append((bands[0], "raster:"))
    out: dict[str, Any] = {}
    for key in _RASTER_KEYS:
        for layout, prefix in layouts:
            name = key if key in ("nodata", "data_type") else prefix + key
            if layout.get(name) is not None:
                out[key] = layout[name]
                break
    return out


def parse_baseline(value: Any) -> tuple[int, int] | None:
    """``"04.00"`` -> ``(4, 0)``; ``"N0509"`` -> ``(5, 9)``; anything unreadable -> ``None``."""
    if value is None:
        return None
    text = str(value).strip().upper().removeprefix("N")
    match = re.fullmatch(r"(\d{1,2})\.?(\d{1,2})?", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def _baseline(properties: Mapping[str, Any], item_id: str) -> tuple[tuple[int, int], str] | None:
    """The processing baseline and where it was read, or ``None``."""
    for key in BASELINE_KEYS:
        found = parse_baseline(properties.get(key))
        if found is not None:
            return found, f"{key}={properties[key]}"
    named = [(k, properties.get(k)) for k in ("s2:product_uri", "sentinel:product_id")]
    for key, text in [*named, ("id", item_id)]:
        match = _URI_BASELINE.search(str(text or ""))
        if match is not None:
            return (int(match.group(1)), int(match.group(2))), f"{key} field N{match[1]}{match[2]}"
    return None


def s2_offset(
    properties: Mapping[str, Any],
    raster_offset: float | None,
    when: datetime | None,
    item_id: str = "",
) -> tuple[float, str]:
    """The Sentinel-2 L2A reflectance offset of one item and the rule that decided it.

    Follows the module's order of trust: offset-applied flag, processing baseline, raster
    metadata, acquisition date. Raises :class:`SourceError` when none of them is present.
    """
    def ignored(chosen: float) -> str:
        if raster_offset is None or abs(raster_offset - chosen) < 1e-12:
            return ""
        return f"; raster offset {raster_offset} ignored"

    flag_false = ""
    for key in OFFSET_FLAGS:
        value = properties.get(key)
        if value is True:
            return 0.0, f"{key}=true: the DN already carry the baseline-04.00 offset{ignored(0.0)}"
        if value is False:
            flag_false = f"{key}=false, "
    found = _baseline(properties, item_id)
    if found is not None:
        (major, minor), source = found
        new = (major, minor) >= (4, 0)
        verdict = ">= 04.00: offset -0.1" if new else "< 04.00: no offset"
        value = _S2_OFFSET_04 if new else 0.0
        return value, f"{flag_false}{source} {verdict}{ignored(value)}"
    if raster_offset is not None:
        return float(raster_offset), f"{flag_false}raster metadata offset {raster_offset}"
    if when is not None:
        new = when.replace(tzinfo=None) >= BASELINE_04_DATE
        verdict = "on or after" if new else "before"
        return (_S2_OFFSET_04 if new else 0.0), (
            f"{flag_false}no baseline or raster offset: acquired {verdict} 2022-01-25 "
            f"(offset {_S2_OFFSET_04 if new else 0.0})"
        )
    raise SourceError(
        f"Sentinel-2 item {item_id!r} has no offset-applied flag, processing baseline, raster "
        "offset or datetime, so the -0.1 offset of baseline 04.00 cannot be decided; add "
        "'s2:processing_baseline' or a raster:bands offset"
    )


def scale_offset_for(
    product: str,
    band: str,
    raster_band: Mapping[str, Any] | None,
    properties: Mapping[str, Any],
    when: datetime | None = None,
    item_id: str = "",
) -> ScaleOffset:
    """Scale and offset for one ``band`` (common name) of one item (see the module's table).

    ``raster_band`` is the asset's raster metadata as :func:`asset_raster` returns it (keys
    ``scale`` / ``offset``), or ``None``.
    """
    if band in _MASK_BANDS:
        return IDENTITY
    rb = raster_band or {}
    scale, offset = rb.get("scale"), rb.get("offset")
    if product == "sentinel-2-l2a":
        value, rule = s2_offset(
            properties, None if offset is None else float(offset), when, item_id
        )
        scale_rule = "raster scale" if scale is not None else "scale 1e-4"
        return ScaleOffset(
            float(_S2_SCALE if scale is None else scale), value, f"{scale_rule}; {rule}"
        )
    if product == "landsat-c2-l2":
        default = _LS_ST if band == "thermal" else _LS_SR
        if scale is None and offset is None:
            return default
        return ScaleOffset(
            float(default.scale if scale is None else scale),
            float(default.offset if offset is None else offset),
            "raster metadata scale/offset",
        )
    raise SourceError(f"no scale/offset defaults for product {product!r}")


def group_scale_offset(
    groups: Sequence[Sequence[str]],
    per_item: Mapping[str, ScaleOffset],
    band: str,
) -> tuple[list[float], list[float]]:
    """Per-time-slice scale and offset vectors for ``band``.

    ``groups`` are the item ids fused into each time slice. A slice whose items disagree cannot be
    scaled after fusing, so it raises :class:`SourceError` naming the items.
    """
    scales: list[float] = []
    offsets: list[float] = []
    for ids in groups:
        found = {per_item[i] for i in ids}
        if len(found) != 1:
            detail = ", ".join(f"{i}: {per_item[i]}" for i in ids)
            raise SourceError(
                f"band {band!r}: items fused into one time slice have different scale/offset "
                f"({detail}); load them with groupby='id' or 'time', or select one processing "
                "baseline"
            )
        (so,) = found
        scales.append(so.scale)
        offsets.append(so.offset)
    return scales, offsets


def apply_scale_offset(
    raw: xr.DataArray,
    scale: Sequence[float],
    offset: Sequence[float],
    nodata: float | None,
    dim: str = "time",
) -> xr.DataArray:
    """``raw * scale[t] + offset[t]`` as float32, NaN where ``raw == nodata`` (or raw is NaN).

    ``scale`` / ``offset`` have one entry per position along ``dim``. Lazy in, lazy out; the
    arithmetic runs in float64 and is rounded once to float32.
    """
    n = raw.sizes[dim]
    if len(scale) != n or len(offset) != n:
        raise ValueError(f"need {n} scale/offset values along {dim!r}, got {len(scale)}")
    s = xr.DataArray(np.asarray(scale, dtype="float64"), dims=dim)
    o = xr.DataArray(np.asarray(offset, dtype="float64"), dims=dim)
    value = (raw.astype("float64") * s + o).astype("float32")
    valid = raw.notnull() if nodata is None or np.isnan(nodata) else raw != nodata
    out = value.where(valid)
    out.attrs = {k: v for k, v in raw.attrs.items() if k != "nodata"}
    out.attrs["nodata"] = np.float32(np.nan)
    return out
