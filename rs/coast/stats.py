"""Shoreline change statistics per transect, as USGS DSAS v5 defines them (pure, vectorised).

Input is a table of cross-shore positions: one row per date (a UTC ``DatetimeIndex``), one
column per transect, NaN where a shoreline did not cross a transect. A position ``x`` is the
chainage, in metres, along the transect from its landward origin (positive seaward), so a
positive rate is seaward movement (accretion) and a negative one landward movement (erosion).
Every statistic is computed for all transects at once with NumPy: no loop over transects.

Time is in decimal years (:func:`decimal_years`: the calendar year plus the elapsed fraction of
that year, leap years counted), so rates are in m/yr.

The statistics (Himmelstoss, E.A., Henderson, R.E., Kratzmann, M.G., and Farris, A.S., 2018,
*Digital Shoreline Analysis System (DSAS) version 5.0 user guide*: U.S. Geological Survey
Open-File Report 2018-1179; DSAS attribute names in brackets), with ``n`` the valid positions
of a transect, ``t`` their times and ``x`` their positions:

``sce`` [SCE]
    shoreline change envelope: ``max(x) - min(x)`` over all dates (m; no dates involved).
``nsm`` [NSM]
    net shoreline movement: ``x(youngest) - x(oldest)`` (m; positive seaward).
``epr`` [EPR]
    end point rate: ``nsm / (t_youngest - t_oldest)`` (m/yr).
``epr_unc`` [EPRunc]
    with uncertainties: ``sqrt(σ_oldest² + σ_youngest²) / (t_youngest - t_oldest)`` (m/yr).
``lrr`` [LRR]
    ordinary least-squares slope of ``x`` against ``t``:
    ``Σ(t-t̄)(x-x̄) / Σ(t-t̄)²`` (m/yr).
``lse`` [LSE]
    standard error of the estimate: ``sqrt(Σ r² / (n-2))`` with ``r`` the residuals (m).
``lrr_se``
    standard error of the slope: ``lse / sqrt(Σ(t-t̄)²)`` (m/yr).
``lrr_ci`` [LCI]
    half-width of the confidence interval of the slope, ``t_{(1+c)/2, n-2} · lrr_se``
    (Student t, ``n-2`` degrees of freedom, ``c`` = ``confidence``): the rate lies in
    ``lrr ± lrr_ci`` at confidence ``c`` (m/yr).
``lrr_r2`` [LR2]
    coefficient of determination ``1 - Σ r² / Σ(x-x̄)²``.
``wlr``, ``wse``, ``wlr_se``, ``wlr_ci``, ``wlr_r2`` [WLR, WSE, -, WCI, WR2]
    the same for the weighted least-squares line, weights ``w = 1/σ²`` (σ the positional
    uncertainty, m): weighted means ``t̄_w = Σwt/Σw``, ``x̄_w = Σwx/Σw``, slope
    ``Σw(t-t̄_w)(x-x̄_w) / Σw(t-t̄_w)²``, ``wse = sqrt(Σ w r² / (n-2))`` (dimensionless: the
    residuals in units of their σ), ``wlr_se = wse / sqrt(Σw(t-t̄_w)²)``, ``wlr_ci`` its
    Student-t half-width and ``wlr_r2 = 1 - Σwr² / Σw(x-x̄_w)²``. These are the weighted
    regression's usual estimates (R's ``lm(weights=1/σ²)`` and ``confint``, as the USGS
    coastal-hazards DSAS script computes WCI); with one σ for all dates WLR equals LRR and
    ``wlr_se`` equals ``lrr_se``.

Also ``n`` (positions used), ``n_outliers`` (positions dropped as outliers), ``oldest`` and
``youngest`` (UTC dates of the end points), ``span_years`` and ``reason``.

Missing data: a transect with fewer than 2 valid positions gets NaN for every statistic; one
with exactly 2 gets SCE, NSM, EPR and the LRR/WLR slopes (the line through two points), but
NaN standard errors, confidence intervals and R² (they need ``n ≥ 3``, as DSAS requires 3
shorelines for LRR). Positions all on one date give NaN rates; positions all equal give NaN R²
(0/0). ``reason`` says why a statistic is NaN (empty when nothing is).

Outliers (off by default): with ``outlier_k=k`` each transect with at least 3 positions is
fitted once by ordinary least squares and a position is dropped when its residual is further
than ``k · 1.4826 · MAD`` from the median residual (MAD: the median absolute deviation of the
residuals; 1.4826 · MAD estimates a normal standard deviation). Nothing is dropped when the MAD
is 0. The test is one pass, not iterated. Dropped positions count in ``n_outliers`` and are
left out of every statistic (SCE, NSM and EPR too), as if missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rs.errors import SpecError

__all__ = ["COLUMNS", "decimal_years", "transect_stats"]

#: the columns of :func:`transect_stats`' table, in order
COLUMNS = (
    "n",
    "n_outliers",
    "oldest",
    "youngest",
    "span_years",
    "sce",
    "nsm",
    "epr",
    "epr_unc",
    "lrr",
    "lrr_se",
    "lrr_ci",
    "lrr_r2",
    "lse",
    "wlr",
    "wlr_se",
    "wlr_ci",
    "wlr_r2",
    "wse",
    "reason",
)

#: MAD of a normal sample times this is its standard deviation
_MAD_SCALE = 1.4826


def decimal_years(times: pd.DatetimeIndex | pd.Series | np.ndarray) -> np.ndarray:
    """Times as decimal years: the calendar year plus the fraction of it elapsed, leap years
    counted (2020-07-02T00:00Z is 2020 + 183/366). Naive times are taken as UTC."""
    idx = pd.DatetimeIndex(times)
    if idx.tz is not None:
        idx = idx.tz_convert(None)
    t = idx.to_numpy().astype("datetime64[ns]")
    year = t.astype("datetime64[Y]")
    start = year.astype("datetime64[ns]")
    length = (year + 1).astype("datetime64[ns]") - start
    frac = (t - start).astype(np.float64) / length.astype(np.float64)
    return year.astype(np.int64).astype(np.float64) + 1970.0 + frac


def transect_stats(
    positions: pd.DataFrame,
    *,
    uncertainty: float | pd.Series | pd.DataFrame | None = None,
    confidence: float = 0.95,
    outlier_k: float | None = None,
) -> pd.DataFrame:
    """DSAS statistics of every transect (column) of ``positions``, one row per transect.

    ``positions``: rows are dates (a ``DatetimeIndex``; naive times are UTC; any order),
    columns transects, values chainages in metres (positive seaward), NaN where missing.
    ``uncertainty``: positional uncertainty σ in metres for WLR and ``epr_unc``: one number for
    all, a Series per date (aligned on the index) or a DataFrame like ``positions``; it must be
    finite and > 0 wherever a position is. Without it the WLR columns and ``epr_unc`` are NaN.
    ``confidence``: level of ``lrr_ci`` and ``wlr_ci`` (0 < c < 1). ``outlier_k``: drop
    outliers as the module docstring says (None: keep every position).

    Returns a DataFrame indexed by transect (index name ``transect``) with :data:`COLUMNS`;
    ``attrs["confidence"]`` holds the level. Formulas, units and NaN rules: module docstring.
    """
    if not 0.0 < confidence < 1.0:
        raise SpecError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    if outlier_k is not None and not (np.isfinite(outlier_k) and outlier_k > 0):
        raise SpecError(f"outlier k must be a positive number of MADs, got {outlier_k}")
    times = pd.DatetimeIndex(positions.index)
    times = times.tz_localize("UTC") if times.tz is None else times.tz_convert("UTC")
    order = np.argsort(times.tz_convert(None).to_numpy(), kind="stable")
    times = times[order]
    x = positions.to_numpy(dtype=np.float64, copy=True)[order]
    sigma = _sigma(uncertainty, positions, order)
    valid = np.isfinite(x)
    if sigma is not None:
        _check_sigma(sigma, valid, times, positions.columns)
    years = decimal_years(times)

    n_out = np.zeros(x.shape[1], dtype=np.int64)
    if outlier_k is not None:
        drop = _outliers(years, x, valid, outlier_k)
        n_out = drop.sum(axis=0)
        valid &= ~drop
    x[~valid] = np.nan

    out: dict[str, np.ndarray] = {}
    n = valid.sum(axis=0)
    out["n"] = n
    out["n_outliers"] = n_out
    out.update(_envelope(years, x, valid, sigma))
    ols = _line(years, x, valid, np.ones_like(x), confidence)
    out.update(
        lrr=ols["slope"], lrr_se=ols["se"], lrr_ci=ols["ci"], lrr_r2=ols["r2"], lse=ols["see"]
    )
    if sigma is not None:
        wls = _line(years, x, valid, 1.0 / np.where(valid, sigma, 1.0) ** 2, confidence)
    else:
        wls = dict.fromkeys(("slope", "se", "ci", "r2", "see"), np.full(x.shape[1], np.nan))
    out.update(
        wlr=wls["slope"], wlr_se=wls["se"], wlr_ci=wls["ci"], wlr_r2=wls["r2"], wse=wls["see"]
    )
    first, last, has = out.pop("first"), out.pop("last"), n > 0
    naive = times.tz_convert(None).to_numpy()
    oldest = pd.DatetimeIndex(np.where(has, naive[first], np.datetime64("NaT")), tz="UTC")
    youngest = pd.DatetimeIndex(np.where(has, naive[last], np.datetime64("NaT")), tz="UTC")
    table = pd.DataFrame(
        {
            **out,
            "oldest": oldest,
            "youngest": youngest,
            "reason": _reasons(n, out["span_years"], ols["syy"]),
        },
        index=pd.Index([str(c) for c in positions.columns], name="transect"),
    )
    table = table[list(COLUMNS)]
    table.attrs["confidence"] = confidence
    return table


def _sigma(
    uncertainty: float | pd.Series | pd.DataFrame | None, positions: pd.DataFrame, order: np.ndarray
) -> np.ndarray | None:
    """σ as a (dates, transects) array in the sorted row order, or None."""
    if uncertainty is None:
        return None
    shape = positions.shape
    if isinstance(uncertainty, pd.DataFrame):
        s = uncertainty
        if not (s.index.equals(positions.index) and s.columns.equals(positions.columns)):
            s = s.reindex(index=positions.index, columns=positions.columns)
        return s.to_numpy(dtype=np.float64)[order]
    if isinstance(uncertainty, pd.Series):
        v = uncertainty
        if not v.index.equals(positions.index):
            v = v.reindex(positions.index)
        return np.broadcast_to(v.to_numpy(dtype=np.float64)[order][:, None], shape)
    return np.full(shape, float(uncertainty))


def _check_sigma(
    sigma: np.ndarray, valid: np.ndarray, times: pd.DatetimeIndex, names: pd.Index
) -> None:
    with np.errstate(invalid="ignore"):
        bad = valid & ~(np.isfinite(sigma) & (sigma > 0))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise SpecError(
            f"positional uncertainty must be a number > 0 (metres) for every position: transect "
            f"{names[j]} on {times[i].isoformat()} has {sigma[i, j]} "
            f"({int(bad.sum())} position(s) in all); fill it in or give one --uncertainty value"
        )


def _envelope(
    years: np.ndarray, x: np.ndarray, valid: np.ndarray, sigma: np.ndarray | None
) -> dict[str, np.ndarray]:
    """SCE, NSM, EPR (and its uncertainty) from the oldest and youngest valid positions; also
    their row indices ``first`` / ``last`` (rows are sorted by time)."""
    n_t = x.shape[1]
    cols = np.arange(n_t)
    has = valid.any(axis=0)
    first = np.argmax(valid, axis=0)
    last = valid.shape[0] - 1 - np.argmax(valid[::-1], axis=0)
    hi = np.where(valid, x, -np.inf).max(axis=0, initial=-np.inf)
    lo = np.where(valid, x, np.inf).min(axis=0, initial=np.inf)
    two = valid.sum(axis=0) >= 2
    span = np.where(has, years[last] - years[first], np.nan)
    nsm = np.where(two, x[last, cols] - x[first, cols], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = two & (span > 0)
        epr = np.where(ok, nsm / np.where(ok, span, 1.0), np.nan)
        if sigma is not None:
            unc = np.hypot(sigma[first, cols], sigma[last, cols])
            epr_unc = np.where(ok, unc / np.where(ok, span, 1.0), np.nan)
        else:
            epr_unc = np.full(n_t, np.nan)
    return {
        "first": first,
        "last": last,
        "span_years": span,
        "sce": np.where(two, hi - lo, np.nan),
        "nsm": nsm,
        "epr": epr,
        "epr_unc": epr_unc,
    }


def _line(
    years: np.ndarray, x: np.ndarray, valid: np.ndarray, w: np.ndarray, confidence: float
) -> dict[str, np.ndarray]:
    """Weighted least-squares line of x against t per column (weights 1 for OLS): ``slope``,
    its standard error ``se``, the half-width ``ci``, ``r2``, the standard error of the
    estimate ``see``, the weighted sum of squares about the mean ``syy`` and the residuals
    ``resid`` (0 where not valid)."""
    from scipy.stats import t as student_t

    w = np.where(valid, w, 0.0)
    xz = np.where(valid, x, 0.0)
    n = valid.sum(axis=0)
    sw = w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tbar = (w * years[:, None]).sum(axis=0) / sw
        xbar = (w * xz).sum(axis=0) / sw
        dt = np.where(valid, years[:, None] - tbar, 0.0)
        dx = np.where(valid, xz - xbar, 0.0)
        sxx = (w * dt * dt).sum(axis=0)
        sxy = (w * dt * dx).sum(axis=0)
        syy = (w * dx * dx).sum(axis=0)
        t_hi = np.where(valid, years[:, None], -np.inf).max(axis=0, initial=-np.inf)
        t_lo = np.where(valid, years[:, None], np.inf).min(axis=0, initial=np.inf)
        fit = (n >= 2) & (t_hi > t_lo)  # (sxx may round to a tiny number on one date)
        slope = np.where(fit, sxy / np.where(fit, sxx, 1.0), np.nan)
        r = np.where(valid, dx - slope * dt, 0.0)
        sse = (w * r * r).sum(axis=0)
        three = fit & (n >= 3)
        dof = np.where(three, n - 2, 1)
        see = np.where(three, np.sqrt(sse / dof), np.nan)
        se = see / np.sqrt(np.where(three, sxx, 1.0))
        ci = student_t.ppf(0.5 + confidence / 2.0, dof) * se
        r2 = np.where(three & (syy > 0), 1.0 - sse / np.where(syy > 0, syy, 1.0), np.nan)
    return {"slope": slope, "se": se, "ci": ci, "r2": r2, "see": see, "syy": syy, "resid": r}


def _outliers(years: np.ndarray, x: np.ndarray, valid: np.ndarray, k: float) -> np.ndarray:
    """Positions whose OLS residual is further than ``k · 1.4826 · MAD`` from the median
    residual (columns with at least 3 positions and a MAD > 0)."""
    drop = np.zeros_like(valid)
    cols = np.flatnonzero(valid.sum(axis=0) >= 3)
    if cols.size == 0:
        return drop
    v = valid[:, cols]
    xs = x[:, cols]
    resid = np.where(v, _line(years, xs, v, np.ones_like(xs), 0.95)["resid"], np.nan)
    med = np.nanmedian(resid, axis=0)
    dev = np.abs(resid - med)
    mad = np.nanmedian(dev, axis=0)
    with np.errstate(invalid="ignore"):
        drop[:, cols] = v & (mad > 0) & (dev > k * _MAD_SCALE * mad)
    return drop


def _reasons(n: np.ndarray, span: np.ndarray, syy: np.ndarray) -> np.ndarray:
    """Why a transect's statistics are NaN ('' when none is); the first rule that applies."""
    rules = [
        (n == 0, "no valid position"),
        (n == 1, "1 valid position: change statistics need 2"),
        (span == 0, "all positions on one date: no rate"),
        (n == 2, "2 valid positions: standard errors, confidence intervals and R² need 3"),
        (syy == 0, "all positions equal: R² undefined"),
    ]
    return np.select([c for c, _ in rules], [m for _, m in rules], default="").astype(object)
