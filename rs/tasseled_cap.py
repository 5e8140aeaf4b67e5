"""Tasseled-cap brightness, greenness and wetness (pure: xarray in, xarray out, lazy).

A tasseled-cap component is a fixed linear combination of reflectance bands,
``TC = sum_i c_i * band_i``, with coefficients derived for one sensor *and one kind of
reflectance*: applying top-of-atmosphere coefficients to surface reflectance (or the reverse)
shifts every value. rs loads surface reflectance (0..1), so the coefficients here are chosen for
what each product delivers:

- ``sentinel-2-l2a``: Shi, T. & Xu, H. (2019), "Derivation of tasseled cap transformation
  coefficients for Sentinel-2 MSI at-sensor reflectance data", IEEE J. Sel. Topics Appl. Earth
  Observ. Remote Sens. 12(10), 4038-4048, doi:10.1109/JSTARS.2019.2938388 -- the **six-band**
  set (B2, B3, B4, B8, B11, B12). Chosen over Nedkov (2017, Comptes rendus Acad. bulg. Sci. 70,
  687-692) and over Shi & Xu's own 13-band set because both of those weight the red-edge, water
  vapour and cirrus bands (B1, B5-B7, B9, B10), which rs does not load and Sentinel-2 L2A does not
  even carry (B10); the six-band set uses exactly rs's ``blue, green, red, nir, swir16, swir22``
  and is aligned to the Landsat-8 OLI tasseled-cap axes (Procrustes rotation), so the two sensors'
  components are comparable. Caveat: it was derived for **at-sensor (TOA, L1C) reflectance**; no
  surface-reflectance set for Sentinel-2 is in wide use. On L2A the axes keep their meaning but
  absolute values carry a bias relative to L1C -- compare Sentinel-2 values with Sentinel-2
  values (as RSEI does, which min-max normalises each component).
- ``landsat-c2-l2``: Zhai, Y., Roy, D.P., Martins, V.S., Zhang, H.K., Yan, L. & Li, Z. (2022),
  "Conterminous United States Landsat-8 top of atmosphere and surface reflectance tasseled cap
  transformation coefficients", Remote Sensing of Environment 274, 112992,
  doi:10.1016/j.rse.2022.112992 -- the **surface-reflectance**, five-band set without the blue
  band (green, red, NIR, SWIR1, SWIR2 = OLI B3-B7), which the authors recommend because blue
  surface reflectance is the least reliably atmospherically corrected. Derived for Landsat-8 OLI
  and stated by the authors to apply to Landsat-9 OLI-2. Baig et al. (2014, Remote Sens. Lett.
  5(5)) is *not* used: its coefficients are for at-satellite reflectance. Landsat 4/5/7 TM/ETM+
  scenes are refused (their bands differ; Crist 1985 would be the reflectance-factor set).

Units: reflectance (unitless, same scale as the input, 0..1). Typical ranges on surface
reflectance: brightness 0..~1.5, greenness ~-0.3..0.6, wetness ~-0.6..0.2 (water and wet surfaces
positive or near zero, dry bare and built-up land most negative).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from rs.errors import SourceError

__all__ = ["COEFFICIENTS", "Component", "Sensor", "TasseledCap", "sensor_of", "tasseled_cap"]

Sensor = Literal["sentinel-2-l2a", "landsat-c2-l2"]
Component = Literal["brightness", "greenness", "wetness"]


@dataclass(frozen=True)
class TasseledCap:
    """One sensor's published tasseled-cap coefficients, in the order of ``bands``."""

    bands: tuple[str, ...]
    brightness: tuple[float, ...]
    greenness: tuple[float, ...]
    wetness: tuple[float, ...]
    reflectance: str
    source: str

    def row(self, component: Component) -> tuple[float, ...]:
        """Coefficients of one component."""
        return {
            "brightness": self.brightness,
            "greenness": self.greenness,
            "wetness": self.wetness,
        }[component]


#: sensor (rs product name) -> coefficients; see the module docstring for why these sets.
COEFFICIENTS: dict[str, TasseledCap] = {
    "sentinel-2-l2a": TasseledCap(
        bands=("blue", "green", "red", "nir", "swir16", "swir22"),  # B2 B3 B4 B8 B11 B12
        brightness=(0.3510, 0.3813, 0.3437, 0.7196, 0.2396, 0.1949),
        greenness=(-0.3599, -0.3533, -0.4734, 0.6633, 0.0087, -0.2856),
        wetness=(0.2578, 0.2305, 0.0883, 0.1071, -0.7611, -0.5308),
        reflectance="at-sensor (TOA) reflectance, Sentinel-2 MSI L1C",
        source="Shi & Xu (2019), IEEE JSTARS 12(10):4038-4048, six-band set",
    ),
    "landsat-c2-l2": TasseledCap(
        bands=("green", "red", "nir", "swir16", "swir22"),  # OLI B3 B4 B5 B6 B7
        brightness=(0.4596, 0.5046, 0.5458, 0.4114, 0.2589),
        greenness=(-0.3374, -0.4901, 0.7909, 0.0177, -0.1416),
        wetness=(0.2254, 0.3681, 0.2250, -0.6053, -0.6298),
        reflectance="surface reflectance, Landsat-8 OLI (applies to Landsat-9 OLI-2)",
        source="Zhai et al. (2022), Remote Sens. Environ. 274:112992, SR set without blue",
    ),
}

_NAMES: dict[str, str] = {"brightness": "tcb", "greenness": "tcg", "wetness": "tcw"}
# Landsat scene ids of TM/ETM+/MSS sensors (LT04, LT05, LE07, LM0x): not OLI
_NOT_OLI = ("LT0", "LE0", "LM0")


def sensor_of(ds: xr.Dataset, sensor: str | None = None, *, index: str = "tasseled cap") -> str:
    """The sensor whose coefficients apply: ``sensor`` if given, else ``ds.attrs["product"]``.

    Raises :class:`SourceError` for an unknown sensor, a dataset that names none, or a
    ``landsat-c2-l2`` dataset whose scenes (``attrs["item_ids"]``) are TM/ETM+ rather than OLI.
    """
    name = sensor if sensor is not None else ds.attrs.get("product")
    if name is None:
        raise SourceError(
            f"{index} needs the sensor: the dataset has no attrs['product'] (set by "
            f"rs.load.load_optical); pass sensor= one of {sorted(COEFFICIENTS)}"
        )
    if name not in COEFFICIENTS:
        raise SourceError(
            f"{index}: no published tasseled-cap coefficients in rs for sensor {name!r}; "
            f"known sensors are {sorted(COEFFICIENTS)}"
        )
    if name == "landsat-c2-l2":
        others = sorted({i for i in _item_ids(ds.attrs.get("item_ids")) if i.startswith(_NOT_OLI)})
        if others:
            raise SourceError(
                f"{index}: the landsat-c2-l2 coefficients (Zhai et al. 2022) are for Landsat 8/9 "
                f"OLI; these scenes are TM/ETM+/MSS: {others[:3]}"
            )
    return str(name)


def _item_ids(value: Any) -> list[str]:
    """Item ids from ``attrs["item_ids"]`` (a list of per-slice lists, or a flat list)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [i for v in value for i in _item_ids(v)]
    return []


def tasseled_cap(
    ds: xr.Dataset,
    component: Component,
    *,
    sensor: str | None = None,
    index: str | None = None,
) -> xr.DataArray:
    """Tasseled-cap ``component`` of ``ds`` with the published coefficients of its sensor.

    ``TC = sum_i c_i * band_i`` over the sensor's bands (:data:`COEFFICIENTS`). Input: surface
    reflectance 0..1 (see the module docstring for the reflectance each set was derived for);
    output float32 in the same units, NaN wherever a used band is NaN. Lazy for dask input.
    ``index`` names the result and is the name errors use (default ``tcb``/``tcg``/``tcw``).

    Raises :class:`SourceError` naming the index and the band when a band is missing, and for
    an unknown sensor (see :func:`sensor_of`).
    """
    if component not in _NAMES:
        raise ValueError(f"unknown tasseled-cap component {component!r}: use {sorted(_NAMES)}")
    name = index or _NAMES[component]
    coeffs = COEFFICIENTS[sensor_of(ds, sensor, index=name)]
    missing = [b for b in coeffs.bands if b not in ds.data_vars]
    if missing:
        raise SourceError(
            f"index {name!r} needs band(s) {missing}, which the dataset lacks "
            f"(it has {sorted(map(str, ds.data_vars))}); load {list(coeffs.bands)}"
        )
    return _combine(ds, coeffs.bands, coeffs.row(component)).rename(name)


def _combine(ds: xr.Dataset, bands: Sequence[str], weights: Sequence[float]) -> xr.DataArray:
    """``sum(w * band)`` in float64, returned as float32 with ``units = "1"``."""
    terms = [ds[b].astype(np.float64) * w for b, w in zip(bands, weights, strict=True)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    out = total.astype(np.float32)
    out.attrs = {"units": "1"}
    return out
