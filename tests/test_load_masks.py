"""Quality-band decoding: Sentinel-2 SCL, Landsat C2 QA_PIXEL, Landsat C1 BQA (real file)."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from rs.load.masks import (
    DEFAULT_MASK,
    bqa_c1_mask,
    decode_bqa_c1,
    qa_pixel_flags,
    qa_pixel_mask,
    scl_mask,
)

#: Real data folder beside the repository (../shared/data/real), as bench/ uses it.
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
BQA = REAL / "optical/landsat8_bqa/LC08_L1TP_005004_20170410_20170414_01_T1_BQA.TIF"

# SCL class -> the one mask class it belongs to (None: never masked by any class).
SCL_EXPECTED = {
    0: "invalid",
    1: "invalid",
    2: None,
    3: "shadow",
    4: None,
    5: None,
    6: "water",
    7: None,
    8: "cloud",
    9: "cloud",
    10: "cirrus",
    11: "snow",
}


@pytest.mark.parametrize("value", sorted(SCL_EXPECTED))
def test_scl_mask__each_class_maps_to_its_mask(value):
    scl = np.array([value], dtype="uint8")
    for name in ("invalid", "cloud", "cirrus", "shadow", "snow", "water"):
        assert bool(scl_mask(scl, [name])[0]) is (SCL_EXPECTED[value] == name), (value, name)


def test_scl_mask__default_is_invalid_cloud_shadow_snow_and_lazy():
    scl = xr.DataArray(da.from_array(np.arange(12, dtype="uint8").reshape(3, 4), chunks=2))
    out = scl_mask(scl)
    assert DEFAULT_MASK == ("invalid", "cloud", "shadow", "snow")
    assert isinstance(out.data, da.Array)
    assert np.flatnonzero(out.values).tolist() == [0, 1, 3, 8, 9, 11]


def test_scl_mask__unknown_class_refused():
    with pytest.raises(ValueError, match="unknown mask class"):
        scl_mask(np.zeros(1, "uint8"), ["clouds"])


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 65535))
def test_qa_pixel_flags__each_bit(value):
    flags = qa_pixel_flags(np.array([value], dtype="uint16"))
    bits = ["fill", "dilated_cloud", "cirrus", "cloud", "shadow", "snow", "clear", "water"]
    for bit, name in enumerate(bits):
        assert bool(flags[name][0]) is bool(value & (1 << bit)), (value, name)
    masked = bool(qa_pixel_mask(np.array([value], dtype="uint16"))[0])
    assert masked is bool(value & 0b111011)  # fill, dilated cloud, cloud, shadow, snow


def test_qa_pixel_mask__documented_values():
    # 1 fill; 21824 clear land and 22280 high-confidence cloud (LSDS-1619 examples);
    # 21760 = low-confidence fields (bits 8, 10, 12, 14) plus: bit 1 -> 21762 dilated cloud,
    # bit 4 -> 21776 shadow, bits 5 + 11 -> 23840 snow, bits 2 + 15 -> 54532 cirrus;
    # 21952 clear water (bits 6, 7).
    qa = np.array([1, 21824, 22280, 21762, 21776, 23840, 54532, 21952], dtype="uint16")
    expected = {
        "invalid": [True, False, False, False, False, False, False, False],
        "cloud": [False, False, True, True, False, False, False, False],
        "shadow": [False, False, False, False, True, False, False, False],
        "snow": [False, False, False, False, False, True, False, False],
        "cirrus": [False, False, False, False, False, False, True, False],
        "water": [False, False, False, False, False, False, False, True],
    }
    for name, want in expected.items():
        assert qa_pixel_mask(qa, [name]).tolist() == want, name


# Landsat C1 BQA: bit 0 fill, 4 cloud, 5-6 cloud conf, 7-8 shadow conf, 9-10 snow conf,
# 11-12 cirrus conf (0 none, 1 low, 2 medium, 3 high). Worked by hand from the binary values:
#   1    = bit 0                           -> fill
#   2720 = bits 5, 7, 9, 11                -> all confidences low (clear)
#   2752 = bits 6, 7, 9, 11                -> cloud conf medium, others low
#   2800 = bits 4, 5, 6, 7, 9, 11          -> cloud bit, cloud conf high, others low
#   2976 = bits 5, 7, 8, 9, 11             -> shadow conf high, others low
#   3744 = bits 5, 7, 9, 10, 11            -> snow conf high, others low
#   3776 = bits 6, 7, 9, 10, 11            -> cloud conf medium, snow conf high
#   7840 = bits 5, 7, 9, 10, 11, 12        -> snow conf high, cirrus conf high
BQA_EXPECTED = {
    # value: (fill, cloud, cloud_conf, shadow_conf, snow_conf, cirrus_conf)
    1: (True, False, 0, 0, 0, 0),
    2720: (False, False, 1, 1, 1, 1),
    2752: (False, False, 2, 1, 1, 1),
    2800: (False, True, 3, 1, 1, 1),
    2976: (False, False, 1, 3, 1, 1),
    3744: (False, False, 1, 1, 3, 1),
    3776: (False, False, 2, 1, 3, 1),
    7840: (False, False, 1, 1, 3, 3),
}
BQA_FIELDS = (
    "fill",
    "cloud",
    "cloud_confidence",
    "shadow_confidence",
    "snow_confidence",
    "cirrus_confidence",
)


@pytest.mark.parametrize("value", sorted(BQA_EXPECTED))
def test_decode_bqa_c1__documented_bit_meanings(value):
    flags = decode_bqa_c1(np.array([value], dtype="uint16"))
    got = tuple(flags[f][0].item() for f in BQA_FIELDS)
    assert got == BQA_EXPECTED[value]


@pytest.fixture(scope="module")
def real_bqa() -> np.ndarray:
    if not BQA.parent.is_dir():
        pytest.skip(f"real data folder {BQA.parent} absent")
    rasterio = pytest.importorskip("rasterio")
    with rasterio.open(BQA) as src:
        return src.read(1)


@pytest.mark.realdata
def test_decode_bqa_c1__real_file_distinct_values(real_bqa):
    assert set(np.unique(real_bqa).tolist()) == set(BQA_EXPECTED)


@pytest.mark.realdata
def test_decode_bqa_c1__real_file_class_counts_consistent(real_bqa):
    values, counts = np.unique(real_bqa, return_counts=True)
    n = dict(zip(values.tolist(), counts.tolist(), strict=True))
    lazy = xr.DataArray(da.from_array(real_bqa, chunks=128), dims=("y", "x"))
    flags = {k: v.compute().values for k, v in decode_bqa_c1(lazy).items()}

    assert flags["fill"].sum() == n[1]
    assert flags["cloud"].sum() == n[2800]
    assert (flags["cloud_confidence"] == 3).sum() == n[2800]
    assert (flags["cloud_confidence"] == 2).sum() == n[2752] + n[3776]
    assert (flags["shadow_confidence"] == 3).sum() == n[2976]
    assert (flags["snow_confidence"] == 3).sum() == n[3744] + n[3776] + n[7840]
    assert (flags["cirrus_confidence"] == 3).sum() == n[7840]
    # Every non-fill pixel has all four confidences determined (>= low).
    valid = ~flags["fill"]
    for name in ("cloud", "shadow", "snow", "cirrus"):
        assert (flags[f"{name}_confidence"][valid] >= 1).all(), name
        assert (flags[f"{name}_confidence"][~valid] == 0).all(), name

    masked = bqa_c1_mask(real_bqa).sum()  # invalid, cloud, shadow, snow at high confidence
    assert masked == n[1] + n[2800] + n[2976] + n[3744] + n[3776] + n[7840]
    assert bqa_c1_mask(real_bqa, ["cloud"], min_confidence="medium").sum() == (
        n[2752] + n[2800] + n[3776]
    )
