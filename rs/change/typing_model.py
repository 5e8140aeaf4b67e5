"""Typing change patches by human activity: a calibrated classifier on patch features.

:func:`build_model` is a scikit-learn pipeline: gradient boosting on :data:`FEATURES` (NaN
allowed) inside :class:`~sklearn.calibration.CalibratedClassifierCV` (sigmoid), so the
confidence of :func:`predict_types` (the highest class probability) is calibrated.
:func:`train_typing_model` fits it on a labelled table, cross-validates a copy (stratified,
shuffled, seeded) and describes both in a model card (:func:`typing_card`).

Files: :func:`save_typing_model` writes ``<stem>.skops`` (skops, never pickle),
``<stem>.card.json`` and ``<stem>.card.md`` atomically, the card holding the SHA-256 of the
model file, as :mod:`rs.stations.modelcard` does; :func:`load_typing_model` loads through
:func:`rs.stations.modelcard.load_model` with :data:`TRUSTED_TYPES` listed explicitly: a file
that does not match its card, is not skops, or holds any other type is refused
(:class:`~rs.errors.AssetReadError`) and nothing is loaded.

:func:`synthetic_patches` is a seeded synthetic scene (library code for tests and a demo
model): patches of every type in :data:`TYPES` with typical shapes (compact rectangles for
construction, irregular pits for mining, long thin strips for roads, large regular fields for
reclamation, ponds and channels for water engineering, irregular clearings for vegetation
loss) and spectral trajectories, painted on before/after index rasters.
"""

from __future__ import annotations

import json
import platform
import zipfile
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from rs._skops import card_footer
from rs.change.features import FEATURES, INDICES, patch_features
from rs.errors import AssetReadError, SpecError

if TYPE_CHECKING:
    import geopandas as gpd
    from sklearn.pipeline import Pipeline

__all__ = [
    "MODEL_KIND",
    "TRUSTED_TYPES",
    "TYPES",
    "SyntheticScene",
    "TypingResult",
    "build_model",
    "cross_validate_typing",
    "load_typing_model",
    "predict_types",
    "save_typing_model",
    "synthetic_patches",
    "train_typing_model",
    "typing_card",
    "typing_card_markdown",
]

#: the human-activity types
TYPES: tuple[str, ...] = (
    "construction",
    "mining",
    "road",
    "farmland_reclamation",
    "water_engineering",
    "vegetation_loss",
)

#: the card's ``model.kind`` of a typing model (a card of another kind is refused on loading)
MODEL_KIND = "change-typing"

#: the only types (beyond skops' defaults) a saved typing model may hold
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def build_model(
    *, seed: int = 0, calibration_folds: int = 3, min_samples_leaf: int = 20
) -> Pipeline:
    """Gradient boosting on :data:`FEATURES` with sigmoid-calibrated probabilities."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    gb = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.08, max_leaf_nodes=15, l2_regularization=1.0,
        min_samples_leaf=min_samples_leaf, random_state=seed,
    )
    # ensemble=False: one booster fitted on all rows, the sigmoid fitted on its
    # cross-validated predictions (a third of the file size of one booster per fold)
    return Pipeline([("model", CalibratedClassifierCV(gb, method="sigmoid", ensemble=False,
                                                      cv=calibration_folds))])


def _xy(table: pd.DataFrame, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    missing = [c for c in FEATURES if c not in table.columns]
    if missing:
        raise SpecError(f"training table has no feature columns {', '.join(missing)}")
    if target not in table.columns:
        raise SpecError(f"training table has no label column {target!r}")
    y = table[target]
    keep = y.notna() & (y.astype(str).str.strip() != "")
    x = table.loc[keep, list(FEATURES)].astype("float64").replace([np.inf, -np.inf], np.nan)
    return x, y[keep].astype(str).str.strip().to_numpy()


def _threads(n_rows: int) -> AbstractContextManager[object]:
    """One OpenMP thread for fewer than 20,000 rows: gradient boosting's per-split thread
    overhead dominates there (measured 9x slower with 2 busy cores on 45 patches)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp") if n_rows < 20_000 else nullcontext()


def _leaf(n_rows: int) -> int:
    """Smallest leaf: 20 (scikit-learn's default) from 800 labelled patches on, down to 2 for
    a few dozen (a calibration fold's trees could not split otherwise)."""
    return int(np.clip(n_rows // 40, 2, 20))


def _folds(y: np.ndarray, wanted: int) -> int:
    counts = pd.Series(y).value_counts()
    if len(counts) < 2:
        raise SpecError(f"training needs at least two types; found {', '.join(counts.index)}")
    if counts.min() < 2:
        raise SpecError("every type needs at least 2 labelled patches; too few: "
                        + ", ".join(f"{k} ({v})" for k, v in counts.items() if v < 2))
    return int(min(wanted, counts.min()))


def cross_validate_typing(
    table: pd.DataFrame, *, target: str = "type", n_splits: int = 5, seed: int = 0
) -> dict[str, Any]:
    """Stratified, shuffled k-fold cross-validation of :func:`build_model` (k at most the
    smallest type's count): accuracy, macro F1, per-type precision / recall / support,
    mean confidence of right and of wrong predictions, the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    from sklearn.metrics import precision_recall_fscore_support as prfs
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x, y = _xy(table, target)
    k = _folds(y, n_splits)
    cal = min(3, max(2, int(pd.Series(y).value_counts().min() * (k - 1) // k)))
    model = build_model(seed=seed, calibration_folds=cal,
                        min_samples_leaf=_leaf(len(y) * (k - 1) // k))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with _threads(len(y)):
        proba = cross_val_predict(model, x, y, cv=cv, method="predict_proba")
    classes = np.unique(y)
    pred = classes[proba.argmax(axis=1)]
    conf = proba.max(axis=1)
    right = pred == y
    p, r, f, s = prfs(y, pred, labels=classes, zero_division=0)
    return {
        "splitter": "StratifiedKFold (shuffled)", "n_splits": k, "seed": seed, "n": len(y),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "confidence_right": float(conf[right].mean()) if right.any() else None,
        "confidence_wrong": float(conf[~right].mean()) if (~right).any() else None,
        "per_type": {str(c): {"precision": float(p[i]), "recall": float(r[i]),
                              "f1": float(f[i]), "support": int(s[i])}
                     for i, c in enumerate(classes)},
        "confusion": {"labels": [str(c) for c in classes],
                      "matrix": confusion_matrix(y, pred, labels=classes).tolist()},
    }


@dataclass(frozen=True)
class TypingResult:
    """A fitted typing model, its cross-validation metrics and its card."""

    model: Pipeline
    metrics: dict[str, Any]
    card: dict[str, Any] = field(default_factory=dict)


def train_typing_model(
    table: pd.DataFrame,
    *,
    target: str = "type",
    n_splits: int = 5,
    seed: int = 0,
    name: str = "change-typing",
    source: str = "",
    created: str | None = None,
) -> TypingResult:
    """Cross-validate, then fit :func:`build_model` on every labelled row of ``table`` (the
    :data:`FEATURES` columns and ``target``); the card describes data, features and metrics."""
    metrics = cross_validate_typing(table, target=target, n_splits=n_splits, seed=seed)
    x, y = _xy(table, target)
    cal = min(3, int(pd.Series(y).value_counts().min()))
    model = build_model(seed=seed, calibration_folds=cal, min_samples_leaf=_leaf(len(y)))
    with _threads(len(y)):
        model = model.fit(x, y)
    card = typing_card(model, y, metrics, name=name, source=source, created=created)
    return TypingResult(model=model, metrics=metrics, card=card)


def typing_card(
    model: Pipeline,
    labels: Sequence[str] | np.ndarray,
    metrics: dict[str, Any] | None,
    *,
    name: str = "change-typing",
    source: str = "",
    created: str | None = None,
) -> dict[str, Any]:
    """The model card (JSON-able): model, classes, features, training data, metrics,
    versions. ``created``: an ISO time from the caller's clock (left out when None)."""
    import sklearn

    import rs

    counts = pd.Series(np.asarray(labels, dtype=str)).value_counts().sort_index()
    card: dict[str, Any] = {
        "name": name,
        "description": "Human-activity type of a change patch from its before/after index "
                       "statistics, texture and shape; confidence = calibrated probability "
                       "of the predicted type.",
        "model": {"kind": MODEL_KIND, "steps": [type(s).__name__ for _, s in model.steps],
                  "estimator": "HistGradientBoostingClassifier",
                  "calibration": "CalibratedClassifierCV (sigmoid)"},
        "target": {"column": "type", "classes": [str(c) for c in counts.index]},
        "features": {"numeric": list(FEATURES), "categorical": []},
        "training_data": {"rows": int(counts.sum()),
                          "per_type": {str(k): int(v) for k, v in counts.items()},
                          "source": source},
        "versions": {"rs": rs.__version__, "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
    }
    if metrics is not None:
        card["cross_validation"] = metrics
    if created is not None:
        card["created"] = created
    return card


def typing_card_markdown(card: dict[str, Any]) -> str:
    """The card as a short Markdown document."""
    td = card.get("training_data", {})
    lines = [f"# Model card: {card.get('name', '')}", "", card.get("description", ""), "",
             "## Model", "", f"- kind: `{card['model']['kind']}` "
             f"({' -> '.join(card['model']['steps'])}; {card['model'].get('estimator')}, "
             f"{card['model'].get('calibration')})",
             f"- classes: {', '.join(card['target']['classes'])}",
             f"- features: {', '.join(card['features']['numeric'])}", "",
             "## Training data", "", f"- {td.get('rows')} labelled patches"
             + (f" from {td['source']}" if td.get("source") else ""),
             *(f"  - {k}: {v}" for k, v in td.get("per_type", {}).items()), ""]
    cv = card.get("cross_validation")
    if cv:
        lines += ["## Cross-validation", "",
                  f"{cv['splitter']}, {cv['n_splits']} folds, seed {cv['seed']}, "
                  f"{cv['n']} patches: accuracy {cv['accuracy']:.3f}, macro F1 "
                  f"{cv['macro_f1']:.3f}; mean confidence right {cv['confidence_right']}, "
                  f"wrong {cv['confidence_wrong']}", "",
                  "| type | precision | recall | F1 | n |", "|---|---|---|---|---|",
                  *(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | "
                    f"{v['support']} |" for k, v in cv["per_type"].items()), ""]
    return "\n".join([*lines, *card_footer(card)]) + "\n"


def save_typing_model(model: Pipeline, path: Path | str, card: dict[str, Any]) -> list[Path]:
    """Write ``<stem>.skops``, ``<stem>.card.json`` and ``<stem>.card.md`` (atomically,
    :func:`rs._skops.save_model`); refuses (SpecError) a model holding a type outside
    :data:`TRUSTED_TYPES`."""
    from rs import _skops

    return _skops.save_model(model, path, card, trusted=TRUSTED_TYPES,
                             markdown=typing_card_markdown)


def load_typing_model(
    path: Path | str, *, trusted: Sequence[str] = TRUSTED_TYPES
) -> tuple[Pipeline, dict[str, Any]]:
    """Load ``<stem>.skops`` and its card (:func:`rs.stations.modelcard.load_model`: SHA-256
    against the card, only skops' defaults and ``trusted`` types). Refused with
    :class:`~rs.errors.AssetReadError`, nothing loaded: a file that is not skops, a card of
    another kind of model, a model without ``predict_proba``."""
    from rs._skops import load_model

    try:
        model, card = load_model(path, trusted=trusted)
    except AssetReadError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, AttributeError,
            ImportError, json.JSONDecodeError) as e:
        raise AssetReadError(f"{path} is not a valid skops model file: {e}") from e
    kind = card.get("model", {}).get("kind") if isinstance(card, dict) else None
    if kind != MODEL_KIND:
        raise AssetReadError(f"{path} is a {kind!r} model, not a {MODEL_KIND!r} model")
    if not hasattr(model, "predict_proba"):
        raise AssetReadError(f"{path} holds a {type(model).__name__}, not a classifier")
    return model, card


def predict_types(model: Pipeline, features: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``features`` (the :data:`FEATURES` columns): ``type`` (the most probable
    class) and ``confidence`` (its calibrated probability), plus ``p_<class>`` columns."""
    missing = [c for c in FEATURES if c not in features.columns]
    if missing:
        raise SpecError(f"features missing: {', '.join(missing)}")
    x = features[list(FEATURES)].astype("float64").replace([np.inf, -np.inf], np.nan)
    out = pd.DataFrame(index=features.index)
    if len(x) == 0:
        out["type"], out["confidence"] = pd.Series(dtype=str), pd.Series(dtype="float64")
        return out
    with _threads(len(x)):
        proba = model.predict_proba(x)
    classes = np.asarray(model.classes_).astype(str)
    out["type"] = classes[proba.argmax(axis=1)]
    out["confidence"] = proba.max(axis=1)
    for i, c in enumerate(classes):
        out[f"p_{c}"] = proba[:, i]
    return out


# -- the synthetic scene ------------------------------------------------------------------

#: per type: the after-state mean of each index (ndvi, ndbi, bsi, mndwi, brightness), the sd
#: of that mean between patches, and the pixel sd within a patch (texture)
_AFTER: dict[str, tuple[tuple[float, ...], float, float]] = {
    "construction": ((0.12, 0.10, 0.05, -0.12, 0.28), 0.05, 0.08),
    "mining": ((0.06, 0.04, 0.20, -0.18, 0.24), 0.05, 0.05),
    "road": ((0.22, 0.03, 0.05, -0.20, 0.20), 0.05, 0.05),
    "farmland_reclamation": ((0.25, -0.06, 0.09, -0.28, 0.16), 0.05, 0.025),
    "water_engineering": ((-0.15, -0.28, -0.20, 0.35, 0.07), 0.07, 0.04),
    "vegetation_loss": ((0.36, -0.10, -0.02, -0.30, 0.13), 0.05, 0.05),
}
#: the vegetated before state (same order), its between-patch sd and the pixel sd
_BEFORE = ((0.62, -0.20, -0.15, -0.35, 0.12), 0.06, 0.03)


@dataclass(frozen=True)
class SyntheticScene:
    """Planted patches (GeoDataFrame: patch_id, type, geometry; metric CRS) and the
    before/after index rasters (index name -> float32 array) on ``transform``."""

    patches: gpd.GeoDataFrame
    before: dict[str, np.ndarray]
    after: dict[str, np.ndarray]
    transform: Affine
    crs: str

    def features(self) -> pd.DataFrame:
        """The patches with their :data:`FEATURES` (computed from the rasters)."""
        feats = patch_features(list(self.patches.geometry), self.before, self.after,
                               self.transform)
        return pd.concat([self.patches.reset_index(drop=True), feats], axis=1)


def _blob(rng: np.random.Generator, radius: float, jitter: float, n: int) -> Polygon:
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = radius * rng.uniform(1 - jitter, 1 + jitter, n)
    return Polygon(np.c_[r * np.cos(ang), r * np.sin(ang)]).buffer(0)


def _shape(kind: str, rng: np.random.Generator) -> Any:
    """A polygon typical of ``kind`` centred near (0, 0), in metres."""
    if kind == "construction":  # one or two compact rectangular blocks
        w = rng.uniform(40, 110)
        g = box(-w / 2, -w * rng.uniform(0.4, 0.8), w / 2, w * rng.uniform(0.3, 0.6))
        if rng.random() < 0.5:
            w2 = w * rng.uniform(0.4, 0.7)
            g = g.union(box(w / 2, -w2 / 2, w / 2 + w2, w2 / 2))
    elif kind == "mining":  # irregular pit with spurs
        g = _blob(rng, rng.uniform(70, 170), 0.55, int(rng.integers(14, 24)))
    elif kind == "road":  # long thin strip, sometimes bent
        length, width = rng.uniform(280, 600), rng.uniform(12, 28)
        pts = [(-length / 2, 0.0), (length / 2, 0.0)]
        if rng.random() < 0.5:
            pts.insert(1, (rng.uniform(-0.2, 0.2) * length, rng.uniform(-60, 60)))
        g = LineString(pts).buffer(width / 2, cap_style="flat", join_style="mitre")
    elif kind == "farmland_reclamation":  # large regular field
        w = rng.uniform(120, 260)
        g = box(-w / 2, -w / (2 * rng.uniform(1, 2.2)), w / 2, w / (2 * rng.uniform(1, 2.2)))
    elif kind == "water_engineering":  # pond / reservoir or a channel segment
        if rng.random() < 0.6:
            g = affinity.scale(shapely.Point(0, 0).buffer(rng.uniform(50, 120)),
                               rng.uniform(1, 2.5), 1)
        else:
            g = LineString([(-200, 0), (200, 0)]).buffer(rng.uniform(30, 50))
    else:  # vegetation_loss: irregular clearing
        g = _blob(rng, rng.uniform(50, 140), 0.35, int(rng.integers(8, 14)))
    return affinity.rotate(g, rng.uniform(0, 180), origin=(0, 0))


def synthetic_patches(
    n_per_type: int = 40,
    *,
    seed: int = 0,
    pixel: float = 10.0,
    cell: float = 700.0,
    types: Sequence[str] = TYPES,
    spread: float = 1.0,
) -> SyntheticScene:
    """A seeded scene of ``n_per_type`` patches of each of ``types`` (in shuffled order, one
    per ``cell`` x ``cell`` m cell, EPSG:32650, ``pixel`` m pixels) painted on before/after
    rasters of :data:`~rs.change.features.INDICES` over a vegetated background. ``spread``
    scales the between-patch spread of the spectral states (> 1: types overlap more)."""
    import geopandas as gpd
    from rasterio.features import rasterize

    rng = np.random.default_rng(seed)
    kinds = np.repeat(np.asarray(types), n_per_type)
    rng.shuffle(kinds)
    n = len(kinds)
    side = int(np.ceil(np.sqrt(n)))
    x0, y0 = 500_000.0, 3_500_000.0
    geoms = []
    for i, k in enumerate(kinds):
        cx = x0 + (i % side + 0.5) * cell + rng.uniform(-0.05, 0.05) * cell
        cy = y0 - (i // side + 0.5) * cell + rng.uniform(-0.05, 0.05) * cell
        geoms.append(affinity.translate(_shape(str(k), rng), cx, cy))
    npx = round(side * cell / pixel)
    transform = Affine(pixel, 0, x0, 0, -pixel, y0)
    labels = rasterize([(g, i + 1) for i, g in enumerate(geoms)], out_shape=(npx, npx),
                       transform=transform, fill=0, dtype="int32", all_touched=False)
    inside = labels > 0
    lab = labels[inside] - 1
    before: dict[str, np.ndarray] = {}
    after: dict[str, np.ndarray] = {}
    (bmean, bsd, bpx) = _BEFORE
    for j, name in enumerate(INDICES):
        pb = bmean[j] + rng.normal(0, bsd * spread, n)  # each patch's before state
        pa = np.array([_AFTER[str(k)][0][j] for k in kinds])
        pa = pa + rng.normal(0, spread, n) * np.array([_AFTER[str(k)][1] for k in kinds])
        pxsd = np.array([_AFTER[str(k)][2] for k in kinds])
        if name == "brightness":
            pb, pa, pxsd = pb * 0.5 + bmean[j] * 0.5, np.clip(pa, 0.02, None), pxsd * 0.5
        b = (bmean[j] + rng.normal(0, bpx, (npx, npx))).astype("float32")
        a = (b + rng.normal(0, 0.02, (npx, npx))).astype("float32")  # phenology, noise
        b[inside] = (pb[lab] + rng.normal(0, bpx, lab.size)).astype("float32")
        a[inside] = (pa[lab] + rng.normal(0, 1, lab.size) * pxsd[lab]).astype("float32")
        before[name], after[name] = b, a
    patches = gpd.GeoDataFrame({"patch_id": np.arange(1, n + 1), "type": kinds.astype(str)},
                               geometry=geoms, crs="EPSG:32650")
    return SyntheticScene(patches, before, after, transform, "EPSG:32650")
