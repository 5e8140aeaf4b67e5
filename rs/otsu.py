"""Otsu's threshold of a histogram (pure): the one implementation rs uses (coast shorelines,
change-vector magnitude)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["otsu_threshold"]


def otsu_threshold(values: np.ndarray, nbins: int = 256) -> float:
    """Otsu's threshold (Otsu 1979) of the finite ``values`` (any shape): the split of their
    ``nbins``-bin histogram that maximises the between-class variance, returned as the edge
    between the two classes' bins. When several splits are equally good (empty bins between
    two modes: a clean land/water histogram), the middle of the gap, not its lower end as
    ``skimage.filters.threshold_otsu`` would. NaN when fewer than two distinct finite values."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2 or v.min() == v.max():
        return math.nan
    hist, edges = np.histogram(v, bins=nbins)
    centres = (edges[:-1] + edges[1:]) / 2
    return _otsu_split(hist.astype(np.float64), centres)


def _otsu_split(hist: np.ndarray, centres: np.ndarray) -> float:
    """The Otsu split of a (possibly weighted) histogram, as in :func:`otsu_threshold`."""
    total = hist.sum()
    w1 = np.cumsum(hist)[:-1]  # class 1: bins 0..k
    w2 = total - w1
    s1 = np.cumsum(hist * centres)[:-1]
    st = float((hist * centres).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        between = w1 * w2 * (s1 / w1 - (st - s1) / w2) ** 2
    between = np.nan_to_num(between, nan=-1.0)
    best = int(np.argmax(between))
    flat = between >= between[best] * (1 - 1e-9)
    last = best
    while last + 1 < len(flat) and flat[last + 1]:
        last += 1
    return float((centres[best] + centres[last + 1]) / 2)
