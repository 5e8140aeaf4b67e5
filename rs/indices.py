"""Spectral indices (pure: xarray in, xarray out, lazy).

Inputs are surface reflectance (0..1) with NaN for missing data; outputs are float32 and NaN
wherever an input is NaN or the denominator is zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

__all__ = ["INDICES", "compute_indices", "mndwi", "ndvi", "ndwi", "required_bands"]


def _normalised_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    den = a + b
    out = (a - b) / den.where(den != 0)
    return out.astype(np.float32)


def ndvi(ds: xr.Dataset) -> xr.DataArray:
    """Normalised Difference Vegetation Index, ``(nir - red) / (nir + red)``.

    Unitless, -1..1. Rouse, J.W. et al. (1974), "Monitoring vegetation systems in the Great
    Plains with ERTS", NASA SP-351. Bands: Sentinel-2 B08/B04, Landsat 8-9 B5/B4.
    """
    return _normalised_difference(ds["nir"], ds["red"]).rename("ndvi")


def ndwi(ds: xr.Dataset) -> xr.DataArray:
    """Normalised Difference Water Index, ``(green - nir) / (green + nir)``.

    Unitless, -1..1; open water is positive. McFeeters, S.K. (1996), "The use of the
    Normalized Difference Water Index (NDWI) in the delineation of open water features",
    Int. J. Remote Sensing 17(7).
    """
    return _normalised_difference(ds["green"], ds["nir"]).rename("ndwi")


def mndwi(ds: xr.Dataset) -> xr.DataArray:
    """Modified Normalised Difference Water Index, ``(green - swir16) / (green + swir16)``.

    Unitless, -1..1; open water is positive, and built-up land is less confused with water than
    in NDWI. Xu, H. (2006), "Modification of normalised difference water index (NDWI) to enhance
    open water features in remotely sensed imagery", Int. J. Remote Sensing 27(14). Bands:
    Sentinel-2 B03/B11, Landsat 8-9 B3/B6.
    """
    return _normalised_difference(ds["green"], ds["swir16"]).rename("mndwi")


#: name -> (function, bands it needs)
INDICES: dict[str, tuple[Callable[[xr.Dataset], xr.DataArray], tuple[str, ...]]] = {
    "ndvi": (ndvi, ("nir", "red")),
    "ndwi": (ndwi, ("green", "nir")),
    "mndwi": (mndwi, ("green", "swir16")),
}


def required_bands(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Bands needed to compute the named indices (unknown names raise ``ValueError``)."""
    bands: list[str] = []
    for name in names:
        if name not in INDICES:
            raise ValueError(f"unknown index {name!r}: available are {sorted(INDICES)}")
        for b in INDICES[name][1]:
            if b not in bands:
                bands.append(b)
    return tuple(bands)


def compute_indices(ds: xr.Dataset, names: list[str] | tuple[str, ...]) -> xr.Dataset:
    """Dataset with one variable per named index, computed from ``ds``."""
    required_bands(names)
    return xr.Dataset({name: INDICES[name][0](ds) for name in names}, attrs=ds.attrs)
