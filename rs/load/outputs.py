"""Read rs's own published rasters back, window by window (I/O): how a step reads an earlier
step's outputs without holding them in memory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from rs.export.raster import GridSpec

__all__ = ["RasterBandReader", "RasterBands", "band_names", "band_readers", "raster_info",
           "read_window"]


def raster_info(path: Path | str) -> tuple[GridSpec, int]:
    """The grid (CRS, transform, shape) and the band count of the raster at ``path``."""
    with rasterio.open(path) as ds:
        grid = GridSpec(crs=ds.crs.to_string(), transform=ds.transform, shape=(ds.height, ds.width))
        return grid, ds.count


def band_names(path: Path | str) -> list[str]:
    """The band names (descriptions) of the raster at ``path``; ``band<n>`` where unnamed."""
    with rasterio.open(path) as ds:
        return [d or f"band{n}" for n, d in enumerate(ds.descriptions, start=1)]


def read_window(path: Path | str, window: tuple[int, int, int, int], band: int = 1) -> np.ndarray:
    """Band ``band`` of ``path`` over ``window`` = (row, col, height, width) as float32 with
    the file's nodata turned into NaN."""
    row, col, h, w = window
    with rasterio.open(path) as ds:
        data = ds.read(band, window=Window(col, row, w, h)).astype(np.float32)
        nodata = ds.nodatavals[band - 1]
    if nodata is not None and not np.isnan(nodata):
        data[data == nodata] = np.nan
    return data


def _read_slices(path: str, indexes: list[int], rows: slice, cols: slice,
                 shape: tuple[int, int], ds: Any = None) -> np.ndarray:
    """Bands ``indexes`` of ``path`` over ``[rows, cols]`` as float32 (bands, h, w), nodata as
    NaN, with one read per window (a strided slice reads one row of every band at a time, so
    each tile row is decoded once); through the open dataset ``ds`` when given, else opening
    the file for this read."""
    r0, r1, rstep = rows.indices(shape[0])
    c0, c1, cstep = cols.indices(shape[1])
    if rstep < 1 or cstep < 1:
        raise ValueError("only forward slices are supported")
    with contextlib.ExitStack() as stack:
        if ds is None:
            ds = stack.enter_context(rasterio.open(path))
        if rstep == 1:
            data = ds.read(indexes, window=Window(c0, r0, c1 - c0, r1 - r0))[:, :, ::cstep]
        elif r1 > r0:
            data = np.stack([ds.read(indexes, window=Window(c0, r, c1 - c0, 1))[:, 0, ::cstep]
                             for r in range(r0, r1, rstep)], axis=1)
        else:
            data = np.zeros((len(indexes), 0, len(range(c0, c1, cstep))), ds.dtypes[0])
        nodata = [ds.nodatavals[i - 1] for i in indexes]
    out = data.astype(np.float32, copy=False)
    for k, nd in enumerate(nodata):
        if nd is not None and not np.isnan(nd):
            out[k][data[k] == nd] = np.nan
    return out


class RasterBandReader:
    """One band of a published raster as a lazy 2-D array: ``shape`` and ``[rows, cols]``
    slicing read only what is asked (a window, or a strided slice), as float32 with nodata as
    NaN. What the pure change modules take as a "composite" band, so a step can hand them its
    upstream COGs without loading them."""

    def __init__(self, path: Path | str, band: int = 1) -> None:
        self.path = str(path)
        self.band = band
        with rasterio.open(self.path) as ds:
            self.shape: tuple[int, int] = (ds.height, ds.width)

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        rows, cols = key
        return _read_slices(self.path, [self.band], rows, cols, self.shape)[0]


class RasterBands(dict[str, RasterBandReader]):
    """Band name -> :class:`RasterBandReader` of one raster, plus :meth:`read`: several bands
    of one window in one read (the file stores the bands of a tile together, so reading them
    one by one would decode every tile once per band)."""

    _ds: Any = None  # the open dataset, inside :meth:`opened`

    def read_array(self, rows: slice, cols: slice, names: Sequence[str]) -> np.ndarray:
        """Bands ``names`` over ``[rows, cols]``: one float32 (bands, h, w) array, nodata NaN."""
        first = self[names[0]]
        return _read_slices(first.path, [self[n].band for n in names], rows, cols, first.shape,
                            self._ds)

    def read(self, rows: slice, cols: slice, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Bands ``names`` over ``[rows, cols]``, float32 with nodata as NaN."""
        return dict(zip(names, self.read_array(rows, cols, names), strict=True))

    @contextlib.contextmanager
    def opened(self) -> Iterator[RasterBands]:
        """These bands with the file held open (one dataset, for one thread): consecutive
        reads of neighbouring windows find the tiles they share in GDAL's block cache, which
        belongs to the open dataset (a read that opens the file decodes a halo's tiles anew)."""
        held = RasterBands(self)
        with rasterio.open(next(iter(self.values())).path) as ds:
            held._ds = ds
            yield held


def band_readers(
    path: Path | str, names: list[str] | tuple[str, ...]
) -> RasterBands:
    """Lazy readers of the bands ``names`` (by description) of the raster at ``path``;
    :class:`KeyError` naming the missing ones and the bands found."""
    found = band_names(path)
    missing = [n for n in names if n not in found]
    if missing:
        raise KeyError(f"{path} has no band(s) {missing} (bands: {found})")
    return RasterBands({n: RasterBandReader(path, found.index(n) + 1) for n in names})
