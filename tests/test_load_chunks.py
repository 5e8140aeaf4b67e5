"""The single chunking decision."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rs.load._chunks import BLOCK, LOAD_CHUNK, load_chunks, reduction_chunks


def test_load_chunks__defaults_time_one_and_block_aligned():
    assert load_chunks() == {"time": 1, "y": LOAD_CHUNK, "x": LOAD_CHUNK}
    assert load_chunks(1000) == {"time": 1, "y": 768, "x": 768}
    assert load_chunks({"x": 512, "time": 5}) == {"time": 1, "y": LOAD_CHUNK, "x": 512}
    assert load_chunks(100) == {"time": 1, "y": 100, "x": 100}


def test_load_chunks__bad_input_refused():
    with pytest.raises(ValueError, match="positive"):
        load_chunks(0)
    with pytest.raises(ValueError, match="band"):
        load_chunks({"band": 1})


@settings(max_examples=50, deadline=None)
@given(n_time=st.integers(1, 2000), load=st.sampled_from([256, 512, 1024, 2048]))
def test_reduction_chunks__fits_budget_and_divides_load_chunk(n_time, load):
    rc = reduction_chunks(n_time, load={"y": load, "x": load}, max_bytes=64 * 2**20)
    assert rc["time"] == -1
    assert load % rc["y"] == 0 and load % rc["x"] == 0
    fits = n_time * rc["y"] * rc["x"] * 4 <= 64 * 2**20
    assert fits or rc["y"] == BLOCK // 4
