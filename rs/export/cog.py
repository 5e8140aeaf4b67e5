"""Cloud-Optimized GeoTIFF writing, block by block so memory stays bounded.

Blocks computed elsewhere (the pipeline owns the Dask client) are written into a tiled
GeoTIFF scratch file; on success it is converted to a COG (deflate, internal overviews) and
renamed onto the target in one step. A failure leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.windows import Window

from rs.errors import OutputError

__all__ = ["CogWriter", "GridSpec"]


@dataclass(frozen=True)
class GridSpec:
    """Where pixels live: CRS (anything rasterio accepts), affine transform and (height, width)."""

    crs: str
    transform: Affine
    shape: tuple[int, int]


class CogWriter:
    """Write a multi-band float32 COG from blocks.

    >>> with CogWriter(path, grid, ["red", "nir"]) as w:   # doctest: +SKIP
    ...     w.write_block(0, 0, block)                      # block: (band, h, w)
    """

    def __init__(
        self,
        target: Path,
        grid: GridSpec,
        band_names: Sequence[str],
        *,
        dtype: str = "float32",
        nodata: float = float("nan"),
        blocksize: int = 512,
    ) -> None:
        self.target = Path(target)
        self.grid = grid
        self.band_names = list(band_names)
        self.dtype = dtype
        self.nodata = nodata
        self.blocksize = blocksize
        tag = uuid.uuid4().hex[:8]
        self._scratch = self.target.with_name(f".{self.target.name}.{tag}.scratch.tif")
        self._tmp = self.target.with_name(f".{self.target.name}.{tag}.tmp")
        self._ds: rasterio.io.DatasetWriter | None = None

    def __enter__(self) -> CogWriter:
        h, w = self.grid.shape
        try:
            self._ds = rasterio.open(
                self._scratch,
                "w",
                driver="GTiff",
                width=w,
                height=h,
                count=len(self.band_names),
                dtype=self.dtype,
                crs=self.grid.crs,
                transform=self.grid.transform,
                nodata=self.nodata,
                tiled=True,
                blockxsize=self.blocksize,
                blockysize=self.blocksize,
                BIGTIFF="IF_SAFER",
            )
        except (OSError, rasterio.errors.RasterioError) as e:
            raise OutputError(f"cannot create {self._scratch}: {e}") from e
        for i, name in enumerate(self.band_names, start=1):
            self._ds.set_band_description(i, name)
        return self

    def write_block(self, row: int, col: int, block: np.ndarray) -> None:
        """Write ``block`` of shape (band, h, w) (or (h, w) for one band) at pixel (row, col)."""
        if self._ds is None:
            raise RuntimeError("CogWriter is not open: use it as a context manager")
        if block.ndim == 2:
            block = block[np.newaxis]
        if block.shape[0] != len(self.band_names):
            raise ValueError(f"block has {block.shape[0]} bands, writer has {len(self.band_names)}")
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
            for p in (self._scratch, self._tmp):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

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
            os.replace(self._tmp, self.target)
        except (OSError, rasterio.errors.RasterioError) as e:
            raise OutputError(f"cannot write COG {self.target}: {e}") from e
