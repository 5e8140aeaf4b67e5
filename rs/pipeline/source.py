"""Resolve a spec's source to a STAC API URL, starting the embedded API when asked."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pystac

from rs._cache import api_files_dir, cache_dir
from rs.errors import SpecError
from rs.pipeline.progress import Reporter
from rs.pipeline.spec import SentinelHubSource, StacSource

__all__ = [
    "ch4_demo_root",
    "coast_world_root",
    "demo_world_root",
    "landsat_world_root",
    "no2_demo_folder",
    "open_source",
    "redline_world_root",
    "resolve_modifier",
    "sentinelhub_items",
]


def resolve_modifier(path: str | None) -> Callable[[pystac.Item], Any] | None:
    """The function named ``'module:function'`` (e.g. ``planetary_computer:sign_inplace``)."""
    if path is None:
        return None
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise SpecError(
            f"the source's `modifier` {path!r}: cannot import {module_name!r} ({e}); install it "
            "in rs's environment"
        ) from e
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SpecError(
            f"the source's `modifier` {path!r}: {module_name} has no function {attr!r}"
        )
    return fn


def demo_world_root() -> Path:
    """Folder of the cached synthetic demo world."""
    return cache_dir() / "demo-world"


def redline_world_root() -> Path:
    """Folder of the cached synthetic red-line world (rs.testing.redline_world)."""
    return cache_dir() / "redline-world"


def landsat_world_root() -> Path:
    """Folder of the cached synthetic Landsat world (rs.testing.landsat)."""
    return cache_dir() / "landsat-world"


def no2_demo_folder() -> Path:
    """The swath folder of the synthetic NO2 month (generated on first call; rs.testing)."""
    from rs.testing.no2_demo import generate_no2_demo

    return generate_no2_demo(cache_dir() / "no2-demo").root / "s5p"


def ch4_demo_root() -> Path:
    """Folder of the synthetic methane demo (generated on first call; rs.testing.ch4_demo):
    ``s5p/`` orbits, ``wind.csv``, ``truth.json``."""
    from rs.testing.ch4_demo import generate_ch4_demo

    return generate_ch4_demo(cache_dir() / "ch4-demo").root


def coast_world_root() -> Path:
    """Folder of the cached synthetic demo coast (rs.testing.coast)."""
    return cache_dir() / "coast-world"


@contextlib.contextmanager
def open_source(source: StacSource, reporter: Reporter) -> Iterator[str]:
    """Yield the STAC API URL to search; an embedded API lives exactly as long as the block."""
    if source.url is not None:
        yield source.url
        return
    from rs.sources.local import EmbeddedStacApi, build_api_files

    if source.embedded == "demo":
        from rs.testing import generate_world

        root = demo_world_root()
        reporter.stage(f"demo world: {root}")
        generate_world(root)
        folder = root
    elif source.embedded == "redline-demo":
        from rs.testing.redline_world import generate_redline_world

        folder = redline_world_root()
        reporter.stage(f"demo red-line world: {folder}")
        generate_redline_world(folder)
    elif source.embedded == "ecology-demo":
        from rs.testing.landsat import generate_landsat_world

        folder = landsat_world_root()
        reporter.stage(f"demo Landsat world: {folder}")
        generate_landsat_world(folder)
    elif source.embedded == "coast-demo":
        from rs.testing.coast import generate_coast

        folder = coast_world_root()
        reporter.stage(f"demo coast: {folder}")
        generate_coast(folder)
    else:
        folder = Path(str(source.embedded))
    files = build_api_files([folder], api_files_dir([folder]))
    with EmbeddedStacApi(files) as api:
        reporter.stage(f"embedded STAC API serving {folder} at {api.url}")
        yield api.url



def sentinelhub_items(
    source: SentinelHubSource, aoi: Any, start: Any, end: Any, reporter: Reporter
) -> list[pystac.Item]:
    """The scenes of a Sentinel Hub source over ``aoi`` from ``start`` to ``end``, fetched into
    rs's cache as local STAC items (rs.sources.sentinelhub)."""
    from rs.sources.sentinelhub import SentinelHubOptions, fetch_items

    opts = SentinelHubOptions(**source.model_dump(exclude={"kind"}))
    return fetch_items(opts, aoi, start, end, cache_dir(), reporter.stage)
