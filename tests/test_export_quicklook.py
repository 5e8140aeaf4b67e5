"""Export of quicklooks: the legend strip of single-band PNGs and the value range recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from PIL import Image

from rs.export.cog import CogWriter, GridSpec, RasterBand
from rs.export.quicklook import Quicklook, quicklook_asset, write_quicklook

GRID = GridSpec("EPSG:32650", Affine(10, 0, 660000, 0, -10, 3552000), (200, 400))


def _gradient_cog(path: Path, lo: float, hi: float) -> Path:
    data = np.tile(np.linspace(lo, hi, GRID.shape[1], dtype="float32"), (GRID.shape[0], 1))
    data[:40] = np.nan
    with CogWriter(path, GRID, ["ndvi"]) as w:
        w.write_block(0, 0, data)
    return path


def _nearest(pixels: np.ndarray, colour: np.ndarray) -> float:
    d = np.abs(pixels[..., :3].astype(int) - colour[:3].astype(int)).max(axis=-1)
    return float(d.min())


def test_write_quicklook__single_band_has_a_colour_bar(tmp_path: Path) -> None:
    cog = _gradient_cog(tmp_path / "ndvi.tif", -0.2, 0.9)
    q = write_quicklook(cog, tmp_path / "ndvi.png", max_size=400, value_range=(-0.2, 0.9))
    assert q.value_range == (-0.2, 0.9) and q.label == "ndvi"
    img = np.asarray(Image.open(q.path))
    h = GRID.shape[0]
    assert img.shape[0] > h and img.shape[1] == GRID.shape[1]
    map_, strip = img[:h], img[h:]
    assert (map_[:40, :, 3] == 0).all() and (map_[40:, :, 3] == 255).all()
    assert (strip[..., 3] == 255).all(), "the legend strip is opaque"
    low, high = map_[100, 0], map_[100, -1]  # colours of the lowest and highest values
    assert np.abs(low[:3].astype(int) - high[:3].astype(int)).max() > 50
    assert _nearest(strip, low) <= 3, "the colour bar starts with the low end's colour"
    assert _nearest(strip, high) <= 3, "the colour bar ends with the high end's colour"
    bar_rows = [r for r in range(strip.shape[0]) if _nearest(strip[r : r + 1], low) <= 3]
    assert bar_rows and all(_nearest(strip[r : r + 1], high) <= 3 for r in bar_rows)
    text = (strip[..., :3].max(axis=-1) < 60).sum()
    assert text > 30, "labels (layer name, min, max) are drawn in dark text"


def test_write_quicklook__legend_labels_differ_with_range(tmp_path: Path) -> None:
    cog = _gradient_cog(tmp_path / "ndvi.tif", 0.0, 1.0)
    a = np.asarray(Image.open(write_quicklook(cog, tmp_path / "a.png", value_range=(0, 1)).path))
    b = np.asarray(Image.open(write_quicklook(cog, tmp_path / "b.png", value_range=(0, 5)).path))
    h = GRID.shape[0]
    assert not np.array_equal(a[h:], b[h:]), "the value labels are part of the legend"
    plain = write_quicklook(cog, tmp_path / "c.png", value_range=(0, 1), legend=False)
    assert np.asarray(Image.open(plain.path)).shape == (h, GRID.shape[1], 4)


def test_quicklook_asset__records_value_range_in_physical_units(tmp_path: Path) -> None:
    kelvin = np.tile(np.linspace(280.0, 320.0, GRID.shape[1]), (GRID.shape[0], 1))
    counts = np.round((kelvin - 200.0) / 0.01).astype("uint16")
    counts[:20] = 0
    cog = tmp_path / "lst.tif"
    band = RasterBand("lst", unit="K", scale=0.01, offset=200.0)
    with CogWriter(cog, GRID, [band], dtype="uint16", nodata=0) as w:
        w.write_block(0, 0, counts)
    q = write_quicklook(cog, tmp_path / "lst.png")
    a = quicklook_asset("lst_thumbnail", q, title="LST quicklook")
    assert a.path == q.path and a.title == "LST quicklook"
    lo, hi = a.extra["rs:value_range"]
    assert 280.0 <= lo < 282.0 and 318.0 < hi <= 320.0, "2nd-98th percentile in kelvin"
    assert a.extra["rs:legend"] == "lst [K]"
    assert a.media_type == "image/png" and a.roles == ("overview",)
    img = np.asarray(Image.open(a.path))
    assert (img[:20, :, 3] == 0).all(), "nodata (0) is transparent"
    assert a.extra["file:size"] == a.path.stat().st_size


def test_write_quicklook__rgb_has_no_legend(tmp_path: Path) -> None:
    rgb = np.random.default_rng(5).random((3, *GRID.shape)).astype("float32")
    cog = tmp_path / "rgb.tif"
    with CogWriter(cog, GRID, ["red", "green", "blue"]) as w:
        w.write_block(0, 0, rgb)
    q = write_quicklook(cog, tmp_path / "rgb.png", bands=(1, 2, 3))
    assert q.label is None
    assert np.asarray(Image.open(q.path)).shape == (*GRID.shape, 4)
    lo, hi = q.value_range
    assert lo == pytest.approx(np.percentile(rgb, 2), abs=0.02)
    assert hi == pytest.approx(np.percentile(rgb, 98), abs=0.02)


def test_write_quicklook__without_legend_records_no_label(tmp_path: Path) -> None:
    cog = _gradient_cog(tmp_path / "ndvi.tif", 0.0, 1.0)
    q = write_quicklook(cog, tmp_path / "a.png", value_range=(0, 1), legend=False)
    assert q.label is None, "no legend drawn, none recorded"
    a = quicklook_asset("ndvi_thumbnail", q)
    assert "rs:legend" not in a.extra and a.extra["rs:value_range"] == [0.0, 1.0]
    assert a.extra["file:size"] == q.path.stat().st_size


def test_write_quicklook__bands_and_value_range_are_checked(tmp_path: Path) -> None:
    cog = _gradient_cog(tmp_path / "ndvi.tif", 0.0, 1.0)
    for bands in ((1, 1), (1, 1, 1, 1), ()):
        with pytest.raises(ValueError, match=r"1 band .* or 3"):
            write_quicklook(cog, tmp_path / "x.png", bands=bands)
    for rng in ((1.0, 1.0), (2.0, 1.0), (0.0, float("nan"))):
        with pytest.raises(ValueError, match="low < high"):
            write_quicklook(cog, tmp_path / "x.png", value_range=rng)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ndvi.tif"], "nothing written"


def test_write_quicklook__dimensionless_unit_not_shown(tmp_path: Path) -> None:
    data = np.tile(np.linspace(0.0, 1.0, GRID.shape[1], dtype="float32"), (GRID.shape[0], 1))
    labels = {}
    for unit in ("1", "K", None):
        cog = tmp_path / f"{unit}.tif"
        with CogWriter(cog, GRID, [RasterBand("ndvi", unit=unit)]) as w:
            w.write_block(0, 0, data)
        labels[unit] = write_quicklook(cog, tmp_path / f"{unit}.png").label
    assert labels == {"1": "ndvi", "K": "ndvi [K]", None: "ndvi"}
    q = write_quicklook(tmp_path / "K.tif", tmp_path / "own.png", label="LST (kelvin)")
    assert isinstance(q, Quicklook) and q.label == "LST (kelvin)"


def test_composite_outputs__true_colour_quicklook_listed_only_when_drawn() -> None:
    from rs.products import composite

    rgb = composite.CompositeSpec(id="c", kind="composite", bands=["red", "green", "blue", "nir"])
    assert "quicklook.png" in composite.outputs(rgb)
    assert composite._rgb_bands(rgb) == [1, 2, 3]
    no_blue = composite.CompositeSpec(id="c", kind="composite", bands=["red", "green", "nir"])
    files = composite.outputs(no_blue)
    assert "quicklook.png" not in files and "ndvi_quicklook.png" in files
    assert composite._rgb_bands(no_blue) is None
    plain = composite.CompositeSpec(id="c", kind="composite", quicklook=False)
    assert not any(f.endswith(".png") for f in composite.outputs(plain))
