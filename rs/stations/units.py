"""Units of station observations: canonical spellings and conversions (pure).

Two families convert within themselves by powers of ten:

* mass concentrations ``ng/m³``, ``µg/m³``, ``mg/m³`` (spelt also ``ug/m3``, ``μg/m3``,
  ``ug m-3``, ``microgram/m3``, ...);
* mixing ratios ``ppt``, ``ppb``, ``ppm`` (also ``ppbv``, ``nmol/mol``, ...).

Between the families a gas needs its molar mass M (:data:`MOLAR_MASS`, g/mol) and the air's
temperature T and pressure P (ideal gas)::

    µg/m³ = ppb * M * P / (R * T) * 1e-3        (P in Pa, T in K, R = 8.314462618 J/(mol K))

The defaults are 25 °C and 1013.25 hPa (:data:`DEFAULT_TEMPERATURE_C`,
:data:`DEFAULT_PRESSURE_HPA`), the reference conditions of the EU air-quality directive and of
the U.S. EPA; there 1 ppb NO2 = 1.8804 µg/m³. China's national standard (GB 3095-2012, since
its 2018 amendment) also reports at 25 °C and 1013.25 hPa; pass other conditions explicitly.

A conversion that cannot be made (an unknown unit, a particle mass such as ``pm25`` to a
mixing ratio, a gas with no molar mass here) raises :class:`~rs.errors.SpecError` saying why.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pandas as pd

from rs.errors import SpecError

__all__ = [
    "DEFAULT_PRESSURE_HPA",
    "DEFAULT_TEMPERATURE_C",
    "GAS_CONSTANT",
    "MOLAR_MASS",
    "conversion_factor",
    "convert",
    "convert_observations",
    "normalize_unit",
]

DEFAULT_TEMPERATURE_C = 25.0
DEFAULT_PRESSURE_HPA = 1013.25
GAS_CONSTANT = 8.314462618  # J / (mol K), CODATA 2018 (exact)

#: molar masses (g/mol) of the gases a mixing ratio can be converted for
MOLAR_MASS: dict[str, float] = {
    "no2": 46.0055,
    "no": 30.0061,
    "nox": 46.0055,  # NOx is reported as NO2 by convention
    "o3": 47.9982,
    "so2": 64.0638,
    "co": 28.0101,
    "nh3": 17.0305,
    "hcho": 30.0260,
    "ch4": 16.0425,
    "c6h6": 78.1118,
}

#: canonical unit -> (family, factor to the family's base unit: µg/m³ or ppb)
_UNITS: dict[str, tuple[str, float]] = {
    "ng/m³": ("mass", 1e-3),
    "µg/m³": ("mass", 1.0),
    "mg/m³": ("mass", 1e3),
    "ppt": ("ratio", 1e-3),
    "ppb": ("ratio", 1.0),
    "ppm": ("ratio", 1e3),
}
_PREFIX = {"n": "ng/m³", "u": "µg/m³", "µ": "µg/m³", "μ": "µg/m³", "micro": "µg/m³",
           "m": "mg/m³", "milli": "mg/m³", "nano": "ng/m³"}
_RATIO = {"ppt": "ppt", "pptv": "ppt", "pmol/mol": "ppt", "ppb": "ppb", "ppbv": "ppb",
          "nmol/mol": "ppb", "ppm": "ppm", "ppmv": "ppm", "µmol/mol": "ppm", "umol/mol": "ppm"}
_MASS = re.compile(r"^(n|u|µ|μ|m|micro|milli|nano)g(?:/m\^?(?:3|³)|m\^?-3|m\^?⁻³)$")


def normalize_unit(unit: str) -> str:
    """The canonical spelling of ``unit`` (``"ug/m3"`` -> ``"µg/m³"``, ``"ppbv"`` -> ``"ppb"``);
    a unit not recognised comes back stripped, unchanged (it is refused only if converted)."""
    raw = str(unit).strip()
    key = re.sub(r"\s+", "", raw.lower()).replace("·", "").replace("*", "")
    key = re.sub(r"grams?", "g", key)
    if key in _RATIO:
        return _RATIO[key]
    key = key.replace("µmol", "umol")
    if key in _RATIO:
        return _RATIO[key]
    m = _MASS.match(key)
    if m:
        return _PREFIX[m.group(1)]
    return raw


def conversion_factor(
    from_unit: str,
    to_unit: str,
    *,
    variable: str | None = None,
    temperature_c: float = DEFAULT_TEMPERATURE_C,
    pressure_hpa: float = DEFAULT_PRESSURE_HPA,
) -> float:
    """The factor f with ``value_in_to_unit = f * value_in_from_unit``.

    ``variable`` (``no2``, ``no2_24h``, ...: the part before the first ``_`` names the gas) is
    needed only between a mass concentration and a mixing ratio.
    """
    src, dst = normalize_unit(from_unit), normalize_unit(to_unit)
    if src == dst:
        return 1.0
    for u in (src, dst):
        if u not in _UNITS:
            raise SpecError(
                f"cannot convert {_what(variable)}from {from_unit!r} to {to_unit!r}: unit {u!r} "
                f"is unknown (known: {', '.join(_UNITS)} and their usual spellings)"
            )
    (fam_s, k_s), (fam_d, k_d) = _UNITS[src], _UNITS[dst]
    if fam_s == fam_d:
        return k_s / k_d
    gas = (variable or "").strip().lower().split("_")[0]
    if gas not in MOLAR_MASS:
        raise SpecError(
            f"cannot convert {_what(variable)}from {from_unit!r} to {to_unit!r}: a mass "
            "concentration and a mixing ratio convert only for a gas with a known molar mass "
            f"({', '.join(MOLAR_MASS)}); "
            + ("name the variable" if not gas else f"{gas!r} is not one of them")
        )
    if not np.isfinite(temperature_c) or temperature_c <= -273.15:
        raise SpecError(f"temperature_c={temperature_c}: must be above -273.15 °C")
    if not np.isfinite(pressure_hpa) or pressure_hpa <= 0:
        raise SpecError(f"pressure_hpa={pressure_hpa}: must be a positive pressure in hPa")
    # µg/m³ per ppb at (T, P)
    ug_per_ppb = MOLAR_MASS[gas] * pressure_hpa * 100.0 / (GAS_CONSTANT * (temperature_c + 273.15))
    ug_per_ppb *= 1e-3
    if fam_s == "ratio":  # ratio -> mass
        return k_s * ug_per_ppb / k_d
    return k_s / ug_per_ppb / k_d


def convert(
    values: npt.ArrayLike,
    from_unit: str,
    to_unit: str,
    *,
    variable: str | None = None,
    temperature_c: float = DEFAULT_TEMPERATURE_C,
    pressure_hpa: float = DEFAULT_PRESSURE_HPA,
) -> np.ndarray:
    """``values`` (float64 array) converted from ``from_unit`` to ``to_unit`` (module doc)."""
    f = conversion_factor(from_unit, to_unit, variable=variable, temperature_c=temperature_c,
                          pressure_hpa=pressure_hpa)
    return np.asarray(values, dtype="float64") * f


def convert_observations(
    observations: pd.DataFrame,
    to_unit: str,
    *,
    variables: str | list[str] | None = None,
    temperature_c: float = DEFAULT_TEMPERATURE_C,
    pressure_hpa: float = DEFAULT_PRESSURE_HPA,
) -> pd.DataFrame:
    """A copy of a tidy observations table with the rows of ``variables`` (all when None) in
    ``to_unit``; each (variable, unit) pair is converted with its own factor, and any pair that
    cannot be converted raises before anything is changed."""
    out = observations.copy()
    target = normalize_unit(to_unit)
    keep: list[str] | None = [variables] if isinstance(variables, str) else variables
    sel = out["variable"].isin(keep) if keep is not None else pd.Series(True, index=out.index)
    pairs = out.loc[sel, ["variable", "unit"]].drop_duplicates()
    factors = {
        (v, u): conversion_factor(u, target, variable=v, temperature_c=temperature_c,
                                  pressure_hpa=pressure_hpa)
        for v, u in pairs.itertuples(index=False)
    }
    value = out["value"].to_numpy(dtype="float64", copy=True)
    unit = out["unit"].to_numpy(dtype=object, copy=True)
    for (v, u), f in factors.items():
        rows = (sel & out["variable"].eq(v) & out["unit"].eq(u)).to_numpy()
        value[rows] *= f
        unit[rows] = target
    out["value"], out["unit"] = value, pd.array(unit, dtype="str")
    return out


def _what(variable: str | None) -> str:
    return f"{variable} " if variable else ""
