"""AOI clipping is lazy and identical block-wise and whole-raster."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import shapely
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_zeros
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import geometry_mask
from shapely.geometry import Polygon

from rs.clip import aoi_mask, clip_to_aoi

GBOX = GeoBox.from_bbox((660000, 3550000, 661500, 3552000), "EPSG:32650", resolution=10)
POLY = Polygon([(660100, 3550100), (661300, 3550300), (660700, 3551900), (660050, 3551200)])


def _reference() -> np.ndarray:
    """Whole-raster rasterisation straight from rasterio (pixel-centre rule)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # spurious, transform is given
        return geometry_mask([POLY], out_shape=GBOX.shape, transform=GBOX.transform, invert=True)


def _ds(chunks: tuple[int, int]) -> xr.Dataset:
    return xr.Dataset({"a": xr_zeros(GBOX, dtype="float32", chunks=chunks) + 1})


@settings(max_examples=15, deadline=None)
@given(st.integers(7, 200), st.integers(7, 200))
def test_aoi_mask__same_for_any_chunking(cy: int, cx: int) -> None:
    full = _reference()
    got = aoi_mask(_ds((cy, cx))["a"], POLY, "EPSG:32650").values
    np.testing.assert_array_equal(got, full)


def test_clip_to_aoi__lazy_nan_outside_and_lonlat_geometry() -> None:
    to_ll = Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)
    lonlat = shapely.transform(
        POLY, lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1]))
    )
    out = clip_to_aoi(_ds((64, 64)), lonlat)
    assert isinstance(out["a"].data, da.Array)
    v = out["a"].values
    full = _reference()
    # the lon/lat round trip moves edges by far less than a pixel: at most a rim of pixels differs
    assert (np.isfinite(v) != full).sum() < 20
    assert np.all(v[np.isfinite(v)] == 1)
    assert np.isnan(v[0, 0]) and np.isnan(v[-1, -1])
    inner = (v.shape[0] // 2, v.shape[1] // 2)
    assert v[inner] == 1
