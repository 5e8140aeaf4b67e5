"""Surface estimates from a satellite product: scikit-learn models on matchups, cross-validated
by station, saved with skops beside a model card.

A model predicts the surface (ground) value from the satellite value and covariates
(:class:`Features`): by default ``sat_value`` and ``hour`` (numeric) and ``season``,
``land_cover`` and ``station_type`` (categorical). :func:`add_covariates` derives ``season``
(meteorological: DJF, MAM, JJA, SON, from the month of the matchup time) and ``hour`` (mean
local solar time of the middle of the ground window); land cover and station type are station
attributes the matchup table carries. Two kinds (:func:`make_model`):

* ``linear``: one-hot categories + ordinary least squares (the baseline; its coefficient on
  ``sat_value`` is the calibration slope);
* ``gbm``: histogram gradient boosting with native categorical splits (seeded).

:func:`cross_validate` evaluates them with ``GroupKFold`` by station (shuffled, seeded): no
station is ever in the training and the test part of a fold (checked, not assumed), so the
scores say how well the model estimates the surface value at a place without a station. Rows
used: the matchup's ``usable`` rows with a finite target and satellite value.

Saving a fitted model with its card (skops, never pickle) is :mod:`rs.stations.modelcard`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from rs.errors import SpecError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = [
    "CVResult",
    "Features",
    "add_covariates",
    "cross_validate",
    "fit_model",
    "make_model",
    "predict",
    "training_rows",
]

Kind = Literal["linear", "gbm"]

_SEASONS = {12: "DJF", 1: "DJF", 2: "DJF", 3: "MAM", 4: "MAM", 5: "MAM", 6: "JJA", 7: "JJA",
            8: "JJA", 9: "SON", 10: "SON", 11: "SON"}


@dataclass(frozen=True)
class Features:
    """The model's inputs: numeric and categorical column names."""

    numeric: tuple[str, ...] = ("sat_value", "hour")
    categorical: tuple[str, ...] = ("season", "land_cover", "station_type")

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]


@dataclass(frozen=True)
class CVResult:
    """Cross-validation by station.

    ``metrics``: one row per model and fold (``fold`` 0.. or ``"pooled"`` over all out-of-fold
    predictions) with n_train, n_test, train_stations, test_stations, shared_stations (always
    0), r2, rmse, mae, bias. ``predictions``: the rows used (station_id, time, target, fold)
    and one ``pred_<kind>`` column of out-of-fold predictions per model.
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    features: Features
    target: str
    n_splits: int
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def pooled(self, kind: str) -> dict[str, float]:
        """The pooled out-of-fold metrics of model ``kind``."""
        m = self.metrics
        row = m[(m["model"] == kind) & (m["fold"] == "pooled")].iloc[0]
        return {k: float(row[k]) for k in ("n_test", "r2", "rmse", "mae", "bias")}


def add_covariates(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a matchup table with ``season`` and ``hour`` (module doc)."""
    out = table.copy()
    t = pd.DatetimeIndex(out["time"]).tz_convert("UTC")
    out["season"] = pd.array([_SEASONS[m] for m in t.month], dtype="str")
    if {"ground_start", "ground_end"} <= set(out.columns):
        s = pd.DatetimeIndex(out["ground_start"]).as_unit("ns").asi8
        e = pd.DatetimeIndex(out["ground_end"]).as_unit("ns").asi8
        mid_h = (s + (e - s) / 2) / 3.6e12
    else:
        mid_h = t.as_unit("ns").asi8 / 3.6e12
    out["hour"] = np.mod(mid_h + out["lon"].to_numpy("float64") / 15.0, 24.0)
    return out


def make_model(kind: Kind, features: Features, *, seed: int = 0) -> Pipeline:
    """An unfitted pipeline of ``kind`` for ``features`` (module doc)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    num, cat = list(features.numeric), list(features.categorical)
    if kind == "linear":
        prep = ColumnTransformer(
            [("num", "passthrough", num)]
            + ([("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat)]
               if cat else []),
            verbose_feature_names_out=False,
        )
        return Pipeline([("prep", prep), ("model", LinearRegression())])
    if kind == "gbm":
        prep = ColumnTransformer(
            [("num", "passthrough", num)]
            + ([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                       encoded_missing_value=-1), cat)] if cat else []),
            verbose_feature_names_out=False,
        )
        mask = [False] * len(num) + [True] * len(cat)
        gbm = HistGradientBoostingRegressor(
            categorical_features=mask if cat else None, max_iter=200, learning_rate=0.05,
            max_leaf_nodes=15, min_samples_leaf=20, random_state=seed)
        return Pipeline([("prep", prep), ("model", gbm)])
    raise SpecError(f"unknown model kind {kind!r}: use 'linear' or 'gbm'")


def training_rows(table: pd.DataFrame, features: Features, target: str) -> pd.DataFrame:
    """The rows a model learns from: usable, with a finite target and numeric features;
    categorical features as text."""
    df = table
    if "usable" in df.columns:
        df = df[df["usable"].astype(bool)]
    missing = [c for c in [*features.columns, target, "station_id"] if c not in df.columns]
    if missing:
        raise SpecError(
            f"no column(s) {', '.join(missing)} for the model: add them to the stations as "
            "attributes, run add_covariates(), or choose other Features"
        )
    df = df[np.isfinite(df[target].to_numpy("float64"))]
    for c in features.numeric:
        df = df[np.isfinite(df[c].to_numpy("float64"))]
    if df.empty:
        raise SpecError("no usable matchup with a finite target and satellite value to train on")
    out = df.reset_index(drop=True).copy()
    for c in features.categorical:
        out[c] = out[c].astype("str")
    return out


def cross_validate(
    table: pd.DataFrame,
    *,
    kinds: Sequence[Kind] = ("linear", "gbm"),
    features: Features | None = None,
    target: str = "ground_value",
    n_splits: int = 5,
    seed: int = 0,
    n_threads: int | None = 1,
) -> CVResult:
    """GroupKFold by station of each model kind (module doc). ``n_threads``: OpenMP threads
    of the gradient boosting (None: OpenMP decides; on small tables one thread is much faster
    than several waiting for busy cores)."""
    from sklearn.model_selection import GroupKFold

    feats = features or Features()
    df = training_rows(table, feats, target)
    groups = df["station_id"].astype("str").to_numpy()
    n_groups = len(np.unique(groups))
    if n_splits < 2 or n_groups < n_splits:
        raise SpecError(f"GroupKFold with n_splits={n_splits} needs at least that many stations "
                        f"(and 2 folds); the usable matchups have {n_groups}")
    from threadpoolctl import threadpool_limits

    cv = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    x, y = df[feats.columns], df[target].to_numpy("float64")
    pred = pd.DataFrame({"station_id": groups, "time": df["time"].to_numpy(), "target": y,
                         "fold": -1})
    rows = []
    splits = list(cv.split(x, y, groups))
    for k, (tr, te) in enumerate(splits):
        shared = set(groups[tr]) & set(groups[te])
        if shared:  # cannot happen with GroupKFold; a leak would invalidate every score
            raise AssertionError(f"fold {k}: stations in train and test: {sorted(shared)[:5]}")
        pred.loc[te, "fold"] = k
    for kind in kinds:
        oof = np.full(y.size, np.nan)
        for k, (tr, te) in enumerate(splits):
            with threadpool_limits(limits=n_threads, user_api="openmp"):
                model = make_model(kind, feats, seed=seed).fit(x.iloc[tr], y[tr])
                oof[te] = model.predict(x.iloc[te])
            rows.append({"model": kind, "fold": str(k), "n_train": tr.size, "n_test": te.size,
                         "train_stations": len(set(groups[tr])),
                         "test_stations": len(set(groups[te])), "shared_stations": 0,
                         **_scores(y[te], oof[te])})
        pred[f"pred_{kind}"] = oof
        rows.append({"model": kind, "fold": "pooled", "n_train": np.nan, "n_test": y.size,
                     "train_stations": np.nan, "test_stations": n_groups, "shared_stations": 0,
                     **_scores(y, oof)})
    return CVResult(pd.DataFrame(rows), pred, feats, target, n_splits, seed)


def fit_model(
    table: pd.DataFrame,
    kind: Kind,
    *,
    features: Features | None = None,
    target: str = "ground_value",
    seed: int = 0,
    n_threads: int | None = 1,
) -> Pipeline:
    """``kind`` fitted on every usable matchup (after :func:`cross_validate` scored it)."""
    from threadpoolctl import threadpool_limits

    feats = features or Features()
    df = training_rows(table, feats, target)
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        return make_model(kind, feats, seed=seed).fit(df[feats.columns],
                                                      df[target].to_numpy("float64"))


def predict(
    model: Pipeline, table: pd.DataFrame, features: Features | None = None,
    *, n_threads: int | None = 1,
) -> np.ndarray:
    """Surface estimates for every row of a matchup table (covariates added when missing;
    NaN where a numeric feature is not finite and the model cannot take it)."""
    from threadpoolctl import threadpool_limits

    feats = features or Features()
    df = table if {"season", "hour"} <= set(table.columns) else add_covariates(table)
    missing = [c for c in feats.columns if c not in df.columns]
    if missing:
        raise SpecError(f"no column(s) {', '.join(missing)} to predict from")
    x = df[feats.columns].copy()
    for c in feats.categorical:
        x[c] = x[c].astype("str")
    ok = np.ones(len(x), dtype=bool)
    if type(model.named_steps["model"]).__name__ == "LinearRegression":
        for c in feats.numeric:
            ok &= np.isfinite(x[c].to_numpy("float64"))
    out = np.full(len(x), np.nan)
    if ok.any():
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            out[ok] = model.predict(x[ok])
    return out


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    d = p - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {"r2": 1 - float(np.sum(d * d)) / ss_tot if ss_tot > 0 else np.nan,
            "rmse": float(np.sqrt(np.mean(d * d))), "mae": float(np.mean(np.abs(d))),
            "bias": float(np.mean(d))}
