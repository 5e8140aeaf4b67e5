"""The Remote Sensing Ecological Index, RSEI (Xu 2013), computed in passes over blocks (pure).

Xu, H. (2013). A remote sensing urban ecological index and its application. *Acta Ecologica
Sinica* 33(24), 7853–7862. Four components, each from a growing-season composite:

=========== =============================== ==========================================
component   indicator                       meaning for ecological quality
=========== =============================== ==========================================
greenness   NDVI                            higher is better
wetness     tasseled-cap wetness            higher is better
heat        land surface temperature (°C)   higher is worse
dryness     NDBSI (built-up + bare soil)    higher is worse
=========== =============================== ==========================================

Water is masked first (MNDWI above ``water_threshold``): large water bodies dominate the
wetness and heat components and would skew the principal components. Each component is
min-max normalised to [0, 1] over the (non-water) area; a principal component analysis of the
four normalised components is fitted on a seeded random sample of pixels and its first
component PC1 is applied to every pixel. PC1 is oriented so that greenness loads positive
(Xu's RSEI0 = 1 − PC1 states the same orientation for an eigenvector pointing the other way),
and rescaled to [0, 1] over the area: ``RSEI = (PC1 − min) / (max − min)``. Five classes of
width 0.2: 1 poor, 2 fair, 3 moderate, 4 good, 5 excellent.

The computation needs the whole area for three things (component ranges, the PCA sample, the
PC1 range), so a product runs it in passes over blocks: :func:`block_summary` per block, then
:func:`fit`, then :func:`pc1` per block for the PC1 range, then :func:`rsei` per block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CLASS_NAMES",
    "COMPONENTS",
    "BlockSummary",
    "RseiModel",
    "block_summary",
    "classify",
    "fit",
    "merge_summaries",
    "pc1",
    "rsei",
]

COMPONENTS: tuple[str, ...] = ("greenness", "wetness", "heat", "dryness")
CLASS_NAMES: dict[int, str] = {1: "poor", 2: "fair", 3: "moderate", 4: "good", 5: "excellent"}
#: class value of pixels without an RSEI (water, no data)
NODATA_CLASS = 0


@dataclass(frozen=True)
class BlockSummary:
    """What one block contributes to the fit: per-component minimum and maximum over its valid
    pixels, its number of valid pixels, and a sample of them (``(n, 4)`` raw components)."""

    minimum: np.ndarray
    maximum: np.ndarray
    valid: int
    sample: np.ndarray


def _valid(stack: np.ndarray, water: np.ndarray | None) -> np.ndarray:
    ok = np.isfinite(stack).all(axis=0)
    return ok if water is None else ok & ~water


def block_summary(
    stack: np.ndarray,
    water: np.ndarray | None,
    *,
    fraction: float,
    seed: int,
    block: Sequence[int] = (0, 0),
) -> BlockSummary:
    """Summary of one block: ``stack`` is ``(4, h, w)`` raw components (COMPONENTS order), NaN
    where unknown; ``water`` True where masked. ``fraction`` of the valid pixels is sampled with
    a generator seeded by ``seed`` and the block's position (reproducible, order-free)."""
    ok = _valid(stack, water)
    values = stack[:, ok].T  # (n, 4)
    n = len(values)
    if n == 0:
        nan = np.full(len(COMPONENTS), np.nan)
        return BlockSummary(nan, nan, 0, np.empty((0, len(COMPONENTS))))
    rng = np.random.default_rng([seed, *map(int, block)])
    take = min(n, int(np.ceil(fraction * n))) if fraction < 1 else n
    pick = np.sort(rng.choice(n, size=take, replace=False)) if take < n else np.arange(n)
    return BlockSummary(values.min(axis=0), values.max(axis=0), n, values[pick])


def merge_summaries(parts: Sequence[BlockSummary]) -> BlockSummary:
    """The whole area's summary from its blocks' (in a fixed order: the sample's order)."""
    used = [p for p in parts if p.valid > 0]
    if not used:
        nan = np.full(len(COMPONENTS), np.nan)
        return BlockSummary(nan, nan, 0, np.empty((0, len(COMPONENTS))))
    return BlockSummary(
        np.min([p.minimum for p in used], axis=0),
        np.max([p.maximum for p in used], axis=0),
        sum(p.valid for p in used),
        np.concatenate([p.sample for p in used]),
    )


@dataclass(frozen=True)
class RseiModel:
    """The fitted index: component ranges, the PCA and PC1's orientation and range."""

    minimum: np.ndarray  # per component, for min-max normalisation
    maximum: np.ndarray
    mean: np.ndarray  # of the normalised sample (PCA centring)
    loadings: np.ndarray  # PC1 eigenvector, oriented so greenness loads positive
    explained: np.ndarray  # explained variance ratio of PC1..PC4
    components: np.ndarray  # all four eigenvectors (rows), PC1 oriented
    sample_size: int
    pc1_min: float = np.nan
    pc1_max: float = np.nan

    def normalise(self, stack: np.ndarray) -> np.ndarray:
        """Min-max normalise ``(4, ...)`` raw components to [0, 1] with the area's ranges."""
        shape = (len(COMPONENTS),) + (1,) * (stack.ndim - 1)
        span = (self.maximum - self.minimum).reshape(shape)
        return (stack - self.minimum.reshape(shape)) / np.where(span > 0, span, np.nan)


def fit(summary: BlockSummary, seed: int = 0) -> RseiModel:
    """Fit the PCA on the normalised sample; PC1 oriented so greenness loads positive."""
    from sklearn.decomposition import PCA

    from rs.errors import EmptyProductError

    if summary.valid == 0 or len(summary.sample) < len(COMPONENTS) + 1:
        raise EmptyProductError(
            "RSEI: too few valid (non-water, cloud-free) pixels to fit the principal components"
        )
    base = RseiModel(summary.minimum, summary.maximum, np.zeros(4), np.zeros(4), np.zeros(4),
                     np.zeros((4, 4)), len(summary.sample))
    norm = base.normalise(summary.sample.T).T
    flat = ~np.isfinite(norm).all(axis=0)
    if flat.any():
        names = [c for c, f in zip(COMPONENTS, flat, strict=True) if f]
        raise EmptyProductError(f"RSEI: component(s) {names} are constant over the area")
    pca = PCA(n_components=len(COMPONENTS), svd_solver="full", random_state=seed).fit(norm)
    comps = pca.components_.copy()
    if comps[0, COMPONENTS.index("greenness")] < 0:
        comps[0] *= -1
    return RseiModel(summary.minimum, summary.maximum, pca.mean_, comps[0],
                     pca.explained_variance_ratio_, comps, len(summary.sample))


def pc1(model: RseiModel, stack: np.ndarray, water: np.ndarray | None) -> np.ndarray:
    """PC1 score of every pixel of a ``(4, h, w)`` block (NaN for water and no data)."""
    norm = model.normalise(stack)
    score = np.tensordot(model.loadings, norm - model.mean.reshape(4, 1, 1), axes=1)
    score[~_valid(stack, water)] = np.nan
    return score.astype(np.float64)


def rsei(model: RseiModel, score: np.ndarray) -> np.ndarray:
    """RSEI in [0, 1]: PC1 rescaled with the area's PC1 range (``model.pc1_min/max``)."""
    span = model.pc1_max - model.pc1_min
    if not np.isfinite(span) or span <= 0:
        raise ValueError("RSEI: the PC1 range is not set or is empty; set pc1_min/pc1_max")
    return np.clip((score - model.pc1_min) / span, 0.0, 1.0)


def classify(index: np.ndarray) -> np.ndarray:
    """Five classes of width 0.2 (1 poor .. 5 excellent), 0 where the index is NaN."""
    # x * 5 (not x / 0.2): 0.6 / 0.2 is 2.999... in binary floating point
    out = np.clip(np.floor(np.nan_to_num(index, nan=0.0) * 5 + 1e-9).astype(np.int16) + 1, 1, 5)
    out = out.astype(np.uint8)
    out[~np.isfinite(index)] = NODATA_CLASS
    return out
