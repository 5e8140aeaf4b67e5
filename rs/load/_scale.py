"""Scale/offset rules: digital numbers -> physical units (pure: no I/O, no rasterio).

``value = DN * scale + offset``; DN equal to the band's nodata becomes NaN.

Rule, per item and band (:func:`scale_offset_for`):

1. the asset's ``raster:bands[0]`` ``scale`` / ``offset`` when present (Earth Search v1 already
   writes the Sentinel-2 ``-0.1`` offset there, so it is never applied twice);
2. otherwise product defaults:

   * Sentinel-2 L2A reflectance: scale ``1e-4``; offset ``-0.1`` (``BOA_ADD_OFFSET`` = -1000 DN)
     when ``s2:processing_baseline >= 04.00`` else ``0``. Without a baseline property the
     acquisition date decides (baseline 04.00 went live on 2022-01-25).
     ESA, *Sentinel-2 L2A products: processing baseline 04.00*, S2-PDGS-MPC-L2A-PDD.
   * Landsat Collection 2 Level-2 surface reflectance: scale ``2.75e-5``, offset ``-0.2``;
     surface temperature (``thermal``, Kelvin): scale ``0.00341802``, offset ``149.0``.
     USGS, *Landsat 8-9 Collection 2 Level 2 Science Product Guide* (LSDS-1619).

Mask bands (``scl``, ``qa_pixel``) are never scaled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import xarray as xr

from rs.errors import SourceError

__all__ = [
    "BASELINE_04_DATE",
    "IDENTITY",
    "ScaleOffset",
    "apply_scale_offset",
    "group_scale_offset",
    "parse_baseline",
    "scale_offset_for",
]

#: First acquisitions processed with Sentinel-2 baseline 04.00 (offset -1000 DN).
BASELINE_04_DATE = datetime(2022, 1, 25)


@dataclass(frozen=True)
class ScaleOffset:
    """``value = DN * scale + offset``."""

    scale: float
    offset: float


IDENTITY = ScaleOffset(1.0, 0.0)

_S2_SCALE = 1e-4
_S2_OFFSET_04 = -0.1
_LS_SR = ScaleOffset(2.75e-5, -0.2)
_LS_ST = ScaleOffset(0.00341802, 149.0)
_MASK_BANDS = frozenset({"scl", "qa_pixel"})


def parse_baseline(value: Any) -> tuple[int, int] | None:
    """``"04.00"`` -> ``(4, 0)``; ``"N0509"`` -> ``(5, 9)``; anything unreadable -> ``None``."""
    if value is None:
        return None
    text = str(value).strip().upper().removeprefix("N")
    match = re.fullmatch(r"(\d{1,2})\.?(\d{1,2})?", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def _s2_default(properties: Mapping[str, Any], when: datetime | None) -> ScaleOffset:
    baseline = parse_baseline(properties.get("s2:processing_baseline"))
    if baseline is not None:
        new = baseline >= (4, 0)
    elif when is not None:
        new = when.replace(tzinfo=None) >= BASELINE_04_DATE
    else:
        raise SourceError(
            "Sentinel-2 item has neither 's2:processing_baseline' nor a datetime, so the -0.1 "
            "offset of baseline 04.00 cannot be decided; add the property or an explicit "
            "raster:bands offset"
        )
    return ScaleOffset(_S2_SCALE, _S2_OFFSET_04 if new else 0.0)


def scale_offset_for(
    product: str,
    band: str,
    raster_band: Mapping[str, Any] | None,
    properties: Mapping[str, Any],
    when: datetime | None = None,
) -> ScaleOffset:
    """Scale and offset for one ``band`` (common name) of one item (see module rule)."""
    if band in _MASK_BANDS:
        return IDENTITY
    if product == "sentinel-2-l2a":
        default = _s2_default(properties, when)
    elif product == "landsat-c2-l2":
        default = _LS_ST if band == "thermal" else _LS_SR
    else:
        raise SourceError(f"no scale/offset defaults for product {product!r}")
    rb = raster_band or {}
    scale = rb.get("scale")
    offset = rb.get("offset")
    return ScaleOffset(
        float(default.scale if scale is None else scale),
        float(default.offset if offset is None else offset),
    )


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
