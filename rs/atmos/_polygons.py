"""Pixel quadrilaterals in lon/lat degrees: antimeridian unwrapping, areas, validity (pure).

All functions take ``(n, 4)`` corner arrays in file order. Areas are planar in degrees
(shoelace on lon/lat), the measure the gridding uses (see :mod:`rs.atmos.grid`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["corner_problems", "signed_areas", "unwrap_lon"]

#: km per degree of latitude, and of longitude at the equator (WGS84 mean values)
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON = 111.320
_NEXT = [1, 2, 3, 0]


def _lowest(a: np.ndarray) -> np.ndarray:
    """Minimum over the 4 corners (elementwise: much faster than a reduction over axis 1)."""
    return np.fmin(np.fmin(a[:, 0], a[:, 1]), np.fmin(a[:, 2], a[:, 3]))


def _highest(a: np.ndarray) -> np.ndarray:
    return np.fmax(np.fmax(a[:, 0], a[:, 1]), np.fmax(a[:, 2], a[:, 3]))


def unwrap_lon(lon_b: np.ndarray) -> np.ndarray:
    """Corner longitudes made contiguous: a pixel whose corners span more than 180° is read as
    crossing the antimeridian and its negative longitudes get +360 (so it lies around 180)."""
    lon = np.asarray(lon_b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        wraps = (_highest(lon) - _lowest(lon)) > 180.0
    if not wraps.any():
        return lon
    out = lon.copy()
    sub = out[wraps]
    out[wraps] = np.where(sub < 0.0, sub + 360.0, sub)
    return out


def signed_areas(lon_b: np.ndarray, lat_b: np.ndarray) -> np.ndarray:
    """Shoelace area (deg², positive counter-clockwise) of each quadrilateral; corners as given
    (unwrap longitudes first with :func:`unwrap_lon`)."""
    x = lon_b - lon_b[:, :1]  # relative to the first corner: no cancellation at |lon| ~ 180
    y = lat_b - lat_b[:, :1]
    cross = x * y[:, _NEXT] - x[:, _NEXT] * y
    return 0.5 * (cross[:, 0] + cross[:, 1] + cross[:, 2] + cross[:, 3])


def _block_checks(
    lon_b: np.ndarray, lat_b: np.ndarray, max_extent_km: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bad regardless of orientation, signed area, convex counter-clockwise, convex clockwise)."""
    lon = unwrap_lon(lon_b)
    lat = np.asarray(lat_b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = np.isnan(lon).any(axis=1) | np.isnan(lat).any(axis=1)
        lat_lo, lat_hi = _lowest(lat), _highest(lat)
        bad |= (lat_lo < -90.0) | (lat_hi > 90.0)
        span = _highest(lon) - _lowest(lon)
        bad |= span >= 180.0
        cos_lat = np.cos(np.radians(np.clip(0.5 * (lat_lo + lat_hi), -90.0, 90.0)))
        extent = np.maximum(span * KM_PER_DEG_LON * cos_lat, (lat_hi - lat_lo) * KM_PER_DEG_LAT)
        bad |= ~(extent <= max_extent_km)
        x, y = lon - lon[:, :1], lat - lat[:, :1]
        ex, ey = x[:, _NEXT] - x, y[:, _NEXT] - y
        turns = ex * ey[:, _NEXT] - ey * ex[:, _NEXT]
        ccw = (turns[:, 0] > 0.0) & (turns[:, 1] > 0.0) & (turns[:, 2] > 0.0) & (turns[:, 3] > 0.0)
        cw = (turns[:, 0] < 0.0) & (turns[:, 1] < 0.0) & (turns[:, 2] < 0.0) & (turns[:, 3] < 0.0)
        area = signed_areas(lon, lat)
    return bad, area, ccw, cw


def corner_problems(
    lon_b: np.ndarray, lat_b: np.ndarray, *, max_extent_km: float = 150.0,
    block: int = 1 << 16,
) -> np.ndarray:
    """True where a pixel's corners cannot be weighted (the HARP issue #252 failure: such
    pixels get huge areas and dominate a cell):

    * a corner is NaN, or a latitude is outside [-90, 90];
    * the corners span more than 180° of longitude even after :func:`unwrap_lon`, i.e. it is
      not a real antimeridian crossing;
    * the quadrilateral is not convex with the swath's orientation (the sign of the median
      area): zero or opposite-sign ("negative") area, a bow-tie (corners out of order), a
      collapsed corner;
    * it is larger than ``max_extent_km`` in longitude or latitude (a TROPOMI pixel is at most
      about 40 km; a corner from another scanline makes it hundreds).

    Computed in blocks of ``block`` pixels (small temporaries for a 2-million-pixel orbit).
    """
    n = len(lon_b)
    bad, area = np.zeros(n, dtype=bool), np.zeros(n)
    ccw, cw = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for i in range(0, n, block):
        part = slice(i, i + block)
        bad[part], area[part], ccw[part], cw[part] = _block_checks(
            lon_b[part], lat_b[part], max_extent_km)
    ok_area = area[~bad]
    clockwise = ok_area.size > 0 and float(np.median(ok_area)) < 0.0
    convex = cw if clockwise else ccw
    with np.errstate(invalid="ignore"):
        positive = (-area if clockwise else area) > 0.0
    return bad | ~convex | ~positive
