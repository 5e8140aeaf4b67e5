"""The regional ecological quality index (EQI) of the 2021 evaluation method, configurable (pure).

区域生态质量评价办法（试行） (MEE, 2021): four dimensions, ecological pattern, ecological
function, biodiversity and ecological stress, each a weighted sum of normalised indicators.
For one polygon (a row of the values table)::

    s_i   = normalised indicator value, 0..100           (min-max, or value × coefficient)
    q_i   = s_i for a positive indicator, 100 − s_i for a negative one
    q_d   = Σ_i w_i q_i   (dimension quality score; the stress dimension's is 100 − stress)
    EQI   = Σ_d W_d q_d   (0..100), classed by the first class whose ``min`` ≤ EQI
    ΔEQI  = EQI_after − EQI_before, levelled by |ΔEQI| and signed (better / worse)

Weights must sum to 1 in every dimension and over the dimensions. The configuration models
(:class:`EqiConfig`) and the method's defaults, with the source (or the lack of one) of every
number, are in :mod:`rs.ecology.eqi_defaults` (re-exported here); several defaults are
unconfirmed and all are configuration: :func:`eqi_config` merges a user mapping (e.g. parsed
YAML) onto them, validated, unknown keys refused.

Where indicator values come from (``source``): ``sensed`` ones are computed by rs per polygon,
by the functions below from its land-cover classes, FVC, growing-season NDVI and change
classes on one grid (or from class-area tables); ``table`` ones (biodiversity, water
conservation, anything rs cannot sense) come from the user's table. :func:`compute_eqi` reads
one column per indicator (its ``column``, default its name) of a DataFrame indexed by polygon.

Sensed measures (columns): ``ecological_land_share`` and ``built_up_share`` (area shares of the
land-cover groups, 0..1), ``fragmentation`` (patch density of natural land, patches per km²:
FRAGSTATS' PD, the closest documented proxy of 自然生境破碎度, whose formula in the method is
unconfirmed), ``vegetation_cover`` (mean FVC), ``productivity_proxy`` (mean growing-season NDVI,
negatives as 0: a proxy of biomass / NPP), ``change_patch_share`` (area share of disturbing
change classes) and ``human_disturbance`` (built-up share + change-patch share, capped at 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from rs.ecology.eqi_defaults import (
    SENSED,
    Coefficient,
    EqiConfig,
    LandCoverGroups,
    MinMax,
    default_config,
    eqi_config,
)
from rs.errors import SpecError

__all__ = [
    "SENSED",
    "EqiConfig",
    "LandCoverGroups",
    "change_patch_share",
    "class_shares",
    "compute_eqi",
    "default_config",
    "eqi_change",
    "eqi_config",
    "human_disturbance",
    "patch_density",
    "productivity_proxy",
    "sensed_indicators",
    "shares_from_class_areas",
    "vegetation_cover",
]


# -- the index -----------------------------------------------------------------------------

def _normalise(v: np.ndarray, norm: MinMax | Coefficient) -> np.ndarray:
    if isinstance(norm, MinMax):
        s = 100.0 * (v - norm.lower) / (norm.upper - norm.lower)
    else:
        s = v * norm.coefficient
    return np.clip(s, 0.0, 100.0)


def _rounded(v: np.ndarray, decimals: int | None) -> np.ndarray:
    return v if decimals is None else np.round(v, decimals)


def _classify(eqi: np.ndarray, cfg: EqiConfig) -> tuple[Any, list[str | None]]:
    r = _rounded(eqi, cfg.decimals)
    codes: list[int | None] = []
    labels: list[str | None] = []
    for x in r:
        c = None if not np.isfinite(x) else next(
            k for k in cfg.classes if k.min is None or x >= k.min)
        codes.append(None if c is None else c.code)
        labels.append(None if c is None else c.label)
    return pd.array(codes, dtype="Int64"), labels


def _names(ids: Sequence[Any], n: int = 5) -> str:
    shown = ", ".join(repr(i) for i in list(ids)[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


def compute_eqi(values: pd.DataFrame, config: EqiConfig | None = None) -> pd.DataFrame:
    """EQI per polygon. ``values``: one row per polygon (its index names the polygon), one
    column per indicator (``column``, default the indicator's name), raw values.

    Returns, on the same index: ``score_<indicator>`` (0..100, the normalised value before the
    direction is applied), ``q_<dimension>`` (0..100, higher is better), ``eqi``,
    ``eqi_class`` (the class code), ``eqi_class_label`` and ``reason`` ("" when computed).
    A missing (NaN or non-finite) value raises a SpecError naming the polygons and indicators
    with ``on_missing: error``; with ``row`` the polygon gets NaN scores for its dimensions,
    a NaN EQI and a ``reason`` naming the indicators. A missing column is always an error.
    """
    cfg = config or default_config()
    if not isinstance(values, pd.DataFrame):
        raise SpecError(f"EQI values must be a DataFrame, got {type(values).__name__}")
    if values.index.has_duplicates:
        dup = values.index[values.index.duplicated()].unique().tolist()
        raise SpecError(f"EQI values: polygon ids repeat: {_names(dup)}")
    out = pd.DataFrame(index=values.index)
    missing = pd.DataFrame(False, index=values.index, columns=[n for _, n, _ in cfg.indicators()])
    q: dict[str, np.ndarray] = {}
    for dim, name, ind in cfg.indicators():
        col = ind.column or name
        if col not in values.columns:
            raise SpecError(
                f"EQI values have no column {col!r} for indicator {name!r} ({dim}, "
                f"{ind.source}); columns are {list(map(str, values.columns))}"
            )
        num = pd.to_numeric(values[col], errors="coerce")
        if (text := num.isna() & values[col].notna()).any():
            i = values.index[text.to_numpy()][0]
            raise SpecError(f"EQI values: column {col!r} ({name}) holds a non-number for "
                            f"polygon {i!r}: {values[col].loc[i]!r}")
        raw = num.to_numpy(np.float64, na_value=np.nan)
        bad = ~np.isfinite(raw)
        missing[name] = bad
        s = np.where(bad, np.nan, _normalise(np.where(bad, 0.0, raw), ind.normalise))
        out[f"score_{name}"] = s
        q[name] = s if ind.direction == "positive" else 100.0 - s
    if missing.to_numpy().any():
        rows = missing.index[missing.any(axis=1)]
        if cfg.on_missing == "error":
            first = rows[0]
            cols = [c for c in missing.columns if missing.at[first, c]]
            raise SpecError(
                f"EQI values: polygon {first!r} has no value for {', '.join(cols)}"
                + (f" (also missing: polygons {_names(list(rows[1:]))})" if len(rows) > 1 else "")
                + "; fill the table or set on_missing: row"
            )
    eqi = np.zeros(len(values))
    for dname, dimension in cfg.dimensions.items():
        qd = sum((ind.weight * q[n] for n, ind in dimension.indicators.items()),
                 np.zeros(len(values)))
        out[f"q_{dname}"] = qd
        eqi = eqi + dimension.weight * qd
    out["eqi"] = eqi
    out["eqi_class"], out["eqi_class_label"] = _classify(eqi, cfg)
    out["reason"] = [
        "missing: " + ", ".join(c for c in missing.columns if row[c]) if row.any() else ""
        for _, row in missing.iterrows()
    ]
    return out


def eqi_change(before: pd.DataFrame, after: pd.DataFrame,
               config: EqiConfig | None = None) -> pd.DataFrame:
    """ΔEQI per polygon between two :func:`compute_eqi` results (column ``eqi``), matched on
    the index. Columns: ``eqi_before``, ``eqi_after``, ``delta_eqi``, ``change_code`` (level
    index, + better / − worse, 0 stable), ``change_level``, ``change_class`` and ``reason``.
    A polygon in one table only raises with ``on_missing: error``, else gets a reason; a NaN
    EQI in either year gives NaN ΔEQI and a reason."""
    cfg = config or default_config()
    for what, df in (("before", before), ("after", after)):
        if not isinstance(df, pd.DataFrame) or "eqi" not in df.columns:
            raise SpecError(f"eqi_change: {what} must be a compute_eqi result (column 'eqi')")
        if df.index.has_duplicates:
            raise SpecError(f"eqi_change: polygon ids repeat in {what}")
    ids = before.index.union(after.index, sort=False)
    only = [(i, "before" if i in before.index else "after") for i in ids
            if (i in before.index) != (i in after.index)]
    if only and cfg.on_missing == "error":
        raise SpecError(
            f"eqi_change: polygon {only[0][0]!r} has an EQI only {only[0][1]}"
            + (f" (also: {_names([i for i, _ in only[1:]])})" if len(only) > 1 else "")
            + "; set on_missing: row to keep such polygons as rows with a reason"
        )
    b = before["eqi"].reindex(ids).to_numpy(np.float64, na_value=np.nan)
    a = after["eqi"].reindex(ids).to_numpy(np.float64, na_value=np.nan)
    delta = a - b
    r = _rounded(delta, cfg.decimals)
    codes: list[int | None] = []
    levels: list[str | None] = []
    labels: list[str | None] = []
    for x in r:
        if not np.isfinite(x):
            codes.append(None)
            levels.append(None)
            labels.append(None)
            continue
        k = max(i for i, lv in enumerate(cfg.change) if abs(x) >= lv.min_abs)
        lv = cfg.change[k]
        codes.append(int(np.sign(x)) * k)
        levels.append(lv.name)
        labels.append(lv.better if x > 0 else lv.worse)
    onlyd = dict(only)
    reasons = []
    for i, bb, aa in zip(ids, b, a, strict=True):
        if i in onlyd:
            reasons.append(f"no EQI {'after' if onlyd[i] == 'before' else 'before'}")
        elif not (np.isfinite(bb) and np.isfinite(aa)):
            side = "before" if not np.isfinite(bb) else "after"
            why = (before if side == "before" else after).get("reason")
            detail = str(why.get(i, "")) if why is not None else ""
            reasons.append(f"no EQI {side}" + (f" ({detail})" if detail else ""))
        else:
            reasons.append("")
    return pd.DataFrame({
        "eqi_before": b, "eqi_after": a, "delta_eqi": delta,
        "change_code": pd.array(codes, dtype="Int64"), "change_level": levels,
        "change_class": labels, "reason": reasons,
    }, index=ids)


# -- sensed indicators (one polygon's pixels, or per polygon from class-area tables) -------

def _weights(shape: tuple[int, ...], weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones(shape, np.float64)
    w = np.nan_to_num(np.asarray(weights, np.float64), nan=0.0)
    if w.shape != shape:
        raise ValueError(f"weights have shape {w.shape}, the values {shape}")
    return np.clip(w, 0.0, None)


def class_shares(classes: np.ndarray, groups: LandCoverGroups,
                 weights: np.ndarray | None = None) -> dict[str, float]:
    """``ecological_land_share`` and ``built_up_share``: weighted pixel shares of the groups
    among the pixels whose class is not ``nodata`` (``weights``: coverage fractions of the
    polygon, default 1). NaN for a polygon with no valid pixel."""
    c = np.asarray(classes)
    w = _weights(c.shape, weights) * ~np.isin(c, groups.nodata)
    total = float(w.sum())
    if total <= 0:
        return {"ecological_land_share": math.nan, "built_up_share": math.nan}
    return {"ecological_land_share": float(w[np.isin(c, groups.ecological)].sum()) / total,
            "built_up_share": float(w[np.isin(c, groups.built_up)].sum()) / total}


def shares_from_class_areas(areas: pd.DataFrame, groups: LandCoverGroups,
                            prefix: str = "area_m2_") -> pd.DataFrame:
    """The two shares per polygon from a class-area table (rows polygons; columns
    ``<prefix><class>``, class as its code or its name in ``groups.names``, as zonal
    statistics writes them); other columns are ignored, ``nodata`` classes left out."""
    by_name = {v: k for k, v in groups.names.items()}
    code_of: dict[str, int] = {}
    for col in map(str, areas.columns):
        if not col.startswith(prefix):
            continue
        key = col.removeprefix(prefix)
        if key in by_name:
            code_of[col] = by_name[key]
        elif key.lstrip("-").isdigit():
            code_of[col] = int(key)
        else:
            raise SpecError(f"class-area column {col!r}: {key!r} is neither a class code nor "
                            f"a name in landcover.names {groups.names}")
    if not code_of:
        raise SpecError(f"no class-area column starting {prefix!r} in {list(areas.columns)}")
    a = areas[list(code_of)].apply(pd.to_numeric, errors="coerce").fillna(0.0)

    def total(codes: Sequence[int]) -> pd.Series:
        cols = [c for c, k in code_of.items() if k in codes]
        return a[cols].sum(axis=1) if cols else pd.Series(0.0, index=a.index)

    valid = total([k for k in code_of.values() if k not in groups.nodata])
    denom = valid.where(valid > 0)
    return pd.DataFrame({"ecological_land_share": total(groups.ecological) / denom,
                         "built_up_share": total(groups.built_up) / denom})


def patch_density(classes: np.ndarray, groups: LandCoverGroups, pixel_area_m2: float, *,
                  weights: np.ndarray | None = None, connectivity: Literal[4, 8] = 8) -> float:
    """``fragmentation``: patches of natural land per km² of the polygon's valid area
    (FRAGSTATS' patch density PD, per km² instead of per 100 ha; 8-neighbour patches by
    default, FRAGSTATS' default rule). ``classes`` is the polygon's 2-D window; pixels outside
    it have weight 0 or a ``nodata`` class. A patch cut by the window's edge counts once: pass
    the whole polygon, not a block of it. NaN with no valid pixel."""
    from scipy import ndimage

    c = np.asarray(classes)
    if c.ndim != 2:
        raise ValueError(f"patch_density needs a 2-D class array, got shape {c.shape}")
    w = _weights(c.shape, weights) * ~np.isin(c, groups.nodata)
    area_km2 = float(w.sum()) * pixel_area_m2 / 1e6
    if area_km2 <= 0:
        return math.nan
    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    _, n = ndimage.label(np.isin(c, groups.natural_codes) & (w > 0), structure=structure)
    return n / area_km2


def _mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    v = np.asarray(values, np.float64)
    w = _weights(v.shape, weights) * np.isfinite(v)
    total = float(w.sum())
    return float((np.nan_to_num(v) * w).sum()) / total if total > 0 else math.nan


def vegetation_cover(fvc: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``vegetation_cover``: the (weighted) mean fractional vegetation cover, NaN skipped."""
    return _mean(fvc, weights)


def productivity_proxy(ndvi: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``productivity_proxy``: mean growing-season NDVI (pass a growing-season composite),
    negative NDVI (water, bare) counted as 0 productivity; a proxy of biomass / NPP."""
    return _mean(np.clip(np.asarray(ndvi, np.float64), 0.0, None), weights)


def change_patch_share(change: np.ndarray, *, disturbed: Sequence[int] = (1,),
                       nodata: Sequence[int] = (255,),
                       weights: np.ndarray | None = None) -> float:
    """``change_patch_share``: weighted share of pixels in a ``disturbed`` change class
    (default 1, the ``decrease`` class of rs's change products) among the pixels with a
    change class. From patch polygons instead: patch area in the polygon / its area."""
    c = np.asarray(change)
    w = _weights(c.shape, weights) * ~np.isin(c, nodata)
    total = float(w.sum())
    return float(w[np.isin(c, disturbed)].sum()) / total if total > 0 else math.nan


def human_disturbance(built_up_share: Any, change_patch_share: Any) -> Any:
    """``human_disturbance`` = built-up share + change-patch share, capped at 1 (a changed
    pixel that is now built-up counts in both). Scalars or arrays / Series."""
    return np.minimum(np.add(built_up_share, change_patch_share), 1.0)


def sensed_indicators(classes: np.ndarray, groups: LandCoverGroups, pixel_area_m2: float, *,
                      fvc: np.ndarray | None = None, ndvi: np.ndarray | None = None,
                      change: np.ndarray | None = None, weights: np.ndarray | None = None,
                      disturbed: Sequence[int] = (1,), change_nodata: Sequence[int] = (255,),
                      connectivity: Literal[4, 8] = 8) -> dict[str, float]:
    """Every sensed measure of one polygon from its windows on one grid (all arrays the shape
    of ``classes``; ``weights`` its coverage fractions). Measures whose input is not given are
    left out (``change`` missing: no ``change_patch_share`` nor ``human_disturbance``)."""
    out = class_shares(classes, groups, weights)
    out["fragmentation"] = patch_density(classes, groups, pixel_area_m2, weights=weights,
                                         connectivity=connectivity)
    if fvc is not None:
        out["vegetation_cover"] = vegetation_cover(fvc, weights)
    if ndvi is not None:
        out["productivity_proxy"] = productivity_proxy(ndvi, weights)
    if change is not None:
        out["change_patch_share"] = change_patch_share(change, disturbed=disturbed,
                                                       nodata=change_nodata, weights=weights)
        out["human_disturbance"] = float(
            human_disturbance(out["built_up_share"], out["change_patch_share"]))
    return out
