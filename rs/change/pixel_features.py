"""Per-pixel change features of a co-registered Sentinel-2 image pair (pure: numpy in, numpy out).

The features that :mod:`rs.change.pixel_model` classifies, for every pixel of two ``(13, H, W)``
reflectance stacks (band order :data:`S2_BANDS`, TOA or surface reflectance, unitless 0..1):

- **standardised bands** of each date, ``z_t[b] = (x_t[b] - median_t[b]) / IQR_t[b]`` over the
  image's own finite pixels (a per-image, per-band gain/offset normalisation: it removes most
  of the illumination and atmosphere difference between the dates that a plain change vector
  mistakes for change), and their **differences** ``d[b] = z_2[b] - z_1[b]``;
- **indices** of each date and their differences: NDVI ``(B08 - B04) / (B08 + B04)`` (Rouse et
  al. 1974), NDBI ``(B11 - B08) / (B11 + B08)`` (Zha et al. 2003), MNDWI
  ``(B03 - B11) / (B03 + B11)`` (Xu 2006), through :mod:`rs.indices`;
- **change-vector statistics**: the magnitude ``|d|`` over the bands (change vector analysis,
  Malila 1980) and the spectral angle ``arccos(x_1 . x_2 / (|x_1| |x_2|))`` of the raw vectors;
- **IR-MAD**: ``log(1 + chi2)`` of the iteratively reweighted MAD statistic of the pair
  (Nielsen 2007; :func:`rs.change.threshold.fit_irmad`, fitted on a seeded subsample of the
  pair's own pixels, so unsupervised and per image pair);
- **neighbourhood statistics** (multi-scale context): the mean over square windows of side
  ``s`` in :data:`WINDOWS` (``scipy.ndimage.uniform_filter``, reflected edges) of ``|d|``, the
  IR-MAD statistic, the index differences and the differences of the 10 m and SWIR bands, the
  local contrast ``|d| - mean_31(|d|)``, and the local standard deviation (texture) of each
  date's brightness (mean of the standardised 10 m bands) in a 7-pixel window and its change.

Tried and left out (OSCD development split, see bench/oscd.py): raw reflectance of the 10 m
and SWIR bands, 15/31-pixel means of each date's NDVI and NDBI and the 5 x 5 maximum of
``|d|`` (pooled F1 0.20 with them, 0.27 without).

A pixel with a non-finite input value gets NaN features (the classifier treats NaN as missing).
Urban change on OSCD (Daudt et al. 2018) is mostly new buildings and cleared ground: blobs of a
few to a few hundred pixels, which is what the windows of 3..31 pixels (30..310 m) describe.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

from rs import indices as ix
from rs.change.threshold import fit_irmad

__all__ = ["S2_BANDS", "WINDOWS", "change_vector_magnitude", "pixel_features"]

S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
            "B11", "B12")
WINDOWS = (3, 7, 15, 31)
_CONTEXT_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
_IRMAD_SAMPLE = 40_000


def _standardise(x: np.ndarray) -> np.ndarray:
    """``(x - median) / IQR`` per band over the finite pixels; ``(B, H, W)`` float32."""
    flat = x.reshape(x.shape[0], -1)
    q25, q50, q75 = np.nanpercentile(flat, [25, 50, 75], axis=1)
    iqr = np.where(q75 - q25 > 0, q75 - q25, 1.0)
    return ((x - q50[:, None, None]) / iqr[:, None, None]).astype(np.float32)


def change_vector_magnitude(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``sqrt(sum_b (after[b] - before[b])^2)`` of two ``(B, H, W)`` stacks (change vector
    analysis, Malila 1980): the plain CVA magnitude, no normalisation. ``(H, W)`` float32."""
    d = after.astype(np.float32) - before.astype(np.float32)
    return np.sqrt(np.sum(d * d, axis=0))


def _indices(x: np.ndarray) -> list[np.ndarray]:
    """NDVI, NDBI, MNDWI of one ``(13, H, W)`` stack (through rs.indices)."""
    b = {name: x[i] for i, name in enumerate(S2_BANDS)}
    ds = xr.Dataset({k: (("y", "x"), v) for k, v in
                     (("red", b["B04"]), ("nir", b["B08"]), ("green", b["B03"]),
                      ("swir16", b["B11"]))})
    return [np.asarray(f(ds).values, dtype=np.float32) for f in (ix.ndvi, ix.ndbi, ix.mndwi)]


def _irmad_stat(z1: np.ndarray, z2: np.ndarray, seed: int) -> np.ndarray:
    """``log(1 + chi2)`` of IR-MAD fitted on a seeded subsample of the pair's pixels."""
    p = z1.shape[0]
    x = z1.reshape(p, -1).T
    y = z2.reshape(p, -1).T
    ok = np.flatnonzero(np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1))
    if ok.size <= 4 * p:
        return np.full(z1.shape[1:], np.nan, dtype=np.float32)
    rng = np.random.default_rng(seed)
    pick = rng.choice(ok, size=min(_IRMAD_SAMPLE, ok.size), replace=False)
    model = fit_irmad(x[pick], y[pick], max_iter=30)
    return np.log1p(model.chi2(x, y)).reshape(z1.shape[1:]).astype(np.float32)


def _mean(a: np.ndarray, size: int) -> np.ndarray:
    """Window mean of side ``size``, NaN-aware (mean of the finite values in the window)."""
    finite = np.isfinite(a)
    filled = np.where(finite, a, 0.0).astype(np.float32)
    num = ndimage.uniform_filter(filled, size=size, mode="reflect")
    den = ndimage.uniform_filter(finite.astype(np.float32), size=size, mode="reflect")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-6, num / den, np.nan).astype(np.float32)


def _local_std(a: np.ndarray, size: int) -> np.ndarray:
    m = _mean(a, size)
    return np.sqrt(np.maximum(_mean(a * a, size) - m * m, 0.0))


def pixel_features(
    before: np.ndarray, after: np.ndarray, *, seed: int = 0
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The features of every pixel (see the module docstring) of two ``(13, H, W)`` stacks in
    :data:`S2_BANDS` order: ``(H, W, F)`` float32 and the ``F`` feature names. ``seed`` fixes
    the IR-MAD subsample."""
    before = np.asarray(before, dtype=np.float32)
    after = np.asarray(after, dtype=np.float32)
    if before.shape != after.shape or before.ndim != 3 or before.shape[0] != len(S2_BANDS):
        raise ValueError(f"before and after must be ({len(S2_BANDS)}, H, W) stacks of one "
                         f"shape, got {before.shape} and {after.shape}")
    bad = ~(np.isfinite(before).all(axis=0) & np.isfinite(after).all(axis=0))
    z1, z2 = _standardise(before), _standardise(after)
    d = z2 - z1
    layers: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, value: np.ndarray) -> None:
        layers.append(value.astype(np.float32, copy=False))
        names.append(name)

    for i, band in enumerate(S2_BANDS):
        add(f"z1_{band}", z1[i])
        add(f"z2_{band}", z2[i])
        add(f"d_{band}", d[i])
    idx1, idx2 = _indices(before), _indices(after)
    idx_d = [b - a for a, b in zip(idx1, idx2, strict=True)]
    for name, v1, v2, dv in zip(("ndvi", "ndbi", "mndwi"), idx1, idx2, idx_d, strict=True):
        add(f"{name}_1", v1)
        add(f"{name}_2", v2)
        add(f"d_{name}", dv)
    mag = np.sqrt(np.sum(d * d, axis=0))
    add("cva", mag)
    dot = np.sum(before * after, axis=0)
    norm = np.sqrt(np.sum(before * before, axis=0) * np.sum(after * after, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        add("angle", np.arccos(np.clip(dot / norm, -1.0, 1.0)))
    chi = _irmad_stat(np.where(bad, np.nan, z1), np.where(bad, np.nan, z2), seed)
    add("irmad", chi)
    context = {"cva": mag, "irmad": chi,
               **{f"d_{n}": v for n, v in zip(("ndvi", "ndbi", "mndwi"), idx_d, strict=True)},
               **{f"d_{b}": d[S2_BANDS.index(b)] for b in _CONTEXT_BANDS}}
    for size in WINDOWS:
        for name, value in context.items():
            add(f"{name}_m{size}", _mean(value, size))
    add("cva_contrast31", mag - _mean(mag, 31))

    ten = [S2_BANDS.index(b) for b in ("B02", "B03", "B04", "B08")]
    s1 = _local_std(z1[ten].mean(axis=0), 7)
    s2 = _local_std(z2[ten].mean(axis=0), 7)
    add("texture7_1", s1)
    add("texture7_2", s2)
    add("d_texture7", s2 - s1)
    out = np.stack(layers, axis=-1)
    out[bad] = np.nan
    return out, tuple(names)
