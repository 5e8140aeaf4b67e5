"""Spectral indices and the index registry (pure: xarray in, xarray out, lazy).

Inputs use rs's common band names (``blue, green, red, nir, nir08, swir16, swir22, thermal``,
see :mod:`rs.load.bands`): surface reflectance 0..1 and thermal in Kelvin, NaN for missing data.
Outputs are float32 (computed in float64), NaN wherever an input is NaN or a denominator is 0,
and dask-backed when the input is. A missing band raises :class:`rs.errors.SourceError` naming
the index and the band.

``INDICES`` maps each name to ``(function, bands)``; :func:`required_bands` and
:func:`compute_indices` work from it. Functions with parameters take keyword arguments with
defaults (``compute_indices(ds, names, params={"savi": {"l_soil": 0.3}})``). Tasseled cap lives in
:mod:`rs.tasseled_cap`, fractional vegetation cover in :mod:`rs.fvc`, land surface temperature
in :mod:`rs.lst`; this module wraps them for datasets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from rs.errors import SourceError
from rs.fvc import fractional_vegetation_cover
from rs.lst import (
    LANDSAT8_B10_WAVELENGTH_UM,
    lst_from_brightness_temperature,
    ndvi_threshold_emissivity,
    surface_temperature_celsius,
    thermal_kelvin,
)
from rs.tasseled_cap import tasseled_cap

__all__ = [
    "INDICES",
    "SCENE_DEPENDENT",
    "UNITS",
    "bsi",
    "compute_indices",
    "evi",
    "fvc",
    "ibi",
    "lst",
    "lst_from_brightness",
    "mndwi",
    "nbr",
    "ndbi",
    "ndbsi",
    "ndvi",
    "ndwi",
    "required_bands",
    "savi",
    "tcb",
    "tcg",
    "tcw",
]


def _need(ds: xr.Dataset, index: str, bands: Iterable[str]) -> list[xr.DataArray]:
    """The named bands of ``ds`` as float64, or a :class:`SourceError` naming index and band."""
    bands = list(bands)
    missing = [b for b in bands if b not in ds.data_vars]
    if missing:
        raise SourceError(
            f"index {index!r} needs band(s) {missing}, which the dataset lacks "
            f"(it has {sorted(map(str, ds.data_vars))}); load {bands}"
        )
    return [ds[b].astype(np.float64) for b in bands]


def _ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    """``num / den`` with NaN where ``den`` is 0."""
    return num / den.where(den != 0)


def _out(value: xr.DataArray, name: str, units: str = "1") -> xr.DataArray:
    out = value.astype(np.float32).rename(name)
    out.attrs = {"units": units}
    return out


def _normalised_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """``(a - b) / (a + b)`` as float32, NaN where ``a + b`` is 0."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return _ratio(a64 - b64, a64 + b64).astype(np.float32)


def _nd(ds: xr.Dataset, index: str, a: str, b: str) -> xr.DataArray:
    x, y = _need(ds, index, (a, b))
    return _out(_ratio(x - y, x + y), index)


def ndvi(ds: xr.Dataset) -> xr.DataArray:
    """Normalised Difference Vegetation Index, ``(nir - red) / (nir + red)``.

    Unitless, -1..1; green vegetation ~0.3..0.9, water negative. Rouse, J.W. et al. (1974),
    "Monitoring vegetation systems in the Great Plains with ERTS", NASA SP-351. Bands:
    Sentinel-2 B08/B04, Landsat 8-9 B5/B4.
    """
    return _nd(ds, "ndvi", "nir", "red")


def evi(
    ds: xr.Dataset,
    *,
    gain: float = 2.5,
    c1: float = 6.0,
    c2: float = 7.5,
    l_canopy: float = 1.0,
) -> xr.DataArray:
    """Enhanced Vegetation Index, ``G * (nir - red) / (nir + C1*red - C2*blue + L)``.

    Reflectance 0..1 (the constants assume it); G = ``gain`` = 2.5, C1 = ``c1`` = 6,
    C2 = ``c2`` = 7.5, L = ``l_canopy`` = 1 (MODIS). Unitless, about -1..1 for vegetated and bare
    land (green vegetation ~0.2..0.8); it can leave that range where the denominator nears 0
    (bright blue: snow, cloud). Huete, A. et al. (2002), "Overview of the radiometric and
    biophysical performance of the MODIS vegetation indices", Remote Sens. Environ. 83, 195-213.
    """
    b, r, n = _need(ds, "evi", ("blue", "red", "nir"))
    return _out(gain * _ratio(n - r, n + c1 * r - c2 * b + l_canopy), "evi")


def savi(ds: xr.Dataset, *, l_soil: float = 0.5) -> xr.DataArray:
    """Soil-Adjusted Vegetation Index, ``(1 + L) * (nir - red) / (nir + red + L)``.

    L = ``l_soil`` = 0.5 (intermediate vegetation density) by default. Unitless,
    -(1 + L)..(1 + L), in practice -1..1. Huete, A.R. (1988), "A soil-adjusted vegetation index
    (SAVI)", Remote Sens. Environ. 25, 295-309.
    """
    r, n = _need(ds, "savi", ("red", "nir"))
    return _out((1.0 + l_soil) * _ratio(n - r, n + r + l_soil), "savi")


def ndwi(ds: xr.Dataset) -> xr.DataArray:
    """Normalised Difference Water Index, ``(green - nir) / (green + nir)``.

    Unitless, -1..1; open water is positive. McFeeters, S.K. (1996), "The use of the
    Normalized Difference Water Index (NDWI) in the delineation of open water features",
    Int. J. Remote Sensing 17(7).
    """
    return _nd(ds, "ndwi", "green", "nir")


def mndwi(ds: xr.Dataset) -> xr.DataArray:
    """Modified Normalised Difference Water Index, ``(green - swir16) / (green + swir16)``.

    Unitless, -1..1; open water is positive, and built-up land is less confused with water than
    in NDWI. Xu, H. (2006), "Modification of normalised difference water index (NDWI) to enhance
    open water features in remotely sensed imagery", Int. J. Remote Sensing 27(14). Bands:
    Sentinel-2 B03/B11, Landsat 8-9 B3/B6.
    """
    return _nd(ds, "mndwi", "green", "swir16")


def ndbi(ds: xr.Dataset) -> xr.DataArray:
    """Normalised Difference Built-up Index, ``(swir16 - nir) / (swir16 + nir)``.

    Unitless, -1..1; built-up and bare land positive, vegetation and water negative. Zha, Y.,
    Gao, J. & Ni, S. (2003), "Use of normalized difference built-up index in automatically
    mapping urban areas from TM imagery", Int. J. Remote Sensing 24(3), 583-594.
    """
    return _nd(ds, "ndbi", "swir16", "nir")


def nbr(ds: xr.Dataset) -> xr.DataArray:
    """Normalised Burn Ratio, ``(nir - swir22) / (nir + swir22)``.

    Unitless, -1..1; healthy vegetation high, fresh burns low or negative. Key, C.H. & Benson,
    N.C. (2006), "Landscape assessment (LA): sampling and analysis methods", USDA Forest Service
    Gen. Tech. Rep. RMRS-GTR-164-CD. Bands: Sentinel-2 B08/B12, Landsat 8-9 B5/B7.
    """
    return _nd(ds, "nbr", "nir", "swir22")


def _bsi(ds: xr.Dataset, index: str) -> xr.DataArray:
    b, r, n, s1 = _need(ds, index, ("blue", "red", "nir", "swir16"))
    return _ratio((s1 + r) - (n + b), (s1 + r) + (n + b))


def bsi(ds: xr.Dataset) -> xr.DataArray:
    """Bare Soil Index, ``((swir16 + red) - (nir + blue)) / ((swir16 + red) + (nir + blue))``.

    Unitless, -1..1; bare soil positive, vegetation negative. Rikimaru, A., Roy, P.S. &
    Miyatake, S. (2002), "Tropical forest cover density mapping", Tropical Ecology 43(1),
    39-47. This is the SI of Xu's NDBSI.
    """
    return _out(_bsi(ds, "bsi"), "bsi")


def _ibi(ds: xr.Dataset, index: str) -> xr.DataArray:
    g, r, n, s1 = _need(ds, index, ("green", "red", "nir", "swir16"))
    built = 2.0 * _ratio(s1, s1 + n)
    other = _ratio(n, n + r) + _ratio(g, g + s1)
    return _ratio(built - other, built + other)


def ibi(ds: xr.Dataset) -> xr.DataArray:
    """Index-based Built-up Index (Xu 2008), band form::

        IBI = (2·s1/(s1 + nir) - [nir/(nir + red) + green/(green + s1)])
              / (2·s1/(s1 + nir) + [nir/(nir + red) + green/(green + s1)])     (s1 = swir16)

    i.e. ``(NDBI' - (NDVI' + MNDWI')/2) / (NDBI' + (NDVI' + MNDWI')/2)`` with each index
    rescaled to 0..1 (``X' = (X + 1)/2``), which keeps the denominator positive. Unitless,
    -1..1; built-up land positive. Xu, H. (2008), "A new index for delineating built-up land
    features in satellite imagery", Int. J. Remote Sensing 29(14), 4269-4276; this form (NDVI
    term) is the one Xu (2013) uses in NDBSI. (The form with raw -1..1 indices and SAVI, as in
    some catalogues, has a denominator that crosses zero and is not used.)
    """
    return _out(_ibi(ds, "ibi"), "ibi")


def ndbsi(ds: xr.Dataset) -> xr.DataArray:
    """Normalised Difference Built-up and Soil Index, ``(IBI + SI) / 2``.

    IBI as :func:`ibi`, SI the bare-soil index of Rikimaru et al. (2002) as :func:`bsi`. The
    "dryness" component of the Remote Sensing Ecological Index. Unitless, -1..1; built-up and
    bare land high. Xu, H. (2013), "A remote sensing urban ecological index and its
    application", Acta Ecologica Sinica 33(24), 7853-7862 (also Xu, H. 2013, China Environmental
    Science 33(5), 889-897).
    """
    return _out((_ibi(ds, "ndbsi") + _bsi(ds, "ndbsi")) / 2.0, "ndbsi")


def tcb(ds: xr.Dataset, *, sensor: str | None = None) -> xr.DataArray:
    """Tasseled-cap brightness; coefficients and sources in :mod:`rs.tasseled_cap`.

    Sensor from ``sensor`` or ``ds.attrs["product"]`` (``sentinel-2-l2a``: Shi & Xu 2019
    six-band set, derived for TOA reflectance; ``landsat-c2-l2``: Zhai et al. 2022 surface
    reflectance set). Reflectance units, ~0..1.5.
    """
    return tasseled_cap(ds, "brightness", sensor=sensor, index="tcb")


def tcg(ds: xr.Dataset, *, sensor: str | None = None) -> xr.DataArray:
    """Tasseled-cap greenness (see :func:`tcb`); reflectance units, ~-0.3..0.6."""
    return tasseled_cap(ds, "greenness", sensor=sensor, index="tcg")


def tcw(ds: xr.Dataset, *, sensor: str | None = None) -> xr.DataArray:
    """Tasseled-cap wetness (see :func:`tcb`); reflectance units, ~-0.6..0.2, land mostly < 0.

    The "wetness" component of the Remote Sensing Ecological Index (Xu 2013).
    """
    return tasseled_cap(ds, "wetness", sensor=sensor, index="tcw")


def fvc(
    ds: xr.Dataset,
    *,
    ndvi_soil: float | None = None,
    ndvi_veg: float | None = None,
    percentiles: Sequence[float] = (5.0, 95.0),
) -> xr.DataArray:
    """Fractional vegetation cover by pixel dichotomy from NDVI (see :mod:`rs.fvc`).

    ``FVC = ((NDVI - NDVI_soil) / (NDVI_veg - NDVI_soil))`` clipped to [0, 1]; unitless 0..1.
    End-members not given are the ``percentiles`` (default 5 %, 95 %) of *this dataset's* NDVI
    (Gutman & Ignatov 1998), so the result depends on the extent: for a tiled computation pass
    ``ndvi_soil`` and ``ndvi_veg`` (see :data:`SCENE_DEPENDENT`).
    """
    _need(ds, "fvc", ("nir", "red"))
    out = fractional_vegetation_cover(
        ndvi(ds), ndvi_soil=ndvi_soil, ndvi_veg=ndvi_veg, percentiles=percentiles
    )
    return _out(out, "fvc")


def lst(ds: xr.Dataset) -> xr.DataArray:
    """Land surface temperature in °C from Landsat Collection 2 surface temperature.

    ``LST = thermal - 273.15`` with ``thermal`` the ``ST_B10`` band rs loads for
    ``landsat-c2-l2`` (Kelvin after rs's scaling; a ``units = "degC"`` band is accepted). USGS
    Landsat Collection 2 Level-2 Science Product Guide (single-channel ST, Cook et al. 2014).
    Typical -20..60 °C. For at-sensor brightness temperature use :func:`lst_from_brightness`.
    """
    _need(ds, "lst", ("thermal",))
    kelvin = thermal_kelvin(ds["thermal"], index="lst")
    return _out(surface_temperature_celsius(kelvin), "lst", "degC")


def lst_from_brightness(
    ds: xr.Dataset,
    *,
    wavelength_um: float = LANDSAT8_B10_WAVELENGTH_UM,
    ndvi_soil: float = 0.2,
    ndvi_veg: float = 0.5,
) -> xr.DataArray:
    """Land surface temperature in °C from at-sensor brightness temperature (``thermal``).

    ``LST = BT / (1 + (λ·BT/ρ)·ln ε)``, BT in K (a ``units = "degC"`` band is converted),
    λ = ``wavelength_um`` (10.895 µm, Landsat 8 band 10), ρ = 14388 µm·K, ε from NDVI by the
    thresholds method of Sobrino et al. (2004) with ``red``/``nir`` (details and constants in
    :mod:`rs.lst`). Not in :data:`INDICES`: rs loads Collection 2 *surface* temperature, to
    which this correction must not be applied again.
    """
    _need(ds, "lst_from_brightness", ("thermal", "red", "nir"))
    eps = ndvi_threshold_emissivity(ndvi(ds), ds["red"], ndvi_soil=ndvi_soil, ndvi_veg=ndvi_veg)
    bt = thermal_kelvin(ds["thermal"], index="lst_from_brightness")
    out = lst_from_brightness_temperature(bt, eps, wavelength_um=wavelength_um)
    return _out(out, "lst", "degC")


IndexFunction = Callable[..., xr.DataArray]

#: name -> (function, bands it needs). Tasseled cap lists the Sentinel-2 bands (the Landsat set
#: is the same without blue).
INDICES: dict[str, tuple[IndexFunction, tuple[str, ...]]] = {
    "ndvi": (ndvi, ("nir", "red")),
    "ndwi": (ndwi, ("green", "nir")),
    "mndwi": (mndwi, ("green", "swir16")),
    "evi": (evi, ("blue", "red", "nir")),
    "savi": (savi, ("red", "nir")),
    "ndbi": (ndbi, ("swir16", "nir")),
    "nbr": (nbr, ("nir", "swir22")),
    "bsi": (bsi, ("blue", "red", "nir", "swir16")),
    "ibi": (ibi, ("green", "red", "nir", "swir16")),
    "ndbsi": (ndbsi, ("blue", "green", "red", "nir", "swir16")),
    "tcb": (tcb, ("blue", "green", "red", "nir", "swir16", "swir22")),
    "tcg": (tcg, ("blue", "green", "red", "nir", "swir16", "swir22")),
    "tcw": (tcw, ("blue", "green", "red", "nir", "swir16", "swir22")),
    "fvc": (fvc, ("nir", "red")),
    "lst": (lst, ("thermal",)),
}

#: units of each index's output ("1": unitless or reflectance)
UNITS: dict[str, str] = {name: ("degC" if name == "lst" else "1") for name in INDICES}

#: indices whose value at a pixel depends on the whole input (FVC's default NDVI percentiles):
#: computed block by block they differ between blocks unless their parameters are fixed
SCENE_DEPENDENT: frozenset[str] = frozenset({"fvc"})


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


def compute_indices(
    ds: xr.Dataset,
    names: list[str] | tuple[str, ...],
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> xr.Dataset:
    """Dataset with one variable per named index, computed from ``ds``.

    ``params`` gives keyword arguments per index, e.g. ``{"savi": {"l_soil": 0.3}}``; a key that is
    not among ``names`` raises ``ValueError``.
    """
    required_bands(names)
    params = params or {}
    stray = sorted(set(params) - set(names))
    if stray:
        raise ValueError(f"parameters given for indices not computed: {stray}")
    return xr.Dataset(
        {name: INDICES[name][0](ds, **params.get(name, {})) for name in names}, attrs=ds.attrs
    )
