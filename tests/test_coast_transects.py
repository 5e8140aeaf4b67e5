"""Transects and shoreline positions along them: known answers, a brute-force reference, bad
input. The end-to-end tests use the synthetic curved coast of ``test_coast_shoreline``."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPoint

from rs.coast import transects as tr_mod
from rs.coast.shoreline import extract_shoreline
from rs.coast.transects import REASONS, Transects, cast_transects, intersect, intersect_frames
from rs.errors import SpecError
from tests.test_coast_shoreline import CENTRE, PX, SHAPE, R, T, coast, scene

UTM = "EPSG:32756"


def _one(origin=(0.0, 0.0), end=(300.0, 0.0), ids=("A",)) -> Transects:
    frame = gpd.GeoDataFrame({"id": list(ids)}, geometry=[LineString([origin, end])], crs=UTM)
    return Transects.from_frame(frame)


def landward_arc(offset: float = 300.0) -> LineString:
    """An arc of the circle ``offset`` outside the coast (on land), walking north: the sea
    (the circle's inside) is on its left."""
    ys = np.linspace(T.f - 0.95 * SHAPE[0] * PX, T.f - 0.05 * SHAPE[0] * PX, 200) - CENTRE[1]
    th = np.arcsin(ys / (R + offset))
    return LineString(np.column_stack([CENTRE[0] + (R + offset) * np.cos(th),
                                       CENTRE[1] + (R + offset) * np.sin(th)]))


def coast_transects() -> gpd.GeoDataFrame:
    return cast_transects(landward_arc(), 50.0, 500.0, side="left", start=25.0, crs=UTM)


# --- casting -------------------------------------------------------------------------------------


def test_cast_transects__straight_baseline_sides_offset_and_ids() -> None:
    base = LineString([(0, 0), (500, 0), (1000, 0)])
    right = cast_transects(base, 100.0, 200.0, crs=UTM)
    assert list(right["id"]) == [f"T{k:02d}" for k in range(11)]
    np.testing.assert_allclose(right["baseline_distance"], np.arange(0, 1001, 100))
    tr = Transects.from_frame(right)
    np.testing.assert_allclose(tr.origin, np.column_stack([np.arange(0, 1001, 100), np.zeros(11)]))
    np.testing.assert_allclose(tr.direction, np.tile([0.0, -1.0], (11, 1)), atol=1e-12)
    np.testing.assert_allclose(tr.length, 200.0)
    assert right.crs == UTM
    left = Transects.from_frame(cast_transects(base, 100.0, 200.0, side="left",
                                               landward_offset=10.0, id_prefix="N"))
    assert left.ids[0] == "N00"
    np.testing.assert_allclose(left.direction, np.tile([0.0, 1.0], (11, 1)), atol=1e-12)
    np.testing.assert_allclose(left.origin[:, 1], -10.0)  # behind the baseline, landward


def test_cast_transects__normal_to_a_curved_baseline() -> None:
    tr = Transects.from_frame(coast_transects())
    radial = np.asarray(CENTRE) - tr.origin
    radial /= np.hypot(radial[:, 0], radial[:, 1])[:, None]
    cos = (tr.direction * radial).sum(axis=1)
    assert len(tr) > 15 and cos.min() > np.cos(np.radians(0.5))  # pointing at the sea, normal
    with pytest.raises(SpecError, match="seaward side"):
        cast_transects(landward_arc(), 50.0, 500.0, side="up")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="one LineString"):
        cast_transects(shapely.MultiLineString([landward_arc()]), 50.0, 500.0)


# --- positions: known answers --------------------------------------------------------------------


@pytest.mark.parametrize("angle", [0.0, 45.0])
def test_intersect__median_of_the_vertices_in_the_band(angle: float) -> None:
    # (along, cross) of the vertices on a transect from (0, 0), 300 m long, rotated by `angle`
    pts = np.array([(100, 5), (120, -3), (160, 10), (130, 24.9), (140, 30), (500, 0), (-20, 0),
                    (-3, 10), (303, -10)], dtype=float)  # the last two inside the band's bbox
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    rot = np.array([[c, -s], [s, c]])
    xy = pts @ rot.T
    transect = _one(end=tuple(rot @ (300.0, 0.0)))
    res = intersect([MultiPoint(xy)], transect)
    inside = np.array([100, 120, 160, 130.0])
    assert res.chainage[0, 0] == pytest.approx(np.median(inside))  # 125
    assert res.n_points[0, 0] == 4
    assert res.std[0, 0] == pytest.approx(inside.std())
    q75, q25 = np.percentile(inside, [75, 25])
    assert res.iqr[0, 0] == pytest.approx(q75 - q25)
    assert res.range[0, 0] == pytest.approx(60.0)
    assert res.reason[0, 0] == 0 and res.reason_text()[0, 0] == ""
    # CoastSat's extent: behind the origin and beyond the end count too
    wide = intersect([xy], transect, min_chainage=-100, max_chainage=1000)
    assert wide.n_points[0, 0] == 8 and wide.chainage[0, 0] == pytest.approx(125.0)


def test_intersect__a_wiggly_shoreline_crossing_three_times_gives_the_median() -> None:
    # crosses the transect (y = 0) at x = 100, 120 and 160
    zigzag = LineString([(90, -20), (110, 20), (130, -20), (150, -20), (170, 20), (170, 200)])
    res = intersect([zigzag], _one(), band_m=20.0)
    v = shapely.get_coordinates(shapely.segmentize(zigzag, 10.0))
    near = v[np.abs(v[:, 1]) <= 20.0]
    assert res.chainage[0, 0] == pytest.approx(np.median(near[:, 0]))
    assert 100 < res.chainage[0, 0] < 160 and res.n_points[0, 0] == len(near) > 10
    # quality control: too spread, too few -> NaN with the reason
    qc = intersect([zigzag, zigzag, zigzag], _one(), band_m=20.0)
    strict = [
        intersect([zigzag], _one(), band_m=20.0, max_std=5.0),
        intersect([zigzag], _one(), band_m=20.0, max_range=30.0),
        intersect([zigzag], _one(), band_m=20.0, min_points=1000),
    ]
    assert np.isfinite(qc.chainage).all()
    for r, why in zip(strict, ("max_std", "max_range", "min_points"), strict=True):
        assert np.isnan(r.chainage[0, 0]) and why in r.reason_text()[0, 0]


def test_intersect__a_transect_that_never_crosses_is_nan_with_a_reason() -> None:
    frame = gpd.GeoDataFrame(
        {"id": ["hit", "miss"]},
        geometry=[LineString([(0, 0), (300, 0)]), LineString([(0, 500), (300, 500)])], crs=UTM,
    )
    line = LineString([(150, -100), (150, 100)])
    res = intersect_frames(gpd.GeoDataFrame({"date": ["d1", "d2"]},
                                            geometry=[line, None], crs=UTM), frame)
    assert res.chainage[0, 0] == pytest.approx(150.0) and np.isnan(res.chainage[0, 1])
    assert res.reason_text()[0, 1] == REASONS[2] and "band_m" in REASONS[2]
    assert (res.reason_text()[1] == "no shoreline for this date").all()
    long = res.to_long()
    assert list(long.columns) == ["date", "transect_id", "chainage", "n_points", "std", "iqr",
                                  "range", "reason"]
    assert long.shape == (4, 8) and long.loc[1, "transect_id"] == "miss"
    wide = res.to_wide()
    assert list(wide.columns) == ["dates", "hit", "miss"] and wide["dates"].tolist() == ["d1", "d2"]


# --- end to end on the synthetic coast -----------------------------------------------------------


def test_positions__a_moved_shoreline_moves_every_transect_by_that_distance() -> None:
    shift = 37.0
    lines = [extract_shoreline(scene(seed, radius=R + dr), T, reference=coast()).geometry
             for seed, dr in ((6, 0.0), (7, shift))]
    tr = Transects.from_frame(coast_transects())
    res = intersect(lines, tr)
    assert np.isfinite(res.chainage).all() and (res.n_points >= 3).all()
    # the coast is 300 m from the landward baseline
    assert np.abs(res.chainage[0] - 300.0).max() <= 0.2 * PX
    change = res.chainage[1] - res.chainage[0]  # water grew: the shoreline moved landward
    assert np.abs(change + shift).max() <= 0.2 * PX


def test_positions__transects_under_a_cloud_get_no_position() -> None:
    bands = scene(8)
    cloud = np.zeros(SHAPE, bool)
    cloud[40:60, 60:100] = True
    for b in bands:
        bands[b][cloud] = np.nan
    sl = extract_shoreline(bands, T, reference=coast(), cloud_buffer_m=25.0)
    assert sl.n_cloud_segments == 2
    tr = Transects.from_frame(coast_transects())
    res = intersect([sl], tr)
    # transects whose band (±25 m) lies well inside the cloud's rows have no vertex near them
    rows = (T.f - tr.origin[:, 1]) / PX - 0.5
    under = (rows > 40 + 2.5 + 2.5) & (rows < 60 - 1 - 2.5 - 2.5)
    clear = (rows < 40 - 5) | (rows > 60 + 5)
    assert under.sum() >= 2 and np.isnan(res.chainage[0, under]).all()
    assert (res.reason_text()[0, under] == REASONS[2]).all()
    assert np.abs(res.chainage[0, clear] - 300.0).max() <= 0.2 * PX


def test_positions__shoreline_in_lonlat_is_reprojected_to_the_transects_crs() -> None:
    line = extract_shoreline(scene(9), T, reference=coast()).geometry
    transects = coast_transects()
    utm = gpd.GeoDataFrame({"date": ["2020-01-01"]}, geometry=[line], crs=UTM)
    lonlat = utm.to_crs("EPSG:4326")
    assert lonlat.crs.is_geographic
    a = intersect_frames(utm, transects)
    b = intersect_frames(lonlat, transects)
    assert np.isfinite(a.chainage).all()
    np.testing.assert_allclose(b.chainage, a.chainage, atol=1e-3)
    np.testing.assert_array_equal(b.n_points, a.n_points)
    # and not by accident: read as UTM numbers, lon/lat would be nowhere near the transects
    wrong = intersect_frames(lonlat.set_crs(UTM, allow_override=True), transects)
    assert np.isnan(wrong.chainage).all()


# --- the vectorised path against a brute-force loop (CoastSat's per-pair algorithm) -------------


def _brute(vertices: list[np.ndarray], tr: Transects, band: float) -> np.ndarray:
    out = np.full((len(vertices), len(tr)), np.nan)
    for i, xy in enumerate(vertices):
        for j in range(len(tr)):
            rel = xy - tr.origin[j]
            along = rel @ tr.direction[j]
            cross = rel[:, 1] * tr.direction[j, 0] - rel[:, 0] * tr.direction[j, 1]
            sel = (np.abs(cross) <= band) & (along >= 0) & (along <= tr.length[j])
            if sel.any():
                out[i, j] = np.median(along[sel])
    return out


def test_intersect__equals_a_pairwise_loop_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    tr = Transects.from_frame(cast_transects(LineString([(0, 0), (2000, 300)]), 40.0, 400.0))
    base = tr.origin + tr.direction * 150.0
    vertices = []
    for _ in range(7):  # noisy shorelines, several crossings near some transects
        t = np.linspace(0, 1, 900)
        xy = base[0] + np.outer(t, base[-1] - base[0])
        xy += rng.normal(0, 15, xy.shape) + np.outer(np.sin(t * 40), tr.direction[0] * 40)
        vertices.append(xy)
    monkeypatch.setattr(tr_mod, "CHUNK_VERTICES", 2000)  # several chunks of dates
    res = intersect(vertices, tr, band_m=25.0)
    np.testing.assert_allclose(res.chainage, _brute(vertices, tr, 25.0), rtol=0, atol=1e-9)
    assert np.isfinite(res.chainage).mean() > 0.9


def test_sort_groups__float_key_and_lexsort_agree() -> None:
    rng = np.random.default_rng(2)
    key = rng.integers(0, 50, 5000)
    along = rng.uniform(-100, 1000, 5000)
    fast = tr_mod._sort_groups(key, along, -100.0, 1000.0, 50)
    exact = tr_mod._sort_groups(key, along, -100.0, 1000.0, 10**15)  # float too coarse: lexsort
    order = np.lexsort((along, key))
    for got in (fast, exact):
        np.testing.assert_array_equal(got[0], key[order])
        np.testing.assert_array_equal(got[1], along[order])


# --- bad input -----------------------------------------------------------------------------------


def test_frames__bad_input_is_a_clear_error() -> None:
    good = gpd.GeoDataFrame({"id": ["a"]}, geometry=[LineString([(0, 0), (1, 0)])], crs=UTM)
    shore = gpd.GeoDataFrame({"date": ["d"]}, geometry=[LineString([(0, 0), (1, 1)])], crs=UTM)
    with pytest.raises(SpecError, match=r"no column 'name'.*id_column"):
        Transects.from_frame(good, "name")
    with pytest.raises(SpecError, match="'a' repeats"):
        Transects.from_frame(gpd.GeoDataFrame({"id": ["a", "a"]}, geometry=[good.geometry[0]] * 2))
    with pytest.raises(SpecError, match="not a LineString"):
        Transects.from_frame(gpd.GeoDataFrame({"id": ["p"]}, geometry=[shapely.Point(0, 0)]))
    with pytest.raises(SpecError, match="zero length"):
        Transects.from_frame(gpd.GeoDataFrame({"id": ["z"]},
                                              geometry=[LineString([(0, 0), (0, 0)])]))
    with pytest.raises(SpecError, match="transects have no CRS"):
        intersect_frames(shore, good.set_crs(None, allow_override=True))
    with pytest.raises(SpecError, match="geographic CRS"):
        intersect_frames(shore, good.to_crs("EPSG:4326"))
    with pytest.raises(SpecError, match="shorelines have no CRS"):
        intersect_frames(shore.set_crs(None, allow_override=True), good)
    with pytest.raises(SpecError, match=r"no column 'date'.*date_column"):
        intersect_frames(shore.rename(columns={"date": "when"}), good)
