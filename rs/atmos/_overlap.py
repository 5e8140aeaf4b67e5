"""Exact overlap areas of pixel quadrilaterals with the cells of a regular grid (pure, numpy).

Coordinates are in cell units: ``x = (lon - west) / res``, ``y = (lat - south) / res``, so
cell ``(i, j)`` (column ``i`` from the west, row ``j`` from the south) is the unit square
``[i, i + 1] x [j, j + 1]``. No polygon is clipped. By Green's theorem the part of a simple
polygon ``P`` (counter-clockwise) inside column ``i`` and above the line ``y = t`` is::

    H_i(t) = -∮_∂P 1[i <= x <= i + 1] · max(y - t, 0) dx

and the overlap with cell ``(i, j)`` is ``H_i(j) - H_i(j + 1)``. Along one straight edge,
clipped to the column, the integrand is linear in x until it is cut at ``y = t``, so each
edge's term has a closed form: ``-dx · (Q² - P²) / (2 (b - a))`` with ``[a, b]`` the edge's
y-range measured from ``t`` and ``P, Q = max(a, 0), max(b, 0)``. The x-clipping of an edge to
a column is shared by all the row boundaries of that column, and everything is evaluated for
many (pixel, column, boundary) triples at once in numpy, in preallocated work arrays (fresh
multi-megabyte temporaries would cost more in page faults than the arithmetic).

The result is exact (to rounding) for any simple polygon, convex or not, and the overlaps of a
pixel sum to its shoelace area, which is what makes the gridding mass-conserving. A clockwise
pixel gets negative integrals; the sign of its own area fixes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["iter_overlaps"]

#: pairs below this overlap (in cell areas) are not counted as "the pixel touches the cell"
TOUCH = 1e-9
_NEXT = [1, 2, 3, 0]


class _Work:
    """Named work arrays, reused from chunk to chunk (grown when a chunk needs more)."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
        n = math.prod(shape)
        buf = self._bufs.get(name)
        if buf is None or buf.size < n:
            buf = np.empty(max(n, 1 << 14), dtype=dtype)
            self._bufs[name] = buf
        return buf[:n].reshape(shape)


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


def _column_terms(
    w: _Work, edges: tuple[np.ndarray, ...], pix: np.ndarray, col: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each (pixel, column) pair and each of the 4 edges ``a -> b``: the edge clipped to the
    column as its y-range ``[lo, hi]`` measured from the row ``base``, and ``-dx / 2`` (dx: its
    signed x-length in the column). All edge-major ``(4, c)``."""
    shape = (4, pix.size)
    xa, ya, xb, slope = (np.take(e, pix, axis=1, out=w(f"e{k}", shape))
                             for k, e in enumerate(edges))
    left = col.astype(np.float64)
    x_lo = np.minimum(xa, xb, out=w("x_lo", shape))
    np.clip(x_lo, left, left + 1.0, out=x_lo)
    x_hi = np.maximum(xa, xb, out=w("x_hi", shape))
    np.clip(x_hi, left, left + 1.0, out=x_hi)
    ya -= base  # small numbers from here on: little rounding
    half_dx = np.subtract(x_lo, x_hi, out=w("half_dx", shape))  # -(x_hi - x_lo)
    half_dx *= 0.5
    np.negative(half_dx, out=half_dx, where=xb < xa)  # signed: the edge's direction along x
    x_lo -= xa
    x_lo *= slope
    x_lo += ya  # y at x_lo
    x_hi -= xa
    x_hi *= slope
    x_hi += ya  # y at x_hi
    lo = np.minimum(x_lo, x_hi, out=xa)
    hi = np.maximum(x_lo, x_hi, out=xb)
    return lo, hi, half_dx


def _areas_above(w: _Work, lo: np.ndarray, hi: np.ndarray, half_dx: np.ndarray,
                 rows: int) -> np.ndarray:
    """``H`` at the row boundaries ``t = 0 .. rows`` (measured from each pixel's first row):
    ``(rows + 1, c)``."""
    shape = (4, rows + 1, lo.shape[1])
    t = np.arange(rows + 1, dtype=np.float64)[:, None]
    a = np.subtract(lo[:, None, :], t, out=w("a", shape))
    b = np.subtract(hi[:, None, :], t, out=w("b", shape))
    d = np.subtract(b, a, out=w("d", shape))
    flat = np.less_equal(d, 0.0, out=w("flat", shape, bool))
    np.maximum(d, 1e-300, out=d)
    np.maximum(a, 0.0, out=a)  # P
    np.maximum(b, 0.0, out=b)  # Q
    num = np.subtract(b, a, out=w("num", shape))
    b += a
    num *= b
    num /= d  # (Q² - P²) / (b - a); 0 for a horizontal edge, which takes 2P instead
    a += a
    a *= flat
    num += a
    num *= half_dx[:, None, :]
    h = np.add(num[0], num[1], out=w("h", shape[1:]))
    h += num[2]
    h += num[3]
    return h


def iter_overlaps(
    x: np.ndarray, y: np.ndarray, nx: int, ny: int, *, max_pairs: int = 1 << 15
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Overlaps of quadrilaterals ``(x, y)`` (each ``(m, 4)``, cell units) with the ``ny x nx``
    grid, in chunks of about ``max_pairs`` (pixel, cell) pairs.

    Yields ``(pixel, col, row, area)``: pixel index into ``x``, column from the west, row from
    the south, overlap in cell areas (> 0; pairs that only touch are dropped). Parts of a pixel
    outside the grid are not yielded.
    """
    xa = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)  # edge-major: (4, m)
    ya = np.ascontiguousarray(np.asarray(y, dtype=np.float64).T)
    xb, yb = xa[_NEXT], ya[_NEXT]
    run = xb - xa
    slope = np.divide(yb - ya, run, out=np.zeros_like(run), where=run != 0.0)
    edges = (xa, ya, xb, slope)  # per pixel and edge a -> b: what the clipping needs
    c0, nc = _spans(np.minimum(np.minimum(xa[0], xa[1]), np.minimum(xa[2], xa[3])),
                    np.maximum(np.maximum(xa[0], xa[1]), np.maximum(xa[2], xa[3])), nx)
    r0, nr = _spans(np.minimum(np.minimum(ya[0], ya[1]), np.minimum(ya[2], ya[3])),
                    np.maximum(np.maximum(ya[0], ya[1]), np.maximum(ya[2], ya[3])), ny)
    nc = np.where(nr > 0, nc, 0)
    pairs = nc * nr
    cross = xa * yb - xb * ya
    sign = np.sign(cross[0] + cross[1] + cross[2] + cross[3])
    ends = np.cumsum(pairs)
    work = _Work()
    start = 0
    while start < xa.shape[1]:
        done = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, done + max_pairs, side="right"))
        stop = max(stop, start + 1)  # one pixel at least, however many cells it covers
        sel = np.arange(start, stop)
        start = stop
        sel = sel[pairs[sel] > 0]
        # pixels grouped by their number of rows: each group broadcasts over its rows
        for rows in np.unique(nr[sel]):
            group = sel[nr[sel] == rows]
            owner, k = _expand(nc[group])  # (pixel, column) pairs
            pix = group[owner]
            col = c0[pix] + k
            first = r0[pix]
            lo, hi, half_dx = _column_terms(work, edges, pix, col, first.astype(np.float64))
            h = _areas_above(work, lo, hi, half_dx, int(rows))
            area = h[:-1] - h[1:]  # (rows, c): H(bottom) - H(top) of each cell
            area *= sign[pix]
            keep = area > TOUCH
            kr, kc = np.nonzero(keep)
            yield pix[kc], col[kc], first[kc] + kr, area[keep]
