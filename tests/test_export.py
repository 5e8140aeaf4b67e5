"""Export: block-wise COG writing, quicklooks, output STAC items, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from PIL import Image
from shapely.geometry import box

from rs.errors import OutputError
from rs.export._atomic import atomic_path, check_writable
from rs.export.cog import CogWriter, GridSpec
from rs.export.quicklook import write_quicklook
from rs.export.stac_items import OutputAsset, output_item, read_output_items, write_output_item
from rs.pipeline.ledger import find_up_to_date, run_key

GRID = GridSpec("EPSG:32650", Affine(10, 0, 660000, 0, -10, 3552000), (1000, 1200))


def _write_blocks(path: Path, data: np.ndarray, block: int = 384) -> None:
    with CogWriter(path, GRID, ["a", "b"], blocksize=256) as w:
        for r in range(0, data.shape[1], block):
            for c in range(0, data.shape[2], block):
                w.write_block(r, c, data[:, r : r + block, c : c + block])


def test_cog_writer__blocks_reassemble_into_a_valid_cog(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.random((2, 1000, 1200)).astype("float32")
    data[0, :10, :10] = np.nan
    out = tmp_path / "x.tif"
    _write_blocks(out, data)
    with rasterio.open(out) as ds:
        assert ds.driver == "GTiff"
        assert ds.crs.to_epsg() == 32650
        assert ds.transform == GRID.transform
        assert ds.count == 2 and ds.descriptions == ("a", "b")
        assert ds.profile["tiled"] and ds.block_shapes[0] == (256, 256)
        assert ds.compression.name.lower() == "deflate"
        assert ds.overviews(1), "a COG needs internal overviews"
        assert np.isnan(ds.nodata)
        np.testing.assert_array_equal(ds.read(), data)
        layout = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT")
    assert layout == "COG"
    assert [p.name for p in tmp_path.iterdir()] == ["x.tif"], "no scratch files left behind"


def test_cog_writer__failure_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.tif"
    with pytest.raises(RuntimeError, match="boom"), CogWriter(out, GRID, ["a"]) as w:
        w.write_block(0, 0, np.zeros((1, 10, 10), "float32"))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_cog_writer__wrong_band_count_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="2 bands"),
        CogWriter(tmp_path / "x.tif", GRID, ["a"]) as w,
    ):
        w.write_block(0, 0, np.zeros((2, 4, 4), "float32"))


def test_write_quicklook__rgb_and_ramp_with_transparent_nodata(tmp_path: Path) -> None:
    data = np.zeros((2, 1000, 1200), "float32")
    data[0] = np.linspace(0, 1, 1200)[np.newaxis, :]
    data[1] = 0.5
    data[:, :500, :] = np.nan
    cog = tmp_path / "x.tif"
    _write_blocks(cog, data)
    q = write_quicklook(cog, tmp_path / "q.png", bands=(1,), max_size=300, value_range=(0, 1))
    png = q.path
    assert png == tmp_path / "q.png" and q.value_range == (0.0, 1.0)
    img = np.asarray(Image.open(png))
    assert img.shape[1:] == (300, 4) and img.shape[0] > 250, "map of 250 rows + legend strip"
    assert (img[:120, :, 3] == 0).all() and (img[130:, :, 3] == 255).all()
    assert not np.array_equal(img[200, 5, :3], img[200, -5, :3]), "the ramp varies with value"
    rgb = write_quicklook(cog, tmp_path / "rgb.png", bands=(1, 2, 2), max_size=300).path
    assert np.asarray(Image.open(rgb)).shape == (250, 300, 4)


def test_write_output_item__catalog_links_and_relative_hrefs(tmp_path: Path) -> None:
    import datetime as dt

    f = tmp_path / "a.tif"
    f.write_bytes(b"x")
    geom = box(118.7, 32.0, 118.8, 32.1)
    start = dt.datetime(2022, 4, 1, tzinfo=dt.UTC)
    end = dt.datetime(2022, 9, 30, tzinfo=dt.UTC)
    for item_id in ("p-1", "p-2"):
        item = output_item(
            tmp_path,
            item_id=item_id,
            geometry=geom,
            start=start,
            end=end,
            assets=[OutputAsset("data", f, "image/tiff")],
            properties={"rs:inputs": ["s1", "s2"], "rs:run_key": "k"},
        )
        write_output_item(tmp_path, item)
    cat = pystac.Catalog.from_file(str(tmp_path / "catalog.json"))
    items = sorted(cat.get_items(), key=lambda i: i.id)
    assert [i.id for i in items] == ["p-1", "p-2"]
    assert items[0].properties["rs:inputs"] == ["s1", "s2"]
    assert items[0].properties["start_datetime"].startswith("2022-04-01")
    assert Path(items[0].assets["data"].get_absolute_href()).resolve() == f.resolve()
    raw = json.loads((tmp_path / "items" / "p-1.json").read_text())
    assert raw["assets"]["data"]["href"] == "../a.tif"
    assert [d["id"] for d in read_output_items(tmp_path)] == ["p-1", "p-2"]


def test_find_up_to_date__needs_same_key_and_existing_files(tmp_path: Path) -> None:
    import datetime as dt

    f = tmp_path / "a.tif"
    f.write_bytes(b"x")
    key = run_key({"p": 1}, ["b", "a"], "0.1")
    assert key == run_key({"p": 1}, ["a", "b"], "0.1"), "scene order does not matter"
    assert key != run_key({"p": 2}, ["a", "b"], "0.1")
    assert key != run_key({"p": 1}, ["a", "b", "c"], "0.1")
    t = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    item = output_item(
        tmp_path,
        item_id="p",
        geometry=box(0, 0, 1, 1),
        start=t,
        end=t,
        assets=[OutputAsset("data", f, "image/tiff")],
        properties={"rs:run_key": key},
    )
    write_output_item(tmp_path, item)
    assert find_up_to_date(tmp_path, "p", key) is not None
    assert find_up_to_date(tmp_path, "p", "other") is None
    f.unlink()
    assert find_up_to_date(tmp_path, "p", key) is None


def test_atomic_path__target_untouched_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_check_writable__path_is_a_file_refused(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(OutputError, match="not writable"):
        check_writable(f / "sub")
    with pytest.raises(OutputError, match="not writable"):
        check_writable(Path("/proc/rs-cannot-write-here"))
