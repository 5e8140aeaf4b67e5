"""Exact overlap areas of pixel quadrilaterals with the cells of a regular grid (pure, numpy).

Coordinates are in cell units: ``x = (lon - west) / res``, ``y = (lat - south) / res``, so
cell ``(i, j)`` (column ``i`` from the west, row ``j`` from the south) is the unit square
``[i, i + 1] x [j, j + 1]``. The overlap of a simple polygon ``P`` with that square follows
from Green's theorem, with no polygon clipping at all::

    area(P ∩ cell) = -∮_∂P 1[i <= x <= i + 1] · clamp(y - j, 0, 1) dx      (P counter-clockwise)

Along one straight edge the integrand is a clamped linear function, whose integral has a
closed form (below). So each (pixel, cell) pair costs four fixed-size edge terms, evaluated for
millions of pairs at once in numpy; the x-clipping of an edge to a column is shared by all the
rows of that column. The result is exact (to rounding) for any simple polygon, convex or not,
and the overlaps of a pixel sum to its shoelace area, which is what makes the gridding
mass-conserving. A clockwise pixel gets negative integrals; the sign of its own area fixes it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["iter_overlaps"]

#: pairs below this overlap (in cell areas) are not counted as "the pixel touches the cell"
TOUCH = 1e-9


def _column_terms(
    x: np.ndarray, y: np.ndarray, col: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each (pixel, column) pair and each of the 4 edges: the edge clipped to the column as
    its y-range ``[a, b]`` (a <= b) and its signed x-length ``dx``. ``x``/``y``: edge-major
    ``(4, c)``; so are the results."""
    xa, ya = x, y
    xb, yb = np.roll(x, -1, axis=0), np.roll(y, -1, axis=0)
    left = col.astype(np.float64)
    right = left + 1.0
    lo = np.minimum(np.maximum(np.minimum(xa, xb), left), right)
    hi = np.minimum(np.maximum(np.maximum(xa, xb), left), right)
    run = xb - xa
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (yb - ya) / run
    slope[run == 0.0] = 0.0
    y_lo = ya + (lo - xa) * slope
    y_hi = ya + (hi - xa) * slope
    dx = hi - lo
    np.negative(dx, out=dx, where=run < 0.0)  # signed: the edge's direction along x
    return np.minimum(y_lo, y_hi), np.maximum(y_lo, y_hi), dx


def _edge_areas(a: np.ndarray, b: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``-dx * mean(clamp(t, 0, 1))`` for t uniform on [a, b] (a <= b), summed over the 4 edges
    (axis 0). The mean is the integral over [a, b] divided by ``b - a`` computed from the same
    rounded ``a`` and ``b``, which keeps nearly horizontal edges exact; a horizontal edge
    (``a == b``) takes ``clamp(a, 0, 1)``."""
    p = np.minimum(np.maximum(a, 0.0), 1.0)
    q = np.minimum(np.maximum(b, 0.0), 1.0)
    integral = (q - p) * (p + q)
    integral *= 0.5
    integral += np.maximum(b - np.maximum(a, 1.0), 0.0)  # the part above the cell: g = 1
    d = b - a
    flat = d == 0.0
    d[flat] = 1.0
    integral[flat] = p[flat]
    integral /= d
    integral *= dx
    return -(integral[0] + integral[1] + integral[2] + integral[3])


def _spans(lo: np.ndarray, hi: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First index and count of the unit cells [k, k + 1] that [lo, hi] touches, within [0, n)."""
    first = np.clip(np.floor(lo), 0, n).astype(np.int64)
    last = np.clip(np.ceil(hi), 0, n).astype(np.int64)
    return first, np.maximum(last - first, 0)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, k): for each owner ``o``, ``k = 0 .. counts[o] - 1``."""
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def iter_overlaps(
    x: np.ndarray, y: np.ndarray, nx: int, ny: int, *, max_pairs: int = 1 << 16
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Overlaps of quadrilaterals ``(x, y)`` (each ``(m, 4)``, cell units) with the ``ny x nx``
    grid, in chunks of about ``max_pairs`` (pixel, cell) pairs.

    Yields ``(pixel, col, row, area)``: pixel index into ``x``, column from the west, row from
    the south, overlap in cell areas (> 0; pairs that only touch are dropped). Parts of a pixel
    outside the grid are not yielded.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    c0, nc = _spans(x.min(axis=1), x.max(axis=1), nx)
    r0, nr = _spans(y.min(axis=1), y.max(axis=1), ny)
    nc = np.where(nr > 0, nc, 0)
    pairs = nc * nr
    sign = np.sign(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
    xt, yt = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)  # edge-major: (4, m)
    ends = np.cumsum(pairs)
    start = 0
    while start < x.shape[0]:
        done = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, done + max_pairs, side="right"))
        stop = max(stop, start + 1)  # one pixel at least, however many cells it covers
        sel = np.arange(start, stop)
        start = stop
        sel = sel[pairs[sel] > 0]
        if sel.size == 0:
            continue
        # (pixel, column) pairs: the x-clipping of every edge, shared by the column's rows
        cp, k = _expand(nc[sel])
        pix = sel[cp]
        col = c0[pix] + k
        a, b, dx = _column_terms(xt[:, pix], yt[:, pix], col)
        # (pixel, column, row) pairs
        rc, k = _expand(nr[pix])
        row = r0[pix[rc]] + k
        rowf = row.astype(np.float64)
        area = _edge_areas(a[:, rc] - rowf, b[:, rc] - rowf, dx[:, rc])
        area *= sign[pix[rc]]
        keep = area > TOUCH
        yield pix[rc][keep], col[rc][keep], row[keep], area[keep]
