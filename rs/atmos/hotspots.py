"""Getis-Ord Gi* hotspots of a gridded field (pure: arrays in, arrays and shapely polygons out).

:func:`getis_ord` runs PySAL's ``esda.getisord.G_Local`` with ``star=True`` (the focal cell is
part of its own neighbourhood) on the cells of a 2-D field on a :class:`LonLatGrid` (north-up,
NaN = no data) and classes every cell as hot, cold or not significant;
:func:`hotspot_polygons` turns connected hot cells into lon/lat polygons.

**Weights** (libpysal, binary, ``transform="B"``; the focal cell gets weight 1):

* ``"queen"`` (default): the 8 cells around a cell (``libpysal.weights.lat2W(rook=False)``),
  so each neighbourhood has 9 cells with the focal one;
* ``"rook"``: the 4 cells sharing an edge (``lat2W(rook=True)``);
* ``"distance"``: every cell whose centre lies within ``distance_km`` great-circle kilometres
  of the focal centre (``libpysal.weights.DistanceBand`` on the centres as 3-D points on the
  sphere, threshold the chord of ``distance_km``: exact on the sphere, antimeridian-safe).
  Choose it so a neighbourhood holds a hotspot's size (say one to two times the plume's
  sigma), and at least 8 neighbours (see significance).

Cells without a value are **not part of the weights** (``w_subset`` of the valid cells): they
neither count as neighbours nor shift the global mean. A valid cell left with no valid
neighbour (an island) is not tested: its z, p and q are NaN and its class :data:`NO_DATA`.

**Significance.** ``method="normal"`` (default): the two-sided p-value of the Gi* z-score
under the normal approximation (``2 * esda's p_norm``). Gi* is a standardised local sum; with
8 or more neighbours its distribution is close to normal (Ord & Getis 1995), it is
deterministic, fast, and its p-values have no floor, which a multiple-testing correction over
thousands of cells needs. ``method="permutation"``: esda's conditional randomisation
(``permutations`` draws, seeded by ``seed``, one process), two-sided p = ``min(1, 2 * p_sim)``;
it makes no distributional assumption (use it for strongly skewed fields or few neighbours)
but p cannot go below ``2 / (permutations + 1)``, so with ``fdr=True`` it needs many
permutations.

**Multiple testing.** Every cell is a test: at ``alpha = 0.05`` about 5 % of the cells of a
field without any spatial structure come out significant (half hot, half cold), and they come
in small clumps because neighbouring Gi* share cells. ``fdr=True`` classes on the
Benjamini-Hochberg adjusted p-values (``q``) instead, which bounds the expected share of false
discoveries among the significant cells at ``alpha``; BH stays valid under the positive
dependence of overlapping neighbourhoods (Benjamini & Yekutieli 2001; Caldas de Castro &
Singer 2006 for local spatial statistics). ``q`` is always computed.

**Classes** (:attr:`HotspotMap.cls`, int8): :data:`HOT` (z > 0 and the p used < alpha),
:data:`COLD` (z < 0 and p < alpha), :data:`NOT_SIGNIFICANT`, :data:`NO_DATA` (NaN or island).

Note that Gi* compares each neighbourhood with the mean of the whole field: on a field with a
strong large-scale gradient the high side is "hot" as a whole; remove the gradient first when
local hotspots are wanted.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from scipy import ndimage

from rs.atmos.lonlat import EARTH_RADIUS_KM, LonLatGrid

__all__ = [
    "COLD",
    "HOT",
    "NOT_SIGNIFICANT",
    "NO_DATA",
    "HotspotMap",
    "benjamini_hochberg",
    "getis_ord",
    "grid_weights",
    "hotspot_polygons",
]

WeightsKind = Literal["queen", "rook", "distance"]
Method = Literal["normal", "permutation"]

HOT: int = 1
COLD: int = -1
NOT_SIGNIFICANT: int = 0
NO_DATA: int = -128  # int8: NaN cells and islands


@dataclass(frozen=True, eq=False)
class HotspotMap:
    """Gi* results on ``grid`` (arrays ``(ny, nx)``, north-up): ``z`` (Gi* z-score), ``p`` (two-
    sided p-value of ``method``), ``q`` (Benjamini-Hochberg adjusted p over the tested cells),
    ``cls`` (int8 classes, module doc), ``n_neighbours`` (cells in each neighbourhood with the
    focal one, 0 where not tested) and the parameters used."""

    grid: LonLatGrid
    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    cls: np.ndarray
    n_neighbours: np.ndarray
    weights: str
    distance_km: float | None
    method: str
    permutations: int
    alpha: float
    fdr: bool

    @property
    def hot(self) -> np.ndarray:
        return self.cls == HOT

    @property
    def cold(self) -> np.ndarray:
        return self.cls == COLD

    @property
    def tested(self) -> np.ndarray:
        return self.cls != NO_DATA


def _values(field: Any) -> np.ndarray:
    """A 2-D float64 array from an array or anything with ``.mean`` (a GriddedMean)."""
    a = getattr(field, "mean", field)
    if callable(a):  # a numpy array's .mean is a method
        a = field
    return np.asarray(a, dtype=np.float64)


def _centres_xyz(grid: LonLatGrid, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    lon = np.radians(grid.lon[cols])
    lat = np.radians(grid.lat[rows])
    return EARTH_RADIUS_KM * np.column_stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def grid_weights(
    valid: np.ndarray, grid: LonLatGrid, weights: WeightsKind = "queen",
    distance_km: float | None = None,
) -> tuple[Any, np.ndarray]:
    """Binary libpysal weights among the ``valid`` cells (a boolean ``(ny, nx)`` mask), without
    self-weights (Gi* adds them), and the flat (row-major) indices of the cells they are on,
    in the weights' order. Islands (no valid neighbour) are left out."""
    import libpysal.weights as lw

    valid = np.asarray(valid, dtype=bool)
    if valid.shape != grid.shape:
        raise ValueError(f"mask of shape {valid.shape} does not match the grid {grid.shape}")
    ids = np.flatnonzero(valid)
    if ids.size == 0:
        return None, ids
    if weights in ("queen", "rook"):
        if distance_km is not None:
            raise ValueError(f"distance_km is for weights='distance', not {weights!r}")
        full = lw.lat2W(grid.ny, grid.nx, rook=weights == "rook")
        w = lw.w_subset(full, ids.tolist(), silence_warnings=True)
    elif weights == "distance":
        if distance_km is None or not (distance_km > 0 and math.isfinite(distance_km)):
            raise ValueError("weights='distance' needs distance_km > 0")
        rows, cols = np.divmod(ids, grid.nx)
        chord = 2.0 * EARTH_RADIUS_KM * math.sin(min(distance_km / (2.0 * EARTH_RADIUS_KM),
                                                     math.pi / 2))
        w = lw.DistanceBand(_centres_xyz(grid, rows, cols), threshold=chord * (1 + 1e-12),
                            binary=True, ids=ids.tolist(), silence_warnings=True)
    else:
        raise ValueError(f"weights must be 'queen', 'rook' or 'distance', not {weights!r}")
    keep = [i for i in ids.tolist() if w.cardinalities[i] > 0]
    if len(keep) < ids.size:
        w = lw.w_subset(w, keep, silence_warnings=True) if keep else None
    return w, np.asarray(keep, dtype=np.int64)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q) of the finite ``p``; NaN stays NaN."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    v = p[ok]
    m = v.size
    if m == 0:
        return out
    order = np.argsort(v, kind="stable")
    ranked = v[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(q, 1.0)
    out[ok] = adj
    return out


def getis_ord(
    field: Any, grid: LonLatGrid, *, weights: WeightsKind = "queen",
    distance_km: float | None = None, alpha: float = 0.05, method: Method = "normal",
    permutations: int = 999, seed: int = 0, fdr: bool = False,
) -> HotspotMap:
    """Gi* z, p, q and classes of ``field`` (a 2-D array or a GriddedMean, NaN = no data) on
    ``grid`` (module doc)."""
    from esda.getisord import G_Local

    y2 = _values(field)
    if y2.shape != grid.shape:
        raise ValueError(f"field of shape {y2.shape} does not match the grid {grid.shape}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    if method not in ("normal", "permutation"):
        raise ValueError(f"method must be 'normal' or 'permutation', not {method!r}")
    if method == "permutation" and permutations < 1:
        raise ValueError("method='permutation' needs permutations >= 1")
    z = np.full(grid.shape, np.nan)
    p = np.full(grid.shape, np.nan)
    nn = np.zeros(grid.shape, dtype=np.int64)
    w, ids = grid_weights(np.isfinite(y2), grid, weights, distance_km)
    flat_y = y2.reshape(-1)
    if w is not None and ids.size >= 2:
        y = flat_y[ids]
        perms = permutations if method == "permutation" else 0
        with warnings.catch_warnings():  # esda's notice that its default alternative will
            # change: the folded (directed) p_sim is doubled here, the two-sided test
            warnings.filterwarnings("ignore", "The alternative hypothesis", DeprecationWarning)
            g = G_Local(y, w, transform="B", permutations=perms, star=True,
                        keep_simulations=False, n_jobs=1, seed=seed)
        zs = np.asarray(g.Zs, dtype=np.float64)
        ps = (np.asarray(g.p_sim, dtype=np.float64) if method == "permutation"
              else np.asarray(g.p_norm, dtype=np.float64))
        z.reshape(-1)[ids] = zs
        p.reshape(-1)[ids] = np.minimum(2.0 * ps, 1.0)
        card = np.array([w.cardinalities[i] for i in ids.tolist()], dtype=np.int64)
        nn.reshape(-1)[ids] = card + 1
    q = benjamini_hochberg(p)
    used = q if fdr else p
    cls = np.full(grid.shape, NO_DATA, dtype=np.int8)
    tested = np.isfinite(z) & np.isfinite(used)
    cls[tested] = NOT_SIGNIFICANT
    with np.errstate(invalid="ignore"):
        sig = tested & (used < alpha)
        cls[sig & (z > 0)] = HOT
        cls[sig & (z < 0)] = COLD
    return HotspotMap(grid, z, p, q, cls, nn, weights,
                      distance_km if weights == "distance" else None, method,
                      permutations if method == "permutation" else 0, alpha, fdr)


def hotspot_polygons(
    result: HotspotMap, field: Any, *, connectivity: Literal[4, 8] = 8, cls: int = HOT,
) -> pd.DataFrame:
    """Connected cells of class ``cls`` (hot by default; ``connectivity`` 8 joins cells that
    touch at a corner) as one row each, largest ``max_z`` first:

    ``hotspot_id`` (1..), ``geometry`` (shapely Polygon / MultiPolygon in lon/lat, the union
    of the cells; across the antimeridian split at ±180), ``n_cells``, ``area_km2`` (on the
    sphere), ``mean_value`` (area-weighted mean of ``field`` over the cells), ``max_value``,
    ``max_z`` and ``min_p`` (the p used for the class: q with FDR), and ``lon`` / ``lat`` of the
    cell with the largest z (``max_z`` is its smallest for cold spots: the most extreme).
    """
    grid = result.grid
    values = _values(field)
    if values.shape != grid.shape:
        raise ValueError(f"field of shape {values.shape} does not match the grid {grid.shape}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, not {connectivity}")
    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    labels, n = ndimage.label(result.cls == cls, structure=structure)
    area_row = grid.cell_area_km2()
    used = result.q if result.fdr else result.p
    rows_out: list[dict[str, Any]] = []
    for k in range(1, n + 1):
        r, c = np.nonzero(labels == k)
        x0 = grid.west + c * grid.res
        y1 = grid.north - r * grid.res
        cells = shapely.box(x0, y1 - grid.res, x0 + grid.res, y1)
        geom = shapely.union_all(cells)
        if geom.bounds[2] > 180.0:  # a grid across the antimeridian: split at 180
            east = shapely.affinity.translate(
                shapely.clip_by_rect(geom, 180.0, -90.0, 540.0, 90.0), xoff=-360.0)
            geom = shapely.union_all([shapely.clip_by_rect(geom, -180.0, -90.0, 180.0, 90.0),
                                      east])
        a = area_row[r]
        v = values[r, c]
        zz = result.z[r, c]
        best = int(np.argmax(zz) if cls != COLD else np.argmin(zz))
        finite = np.isfinite(v)
        rows_out.append({
            "geometry": geom, "n_cells": int(r.size), "area_km2": float(a.sum()),
            "mean_value": (float((v[finite] * a[finite]).sum() / a[finite].sum())
                           if finite.any() else float("nan")),
            "max_value": float(np.nanmax(v)) if finite.any() else float("nan"),
            "max_z": float(zz[best]), "min_p": float(np.nanmin(used[r, c])),
            "lon": float(grid.lon[c[best]]), "lat": float(grid.lat[r[best]]),
        })
    cols = ["hotspot_id", "geometry", "n_cells", "area_km2", "mean_value", "max_value",
            "max_z", "min_p", "lon", "lat"]
    if not rows_out:
        return pd.DataFrame({c: pd.Series(dtype="object" if c == "geometry" else "float64")
                             for c in cols})
    df = pd.DataFrame(rows_out)
    df = df.sort_values("max_z", ascending=cls == COLD, kind="stable").reset_index(drop=True)
    df.insert(0, "hotspot_id", np.arange(1, len(df) + 1))
    return df[cols]
