"""Shared fixtures: a small synthetic world, a private rs cache, spec writing, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rs.testing import World, WorldConfig, generate_world
from rs.testing.world import inner_bbox
from tests._browser import browser  # noqa: F401  (a fixture: tests asking for it get it)
from tests._pipelines import run_rs

SMALL = WorldConfig(width=128, height=128, n_dates=6, seed=7)


@pytest.fixture(scope="session")
def rs_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private RS_CACHE_DIR for the whole session (the user's cache is never touched)."""
    path = tmp_path_factory.mktemp("rs-cache")
    os.environ["RS_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A 128 x 128 px, 6-date synthetic Sentinel-2 world (read-only: copy it to change it)."""
    return generate_world(tmp_path_factory.mktemp("world"), SMALL)


@pytest.fixture
def world_copy(small_world: World, tmp_path: Path) -> World:
    """A private copy of the small world that a test may damage."""
    dst = tmp_path / "world"
    shutil.copytree(small_world.root, dst)
    # items carry absolute file:// hrefs: rewrite them to the copy
    for p in dst.rglob("*.json"):
        text = p.read_text()
        p.write_text(text.replace(small_world.root.as_uri(), dst.as_uri()))
    return World(dst, small_world.config)


#: a lon/lat bbox string safely inside a world (``margin_px`` from each edge)
world_bbox = inner_bbox


PERIOD = "p-20210501-20220930"  # the label of the default period in file and item names


def out_file(
    out: Path,
    key: str,
    *,
    name: str = "t",
    step: str = "composite",
    period: str = PERIOD,
    ext: str = "tif",
) -> Path:
    """Path of output ``key`` of ``step`` for ``period`` in the output folder ``out``."""
    return out / f"{name}_{step}_{period}_{key}.{ext}"


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a one-step composite spec for the embedded world at ``root``.

    Keyword overrides replace top-level keys; ``step={...}`` updates the composite step's keys
    and ``period={...}`` replaces the default period ``p``.
    """

    def _write(
        world_root: Path,
        aoi: str,
        *,
        step: dict[str, Any] | None = None,
        period: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> Path:
        spec: dict[str, Any] = {
            "name": "t",
            "sources": {"s2": {"embedded": str(world_root), "collections": ["sentinel-2-l2a"]}},
            "aoi": aoi,
            "periods": {"p": period or {"start": "2021-05-01", "end": "2022-09-30"}},
            "steps": [
                {
                    "id": "composite",
                    "kind": "composite",
                    "bands": ["red", "green", "blue", "nir"],
                    "indices": ["ndvi"],
                    **(step or {}),
                }
            ],
            "output": str(tmp_path / "out"),
            "dask": {"workers": 1, "threads_per_worker": 2},
        }
        spec.update(overrides)
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(spec))
        return path

    return _write


@pytest.fixture
def rs_cli(rs_cache: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real ``rs`` command in a subprocess; returns the completed process."""

    def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run_rs(rs_cache, *args, timeout=timeout)

    return _run
