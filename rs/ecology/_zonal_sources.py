"""Raster inputs of :func:`rs.ecology.zonal.zonal_stats` as exactextract raster sources.

A file path opens with rasterio: windows are read through GDAL, unmasked when a band's only
mask is its nodata value (exactextract skips nodata and NaN itself), else by exactextract's
masked ``RasterioRasterSource``. A numpy array or xarray DataArray (dask-backed or not) gives
one :class:`WindowSource` per band, handing exactextract only the window it asks for. Only
north-up grids: exactextract refuses rotated ones; flip a south-up array and its transform.
Polygons go to exactextract as WKB (:class:`Polygons`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from affine import Affine
from exactextract.feature import Feature, FeatureSource
from exactextract.raster import RasterSource
from pyproj import CRS

from rs.errors import AssetReadError, SpecError

__all__ = ["Polygons", "Raster", "WindowSource", "in_memory", "open_file"]

#: dtypes whose values float32 holds exactly (their quantiles sort as float32: faster)
F32_EXACT = {"float32", "uint8", "int8", "uint16", "int16", "bool"}


class WindowSource(RasterSource):
    """One band of a north-up grid whose windows come from ``read(x0, y0, nx, ny)``: a slice
    of an in-memory or lazy (dask) array, or an unmasked rasterio read of a file."""

    def __init__(self, read: Callable[[int, int, int, int], np.ndarray],
                 shape: tuple[int, int], bounds: tuple[float, float, float, float], *,
                 nodata: float | None, name: str, wkt: str) -> None:
        super().__init__()
        self.read = read
        self.shape = shape
        self.bounds = bounds
        self.nodata = nodata
        self.wkt = wkt
        self.set_name(name)

    def res(self) -> tuple[float, float]:
        ny, nx = self.shape
        return ((self.bounds[2] - self.bounds[0]) / nx, (self.bounds[3] - self.bounds[1]) / ny)

    def extent(self) -> tuple[float, float, float, float]:
        return self.bounds

    def srs_wkt(self) -> str:
        return self.wkt

    def nodata_value(self) -> float | None:
        return self.nodata

    def read_window(self, x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
        return _plain(self.read(x0, y0, nx, ny))


def _array_reader(arr: Any) -> Callable[[int, int, int, int], np.ndarray]:
    def read(x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
        return np.asarray(arr[y0:y0 + ny, x0:x0 + nx])  # computes only this window if lazy

    return read


class Polygons(FeatureSource):
    """Polygons for exactextract as WKB with their row number (``fields``: ``row_field``):
    several times faster than its GeoDataFrame source, which goes through GeoJSON text."""

    def __init__(self, geoms: np.ndarray, rows: np.ndarray, row_field: str, wkt: str) -> None:
        super().__init__()
        self.wkbs = shapely.to_wkb(geoms)
        self.rows = [int(r) for r in rows]
        self.row_field = row_field
        self.wkt = wkt

    def count(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Feature]:
        for wkb, row in zip(self.wkbs, self.rows, strict=True):
            yield _Polygon(wkb, row, self.row_field)

    def srs_wkt(self) -> str:
        return self.wkt


class _Polygon(Feature):
    def __init__(self, wkb: bytes, row: int, row_field: str) -> None:
        Feature.__init__(self)
        self.wkb = wkb
        self.row = row
        self.row_field = row_field

    def geometry(self) -> bytes:
        return self.wkb

    def get(self, name: str) -> int:
        return self.row

    def fields(self) -> list[str]:
        return [self.row_field]


def _plain(a: np.ndarray) -> np.ndarray:
    """``a`` in a dtype exactextract reads (bool -> uint8, float16 -> float32)."""
    return a.astype({"b": np.uint8, "e": np.float32}.get(a.dtype.char, a.dtype), copy=False)


@dataclass
class Raster:
    sources: list[RasterSource]
    names: list[str]
    crs: CRS
    pixel_area: float  # |dx * dy| in CRS units²
    f32_exact: list[bool]  # per band: float32 holds its values exactly
    close: Callable[[], None]


def _band_names(given: Sequence[str] | None, found: Sequence[Any] | None, n: int) -> list[str]:
    if given is not None:
        names = [str(b) for b in given]
        if len(names) != n:
            raise SpecError(f"band_names has {len(names)} names, the raster has {n} bands")
    elif found is not None and all(found) and len({str(f) for f in found}) == n:
        names = [str(f) for f in found]
    else:
        names = [f"band_{i + 1}" for i in range(n)]
    if len(set(names)) != n:
        raise SpecError(f"band names must be unique, got {names}")
    return names


def _crs(crs: Any, what: str) -> CRS:
    if crs is None:
        raise SpecError(f"{what} has no CRS: give crs= (e.g. 'EPSG:32633')")
    try:
        return CRS.from_user_input(crs)
    except Exception as e:  # pyproj raises CRSError, a subclass of a generic error
        raise SpecError(f"{what}: unknown CRS {crs!r} ({e})") from e


def _north_up(transform: Affine, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of a north-up grid; anything else is refused."""
    if transform.b != 0 or transform.d != 0:
        raise SpecError(f"rotated rasters are not supported (transform {tuple(transform)[:6]})")
    if transform.a <= 0 or transform.e >= 0:
        raise SpecError("the raster must be north-up (transform a > 0, e < 0), got "
                        f"{tuple(transform)[:6]}: flip the array and its transform first")
    ny, nx = shape
    return (transform.c, transform.f + ny * transform.e, transform.c + nx * transform.a,
            transform.f)


def _file_band(ds: Any, band: int, name: str, wkt: str) -> RasterSource:
    """Band ``band`` of an open rasterio dataset: plain reads when the band's only mask is its
    nodata value (or none) and it has no scale/offset, exactextract's masked
    ``RasterioRasterSource`` otherwise (alpha or mask bands, scaled values)."""
    from exactextract.raster import RasterioRasterSource
    from rasterio.enums import MaskFlags
    from rasterio.windows import Window

    flags = set(ds.mask_flag_enums[band - 1])
    plain = flags <= {MaskFlags.nodata, MaskFlags.all_valid}
    if not plain or ds.scales[band - 1] != 1 or ds.offsets[band - 1] != 0:
        return RasterioRasterSource(ds, band, name=name)
    nodata = ds.nodatavals[band - 1]
    if nodata is not None and np.dtype(ds.dtypes[band - 1]).kind in "iub":
        nodata = int(nodata)

    def read(x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
        return ds.read(band, window=Window(x0, y0, nx, ny))

    return WindowSource(read, (ds.height, ds.width), _north_up(ds.transform, ds.shape),
                        nodata=nodata, name=name, wkt=wkt)


def open_file(path: str | os.PathLike[str], band_names: Sequence[str] | None) -> Raster:
    import rasterio

    try:
        ds = rasterio.open(path)
    except (OSError, rasterio.errors.RasterioError) as e:
        raise AssetReadError(f"cannot open the raster {os.fspath(path)}: {e}") from e
    try:
        crs = _crs(ds.crs.to_wkt() if ds.crs else None, f"the raster {os.fspath(path)}")
        _north_up(ds.transform, (ds.height, ds.width))
        names = _band_names(band_names, ds.descriptions, ds.count)
        sources = [_file_band(ds, i + 1, names[i], crs.to_wkt()) for i in range(ds.count)]
    except BaseException:
        ds.close()
        raise
    f32 = [dt in F32_EXACT and sc == 1 and off == 0
           for dt, sc, off in zip(ds.dtypes, ds.scales, ds.offsets, strict=True)]
    return Raster(sources, names, crs, abs(ds.transform.a * ds.transform.e), f32, ds.close)


def _as_affine(transform: Affine | Sequence[float]) -> Affine:
    if isinstance(transform, Affine):
        return transform
    t = tuple(float(v) for v in transform)
    if len(t) not in (6, 9):
        raise SpecError(f"transform must be an Affine or its 6 coefficients, got {len(t)} numbers")
    return Affine(*t[:6])


def in_memory(raster: Any, transform: Affine | Sequence[float] | None, crs: Any,
               nodata: float | None, band_names: Sequence[str] | None) -> Raster:
    found: Sequence[Any] | None = None
    import xarray as xr

    if isinstance(raster, xr.DataArray):
        da = raster
        if da.ndim == 3:
            dim = da.dims[0]
            found = list(da[dim].values) if dim in da.coords else None
        if transform is None or crs is None:
            import odc.geo.xr  # noqa: F401  (registers the .odc accessor)

            gbox = da.odc.geobox
            if transform is None and gbox is not None:
                transform = gbox.affine
            if crs is None:
                crs = da.odc.crs
        if nodata is None:
            nodata = da.attrs.get("nodata", da.attrs.get("_FillValue"))
        data = da.data
    else:
        data = raster
        if isinstance(data, np.ma.MaskedArray):
            filled = np.ma.filled(data.astype(np.float64), np.nan) if nodata is None else None
            data = filled if filled is not None else np.ma.filled(data, nodata)
    if data.ndim not in (2, 3):
        raise SpecError(f"the raster array must be (y, x) or (band, y, x), got shape {data.shape}")
    if transform is None:
        raise SpecError("an in-memory raster needs its transform= (affine.Affine)")
    affine = _as_affine(transform)
    ref = _crs(crs, "the raster array")
    stack = data[np.newaxis] if data.ndim == 2 else data
    bounds = _north_up(affine, stack.shape[1:])
    names = _band_names(band_names, found, stack.shape[0])
    wkt = ref.to_wkt()
    sources = [WindowSource(_array_reader(stack[i]), stack.shape[1:], bounds, nodata=nodata,
                            name=names[i], wkt=wkt) for i in range(stack.shape[0])]
    f32 = [str(stack.dtype) in F32_EXACT] * stack.shape[0]
    return Raster(sources, names, ref, abs(affine.a * affine.e), f32, lambda: None)
