"""Cloud-Optimized GeoTIFF writing, block by block so memory stays bounded.

Blocks computed elsewhere (the pipeline owns the Dask client) are written into a tiled
GeoTIFF scratch file; on success it is converted to a COG (deflate, internal overviews) and
renamed onto the target in one step. A failure leaves no partial file behind.

Everything a GIS needs travels inside the file (GDAL keeps it in the TIFF's GDAL_METADATA tag,
so it survives the COG copy): per band the name (GDAL band description), the long description
(band tag ``long_name``), unit, scale, offset and nodata; dataset
tags for product metadata (``RS_PRODUCT``, ``RS_PERIOD``, ...); the colour interpretation.
A stale ``<target>.aux.xml`` (statistics GDAL cached for an older file) is removed on success.

Integer rasters need a finite nodata value (:func:`~rs.export.raster.check_nodata`); NaN in a
float block written to one becomes that value.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp
from rasterio.windows import Window

from rs.errors import OutputError
from rs.export.raster import GridSpec, RasterBand, as_bands, check_nodata

__all__ = ["CogWriter", "GridSpec", "RasterBand"]


def _remove_sidecars(target: Path) -> None:
    """Remove GDAL's PAM sidecar ``<target>.aux.xml`` if present (stale statistics, ...)."""
    with contextlib.suppress(FileNotFoundError):
        Path(f"{target}.aux.xml").unlink()


def _colorinterp(names: Sequence[str], count: int) -> list[ColorInterp]:
    if len(names) != count:
        raise ValueError(f"colorinterp has {len(names)} entries, the raster has {count} bands")
    out = []
    for n in names:
        try:
            out.append(ColorInterp[n.lower()])
        except KeyError as e:
            known = ", ".join(c.name for c in ColorInterp)
            raise ValueError(f"unknown colour interpretation {n!r}; use one of: {known}") from e
    return out


class CogWriter:
    """Write a multi-band COG from blocks.

    >>> bands = [RasterBand("lst", unit="K", scale=0.01, offset=200)]   # doctest: +SKIP
    >>> with CogWriter(path, grid, bands, dtype="uint16", nodata=0,
    ...                tags={"RS_PRODUCT": "lst"}) as w:                # doctest: +SKIP
    ...     w.write_block(0, 0, block)                                  # block: (band, h, w)

    ``bands`` are :class:`RasterBand` or plain names; ``colorinterp`` names one colour
    interpretation per band (``"red"``, ``"green"``, ``"blue"``, ``"gray"``, ``"undefined"``...).
    ``nodata`` must suit ``dtype`` (an integer dtype needs a finite in-range value: ValueError
    otherwise, before any file is made); NaN in blocks written to an integer raster is stored
    as ``nodata``.
    """

    def __init__(
        self,
        target: Path,
        grid: GridSpec,
        bands: Sequence[RasterBand | str],
        *,
        dtype: str = "float32",
        nodata: float | None = float("nan"),
        tags: Mapping[str, str] | None = None,
        colorinterp: Sequence[str] | None = None,
        blocksize: int = 512,
    ) -> None:
        self.target = Path(target)
        self.grid = grid
        self.bands = as_bands(bands)
        self.dtype = dtype
        self.nodata = check_nodata(dtype, nodata)
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.colorinterp = (
            None if colorinterp is None else _colorinterp(colorinterp, len(self.bands))
        )
        self.blocksize = blocksize
        tag = uuid.uuid4().hex[:8]
        self._scratch = self.target.with_name(f".{self.target.name}.{tag}.scratch.tif")
        self._tmp = self.target.with_name(f".{self.target.name}.{tag}.tmp")
        self._ds: rasterio.io.DatasetWriter | None = None

    def __enter__(self) -> CogWriter:
        try:
            self._open()
        except BaseException as e:  # nothing is left behind, whatever failed
            if self._ds is not None:
                with contextlib.suppress(OSError, rasterio.errors.RasterioError):
                    self._ds.close()
                self._ds = None
            self._cleanup()
            if isinstance(e, OSError | rasterio.errors.RasterioError):
                raise OutputError(f"cannot create {self._scratch}: {e}") from e
            raise
        return self

    def _open(self) -> None:
        h, w = self.grid.shape
        self._ds = ds = rasterio.open(
            self._scratch,
            "w",
            driver="GTiff",
            width=w,
            height=h,
            count=len(self.bands),
            dtype=self.dtype,
            crs=self.grid.crs,
            transform=self.grid.transform,
            nodata=self.nodata,
            tiled=True,
            blockxsize=self.blocksize,
            blockysize=self.blocksize,
            BIGTIFF="IF_SAFER",
        )
        for i, b in enumerate(self.bands, start=1):
            ds.set_band_description(i, b.name)  # what GIS tools show as the band's name
            if b.description:
                ds.update_tags(i, long_name=b.description)  # CF-style long name
            if b.unit is not None:
                ds.set_band_unit(i, b.unit)
        ds.scales = [float(b.scale) for b in self.bands]
        ds.offsets = [float(b.offset) for b in self.bands]
        if self.tags:
            ds.update_tags(**self.tags)
        if self.colorinterp is not None:
            ds.colorinterp = self.colorinterp

    def write_block(self, row: int, col: int, block: np.ndarray) -> None:
        """Write ``block`` of shape (band, h, w) (or (h, w) for one band) at pixel (row, col)."""
        if self._ds is None:
            raise RuntimeError("CogWriter is not open: use it as a context manager")
        if block.ndim == 2:
            block = block[np.newaxis]
        if block.shape[0] != len(self.bands):
            raise ValueError(f"block has {block.shape[0]} bands, writer has {len(self.bands)}")
        if np.dtype(self.dtype).kind in "iu" and block.dtype.kind in "fc":
            nan = np.isnan(block)
            if nan.any():
                if self.nodata is None:
                    raise ValueError(
                        f"block has NaN but the {self.dtype} raster {self.target.name} has no "
                        "nodata value; give the writer a nodata value"
                    )
                block = np.where(nan, self.nodata, block)
        window = Window(col, row, block.shape[2], block.shape[1])
        self._ds.write(block.astype(self.dtype, copy=False), window=window)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._ds is not None:
                self._ds.close()
            if exc_type is None:
                self._finish()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        for p in (self._scratch, self._tmp):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
            _remove_sidecars(p)

    def _finish(self) -> None:
        predictor = 3 if np.dtype(self.dtype).kind == "f" else 2
        try:
            rasterio.shutil.copy(
                self._scratch,
                self._tmp,
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR=predictor,
                BLOCKSIZE=self.blocksize,
                OVERVIEWS="AUTO",
                OVERVIEW_RESAMPLING="AVERAGE",
                RESAMPLING="AVERAGE",
                BIGTIFF="IF_SAFER",
                NUM_THREADS="ALL_CPUS",  # compress tiles in parallel
            )
            _remove_sidecars(self.target)
            os.replace(self._tmp, self.target)
        except (OSError, rasterio.errors.RasterioError) as e:
            raise OutputError(f"cannot write COG {self.target}: {e}") from e
