"""Readers of Sentinel-5P TROPOMI L2 files into a :class:`~rs.atmos.swath.Swath` (the I/O edge).

``read_no2``, ``read_ch4`` and ``read_ch4_blended`` are functions over an already opened file
(an ``h5netcdf.File`` or any object with the same ``groups`` / ``variables`` / ``attrs``
mapping interface); :func:`read_swath` opens a path, picks the product (:func:`detect_product`)
and turns "cannot open" and "variable missing" into :class:`~rs.errors.AssetReadError` naming
the file and the group or variable.

Layouts:

* **ESA L2** (``S5P_<stream>_L2__NO2___...nc``, ``..._L2__CH4___...nc``): variables in group
  ``PRODUCT`` on ``(time=1, scanline, ground_pixel)``: ``latitude``, ``longitude``,
  ``qa_value`` (uint8, scale 0.01), the science variable and its ``_precision``, ``time``
  (s since 2010-01-01) and ``delta_time`` (ms since the ``units`` reference, per scanline);
  corners in ``PRODUCT/SUPPORT_DATA/GEOLOCATIONS/{latitude,longitude}_bounds`` (``corner=4``);
  ``surface_pressure`` (Pa) in ``PRODUCT/SUPPORT_DATA/INPUT_DATA``.
* **Blended TROPOMI+GOSAT CH4** (``S5P_BLND_L2__CH4____...nc``, Balasus et al. 2023): flat,
  one dimension ``nobs``: ``latitude``, ``longitude``, ``latitude_bounds``/``longitude_bounds``
  (``nobs x corner``), ``qa_value``, ``methane_mixing_ratio_blended`` (ppb, the default value;
  ``methane_mixing_ratio_bias_corrected`` on request), ``methane_mixing_ratio_precision``,
  ``time_utc`` (ISO strings), ``surface_pressure``.

Decoding follows CF: ``_FillValue`` (and values outside ``valid_min``/``valid_max``) -> NaN,
then ``scale_factor``/``add_offset``. NO2 columns are converted from mol m⁻² to molecules cm⁻²
(× 6.02214076e19); XCH4 stays in ppb (units ``"1e-9"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rs.atmos.swath import AVOGADRO_CM2, PRODUCTS, ProductName, Swath
from rs.errors import AssetReadError

__all__ = [
    "detect_product",
    "read_ch4",
    "read_ch4_blended",
    "read_no2",
    "read_swath",
    "required_variables",
]

_GEO = "PRODUCT/SUPPORT_DATA/GEOLOCATIONS"
_INPUT = "PRODUCT/SUPPORT_DATA/INPUT_DATA"
#: S5P_<stream>_<product, 10 chars>_<start>_... (the part of rs.load._swaths's pattern needed)
_S5P_NAME = re.compile(r"^S5P_(?P<stream>[A-Z0-9]{4})_(?P<product>.{10})_\d{8}T\d{6}_")
#: unit of the file -> factor to the Swath unit, per product family
_UNITS: dict[str, dict[str, float]] = {
    "molecules cm-2": {
        "mol m-2": AVOGADRO_CM2, "mol m^-2": AVOGADRO_CM2, "mol/m2": AVOGADRO_CM2,
        "mol/m^2": AVOGADRO_CM2, "molecules cm-2": 1.0, "molec cm-2": 1.0, "molec/cm2": 1.0,
    },
    "ppb": {"1e-9": 1.0, "ppb": 1.0, "ppbv": 1.0, "1": 1e9, "mol mol-1": 1e9, "ppm": 1e3},
}
#: the unit a product's science variable has when the attribute is missing
_DEFAULT_UNITS = {"molecules cm-2": "mol m-2", "ppb": "1e-9"}


def required_variables(product: str) -> tuple[str, ...]:
    """The groups/variables a file of ``product`` must have: ``needs["variables"]`` of
    :meth:`rs.load.readers.SwathReader.preflight`."""
    info = PRODUCTS[product]
    if product == "ch4_blended":
        return ("latitude", "longitude", "latitude_bounds", "longitude_bounds", "qa_value",
                "time_utc", info.variable)
    return ("PRODUCT/latitude", "PRODUCT/longitude", "PRODUCT/qa_value", "PRODUCT/delta_time",
            f"{_GEO}/latitude_bounds", f"{_GEO}/longitude_bounds", info.variable)


# --- access and CF decoding ----------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return _text(value.reshape(-1)[0]) if value.size else ""
    return str(value)


def _find(f: Any, path: str) -> Any | None:
    """The variable at ``path`` ("GROUP/SUB/name") or ``None``."""
    *groups, name = path.strip("/").split("/")
    node = f
    for g in groups:
        if g not in node.groups:
            return None
        node = node.groups[g]
    return node.variables.get(name)


def _require(f: Any, path: str, source: str, what: str) -> Any:
    var = _find(f, path)
    if var is not None:
        return var
    groups = path.strip("/").split("/")[:-1]
    node, missing = f, path
    for i, g in enumerate(groups):
        if g not in node.groups:
            missing = "group " + "/".join(groups[: i + 1])
            break
        node = node.groups[g]
    else:
        missing = f"variable {path}"
    raise AssetReadError(
        f"{source}: no {missing}, so this is not a complete {what} file (truncated, stripped "
        "or another product); download it again or pick the right product"
    )


def _raw(var: Any, path: str, source: str) -> np.ndarray:
    try:
        return np.asarray(var[...])
    except (OSError, ValueError, RuntimeError) as e:  # a truncated file fails at the data
        raise AssetReadError(f"{source}: cannot read variable {path}: {e}") from e


def _decode(var: Any, path: str, source: str) -> np.ndarray:
    """CF-decoded float64 values: fill and out-of-range values NaN, scale and offset applied."""
    raw = _raw(var, path, source)
    attrs = var.attrs
    out = raw.astype(np.float64)
    bad = ~np.isfinite(out)
    if "_FillValue" in attrs:
        fill = np.asarray(attrs["_FillValue"]).astype(raw.dtype)
        bad |= raw == fill
    if "valid_min" in attrs:
        bad |= raw < np.asarray(attrs["valid_min"]).astype(raw.dtype)
    if "valid_max" in attrs:
        bad |= raw > np.asarray(attrs["valid_max"]).astype(raw.dtype)
    if "scale_factor" in attrs:  # float64 arithmetic: 76 * 0.01 is 0.76, not 0.7599999
        out *= float(np.float64(_text(attrs["scale_factor"])))
    if "add_offset" in attrs:
        out += float(np.float64(_text(attrs["add_offset"])))
    out[bad] = np.nan
    return out


def _squeeze_time(a: np.ndarray, ndim: int) -> np.ndarray:
    """Drop the leading ``time`` axis of length 1 of an ESA variable."""
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    return a


def _factor(var: Any, path: str, source: str, units: str) -> float:
    text = _text(var.attrs.get("units", _DEFAULT_UNITS[units])).strip()
    table = _UNITS[units]
    if text not in table:
        raise AssetReadError(
            f"{source}: variable {path} has units {text!r}; expected one of "
            f"{', '.join(sorted(table))} (converted to {units})"
        )
    return table[text]


def _utc_strings(values: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC strings (bytes or str, '' for missing) -> datetime64[ms] (NaT if missing)."""
    flat = [_text(v).strip().rstrip("Z") for v in values.reshape(-1)]
    return np.array([v if v else "NaT" for v in flat], dtype="datetime64[ms]").reshape(
        values.shape)


#: CF time unit -> milliseconds
_STEP_MS = {"milliseconds": 1, "millisecond": 1, "ms": 1, "seconds": 1000, "second": 1000,
            "s": 1000, "days": 86_400_000, "day": 86_400_000}


def _cf_time(raw: np.ndarray, units: str, path: str, source: str) -> np.ndarray:
    """Numeric CF time ``<unit> since <date>`` -> datetime64[ms]."""
    m = re.match(r"^\s*(\w+)\s+since\s+(\S+)(?:[ T](\S+))?", units)
    if m is None or m[1].lower() not in _STEP_MS:
        raise AssetReadError(f"{source}: variable {path} has time units {units!r}, "
                             "expected '<milliseconds|seconds|days> since <date>'")
    ref = np.datetime64(f"{m[2]}T{(m[3] or '00:00:00').rstrip('Z')}", "ms")
    ok = np.isfinite(raw)
    ms = np.where(ok, raw, 0.0) * _STEP_MS[m[1].lower()]
    out = ref + np.rint(ms).astype(np.int64).astype("timedelta64[ms]")
    out[~ok] = np.datetime64("NaT")
    return out


def _esa_times(f: Any, source: str, n_scan: int) -> np.ndarray:
    """The UTC time of each scanline of an ESA L2 file (``delta_time``, else ``time_utc``)."""
    path = "PRODUCT/delta_time"
    var = _find(f, path)
    if var is not None:
        dt = _squeeze_time(_decode(var, path, source), 1)
        units = _text(var.attrs.get("units", ""))
        if "since" not in units:  # old files: ms since PRODUCT/time (s since 2010-01-01)
            t0 = _decode(_require(f, "PRODUCT/time", source, "Sentinel-5P L2"), "PRODUCT/time",
                         source).reshape(-1)[0]
            dt = dt + t0 * 1000.0
            units = "milliseconds since 2010-01-01 00:00:00"
        times = _cf_time(dt, units, path, source)
    else:
        utc = _require(f, "PRODUCT/time_utc", source, "Sentinel-5P L2")
        times = _squeeze_time(_utc_strings(_raw(utc, "PRODUCT/time_utc", source)), 1)
    if times.ndim == 2:  # per pixel in some versions: the scanline's first pixel
        times = times[:, 0]
    if times.shape != (n_scan,):
        raise AssetReadError(f"{source}: {path} has {times.shape} values for {n_scan} scanlines")
    return times


# --- the products --------------------------------------------------------------------------------


def _read_esa(f: Any, product: ProductName, source: str, variable: str | None) -> Swath:
    info = PRODUCTS[product]
    what = f"Sentinel-5P L2 {product.upper()}"
    path = variable or info.variable

    def get(p: str, ndim: int) -> np.ndarray:
        return _squeeze_time(_decode(_require(f, p, source, what), p, source), ndim)

    lat, lon = get("PRODUCT/latitude", 2), get("PRODUCT/longitude", 2)
    shape = lat.shape
    lat_b, lon_b = get(f"{_GEO}/latitude_bounds", 3), get(f"{_GEO}/longitude_bounds", 3)
    var = _require(f, path, source, what)
    value = _squeeze_time(_decode(var, path, source), 2) * _factor(var, path, source, info.units)
    prec_var = _find(f, info.precision) if info.precision and variable is None else None
    precision = None
    if prec_var is not None and info.precision is not None:
        factor = _factor(prec_var, info.precision, source, info.units)
        precision = _squeeze_time(_decode(prec_var, info.precision, source), 2) * factor
    sp_path = f"{_INPUT}/surface_pressure"
    sp_var = _find(f, sp_path)
    pressure = None if sp_var is None else _squeeze_time(_decode(sp_var, sp_path, source), 2)
    qa = get("PRODUCT/qa_value", 2)
    for name, a in (("latitude_bounds", lat_b), ("longitude_bounds", lon_b)):
        if a.shape != (*shape, 4):
            raise AssetReadError(f"{source}: {_GEO}/{name} has shape {a.shape}, expected "
                                 f"{(*shape, 4)} (scanline, ground_pixel, corner)")
    for name, a in (("qa_value", qa), (path, value)):
        if a.shape != shape:
            raise AssetReadError(f"{source}: {name} has shape {a.shape}, expected {shape}")
    scan_times = _esa_times(f, source, shape[0])
    rows, cols = np.indices(shape)
    return Swath(
        product=product, source=source, variable=path, units=info.units,
        lon=lon.reshape(-1), lat=lat.reshape(-1),
        lon_bounds=lon_b.reshape(-1, 4), lat_bounds=lat_b.reshape(-1, 4),
        value=value.reshape(-1),
        precision=None if precision is None else precision.reshape(-1),
        qa=np.round(qa.reshape(-1), 6), time=scan_times[rows.reshape(-1)],
        surface_pressure=None if pressure is None else pressure.reshape(-1),
        shape=tuple(int(s) for s in shape), scanline=rows.reshape(-1),
        ground_pixel=cols.reshape(-1),
    )


def read_no2(f: Any, *, source: str = "", variable: str | None = None) -> Swath:
    """NO2 tropospheric column (molecules cm⁻²) of an opened ESA L2 ``L2__NO2___`` file."""
    return _read_esa(f, "no2", source or _name_of(f), variable)


def read_ch4(f: Any, *, source: str = "", variable: str | None = None) -> Swath:
    """Bias-corrected XCH4 (ppb) of an opened ESA L2 ``L2__CH4___`` file."""
    return _read_esa(f, "ch4", source or _name_of(f), variable)


def read_ch4_blended(
    f: Any, *, source: str = "", variable: str = "methane_mixing_ratio_blended"
) -> Swath:
    """XCH4 (ppb) of an opened blended TROPOMI+GOSAT file (flat ``nobs`` layout).

    ``variable`` may also be ``"methane_mixing_ratio_bias_corrected"`` or
    ``"methane_mixing_ratio"`` (the TROPOMI values carried in the file).
    """
    source = source or _name_of(f)
    what = "blended TROPOMI+GOSAT CH4"

    def get(p: str) -> np.ndarray:
        return _decode(_require(f, p, source, what), p, source)

    lat, lon = get("latitude"), get("longitude")
    n = lat.shape[0]
    lat_b, lon_b = get("latitude_bounds"), get("longitude_bounds")
    var = _require(f, variable, source, what)
    value = _decode(var, variable, source) * _factor(var, variable, source, "ppb")
    prec_var = _find(f, "methane_mixing_ratio_precision")
    precision = None
    if prec_var is not None:
        factor = _factor(prec_var, "methane_mixing_ratio_precision", source, "ppb")
        precision = _decode(prec_var, "methane_mixing_ratio_precision", source) * factor
    sp_var = _find(f, "surface_pressure")
    pressure = None if sp_var is None else _decode(sp_var, "surface_pressure", source)
    times = _utc_strings(_raw(_require(f, "time_utc", source, what), "time_utc", source))
    for name, a in (("latitude_bounds", lat_b), ("longitude_bounds", lon_b)):
        if a.shape != (n, 4):
            raise AssetReadError(f"{source}: {name} has shape {a.shape}, expected ({n}, 4)")
    return Swath(
        product="ch4_blended", source=source, variable=variable, units="ppb", lon=lon, lat=lat,
        lon_bounds=lon_b, lat_bounds=lat_b, value=value, precision=precision,
        qa=np.round(get("qa_value"), 6), time=times, surface_pressure=pressure, shape=(n,),
    )


_READERS = {"no2": read_no2, "ch4": read_ch4, "ch4_blended": read_ch4_blended}


def _name_of(f: Any) -> str:
    return Path(str(getattr(f, "filename", "") or "")).name or "<open file>"


def detect_product(f: Any, name: str = "") -> ProductName:
    """``"no2"``, ``"ch4"`` or ``"ch4_blended"``, from the S5P file name, else the content.

    Raises :class:`~rs.errors.AssetReadError` naming what was looked for when neither tells.
    """
    m = _S5P_NAME.match(Path(name).name)
    if m is not None:
        code = m["product"]
        if code.startswith("L2__CH4"):
            return "ch4_blended" if m["stream"] == "BLND" else "ch4"
        if code.startswith("L2__NO2"):
            return "no2"
    if "methane_mixing_ratio_blended" in f.variables:
        return "ch4_blended"
    desc = f.groups["METADATA"].groups.get("GRANULE_DESCRIPTION") if "METADATA" in f.groups \
        else None
    short = _text(desc.attrs.get("ProductShortName", "")) if desc is not None else ""
    for code, product in (("L2__NO2", "no2"), ("L2__CH4", "ch4")):
        if short.startswith(code):
            return product  # type: ignore[return-value]
    for product in ("no2", "ch4"):
        if _find(f, PRODUCTS[product].variable) is not None:
            return product  # type: ignore[return-value]
    raise AssetReadError(
        f"{name or _name_of(f)}: not a Sentinel-5P L2 NO2/CH4 or blended CH4 file: the name is "
        "not S5P_<stream>_L2__NO2___/L2__CH4___..., there is no group PRODUCT with "
        f"{PRODUCTS['no2'].variable} or {PRODUCTS['ch4'].variable}, and no variable "
        "methane_mixing_ratio_blended; pass product='no2', 'ch4' or 'ch4_blended'"
    )


def read_swath(
    path: str | Path, product: str | None = None, *, variable: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Swath:
    """Open ``path`` and read it as ``product`` (detected when ``None``).

    ``variable`` replaces the product's science variable (same units family). ``options`` are
    passed to ``h5netcdf.File``. A file that cannot be opened as NetCDF4/HDF5 (truncated, not
    NetCDF) or lacks a needed group or variable raises :class:`~rs.errors.AssetReadError` naming
    the file and what is missing.
    """
    import h5netcdf

    p = Path(path)
    if product is not None and product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; one of {', '.join(PRODUCTS)}")
    try:
        f = h5netcdf.File(p, "r", **dict(options or {}))
    except (OSError, ValueError) as e:
        raise AssetReadError(
            f"{p}: cannot be opened as NetCDF4/HDF5 ({e}); the file is truncated or not a "
            "NetCDF4 file, download it again"
        ) from e
    with f:
        name = product or detect_product(f, p.name)
        reader = _READERS[name]
        kwargs: dict[str, Any] = {"source": p.name}
        if variable is not None:
            kwargs["variable"] = variable
        return reader(f, **kwargs)
