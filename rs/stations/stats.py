"""Validation statistics of an estimate against a reference, with bootstrap intervals (pure).

For pairs (x = reference, e.g. the ground value; y = estimate, e.g. the satellite or a
calibrated value), pairs with a non-finite member dropped:

==================  ==========================================================================
``n``               number of pairs
``mean_ref``        mean of x;  ``mean_est``: mean of y
``bias``            mean(y - x)
``mae``             mean |y - x|
``rmse``            sqrt(mean (y - x)²)
``nrmse``           rmse / mean(x) (normalised by the reference mean; NaN when it is 0)
``r``               Pearson correlation
``spearman_r``      Spearman rank correlation (average ranks for ties)
``ols_slope``       ordinary least squares of y on x: sxy / sxx; ``ols_intercept`` ȳ - slope x̄
``rma_slope``       reduced major axis (geometric mean) regression: sign(sxy) sqrt(syy / sxx);
                    ``rma_intercept`` ȳ - slope x̄ (symmetric in x and y, for two noisy
                    variables)
==================  ==========================================================================

Statistics that need two pairs (r, slopes) or spread (r with a constant x) are NaN when they
do not have them. :func:`bootstrap` resamples the pairs with replacement (``n_boot`` draws from
``numpy.random.default_rng(seed)``: ``rng.integers(0, n, size=(n_boot, n))``, taken in blocks
of ``2_000_000 // n`` draws when n is large) and gives percentile intervals at ``level``.
:func:`stats_table` computes them overall, per station or per any grouping column (a region),
each group with its own generator seeded by ``seed`` and the group's name, so a group's
interval does not depend on the others.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import rankdata

from rs.errors import SpecError

__all__ = ["CI_STATS", "STATS", "bootstrap", "stats_table", "summary_table", "validation_stats"]

STATS = (
    "n", "mean_ref", "mean_est", "bias", "mae", "rmse", "nrmse", "r", "spearman_r",
    "ols_slope", "ols_intercept", "rma_slope", "rma_intercept",
)
_CELLS = 2_000_000  # resampled pairs per bootstrap block
#: statistics that get a bootstrap interval (<name>_lo, <name>_hi)
CI_STATS = tuple(s for s in STATS if s not in ("n", "mean_ref", "mean_est"))


def validation_stats(reference: npt.ArrayLike, estimate: npt.ArrayLike) -> dict[str, float]:
    """The statistics of :data:`STATS` for one set of pairs (module doc)."""
    x, y = _pairs(reference, estimate)
    out = {k: float(v[0]) for k, v in _matrix(x[None, :], y[None, :]).items()}
    return out | {"n": int(out["n"])}


def bootstrap(
    reference: npt.ArrayLike,
    estimate: npt.ArrayLike,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | Sequence[int] = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals ``(lo, hi)`` of :data:`CI_STATS` (module doc)."""
    if n_boot < 1:
        raise SpecError(f"n_boot={n_boot}: must be at least 1")
    if not 0 < level < 1:
        raise SpecError(f"level={level}: must be between 0 and 1 (e.g. 0.95)")
    x, y = _pairs(reference, estimate)
    if x.size == 0:
        return {k: (np.nan, np.nan) for k in CI_STATS}
    rng = np.random.default_rng(seed)
    rows = max(1, _CELLS // x.size)  # draws per block: memory stays bounded for large n
    blocks = []
    for a in range(0, n_boot, rows):
        idx = rng.integers(0, x.size, size=(min(rows, n_boot - a), x.size))
        blocks.append(_matrix(x[idx], y[idx]))
    draws = {k: np.concatenate([blk[k] for blk in blocks]) for k in CI_STATS}
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out = {}
    for k in CI_STATS:
        v = draws[k]
        v = v[np.isfinite(v)]
        out[k] = (float(np.percentile(v, q[0])), float(np.percentile(v, q[1]))) if v.size \
            else (np.nan, np.nan)
    return out


def stats_table(
    table: pd.DataFrame,
    *,
    reference: str = "ground_value",
    estimate: str = "sat_value",
    by: str | Sequence[str] | None = None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int = 0,
    usable_only: bool = True,
) -> pd.DataFrame:
    """One row of statistics per group of ``by`` (overall when None), with ``<stat>_lo`` /
    ``<stat>_hi`` bootstrap columns when ``n_boot`` > 0. Rows with ``usable`` False (a matchup
    table's flag) are left out unless ``usable_only=False``."""
    for c in (reference, estimate, *_as_list(by)):
        if c not in table.columns:
            raise SpecError(f"no column {c!r} to compute statistics from (columns: "
                            f"{', '.join(map(str, table.columns))})")
    df = table
    if usable_only and "usable" in df.columns:
        df = df[df["usable"].astype(bool)]
    keys = _as_list(by)
    groups = [((), df)] if not keys else [
        ((k,) if not isinstance(k, tuple) else k, g) for k, g in df.groupby(keys, sort=True)
    ]
    rows = []
    for key, g in groups:
        row: dict[str, object] = dict(zip(keys, key, strict=True))
        x, y = g[reference].to_numpy("float64"), g[estimate].to_numpy("float64")
        row.update(validation_stats(x, y))
        if n_boot:
            name = "/".join(map(str, key)) or "overall"
            ci = bootstrap(x, y, n_boot=n_boot, level=level,
                           seed=[seed, zlib.crc32(name.encode())])
            for k, (lo, hi) in ci.items():
                row[f"{k}_lo"], row[f"{k}_hi"] = lo, hi
        rows.append(row)
    cols = [*keys, *STATS] + ([f"{k}_{e}" for k in CI_STATS for e in ("lo", "hi")]
                              if n_boot else [])
    out = pd.DataFrame(rows, columns=cols)
    return out.astype({"n": "int64"})


def summary_table(
    table: pd.DataFrame,
    *,
    reference: str = "ground_value",
    estimate: str = "sat_value",
    station: str = "station_id",
    region: str | None = None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Overall, per-region (when ``region`` names a column) and per-station statistics in one
    table: ``level`` (overall / region / station) and ``group`` (its name) then :data:`STATS`."""
    kw = dict(reference=reference, estimate=estimate, n_boot=n_boot, level=level, seed=seed)
    parts = [stats_table(table, **kw).assign(level="overall", group="all")]  # type: ignore[arg-type]
    if region is not None:
        r = stats_table(table, by=region, **kw)  # type: ignore[arg-type]
        parts.append(r.rename(columns={region: "group"}).assign(level="region"))
    s = stats_table(table, by=station, **kw)  # type: ignore[arg-type]
    parts.append(s.rename(columns={station: "group"}).assign(level="station"))
    out = pd.concat(parts, ignore_index=True)
    out["group"] = out["group"].astype("str")
    return out[["level", "group", *[c for c in out.columns if c not in ("level", "group")]]]


def _pairs(reference: npt.ArrayLike, estimate: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(reference, dtype="float64").ravel()
    y = np.asarray(estimate, dtype="float64").ravel()
    if x.shape != y.shape:
        raise SpecError(f"reference and estimate differ in length ({x.size} vs {y.size})")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def _matrix(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The statistics of each row of paired (B x n) arrays, vectorised over the rows."""
    b, n = x.shape
    out: dict[str, np.ndarray] = {"n": np.full(b, float(n))}
    if n == 0:
        return out | {k: np.full(b, np.nan) for k in STATS if k != "n"}
    with np.errstate(invalid="ignore", divide="ignore"):
        d = y - x
        mx, my = x.mean(axis=1), y.mean(axis=1)
        out["mean_ref"], out["mean_est"] = mx, my
        out["bias"] = d.mean(axis=1)
        out["mae"] = np.abs(d).mean(axis=1)
        out["rmse"] = np.sqrt((d * d).mean(axis=1))
        out["nrmse"] = np.where(mx != 0, out["rmse"] / mx, np.nan)
        dx, dy = x - mx[:, None], y - my[:, None]
        sxx, syy, sxy = (dx * dx).sum(axis=1), (dy * dy).sum(axis=1), (dx * dy).sum(axis=1)
        ok = (n >= 2) & (sxx > 0)
        out["r"] = np.where(ok & (syy > 0), sxy / np.sqrt(sxx * syy), np.nan)
        out["spearman_r"] = _pearson(rankdata(x, axis=1), rankdata(y, axis=1)) if n >= 2 \
            else np.full(b, np.nan)
        out["ols_slope"] = np.where(ok, sxy / sxx, np.nan)
        out["ols_intercept"] = my - out["ols_slope"] * mx
        out["rma_slope"] = np.where(ok & (syy > 0), np.sign(sxy) * np.sqrt(syy / sxx), np.nan)
        out["rma_intercept"] = my - out["rma_slope"] * mx
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx, dy = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    sxx, syy = (dx * dx).sum(axis=1), (dy * dy).sum(axis=1)
    return np.where((sxx > 0) & (syy > 0), (dx * dy).sum(axis=1) / np.sqrt(sxx * syy), np.nan)


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)
