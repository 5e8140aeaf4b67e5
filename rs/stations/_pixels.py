"""The satellite side of a matchup: the pixels of each station and their values (pure).

See :mod:`rs.stations.matchup` for the rules (nearest pixel, k x k window, radius; valid pixels,
shares and QA).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from rs.stations.schema import EARTH_RADIUS_M, haversine_m

if TYPE_CHECKING:
    from rs.stations.matchup import MatchupParams, Raster

__all__ = ["satellite_values", "station_pixels"]


def station_pixels(
    grid: Raster, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column of the pixel containing each station, and whether it is inside the grid
    (a geographic grid in 0..360 finds stations given in -180..180, and the reverse)."""
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(grid.crs)
    h, w = grid.data.shape
    inv = ~grid.transform

    def pixels(lo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if crs.is_geographic:
            x, y = lo, lat
        else:
            x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lo, lat)
        c, r = inv @ (np.asarray(x), np.asarray(y))
        rr = np.floor(np.asarray(r)).astype("int64", copy=False)
        cc = np.floor(np.asarray(c)).astype("int64", copy=False)
        ok = np.isfinite(r) & np.isfinite(c) & (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        return rr, cc, ok

    with np.errstate(invalid="ignore"):
        rows, cols, inside = pixels(lon)
        if crs.is_geographic:
            for shift in (360.0, -360.0):
                r2, c2, ok2 = pixels(lon + shift)
                take = ~inside & ok2
                rows[take], cols[take] = r2[take], c2[take]
                inside |= take
    return rows, cols, inside


def _offsets(
    grid: Raster, rows: np.ndarray, cols: np.ndarray, lon: np.ndarray, lat: np.ndarray,
    params: MatchupParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel rows, columns (stations x M) and a mask of the pixels each station averages."""
    s = rows.size
    if params.method == "nearest":
        return rows[:, None], cols[:, None], np.ones((s, 1), dtype=bool)
    if params.method == "window":
        h = params.window // 2
        dr, dc = np.meshgrid(np.arange(-h, h + 1), np.arange(-h, h + 1), indexing="ij")
        rr = rows[:, None] + dr.ravel()[None, :]
        cc = cols[:, None] + dc.ravel()[None, :]
        return rr, cc, np.ones(rr.shape, dtype=bool)
    return _radius(grid, rows, cols, lon, lat, params.radius_m)


def _radius(
    grid: Raster, rows: np.ndarray, cols: np.ndarray, lon: np.ndarray, lat: np.ndarray,
    radius_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(grid.crs)
    t = grid.transform
    res_c, res_r = math.hypot(t.a, t.d), math.hypot(t.b, t.e)  # CRS units per column / row
    if crs.is_geographic:
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        coslat = np.maximum(np.cos(np.radians(np.abs(lat))), 1e-3)
        nr = np.full(rows.size, math.ceil(dlat / res_r) + 1)
        nc = np.ceil(dlat / coslat / res_c).astype(int) + 1
        sx, sy = lon, lat
    else:
        unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        nr = np.full(rows.size, math.ceil(radius_m / unit / res_r) + 1)
        nc = np.full(rows.size, math.ceil(radius_m / unit / res_c) + 1)
        sx, sy = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
        sx, sy = np.asarray(sx), np.asarray(sy)
    nc = np.minimum(nc, grid.data.shape[1])
    lists = []
    for i in range(rows.size):
        dr, dc = np.meshgrid(np.arange(-nr[i], nr[i] + 1), np.arange(-nc[i], nc[i] + 1),
                             indexing="ij")
        rr, cc = rows[i] + dr.ravel(), cols[i] + dc.ravel()
        x, y = t @ (cc + 0.5, rr + 0.5)
        if crs.is_geographic:
            d = haversine_m(sx[i], sy[i], x, y)
        else:
            d = np.hypot(np.asarray(x) - sx[i], np.asarray(y) - sy[i]) * unit
        near = d <= radius_m
        if not near.any():  # no pixel centre that close: the containing pixel
            near = (rr == rows[i]) & (cc == cols[i])
        lists.append((rr[near], cc[near]))
    m = max(len(r) for r, _ in lists)
    out_r = np.zeros((rows.size, m), dtype="int64")
    out_c = np.zeros((rows.size, m), dtype="int64")
    mask = np.zeros((rows.size, m), dtype=bool)
    for i, (r, c) in enumerate(lists):
        out_r[i, : len(r)], out_c[i, : len(c)], mask[i, : len(r)] = r, c, True
    return out_r, out_c, mask


def satellite_values(
    rasters: list[Raster], rows: np.ndarray, cols: np.ndarray, lon: np.ndarray, lat: np.ndarray,
    params: MatchupParams, chunk: int = 512,
) -> dict[str, np.ndarray]:
    """Per raster x station (T x S): value, n_pixels, n_valid, valid_share, qa_mean."""
    grid = rasters[0]
    h, w = grid.data.shape
    stack = np.stack([r.data for r in rasters])
    qas = [r.qa for r in rasters]
    qa = None if all(q is None for q in qas) else np.stack(
        [q if q is not None else np.full((h, w), np.nan) for q in qas])
    n_t, n_s = len(rasters), rows.size
    out = {k: np.full((n_t, n_s), np.nan) for k in ("sat_value", "valid_share", "qa_mean")}
    out["n_pixels"] = np.zeros((n_t, n_s), dtype="int64")
    out["n_valid"] = np.zeros((n_t, n_s), dtype="int64")
    for a in range(0, n_s, chunk):
        b = min(a + chunk, n_s)
        rr, cc, mask = _offsets(grid, rows[a:b], cols[a:b], lon[a:b], lat[a:b], params)
        ing = mask & (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        rc, ccl = np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)
        vals = stack[:, rc, ccl]  # T x s x M
        valid = ing[None] & np.isfinite(vals)
        qv = None if qa is None else qa[:, rc, ccl]
        if qv is not None and params.qa_min is not None:
            valid &= np.nan_to_num(qv, nan=-np.inf) >= params.qa_min
        n_pix = mask.sum(axis=1)
        n_val = valid.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["sat_value"][:, a:b] = np.where(valid, vals, 0.0).sum(axis=2) / n_val
            out["valid_share"][:, a:b] = n_val / n_pix[None, :]
            if qv is not None:
                qok = ing[None] & np.isfinite(qv)
                out["qa_mean"][:, a:b] = np.where(qok, qv, 0.0).sum(axis=2) / qok.sum(axis=2)
        out["n_pixels"][:, a:b] = n_pix[None, :]
        out["n_valid"][:, a:b] = n_val
    return out
