"""Preflight asset check: skip-and-record vs fail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine

from rs.errors import AssetReadError
from rs.load import SkippedScene, check_assets
from rs.load._preflight import raise_or_report


def _tif(path: Path) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="uint16",
        crs="EPSG:32650",
        transform=Affine(10, 0, 660000, 0, -10, 3552000),
        nodata=0,
    ) as dst:
        dst.write(np.ones((1, 4, 4), dtype="uint16"))
    return path


def _item(item_id: str, hrefs: dict[str, Path]) -> pystac.Item:
    item = pystac.Item(
        item_id,
        None,
        None,
        datetime(2022, 4, 15, 2, 50, tzinfo=UTC),
        {"platform": "sentinel-2a", "s2:processing_baseline": "04.00"},
        collection="sentinel-2-l2a",
    )
    for key, path in hrefs.items():
        item.add_asset(key, pystac.Asset(path.as_uri(), roles=["data"]))
    return item


@pytest.fixture
def items(tmp_path: Path) -> list[pystac.Item]:
    good = _item("S2A_good", {"red": _tif(tmp_path / "r.tif"), "nir": _tif(tmp_path / "n.tif")})
    missing = _item("S2A_missing", {"red": _tif(tmp_path / "r2.tif"), "nir": tmp_path / "no.tif"})
    text = tmp_path / "not_a_raster.tif"
    text.write_text("this is not a GeoTIFF")
    broken = _item("S2A_broken", {"red": text, "nir": _tif(tmp_path / "n3.tif")})
    return [good, missing, broken]


def test_check_assets__skip_records_each_bad_scene(items):
    readable, skipped = check_assets(items, ["red", "nir"], on_error="skip")
    assert [it.id for it in readable] == ["S2A_good"]
    got = [(s.item_id, s.asset) for s in skipped]
    assert got == [("S2A_missing", "nir"), ("S2A_broken", "red")]
    assert all(isinstance(s, SkippedScene) and s.reason for s in skipped)
    assert skipped[0].href.endswith("no.tif")


def test_check_assets__fail_names_item_asset_and_href(items):
    with pytest.raises(AssetReadError, match=r"S2A_missing.*'nir'.*no\.tif.*on_error='skip'"):
        check_assets(items, ["red", "nir"], on_error="fail")


def test_check_assets__band_without_asset_is_skipped(items):
    readable, skipped = check_assets(items[:1], ["red", "swir16"])
    assert readable == []
    assert skipped[0].item_id == "S2A_good" and "swir16" in skipped[0].reason


def test_check_assets__all_good_passes_through(items):
    readable, skipped = check_assets(items[:1], ["red", "nir"], on_error="fail")
    assert readable == items[:1] and skipped == []


def test_raise_or_report__splits_by_reason_or_raises_for_the_first_bad_one():
    bad = SkippedScene("b", "red", "cannot open", "file:///b.tif")
    worse = SkippedScene("c", "nir", "gone", "file:///c.tif")
    assert raise_or_report(["a", "b", "c"], [None, bad, worse], "skip", "item") == (
        ["a"], [bad, worse]
    )
    with pytest.raises(AssetReadError, match=r"item 'b': 'red' at file:///b\.tif.*cannot open"):
        raise_or_report(["a", "b", "c"], [None, bad, worse], "fail", "item")
    with pytest.raises(ValueError, match="on_error"):
        raise_or_report([], [], "ignore", "item")  # type: ignore[arg-type]


def test_check_assets__unknown_policy_refused_before_opening(items):
    with pytest.raises(ValueError, match="on_error"):
        check_assets(items, ["red"], on_error="ignore")  # type: ignore[arg-type]
