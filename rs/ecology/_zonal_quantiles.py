"""Weighted quantiles of one polygon's values by exactextract's definition
(:func:`weighted_quantiles`), for :func:`rs.ecology.zonal.zonal_stats`.

exactextract computes the same quantiles itself, but keeps a hash map of every distinct value
per polygon: 4-5x slower than all its other statistics together on float rasters (and on an
integer raster it truncates them to integers). Here they come from its ``values`` and
``coverage``: one sort of the full-coverage values per polygon, the rest evaluated only around
the quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SMALL_QUANTILES", "weighted_quantiles"]

#: Up to this many values a polygon's quantiles are computed with everything materialised
#: (fewer numpy calls); above, only around the quantiles (:func:`weighted_quantiles`)
SMALL_QUANTILES = 4096


def weighted_quantiles(values: np.ndarray, weights: np.ndarray,
                       q: Sequence[float] | np.ndarray) -> np.ndarray:
    """exactextract's weighted quantiles (``quantile``/``median``) of ``values``.

    Over the distinct values ``v_0 < ... < v_{n-1}`` with summed weights ``W_k`` and running
    sums ``C_k = W_0 + ... + W_k``: ``s_0 = 0``, ``s_k = k W_k + (n - 1) C_{k-1}``; the
    ``q``-quantile interpolates ``v`` linearly in ``s`` at ``T = q (n - 1) C_{n-1}`` (the last
    value beyond ``s_{n-1}``). With equal weights this is the linear (type 7) quantile. NaN for
    no values.

    The cost is one sort of the full-coverage values (weight 1, nearly all of them); nothing
    else touches every value. ``W``, ``C`` and ``v`` are evaluated only at the few ``k``
    that matter (:class:`_Merged`): the running sum of the full-coverage values is a position
    in their sorted array, the few partly covered ones are merged in by ``searchsorted``.
    ``s`` is monotone and ``(n-1) C_{k-1} <= s_k <= (n-1) C_k``, so the first ``s_k > T`` is
    the first or second ``k`` with ``(n-1) C_k > T``; seven ``k`` around it are evaluated.
    """
    qs = np.asarray(q, dtype=np.float64)
    if values.size == 0:
        return np.full(qs.shape, np.nan)
    if values.size <= SMALL_QUANTILES:
        return _quantiles_directly(values, weights, qs)
    m = _Merged(values, weights)
    n = m.n
    if n == 1:
        return np.full(qs.shape, float(m.at(np.zeros(1, dtype=np.int64))[2][0]))
    targets = qs * (n - 1) * m.total
    # k from first - 5 to first + 3: s_k at first - 4 ... first + 3, searched at first - 3 ...
    ks = np.clip(m.first_above(targets / (n - 1)), 0, n)[:, None] + np.arange(-5, 4)
    cum, w, v = m.at(np.clip(ks, 0, n - 1))
    cum = np.where(ks < 0, 0.0, cum)  # C_{-1} = 0
    s = ks[:, 1:] * w[:, 1:] + (n - 1) * cum[:, :-1]  # column c: s at ks[:, c + 1]
    s = np.where(ks[:, 1:] < 0, -np.inf, np.where(ks[:, 1:] >= n, np.inf, s))
    rows = np.arange(len(qs))
    c = 1 + np.argmax(s[:, 1:] > targets[:, None], axis=1)  # the first s_k > T (k >= 1)
    s_l, s_r = s[rows, c - 1], s[rows, c]
    x_l, x_r = v[rows, c].astype(np.float64), v[rows, c + 1].astype(np.float64)
    with np.errstate(invalid="ignore"):
        out = x_l + (targets - s_l) * (x_r - x_l) / (s_r - s_l)
    last = float(m.at(np.full(1, n - 1))[2][0])
    return np.where(ks[rows, c + 1] >= n, last, out)


def _quantiles_directly(values: np.ndarray, weights: np.ndarray,
                        qs: np.ndarray) -> np.ndarray:
    """:func:`weighted_quantiles` with every ``v``, ``W``, ``C`` and ``s`` materialised: fewer
    numpy calls, faster for a few thousand values."""
    ux, inv = np.unique(values, return_inverse=True)
    uw = np.bincount(inv.ravel(), weights=weights.astype(np.float64))
    n = ux.size
    if n == 1:
        return np.full(qs.shape, float(ux[0]))
    cum = np.cumsum(uw)
    s = np.arange(n) * uw + (n - 1) * np.concatenate([[0.0], cum[:-1]])
    targets = qs * (n - 1) * cum[-1]
    right = np.searchsorted(s, targets, side="right")  # >= 1: s_0 = 0 <= T
    r = np.minimum(right, n - 1)
    x_l, x_r = ux[r - 1].astype(np.float64), ux[r].astype(np.float64)
    with np.errstate(invalid="ignore"):
        out = x_l + (targets - s[r - 1]) * (x_r - x_l) / (s[r] - s[r - 1])
    return np.where(right >= n, float(ux[-1]), out)


class _Merged:
    """The distinct values of one polygon, full-coverage and partly covered ones merged, with
    their summed weights and running sums, evaluated only at the merged positions asked.

    ``full``: the sorted full-coverage values (weight 1, with repeats); ``dups``: positions in
    it equal to their predecessor. The partly covered values, grouped into distinct ``px``
    (summed weights ``pw``, running sums ``pcum``), each equal a full value or are a new
    distinct value; ``pk``: their merged positions. Arrays indexed by partial are padded with
    one leading entry: index ``p`` is the ``p``-th partial, 0 none.
    """

    def __init__(self, values: np.ndarray, weights: np.ndarray) -> None:
        is_full = weights == 1.0
        full = values[is_full]
        full.sort()
        self.n_full = full.size
        self.full = full if full.size else np.zeros(1, dtype=values.dtype)
        self.dups = (np.flatnonzero(full[1:] == full[:-1]) + 1 if full.size > 1
                     else np.zeros(0, dtype=np.intp))
        self.dup_key = self.dups - np.arange(self.dups.size)  # distinct values before each
        xb, wb = values[~is_full], weights[~is_full].astype(np.float64)
        order = np.argsort(xb, kind="stable")
        xb, wb = xb[order], wb[order]
        sb = (np.flatnonzero(np.concatenate([[True], xb[1:] != xb[:-1]])) if xb.size
              else np.zeros(0, dtype=np.intp))
        px = xb[sb]
        pw = np.add.reduceat(wb, sb) if sb.size else np.zeros(0)
        raw = np.searchsorted(full, px)
        new = raw >= full.size
        new[~new] = full[raw[~new]] != px[~new]
        pos = raw - np.searchsorted(self.dups, raw)  # distinct full values below each px
        pk = pos + np.cumsum(new) - new  # + new distinct partial values below
        self.pk = np.concatenate([[-1], pk])
        self.pw = np.concatenate([[0.0], pw])
        self.px = np.concatenate([values[:1], px])
        self.pcum = np.concatenate([[0.0], np.cumsum(pw)])
        self.p_new = np.concatenate([[False], new])
        self.new_pk, self.new_pos = pk[new], pos[new]
        self.n = full.size - self.dups.size + int(new.sum())
        self.total = full.size + float(self.pcum[-1])
        self.pk_next = np.append(pk, self.n)  # [j]: position of partial j + 1 (n: none)
        self.cum_at_pk = self.at(pk)[0]

    def _start(self, i: np.ndarray) -> np.ndarray:
        """Position in ``full`` of the ``i``-th distinct full value (``n_full`` for their
        count): the full-coverage weight below it."""
        return i + np.searchsorted(self.dup_key, i, side="right")

    def at(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``C_k``, ``W_k`` and ``v_k`` at merged positions ``k`` (0 <= k < n)."""
        p = np.searchsorted(self.pk, k, side="right") - 1  # partials at or below k
        at_p = self.pk[p] == k
        own = at_p & self.p_new[p]  # k is a partial's own value
        nf = k + 1 - np.searchsorted(self.new_pk, k, side="right")  # full values <= k
        end = self._start(nf)
        begin = self._start(np.maximum(nf - 1, 0))
        cum = end + self.pcum[p]
        weight = np.where(own, 0, end - begin) + np.where(at_p, self.pw[p], 0.0)
        value = np.where(own, self.px[p], self.full[np.minimum(begin, self.full.size - 1)])
        return cum, weight, value

    def first_above(self, level: np.ndarray) -> np.ndarray:
        """The first merged position with ``C_k > level`` (n if none), to within one where
        ``level`` rounds."""
        j = np.searchsorted(self.cum_at_pk, level, side="right")  # partials with C <= level
        rho = np.floor(np.maximum(level - self.pcum[j], 0)).astype(np.intp)  # full ones
        in_full = rho < self.n_full
        rho = np.minimum(rho, max(self.n_full - 1, 0))
        i = rho - np.searchsorted(self.dups, rho, side="right")  # distinct full value
        k = np.where(in_full, i + np.searchsorted(self.new_pos, i, side="right"), self.n)
        return np.minimum(k, self.pk_next[j])
