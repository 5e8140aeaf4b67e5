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

from rs.change.chain import coverage_by_zone, detect_changes, patch_statistics
from rs.change.detect import (
    BANDS,
    DetectConfig,
    change_mask,
    change_patches,
    clean_mask,
    clip_to_protected,
    features,
    fit_change,
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
    The fraction of pixels beyond the chi-square 1 - alpha quantile is alpha (measured: 0.0485
    and 0.0097 for seed 3), and the statistic's quantiles follow chi-square(p)."""
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


# --- blocks -----------------------------------------------------------------------------------


class _NoHalo(DetectConfig):
    @property
    def halo(self) -> int:
        return 0


@pytest.fixture(scope="module")
def whole(world: World) -> tuple:
    model = fit_change(world.before, world.after, DetectConfig(mmu_m2=MMU))
    mask = change_mask(world.before, world.after, model, block_size=10_000)
    patches = change_patches(world.before, world.after, T, CRS, model=model, block_size=10_000)
    return model, mask, patches


@pytest.mark.parametrize("block", [23, 64])
def test_blocks__mask_and_patches_do_not_depend_on_block_size(
    world: World, whole: tuple, block: int
) -> None:
    model, ref_mask, ref = whole
    np.testing.assert_array_equal(change_mask(world.before, world.after, model, block), ref_mask)
    got = change_patches(world.before, world.after, T, CRS, model=model, block_size=block)
    assert len(got) == len(ref) > 20
    np.testing.assert_allclose(got["area_m2"], ref["area_m2"])
    for g, r in zip(got.geometry, ref.geometry, strict=True):
        assert g.symmetric_difference(r).area == 0


def test_blocks__the_declared_halo_is_needed(world: World, whole: tuple) -> None:
    """Without the halo the morphology sees the block edge: the tiled mask differs."""
    model = fit_change(world.before, world.after, _NoHalo(mmu_m2=MMU))
    tiled = change_mask(world.before, world.after, model, block_size=23)
    assert (tiled != whole[1]).sum() > 0


def test_blocks__lazy_dask_inputs_give_the_same_patches(world: World, whole: tuple) -> None:
    """Dask-backed DataArrays: only samples and block windows are computed."""
    import dask.array as da
    import xarray as xr

    lazy = [
        {k: xr.DataArray(da.from_array(v, chunks=60), dims=("y", "x")) for k, v in d.items()}
        for d in (world.before, world.after)
    ]
    model, _, ref = whole
    got = change_patches(*lazy, T, CRS, model=model, block_size=120)
    assert len(got) == len(ref)
    np.testing.assert_allclose(got["area_m2"], ref["area_m2"])
    refit = fit_change(*lazy, DetectConfig(mmu_m2=MMU))
    assert refit.threshold == pytest.approx(model.threshold)


# --- protected polygons -----------------------------------------------------------------------


def _split_world() -> tuple[World, gpd.GeoDataFrame]:
    """The planted world plus a 20 x 30 px roof at rows 100..120, cols 200..230 of a wider
    grid, and two zones of a reserve whose boundary x = 502 234 m cuts it 34 / 66 % (core
    left); the zones are given in lon/lat, the grid in UTM."""
    w = make_world(seed=5)
    rng = np.random.default_rng(6)
    for j, band in enumerate(BANDS):  # 80 columns of forest, drift and noise added
        forest = BACKGROUND["forest"][j]
        for d, v in ((w.before, forest), (w.after, forest * 1.04 + 0.004)):
            pad = v + 0.008 * rng.normal(size=(d[band].shape[0], 80))
            d[band] = np.hstack([d[band], pad.astype(np.float32)])
    w.truth = np.pad(w.truth, ((0, 0), (0, 80)))
    roof = np.zeros_like(w.truth, bool)
    roof[100:120, 250:280] = True
    for j, band in enumerate(BANDS):
        w.after[band][roof] = PLANTED["roof"][j]
    w.truth[roof] = 999
    x_cut = 500_000 + 250 * PIX + 0.34 * 300
    top, bottom = 3_500_000 - 60 * PIX, 3_500_000 - 160 * PIX
    core = box(500_000 + 240 * PIX, bottom, x_cut, top)
    buffer = box(x_cut, bottom, 500_000 + 320 * PIX, top)
    zones = gpd.GeoDataFrame(
        {"name": ["Demo NR", "Demo NR"], "level": ["national"] * 2, "zone": ["core", "buffer"]},
        geometry=[core, buffer],
        crs=CRS,
    ).to_crs("EPSG:4326")
    return w, zones


def test_protected__a_patch_across_a_boundary_keeps_both_parts_shares_and_zones() -> None:
    w, zones = _split_world()
    det = detect_changes(w.before, w.after, T, CRS, zones, config=DetectConfig(mmu_m2=MMU))
    parts = det.parts
    assert set(parts["zone"]) == {"core", "buffer"}
    assert (parts["reserve"] == "Demo NR").all() and (parts["level"] == "national").all()
    # the roof is the only patch inside the zones
    assert parts["patch_id"].nunique() == 1 and len(parts) == 2
    share = dict(zip(parts["zone"], parts["share"], strict=True))
    # measured: 601 px detected for the 600 planted (one noise pixel on the edge)
    assert share["core"] == pytest.approx(0.34, abs=5e-3)
    assert share["buffer"] == pytest.approx(0.66, abs=5e-3)
    assert sum(share.values()) == pytest.approx(1.0)
    assert parts["area_m2"].sum() == pytest.approx(parts["patch_area_m2"].iloc[0], rel=1e-6)
    assert parts["patch_area_m2"].iloc[0] == pytest.approx(600 * PIX * PIX, rel=0.01)
    # statistics: the roof replaced grass/forest/crop, NDVI fell and NDBI rose in both parts
    assert (parts["ndvi_delta"] < -0.3).all() and (parts["ndbi_delta"] > 0.2).all()
    roof = dict(zip(BANDS, PLANTED["roof"], strict=True))
    ndvi_roof = (roof["nir"] - roof["red"]) / (roof["nir"] + roof["red"])
    np.testing.assert_allclose(parts["ndvi_after"], ndvi_roof, atol=0.02)
    assert parts["n_pixels"].sum() == round(parts["patch_area_m2"].iloc[0] / PIX**2)
    # the mean decision statistic of a changed part is far above the threshold
    assert (parts["statistic_mean"] > 3 * det.model.threshold).all()
    assert (parts["magnitude_mean"] > 0).all()
    assert det.coverage is not None and (det.coverage["uncovered_m2"] == 0).all()
    # the centroid in lon/lat is the part's centroid transformed
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    for g, lon, lat in zip(parts.geometry, parts["lon"], parts["lat"], strict=True):
        assert (lon, lat) == pytest.approx(to_ll.transform(g.centroid.x, g.centroid.y))


def test_protected__no_polygons_means_whole_patches_with_share_one(world: World) -> None:
    det = detect_changes(world.before, world.after, T, CRS, config=DetectConfig(mmu_m2=MMU))
    assert len(det.parts) == len(det.patches) > 0
    assert (det.parts["share"] == 1.0).all()
    cols = {"patch_id", "area_m2", "patch_area_m2", "share", "lon", "lat", "n_pixels"}
    assert cols <= set(det.parts.columns)
    assert {
        f"{k}_{s}" for k in ("ndvi", "ndbi", "bsi", "mndwi") for s in ("before", "after", "delta")
    } <= set(det.parts.columns)


def test_protected__clip_needs_the_columns_and_a_crs() -> None:
    patches = gpd.GeoDataFrame(
        {"patch_id": [0], "area_m2": [1.0]}, geometry=[box(0, 0, 1, 1)], crs=CRS
    )
    with pytest.raises(ValueError, match="column"):
        clip_to_protected(
            patches, gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 1, 1)], crs=CRS)
        )
    nocrs = gpd.GeoDataFrame(
        {"name": ["a"], "level": ["x"], "zone": ["core"]}, geometry=[box(0, 0, 1, 1)]
    )
    with pytest.raises(ValueError, match="CRS"):
        clip_to_protected(patches, nocrs)


def test_patch_statistics__nan_pixels_are_left_out(world: World) -> None:
    """Means are over the pixels valid on both dates, so a delta compares like with like."""
    before = {k: v.copy() for k, v in world.before.items()}
    patches = change_patches(before, world.after, T, CRS, config=DetectConfig(mmu_m2=MMU))
    ref = patch_statistics(patches, before, world.after, T)
    before["red"][:, :120] = np.nan
    out = patch_statistics(patches, before, world.after, T)
    left = patches.geometry.bounds["maxx"] <= 500_000 + 120 * PIX
    right = patches.geometry.bounds["minx"] >= 500_000 + 120 * PIX
    assert left.any() and right.any()
    assert out.loc[left, ["ndvi_before", "ndvi_after", "ndvi_delta"]].isna().all().all()
    cols = ["ndvi_before", "ndvi_after", "ndvi_delta", "bsi_delta"]
    np.testing.assert_allclose(out.loc[right, cols], ref.loc[right, cols])


def test_no_data__no_patch_is_invented_where_a_date_has_no_value(world: World) -> None:
    after = {k: v.copy() for k, v in world.after.items()}
    for v in after.values():
        v[:80, :] = np.nan  # the top two rows of cells have no clear observation after
    model = fit_change(world.before, after, DetectConfig(mmu_m2=MMU))
    patches = change_patches(world.before, after, T, CRS, model=model, block_size=64)
    assert (patches.geometry.bounds["maxy"] <= 3_500_000 - 80 * PIX).all()
    below = [
        k for k, a in world.areas.items() if a >= MMU and (world.truth == k).any(axis=1)[80:].any()
    ]
    assert len(patches) >= len(below) - 1 > 10


def test_geographic_grid__areas_in_square_metres(world: World) -> None:
    """A lon/lat grid (0.0001° pixels at 30° N): patch areas are geodesic m², i.e. each patch's
    area is its pixel count times the geodesic area of one pixel there (~11.1 x 9.6 m
    ≈ 106.9 m²), and the MMU applies in m²."""
    from pyproj import Geod

    t = Affine(1e-4, 0, 120.0, 0, -1e-4, 30.0)
    patches = change_patches(
        world.before, world.after, t, "EPSG:4326", config=DetectConfig(mmu_m2=MMU)
    )
    stats_ = patch_statistics(patches, world.before, world.after, t)
    px = abs(Geod(ellps="WGS84").geometry_area_perimeter(box(120.0, 29.99, 120.0001, 29.9901))[0])
    assert 100 < px < 110
    np.testing.assert_allclose(stats_["area_m2"] / stats_["n_pixels"], px, rtol=2e-3)
    assert (patches["area_m2"] >= MMU).all() and len(patches) > 20


def test_coverage__uncovered_area_per_zone() -> None:
    """The after date has no value over columns 250..260 of the split world: the core zone
    (x 502 400..502 602) loses 10 of its ~20 columns over its 100 rows, the buffer none."""

    w, zones = _split_world()
    for v in w.after.values():
        v[:, 250:260] = np.nan
    cov = coverage_by_zone(w.before, w.after, T, CRS, zones, block_size=64)
    row = cov.set_index("zone")
    assert list(cov.columns) == [
        "reserve",
        "level",
        "zone",
        "area_m2",
        "uncovered_m2",
        "uncovered_fraction",
    ]
    assert row.loc["core", "uncovered_m2"] == pytest.approx(10 * 100 * PIX * PIX, rel=5e-3)
    assert row.loc["buffer", "uncovered_m2"] == 0.0
    assert row.loc["core", "uncovered_fraction"] == pytest.approx(1000 / (20.2 * 100), rel=5e-3)


def test_no_change__pure_noise_gives_no_patch() -> None:
    """Independent random spectra per pixel, drift and noise between the dates, nothing
    planted: the chi-square false alarms (alpha 0.01; measured 0.92 % of the pixels) are all
    removed by the opening (measured: 0 % after clean-up, 0 patches here and on 1024 x 1024
    pixels)."""
    rng = np.random.default_rng(11)
    bg = rng.uniform(0.02, 0.4, (256, 256, 6))
    before = {k: bg[..., j] + 0.008 * rng.normal(size=(256, 256)) for j, k in enumerate(BANDS)}
    after = {
        k: bg[..., j] * 1.04 + 0.004 + 0.008 * rng.normal(size=(256, 256))
        for j, k in enumerate(BANDS)
    }
    model = fit_change(before, after)
    fb, fa = features(before), features(after)
    raw = np.mean(model.statistic(fb, fa) > model.threshold)
    assert 0.005 < raw < 0.015
    cleaned = np.mean(change_mask(before, after, model, 64))
    assert cleaned < 0.001
    assert len(change_patches(before, after, T, CRS, model=model)) == 0


# --- the large-grid paths: float32 band-first statistic, windowed fit sample -------------------


def test_irmad__planar_float32_statistic_equals_the_float64_one() -> None:
    """What a block computes (``chi2_planar``: band-first float32, two matrix products) equals
    the reference ``chi2`` to float32 rounding, NaN where an input is."""
    rng = np.random.default_rng(5)
    s = rng.normal(0.2, 0.05, size=(30_000, 6))
    m = fit_irmad(s + 0.01 * rng.normal(size=s.shape), 1.1 * s + 0.01 * rng.normal(size=s.shape))
    x = rng.normal(0.2, 0.05, size=(6, 70, 90)).astype(np.float32)
    y = (1.1 * x + 0.02 * rng.normal(size=x.shape)).astype(np.float32)
    y[:, :5, :5] += 0.3  # changed pixels: large statistics
    x[3, 40, 40] = np.nan
    ref = m.chi2(np.moveaxis(x, 0, -1).astype(np.float64), np.moveaxis(y, 0, -1).astype(np.float64))
    got = m.chi2_planar(x, y)
    assert got.shape == (70, 90) and got.dtype == np.float32
    assert np.isnan(got[40, 40]) and np.isnan(ref[40, 40])
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-4, atol=1e-4)
    assert ref[:5, :5].min() > 100  # the check covers large values too


def test_fit__a_large_grid_is_sampled_in_tile_aligned_windows() -> None:
    from rs.change.detect import SAMPLE_WINDOW, _sample_windows

    wins = _sample_windows((20_000, 20_000), 250_000)
    n = int(np.ceil(np.sqrt(250_000) / SAMPLE_WINDOW))
    assert len(wins) == n * n
    cells = set()
    for rows, cols in wins:
        for sl in (rows, cols):
            assert sl.start % SAMPLE_WINDOW == 0 and sl.stop - sl.start == SAMPLE_WINDOW
            assert sl.start // 512 == (sl.stop - 1) // 512  # inside one 512-pixel tile
        cells.add((rows.start * n // 20_000, cols.start * n // 20_000))
    assert len(cells) == n * n  # one window in every cell of the lattice
    assert 250_000 <= len(wins) * SAMPLE_WINDOW**2 < 1.2 * 250_000
    (rows, cols), = _sample_windows((1_500, 1_800), 250_000)  # small: one strided read
    assert rows.step == cols.step == 4 and rows.start is None  # ceil(sqrt(2.7e6 / 250e3))


def test_fit__windowed_sample_still_finds_the_planted_patches(world: World, monkeypatch) -> None:
    """The fit on a lattice of windows (scaled down to this world: 16 windows of 16²) gives a
    rule that meets the goals like the strided sample; the reads are the windows."""
    import rs.change.detect as detect

    monkeypatch.setattr(detect, "SAMPLE_WINDOW", 16)
    monkeypatch.setattr(detect, "WINDOWED_ABOVE", 4)
    reads: list[tuple[slice, slice]] = []
    real = detect._read

    def spy(comp, rows, cols):
        reads.append((rows, cols))
        return real(comp, rows, cols)

    monkeypatch.setattr(detect, "_read", spy)
    model = fit_change(world.before, world.after, DetectConfig(mmu_m2=MMU, max_samples=4000))
    assert len(reads) == 2 * 16 and all(r.stop - r.start == 16 for r, _ in reads)
    patches = change_patches(world.before, world.after, T, CRS, model=model, block_size=64)
    recall, precision, missed, false = _match(world, patches)
    assert recall >= 0.95, missed
    assert precision >= 0.90, false
