"""A learned pixel-level change classifier (pure: numpy in, fitted model and maps out).

:func:`fit_pixel_model` trains a gradient-boosted tree classifier (scikit-learn's
``HistGradientBoostingClassifier``, the LightGBM-style histogram algorithm of Ke et al. 2017)
on the per-pixel features of :func:`rs.change.pixel_features.pixel_features` of labelled image
pairs, and chooses everything that is not a tree by nested cross-validation *inside the
training pairs*: the pairs are split into ``inner_folds`` groups (whole pairs, never pixels of
one pair on both sides), each group's probability maps are predicted by a classifier trained on
the other groups, and on these out-of-fold maps the procedure picks

- the side ``s`` of the square window over which the probability is averaged (1 = none, from
  :data:`SMOOTHING`): ``p_s = mean_{s x s}(p)``;
- the probability threshold ``t`` that maximises the pooled F1 ``2 TP / (2 TP + FP + FN)``
  over all out-of-fold pixels;
- the minimum size of a kept change blob (8-connected, pixels, from :data:`MIN_SIZES`).

With ``stages = 2`` (auto-context, Tu & Bai 2010, "Auto-context and its application to
high-level vision tasks and 3D brain image segmentation", IEEE TPAMI 32(10)) a second
classifier sees the features plus the context of the first one's probability ``p``: ``p``,
its means over :data:`CONTEXT_WINDOWS` and its 5 x 5 maximum. It is trained on the
*out-of-fold* ``p`` of the training pairs (from first-stage models that did not see the pair)
and its own out-of-fold maps, over the same inner folds, are what the choices above are made
on. Each stage's final classifier is then trained on all training pairs.

Tree hyper-parameters are fixed a priori (:data:`HGB_PARAMS`). Training rows are a seeded
sample per pair: up to ``rows_per_pair / 2`` changed and as many unchanged pixels, so every
pair (city) weighs about the same and the rare change class is not swamped; the threshold
absorbs the class prior this sampling changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = [
    "CONTEXT_WINDOWS",
    "HGB_PARAMS",
    "MIN_SIZES",
    "SMOOTHING",
    "PixelChangeModel",
    "Scores",
    "fit_pixel_model",
    "pixel_scores",
]

HGB_PARAMS: dict[str, Any] = {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31,
                              "min_samples_leaf": 50, "l2_regularization": 1.0,
                              "early_stopping": False}
SMOOTHING = (1, 3, 5)
CONTEXT_WINDOWS = (3, 7, 15, 31)
MIN_SIZES = (0, 4, 9)
_GRID = np.linspace(0.0, 1.0, 401)


@dataclass(frozen=True)
class Scores:
    """Pixel counts of a binary change map against the truth, and the usual ratios:
    precision ``TP / (TP + FP)``, recall ``TP / (TP + FN)``, F1 ``2 TP / (2 TP + FP + FN)``
    (0 where the denominator is 0)."""

    tp: int
    fp: int
    fn: int

    def __add__(self, other: Scores) -> Scores:
        return Scores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0


def pixel_scores(predicted: np.ndarray, truth: np.ndarray) -> Scores:
    """:class:`Scores` of the boolean map ``predicted`` against the boolean ``truth``."""
    p = np.asarray(predicted, dtype=bool)
    t = np.asarray(truth, dtype=bool)
    return Scores(int(np.sum(p & t)), int(np.sum(p & ~t)), int(np.sum(~p & t)))


def _smooth(prob: np.ndarray, size: int) -> np.ndarray:
    return prob if size <= 1 else ndimage.uniform_filter(prob, size=size, mode="reflect")


def _drop_small(mask: np.ndarray, min_size: int) -> np.ndarray:
    """``mask`` without its 8-connected blobs of fewer than ``min_size`` pixels."""
    if min_size <= 1 or not mask.any():
        return mask
    lab, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    keep = sizes >= min_size
    keep[0] = False
    return keep[lab]


def _context(prob: np.ndarray) -> np.ndarray:
    """Auto-context features of a probability map (Tu & Bai 2010): the probability, its mean
    over windows of side :data:`CONTEXT_WINDOWS` and its maximum over 5 x 5: ``(H, W, K)``."""
    layers = [prob, *(ndimage.uniform_filter(prob, size=s, mode="reflect")
                      for s in CONTEXT_WINDOWS), ndimage.maximum_filter(prob, size=5)]
    return np.stack(layers, axis=-1).astype(np.float32)


def _stage_input(features: np.ndarray, prob: np.ndarray | None) -> np.ndarray:
    return features if prob is None else np.concatenate([features, _context(prob)], axis=-1)


@dataclass(frozen=True)
class PixelChangeModel:
    """A fitted pixel change classifier: ``classifiers`` over ``feature_names`` (each one
    after the first also sees the auto-context of the previous one's probability); a pixel
    is changed when the last probability averaged over a ``smoothing``-sided window exceeds
    ``threshold`` and its blob has at least ``min_size`` pixels. ``inner_f1`` is the pooled
    out-of-fold F1 on the training pairs at these settings (the nested choice)."""

    classifiers: tuple[HistGradientBoostingClassifier, ...]
    feature_names: tuple[str, ...]
    threshold: float
    smoothing: int
    min_size: int
    inner_f1: float

    def probability(self, features: np.ndarray) -> np.ndarray:
        """The change probability of every pixel of ``(H, W, F)`` features, smoothed:
        ``(H, W)`` float32."""
        prob: np.ndarray | None = None
        for clf in self.classifiers:
            prob = _raw_probability(clf, _stage_input(features, prob))
        assert prob is not None
        return _smooth(prob, self.smoothing)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The boolean change map of ``(H, W, F)`` features."""
        return _drop_small(self.probability(features) > self.threshold, self.min_size)


def _raw_probability(clf: HistGradientBoostingClassifier, features: np.ndarray) -> np.ndarray:
    h, w, f = features.shape
    rows = features.reshape(-1, f)
    out = np.empty(h * w, dtype=np.float32)
    step = 200_000
    for i in range(0, h * w, step):  # bounded memory of the predicted block
        out[i:i + step] = clf.predict_proba(rows[i:i + step])[:, 1]
    return out.reshape(h, w)


def _sample(truth: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of up to ``n / 2`` changed and ``n / 2`` unchanged pixels (seeded)."""
    t = truth.ravel()
    pos, neg = np.flatnonzero(t), np.flatnonzero(~t)
    return np.concatenate([rng.choice(pos, min(n // 2, pos.size), replace=False),
                           rng.choice(neg, min(n // 2, neg.size), replace=False)])


def _rows(features: np.ndarray, truth: np.ndarray, pick: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    return features.reshape(-1, features.shape[-1])[pick], truth.ravel()[pick]


def _train(rows: Sequence[tuple[np.ndarray, np.ndarray]], seed: int,
           params: dict[str, Any]) -> HistGradientBoostingClassifier:
    x = np.concatenate([r[0] for r in rows])
    y = np.concatenate([r[1] for r in rows])
    if y.all() or not y.any():
        raise ValueError("training rows need both changed and unchanged pixels")
    clf = HistGradientBoostingClassifier(**{**HGB_PARAMS, **params}, random_state=seed)
    return clf.fit(x, y)


def _best_threshold(probs: Sequence[np.ndarray], truths: Sequence[np.ndarray]
                    ) -> tuple[float, float]:
    """The threshold on :data:`_GRID` maximising the pooled F1 of ``p > t``, and that F1
    (counts from histograms of the changed and unchanged pixels' probabilities)."""
    pos = np.zeros(_GRID.size - 1)
    neg = np.zeros(_GRID.size - 1)
    for p, t in zip(probs, truths, strict=True):
        pos += np.histogram(p[t], bins=_GRID)[0]
        neg += np.histogram(p[~t], bins=_GRID)[0]
    tp = pos[::-1].cumsum()[::-1]  # pixels in bins >= i: predicted changed at t = _GRID[i]
    fp = neg[::-1].cumsum()[::-1]
    fn = pos.sum() - tp
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    best = int(np.argmax(f1))
    return float(_GRID[best]), float(f1[best])


def fit_pixel_model(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    feature_names: Sequence[str],
    *,
    inner_folds: int = 3,
    rows_per_pair: int = 20_000,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    stages: int = 1,
) -> PixelChangeModel:
    """Fit a :class:`PixelChangeModel` to ``pairs`` of ``(features (H, W, F), truth (H, W)
    bool)`` (one per labelled image pair), with the nested choice of smoothing, threshold and
    minimum blob size described in the module docstring. Needs ``inner_folds >= 2`` and at
    least as many pairs; ``params`` override :data:`HGB_PARAMS`."""
    if inner_folds < 2 or len(pairs) < inner_folds:
        raise ValueError(f"need inner_folds >= 2 and at least that many pairs, got "
                         f"{inner_folds} folds and {len(pairs)} pairs")
    if stages < 1:
        raise ValueError(f"stages must be >= 1, got {stages}")
    rng = np.random.default_rng(seed)
    picks = [_sample(t, rows_per_pair, rng) for _, t in pairs]
    fold_of = np.random.default_rng(seed + 1).permutation(len(pairs)) % inner_folds
    classifiers: list[HistGradientBoostingClassifier] = []
    oof: list[np.ndarray | None] = [None] * len(pairs)
    for _ in range(stages):
        # each stage sees the features and the auto-context of the previous stage's
        # out-of-fold probability (never of a model that trained on the pixel's own pair)
        inputs = [_stage_input(f, p) for (f, _), p in zip(pairs, oof, strict=True)]
        rows = [_rows(x, t, pick) for x, (_, t), pick in zip(inputs, pairs, picks, strict=True)]
        new_oof: list[np.ndarray | None] = [None] * len(pairs)
        for k in range(inner_folds):
            clf = _train([r for r, g in zip(rows, fold_of, strict=True) if g != k], seed,
                         params or {})
            for i in np.flatnonzero(fold_of == k).tolist():
                new_oof[i] = _raw_probability(clf, inputs[i])
        classifiers.append(_train(rows, seed, params or {}))
        oof = new_oof
        del inputs, rows
    final = [p for p in oof if p is not None]
    truths = [t for _, t in pairs]
    best: tuple[float, int, float, int] = (-1.0, 1, 0.5, 0)  # f1, smoothing, threshold, size
    for size in SMOOTHING:
        smoothed = [_smooth(p, size) for p in final]
        thr, _ = _best_threshold(smoothed, truths)
        for min_size in MIN_SIZES:
            total = Scores(0, 0, 0)
            for p, t in zip(smoothed, truths, strict=True):
                total = total + pixel_scores(_drop_small(p > thr, min_size), t)
            if total.f1 > best[0]:
                best = (total.f1, size, thr, min_size)
    return PixelChangeModel(tuple(classifiers), tuple(feature_names), threshold=best[2],
                            smoothing=best[1], min_size=best[3], inner_f1=best[0])
