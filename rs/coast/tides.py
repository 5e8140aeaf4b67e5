"""Tide correction of cross-shore shoreline positions to a reference level (pure).

A satellite shoreline is the waterline at the moment of the image, so its position along a
transect moves with the tide. Given the water level ``η`` (m, same datum as ``z_ref``) at each
shoreline's time and the beach-face slope ``tanβ`` of each transect (rise over run, > 0), the
position is moved to where the ``z_ref`` contour would be::

    Δx = (η - z_ref) / tanβ          corrected = x + Δx

**Sign convention.** ``x`` is the chainage: the distance (m) along the transect from its
landward origin, positive seaward. A water level above ``z_ref`` floods the beach face, so the
waterline sits *landward* of the ``z_ref`` contour by ``(η - z_ref) / tanβ``; the correction
then moves the position *seaward* (``Δx > 0``). A level below ``z_ref`` moves it landward.
Example: η = 0.5 m, z_ref = 0, tanβ = 0.1 → the position moves 5 m seaward. This is the
correction CoastSat applies (``x + (tide - reference_elevation) / beach_slope``).

Water levels at shoreline times come from a tide series by linear interpolation
(:func:`tide_levels`); a time before or after the series, or further than ``max_gap`` from the
nearest tide sample, gets no level (NaN) and a reason, and its corrected position is NaN.
Everything is vectorised over dates × transects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rs.errors import SpecError

__all__ = [
    "DEFAULT_MAX_GAP",
    "TideCorrection",
    "TideLevels",
    "check_slopes",
    "tide_correct",
    "tide_levels",
    "tide_shift",
]

#: a shoreline time further than this from every tide sample gets no water level
DEFAULT_MAX_GAP = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class TideLevels:
    """Water levels at the asked times: ``levels`` (m; NaN where none) and ``reasons`` (''
    where a level was found, else why not), both aligned with the times asked."""

    levels: np.ndarray
    reasons: np.ndarray

    @property
    def missing(self) -> np.ndarray:
        """True where a time has no level."""
        return ~np.isfinite(self.levels)


@dataclass(frozen=True)
class TideCorrection:
    """Positions corrected to ``z_ref`` (NaN on dates without a water level), the water level
    and shift ``Δx`` per date and transect (``shift``), and per date the level and the reason
    it is missing ('' when present)."""

    positions: pd.DataFrame
    shift: pd.DataFrame
    levels: pd.Series
    reasons: pd.Series

    @property
    def uncovered(self) -> pd.Series:
        """Reasons of the dates without a water level (indexed by date)."""
        return self.reasons[self.reasons != ""]


def _utc(times: pd.DatetimeIndex | pd.Series | np.ndarray | Sequence[object]) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(times)
    return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")


def _ns(idx: pd.DatetimeIndex) -> np.ndarray:
    return idx.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)


def tide_levels(
    tide_times: pd.DatetimeIndex | pd.Series | np.ndarray,
    tide_values: np.ndarray | pd.Series | Sequence[float],
    times: pd.DatetimeIndex | pd.Series | np.ndarray,
    *,
    max_gap: pd.Timedelta = DEFAULT_MAX_GAP,
) -> TideLevels:
    """Water level at each of ``times`` by linear interpolation of the tide series
    (``tide_times``, ``tide_values`` in m; any order; samples with a NaN level are ignored).

    A time before the first or after the last sample, or further than ``max_gap`` from the
    nearest sample, gets NaN and a reason. Naive times are UTC. A series with two samples at
    the same time is refused (:class:`~rs.errors.SpecError`), and so is an empty one.
    """
    max_gap = pd.Timedelta(max_gap)
    if max_gap < pd.Timedelta(0):
        raise SpecError(f"the maximum tide gap must be 0 or more, got {max_gap}")
    tt = _utc(tide_times)
    tv = np.asarray(tide_values, dtype=np.float64)
    if tv.shape != (len(tt),):
        raise SpecError(f"tide series: {len(tt)} times but {tv.size} levels")
    keep = np.isfinite(tv)
    tt, tv = tt[keep], tv[keep]
    if len(tt) == 0:
        raise SpecError("the tide series has no water level: give one with times and levels")
    order = np.argsort(_ns(tt), kind="stable")
    tt, tv = tt[order], tv[order]
    dup = tt.duplicated()
    if dup.any():
        raise SpecError(
            f"the tide series has {int(dup.sum())} repeated time(s), first "
            f"{tt[dup][0].isoformat()}: keep one level per time"
        )
    q = _utc(times)
    a, b = _ns(tt), _ns(q)
    # float seconds from the first sample: exact for any series shorter than ~285 years
    levels = np.interp((b - a[0]) / 1e9, (a - a[0]) / 1e9, tv)
    i = np.searchsorted(a, b)
    left = a[np.clip(i - 1, 0, len(a) - 1)]
    right = a[np.clip(i, 0, len(a) - 1)]
    nearest = np.minimum(np.abs(b - left), np.abs(right - b))
    before, after = b < a[0], b > a[-1]
    far = ~before & ~after & (nearest > max_gap.value)
    reasons = np.select(
        [before, after, far],
        [
            f"before the tide series (starts {tt[0].isoformat()})",
            f"after the tide series (ends {tt[-1].isoformat()})",
            f"no tide sample within {max_gap} (max gap)",
        ],
        default="",
    ).astype(object)
    levels[before | after | far] = np.nan
    return TideLevels(levels=levels, reasons=reasons)


def check_slopes(
    slopes: Mapping[str, float] | pd.Series | float, transects: Sequence[str] | pd.Index
) -> np.ndarray:
    """Beach-face slopes ``tanβ`` for ``transects`` in that order, from one number for all or
    a mapping transect → slope. Refused (:class:`~rs.errors.SpecError`): a slope that is not a
    finite number > 0, a transect without a slope, a slope for a transect not in
    ``transects``."""
    names = [str(t) for t in transects]
    if isinstance(slopes, int | float | np.floating | np.integer):
        out = np.full(len(names), float(slopes))
    else:
        given = {str(k): v for k, v in dict(slopes).items()}
        unknown = [k for k in given if k not in set(names)]
        if unknown:
            raise SpecError(
                f"slopes given for unknown transect(s) {', '.join(unknown[:10])}: the positions "
                f"have {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
            )
        missing = [t for t in names if t not in given]
        if missing:
            raise SpecError(
                f"no beach slope for transect(s) {', '.join(missing[:10])}"
                f"{' ...' if len(missing) > 10 else ''}: give a slope for every transect"
            )
        out = np.array([given[t] for t in names], dtype=np.float64)
    bad = ~(np.isfinite(out) & (out > 0))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise SpecError(
            f"beach slope of transect {names[j]} is {out[j]}: a slope tanβ must be a number > 0 "
            "(rise over run, e.g. 0.1)"
        )
    return out


def tide_shift(levels: np.ndarray, slopes: np.ndarray, z_ref: float = 0.0) -> np.ndarray:
    """``Δx = (η - z_ref) / tanβ`` (m, positive seaward) for every date (``levels``, shape
    (dates,)) and transect (``slopes``, shape (transects,)): shape (dates, transects)."""
    return (np.asarray(levels, np.float64)[:, None] - z_ref) / np.asarray(slopes, np.float64)


def tide_correct(
    positions: pd.DataFrame,
    tide: pd.Series,
    slopes: Mapping[str, float] | pd.Series | float,
    *,
    z_ref: float = 0.0,
    max_gap: pd.Timedelta = DEFAULT_MAX_GAP,
) -> TideCorrection:
    """Positions (rows: dates as a ``DatetimeIndex``, columns: transects, chainage in m,
    positive seaward) corrected to the ``z_ref`` level: ``x + (η - z_ref) / tanβ``.

    ``tide``: water levels (m) indexed by time; ``slopes``: ``tanβ`` per transect or one for
    all (:func:`check_slopes`). Dates the tide series does not cover (:func:`tide_levels`) get
    NaN positions; :attr:`TideCorrection.uncovered` says which and why.
    """
    if not np.isfinite(z_ref):
        raise SpecError(f"the reference level z_ref must be a number, got {z_ref}")
    tan_b = check_slopes(slopes, positions.columns)
    lv = tide_levels(tide.index, tide.to_numpy(), positions.index, max_gap=max_gap)
    shift = tide_shift(lv.levels, tan_b, z_ref)
    corrected = positions.to_numpy(dtype=np.float64) + shift
    idx, cols = positions.index, positions.columns
    return TideCorrection(
        positions=pd.DataFrame(corrected, index=idx, columns=cols),
        shift=pd.DataFrame(shift, index=idx, columns=cols),
        levels=pd.Series(lv.levels, index=idx, name="level"),
        reasons=pd.Series(lv.reasons, index=idx, name="reason"),
    )
