"""Temporal composites and indices against hand-computed answers."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rs.composite import temporal_composite, valid_count
from rs.indices import compute_indices, ndvi, required_bands


def _stack(values: np.ndarray, chunks: dict | None = None) -> xr.Dataset:
    t, h, w = values.shape
    ds = xr.Dataset(
        {
            "red": (("time", "y", "x"), values.astype("float32")),
            "nir": (("time", "y", "x"), (values * 2).astype("float32")),
        },
        coords={"time": np.arange(t), "y": np.arange(h), "x": np.arange(w)},
    )
    return ds.chunk(chunks) if chunks else ds


def test_temporal_composite__median_skips_nan() -> None:
    v = np.array([[[0.1]], [[np.nan]], [[0.3]], [[0.2]], [[np.nan]]])
    out = temporal_composite(_stack(v, {"time": 1}))
    assert out["red"].dtype == np.float32
    assert float(out["red"].compute().item()) == pytest.approx(0.2)
    assert float(out["nir"].compute().item()) == pytest.approx(0.4)


def test_temporal_composite__all_nan_pixel_is_nan() -> None:
    v = np.full((3, 1, 2), np.nan)
    v[:, 0, 1] = [0.1, 0.5, 0.2]
    out = temporal_composite(_stack(v, {"time": 1})).compute()
    assert np.isnan(out["red"].values[0, 0])
    assert out["red"].values[0, 1] == pytest.approx(0.2)


def test_temporal_composite__stays_lazy_and_keeps_spatial_chunks() -> None:
    v = np.random.default_rng(0).random((6, 8, 8))
    out = temporal_composite(_stack(v, {"time": 1, "y": 4, "x": 4}))
    assert isinstance(out["red"].data, da.Array)
    assert out["red"].data.chunks == ((4, 4), (4, 4))


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, (5, 3, 3), elements=st.one_of(st.just(np.nan), st.floats(0, 1))),
    st.sampled_from(["median", "mean", "min", "max"]),
)
def test_temporal_composite__matches_numpy_nan_reducers(v: np.ndarray, stat: str) -> None:
    ref = {"median": np.nanmedian, "mean": np.nanmean, "min": np.nanmin, "max": np.nanmax}[stat]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        expected = ref(v.astype("float32"), axis=0)
        got = temporal_composite(_stack(v, {"time": 2}), stat).compute()["red"].values
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)


def test_temporal_composite__bad_statistic_refused() -> None:
    with pytest.raises(ValueError, match="unknown composite statistic"):
        temporal_composite(_stack(np.zeros((2, 1, 1))), "mode")  # type: ignore[arg-type]


def test_valid_count__counts_pixels_clear_in_every_band() -> None:
    v = np.array([[[0.1, np.nan]], [[0.2, 0.3]], [[np.nan, np.nan]]])
    ds = _stack(v)
    ds["nir"][0, 0, 0] = np.nan  # clear in red, not in nir -> not counted
    assert valid_count(ds).values.tolist() == [[1, 1]]


def test_ndvi__known_values_and_zero_denominator() -> None:
    ds = xr.Dataset(
        {
            "red": ("x", np.array([0.05, 0.2, 0.0, np.nan], "float32")),
            "nir": ("x", np.array([0.45, 0.2, 0.0, 0.3], "float32")),
        }
    )
    out = ndvi(ds).values
    assert out[0] == pytest.approx(0.8)
    assert out[1] == pytest.approx(0.0)
    assert np.isnan(out[2]) and np.isnan(out[3])
    assert out.dtype == np.float32


def test_compute_indices__required_bands_and_unknown_name() -> None:
    assert required_bands(["ndvi", "ndwi"]) == ("nir", "red", "green")
    with pytest.raises(ValueError, match="unknown index"):
        required_bands(["evi9"])
    ds = xr.Dataset({b: ("x", np.array([0.1, 0.2], "float32")) for b in ("red", "green", "nir")})
    out = compute_indices(ds, ["ndwi"])
    assert list(out.data_vars) == ["ndwi"]
    assert out["ndwi"].values[0] == pytest.approx(0.0)
