"""The tidy swath: one row per ground pixel of one orbit file, in physical units (pure).

Every reader of :mod:`rs.atmos.read` returns a :class:`Swath`; QA (:mod:`rs.atmos.qa`) and
gridding (:mod:`rs.atmos.grid`) take one. Arrays are flat over pixels (``n`` rows), float64,
with NaN where the file holds a fill value. An ESA L2 file's ``(scanline, ground_pixel)`` image
is flattened in C order; ``scanline`` and ``ground_pixel`` keep each pixel's indices so that
:meth:`Swath.image` puts any per-pixel array back into the image (for plume detection in swath
space). The blended TROPOMI+GOSAT product is already a list of pixels: its indices are ``None``.

Units after reading (:data:`PRODUCTS`): NO2 tropospheric column in molecules cm⁻²
(mol m⁻² × :data:`AVOGADRO_CM2`), XCH4 in ppb.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

__all__ = ["AVOGADRO_CM2", "PRODUCTS", "ProductInfo", "ProductName", "Swath"]

ProductName = Literal["no2", "ch4", "ch4_blended"]

#: mol m-2 -> molecules cm-2 (Avogadro's number / 10^4 cm² per m²)
AVOGADRO_CM2 = 6.02214076e19


@dataclass(frozen=True)
class ProductInfo:
    """What a product is read from and how its values are converted and filtered."""

    name: ProductName
    variable: str  # path of the science variable in the file
    precision: str | None  # path of its precision (1 sigma), if the product has one
    units: str  # of Swath.value after conversion
    min_qa: float  # default QA threshold: keep qa_value > min_qa
    long_name: str


PRODUCTS: dict[str, ProductInfo] = {
    "no2": ProductInfo(
        "no2", "PRODUCT/nitrogendioxide_tropospheric_column",
        "PRODUCT/nitrogendioxide_tropospheric_column_precision", "molecules cm-2", 0.75,
        "tropospheric vertical column of nitrogen dioxide"),
    "ch4": ProductInfo(
        "ch4", "PRODUCT/methane_mixing_ratio_bias_corrected",
        "PRODUCT/methane_mixing_ratio_precision", "ppb", 0.5,
        "column-averaged dry-air mole fraction of methane (bias corrected)"),
    "ch4_blended": ProductInfo(
        "ch4_blended", "methane_mixing_ratio_blended", "methane_mixing_ratio_precision", "ppb",
        0.5, "column-averaged dry-air mole fraction of methane (blended TROPOMI+GOSAT)"),
}


@dataclass(frozen=True, eq=False)
class Swath:
    """The pixels of one orbit file.

    ``lon``/``lat``: pixel centres (degrees); ``lon_bounds``/``lat_bounds``: ``(n, 4)`` corners
    in file order (counter-clockwise in the ESA and blended products); ``value`` and
    ``precision`` (1 sigma, same unit) in :attr:`units`; ``qa``: ``qa_value`` in [0, 1];
    ``time``: the UTC time of each pixel's scanline (``datetime64[ms]``); ``surface_pressure``
    in Pa when the file has it. ``shape`` is the file's pixel layout, ``(scanline,
    ground_pixel)`` or ``(nobs,)``.
    """

    product: ProductName
    source: str  # file name the pixels came from
    variable: str  # the science variable read
    units: str
    lon: np.ndarray
    lat: np.ndarray
    lon_bounds: np.ndarray
    lat_bounds: np.ndarray
    value: np.ndarray
    precision: np.ndarray | None
    qa: np.ndarray
    time: np.ndarray
    surface_pressure: np.ndarray | None
    shape: tuple[int, ...]
    scanline: np.ndarray | None = None
    ground_pixel: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.value.shape[0])

    def select(self, keep: np.ndarray) -> Swath:
        """The pixels where ``keep`` (a boolean mask or an index array) holds; ``shape`` kept."""
        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[keep]

        return replace(
            self, lon=self.lon[keep], lat=self.lat[keep], lon_bounds=self.lon_bounds[keep],
            lat_bounds=self.lat_bounds[keep], value=self.value[keep],
            precision=take(self.precision), qa=self.qa[keep], time=self.time[keep],
            surface_pressure=take(self.surface_pressure), scanline=take(self.scanline),
            ground_pixel=take(self.ground_pixel),
        )

    def image(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Per-pixel ``values`` placed back on the ``(scanline, ground_pixel)`` image."""
        if self.scanline is None or self.ground_pixel is None or len(self.shape) != 2:
            raise ValueError(f"{self.source}: a {self.product} swath has no scanline image")
        out = np.full(self.shape, fill, dtype=np.result_type(values, np.asarray(fill)))
        out[self.scanline, self.ground_pixel] = values
        return out
