"""Sub-pixel shorelines against a synthetic scene whose land/water edge is known exactly.

The scene: a circular coast of radius R (gently curved, 200 px) through a 100 x 150 px grid of
10 m pixels. Each pixel mixes water and land reflectance by its water fraction, a logistic of the
signed distance of its centre to the circle (a smooth point-spread edge), plus seeded noise.
Water and land are chosen with the same green + swir16, so MNDWI is linear in the water fraction
and the 50 % mix (the true edge) has MNDWI 0; Otsu on a buffer symmetric about the coast finds
about 0 too.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from shapely.geometry import Point

from rs.coast.shoreline import (
    extract_shoreline,
    otsu_threshold,
    pixel_to_map,
    shoreline_from_index,
    water_index,
)
from rs.errors import SpecError

PX = 10.0
T = Affine(PX, 0, 340_000.0, 0, -PX, 6_270_000.0)
SHAPE = (100, 150)
R = 200 * PX
# circle centre left of the scene, so the coast runs top to bottom near column ~80, concave seaward
CENTRE = (T.c - 120 * PX, T.f - 50.3 * PX)
WATER = {"green": 0.20, "swir16": 0.05, "nir": 0.03, "swir22": 0.02, "blue": 0.10}
LAND = {"green": 0.05, "swir16": 0.20, "nir": 0.30, "swir22": 0.15, "blue": 0.06}
CLOUD = {"green": 0.40, "swir16": 0.30, "nir": 0.40, "swir22": 0.25, "blue": 0.45}


def _centres() -> tuple[np.ndarray, np.ndarray]:
    rr, cc = np.indices(SHAPE, dtype=float)
    return T.c + (cc + 0.5) * PX, T.f - (rr + 0.5) * PX


def scene(seed: int = 0, radius: float = R, noise: float = 0.004) -> dict[str, np.ndarray]:
    """Bands of the synthetic coast: water inside the circle (left), land outside."""
    x, y = _centres()
    signed_px = (radius - np.hypot(x - CENTRE[0], y - CENTRE[1])) / PX  # > 0 in the water
    f = 1.0 / (1.0 + np.exp(-signed_px / 0.45))
    rng = np.random.default_rng(seed)
    return {
        b: (f * WATER[b] + (1 - f) * LAND[b] + rng.normal(0, noise, SHAPE)).astype(np.float32)
        for b in WATER
    }


def coast(radius: float = R, offset: float = 0.0) -> shapely.LineString:
    return Point(CENTRE).buffer(radius + offset, quad_segs=256).exterior


def rmse_px(vertices: np.ndarray, radius: float = R) -> float:
    d = np.hypot(vertices[:, 0] - CENTRE[0], vertices[:, 1] - CENTRE[1]) - radius
    return float(np.sqrt(np.mean(d**2)) / PX)


def test_pixel_to_map__index_zero_is_the_first_pixel_centre() -> None:
    x, y = pixel_to_map(np.array([0.0, 2.5]), np.array([0.0, 1.0]), T)
    np.testing.assert_allclose(x, [T.c + 5.0, T.c + 15.0])
    np.testing.assert_allclose(y, [T.f - 5.0, T.f - 30.0])
    # a rotated grid: the same convention through the whole affine, and 6-tuples accepted
    rot = Affine.rotation(30) @ Affine.scale(2.0)
    t = Affine.translation(100.0, 50.0) @ rot
    x, y = pixel_to_map(np.array([3.0]), np.array([4.0]), tuple(t)[:6])
    assert (x[0], y[0]) == pytest.approx(t @ (4.5, 3.5))


def test_water_indices__formulas() -> None:
    b = {k: np.full((2, 2), v, np.float32) for k, v in WATER.items()}
    assert water_index(b)[0, 0] == pytest.approx((0.20 - 0.05) / 0.25)
    assert water_index(b, "ndwi")[0, 0] == pytest.approx((0.20 - 0.03) / 0.23)
    assert water_index(b, "awei_nsh")[0, 0] == pytest.approx(4 * 0.15 - (0.25 * 0.03 + 2.75 * 0.02))
    sh = 0.10 + 2.5 * 0.20 - 1.5 * (0.03 + 0.05) - 0.25 * 0.02
    assert water_index(b, "awei_sh")[0, 0] == pytest.approx(sh)
    b["green"][0, 1] = np.nan
    b["green"][1, 1] = -0.05  # zero denominator
    out = water_index(b)
    assert np.isnan(out[0, 1]) and np.isnan(out[1, 1]) and out.dtype == np.float32


def test_water_index__unknown_index_or_missing_band_is_a_clear_error() -> None:
    with pytest.raises(SpecError, match="unknown water index 'mndwi2'"):
        water_index({"green": np.zeros((2, 2))}, "mndwi2")
    with pytest.raises(SpecError, match="missing: swir16"):
        water_index({"green": np.zeros((2, 2))}, "mndwi")


def test_otsu_threshold__splits_two_modes_and_nan_without_contrast() -> None:
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.normal(-0.5, 0.05, 5000), rng.normal(0.5, 0.05, 5000), [np.nan]])
    assert otsu_threshold(v) == pytest.approx(0.0, abs=0.05)
    assert np.isnan(otsu_threshold(np.ones(10)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shoreline__sub_pixel_position_on_a_curved_coast(seed: int) -> None:
    res = extract_shoreline(scene(seed), T, crs="EPSG:32756", reference=coast(offset=30.0))
    assert res.threshold == pytest.approx(0.0, abs=0.03)  # Otsu near the true 50 % index
    assert res.n_segments == 1 and res.reason is None and res.crs == "EPSG:32756"
    assert res.n_vertices > 100  # the coast crosses all 100 rows
    assert rmse_px(res.vertices) <= 0.2
    # a fixed threshold at the true 50 % mix too
    fixed = extract_shoreline(scene(seed), T, threshold=0.0, reference=coast())
    assert fixed.threshold == 0.0 and rmse_px(fixed.vertices) <= 0.2


def test_shoreline__moved_coast_moves_by_the_same_distance() -> None:
    shift = 37.0  # m, 3.7 px
    res = extract_shoreline(scene(3, radius=R + shift), T, reference=coast())
    assert rmse_px(res.vertices, R + shift) <= 0.2
    assert rmse_px(res.vertices, R) > 3.0


def test_shoreline__cloud_over_the_coast_drops_the_segments_near_it() -> None:
    bands = scene(4)
    cloud = np.zeros(SHAPE, bool)
    cloud[40:60, 60:100] = True  # over the coast (column ~80)
    for b in bands:
        bands[b][cloud] = CLOUD[b]  # bright cloud: its edge would cross the threshold on land
    clear = extract_shoreline(scene(4), T, reference=coast())
    res = extract_shoreline(bands, T, reference=coast(), invalid=cloud, cloud_buffer_m=25.0)
    assert res.n_cloud_segments == 2  # the contour's ends on either side of the cloud
    assert res.n_cloud_vertices > 0 and res.n_segments == 2
    assert res.n_vertices < clear.n_vertices - 20  # about 20 rows of coast lost
    assert rmse_px(res.vertices) <= 0.2  # nothing follows the cloud's edge
    rows, cols = np.nonzero(cloud)
    cx, cy = pixel_to_map(rows, cols, T)
    v = res.vertices
    d = np.hypot(v[:, None, 0] - cx[None], v[:, None, 1] - cy[None]).min(axis=1)
    assert d.min() > 25.0
    assert res.masked_fraction > 0.05
    # the same cloud as NaN (nodata) instead of a mask: same result
    for b in bands:
        bands[b][cloud] = np.nan
    nan = extract_shoreline(bands, T, reference=coast(), cloud_buffer_m=25.0)
    assert (nan.n_cloud_segments, nan.n_vertices) == (2, res.n_vertices)
    # unmasked, the bright cloud's edge becomes shoreline: the test can tell
    bad = extract_shoreline(scene(4) | {b: np.where(cloud, CLOUD[b], scene(4)[b]) for b in bands},
                            T, threshold=0.0, reference=coast())
    assert rmse_px(bad.vertices) > 0.5


def test_shoreline__vertices_outside_the_reference_buffer_are_dropped() -> None:
    bands = scene(5)
    x, y = _centres()
    lake = np.hypot(x - (T.c + 130 * PX), y - (T.f - 30 * PX)) < 60  # a pond inland
    for b in bands:
        bands[b][lake] = WATER[b]
    everything = extract_shoreline(bands, T, threshold=0.0, reference_buffer_m=None)
    assert everything.n_segments == 2 and rmse_px(everything.vertices) > 1.0
    near = extract_shoreline(bands, T, threshold=0.0, reference=coast(), reference_buffer_m=100)
    assert near.n_segments == 1 and near.n_outside_reference > 20
    assert rmse_px(near.vertices) <= 0.2


def test_shoreline__missing_reference_names_the_option() -> None:
    with pytest.raises(SpecError, match=r"reference shoreline.*`reference`.*reference_buffer_m"):
        extract_shoreline(scene(), T)


def test_shoreline__min_length_and_empty_results_say_why() -> None:
    res = extract_shoreline(scene(), T, reference=coast(), min_length_m=5_000.0)
    assert res.n_segments == 0 and res.n_short_segments == 1 and res.geometry.is_empty
    assert "too short" in (res.reason or "")
    allcloud = shoreline_from_index(np.full(SHAPE, np.nan), T, reference=coast())
    assert allcloud.geometry.is_empty and np.isnan(allcloud.threshold)
    assert "no land/water contrast" in (allcloud.reason or "")
    away = extract_shoreline(scene(), T, reference=shapely.LineString([(0, 0), (1, 1)]))
    assert away.geometry.is_empty and "does not reach the scene" in (away.reason or "")
    land = shoreline_from_index(np.full(SHAPE, -0.5), T, threshold=0.0, reference=coast())
    assert land.n_contours == 0 and "does not cross" in (land.reason or "")
