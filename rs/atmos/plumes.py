"""Methane plumes: detection on an anomaly field and emission rates by the integrated mass
enhancement (IME) method (pure: arrays in, tables out).

**Detection** (:func:`detect_plumes`). The anomaly (field - background,
:mod:`rs.atmos.background`) is smoothed by a NaN-aware ``smooth_px`` x ``smooth_px`` box mean
(TROPOMI plumes span several pixels, single-pixel noise does not); its noise is the robust σ
(1.4826·MAD) of the smoothed anomaly. Pixels above ``k`` σ seed a plume, which grows over the
8-connected pixels above ``k_grow`` σ (hysteresis; ``k_grow = k`` is a plain threshold);
plumes with fewer than ``min_pixels`` valid pixels are dropped. Labels are 1, 2, ... in order of
decreasing maximum enhancement.

**IME** (:func:`quantify_plumes`). Each plume's mask is its pixels dilated by ``dilate_px``
(8-connected; the edges below the threshold still hold mass) and limited to valid pixels.
With ΔX the (unsmoothed) anomaly in ppb, p_s the surface pressure (Pa) and A the pixel area
(m², on the sphere):

    dry-air column  N = p_s / (g · M_air)              mol m⁻²   (g = 9.80665, M_air = 0.0289644)
    IME = Σ ΔX · 1e-9 · N · M_CH4 · A                  kg        (M_CH4 = 0.01604 kg mol⁻¹)
    L   = sqrt(Σ A)                                    m
    Q   = U_eff · IME / L                              kg s⁻¹ (x 3.6 -> t h⁻¹)

with ``U_eff = a · U10 + b`` (:func:`rs.atmos.wind.effective_wind`). Pixels with negative
anomaly inside the mask are summed too (noise averages out instead of biasing IME upward).

**Uncertainty** (1σ, in quadrature):

* wind: σ_Q = Q · a · σ_U / U_eff, with σ_U = ``sigma_wind`` (m/s) or ``rel_sigma_wind`` x U10
  (default 50 %);
* background: the IME of the background shifted by its own σ (``sigma_background`` ppb, by
  default the standard error of a median of the window's pixels, 1.2533 σ / sqrt(n)):
  σ_Q = U_eff · Σ σ_bg · 1e-9 · N · M_CH4 · A / L;
* retrieval noise: σ_IME = sqrt(Σ (σ_pixel · 1e-9 · N · M_CH4 · A)²) (σ_pixel: the robust σ
  of the anomaly, or the retrieval precision), σ_Q = U_eff · σ_IME / L.

**U_eff calibration** (:data:`rs.atmos.wind.UEFF_A`): no published calibration fits the
synthetic Gaussian plume of :mod:`rs.testing.s5p` (neutral spread 0.08, 100 km long, 5.5 x 7 km
pixels, 8 ppb noise) under this masking, so it was derived for it: the wind that makes
``Q = U_eff · IME / L`` exact for one plume is ``Q_true · L / IME``; over the 37 plumes
detected among 40 calibration scenes (:func:`rs.testing.s5p_plumes.plume_scene` seeds
1000-1039, disjoint from the tests; U10 2-8 m/s, 10-100 t/h) its ratio to U10 has a median of
0.726 (interquartile about 0.68-0.76; a free linear fit gives 0.59 U10 + 0.53 m/s), hence
``U_eff = 0.72 U10``. The ratio is below 1 because L = sqrt(area) of an elongated plume is
shorter than its length along the wind. The form (linear in U10, from simulated plumes) is
that of Varon et al. (2018, AMT 11, 5673) and Schuit et al. (2023, ACP 23, 9071, for TROPOMI);
for real data pass their coefficients (matching your pixel size and masking) as
``ueff_a``/``ueff_b``.

**Output** (:data:`COLUMNS`): one row per plume, kept even without wind (then ``q_t_h`` is NaN
and ``reason`` says why), as a GeoDataFrame in EPSG:4326 whose geometry is the union of the
mask pixels' corner polygons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from rs.atmos.background import moving_median, robust_sigma
from rs.atmos.lonlat import LonLatGrid
from rs.atmos.swath import Swath
from rs.atmos.wind import UEFF_A, UEFF_B, WindSource

__all__ = [
    "COLUMNS",
    "M_AIR",
    "M_CH4",
    "Detection",
    "G",
    "detect_plumes",
    "dry_air_column",
    "grid_plumes",
    "ppb_to_kg_m2",
    "quad_areas_m2",
    "quantify_plumes",
    "swath_plumes",
]

G = 9.80665  # m s-2
M_AIR = 0.0289644  # kg mol-1, dry air
M_CH4 = 0.01604  # kg mol-1
R_EARTH_M = 6371007.2  # authalic radius (rs.atmos.lonlat.EARTH_RADIUS_KM)
_EIGHT = np.ones((3, 3), dtype=bool)

COLUMNS = ["plume_id", "date", "time", "lon", "lat", "q_t_h", "q_sigma_t_h",
           "q_sigma_wind_t_h", "q_sigma_background_t_h", "q_sigma_noise_t_h", "wind_u",
           "wind_v", "wind_speed", "u_eff", "ime_kg", "length_m", "n_pixels", "n_mask_pixels",
           "max_enhancement_ppb", "reason", "geometry"]


def dry_air_column(surface_pressure: np.ndarray | float) -> np.ndarray:
    """Moles of dry air per m² above a surface at ``surface_pressure`` Pa: p_s / (g M_air)."""
    return np.asarray(surface_pressure, dtype=np.float64) / (G * M_AIR)


def ppb_to_kg_m2(delta_ppb: np.ndarray | float,
                 surface_pressure: np.ndarray | float) -> np.ndarray:
    """An XCH4 enhancement (ppb) as a CH4 column (kg m⁻²)."""
    return np.asarray(delta_ppb, dtype=np.float64) * 1e-9 * dry_air_column(
        surface_pressure) * M_CH4


def quad_areas_m2(lon_bounds: np.ndarray, lat_bounds: np.ndarray) -> np.ndarray:
    """Areas (m²) of quadrilaterals given by corners ``[..., 4]`` (degrees) on the sphere of
    radius 6371.0072 km: the shoelace formula in a local equal-area frame per pixel (x = R Δλ
    cos φ, y = R sin-projection of φ), exact up to O((size / R)²), about 1e-6 for TROPOMI
    pixels. Corners across ±180 are unwrapped around the first corner."""
    lon = np.asarray(lon_bounds, dtype=np.float64)
    lat = np.radians(np.asarray(lat_bounds, dtype=np.float64))
    dl = np.radians((lon - lon[..., :1] + 180.0) % 360.0 - 180.0)
    x = R_EARTH_M * dl  # equal-area cylindrical: x = R λ, y = R sin φ (area-exact)
    y = R_EARTH_M * np.sin(lat)
    xs, ys = np.roll(x, -1, axis=-1), np.roll(y, -1, axis=-1)
    return np.abs(0.5 * np.sum(x * ys - xs * y, axis=-1))


@dataclass(frozen=True, eq=False)
class Detection:
    """``labels`` (0: no plume, 1..n plumes by decreasing peak), the smoothed anomaly, its
    robust σ and the seed threshold (``k`` σ) in the anomaly's units."""

    labels: np.ndarray
    smoothed: np.ndarray
    sigma: float
    threshold: float

    @property
    def n(self) -> int:
        return int(self.labels.max()) if self.labels.size else 0


def _box_mean(a: np.ndarray, size: int) -> np.ndarray:
    ok = np.isfinite(a)
    if size <= 1:
        return np.where(ok, a, np.nan)
    s = ndimage.uniform_filter(np.where(ok, a, 0.0), size, mode="constant")
    c = ndimage.uniform_filter(ok.astype(np.float64), size, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok & (c > 0), s / c, np.nan)


def detect_plumes(anomaly: np.ndarray, *, k: float = 4.5, k_grow: float | None = 2.0,
                  min_pixels: int = 5, smooth_px: int = 3,
                  sigma: float | None = None) -> Detection:
    """Connected enhancements of ``anomaly`` (2-D, NaN = no data); see the module docstring.
    ``sigma`` replaces the robust σ of the smoothed anomaly."""
    a = np.asarray(anomaly, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"detect_plumes needs a 2-D anomaly, not {a.ndim}-D")
    sm = _box_mean(a, smooth_px)
    s = robust_sigma(sm) if sigma is None else float(sigma)
    labels = np.zeros(a.shape, dtype=np.int32)
    if not math.isfinite(s) or s <= 0:
        return Detection(labels, sm, s, math.nan)
    grow = k if k_grow is None else min(k, k_grow)
    with np.errstate(invalid="ignore"):
        region = sm > grow * s
        seed = sm > k * s
    lab, _ = ndimage.label(region, structure=_EIGHT)
    valid = np.isfinite(a)
    kept: list[tuple[float, int]] = []
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None:
            continue
        part = lab[sl] == i
        if not seed[sl][part].any() or int((part & valid[sl]).sum()) < min_pixels:
            continue
        kept.append((float(np.nanmax(sm[sl][part])), i))
    for new, (_, old) in enumerate(sorted(kept, reverse=True), start=1):
        labels[lab == old] = new
    return Detection(labels, sm, s, k * s)


def _mask(labels: np.ndarray, i: int, dilate_px: int, valid: np.ndarray) -> np.ndarray:
    m = labels == i
    if dilate_px > 0:
        m = ndimage.binary_dilation(m, structure=_EIGHT, iterations=dilate_px)
        m &= (labels == 0) | (labels == i)  # never another plume's pixels
    return m & valid


def _polygon(lon_b: np.ndarray, lat_b: np.ndarray, lon0: float) -> Any:
    import shapely

    lon_u = lon0 + (lon_b - lon0 + 180.0) % 360.0 - 180.0
    polys = shapely.polygons(np.stack([lon_u, lat_b], axis=-1))
    return shapely.union_all(shapely.make_valid(polys)).buffer(0)


def quantify_plumes(
    anomaly: np.ndarray, labels: np.ndarray, *, lon: np.ndarray, lat: np.ndarray,
    lon_bounds: np.ndarray, lat_bounds: np.ndarray, surface_pressure: np.ndarray | float,
    time: np.ndarray | None, wind: WindSource | None, sigma_pixel: float | np.ndarray,
    sigma_background: float, dilate_px: int = 1, ueff_a: float = UEFF_A,
    ueff_b: float = UEFF_B, sigma_wind: float | None = None, rel_sigma_wind: float = 0.5,
) -> Any:
    """The emissions table (:data:`COLUMNS`, a GeoDataFrame in EPSG:4326) of the plumes in
    ``labels`` on the ``anomaly`` image (ppb). ``lon``/``lat``/``time`` per pixel (image
    shape), corners ``[..., 4]``; ``surface_pressure`` in Pa (image or scalar); ``wind`` None
    or a source without wind at the plume -> the plume is kept with NaN rates and a reason."""
    import geopandas as gpd

    a = np.asarray(anomaly, dtype=np.float64)
    valid = np.isfinite(a)
    area = quad_areas_m2(lon_bounds, lat_bounds)
    valid &= np.isfinite(area)
    to_kg = ppb_to_kg_m2(1.0, np.broadcast_to(surface_pressure, a.shape)) * area  # kg per ppb
    sig_pix = np.broadcast_to(np.asarray(sigma_pixel, dtype=np.float64), a.shape)
    rows: list[dict[str, Any]] = []
    for i in range(1, int(labels.max(initial=0)) + 1):
        core = (labels == i) & valid
        if not core.any():
            continue
        m = _mask(labels, i, dilate_px, valid)
        ime = float(np.sum(a[m] * to_kg[m]))
        length = math.sqrt(float(area[m].sum()))
        w = np.clip(a[core], 0.0, None) * area[core]
        w = w if w.sum() > 0 else area[core]
        lon0 = float(lon[core][np.argmax(a[core])])
        lons = lon0 + (lon[core] - lon0 + 180.0) % 360.0 - 180.0
        c_lon = float(((np.sum(w * lons) / w.sum()) + 180.0) % 360.0 - 180.0)
        c_lat = float(np.sum(w * lat[core]) / w.sum())
        t = None
        if time is not None:
            tt = np.asarray(time, dtype="datetime64[ms]")[core]
            t = tt.min() + (tt - tt.min()).astype(np.int64).mean().astype("timedelta64[ms]")
        reason = ""
        u = v = math.nan
        if wind is None:
            reason = "no wind source given"
        else:
            u, v = wind.at(c_lon, c_lat, t)
            if not (math.isfinite(u) and math.isfinite(v)):
                reason = "no wind at the plume's centroid and time"
        speed = math.hypot(u, v)
        u_eff = ueff_a * speed + ueff_b if math.isfinite(speed) else math.nan
        if math.isfinite(u_eff) and u_eff <= 0:
            reason, u_eff = f"effective wind {u_eff:.2f} m/s is not positive", math.nan
        q = u_eff * ime / length * 3.6  # kg/s -> t/h
        s_u = sigma_wind if sigma_wind is not None else rel_sigma_wind * speed
        q_w = abs(q) * ueff_a * s_u / u_eff if math.isfinite(u_eff) else math.nan
        q_b = u_eff * sigma_background * float(to_kg[m].sum()) / length * 3.6
        q_n = u_eff * math.sqrt(float(np.sum((sig_pix[m] * to_kg[m]) ** 2))) / length * 3.6
        rows.append({
            "plume_id": i, "date": None if t is None else str(t.astype("datetime64[D]")),
            "time": t, "lon": c_lon, "lat": c_lat, "q_t_h": q,
            "q_sigma_t_h": math.sqrt(q_w**2 + q_b**2 + q_n**2), "q_sigma_wind_t_h": q_w,
            "q_sigma_background_t_h": q_b, "q_sigma_noise_t_h": q_n, "wind_u": u,
            "wind_v": v, "wind_speed": speed, "u_eff": u_eff, "ime_kg": ime,
            "length_m": length, "n_pixels": int(core.sum()), "n_mask_pixels": int(m.sum()),
            "max_enhancement_ppb": float(a[core].max()), "reason": reason,
            "geometry": _polygon(lon_bounds[m], lat_bounds[m], lon0),
        })
    return gpd.GeoDataFrame(rows, columns=COLUMNS, geometry="geometry", crs="EPSG:4326")


def _time_image(swath: Swath) -> np.ndarray:
    out = np.full(swath.shape, np.datetime64("NaT"), dtype="datetime64[ms]")
    if swath.scanline is not None and swath.ground_pixel is not None:
        out[swath.scanline, swath.ground_pixel] = swath.time.astype("datetime64[ms]")
    return out


def swath_plumes(
    swath: Swath, wind: WindSource | None, *, window_px: int = 31, k: float = 4.5,
    k_grow: float | None = 2.0, min_pixels: int = 5, smooth_px: int = 3, dilate_px: int = 1,
    passes: int = 2, ueff_a: float = UEFF_A, ueff_b: float = UEFF_B,
    sigma_wind: float | None = None, rel_sigma_wind: float = 0.5,
) -> tuple[Any, Detection, np.ndarray]:
    """Detect and quantify the plumes of one CH4 swath (run :func:`rs.atmos.qa.apply_qa`
    first): background by moving median, then ``passes - 1`` more passes with the detected
    plumes (dilated by 2 pixels) left out of the background windows. Returns (table,
    detection, anomaly image)."""
    if swath.surface_pressure is None:
        raise ValueError(f"{swath.source}: the IME needs the surface pressure, absent here")
    img = swath.image
    return _field_plumes(
        swath.image(swath.value), lon=img(swath.lon), lat=img(swath.lat),
        lon_bounds=np.stack([img(swath.lon_bounds[:, j]) for j in range(4)], axis=-1),
        lat_bounds=np.stack([img(swath.lat_bounds[:, j]) for j in range(4)], axis=-1),
        surface_pressure=img(swath.surface_pressure), time=_time_image(swath), wind=wind,
        window_px=window_px, k=k, k_grow=k_grow, min_pixels=min_pixels, smooth_px=smooth_px,
        dilate_px=dilate_px, passes=passes, ueff_a=ueff_a, ueff_b=ueff_b,
        sigma_wind=sigma_wind, rel_sigma_wind=rel_sigma_wind)


def grid_plumes(
    field: np.ndarray, grid: LonLatGrid, wind: WindSource | None, *,
    surface_pressure: np.ndarray | float, time: np.datetime64 | None, window_px: int = 31,
    k: float = 4.5, k_grow: float | None = 2.0, min_pixels: int = 5, smooth_px: int = 3,
    dilate_px: int = 1, passes: int = 2, ueff_a: float = UEFF_A, ueff_b: float = UEFF_B,
    sigma_wind: float | None = None, rel_sigma_wind: float = 0.5,
) -> tuple[Any, Detection, np.ndarray]:
    """:func:`swath_plumes` on a gridded XCH4 mean (``GriddedMean.mean``, north-up on
    ``grid``): cells are the pixels, their areas on the sphere; ``surface_pressure`` per cell
    or one value (Pa); ``time`` one time for the field (or None: no date, and a wind source
    with a time axis finds no wind). The U_eff calibration was made on swath pixels; on a grid
    much finer or coarser than 5.5 x 7 km, recalibrate it."""
    lon_e = grid.west + np.arange(grid.nx + 1) * grid.res
    lat_e = grid.north - np.arange(grid.ny + 1) * grid.res
    lo, la = np.meshgrid(lon_e, lat_e)
    lon_b = np.stack([lo[1:, :-1], lo[1:, 1:], lo[:-1, 1:], lo[:-1, :-1]], axis=-1)  # CCW
    lat_b = np.stack([la[1:, :-1], la[1:, 1:], la[:-1, 1:], la[:-1, :-1]], axis=-1)
    lon_b = (lon_b + 180.0) % 360.0 - 180.0
    lon_c, lat_c = np.meshgrid(grid.lon, grid.lat)
    t = None if time is None else np.full(grid.shape, np.asarray(time, "datetime64[ms]"))
    return _field_plumes(
        np.asarray(field, dtype=np.float64), lon=lon_c, lat=lat_c, lon_bounds=lon_b,
        lat_bounds=lat_b, surface_pressure=np.broadcast_to(surface_pressure, grid.shape),
        time=t, wind=wind, window_px=window_px, k=k, k_grow=k_grow, min_pixels=min_pixels,
        smooth_px=smooth_px, dilate_px=dilate_px, passes=passes, ueff_a=ueff_a,
        ueff_b=ueff_b, sigma_wind=sigma_wind, rel_sigma_wind=rel_sigma_wind)


def _field_plumes(
    field: np.ndarray, *, lon: np.ndarray, lat: np.ndarray, lon_bounds: np.ndarray,
    lat_bounds: np.ndarray, surface_pressure: np.ndarray, time: np.ndarray | None,
    wind: WindSource | None, window_px: int, k: float, k_grow: float | None,
    min_pixels: int, smooth_px: int, dilate_px: int, passes: int, ueff_a: float,
    ueff_b: float, sigma_wind: float | None, rel_sigma_wind: float,
) -> tuple[Any, Detection, np.ndarray]:
    bg = moving_median(field, window_px)
    anom = field - bg
    det = detect_plumes(anom, k=k, k_grow=k_grow, min_pixels=min_pixels, smooth_px=smooth_px)
    for _ in range(max(0, passes - 1)):
        if det.n == 0:
            break
        out = ndimage.binary_dilation(det.labels > 0, structure=_EIGHT, iterations=2)
        bg = moving_median(field, window_px, exclude=out)
        anom = field - bg
        det = detect_plumes(anom, k=k, k_grow=k_grow, min_pixels=min_pixels,
                            smooth_px=smooth_px)
    sigma_pix = robust_sigma(anom)
    n_window = max(1, int(np.isfinite(field).sum() * min(1.0, window_px**2 / field.size)))
    sigma_bg = 1.2533 * sigma_pix / math.sqrt(n_window)
    table = quantify_plumes(
        anom, det.labels, lon=lon, lat=lat, lon_bounds=lon_bounds, lat_bounds=lat_bounds,
        surface_pressure=surface_pressure, time=time, wind=wind, sigma_pixel=sigma_pix,
        sigma_background=sigma_bg, dilate_px=dilate_px,
        ueff_a=ueff_a, ueff_b=ueff_b, sigma_wind=sigma_wind, rel_sigma_wind=rel_sigma_wind)
    return table, det, anom
