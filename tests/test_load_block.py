"""Reading one block now, with scenes whose pixel data is corrupt isolated by name."""

from __future__ import annotations

import numpy as np
import pytest

from rs.errors import AssetReadError
from rs.load import load_block, load_optical
from rs.testing import World


def _truncate(world: World, i: int, band: str) -> None:
    path = world.band_path(i, band)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _grid(world: World):
    return load_optical(world.items(), ["red"]).odc.geobox


def test_load_block__clean_read_matches_lazy_load(small_world: World) -> None:
    gbox = _grid(small_world)
    ds, skipped = load_block(small_world.items(), ["red", "nir"], geobox=gbox)
    assert skipped == [] and ds is not None
    lazy = load_optical(small_world.items(), ["red", "nir"], geobox=gbox).compute()
    np.testing.assert_array_equal(ds["nir"].values, lazy["nir"].values)


def test_load_block__corrupt_scene_skipped_by_name(world_copy: World) -> None:
    _truncate(world_copy, 2, "red")
    items = world_copy.items()
    ds, skipped = load_block(items, ["red", "nir"], geobox=_grid(world_copy), on_error="skip")
    assert [s.item_id for s in skipped] == [world_copy.item_ids[2]]
    assert "pixel data unreadable" in skipped[0].reason
    assert ds is not None and ds.sizes["time"] == world_copy.n_dates - 1
    assert all(world_copy.item_ids[2] not in group for group in ds.attrs["item_ids"])


def test_load_block__corrupt_scene_fails_by_name(world_copy: World) -> None:
    _truncate(world_copy, 4, "nir")
    with pytest.raises(AssetReadError, match=world_copy.item_ids[4]) as info:
        load_block(world_copy.items(), ["red", "nir"], geobox=_grid(world_copy), on_error="fail")
    assert info.value.__context__ is None, "nothing chained: the error must cross to Dask clients"


def test_load_block__every_scene_corrupt_gives_no_dataset(world_copy: World) -> None:
    gbox = _grid(world_copy)
    for i in range(world_copy.n_dates):
        _truncate(world_copy, i, "red")
    ds, skipped = load_block(world_copy.items(), ["red"], geobox=gbox, on_error="skip")
    assert ds is None
    assert sorted(s.item_id for s in skipped) == sorted(world_copy.item_ids)
