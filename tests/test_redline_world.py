"""rs.testing.redline_world: planted human activity and confusers around the demo red lines."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import ndimage

from rs.change.features import shape_features
from rs.change.typing_model import TYPES
from rs.errors import SpecError
from rs.testing import (
    ACTIVITY_TYPES,
    CONFUSER_KINDS,
    DEFAULT_GRID,
    REDLINE_PERIODS,
    HumanActivity,
    ThinCloud,
    World,
    WorldConfig,
    demo_aois,
    generate_redline_world,
    redline_events,
    redline_truth,
    redline_world_config,
)
from rs.testing.redline_world import GAP_M

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")


@pytest.fixture(scope="module")
def config() -> WorldConfig:
    return redline_world_config()


@pytest.fixture(scope="module")
def truth(config: WorldConfig) -> gpd.GeoDataFrame:
    return redline_truth(config)


@pytest.fixture(scope="module")
def composites(config: WorldConfig) -> dict[str, dict[str, np.ndarray]]:
    """Median clear-sky reflectance of each period (in memory: nothing is written)."""
    world = World(Path("unused"), config)
    out = {}
    for name, (start, end) in REDLINE_PERIODS.items():
        idx = [i for i, t in enumerate(world.datetimes) if start <= t.date() <= end]
        refl = [world.clear_reflectance(i) for i in idx]
        out[name] = {b: np.median(np.stack([r[b] for r in refl]), axis=0) for b in BANDS}
    return out


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b) / (a + b)


def _indices(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "ndvi": _nd(c["nir"], c["red"]),
        "ndbi": _nd(c["swir16"], c["nir"]),
        "mndwi": _nd(c["green"], c["swir16"]),
        "bsi": _nd(c["swir16"] + c["red"], c["nir"] + c["blue"]),
        "blue": c["blue"],
    }


def test_redline_events__every_type_planted_at_least_four_times(truth: gpd.GeoDataFrame) -> None:
    assert ACTIVITY_TYPES == TYPES
    human = truth[truth["human_activity"]]
    counts = human["event_type"].value_counts()
    assert set(counts.index) == set(TYPES)
    assert (counts >= 4).all()
    confusers = truth[~truth["human_activity"]]["event_type"].value_counts()
    assert set(confusers.index) == set(CONFUSER_KINDS)
    assert (confusers >= 2).all()


def test_redline_truth__columns_crs_and_start_dates(truth: gpd.GeoDataFrame) -> None:
    assert truth.crs is not None and truth.crs.to_epsg() == 4326
    for col in ("event_id", "event_type", "human_activity", "start_date", "area_m2",
                "placement", "protected", "geometry"):
        assert col in truth.columns
    assert truth["event_id"].is_unique
    assert truth.geometry.is_valid.all()
    before_end, after_start = REDLINE_PERIODS["before"][1], REDLINE_PERIODS["after"][0]
    for row in truth.itertuples():
        start = date.fromisoformat(row.start_date)
        if row.event_type == "thin_cloud":
            assert start == after_start
        else:
            assert before_end < start < after_start, row.event_id


def test_redline_truth__placements_as_designed(truth: gpd.GeoDataFrame) -> None:
    human = truth[truth["human_activity"]]
    # names are <type>_<k>_<designed placement>
    designed = [i[len(t) + 1:].split("_", 1)[1]
                for i, t in zip(human["event_id"], human["event_type"], strict=True)]
    assert designed == human["placement"].tolist()
    for t in TYPES:
        p = human.loc[human["event_type"] == t, "placement"].value_counts()
        assert p.get("inside", 0) >= 2 and p.get("outside", 0) >= 3
        assert p.get("zone_boundary", 0) + p.get("redline_boundary", 0) == 1
    assert {"zone_boundary", "redline_boundary"} <= set(human["placement"])
    inside = human["placement"] != "outside"
    assert inside.sum() == (~inside).sum()
    # the touched areas really are protected polygons, and outside means no contact at all
    red = demo_aois().redlines
    assert (human.loc[~inside, "protected"] == "").all()
    assert set(";".join(human.loc[inside, "protected"]).split(";")) <= set(red["name"])
    outside = human[~inside].geometry
    assert not outside.intersects(shapely.union_all(list(red.geometry))).any()


def test_redline_truth__no_overlaps_and_areas(config: WorldConfig,
                                              truth: gpd.GeoDataFrame) -> None:
    local = truth.to_crs(DEFAULT_GRID.crs).geometry.tolist()
    for a in range(len(local)):
        for b in range(a + 1, len(local)):
            # pixel outlines can be half a pixel nearer each other than the planted polygons
            assert local[a].distance(local[b]) >= GAP_M - 10
    masks = [ev.truth(DEFAULT_GRID).mask for ev in config.resolved_events()]
    assert np.sum(masks, axis=0).max() == 1
    assert (truth["area_m2"] >= 3000).all()
    assert truth["area_m2"].max() <= 80_000
    assert truth["area_m2"].to_numpy() == pytest.approx([m.sum() * 100.0 for m in masks])


def test_redline_truth__shapes_typical_of_each_type(truth: gpd.GeoDataFrame) -> None:
    human = truth[truth["human_activity"]].to_crs(DEFAULT_GRID.crs)
    shp = pd.DataFrame([shape_features(g) for g in human.geometry], index=human.index)
    kind = human["event_type"]
    assert (shp.loc[kind == "road", "elongation"] > 5).all()
    assert (shp.loc[kind == "construction", "elongation"] < 3).all()
    assert (shp.loc[kind == "farmland_reclamation", "area_m2"] >= 15_000).all()
    assert (shp.loc[kind == "farmland_reclamation", "rectangularity"] > 0.8).all()
    mining = shp.loc[kind == "mining", "rectangularity"].mean()
    construction = shp.loc[kind == "construction", "rectangularity"].mean()
    assert mining < construction
    # roads are 2-4 pixels wide: area / length of the skeleton
    for g in human.geometry[kind == "road"]:
        ring = g.minimum_rotated_rectangle.exterior.coords
        length = max(shapely.LineString(ring[i:i + 2]).length for i in range(2))
        assert 20 <= g.area / length <= 45


def test_redline_world__after_state_has_each_types_signature(
    config: WorldConfig, composites: dict[str, dict[str, np.ndarray]]
) -> None:
    before, after = _indices(composites["before"]), _indices(composites["after"])
    for ev in config.resolved_events():
        m = ev.truth(DEFAULT_GRID).mask
        b = {k: float(v[m].mean()) for k, v in before.items()}
        a = {k: float(v[m].mean()) for k, v in after.items()}
        t = ev.truth(DEFAULT_GRID).rows[0]["event_type"]
        if t in TYPES:
            assert b["ndvi"] > 0.6, ev.name  # vegetated before
        if t == "construction":
            assert a["ndbi"] - b["ndbi"] > 0.25 and a["ndvi"] < 0.15 and a["blue"] > 0.15
        elif t == "mining":
            assert a["bsi"] > 0.1 and a["ndvi"] < 0.15 and a["ndbi"] > 0.05
        elif t == "road":
            assert a["ndvi"] < 0.15 and a["ndbi"] > 0.05
        elif t == "farmland_reclamation":
            assert b["ndvi"] - a["ndvi"] > 0.25 and 0.25 < a["ndvi"] < 0.6
        elif t == "water_engineering":
            assert b["mndwi"] < 0 < a["mndwi"]
        elif t == "vegetation_loss":
            assert a["ndvi"] < 0.3 and a["bsi"] > 0.1
        elif t == "phenology":  # greener or browner, never built or bare
            assert abs(a["ndvi"] - b["ndvi"]) > 0.1 and a["ndvi"] > 0.5 and a["ndbi"] < 0
        elif t == "thin_cloud":  # brighter in the blue, still vegetation underneath
            # the haze thins out over its outer 5 px: its designed opacity (0.3 of the cirrus
            # spectrum, blue +0.08) is in the interior, whatever the patch's size
            core = ndimage.distance_transform_edt(m) >= 5
            blue = float(after["blue"][core].mean() - before["blue"][core].mean())
            assert blue > 0.05 and a["blue"] - b["blue"] > 0.02 and a["ndvi"] > 0.5
        else:  # water_level: the shore strip flips between water and land
            assert (b["mndwi"] > 0) != (a["mndwi"] > 0)


def test_thin_cloud__unmasked_and_present_on_most_after_dates(config: WorldConfig) -> None:
    world = World(Path("unused"), config)
    start, end = REDLINE_PERIODS["after"]
    idx = [i for i, t in enumerate(world.datetimes) if start <= t.date() <= end]
    clouds = [ev for ev in config.resolved_events() if isinstance(ev, ThinCloud)]
    assert len(clouds) >= 2
    for ev in clouds:
        present = [ev.present(world.datetimes[i].date()) for i in idx]
        assert sum(present) >= 0.7 * len(idx)
        assert not any(ev.present(t.date()) for t in world.datetimes if t.date() < start)
    i = next(i for i in idx if clouds[0].present(world.datetimes[i].date()))
    m = clouds[0].truth(DEFAULT_GRID).mask
    scl = np.repeat(np.repeat(world.scl(i), 2, 0), 2, 1)
    hazy = m & ~world.cloud_mask(i) & ~world.shadow_mask(i)
    assert hazy.sum() > 0.5 * m.sum()
    assert not np.isin(scl[hazy], (8, 9, 10)).any()  # the haze is not flagged


def test_redline_world_config__periods_hold_the_same_days_of_year(config: WorldConfig) -> None:
    days = {}
    for name, (start, end) in REDLINE_PERIODS.items():
        days[name] = [(t.month, t.day) for t in config.datetimes() if start <= t.date() <= end]
    assert len(days["before"]) >= 10 and days["before"] == days["after"]
    assert REDLINE_PERIODS["before"][1] < REDLINE_PERIODS["after"][0]


def test_redline_world__deterministic_for_a_seed_and_layouts_differ(config: WorldConfig) -> None:
    assert redline_world_config() == config
    again = WorldConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    other = redline_events(layout_seed=1)
    assert [e.to_dict() for e in other] != [e.to_dict() for e in config.resolved_events()]
    t1 = redline_truth(redline_world_config(layout_seed=1))
    assert (t1[t1["human_activity"]]["event_type"].value_counts() >= 4).all()
    a = shapely.union_all(list(redline_truth(config).to_crs(DEFAULT_GRID.crs).geometry))
    b = shapely.union_all(list(t1.to_crs(DEFAULT_GRID.crs).geometry))
    assert a.intersection(b).area < 0.5 * a.area


def test_human_activity__refuses_unknown_type_and_round_trips() -> None:
    poly = ((660100.0, 3551900.0), (660200.0, 3551900.0), (660200.0, 3551800.0))
    with pytest.raises(SpecError, match="activity"):
        HumanActivity("x", "golf_course", poly, date(2022, 1, 1))
    with pytest.raises(SpecError, match="from_class"):
        HumanActivity("x", "road", poly, date(2022, 1, 1), from_class=5)
    ev = HumanActivity("x", "mining", poly, date(2022, 1, 1))
    assert ev.from_class == 2  # forest, the type's default
    assert HumanActivity.from_dict(ev.to_dict()) == ev


def test_generate_redline_world__writes_truth_and_is_cached(tmp_path: Path,
                                                            config: WorldConfig) -> None:
    small = replace(config, n_dates=2)  # the layout of the demo, only two dates
    world = generate_redline_world(tmp_path, small)
    assert len(world.item_paths()) == 2 and all(p.exists() for p in world.item_paths())
    events = gpd.read_file(tmp_path / "truth" / "events.geojson")
    assert len(events) == len(config.resolved_events())
    assert set(events["event_type"]) == set(TYPES) | set(CONFUSER_KINDS)
    for kind in ("human_activity", "phenology", "thin_cloud", "water_level"):
        assert (tmp_path / "truth" / f"{kind}.tif").exists()
    stamp = (tmp_path / "world.json").stat().st_mtime_ns
    generate_redline_world(tmp_path, small)
    assert (tmp_path / "world.json").stat().st_mtime_ns == stamp


def test_parse_spec__embedded_redline_demo(tmp_path: Path) -> None:
    from rs.pipeline.source import redline_world_root
    from rs.pipeline.spec import EMBEDDED_DEMOS, parse_spec

    spec = parse_spec(
        {
            "name": "redline",
            "sources": {"s2": {"embedded": "redline-demo", "collections": ["sentinel-2-l2a"]}},
            "aoi": "region.geojson",
            "periods": {
                name: {"start": str(a), "end": str(b)} for name, (a, b) in REDLINE_PERIODS.items()
            },
            "steps": [{"id": "composite", "kind": "composite"}],
            "output": "out",
        },
        base=tmp_path,
    )
    assert "redline-demo" in EMBEDDED_DEMOS
    assert spec.sources["s2"].embedded == "redline-demo"  # a demo, not a folder
    assert redline_world_root().name == "redline-world"
