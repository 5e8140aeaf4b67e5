"""What a raster output holds, and its STAC asset (projection + raster + bands fields).

No GDAL here: :class:`GridSpec` and :class:`RasterBand` describe a raster; ``cog.py`` writes it
and :func:`raster_asset` describes the written file for its STAC item. :func:`check_nodata` is
the one rule both apply to a nodata value (CRSs are read with pyproj).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS
from pyproj.exceptions import CRSError

from rs.export.stac_items import OutputAsset, file_asset

__all__ = [
    "COG_MEDIA_TYPE",
    "GridSpec",
    "RasterBand",
    "as_bands",
    "check_nodata",
    "proj_fields",
    "raster_asset",
]

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

# numpy dtype name -> STAC raster v1.1 data_type (its enum spells these the same way)
_STAC_DATA_TYPES = {
    "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
}  # fmt: skip
_STAC_COMPLEX = {"complex64": "cfloat32", "complex128": "cfloat64"}


@dataclass(frozen=True)
class GridSpec:
    """Where pixels live: CRS (anything rasterio accepts), affine transform and (height, width)."""

    crs: str
    transform: Affine
    shape: tuple[int, int]


@dataclass(frozen=True)
class RasterBand:
    """One band of a raster output.

    ``unit`` is the unit of the *physical* value ``stored * scale + offset`` (UCUM or a plain
    symbol such as ``"K"``, ``"mol/m^2"``; ``None`` for dimensionless indices).
    """

    name: str
    unit: str | None = None
    description: str | None = None
    scale: float = 1.0
    offset: float = 0.0


def as_bands(bands: Sequence[RasterBand | str]) -> list[RasterBand]:
    """``bands`` with plain names turned into :class:`RasterBand` (no unit, scale 1, offset 0)."""
    out = [b if isinstance(b, RasterBand) else RasterBand(str(b)) for b in bands]
    if not out:
        raise ValueError("a raster needs at least one band")
    names = [b.name for b in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"band names must be unique; repeated: {', '.join(dup)}")
    return out


def check_nodata(dtype: str | np.dtype[Any], nodata: float | None) -> float | None:
    """``nodata`` if it can be stored in ``dtype``, else ``ValueError`` saying what to give.

    An integer dtype needs a finite whole number within its range (NaN cannot be stored in an
    integer raster: give e.g. 0 or the type's maximum, 65535 for uint16); a float dtype takes
    NaN, ±inf or a finite value within its range. ``None`` (no nodata value) is always allowed.

    >>> check_nodata("uint16", 65535), check_nodata("float32", float("nan"))
    (65535, nan)
    """
    if nodata is None:
        return None
    dt = np.dtype(dtype)
    v = float(nodata)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if not (math.isfinite(v) and v.is_integer() and info.min <= v <= info.max):
            raise ValueError(
                f"nodata {nodata!r} cannot be stored as {dt.name}: give a whole number in "
                f"{info.min}..{info.max} (e.g. {info.max}), or a float dtype for NaN nodata"
            )
        return int(v)
    if dt.kind == "f" and math.isfinite(v) and abs(v) > float(np.finfo(dt).max):
        raise ValueError(f"nodata {nodata!r} is outside the range of {dt.name}")
    return v


def stac_nodata(nodata: float | None) -> float | int | str | None:
    """``nodata`` as STAC raster writes it: ``"nan"``, ``"inf"``, ``"-inf"`` or the number."""
    if nodata is None:
        return None
    v = float(nodata)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return int(v) if v.is_integer() else v


def stac_data_type(dtype: str | np.dtype[Any]) -> str:
    """The STAC raster ``data_type`` of a numpy dtype (``"other"`` when it has none)."""
    name = np.dtype(dtype).name
    if name in _STAC_DATA_TYPES:
        return name
    return _STAC_COMPLEX.get(name, "other")


def proj_fields(crs: Any) -> dict[str, Any]:
    """``proj:code`` (``"EPSG:n"``), or ``proj:code: null`` plus ``proj:wkt2`` for other CRSs.

    ``crs``: anything pyproj reads (``"EPSG:32650"``, WKT, a PROJ string, a pyproj or
    rasterio CRS) or ``None``.
    """
    if crs is None:
        return {"proj:code": None}
    try:
        c = CRS.from_user_input(crs)
    except CRSError as e:
        raise ValueError(f"unknown CRS {crs!r}: give an EPSG code or WKT") from e
    epsg = c.to_epsg()
    if epsg is not None:
        return {"proj:code": f"EPSG:{epsg}"}
    return {"proj:code": None, "proj:wkt2": c.to_wkt(version="WKT2_2019")}


def raster_asset(
    key: str,
    path: Path,
    grid: GridSpec,
    bands: Sequence[RasterBand | str],
    *,
    dtype: str,
    nodata: float | None,
    title: str | None = None,
    roles: Sequence[str] = ("data",),
) -> OutputAsset:
    """The STAC asset of a COG written on ``grid`` with ``bands``.

    ``extra`` carries projection v2 (``proj:code``, ``proj:shape``, ``proj:transform``), raster
    v1.1 ``raster:bands`` (data_type, nodata, unit, scale, offset, spatial_resolution), the STAC
    1.1 common ``bands`` (name, description) and ``file:size`` when the file exists already.
    ``nodata`` must suit ``dtype`` (:func:`check_nodata`).
    """
    nd = stac_nodata(check_nodata(dtype, nodata))
    bs = as_bands(bands)
    t = grid.transform
    resolution = math.sqrt(abs(t.a * t.e - t.b * t.d))  # side of a square of the pixel's area
    raster_bands = []
    for b in bs:
        rb: dict[str, Any] = {"data_type": stac_data_type(dtype)}
        if nd is not None:
            rb["nodata"] = nd
        if b.unit is not None:
            rb["unit"] = b.unit
        rb["scale"] = float(b.scale)
        rb["offset"] = float(b.offset)
        rb["spatial_resolution"] = resolution
        raster_bands.append(rb)
    common = [
        {"name": b.name, **({"description": b.description} if b.description else {})} for b in bs
    ]
    extra: dict[str, Any] = {
        **proj_fields(grid.crs),
        "proj:shape": [int(grid.shape[0]), int(grid.shape[1])],
        "proj:transform": [float(v) for v in list(t)[:6]],
        "raster:bands": raster_bands,
        "bands": common,
    }
    return file_asset(key, Path(path), COG_MEDIA_TYPE, roles=roles, title=title, extra=extra)
