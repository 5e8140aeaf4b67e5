"""Native-resolution outputs sit on the source grid (rs.load.grid): pixel-exact Landsat loads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from odc.geo import xy_
from rasterio.warp import transform_bounds

from rs.load import load_optical
from rs.load.grid import source_anchor
from rs.load.optical import grid_anchor

CRS = "EPSG:32618"
X0, Y0 = 399585.0, 4420815.0  # a Landsat origin: edges 15 m off multiples of 30 m
H, W = 9, 11


def _item(tmp: Path, x0: float, y0: float, dn: dict[str, np.ndarray]) -> pystac.Item:
    w, s, e, n = transform_bounds(CRS, "EPSG:4326", x0, y0 - H * 30, x0 + W * 30, y0)
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    props = {"platform": "landsat-8", "proj:code": CRS}
    item = pystac.Item("LC08_T", geom, [w, s, e, n], datetime(2022, 6, 1, tzinfo=UTC), props)
    for key, arr in dn.items():
        path = tmp / f"{key}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", height=H, width=W, count=1, dtype=arr.dtype, crs=CRS,
            transform=Affine(30, 0, x0, 0, -30, y0), nodata=0,
        ) as dst:
            dst.write(arr, 1)
        item.add_asset(key, pystac.Asset(path.as_uri(), extra_fields={
            "proj:transform": [30, 0, x0, 0, -30, y0], "proj:shape": [H, W],
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 2.75e-5,
                              "offset": -0.2}],
        }))
    return item


@pytest.mark.parametrize(("x0", "y0"), [(X0, Y0), (399600.0, 4420800.0), (399590.0, 4420805.0)])
def test_load_optical__native_resolution_is_pixel_exact(tmp_path, x0, y0):
    """Every loaded pixel is a source pixel: a non-constant raster comes back value for value."""
    rng = np.random.default_rng(7)
    dn = {k: rng.integers(7_300, 40_000, size=(H, W)).astype("uint16") for k in ("red", "nir08")}
    item = _item(tmp_path, x0, y0, dn)
    ds = load_optical([item], ["red", "nir"], mask=None, crs=CRS, resolution=30).compute()
    t = ds.odc.geobox.transform
    off = np.array([(t.c - x0) / 30, (t.f - y0) / 30])
    np.testing.assert_allclose(off, np.round(off), atol=1e-6)  # edges on the source's edges
    col0, row0 = round((x0 - t.c) / 30), round((t.f - y0) / 30)
    for band, key in (("red", "red"), ("nir", "nir08")):
        got = ds[band].values[0, row0 : row0 + H, col0 : col0 + W]
        np.testing.assert_allclose(got, dn[key] * 2.75e-5 - 0.2, rtol=0, atol=1e-6)
    moved = ds.attrs["grid"].startswith("output grid on the source grid")
    assert moved == (x0 % 30 != 0 or y0 % 30 != 0)


def test_source_anchor__agreeing_disagreeing_and_resampled(tmp_path):
    dn = {"red": np.ones((H, W), dtype="uint16")}
    a = _item(tmp_path, X0, Y0, dn)
    keys = [{"red": "red"}]
    assert source_anchor([a], keys, CRS, 30).anchor == xy_(0.5, 0.5)
    assert source_anchor([a], keys, CRS, 60).anchor is None  # not native: resampled anyway
    assert source_anchor([a], keys, "EPSG:32617", 30).anchor is None  # reprojected anyway
    other = tmp_path / "b"
    other.mkdir()
    b = _item(other, X0 + 10, Y0, dn)
    found = source_anchor([a, b], keys * 2, CRS, 30)
    assert found.anchor is None and "2 different" in found.reason
    assert grid_anchor([a], ["red"], CRS, 30).anchor == xy_(0.5, 0.5)
