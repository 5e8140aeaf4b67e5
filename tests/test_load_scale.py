"""Scale/offset rules (pure), property-tested with hypothesis."""

from __future__ import annotations

from datetime import datetime

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from rs.errors import SourceError
from rs.load._scale import (
    ScaleOffset,
    apply_scale_offset,
    asset_raster,
    group_scale_offset,
    parse_baseline,
    scale_offset_for,
)

FAST = settings(max_examples=60, deadline=None)
S2_RASTER = {"nodata": 0, "data_type": "uint16", "scale": 0.0001}


@FAST
@given(major=st.integers(0, 9), minor=st.integers(0, 99))
def test_scale_offset_for__s2_offset_iff_baseline_at_least_04(major, minor):
    so = scale_offset_for(
        "sentinel-2-l2a", "red", S2_RASTER, {"s2:processing_baseline": f"{major:02d}.{minor:02d}"}
    )
    assert so.scale == 1e-4
    assert so.offset == (-0.1 if (major, minor) >= (4, 0) else 0.0)


@FAST
@given(
    scale=st.floats(1e-6, 10, allow_nan=False),
    offset=st.floats(-1000, 1000, allow_nan=False),
)
def test_scale_offset_for__landsat_raster_metadata_wins(scale, offset):
    rb = {"nodata": 0, "scale": scale, "offset": offset}
    assert scale_offset_for("landsat-c2-l2", "red", rb, {}) == ScaleOffset(scale, offset)


@FAST
@given(
    scale=st.floats(1e-6, 10, allow_nan=False),
    offset=st.floats(-1000, 1000, allow_nan=False),
    baseline=st.sampled_from(["02.07", "03.01", "04.00", "05.09"]),
)
def test_scale_offset_for__s2_raster_scale_kept_baseline_decides_offset(scale, offset, baseline):
    rb = {"nodata": 0, "scale": scale, "offset": offset}
    so = scale_offset_for("sentinel-2-l2a", "red", rb, {"s2:processing_baseline": baseline})
    assert so == ScaleOffset(scale, -0.1 if baseline >= "04.00" else 0.0)


# (properties, raster offset, date) -> expected offset; one row per rung of the order of trust
_TRUST = [
    # 1. an offset-applied flag beats baseline, raster offset and date
    ({"earthsearch:boa_offset_applied": True, "s2:processing_baseline": "05.09"}, -0.1, 2023, 0.0),
    (
        {"sentinel:boa_offset_applied": True, "sentinel:processing_baseline": "04.00"},
        None,
        2022,
        0.0,
    ),
    # a false flag leaves the decision to the baseline
    (
        {"earthsearch:boa_offset_applied": False, "s2:processing_baseline": "04.00"},
        -0.1,
        2022,
        -0.1,
    ),
    ({"earthsearch:boa_offset_applied": False, "s2:processing_baseline": "02.14"}, -0.1, 2020, 0.0),
    # 2. the baseline beats raster offset and date (a 2019 acquisition reprocessed with 05.00)
    ({"processing:version": "05.00"}, None, 2019, -0.1),
    ({"sentinel:processing_baseline": "02.12"}, -0.1, 2019, 0.0),
    (
        {"s2:product_uri": "S2B_MSIL2A_20190602T000000_N0500_R000_T33UUU_20230101T0.SAFE"},
        0.0,
        2019,
        -0.1,
    ),
    # 3. the raster offset beats the date
    ({}, -0.1, 2019, -0.1),
    ({}, 0.0, 2023, 0.0),
    # 4. the date, last
    ({}, None, 2019, 0.0),
    ({}, None, 2023, -0.1),
]


@pytest.mark.parametrize(("props", "raster_offset", "year", "expected"), _TRUST)
def test_scale_offset_for__s2_order_of_trust(props, raster_offset, year, expected):
    rb = {"scale": 1e-4} if raster_offset is None else {"scale": 1e-4, "offset": raster_offset}
    so = scale_offset_for("sentinel-2-l2a", "red", rb, props, datetime(year, 6, 1), "x")
    assert so == ScaleOffset(1e-4, expected)
    assert so.rule  # the deciding rule is always named


def test_scale_offset_for__baseline_read_from_item_id():
    so = scale_offset_for(
        "sentinel-2-l2a",
        "red",
        None,
        {},
        datetime(2019, 6, 1),
        "S2A_MSIL2A_20190601T000000_N0510_R000_T33UUU_20240101T000000",
    )
    assert so.offset == -0.1 and "N0510" in so.rule


def test_asset_raster__stac_10_and_11_layouts():
    v10 = {"raster:bands": [{"scale": 1e-4, "offset": -0.1, "nodata": 0, "data_type": "uint16"}]}
    v11_asset = {"raster:scale": 1e-4, "raster:offset": -0.1, "nodata": 0, "data_type": "uint16"}
    v11_bands = {
        "bands": [
            {
                "name": "B04",
                "raster:scale": 1e-4,
                "raster:offset": -0.1,
                "nodata": 0,
                "data_type": "uint16",
            }
        ]
    }
    want = {"scale": 1e-4, "offset": -0.1, "nodata": 0, "data_type": "uint16"}
    assert asset_raster(v10) == asset_raster(v11_asset) == asset_raster(v11_bands) == want
    # a bare "scale" on an asset is not a raster field
    assert asset_raster({"scale": 3}) == {}


@FAST
@given(reflectance=st.integers(0, 50_000), old=st.sampled_from(["02.14", "03.01"]))
def test_apply_scale_offset__baselines_harmonise(reflectance, old):
    """Contract encoding: DN = round(r * 1e4) + 1000 for baseline >= 04.00."""
    dn = np.array([[[reflectance + 1]], [[reflectance + 1 + 1000]]], dtype="uint16")
    raw = xr.DataArray(dn, dims=("time", "y", "x"))
    rules = [
        scale_offset_for("sentinel-2-l2a", "nir", S2_RASTER, {"s2:processing_baseline": b})
        for b in (old, "04.00")
    ]
    out = apply_scale_offset(raw, [r.scale for r in rules], [r.offset for r in rules], 0).values
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    np.testing.assert_allclose(out[0, 0, 0], (reflectance + 1) * 1e-4, rtol=1e-6)


@FAST
@given(
    dns=st.lists(st.integers(0, 65535), min_size=1, max_size=20),
    scale=st.floats(1e-5, 1.0),
    offset=st.floats(-1.0, 300.0),
    nodata=st.sampled_from([0, 1, 65535]),
)
def test_apply_scale_offset__linear_and_nodata_nan(dns, scale, offset, nodata):
    raw = xr.DataArray(np.array(dns, dtype="uint16")[None, None, :], dims=("time", "y", "x"))
    out = apply_scale_offset(raw, [scale], [offset], nodata).values[0, 0]
    for dn, v in zip(dns, out, strict=True):
        if dn == nodata:
            assert np.isnan(v)
        else:
            assert v == np.float32(dn * scale + offset)


def test_apply_scale_offset__per_time_slice_and_lazy():
    raw = xr.DataArray(
        da.from_array(np.full((2, 4, 4), 2000, dtype="uint16"), chunks=(1, 2, 2)),
        dims=("time", "y", "x"),
    )
    out = apply_scale_offset(raw, [1e-4, 2.75e-5], [0.0, -0.2], 0)
    assert isinstance(out.data, da.Array)
    values = out.values
    np.testing.assert_allclose(values[0], 0.2, rtol=1e-6)
    np.testing.assert_allclose(values[1], 2000 * 2.75e-5 - 0.2, rtol=1e-5)


def test_scale_offset_for__landsat_defaults_and_mask_identity():
    props = {"platform": "landsat-8"}
    assert scale_offset_for("landsat-c2-l2", "red", None, props) == ScaleOffset(2.75e-5, -0.2)
    assert scale_offset_for("landsat-c2-l2", "thermal", {}, props) == ScaleOffset(0.00341802, 149.0)
    assert scale_offset_for("landsat-c2-l2", "qa_pixel", None, props) == ScaleOffset(1.0, 0.0)
    assert scale_offset_for("sentinel-2-l2a", "scl", None, {}) == ScaleOffset(1.0, 0.0)


def test_scale_offset_for__s2_without_baseline_uses_date():
    before = scale_offset_for("sentinel-2-l2a", "red", None, {}, datetime(2022, 1, 24))
    after = scale_offset_for("sentinel-2-l2a", "red", None, {}, datetime(2022, 1, 25))
    assert (before.offset, after.offset) == (0.0, -0.1)
    with pytest.raises(SourceError, match="processing_baseline"):
        scale_offset_for("sentinel-2-l2a", "red", None, {})


def test_parse_baseline__formats():
    assert parse_baseline("04.00") == (4, 0)
    assert parse_baseline("N0509") == (5, 9)
    assert parse_baseline("3.1") == (3, 1)
    assert parse_baseline("garbage") is None
    assert parse_baseline(None) is None


def test_group_scale_offset__mixed_group_refused():
    new = ScaleOffset(1e-4, -0.1)
    per_item = {"a": ScaleOffset(1e-4, 0.0), "b": new, "c": new}
    assert group_scale_offset([["a"], ["b", "c"]], per_item, "red") == ([1e-4, 1e-4], [0.0, -0.1])
    with pytest.raises(SourceError, match=r"different scale/offset.*a:.*b:"):
        group_scale_offset([["a", "b"]], per_item, "red")
