"""Seeded synthetic worlds for the demo and the tests (library code, deterministic for a seed).

>>> from rs.testing import generate_world, WorldConfig
>>> config = WorldConfig(width=128, height=128, n_dates=4)
>>> world = generate_world(tmp_path, config)  # doctest: +SKIP
>>> world.clear_reflectance(0)["nir"]  # the noise-free truth behind the files  # doctest: +SKIP
"""

from __future__ import annotations

from rs.testing._grid import DEFAULT_GRID, Grid
from rs.testing.activity import ACTIVITY_TYPES, HumanActivity
from rs.testing.aois import DemoAois, demo_aois, write_demo_aois
from rs.testing.confusers import CONFUSER_KINDS, PhenologyShift, ThinCloud, WaterLevel
from rs.testing.events import (
    Event,
    EventTruth,
    SceneState,
    VegetationLoss,
    default_events,
    event_from_dict,
    register_event,
)
from rs.testing.fake_reader import FakeReader
from rs.testing.landcover import LandCover
from rs.testing.landsat import generate_landsat_world as generate_landsat_world
from rs.testing.redline_world import (
    REDLINE_PERIODS,
    generate_redline_world,
    redline_events,
    redline_truth,
    redline_world_config,
)
from rs.testing.sentinel2 import decode_dn, encode_dn, processing_baseline
from rs.testing.world import NOISE_SIGMA, World, WorldConfig, generate_world, load_world

__all__ = [
    "ACTIVITY_TYPES",
    "CONFUSER_KINDS",
    "DEFAULT_GRID",
    "NOISE_SIGMA",
    "REDLINE_PERIODS",
    "DemoAois",
    "Event",
    "EventTruth",
    "FakeReader",
    "Grid",
    "HumanActivity",
    "LandCover",
    "PhenologyShift",
    "SceneState",
    "ThinCloud",
    "VegetationLoss",
    "WaterLevel",
    "World",
    "WorldConfig",
    "decode_dn",
    "default_events",
    "demo_aois",
    "encode_dn",
    "event_from_dict",
    "generate_redline_world",
    "generate_world",
    "load_world",
    "processing_baseline",
    "redline_events",
    "redline_truth",
    "redline_world_config",
    "register_event",
    "write_demo_aois",
]
