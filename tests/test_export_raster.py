"""Export of rasters: band metadata, product tags and colour interpretation inside the COG."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp

from rs.errors import OutputError
from rs.export.cog import CogWriter, GridSpec, RasterBand
from rs.export.raster import COG_MEDIA_TYPE, check_nodata, proj_fields, raster_asset

GRID = GridSpec("EPSG:32650", Affine(10, 0, 660000, 0, -10, 3552000), (300, 400))
LST = RasterBand("lst", unit="K", description="land surface temperature", scale=0.01, offset=200.0)
TAGS = {
    "RS_PRODUCT": "lst",
    "RS_PERIOD": "2022-04-01/2022-09-30",
    "RS_VERSION": "0.1.0",
    "RS_INPUTS": '["S2A_1", "S2B_2"]',
}


def _lst_counts() -> np.ndarray:
    rng = np.random.default_rng(7)
    counts = rng.integers(1, 12000, size=(2, *GRID.shape)).astype("uint16")
    counts[:, :5, :5] = 0  # nodata
    return counts


def test_cog_writer__band_metadata_and_tags_survive_the_cog_copy(tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    counts = _lst_counts()
    with CogWriter(out, GRID, [LST, "qa"], dtype="uint16", nodata=0, tags=TAGS, blocksize=256) as w:
        w.write_block(0, 0, counts)
    with rasterio.open(out) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.descriptions == ("lst", "qa")
        assert ds.units[0] == "K" and not ds.units[1]
        assert ds.scales == (0.01, 1.0)
        assert ds.offsets == (200.0, 0.0)
        assert ds.nodatavals == (0.0, 0.0)
        assert ds.tags(1)["long_name"] == "land surface temperature"
        tags = ds.tags()
        assert {k: tags[k] for k in TAGS} == TAGS
        np.testing.assert_array_equal(ds.read(), counts)
        physical = ds.read(1, masked=True) * ds.scales[0] + ds.offsets[0]
    assert physical.mask[:5, :5].all()
    assert float(physical.min()) > 200.0 and float(physical.max()) < 320.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lst.tif"], "no sidecar or scratch"


def test_cog_writer__rgb_colour_interpretation(tmp_path: Path) -> None:
    out = tmp_path / "rgb.tif"
    data = np.random.default_rng(3).random((3, *GRID.shape)).astype("float32")
    with CogWriter(out, GRID, ["red", "green", "blue"], colorinterp=["red", "green", "blue"]) as w:
        w.write_block(0, 0, data)
    with rasterio.open(out) as ds:
        assert ds.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
        assert ds.descriptions == ("red", "green", "blue")
        np.testing.assert_array_equal(ds.read(), data)


def test_cog_writer__colorinterp_must_match_band_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 entries, the raster has 3 bands"):
        CogWriter(tmp_path / "x.tif", GRID, ["r", "g", "b"], colorinterp=["red", "green"])
    with pytest.raises(ValueError, match="unknown colour interpretation 'purple'"):
        CogWriter(tmp_path / "x.tif", GRID, ["r"], colorinterp=["purple"])
    assert list(tmp_path.iterdir()) == []


def test_cog_writer__rebuild_removes_stale_aux_xml(tmp_path: Path) -> None:
    out = tmp_path / "ndvi.tif"
    with CogWriter(out, GRID, ["ndvi"]) as w:
        w.write_block(0, 0, np.full(GRID.shape, 0.2, "float32"))
    with rasterio.open(out) as ds:
        ds.stats(approx=False)  # a GIS reading the file caches statistics beside it
    aux = tmp_path / "ndvi.tif.aux.xml"
    if not aux.exists():  # this GDAL build keeps statistics elsewhere: plant one as QGIS does
        aux.write_text(
            '<PAMDataset><PAMRasterBand band="1"><Metadata>'
            '<MDI key="STATISTICS_MAXIMUM">0.2</MDI></Metadata></PAMRasterBand></PAMDataset>'
        )
    with CogWriter(out, GRID, ["ndvi"]) as w:
        w.write_block(0, 0, np.full(GRID.shape, 0.7, "float32"))
    assert not aux.exists(), "statistics of the old file must not outlive it"
    with rasterio.open(out) as ds:
        assert ds.tags(1).get("STATISTICS_MAXIMUM") is None
        assert float(ds.read(1).max()) == pytest.approx(0.7)


def test_cog_writer__failed_rebuild_keeps_old_file_and_its_aux(tmp_path: Path) -> None:
    out = tmp_path / "x.tif"
    with CogWriter(out, GRID, ["a"]) as w:
        w.write_block(0, 0, np.ones(GRID.shape, "float32"))
    aux = tmp_path / "x.tif.aux.xml"
    aux.write_text("<PAMDataset/>")
    with pytest.raises(RuntimeError, match="boom"), CogWriter(out, GRID, ["a"]) as w:
        raise RuntimeError("boom")
    assert aux.exists()
    with rasterio.open(out) as ds:
        assert float(ds.read(1).min()) == 1.0


def test_raster_asset__fields_match_the_written_cog(tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    with CogWriter(out, GRID, [LST, "qa"], dtype="uint16", nodata=0) as w:
        w.write_block(0, 0, _lst_counts())
    a = raster_asset("lst", out, GRID, [LST, "qa"], dtype="uint16", nodata=0, title="LST")
    assert a.media_type == COG_MEDIA_TYPE and a.roles == ("data",) and a.title == "LST"
    with rasterio.open(out) as ds:
        assert a.extra["proj:code"] == f"EPSG:{ds.crs.to_epsg()}"
        assert a.extra["proj:shape"] == [ds.height, ds.width]
        assert Affine(*a.extra["proj:transform"]) == ds.transform
        rb = a.extra["raster:bands"]
        assert [b["data_type"] for b in rb] == list(ds.dtypes)
        assert [b["nodata"] for b in rb] == [int(v) for v in ds.nodatavals]
        assert [b["scale"] for b in rb] == list(ds.scales)
        assert [b["offset"] for b in rb] == list(ds.offsets)
        assert [b.get("unit") for b in rb] == ["K", None]
        assert {b["spatial_resolution"] for b in rb} == {ds.res[0]}
        assert [b["name"] for b in a.extra["bands"]] == list(ds.descriptions)
    assert a.extra["bands"][0]["description"] == "land surface temperature"
    assert a.extra["file:size"] == out.stat().st_size


def test_raster_asset__nan_nodata_and_non_epsg_crs() -> None:
    laea = "+proj=laea +lat_0=30 +lon_0=110 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    grid = GridSpec(laea, Affine(20, 0, 0, 0, -20, 0), (10, 10))
    a = raster_asset("ndvi", Path("/nonexistent/ndvi.tif"), grid, ["ndvi"], dtype="float32",
                     nodata=float("nan"))  # fmt: skip
    assert a.extra["raster:bands"][0]["nodata"] == "nan"
    assert a.extra["raster:bands"][0]["data_type"] == "float32"
    assert a.extra["proj:code"] is None
    assert "Lambert Azimuthal Equal Area" in a.extra["proj:wkt2"]
    assert "file:size" not in a.extra, "no size for a file not written yet"


def test_check_nodata__integer_rasters_need_a_finite_in_range_value() -> None:
    assert check_nodata("uint16", 65535) == 65535 and check_nodata("int16", -1.0) == -1
    assert check_nodata("uint8", None) is None
    assert np.isnan(check_nodata("float32", float("nan")))  # type: ignore[arg-type]
    for dtype, nodata in (("uint16", float("nan")), ("uint16", 65536), ("uint8", -1),
                          ("int16", 0.5), ("int32", float("inf")), ("float32", 1e40)):
        with pytest.raises(ValueError, match=re.escape(f"nodata {nodata!r}")):
            check_nodata(dtype, nodata)


def test_cog_writer__integer_dtype_with_nan_nodata_refused_and_nothing_left(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match=r"cannot be stored as uint16.*0\.\.65535"):
        CogWriter(tmp_path / "c.tif", GRID, ["count"], dtype="uint16", nodata=float("nan"))
    with pytest.raises(ValueError, match="uint16"):
        raster_asset("c", tmp_path / "c.tif", GRID, ["count"], dtype="uint16",
                     nodata=float("nan"))  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_cog_writer__nan_in_an_integer_raster_is_stored_as_nodata(tmp_path: Path) -> None:
    out = tmp_path / "count.tif"
    block = np.arange(GRID.shape[0] * GRID.shape[1], dtype="float32").reshape(GRID.shape) % 7
    block[:10] = np.nan
    with CogWriter(out, GRID, ["count"], dtype="uint16", nodata=65535) as w:
        w.write_block(0, 0, block)
    with rasterio.open(out) as ds:
        got = ds.read(1)
        assert ds.nodata == 65535
    assert (got[:10] == 65535).all(), "NaN is nodata, not 0"
    np.testing.assert_array_equal(got[10:], block[10:].astype("uint16"))
    assert (got[10:] == 0).any(), "0 stays a valid count"
    with pytest.raises(ValueError, match="no nodata value"), \
            CogWriter(tmp_path / "n.tif", GRID, ["count"], dtype="uint8", nodata=None) as w:
        w.write_block(0, 0, block)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["count.tif"]


def test_cog_writer__failure_while_opening_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: object, *args: object) -> None:
        raise RuntimeError("boom while opening")

    monkeypatch.setattr(rasterio.io.DatasetWriter, "set_band_unit", boom)
    w = CogWriter(tmp_path / "x.tif", GRID, [LST])
    with pytest.raises(RuntimeError, match="boom while opening"), w:
        pass
    assert w._ds is None, "the scratch dataset is closed"
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    bad = GridSpec("EPSG:32650", GRID.transform, (0, 0))  # GDAL refuses an empty raster
    with pytest.raises(OutputError, match="cannot create"), CogWriter(tmp_path / "y.tif", bad,
                                                                    ["a"]):
        pass
    assert list(tmp_path.iterdir()) == []


def test_proj_fields__reads_crs_with_pyproj() -> None:
    assert proj_fields("EPSG:32650") == {"proj:code": "EPSG:32650"}
    assert proj_fields(None) == {"proj:code": None}
    with pytest.raises(ValueError, match="unknown CRS"):
        proj_fields("not a crs")
