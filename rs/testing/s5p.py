"""Seeded synthetic Sentinel-5P TROPOMI swaths written in the exact ESA L2 NetCDF4 layout.

**Geometry.** A sun-synchronous ascending pass (inclination 98.74°, 824 km altitude) whose
nadir track passes over (``lon``, ``lat``) at the middle scanline, heading north-north-west.
Scanlines are ``along_km`` apart; across track the viewing angle steps evenly, chosen so the
nadir pixel is ``nadir_across_km`` wide, and each pixel edge is placed on the sphere by the
viewing geometry (``sin(θ + φ) = (R + H)/R · sin θ``), so pixels widen toward the swath edges
(about 2× at ±41°, 4× at ±54°). The Earth turns under the swath (longitudes drift west with
time). Corners are shared by neighbours and ordered as in the real products: counter-clockwise
from (scanline - ½, ground_pixel - ½), ground pixels numbered west to east.

**Field.** ``truth(lon, lat) = background + gradient · (Δlon, Δlat) + Σ hotspots`` (Gaussian
blobs of known amplitude and width in km), in the product's units (ppb, molecules cm⁻²). A
pixel's true value is the mean of the field at 3 x 3 points spread over its footprint
(:attr:`SyntheticSwath.truth`); the file value adds Gaussian noise of ``noise`` (its
precision). **Clouds**: a smooth random field covers ``cloud_fraction`` of the pixels: NO2
keeps cloudy values with ``qa_value`` 0.40 (0.65 at cloud edges), CH4 has no retrieval there
(fill, qa 0; 0.40 at edges). ``fill_fraction`` of the pixels are failed retrievals;
``bad_corners`` pixels get NaN corners but a good ``qa_value`` (HARP issue #252).

**Plumes** (:class:`Plume`): a point source of known rate under a known wind, as the
vertically integrated Gaussian plume ``Q / (√(2π) σ(s) U) · exp(-c² / 2σ(s)²)`` (kg m⁻²; ``s``
downwind, ``c`` crosswind, ``σ(s)² = σ0² + (spread · s)²``) over ``0 < s < length_km``. Its
mass per metre downwind is exactly ``Q / U``, so the plume holds :attr:`Plume.mass_kg` =
``Q · length / U``: the answer the integrated mass enhancement method must find. The column is
converted with each pixel's surface pressure (XCH4: ``ΔX = C g M_air / (M_CH4 p_s)``; NO2:
molecules cm⁻²) and averaged over 16 x 16 points per pixel near the plume
(:attr:`SyntheticSwath.plume`, included in ``truth``).

>>> path, swath = generate_s5p(tmp_path, S5PConfig(product="ch4", seed=1))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from rs.testing._noise import rng_for, smooth_noise

__all__ = [
    "Hotspot",
    "Plume",
    "S5PConfig",
    "SyntheticSwath",
    "generate_s5p",
    "s5p_name",
    "simulate",
    "write_s5p",
]

R_EARTH = 6371.0  # km, sphere
ALTITUDE = 824.0  # km
INCLINATION = 98.74  # degrees
ORBIT_S = 100.9 * 60.0  # orbital period, s
EARTH_RATE = 360.0 / 86164.1  # degrees per second (sidereal)
FILL = np.float32(9.96921e36)
INT_FILL = np.int32(-2147483647)
_MOL_CM2 = 6.02214076e19  # molecules cm-2 per mol m-2
_EPOCH = np.datetime64("2010-01-01T00:00:00", "s")
_PRODUCTS = {  # name -> (10-char product code, science variable, file units, layer dims)
    "no2": ("L2__NO2___", "nitrogendioxide_tropospheric_column", "mol m-2",
            {"polynomial_exponents": 6, "intensity_offset_polynomial_exponents": 1,
             "layer": 34, "vertices": 2}),
    "ch4": ("L2__CH4___", "methane_mixing_ratio_bias_corrected", "1e-9",
            {"layer": 12, "level": 13}),
}
_DEFAULTS = {"no2": (1.5e15, 7e14), "ch4": (1880.0, 8.0)}  # background, noise (product units)


@dataclass(frozen=True)
class Hotspot:
    """A Gaussian enhancement: ``amplitude`` (product units) at its centre, ``sigma_km`` wide."""

    lon: float
    lat: float
    amplitude: float
    sigma_km: float = 10.0


@dataclass(frozen=True)
class Plume:
    """A point source: ``rate_t_h`` (t/h) carried by the wind (``wind_u`` east, ``wind_v``
    north, m/s) for ``length_km`` downwind."""

    lon: float
    lat: float
    rate_t_h: float
    wind_u: float
    wind_v: float
    length_km: float = 100.0
    spread: float = 0.08  # dσ/ds: neutral stability (Pasquill D)
    sigma0_m: float = 500.0

    @property
    def speed(self) -> float:
        return math.hypot(self.wind_u, self.wind_v)

    @property
    def mass_kg(self) -> float:
        """The mass in the plume: rate x travel time of its far end."""
        return self.rate_t_h * 1000.0 / 3600.0 * self.length_km * 1000.0 / self.speed


@dataclass(frozen=True)
class S5PConfig:
    product: Literal["no2", "ch4"] = "ch4"
    lon: float = 118.8  # nadir track at the middle scanline passes here
    lat: float = 32.0
    n_scanlines: int = 120
    n_ground_pixels: int = 60  # real: 215 (CH4), 450 (NO2)
    nadir_across_km: float = 5.5
    along_km: float = 7.0
    start: dt.datetime = dt.datetime(2021, 6, 1, 5, 0, tzinfo=dt.UTC)  # first scanline
    orbit: int = 18_800
    background: float | None = None  # product units; None: 1880 ppb / 1.5e15 molecules cm-2
    gradient: tuple[float, float] = (0.0, 0.0)  # per degree of longitude, latitude
    hotspots: tuple[Hotspot, ...] = ()
    plumes: tuple[Plume, ...] = ()
    noise: float | None = None  # 1 sigma, product units; None: 8 ppb / 7e14 molecules cm-2
    cloud_fraction: float = 0.2
    fill_fraction: float = 0.0
    bad_corners: int = 0
    surface_pressure: float = 101_325.0  # Pa at sea level; terrain lowers it
    seed: int = 0


@dataclass(frozen=True, eq=False)
class SyntheticSwath:
    """Arrays on ``(scanline, ground_pixel)`` (corners ``[..., 4]``), values in product units
    (ppb, molecules cm⁻²): ``truth`` (noise-free footprint mean), ``value`` (NaN where the file
    has fill), ``precision``, ``qa`` (as stored: multiples of 0.01), ``time`` per scanline."""

    config: S5PConfig
    lon: np.ndarray
    lat: np.ndarray
    lon_bounds: np.ndarray
    lat_bounds: np.ndarray
    truth: np.ndarray
    value: np.ndarray
    precision: np.ndarray
    qa: np.ndarray
    surface_pressure: np.ndarray
    time: np.ndarray
    cloudy: np.ndarray = field(repr=False)
    plume: np.ndarray = field(repr=False)  # the plumes' part of truth

    @property
    def units(self) -> str:
        return "ppb" if self.config.product == "ch4" else "molecules cm-2"

    def field_at(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The noise-free field at points (degrees), plumes aside."""
        return truth_field(self.config, np.asarray(lon, float), np.asarray(lat, float))


def _background(c: S5PConfig) -> tuple[float, float]:
    bg, sigma = _DEFAULTS[c.product]
    return (bg if c.background is None else c.background), (sigma if c.noise is None else c.noise)


def _wrap(lon: np.ndarray) -> np.ndarray:
    return (lon + 180.0) % 360.0 - 180.0


def truth_field(c: S5PConfig, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    bg, _ = _background(c)
    out = bg + c.gradient[0] * _wrap(lon - c.lon) + c.gradient[1] * (lat - c.lat)
    for h in c.hotspots:
        d = _distance_km(lon, lat, h.lon, h.lat)
        out = out + h.amplitude * np.exp(-0.5 * (d / h.sigma_km) ** 2)
    return np.asarray(out, dtype=np.float64)


def _distance_km(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    p1, p2 = np.radians(lat), math.radians(lat0)
    dl = np.radians(lon - lon0)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# --- geometry ------------------------------------------------------------------------------------


def _unit(lon: float, lat: float) -> np.ndarray:
    lo, la = math.radians(lon), math.radians(lat)
    return np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])


def _view_angles(c: S5PConfig, edges: np.ndarray) -> np.ndarray:
    """Earth central angle (rad) of each across-track edge position (in pixels from nadir)."""
    step = c.nadir_across_km / ALTITUDE  # rad of viewing angle per pixel (nadir width H·dθ)
    theta = edges * step
    ratio = (R_EARTH + ALTITUDE) / R_EARTH * np.sin(np.abs(theta))
    if (ratio >= 1.0).any():
        raise ValueError(f"{c.n_ground_pixels} pixels of {c.nadir_across_km} km at nadir look "
                         "past the horizon; use fewer or narrower pixels")
    return np.sign(theta) * (np.arcsin(ratio) - np.abs(theta))


def _points(c: S5PConfig, along: np.ndarray, across: np.ndarray) -> tuple[np.ndarray, ...]:
    """lon/lat (degrees) at along-track positions ``along`` (scanlines from the middle, column)
    and across-track positions ``across`` (pixels from nadir, row), with the Earth's rotation."""
    centre = _unit(c.lon, c.lat)
    north = np.array([-math.sin(math.radians(c.lat)) * math.cos(math.radians(c.lon)),
                      -math.sin(math.radians(c.lat)) * math.sin(math.radians(c.lon)),
                      math.cos(math.radians(c.lat))])
    east = np.cross(north, centre)
    sin_az = np.clip(math.cos(math.radians(INCLINATION)) / max(math.cos(math.radians(c.lat)),
                                                                 1e-9), -1.0, 1.0)
    heading = math.sqrt(1.0 - sin_az**2) * north + sin_az * east
    right = np.cross(heading, centre)  # east-ish for a northbound pass
    alpha = along * c.along_km / R_EARTH
    phi = _view_angles(c, across)
    track = np.cos(alpha)[..., None] * centre + np.sin(alpha)[..., None] * heading
    p = np.cos(phi)[..., None] * track + np.sin(phi)[..., None] * right
    lat = np.degrees(np.arcsin(np.clip(p[..., 2], -1.0, 1.0)))
    seconds = alpha / (2 * math.pi) * ORBIT_S
    lon = np.degrees(np.arctan2(p[..., 1], p[..., 0])) - EARTH_RATE * seconds
    return _wrap(lon), lat


def _geometry(c: S5PConfig) -> tuple[np.ndarray, ...]:
    ns, ng = c.n_scanlines, c.n_ground_pixels
    s_edges = np.arange(ns + 1) - ns / 2.0
    g_edges = np.arange(ng + 1) - ng / 2.0
    lon_e, lat_e = _points(c, s_edges[:, None], g_edges[None, :])  # (ns+1, ng+1) corners
    lon_c, lat_c = _points(c, (s_edges[:-1] + 0.5)[:, None], (g_edges[:-1] + 0.5)[None, :])

    def quad(a: np.ndarray) -> np.ndarray:  # CCW from (scanline - 1/2, ground_pixel - 1/2)
        return np.stack([a[:-1, :-1], a[:-1, 1:], a[1:, 1:], a[1:, :-1]], axis=-1)

    return lon_c, lat_c, quad(lon_e), quad(lat_e)


def _footprint_mean(c: S5PConfig, lon_b: np.ndarray, lat_b: np.ndarray,
                    lon_c: np.ndarray) -> np.ndarray:
    """Mean of the field at 3 x 3 bilinear points inside each pixel."""
    dl = _wrap(lon_b - lon_c[..., None])  # corners relative to the centre: no ±180 jumps
    total = np.zeros(lon_c.shape)
    for u in (1 / 6, 0.5, 5 / 6):
        for v in (1 / 6, 0.5, 5 / 6):
            w = np.array([(1 - u) * (1 - v), u * (1 - v), u * v, (1 - u) * v])
            total += truth_field(c, lon_c + dl @ w, lat_b @ w)
    return total / 9.0


_G, _M_AIR, _M = 9.80665, 0.0289644, {"ch4": 0.01604, "no2": 0.0460055}  # SI


def _plume_column(p: Plume, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Column enhancement (kg m-2) of plume ``p`` at points."""
    east = _wrap(lon - p.lon) * 111.320 * np.cos(np.radians(lat)) * 1000.0
    north = (lat - p.lat) * 110.574 * 1000.0
    u, v = p.wind_u / p.speed, p.wind_v / p.speed
    s, c = east * u + north * v, north * u - east * v
    sigma = np.sqrt(p.sigma0_m**2 + (p.spread * np.maximum(s, 0.0)) ** 2)
    rate = p.rate_t_h * 1000.0 / 3600.0
    column = rate / (math.sqrt(2 * math.pi) * sigma * p.speed) * np.exp(-0.5 * (c / sigma) ** 2)
    return np.where((s > 0.0) & (s < p.length_km * 1000.0), column, 0.0)


def _plumes(c: S5PConfig, lon_b: np.ndarray, lat_b: np.ndarray, lon_c: np.ndarray,
            lat_c: np.ndarray, pressure: np.ndarray, n: int = 16) -> np.ndarray:
    """Pixel means of the plumes in product units, on 16 x 16 points per pixel near them."""
    out = np.zeros(lon_c.shape)
    if not c.plumes:
        return out
    if c.product == "ch4":
        to_units = _G * _M_AIR / (_M["ch4"] * pressure) * 1e9  # kg m-2 -> ppb
    else:
        to_units = np.full(lon_c.shape, _MOL_CM2 / _M["no2"])  # kg m-2 -> molecules cm-2
    dl = _wrap(lon_b - lon_c[..., None])
    steps = (np.arange(n) + 0.5) / n
    for p in c.plumes:
        reach = p.length_km + 5 * p.spread * p.length_km + 30.0  # km around the source
        near = _distance_km(lon_c, lat_c, p.lon, p.lat) < reach
        corners_lon, corners_lat = lon_c[near][:, None] + dl[near], lat_b[near]
        total = np.zeros(int(near.sum()))
        for a in steps:
            for b in steps:
                w = np.array([(1 - a) * (1 - b), a * (1 - b), a * b, (1 - a) * b])
                total += _plume_column(p, corners_lon @ w, corners_lat @ w)
        out[near] += total / n**2 * to_units[near]
    return out


def simulate(c: S5PConfig) -> SyntheticSwath:
    """The swath of ``c`` (no file written)."""
    if not 0.0 <= c.cloud_fraction < 1.0 or not 0.0 <= c.fill_fraction < 1.0:
        raise ValueError("cloud_fraction and fill_fraction must be in [0, 1)")
    lon, lat, lon_b, lat_b = _geometry(c)
    shape = lon.shape
    terrain = 1500.0 * np.clip(smooth_noise(rng_for(c.seed, 5), shape, sigma=6.0), 0, None)
    pressure = c.surface_pressure * np.exp(-terrain / 8400.0)
    plume = _plumes(c, lon_b, lat_b, lon, lat, pressure)
    truth = _footprint_mean(c, lon_b, lat_b, lon) + plume
    _, sigma = _background(c)
    value = truth + sigma * rng_for(c.seed, 1).standard_normal(shape)
    precision = np.full(shape, float(sigma))
    qa = np.ones(shape)
    cloud = smooth_noise(rng_for(c.seed, 2), shape, sigma=4.0).astype(np.float64)
    cloudy, edge = np.zeros(shape, bool), np.zeros(shape, bool)
    if c.cloud_fraction:
        cloudy = cloud > np.quantile(cloud, 1.0 - c.cloud_fraction)
        edge = (cloud > np.quantile(cloud, max(0.0, 1.0 - c.cloud_fraction - 0.05))) & ~cloudy
    if c.product == "no2":
        qa[cloudy], qa[edge] = 0.40, 0.65
        precision[cloudy | edge] *= 2.0
    else:
        qa[cloudy], qa[edge] = 0.0, 0.40
        value[cloudy] = np.nan
    failed = rng_for(c.seed, 3).random(shape) < c.fill_fraction
    value[failed], qa[failed] = np.nan, 0.0
    precision[~np.isfinite(value)] = np.nan
    if c.bad_corners:
        good = np.flatnonzero(qa.reshape(-1) == 1.0)  # pixels QA would otherwise keep
        idx = rng_for(c.seed, 4).choice(good, size=c.bad_corners, replace=False)
        rows, cols = np.unravel_index(idx, shape)
        lon_b, lat_b = lon_b.copy(), lat_b.copy()
        lon_b[rows, cols, 2], lat_b[rows, cols, 0] = np.nan, np.nan
    start = np.datetime64(c.start.astimezone(dt.UTC).replace(tzinfo=None), "ms")
    period = c.along_km / (2 * math.pi * R_EARTH / ORBIT_S)  # s per scanline
    time = start + np.rint(np.arange(c.n_scanlines) * period * 1000).astype("timedelta64[ms]")
    return SyntheticSwath(c, lon, lat, lon_b, lat_b, truth, value, precision, qa, pressure,
                          time, cloudy, plume)


# --- the file ------------------------------------------------------------------------------------


def s5p_name(product: str, start: dt.datetime, end: dt.datetime, orbit: int,
             produced: dt.datetime | None = None) -> str:
    """``S5P_OFFL_L2__CH4____<start>_<end>_<orbit>_02_020400_<production>.nc``."""
    code = _PRODUCTS[product][0]
    fmt = "%Y%m%dT%H%M%S"
    made = (produced or end + dt.timedelta(days=3)).strftime(fmt)
    return f"S5P_OFFL_{code}_{start:{fmt}}_{end:{fmt}}_{orbit:05d}_02_020400_{made}.nc"


def _py(t: np.datetime64) -> dt.datetime:
    return dt.datetime.fromisoformat(str(t.astype("datetime64[ms]"))).replace(tzinfo=dt.UTC)


def write_s5p(folder: Path | str, s: SyntheticSwath, *, compression: str | None = None) -> Path:
    """Write ``s`` as an ESA L2 file (name by :func:`s5p_name`) into ``folder``."""
    import h5netcdf
    import h5py

    c = s.config
    code, var, units, extra_dims = _PRODUCTS[c.product]
    t0, t1 = _py(s.time[0]), _py(s.time[-1])
    path = Path(folder) / s5p_name(c.product, t0, t1, c.orbit)
    path.parent.mkdir(parents=True, exist_ok=True)
    ref = np.datetime64(t0.strftime("%Y-%m-%d"), "s")
    factor = _MOL_CM2 if c.product == "no2" else 1.0
    grid3 = ("time", "scanline", "ground_pixel")
    ns, ng = s.lon.shape
    kw = {"compression": compression} if compression else {}

    def put(group: h5netcdf.Group, name: str, dims: tuple[str, ...], data: np.ndarray,
            dtype: type = np.float32, fill: np.generic | None = FILL, **attrs: object) -> None:
        v = group.create_variable(name, dims, dtype, fillvalue=fill, **kw)
        v[...] = data
        for k, a in attrs.items():
            v.attrs[k] = a

    def floats(a: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(a), a, FILL).astype(np.float32)[None]

    with h5netcdf.File(path, "w") as f:
        f.attrs.update({
            "Conventions": "CF-1.7", "institution": "rs.testing (synthetic)",
            "source": "Sentinel 5 precursor, TROPOMI, space-borne remote sensing, L2",
            "title": f"TROPOMI/S5P {c.product.upper()} 1-Orbit L2 Swath (synthetic)",
            "id": path.stem, "orbit": np.int32(c.orbit), "platform": "S5P", "sensor": "TROPOMI",
            "time_reference": f"{t0:%Y-%m-%d}T00:00:00Z",
            "time_reference_seconds_since_1970": np.int64(
                (ref - np.datetime64("1970-01-01", "s")).astype(np.int64)),
            "time_coverage_start": f"{t0:%Y-%m-%dT%H:%M:%S}Z",
            "time_coverage_end": f"{t1:%Y-%m-%dT%H:%M:%S}Z", "cdm_data_type": "Swath",
            "processor_version": "2.4.0", "product_version": "2.4.0",
            "spatial_resolution": f"{c.nadir_across_km:g}x{c.along_km:g}km2",
            "geospatial_lat_min": np.float32(np.nanmin(s.lat_bounds)),
            "geospatial_lat_max": np.float32(np.nanmax(s.lat_bounds)),
            "geospatial_lon_min": np.float32(np.nanmin(s.lon_bounds)),
            "geospatial_lon_max": np.float32(np.nanmax(s.lon_bounds)),
            "comment": f"synthetic swath from rs.testing.s5p, seed {c.seed}",
        })
        p = f.create_group("PRODUCT")
        p.dimensions = {"scanline": ns, "ground_pixel": ng, "corner": 4, "time": 1, **extra_dims}
        put(p, "scanline", ("scanline",), np.arange(ns), np.int32, None, units="1",
            long_name="along-track dimension index")
        put(p, "ground_pixel", ("ground_pixel",), np.arange(ng), np.int32, None, units="1",
            long_name="across-track dimension index")
        put(p, "corner", ("corner",), np.arange(4), np.int32, None, units="1",
            long_name="pixel corner index")
        put(p, "time", ("time",), np.array([(ref - _EPOCH).astype(np.int64)]), np.int32, None,
            units="seconds since 2010-01-01 00:00:00", standard_name="time", axis="T")
        delta = (s.time - ref.astype("datetime64[ms]")).astype(np.int64)
        put(p, "delta_time", ("time", "scanline"), delta[None], np.int32, INT_FILL,
            units=f"milliseconds since {t0:%Y-%m-%d} 00:00:00",
            long_name="offset of start time of measurement relative to time_reference")
        utc = np.array([[f"{t.astype('datetime64[us]')!s}Z" for t in s.time]], dtype=object)
        tv = p.create_variable("time_utc", ("time", "scanline"), h5py.string_dtype())
        tv[...] = utc
        tv.attrs["long_name"] = "Time of observation as ISO 8601 date-time string"
        for name, a, std, lo, hi in (("latitude", s.lat, "latitude", -90.0, 90.0),
                                     ("longitude", s.lon, "longitude", -180.0, 180.0)):
            unit = "degrees_north" if std == "latitude" else "degrees_east"
            put(p, name, grid3, floats(a), standard_name=std, valid_min=np.float32(lo),
                valid_max=np.float32(hi), units=unit,
                bounds=f"/PRODUCT/SUPPORT_DATA/GEOLOCATIONS/{name}_bounds")
        qa = np.where(np.isfinite(s.qa), np.rint(s.qa * 100), 255).astype(np.uint8)[None]
        put(p, "qa_value", grid3, qa, np.uint8, np.uint8(255), units="1",
            scale_factor=np.float32(0.01), add_offset=np.float32(0.0), valid_min=np.uint8(0),
            valid_max=np.uint8(100), long_name="data quality value",
            coordinates="longitude latitude")
        science: dict[str, object] = {"units": units, "coordinates": "longitude latitude",
                   "ancillary_variables": f"{var}_precision"}
        if c.product == "no2":
            science["multiplication_factor_to_convert_to_molecules_percm2"] = np.float32(_MOL_CM2)
        put(p, var, grid3, floats(s.value / factor), np.float32, FILL, **science)
        put(p, f"{var}_precision" if c.product == "no2" else "methane_mixing_ratio_precision",
            grid3, floats(s.precision / factor), units=units,
            coordinates="longitude latitude")
        support = p.create_group("SUPPORT_DATA")
        geo = support.create_group("GEOLOCATIONS")
        for name, a in (("latitude_bounds", s.lat_bounds), ("longitude_bounds", s.lon_bounds)):
            put(geo, name, (*grid3, "corner"), floats(a))
        inputs = support.create_group("INPUT_DATA")
        put(inputs, "surface_pressure", grid3, floats(s.surface_pressure), units="Pa",
            standard_name="surface_air_pressure",
            coordinates="/PRODUCT/longitude /PRODUCT/latitude")
        support.create_group("DETAILED_RESULTS")
        meta = f.create_group("METADATA")
        meta.create_group("GRANULE_DESCRIPTION").attrs.update({
            "ProductShortName": code, "MissionShortName": "S5P", "InstrumentName": "TROPOMI",
            "ProcessingMode": "Offline", "GranuleStart": f"{t0:%Y-%m-%dT%H:%M:%S}Z",
            "GranuleEnd": f"{t1:%Y-%m-%dT%H:%M:%S}Z"})
        for name in ("QA_STATISTICS", "ALGORITHM_SETTINGS", "ISO_METADATA", "ESA_METADATA"):
            meta.create_group(name)
    return path


def generate_s5p(folder: Path | str, config: S5PConfig,
                 *, compression: str | None = None) -> tuple[Path, SyntheticSwath]:
    """Simulate ``config`` and write it into ``folder``: (file path, the swath and its truth)."""
    swath = simulate(config)
    return write_s5p(folder, swath, compression=compression), swath
