"""Area-weighted oversampling of swath pixels onto a regular lon/lat grid (pure).

Each pixel is its corner quadrilateral; every cell it overlaps gets the pixel's value with
weight ``w = overlap area`` (or ``overlap area / precision²`` with
``weighting="area/precision2"``). Overlaps are exact polygon areas
(:mod:`rs.atmos._overlap`: Green's theorem per edge, vectorised over all (pixel, cell) pairs),
not centre binning. A cell keeps four additive sums (:class:`Accumulator`):

* ``weighted_sum`` = Σ w·v, ``weight`` = Σ w, ``weighted_sq`` = Σ w·v², ``count`` = pixels,

so orbits (and days, months) combine by adding accumulators, and means are taken once at the
end (:meth:`Accumulator.finalise`, :func:`temporal_mean`): mean = Σ w·v / Σ w.

**Areas are planar in degrees** (deg², as HARP's ``bin_spatial`` does), measured on each
pixel's own lon/lat quadrilateral. Spherical areas would scale each overlap by about
cos(latitude); across one cell that factor varies by ``tan(lat) · Δlat`` (0.09 % at 45°,
0.3 % at 60° for a 0.1° cell), so a cell mean would move by at most that fraction of the
spread of the pixel values within the cell (below 0.01 ppb for XCH4). Because every overlap of
a pixel is measured the same way, the overlaps of a pixel inside the grid sum exactly to its
area (Σ v·w over cells equals Σ v·area over pixels: the gridding conserves the weighted total).
Weights at different latitudes are not comparable areas (a deg² shrinks toward the poles), so
means over many cells weight each cell by ``weight · cos(lat)`` (its observed area) or by its
area on the sphere: :meth:`GriddedMean.regional_mean`.

**Antimeridian**: a pixel whose corners span more than 180° of longitude is unwrapped
(negative longitudes + 360, :func:`rs.atmos._polygons.unwrap_lon`), then gridded at its
position and shifted by ±360°, so the cells on both sides of ±180 get their exact share.

Pixels without a value or with unusable corners (:func:`rs.atmos._polygons.corner_problems`)
are never weighted, whether or not :func:`rs.atmos.qa.apply_qa` ran first; with precision
weighting, so are pixels without a positive precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from rs.atmos._overlap import iter_overlaps
from rs.atmos._polygons import corner_problems, signed_areas, unwrap_lon
from rs.atmos.lonlat import LonLatGrid
from rs.atmos.swath import Swath

__all__ = [
    "Accumulator",
    "GriddedMean",
    "Weighting",
    "grid_orbit",
    "pixel_areas",
    "sum_accumulators",
    "temporal_mean",
]

Weighting = Literal["area", "area/precision2"]
_WEIGHTINGS = ("area", "area/precision2")


@dataclass(frozen=True, eq=False)
class GriddedMean:
    """Finalised cells: ``mean`` (NaN where no pixel), ``weight`` (Σ w, 0 where none),
    ``count`` (pixels), ``std`` (weighted standard deviation of the pixel values in a cell),
    all ``(ny, nx)`` north-up on ``grid``."""

    grid: LonLatGrid
    mean: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    std: np.ndarray
    units: str
    weighting: str
    sources: tuple[str, ...]

    def regional_mean(
        self, mask: np.ndarray | None = None, *, by: Literal["observed", "cells"] = "observed"
    ) -> float:
        """Mean over the cells with data (and ``mask``); NaN when none has data.

        ``by="observed"``: each cell weighted by its weight times cos(latitude), i.e. the
        observed area in km² (times 1/precision² with precision weighting), so the result is
        the area-weighted mean of the pixels' parts inside the region, as if the region had
        been one cell. ``by="cells"``: each cell with data weighted by its area on the sphere
        (the mean of the map as drawn, whatever the coverage of each cell).
        """
        ok = self.weight > 0
        if mask is not None:
            ok &= mask
        if by == "observed":
            coslat = np.cos(np.radians(self.grid.lat))[:, None]
            w = self.weight * coslat
        elif by == "cells":
            w = np.broadcast_to(self.grid.cell_area_km2()[:, None], self.grid.shape)
        else:
            raise ValueError(f"by must be 'observed' or 'cells', not {by!r}")
        total = float(w[ok].sum())
        return float((self.mean[ok] * w[ok]).sum() / total) if total > 0 else float("nan")

    def to_dataset(self, name: str = "value", long_name: str = "") -> Any:
        """An ``xarray.Dataset`` with CF attributes: ``name`` (the mean), ``name_weight``,
        ``name_count`` and ``name_std`` on (lat, lon)."""
        import xarray as xr

        g = self.grid
        wunit = "degree2" if self.weighting == "area" else f"degree2 ({self.units})-2"
        dims = ("lat", "lon")
        ds = xr.Dataset(
            {
                name: (dims, self.mean, {"units": self.units, "long_name": long_name or name,
                                         "cell_methods": "area: mean (area-weighted)",
                                         "grid_mapping": "crs"}),
                f"{name}_weight": (dims, self.weight, {
                    "units": wunit, "long_name": f"sum of weights ({self.weighting}) of {name}",
                    "grid_mapping": "crs"}),
                f"{name}_count": (dims, self.count, {
                    "units": "1", "long_name": f"number of pixels in the mean of {name}",
                    "grid_mapping": "crs"}),
                f"{name}_std": (dims, self.std, {
                    "units": self.units, "grid_mapping": "crs",
                    "long_name": f"weighted standard deviation of the pixel values of {name}"}),
                "crs": ((), np.int32(0), {"grid_mapping_name": "latitude_longitude",
                                          "crs_wkt": 'GEOGCRS["WGS 84",DATUM["World Geodetic '
                                          'System 1984",ELLIPSOID["WGS 84",6378137,'
                                          '298.257223563]],CS[ellipsoidal,2],AXIS["latitude",'
                                          'north],AXIS["longitude",east],ANGLEUNIT["degree",'
                                          '0.0174532925199433],ID["EPSG",4326]]'}),
            },
            coords={
                "lat": ("lat", g.lat, {"units": "degrees_north", "standard_name": "latitude"}),
                "lon": ("lon", g.lon, {"units": "degrees_east", "standard_name": "longitude"}),
            },
            attrs={
                "Conventions": "CF-1.8",
                "source": ", ".join(self.sources),
                "comment": "area-weighted oversampling: exact overlap of each pixel's corner "
                           "polygon with the cells, areas planar in degrees; "
                           f"weighting {self.weighting}",
            },
        )
        return ds


@dataclass(frozen=True, eq=False)
class Accumulator:
    """Additive sums of one or more orbits on ``grid`` (see the module docstring)."""

    grid: LonLatGrid
    weighted_sum: np.ndarray
    weight: np.ndarray
    weighted_sq: np.ndarray
    count: np.ndarray
    units: str = ""
    weighting: str = "area"
    sources: tuple[str, ...] = ()

    @classmethod
    def empty(cls, grid: LonLatGrid, *, units: str = "", weighting: str = "area",
              sources: tuple[str, ...] = ()) -> Accumulator:
        def z() -> np.ndarray:
            return np.zeros(grid.shape, dtype=np.float64)

        return cls(grid, z(), z(), z(), np.zeros(grid.shape, dtype=np.int64), units, weighting,
                   sources)

    @property
    def is_empty(self) -> bool:
        return not bool((self.weight > 0).any())

    def __add__(self, other: Accumulator) -> Accumulator:
        if not isinstance(other, Accumulator):
            return NotImplemented
        if other.grid != self.grid:
            raise ValueError(f"cannot add accumulators of different grids: {self.grid} and "
                             f"{other.grid}")
        if (other.units, other.weighting) != (self.units, self.weighting):
            raise ValueError(
                f"cannot add accumulators of {self.units!r} weighted by {self.weighting} and "
                f"{other.units!r} weighted by {other.weighting}")
        return replace(
            self, weighted_sum=self.weighted_sum + other.weighted_sum,
            weight=self.weight + other.weight, weighted_sq=self.weighted_sq + other.weighted_sq,
            count=self.count + other.count, sources=self.sources + other.sources)

    def finalise(self) -> GriddedMean:
        """Means (Σ w·v / Σ w; NaN where Σ w = 0) and the weighted standard deviation."""
        has = self.weight > 0
        w = np.where(has, self.weight, 1.0)
        mean = np.where(has, self.weighted_sum / w, np.nan)
        var = np.where(has, self.weighted_sq / w - np.where(has, mean, 0.0) ** 2, np.nan)
        std = np.sqrt(np.maximum(var, 0.0, where=has, out=np.full_like(var, np.nan)))
        return GriddedMean(self.grid, mean, self.weight.copy(), self.count.copy(), std,
                           self.units, self.weighting, self.sources)


def pixel_areas(swath: Swath) -> np.ndarray:
    """Each pixel's planar area in deg² (antimeridian-unwrapped corners; NaN corners -> NaN)."""
    return np.abs(signed_areas(unwrap_lon(swath.lon_bounds),
                               np.asarray(swath.lat_bounds, dtype=np.float64)))


def _placed(lon_u: np.ndarray, grid: LonLatGrid) -> tuple[np.ndarray, np.ndarray]:
    """(pixel index, x in cells) for every copy of a pixel (unshifted, -360, +360) that can
    reach the grid's columns."""
    x = (lon_u - grid.west) / grid.res
    lo, hi = x.min(axis=1), x.max(axis=1)
    full = 360.0 / grid.res
    idx, xs = [], []
    for shift in (0.0, -full, full):
        reach = np.flatnonzero((hi + shift > 0.0) & (lo + shift < grid.nx))
        if reach.size:
            idx.append(reach)
            xs.append(x[reach] + shift)
    if not idx:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    return np.concatenate(idx), np.concatenate(xs)


def grid_orbit(
    swath: Swath, grid: LonLatGrid, *, weighting: Weighting = "area",
    max_extent_km: float = 150.0, max_pairs: int = 1 << 16,
) -> Accumulator:
    """The accumulator of one orbit (one swath) on ``grid``: run it once per file (one Dask
    task per orbit) and add the results. QA is the caller's (:func:`rs.atmos.qa.apply_qa`);
    pixels without a value or with unusable corners are skipped here in any case."""
    if weighting not in _WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(_WEIGHTINGS)}, not {weighting!r}")
    acc = Accumulator.empty(grid, units=swath.units, weighting=weighting,
                            sources=(swath.source,))
    value = np.asarray(swath.value, dtype=np.float64)
    ok = np.isfinite(value)
    if weighting == "area/precision2":
        if swath.precision is None:
            raise ValueError(f"{swath.source}: weighting by precision needs a precision variable; "
                             "this swath has none (use weighting='area')")
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite(swath.precision) & (swath.precision > 0)
    ok[ok] = ~corner_problems(swath.lon_bounds[ok], swath.lat_bounds[ok],
                              max_extent_km=max_extent_km)
    if not ok.any():
        return acc
    keep = np.flatnonzero(ok)
    factor = np.full(keep.size, grid.res**2)  # cell units -> deg²
    if weighting == "area/precision2":
        factor /= np.asarray(swath.precision, dtype=np.float64)[keep] ** 2
    lat = np.asarray(swath.lat_bounds, dtype=np.float64)[keep]
    y = (lat - grid.south) / grid.res
    reach = (y.max(axis=1) > 0.0) & (y.min(axis=1) < grid.ny)
    keep, factor, y = keep[reach], factor[reach], y[reach]
    pix, x = _placed(unwrap_lon(swath.lon_bounds[keep]), grid)
    if pix.size == 0:
        return acc
    v = value[keep][pix]
    f = factor[pix]
    shape = grid.shape
    sums = [np.zeros(shape), np.zeros(shape), np.zeros(shape)]
    count = np.zeros(shape, dtype=np.int64)
    flat = [a.reshape(-1) for a in sums]
    for p, col, row, area in iter_overlaps(x, y[pix], grid.nx, grid.ny, max_pairs=max_pairs):
        cell = (grid.ny - 1 - row) * grid.nx + col  # north-up
        w = area * f[p]
        wv = w * v[p]
        np.add.at(flat[0], cell, wv)  # unbuffered: a cell may occur many times in a chunk
        np.add.at(flat[1], cell, w)
        np.add.at(flat[2], cell, wv * v[p])
        np.add.at(count.reshape(-1), cell, 1)
    return replace(acc, weighted_sum=sums[0], weight=sums[1], weighted_sq=sums[2], count=count)


def sum_accumulators(
    accumulators: Iterable[Accumulator], grid: LonLatGrid | None = None
) -> Accumulator:
    """The sum of ``accumulators`` (e.g. all orbits of a month); ``grid`` gives an empty one
    when there are none."""
    total: Accumulator | None = None
    for acc in accumulators:
        total = acc if total is None else total + acc
    if total is None:
        if grid is None:
            raise ValueError("no accumulators to sum and no grid for an empty result")
        return Accumulator.empty(grid)
    return total


def temporal_mean(
    accumulators: Iterable[Accumulator], grid: LonLatGrid | None = None
) -> GriddedMean:
    """The weighted mean over orbits (days, months): sums first, divided once."""
    return sum_accumulators(accumulators, grid).finalise()
