"""What a raster output holds, and its STAC asset (projection + raster + bands fields).

No GDAL here: :class:`GridSpec` and :class:`RasterBand` describe a raster; ``cog.py`` writes it
and :func:`raster_asset` describes the written file for its STAC item.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from rs.export.stac_items import OutputAsset, file_fields

__all__ = [
    "COG_MEDIA_TYPE",
    "GridSpec",
    "RasterBand",
    "as_bands",
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


def proj_fields(crs: str | CRS | None) -> dict[str, Any]:
    """``proj:code`` (``"EPSG:n"``), or ``proj:code: null`` plus ``proj:wkt2`` for other CRSs."""
    if crs is None:
        return {"proj:code": None}
    try:
        c = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
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
    """
    bs = as_bands(bands)
    t = grid.transform
    resolution = math.sqrt(abs(t.a * t.e - t.b * t.d))  # side of a square of the pixel's area
    raster_bands = []
    for b in bs:
        rb: dict[str, Any] = {"data_type": stac_data_type(dtype)}
        nd = stac_nodata(nodata)
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
        **file_fields(Path(path)),
    }
    return OutputAsset(
        key=key,
        path=Path(path),
        media_type=COG_MEDIA_TYPE,
        roles=tuple(roles),
        title=title,
        extra=extra,
    )
