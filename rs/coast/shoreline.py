"""Sub-pixel shorelines from one scene (pure: numpy arrays and an affine transform in, shapely
lines out; no files, no clock).

The steps, as CoastSat does them (Vos et al. 2019, doi:10.1016/j.envsoft.2019.104528):

1. a **water index** per pixel (:func:`water_index`): MNDWI by default, NDWI or AWEI; water is
   high for every one of them;
2. a **threshold**: Otsu's (:func:`otsu_threshold`) on the index of the clear pixels within
   ``reference_buffer_m`` of the reference shoreline (the land/water histogram near the expected
   shoreline), or a fixed value;
3. the **contour** of the index at that threshold by marching squares
   (``skimage.measure.find_contours``), which interpolates linearly between pixel centres, so the
   line is sub-pixel. Pixels that are NaN or flagged ``invalid`` (cloud, shadow, nodata) are
   masked: no contour crosses a square with a masked corner, and every vertex closer than
   ``cloud_buffer_m`` to the centre of a masked pixel is dropped, so a shoreline never follows a
   cloud edge. Each maximal run of consecutive dropped vertices is one *cloud-affected segment*
   (counted in :attr:`Shoreline.n_cloud_segments`);
4. **georeferencing** (:func:`pixel_to_map`): ``find_contours`` returns ``(row, col)`` in array
   index space, where the integer index ``i`` is the *centre* of pixel ``i``; an affine transform
   maps the pixel *corner* ``(col, row)`` to map coordinates, so a vertex is at
   ``transform * (col + 0.5, row + 0.5)``;
5. only vertices within ``reference_buffer_m`` of the reference shoreline are kept (lines are
   split where vertices are dropped), and pieces shorter than ``min_length_m`` are dropped.

Everything is in the CRS of the transform (metres expected: buffers are in CRS units).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely
import xarray as xr
from affine import Affine
from scipy import ndimage
from shapely.geometry import MultiLineString
from shapely.geometry.base import BaseGeometry
from skimage.measure import find_contours

from rs.errors import SpecError
from rs.indices import _normalised_difference, ndwi
from rs.otsu import otsu_threshold

__all__ = [
    "WATER_INDICES",
    "Shoreline",
    "extract_shoreline",
    "otsu_threshold",
    "pixel_to_map",
    "shoreline_from_index",
    "water_index",
]

#: water index -> the common band names it needs (``rs.load.bands`` vocabulary)
WATER_INDICES: dict[str, tuple[str, ...]] = {
    "mndwi": ("green", "swir16"),
    "ndwi": ("green", "nir"),
    "awei_nsh": ("green", "nir", "swir16", "swir22"),
    "awei_sh": ("blue", "green", "nir", "swir16", "swir22"),
}

#: cloud buffer used when ``cloud_buffer_m`` is None, in pixels
DEFAULT_CLOUD_BUFFER_PX = 2.0


@dataclass(frozen=True)
class Shoreline:
    """The shoreline of one scene and how it was obtained.

    ``geometry`` is empty when nothing was kept; ``reason`` then says why (else None).
    Counts: ``n_contours`` lines marching squares found; ``n_segments`` lines kept;
    ``n_cloud_segments`` cloud-affected segments dropped (runs of vertices within
    ``cloud_buffer_m`` of a masked pixel) and ``n_cloud_vertices`` their vertices;
    ``n_outside_reference`` vertices dropped farther than ``reference_buffer_m`` from the
    reference shoreline; ``n_short_segments`` pieces dropped as shorter than ``min_length_m``
    (or of one vertex). ``masked_fraction`` is the fraction of pixels within
    ``reference_buffer_m`` of the reference (of the scene without one) that are NaN or
    ``invalid``: a caller can drop scenes whose coast is mostly under cloud.
    """

    geometry: MultiLineString
    threshold: float
    index: str
    crs: str | None
    n_contours: int
    n_segments: int
    n_vertices: int
    n_cloud_segments: int
    n_cloud_vertices: int
    n_outside_reference: int
    n_short_segments: int
    masked_fraction: float
    reason: str | None = None

    @property
    def vertices(self) -> np.ndarray:
        """All kept vertices as an ``(n, 2)`` float array of map ``x, y``."""
        return shapely.get_coordinates(self.geometry)


def water_index(bands: Mapping[str, np.ndarray], kind: str = "mndwi") -> np.ndarray:
    """The water index ``kind`` of one scene as float32, NaN where an input is NaN (or a
    normalised difference has a zero denominator). Water is high.

    ``bands`` maps common band names to 2-D reflectance arrays (0..1) of one shape:
    ``mndwi`` = (green − swir16)/(green + swir16) (Xu 2006), ``ndwi`` = (green − nir)/(green + nir)
    (McFeeters 1996, :func:`rs.indices.ndwi`), ``awei_nsh`` = 4(green − swir16) − (0.25 nir +
    2.75 swir22) and ``awei_sh`` = blue + 2.5 green − 1.5(nir + swir16) − 0.25 swir22
    (Feyisa et al. 2014).
    """
    if kind not in WATER_INDICES:
        raise SpecError(f"unknown water index {kind!r}: use one of {', '.join(WATER_INDICES)}")
    missing = [b for b in WATER_INDICES[kind] if b not in bands]
    if missing:
        raise SpecError(
            f"water index {kind!r} needs the bands {', '.join(WATER_INDICES[kind])}; "
            f"missing: {', '.join(missing)} (load them or choose another index)"
        )
    arrs = {b: np.asarray(bands[b], dtype=np.float32) for b in WATER_INDICES[kind]}
    shapes = {a.shape for a in arrs.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"bands must be 2-D arrays of one shape, got {sorted(shapes)}")
    if kind in ("mndwi", "ndwi"):
        ds = xr.Dataset({b: (("y", "x"), a) for b, a in arrs.items()})
        da = ndwi(ds) if kind == "ndwi" else _normalised_difference(ds["green"], ds["swir16"])
        return np.asarray(da.values, dtype=np.float32)
    g, n, s1, s2 = arrs["green"], arrs["nir"], arrs["swir16"], arrs["swir22"]
    if kind == "awei_nsh":
        out = 4.0 * (g - s1) - (0.25 * n + 2.75 * s2)
    else:
        out = arrs["blue"] + 2.5 * g - 1.5 * (n + s1) - 0.25 * s2
    return out.astype(np.float32)


def _affine(transform: Affine | Sequence[float]) -> Affine:
    if isinstance(transform, Affine):
        return transform
    t = tuple(float(x) for x in transform)
    if len(t) not in (6, 9):
        raise ValueError(
            "transform must be an affine.Affine or its 6 coefficients (a, b, c, d, e, f), "
            f"got {len(t)} numbers"
        )
    return Affine(*t[:6])


def pixel_to_map(
    rows: np.ndarray, cols: np.ndarray, transform: Affine | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Map ``x, y`` of array positions ``(rows, cols)`` where an integer index is a pixel centre
    (the convention of ``find_contours`` and of array indexing): ``transform * (col + .5,
    row + .5)`` for a transform that maps pixel corners (rasterio / GDAL)."""
    t = _affine(transform)
    c = np.asarray(cols, dtype=np.float64) + 0.5
    r = np.asarray(rows, dtype=np.float64) + 0.5
    return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f


def _within(area: BaseGeometry, shape: tuple[int, int], t: Affine) -> np.ndarray:
    """True for the pixels whose centre lies in ``area`` (only the pixels of the window of
    ``area``'s bounds are tested)."""
    out = np.zeros(shape, dtype=bool)
    x0, y0, x1, y1 = area.bounds
    corners = [~t @ (x, y) for x in (x0, x1) for y in (y0, y1)]
    cs, rs = [c for c, _ in corners], [r for _, r in corners]
    c0, c1 = max(0, math.floor(min(cs))), min(shape[1], math.ceil(max(cs)) + 1)
    r0, r1 = max(0, math.floor(min(rs))), min(shape[0], math.ceil(max(rs)) + 1)
    if c0 >= c1 or r0 >= r1:
        return out
    rr, cc = np.mgrid[r0:r1, c0:c1].astype(np.float64)
    x, y = pixel_to_map(rr, cc, t)
    out[r0:r1, c0:c1] = shapely.contains_xy(area, x, y)
    return out


def _runs(flags: np.ndarray, line_id: np.ndarray) -> int:
    """Number of maximal runs of True in ``flags`` that do not cross a change of ``line_id``."""
    if not flags.any():
        return 0
    start = flags.copy()
    start[1:] &= ~(flags[:-1] & (line_id[1:] == line_id[:-1]))
    return int(start.sum())


def _cloud_distance(
    verts: np.ndarray, valid: np.ndarray, t: Affine
) -> np.ndarray:
    """Distance (CRS units) from each ``(row, col)`` vertex to the centre of the nearest masked
    pixel, looked up from the nearest masked pixel of each of the 4 pixels around the vertex."""
    _, (ir, ic) = ndimage.distance_transform_edt(valid, return_indices=True)
    h, w = valid.shape
    r, c = verts[:, 0], verts[:, 1]
    best = np.full(len(verts), np.inf)
    for rr in (np.floor(r), np.ceil(r)):
        for cc in (np.floor(c), np.ceil(c)):
            ri = np.clip(rr.astype(np.intp), 0, h - 1)
            ci = np.clip(cc.astype(np.intp), 0, w - 1)
            dr, dc = ir[ri, ci] - r, ic[ri, ci] - c
            # pixel offsets -> map offsets with the linear part of the transform
            dx, dy = t.a * dc + t.b * dr, t.d * dc + t.e * dr
            best = np.minimum(best, np.hypot(dx, dy))
    return best


def _empty(
    index: str, crs: str | None, threshold: float, masked: float, reason: str,
    n_contours: int = 0, n_cloud_segments: int = 0, n_cloud_vertices: int = 0,
    n_outside_reference: int = 0, n_short_segments: int = 0,
) -> Shoreline:
    return Shoreline(
        MultiLineString(), threshold, index, crs, n_contours=n_contours, n_segments=0,
        n_vertices=0, n_cloud_segments=n_cloud_segments, n_cloud_vertices=n_cloud_vertices,
        n_outside_reference=n_outside_reference, n_short_segments=n_short_segments,
        masked_fraction=masked, reason=reason,
    )


def shoreline_from_index(
    index: np.ndarray,
    transform: Affine | Sequence[float],
    *,
    crs: str | None = None,
    threshold: float | Literal["otsu"] = "otsu",
    reference: BaseGeometry | None = None,
    reference_buffer_m: float | None = 100.0,
    invalid: np.ndarray | None = None,
    cloud_buffer_m: float | None = None,
    min_length_m: float = 0.0,
    index_name: str = "index",
) -> Shoreline:
    """The shoreline of one scene from its water index (2-D, water high, NaN where unknown).

    :param transform: the pixel grid of ``index`` (rasterio/GDAL convention, pixel corners).
    :param threshold: ``"otsu"`` (Otsu on the clear pixels within ``reference_buffer_m`` of
        ``reference``, or on every clear pixel when ``reference_buffer_m`` is None) or a value.
    :param reference: the expected shoreline (any shapely geometry, CRS of ``transform``).
    :param reference_buffer_m: keep vertices within this distance of ``reference`` (and take
        Otsu's histogram there); None keeps every vertex. Not None without ``reference`` is a
        :class:`~rs.errors.SpecError`.
    :param invalid: True where a pixel is cloud, shadow or nodata (NaN pixels always are).
    :param cloud_buffer_m: drop vertices within this distance of a masked pixel's centre
        (default: 2 pixels).
    :param min_length_m: drop kept pieces shorter than this.
    """
    t = _affine(transform)
    img = np.asarray(index, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"the water index must be a 2-D array, got shape {img.shape}")
    if reference_buffer_m is not None and reference is None:
        raise SpecError(
            f"no reference shoreline given: reference_buffer_m={reference_buffer_m:g} keeps only "
            "vertices near it; pass `reference` (the expected shoreline in the scene's CRS) or "
            "set reference_buffer_m=None to keep every contour"
        )
    valid = np.isfinite(img)
    if invalid is not None:
        if np.shape(invalid) != img.shape:
            raise ValueError(f"invalid mask shape {np.shape(invalid)} != index shape {img.shape}")
        valid &= ~np.asarray(invalid, dtype=bool)
    near: BaseGeometry | None = None
    region = np.ones(img.shape, dtype=bool)
    if reference is not None and reference_buffer_m is not None:
        near = shapely.buffer(reference, reference_buffer_m)
        shapely.prepare(near)
        region = _within(near, img.shape, t)
    masked = float(1.0 - valid[region].mean()) if region.any() else 1.0

    if not region.any():
        return _empty(index_name, crs, math.nan, masked, "the reference shoreline's buffer "
                      f"({reference_buffer_m:g}) does not reach the scene")
    if threshold == "otsu":
        level = otsu_threshold(img[valid & region])
        if math.isnan(level):
            return _empty(index_name, crs, level, masked, "no land/water contrast among the "
                          "clear pixels near the reference shoreline (cloud or no coast in view)")
    else:
        level = float(threshold)
    if not valid.any():
        return _empty(index_name, crs, level, masked, "no clear pixel in the scene")

    contours = find_contours(np.where(valid, img, level), level, mask=valid)
    n_contours = len(contours)
    if n_contours == 0:
        return _empty(index_name, crs, level, masked, "the index does not cross the threshold")
    verts = np.concatenate(contours)
    line_id = np.repeat(np.arange(n_contours), [len(c) for c in contours])

    cloudy = np.zeros(len(verts), dtype=bool)
    if not valid.all():
        buf = cloud_buffer_m
        if buf is None:
            buf = DEFAULT_CLOUD_BUFFER_PX * math.sqrt(abs(t.determinant))
        cloudy = _cloud_distance(verts, valid, t) <= buf
    x, y = pixel_to_map(verts[:, 0], verts[:, 1], t)
    outside = np.zeros(len(verts), dtype=bool)
    if near is not None:
        outside = ~cloudy & ~shapely.contains_xy(near, x, y)
    keep = ~cloudy & ~outside

    # pieces: runs of kept vertices within one contour
    start = keep.copy()
    start[1:] &= ~(keep[:-1] & (line_id[1:] == line_id[:-1]))
    piece = np.cumsum(start) - 1
    xy, piece = np.column_stack([x, y])[keep], piece[keep]
    sizes = np.bincount(piece, minlength=int(start.sum())) if len(piece) else np.zeros(0, int)
    lines = shapely.linestrings(xy[sizes[piece] >= 2], indices=piece[sizes[piece] >= 2])
    lines = np.atleast_1d(lines)
    long_enough = shapely.length(lines) >= min_length_m
    n_short = int((sizes == 1).sum()) + int((~long_enough).sum())
    lines = lines[long_enough]
    n_cloud_segments, n_cloud_vertices = _runs(cloudy, line_id), int(cloudy.sum())
    n_outside = int(outside.sum())
    if len(lines) == 0:
        why = "every vertex was near a masked pixel, outside the reference buffer or too short"
        return _empty(index_name, crs, level, masked, why, n_contours, n_cloud_segments,
                      n_cloud_vertices, n_outside, n_short)
    geom = MultiLineString(list(lines))
    return Shoreline(
        geom, level, index_name, crs, n_contours=n_contours, n_segments=len(lines),
        n_vertices=int(shapely.get_num_coordinates(geom)), n_cloud_segments=n_cloud_segments,
        n_cloud_vertices=n_cloud_vertices, n_outside_reference=n_outside,
        n_short_segments=n_short, masked_fraction=masked,
    )


def extract_shoreline(
    bands: Mapping[str, np.ndarray],
    transform: Affine | Sequence[float],
    *,
    crs: str | None = None,
    index: str = "mndwi",
    threshold: float | Literal["otsu"] = "otsu",
    reference: BaseGeometry | None = None,
    reference_buffer_m: float | None = 100.0,
    invalid: np.ndarray | None = None,
    cloud_buffer_m: float | None = None,
    min_length_m: float = 0.0,
) -> Shoreline:
    """The shoreline of one scene from its bands: :func:`water_index` ``index``, then
    :func:`shoreline_from_index` (see there for the options)."""
    return shoreline_from_index(
        water_index(bands, index), transform, crs=crs, threshold=threshold,
        reference=reference, reference_buffer_m=reference_buffer_m, invalid=invalid,
        cloud_buffer_m=cloud_buffer_m, min_length_m=min_length_m, index_name=index,
    )
