"""Model cards and model files: a fitted calibration model saved with skops beside its card.

:func:`model_card` describes a model (what it is, what it was trained on, how it did in
cross-validation by station, with which versions). :func:`save_model` writes
``<stem>.skops`` (skops, never pickle), ``<stem>.card.json`` and ``<stem>.card.md`` atomically,
the card holding the model file's SHA-256 and the types it needs trusted; :func:`load_model`
checks the checksum against the card and loads with the trusted types listed explicitly
(:data:`TRUSTED_TYPES`): a file holding any other type is refused.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rs._skops import card_footer
from rs.stations.calibrate import CVResult, Features, Kind, training_rows

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = ["TRUSTED_TYPES", "card_markdown", "load_model", "model_card", "save_model"]

#: the only types (beyond skops' defaults) a saved model may hold: those of the two kinds here
TRUSTED_TYPES: tuple[str, ...] = (
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)

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
    df = training_rows(table, feats, target)
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
    the card gets the model file's SHA-256, skops version and trusted types (:mod:`rs._skops`)."""
    from rs import _skops

    return _skops.save_model(model, path, card, trusted=TRUSTED_TYPES, markdown=card_markdown)


def load_model(
    path: Path | str, *, trusted: Sequence[str] = TRUSTED_TYPES
) -> tuple[Pipeline, dict[str, Any]]:
    """Load ``<stem>.skops`` and its card: the file must match the card's SHA-256 and hold no
    type outside skops' defaults and ``trusted`` (:mod:`rs._skops`)."""
    from rs import _skops

    return _skops.load_model(path, trusted=trusted)


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
    return "\n".join([*lines, *card_footer(card)]) + "\n"


def _plain(v: Any) -> Any:
    """A JSON-able scalar."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return str(v)
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
