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

:func:`save_model` writes ``<stem>.skops`` (skops, never pickle), ``<stem>.card.json`` and
``<stem>.card.md`` (training data, features, metrics, versions, the file's SHA-256);
:func:`load_model` checks the checksum against the card and loads with the trusted types listed
explicitly (:data:`TRUSTED_TYPES`): a file holding any other type is refused.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from rs.errors import AssetReadError, SpecError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = [
    "TRUSTED_TYPES",
    "CVResult",
    "Features",
    "add_covariates",
    "cross_validate",
    "fit_model",
    "load_model",
    "make_model",
    "model_card",
    "predict",
    "save_model",
]

Kind = Literal["linear", "gbm"]

#: the only types (beyond skops' defaults) a saved model may hold: those of the two kinds here
TRUSTED_TYPES: tuple[str, ...] = (
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)
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


def _training_rows(table: pd.DataFrame, features: Features, target: str) -> pd.DataFrame:
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
    df = _training_rows(table, feats, target)
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
    df = _training_rows(table, feats, target)
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


def model_card(
    model: Pipeline,
    *,
    kind: Kind,
    table: pd.DataFrame,
    features: Features | None = None,
    target: str = "ground_value",
    cv: CVResult | None = None,
    name: str = "surface-no2",
    description: str = "",
    created: str | None = None,
) -> dict[str, Any]:
    """The model card (a JSON-able dict): what the model is, what it was trained on, how well
    it did in cross-validation, with which versions. ``created``: an ISO time (the caller's
    clock; left out when None)."""
    import sklearn

    import rs

    feats = features or Features()
    df = _training_rows(table, feats, target)
    first = table.iloc[0] if len(table) else {}
    params = {k: _plain(first[k]) for k in ("method", "window", "radius_m", "qa_min",
                                            "min_valid_share", "ground", "overpass_time",
                                            "half_window_min", "min_ground_obs")
              if k in table.columns and len(table)}
    card: dict[str, Any] = {
        "name": name,
        "description": description or (
            f"{kind} model of the surface {_plain(first.get('ground_variable', target))} from "
            "a satellite product and covariates, cross-validated by station"),
        "model": {"kind": kind, "steps": [type(s).__name__ for _, s in model.steps]},
        "target": {"column": target, "variable": _plain(first.get("ground_variable")),
                   "unit": _plain(first.get("ground_unit"))},
        "features": {"numeric": list(feats.numeric), "categorical": list(feats.categorical)},
        "training_data": {
            "rows": len(df), "stations": int(df["station_id"].nunique()),
            "time_start": str(pd.Timestamp(df["time"].min())),
            "time_end": str(pd.Timestamp(df["time"].max())),
            "satellite": {"variable": _plain(first.get("sat_variable")),
                          "unit": _plain(first.get("sat_unit"))},
            "matchup_parameters": params,
        },
        "versions": {"rs": rs.__version__, "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
    }
    if kind == "linear":
        lin = model.named_steps["model"]
        names = list(model.named_steps["prep"].get_feature_names_out())
        card["coefficients"] = {"intercept": float(lin.intercept_),
                                **{n: float(c) for n, c in zip(names, lin.coef_, strict=True)}}
    if cv is not None:
        m = cv.metrics[cv.metrics["model"] == kind]
        card["cross_validation"] = {
            "splitter": "GroupKFold (shuffled)", "groups": "station_id",
            "n_splits": cv.n_splits, "seed": cv.seed,
            "pooled": cv.pooled(kind),
            "folds": [{k: _plain(v) for k, v in r.items() if k != "model"}
                      for r in m[m["fold"] != "pooled"].to_dict("records")],
        }
    if created is not None:
        card["created"] = created
    return card


def save_model(model: Pipeline, path: Path | str, card: dict[str, Any]) -> list[Path]:
    """Write ``<stem>.skops``, ``<stem>.card.json`` and ``<stem>.card.md`` (atomically);
    the card gets the model file's SHA-256, skops version and trusted types."""
    import skops
    import skops.io as sio

    from rs.export._atomic import atomic_path

    path = Path(path)
    stem = path.with_suffix("") if path.suffix == ".skops" else path
    target = stem.with_suffix(".skops")
    data = sio.dumps(model)
    found = sorted(sio.get_untrusted_types(data=data))
    extra = [t for t in found if t not in TRUSTED_TYPES]
    if extra:
        raise SpecError(f"the model holds types rs does not trust: {', '.join(extra)}")
    card = {**card, "file": {"name": target.name, "sha256": hashlib.sha256(data).hexdigest(),
                             "format": "skops"},
            "trusted_types": found}
    card["versions"] = {**card.get("versions", {}), "skops": skops.__version__}
    out = []
    for p, content in ((target, data),
                       (stem.with_suffix(".card.json"),
                        json.dumps(card, indent=2, ensure_ascii=False).encode()),
                       (stem.with_suffix(".card.md"), card_markdown(card).encode())):
        with atomic_path(p) as tmp:
            tmp.write_bytes(content)
        out.append(p)
    return out


def load_model(
    path: Path | str, *, trusted: Sequence[str] = TRUSTED_TYPES
) -> tuple[Pipeline, dict[str, Any]]:
    """Load ``<stem>.skops`` and its card: the file must match the card's SHA-256 and hold no
    type outside skops' defaults and ``trusted``."""
    import skops.io as sio

    path = Path(path)
    stem = path.with_suffix("") if path.suffix == ".skops" else path
    target, card_path = stem.with_suffix(".skops"), stem.with_suffix(".card.json")
    try:
        data = target.read_bytes()
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AssetReadError(f"cannot read model {target} or its card {card_path}: {e}") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != card.get("file", {}).get("sha256"):
        raise AssetReadError(f"{target} does not match its card {card_path.name} (SHA-256 "
                             f"{digest[:12]}...): the file changed after it was saved")
    found = sio.get_untrusted_types(data=data)
    refused = sorted(set(found) - set(trusted))
    if refused:
        raise AssetReadError(f"{target} holds types that are not trusted: {', '.join(refused)}"
                             " (refused; pass trusted=... only after reviewing them)")
    return sio.loads(data, trusted=list(found)), card


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a short Markdown document."""
    td = card.get("training_data", {})
    lines = [f"# Model card: {card.get('name', '')}", "", card.get("description", ""), "",
             "## Model", "", f"- kind: `{card['model']['kind']}` "
             f"({' -> '.join(card['model']['steps'])})",
             f"- target: `{card['target']['column']}` ({card['target'].get('variable')}, "
             f"{card['target'].get('unit')})",
             f"- numeric features: {', '.join(card['features']['numeric']) or '-'}",
             f"- categorical features: {', '.join(card['features']['categorical']) or '-'}", "",
             "## Training data", "",
             f"- {td.get('rows')} matchups at {td.get('stations')} stations, "
             f"{td.get('time_start')} .. {td.get('time_end')}",
             f"- satellite: {td.get('satellite')}",
             f"- matchup parameters: {td.get('matchup_parameters')}", ""]
    cv = card.get("cross_validation")
    if cv:
        p = cv["pooled"]
        lines += ["## Cross-validation", "",
                  f"{cv['splitter']} by {cv['groups']}, {cv['n_splits']} folds, seed "
                  f"{cv['seed']}; no station in both parts of a fold.", "",
                  "| | n | R² | RMSE | MAE | bias |", "|---|---|---|---|---|---|",
                  f"| pooled | {int(p['n_test'])} | {p['r2']:.4f} | {p['rmse']:.4g} | "
                  f"{p['mae']:.4g} | {p['bias']:.4g} |"]
        lines += [f"| fold {f['fold']} | {f['n_test']} | {f['r2']:.4f} | {f['rmse']:.4g} | "
                  f"{f['mae']:.4g} | {f['bias']:.4g} |" for f in cv["folds"]]
        lines.append("")
    if "coefficients" in card:
        lines += ["## Coefficients", "", *(f"- {k}: {v:.6g}" for k, v in
                                           card["coefficients"].items()), ""]
    lines += ["## Versions", "", *(f"- {k}: {v}" for k, v in card.get("versions", {}).items())]
    if "file" in card:
        lines += ["", "## File", "", f"- {card['file']['name']} (skops), SHA-256 "
                  f"`{card['file']['sha256']}`",
                  f"- trusted types: {', '.join(card.get('trusted_types', [])) or '-'}"]
    if "created" in card:
        lines += [f"- created: {card['created']}"]
    return "\n".join(lines) + "\n"


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    d = p - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {"r2": 1 - float(np.sum(d * d)) / ss_tot if ss_tot > 0 else np.nan,
            "rmse": float(np.sqrt(np.mean(d * d))), "mae": float(np.mean(np.abs(d))),
            "bias": float(np.mean(d))}


def _plain(v: Any) -> Any:
    """A JSON-able scalar."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return str(v)
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
