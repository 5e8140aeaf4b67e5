"""RSEI (rs.ecology.rsei and the product's component step) against an independent computation.

The reference below computes the same definition with its own formulas and numpy's
eigen-decomposition of the covariance matrix: NDVI; Landsat 8 OLI tasseled-cap wetness;
heat = the thermal band in °C; NDBSI = (IBI + SI) / 2 (Xu 2013); min-max normalisation over
the non-water pixels; PC1 oriented so NDVI loads positive; rescaled to 0..1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rs.ecology.rsei import block_summary, classify, fit, merge_summaries, pc1, rsei
from rs.products.rsei import components

REAL = Path(__file__).resolve().parents[2] / "shared/data/real/optical"
SCENE = REAL / "landsat8_toa_LC80130312015295"
#: band -> Landsat 8 band number in the real scene's file names
FILES = {"blue": 2, "green": 3, "red": 4, "nir": 5, "swir16": 6, "swir22": 7, "thermal": 10}


def _reference(b: dict[str, np.ndarray], tcw: tuple[tuple[str, ...], np.ndarray]) -> np.ndarray:
    blue, green, red, nir, s1 = (b[k] for k in ("blue", "green", "red", "nir", "swir16"))
    ndvi = (nir - red) / (nir + red)
    names, coeffs = tcw
    wet = np.tensordot(coeffs, np.stack([b[n] for n in names]), axes=1)
    heat = b["thermal"] - 273.15
    si = ((s1 + red) - (nir + blue)) / ((s1 + red) + (nir + blue))
    ibi_a = 2 * s1 / (s1 + nir)
    ibi_b = nir / (nir + red) + green / (green + s1)
    ibi = (ibi_a - ibi_b) / (ibi_a + ibi_b)
    ndbsi = (ibi + si) / 2
    water = (green - s1) / (green + s1) > 0
    stack = np.stack([ndvi, wet, heat, ndbsi]).reshape(4, -1)
    ok = np.isfinite(stack).all(axis=0) & ~water.ravel()
    x = stack[:, ok]
    norm = (x - x.min(axis=1, keepdims=True)) / np.ptp(x, axis=1, keepdims=True)
    centred = norm - norm.mean(axis=1, keepdims=True)
    vals, vecs = np.linalg.eigh(np.cov(centred))
    v = vecs[:, np.argmax(vals)]
    v = v if v[0] > 0 else -v
    score = v @ centred
    out = np.full(stack.shape[1], np.nan)
    out[ok] = (score - score.min()) / np.ptp(score)
    return out.reshape(ndvi.shape)


def _rs(bands: dict[str, np.ndarray], blocks: int = 2) -> tuple[np.ndarray, object]:
    """rs's passes over ``blocks`` x ``blocks`` windows, all pixels sampled."""
    h, w = bands["red"].shape
    rows = np.array_split(np.arange(h), blocks)
    cols = np.array_split(np.arange(w), blocks)
    wins = [(r[0], c[0], len(r), len(c)) for r in rows for c in cols]

    def cut(win):
        r, c, hh, ww = win
        return components({k: v[r:r + hh, c:c + ww] for k, v in bands.items()},
                          "landsat-c2-l2", 0.0)

    parts = [block_summary(*cut(win), fraction=1.0, seed=0, block=win[:2]) for win in wins]
    model = fit(merge_summaries(parts))
    scores = {win: pc1(model, *cut(win)) for win in wins}
    import dataclasses

    model = dataclasses.replace(model, pc1_min=min(np.nanmin(s) for s in scores.values()),
                                pc1_max=max(np.nanmax(s) for s in scores.values()))
    out = np.full((h, w), np.nan)
    for (r, c, hh, ww), s in scores.items():
        out[r:r + hh, c:c + ww] = rsei(model, s)
    return out, model


def _tcw_landsat() -> tuple[tuple[str, ...], np.ndarray]:
    # Zhai et al. (2022), Landsat-8 OLI surface reflectance, wetness, bands B3 B4 B5 B6 B7
    names = ("green", "red", "nir", "swir16", "swir22")
    return names, np.array([0.2254, 0.3681, 0.2250, -0.6053, -0.6298])


def test_rsei__equals_an_independent_pca_on_a_real_landsat_scene():
    if not SCENE.is_dir():
        pytest.skip(f"real data not present: {SCENE}")
    import rasterio

    bands = {}
    for name, n in FILES.items():
        with rasterio.open(SCENE / f"LC80130312015295LGN00_B{n}_toa.tif") as ds:
            bands[name] = ds.read(1).astype(np.float64)
    bands["thermal"] = bands["thermal"] + 273.15  # the file's brightness temperature is in °C
    got, model = _rs(bands)
    want = _reference(bands, _tcw_landsat())
    assert np.isfinite(got).sum() > 40_000  # land pixels of the 508 x 458 crop (much is sea)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], atol=1e-4)
    # greenness good, dryness bad, as Xu reports for PC1 (heat loads near 0 on this late-October
    # scene: 0.06; Xu's negative heat loading is for growing-season images)
    load = dict(zip(("g", "w", "h", "d"), model.loadings, strict=True))
    assert load["g"] > 0 and load["d"] < 0
    assert model.explained[0] > 0.5


def test_rsei__synthetic_blocks_and_classes():
    rng = np.random.default_rng(3)
    h, w = 40, 50
    veg = np.linspace(0, 1, w)[None, :].repeat(h, axis=0)  # vegetation increases to the east
    bands = {
        "blue": 0.08 - 0.04 * veg, "green": 0.10 - 0.02 * veg, "red": 0.15 - 0.11 * veg,
        "nir": 0.20 + 0.25 * veg, "swir16": 0.30 - 0.12 * veg, "swir22": 0.25 - 0.15 * veg,
        "thermal": 310.0 - 12.0 * veg,
    }
    bands = {k: v + rng.normal(0, 0.002, v.shape) for k, v in bands.items()}
    bands["red"][:3, :3] = np.nan  # no data stays NaN
    one, _ = _rs(bands, blocks=1)
    four, _ = _rs(bands, blocks=3)
    np.testing.assert_allclose(one, four, atol=1e-12, equal_nan=True)  # blocks change nothing
    assert np.isnan(one[:3, :3]).all()
    assert np.nanmean(one[:, -5:]) > 0.8 and np.nanmean(one[:, :5]) < 0.2
    cls = classify(one)
    assert cls[0, 0] == 0 and cls[10, -1] == 5 and cls[10, 0] == 1
    np.testing.assert_array_equal(classify(np.array([0.0, 0.2, 0.39, 0.6, 0.99, 1.0])),
                                  [1, 2, 2, 4, 5, 5])


def test_rsei__sample_is_seeded_and_order_free():
    rng = np.random.default_rng(0)
    stack = rng.normal(size=(4, 30, 30))
    a = block_summary(stack, None, fraction=0.1, seed=7, block=(30, 60))
    b = block_summary(stack, None, fraction=0.1, seed=7, block=(30, 60))
    c = block_summary(stack, None, fraction=0.1, seed=8, block=(30, 60))
    np.testing.assert_array_equal(a.sample, b.sample)
    assert not np.array_equal(a.sample, c.sample)
    assert len(a.sample) == 90 and a.valid == 900
