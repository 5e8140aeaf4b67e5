"""Land surface temperature (pure: xarray in, xarray out, lazy).

Two routes, both giving degrees Celsius as float32 (NaN where an input is NaN):

(a) **Landsat Collection 2 surface temperature** (``ST_B10``, rs's ``thermal`` band of
    ``landsat-c2-l2``): USGS already retrieved LST (single-channel algorithm with ASTER GED
    emissivity, Cook et al. 2014 / Malakar et al. 2018) and rs's scaling
    (``0.00341802 * DN + 149.0``) gives Kelvin, so only ``LST[°C] = ST[K] - 273.15`` remains.
(b) **From at-sensor brightness temperature** BT (Kelvin) with an NDVI-based emissivity ε,
    by the emissivity correction of the brightness temperature (Artis & Carnahan 1982)::

        LST = BT / (1 + (λ · BT / ρ) · ln ε)

    λ: effective wavelength of the thermal band, 10.895 µm for Landsat 8 TIRS band 10
    (the default, :data:`LANDSAT8_B10_WAVELENGTH_UM`); ρ = h·c/k_B = 1.438 × 10⁻² m·K =
    14388 µm·K (:data:`RHO_UM_K`; h Planck's constant, c the speed of light, k_B Boltzmann's
    constant); BT and LST in K. ε < 1, so LST > BT. This route corrects emissivity only, not the
    atmosphere: for a water-vapour-corrected LST use (a).

ε by the NDVI thresholds method, Sobrino, J.A., Jiménez-Muñoz, J.C. & Paolini, L. (2004), "Land
surface temperature retrieval from LANDSAT TM 5", Remote Sensing of Environment 90(4), 434-440,
doi:10.1016/j.rse.2004.02.003:

- NDVI < 0.2 (bare soil): ε = 0.979 - 0.035 · ρ_red
- 0.2 ≤ NDVI ≤ 0.5 (mixed): ε = 0.004 · P_v + 0.986, P_v = ((NDVI - 0.2) / (0.5 - 0.2))²
  (the vegetation proportion of Carlson & Ripley 1997; 0.004 and 0.986 follow from ε_v = 0.99,
  ε_s = 0.97 and the cavity term with shape factor 0.55)
- NDVI > 0.5 (full vegetation): ε = 0.99

These constants were published for Landsat 5 TM band 6 and are the ones commonly applied to
Landsat 8 band 10; they are keyword arguments for other choices. Water (NDVI < 0) falls in the
soil class (ε ≈ 0.98 instead of ≈ 0.99): over water route (b) reads up to ~0.7 K low.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from rs.errors import SourceError

__all__ = [
    "KELVIN_OFFSET",
    "LANDSAT8_B10_WAVELENGTH_UM",
    "RHO_UM_K",
    "lst_from_brightness_temperature",
    "ndvi_threshold_emissivity",
    "surface_temperature_celsius",
    "thermal_kelvin",
]

#: 0 °C in Kelvin
KELVIN_OFFSET = 273.15
#: ρ = h·c/k_B in µm·K (1.438e-2 m·K), the second radiation constant
RHO_UM_K = 14388.0
#: effective wavelength of Landsat 8 TIRS band 10, µm
LANDSAT8_B10_WAVELENGTH_UM = 10.895

_CELSIUS_UNITS = {"degC", "°C", "C", "celsius", "deg_C", "Celsius"}
_KELVIN_UNITS = {"K", "kelvin", "Kelvin"}


def thermal_kelvin(thermal: xr.DataArray, *, index: str = "lst") -> xr.DataArray:
    """``thermal`` in Kelvin (float64) from its ``units`` attribute.

    rs's loader marks the thermal band ``units = "K"``; a band without ``units`` is taken as
    Kelvin, one in ``degC`` is converted. Any other unit raises :class:`SourceError` naming
    ``index``.
    """
    units = thermal.attrs.get("units")
    if units is None or units in _KELVIN_UNITS:
        return thermal.astype(np.float64)
    if units in _CELSIUS_UNITS:
        return thermal.astype(np.float64) + KELVIN_OFFSET
    raise SourceError(
        f"index {index!r}: the thermal band is in {units!r}; rs reads Kelvin ('K') or "
        "degrees Celsius ('degC')"
    )


def _celsius(kelvin: xr.DataArray) -> xr.DataArray:
    out = (kelvin - KELVIN_OFFSET).astype(np.float32)
    out.attrs = {"units": "degC"}
    return out


def surface_temperature_celsius(st_kelvin: xr.DataArray) -> xr.DataArray:
    """Route (a): Landsat Collection 2 surface temperature (K) -> LST in °C, float32."""
    return _celsius(st_kelvin.astype(np.float64))


def ndvi_threshold_emissivity(
    ndvi: xr.DataArray,
    red: xr.DataArray,
    *,
    ndvi_soil: float = 0.2,
    ndvi_veg: float = 0.5,
    emissivity_veg: float = 0.99,
    soil_intercept: float = 0.979,
    soil_slope: float = -0.035,
    mixed_slope: float = 0.004,
    mixed_intercept: float = 0.986,
) -> xr.DataArray:
    """Surface emissivity by the NDVI thresholds method (Sobrino et al. 2004), float64.

    ``ndvi < ndvi_soil``: ``soil_intercept + soil_slope * red``; ``ndvi_soil <= ndvi <=
    ndvi_veg``: ``mixed_slope * Pv + mixed_intercept`` with ``Pv = ((ndvi - ndvi_soil) /
    (ndvi_veg - ndvi_soil))**2``; ``ndvi > ndvi_veg``: ``emissivity_veg``. ``red`` is surface
    reflectance 0..1. Unitless, ~0.94..0.99; NaN where NDVI (or, for soil, red) is NaN.
    """
    if not ndvi_veg > ndvi_soil:
        raise ValueError(f"ndvi_veg ({ndvi_veg}) must be greater than ndvi_soil ({ndvi_soil})")
    v = ndvi.astype(np.float64)
    pv = ((v - ndvi_soil) / (ndvi_veg - ndvi_soil)) ** 2
    mixed = mixed_slope * pv + mixed_intercept
    soil = soil_intercept + soil_slope * red.astype(np.float64)
    eps = xr.where(v > ndvi_veg, emissivity_veg, xr.where(v >= ndvi_soil, mixed, soil))
    return eps.where(v.notnull())


def lst_from_brightness_temperature(
    bt_kelvin: xr.DataArray,
    emissivity: xr.DataArray,
    *,
    wavelength_um: float = LANDSAT8_B10_WAVELENGTH_UM,
    rho_um_k: float = RHO_UM_K,
) -> xr.DataArray:
    """Route (b): ``LST = BT / (1 + (λ·BT/ρ)·ln ε)`` in °C, float32.

    ``bt_kelvin``: at-sensor brightness temperature in K; ``emissivity``: unitless (0, 1];
    ``wavelength_um``: λ in µm; ``rho_um_k``: ρ in µm·K. NaN where an input is NaN or ε <= 0.
    """
    bt = bt_kelvin.astype(np.float64)
    eps = emissivity.astype(np.float64)
    log_eps = np.log(eps.where(eps > 0))
    kelvin = bt / (1.0 + (wavelength_um * bt / rho_um_k) * log_eps)
    return _celsius(kelvin)
