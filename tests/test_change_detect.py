"""Change detection (rs.change.detect, rs.change.threshold) on a synthetic before/after pair with
planted patches of known area: rectangles (roofs), irregular blobs (pits), thin roads, and patches
below the minimum mapping unit, over a stable, textured background with radiometric drift and
noise between the dates."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from rasterio.features import rasterize
from scipy import ndimage, stats
from shapely.geometry import box

from rs.change.detect import (
    BANDS,
    DetectConfig,
    change_mask,
    change_patches,
    clean_mask,
    clip_to_protected,
    detect_changes,
    fit_change,
    patch_statistics,
)
from rs.change.threshold import fit_irmad, otsu_threshold

PIX = 10.0
T = Affine(PIX, 0, 500_000, 0, -PIX, 3_500_000)
CRS = "EPSG:32650"
MMU = 2000.0  # m², 20 pixels
CELL = 40
N = 6  # N x N cells of CELL pixels

# surface reflectance spectra (blue, green, red, nir, swir16, swir22)
BACKGROUND = {
    "forest": (0.03, 0.06, 0.04, 0.35, 0.18, 0.09),
    "grass": (0.05, 0.08, 0.07, 0.30, 0.25, 0.15),
    "crop": (0.05, 0.09, 0.08, 0.25, 0.22, 0.13),
}
PLANTED = {
    "roof": (0.20, 0.22, 0.24, 0.28, 0.32, 0.28),
    "pit": (0.12, 0.16, 0.20, 0.24, 0.33, 0.30),
    "road": (0.10, 0.12, 0.13, 0.17, 0.22, 0.20),
    "pond": (0.06, 0.07, 0.05, 0.03, 0.02, 0.01),
}


@dataclass
class World:
    before: dict[str, np.ndarray]
    after: dict[str, np.ndarray]
    truth: np.ndarray  # planted patch id per pixel, 0 none
    areas: dict[int, float]  # m² per planted id
    kinds: dict[int, str]


def _background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.random(shape), 8)
    classes = np.digitize(field, np.quantile(field, [1 / 3, 2 / 3]))
    spectra = np.array(list(BACKGROUND.values()))  # 3 x 6
    texture = 1.0 + 0.15 * (ndimage.gaussian_filter(rng.random(shape), 3) - 0.5) * 4
    return spectra[classes] * texture[..., None]  # (h, w, 6)


def _shape_in_cell(rng: np.random.Generator, kind: str, r0: int, c0: int) -> np.ndarray:
    yy, xx = np.mgrid[0:CELL, 0:CELL]
    m = np.zeros((CELL, CELL), bool)
    if kind == "rect":
        h, w = rng.integers(5, 18, 2)
        r, c = rng.integers(4, CELL - 4 - h), rng.integers(4, CELL - 4 - w)
        m[r : r + h, c : c + w] = True
    elif kind == "blob":
        for _ in range(rng.integers(2, 5)):
            cy, cx = rng.uniform(12, CELL - 12, 2)
            m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(3, 7) ** 2
    elif kind == "road":
        ang = rng.uniform(0, np.pi)
        d = np.abs((yy - CELL / 2) * np.cos(ang) - (xx - CELL / 2) * np.sin(ang))
        along = np.abs((yy - CELL / 2) * np.sin(ang) + (xx - CELL / 2) * np.cos(ang))
        m = (d <= rng.uniform(1.0, 1.5)) & (along <= 15)  # 2-3 px wide, 30 px long
    elif kind == "small":
        h, w = (3, 3) if rng.random() < 0.5 else (2, 4)
        m[18 : 18 + h, 18 : 18 + w] = True
    out = np.zeros((N * CELL, N * CELL), bool)
    out[r0 : r0 + CELL, c0 : c0 + CELL] = m
    return out


def make_world(seed: int = 0, noise: float = 0.008) -> World:
    rng = np.random.default_rng(seed)
    shape = (N * CELL, N * CELL)
    bg = _background(rng, shape)
    post = bg * 1.04 + 0.004  # radiometric drift between the dates, not change
    truth = np.zeros(shape, np.int32)
    kinds: dict[int, str] = {}
    cycle = ["rect", "blob", "road", "small"]
    for i in range(N * N):
        kind = cycle[i % 4]
        m = _shape_in_cell(rng, kind, (i // N) * CELL, (i % N) * CELL)
        spectrum = {"rect": "roof", "blob": "pit", "road": "road"}.get(kind)
        spectrum = spectrum or ("roof" if i % 8 == 3 else "pond")
        post[m] = np.array(PLANTED[spectrum]) * (1 + 0.05 * rng.normal(size=(int(m.sum()), 1)))
        truth[m] = i + 1
        kinds[i + 1] = kind
    b = bg + noise * rng.normal(size=bg.shape)
    a = post + noise * rng.normal(size=bg.shape)
    areas = {k: float((truth == k).sum()) * PIX * PIX for k in kinds}
    return World(
        {n: b[..., j].astype(np.float32) for j, n in enumerate(BANDS)},
        {n: a[..., j].astype(np.float32) for j, n in enumerate(BANDS)},
        truth,
        areas,
        kinds,
    )


def _match(world: World, patches: gpd.GeoDataFrame) -> tuple[float, float, list[int], list[int]]:
    """(object recall of planted patches >= MMU, object precision, missed ids, false patch
    ids): a planted patch is found when >= 50 % of it is covered by detected patches; a
    detected patch is true when >= 50 % of it is planted change."""
    shape = world.truth.shape
    det = np.zeros(shape, np.int32)
    if len(patches):
        det = rasterize(
            [(g, i + 1) for i, g in enumerate(patches.geometry)],
            out_shape=shape,
            transform=T,
            dtype="int32",
        )
    big = [k for k, a in world.areas.items() if a >= MMU]
    missed = [
        k for k in big if ((det > 0) & (world.truth == k)).sum() < 0.5 * (world.truth == k).sum()
    ]
    false = [
        i
        for i in range(1, len(patches) + 1)
        if ((det == i) & (world.truth > 0)).sum() < 0.5 * (det == i).sum()
    ]
    recall = 1 - len(missed) / len(big)
    precision = 1 - len(false) / max(1, len(patches))
    return recall, precision, missed, false


# --- thresholds -------------------------------------------------------------------------------


def test_otsu_threshold__splits_two_modes() -> None:
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.normal(0, 1, 5000), rng.normal(10, 1, 5000), [np.nan]])
    assert 3.0 < otsu_threshold(v) < 7.0
    assert np.isnan(otsu_threshold(np.ones(5)))


@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_irmad__no_change_statistic_is_chi_square_at_alpha(alpha: float) -> None:
    """Pure noise: the after date is a gain/offset of the before one plus independent noise.
    The fraction of pixels beyond the chi-square 1 - alpha quantile is alpha (measured: 0.0496
    and 0.0098 for seed 3), and the statistic's quantiles follow chi-square(p)."""
    rng = np.random.default_rng(3)
    n, p = 60_000, 6
    s = rng.normal(size=(n, p)) @ rng.normal(size=(p, p))
    x = s + 0.3 * rng.normal(size=(n, p))
    y = 1.1 * s + 0.2 + 0.3 * rng.normal(size=(n, p))
    m = fit_irmad(x, y)
    assert m.converged and m.dof == p
    z = m.chi2(x, y)
    rate = float((z > m.threshold(alpha)).mean())
    se = np.sqrt(alpha * (1 - alpha) / n)
    assert abs(rate - alpha) < 5 * se, rate
    qs = np.quantile(z, [0.25, 0.5, 0.75, 0.9])
    np.testing.assert_allclose(qs, stats.chi2.ppf([0.25, 0.5, 0.75, 0.9], p), rtol=0.04)


def test_irmad__finds_change_against_no_change() -> None:
    rng = np.random.default_rng(4)
    n, p = 20_000, 4
    x = rng.normal(size=(n, p))
    y = 0.9 * x + 0.1 * rng.normal(size=(n, p))
    y[:500] += 3.0  # 2.5 % changed
    m = fit_irmad(x, y)
    hit = m.chi2(x, y) > m.threshold(0.01)
    assert hit[:500].mean() > 0.99
    assert hit[500:].mean() < 0.02


# --- clean-up ---------------------------------------------------------------------------------


def test_clean_mask__drops_speckle_keeps_two_pixel_roads() -> None:
    yy, xx = np.mgrid[0:60, 0:60]
    road = np.abs((yy - 30) * np.cos(0.5) - (xx - 30) * np.sin(0.5)) <= 1.0  # 2 px wide
    rng = np.random.default_rng(2)
    speckle = rng.random((60, 60)) < 0.01
    out = clean_mask(road | speckle, 1, 1)
    assert out[road].mean() > 0.97
    assert (out & ~ndimage.binary_dilation(road, iterations=2)).sum() == 0
    # a square opening would have erased the road
    assert ndimage.binary_opening(road, np.ones((3, 3))).sum() < 0.2 * road.sum()


# --- planted patches --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


def test_planted_patches__object_recall_and_precision(world: World) -> None:
    """The default (IR-MAD, alpha 0.01) meets issue 7's goals on the planted world (measured:
    28 patches, recall 1.0, precision 1.0)."""
    patches = change_patches(
        world.before, world.after, T, CRS, config=DetectConfig(mmu_m2=MMU), block_size=64
    )
    recall, precision, missed, false = _match(world, patches)
    assert recall >= 0.95, missed
    assert precision >= 0.90, false


def test_planted_patches__otsu_baseline_misses_weak_roads(world: World) -> None:
    """Otsu on the change-vector magnitude: precise, but its split lies between no change and
    the strongest change, so two of the nine roads (weakest contrast) are lost (measured:
    recall 0.926, precision 1.0). Kept as the baseline, not the default."""
    cfg = DetectConfig(method="otsu", mmu_m2=MMU)
    patches = change_patches(world.before, world.after, T, CRS, config=cfg, block_size=64)
    recall, precision, missed, _ = _match(world, patches)
    assert precision >= 0.90
    assert 0.85 <= recall < 1.0
    assert all(world.kinds[k] == "road" for k in missed)


def test_planted_patches__below_mmu_dropped_and_areas_right(world: World) -> None:
    patches = change_patches(world.before, world.after, T, CRS, config=DetectConfig(mmu_m2=MMU))
    assert (patches["area_m2"] >= MMU).all()
    det = rasterize([(g, 1) for g in patches.geometry], out_shape=world.truth.shape, transform=T)
    small = [k for k, a in world.areas.items() if a < MMU]
    assert small
    for k in small:
        assert det[world.truth == k].sum() == 0, k
    # detected area against planted area, over the patches found
    planted = sum(a for a in world.areas.values() if a >= MMU)
    ratio = patches["area_m2"].sum() / planted
    print("area ratio", ratio)
    assert 0.9 < ratio < 1.1
