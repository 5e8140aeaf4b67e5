"""Spectral indices against independent references.

Normalised differences, EVI, SAVI and BSI are checked against spyndex's catalogue (Awesome
Spectral Indices); IBI and NDBSI, which spyndex has not (NDBSI) or has in another form (IBI),
against the published formulas written out here; tasseled cap against the published coefficient
tables typed here; FVC and LST against hand-computed cases. Plus: missing bands, NaN and zero
denominators, float32 output and laziness.
"""

from __future__ import annotations

import math
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import spyndex
import xarray as xr

from rs.errors import SourceError
from rs.fvc import fractional_vegetation_cover, ndvi_endmembers
from rs.indices import (
    INDICES,
    SCENE_DEPENDENT,
    UNITS,
    compute_indices,
    fvc,
    ibi,
    lst,
    lst_from_brightness,
    ndbsi,
    required_bands,
    tcb,
    tcg,
    tcw,
)
from rs.lst import lst_from_brightness_temperature, ndvi_threshold_emissivity
from rs.tasseled_cap import COEFFICIENTS, tasseled_cap

REFLECTANCE = ("blue", "green", "red", "nir", "nir08", "swir16", "swir22")
SHAPE = (30, 40)


def _dataset(product: str = "sentinel-2-l2a", seed: int = 0) -> xr.Dataset:
    """Random surface reflectance 0.01..0.6 and a thermal band 260..320 K, float32."""
    rng = np.random.default_rng(seed)
    ds = xr.Dataset(
        {b: (("y", "x"), rng.uniform(0.01, 0.6, SHAPE).astype(np.float32)) for b in REFLECTANCE},
        coords={"y": np.arange(SHAPE[0]), "x": np.arange(SHAPE[1])},
        attrs={"product": product},
    )
    ds["thermal"] = (("y", "x"), rng.uniform(260, 320, SHAPE).astype(np.float32))
    ds["thermal"].attrs["units"] = "K"
    return ds


def _f64(ds: xr.Dataset, band: str) -> np.ndarray:
    return ds[band].values.astype(np.float64)


def _close(got: xr.DataArray, expected: Any) -> None:
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.values, np.asarray(expected), rtol=1e-6, atol=1e-6)


# --- spyndex references ----------------------------------------------------------------------

#: rs index -> (spyndex name, {spyndex band symbol: rs band}, spyndex constants)
SPYNDEX: dict[str, tuple[str, dict[str, str], dict[str, float]]] = {
    "ndvi": ("NDVI", {"N": "nir", "R": "red"}, {}),
    "ndwi": ("NDWI", {"G": "green", "N": "nir"}, {}),
    "mndwi": ("MNDWI", {"G": "green", "S1": "swir16"}, {}),
    "evi": (
        "EVI",
        {"N": "nir", "R": "red", "B": "blue"},
        {"g": 2.5, "C1": 6.0, "C2": 7.5, "L": 1.0},
    ),
    "savi": ("SAVI", {"N": "nir", "R": "red"}, {"L": 0.5}),
    "ndbi": ("NDBI", {"S1": "swir16", "N": "nir"}, {}),
    "nbr": ("NBR", {"N": "nir", "S2": "swir22"}, {}),
    # spyndex's "BI" (Bare Soil Index, Rikimaru et al. 2002) is rs's BSI
    "bsi": ("BI", {"S1": "swir16", "R": "red", "N": "nir", "B": "blue"}, {}),
}


def _spyndex(name: str, ds: xr.Dataset, **constants: float) -> np.ndarray:
    index, symbols, defaults = SPYNDEX[name]
    params: dict[str, Any] = {s: _f64(ds, b) for s, b in symbols.items()}
    params.update(defaults)
    params.update(constants)
    return np.asarray(spyndex.computeIndex(index, params=params), dtype=np.float64)


@pytest.mark.parametrize("name", sorted(SPYNDEX))
def test_index__equals_spyndex(name: str) -> None:
    ds = _dataset()
    _close(INDICES[name][0](ds), _spyndex(name, ds))


def test_index__spyndex_formulas_are_the_published_ones() -> None:
    # guards the reference itself: a catalogue change would silently change what is tested
    assert spyndex.indices["EVI"].formula == "g*(N-R)/(N+C1*R-C2*B+L)"
    assert spyndex.indices["SAVI"].formula == "(1.0+L)*(N-R)/(N+R+L)"
    assert spyndex.indices["BI"].formula == "((S1+R)-(N+B))/((S1+R)+(N+B))"
    assert spyndex.indices["NBR"].formula == "(N-S2)/(N+S2)"


def test_compute_indices__parameters_reach_the_function() -> None:
    ds = _dataset(seed=1)
    out = compute_indices(ds, ["savi", "evi"], params={"savi": {"l_soil": 0.25}})
    _close(out["savi"], _spyndex("savi", ds, L=0.25))
    _close(out["evi"], _spyndex("evi", ds))
    assert out.attrs == ds.attrs
    with pytest.raises(ValueError, match=r"indices not computed: \['ndvi'\]"):
        compute_indices(ds, ["savi"], params={"ndvi": {}})


# --- IBI and NDBSI: Xu (2008), Xu (2013), written out ---------------------------------------


def _ibi_published(ds: xr.Dataset) -> np.ndarray:
    """Xu (2008) IBI, band form: {2S1/(S1+N) - [N/(N+R) + G/(G+S1)]} / {... + ...}."""
    g, r, n, s1 = (_f64(ds, b) for b in ("green", "red", "nir", "swir16"))
    a = 2 * s1 / (s1 + n)
    b = n / (n + r) + g / (g + s1)
    return (a - b) / (a + b)


def test_ibi__equals_xu_2008_band_form() -> None:
    ds = _dataset(seed=2)
    _close(ibi(ds), _ibi_published(ds))


def test_ibi__equals_the_index_form_with_indices_rescaled_to_0_1() -> None:
    # IBI = (NDBI' - (NDVI' + MNDWI')/2) / (NDBI' + (NDVI' + MNDWI')/2), X' = (X + 1) / 2
    ds = _dataset(seed=3)
    ndbi_, ndvi_, mndwi_ = (
        (np.asarray(spyndex.computeIndex(i, params=p)) + 1) / 2
        for i, p in (
            ("NDBI", {"S1": _f64(ds, "swir16"), "N": _f64(ds, "nir")}),
            ("NDVI", {"N": _f64(ds, "nir"), "R": _f64(ds, "red")}),
            ("MNDWI", {"G": _f64(ds, "green"), "S1": _f64(ds, "swir16")}),
        )
    )
    veg_water = (ndvi_ + mndwi_) / 2
    _close(ibi(ds), (ndbi_ - veg_water) / (ndbi_ + veg_water))


def test_ndbsi__is_mean_of_ibi_and_rikimaru_si() -> None:
    ds = _dataset(seed=4)
    _close(ndbsi(ds), (_ibi_published(ds) + _spyndex("bsi", ds)) / 2)


# --- tasseled cap: the published tables, typed here ------------------------------------------

#: Shi, T. & Xu, H. (2019), IEEE JSTARS 12(10):4038-4048, doi:10.1109/JSTARS.2019.2938388,
#: six-band set for Sentinel-2 MSI at-sensor reflectance: B2, B3, B4, B8, B11, B12.
SHI_XU_2019: dict[str, tuple[Any, ...]] = {
    "bands": ("blue", "green", "red", "nir", "swir16", "swir22"),
    "brightness": (0.3510, 0.3813, 0.3437, 0.7196, 0.2396, 0.1949),
    "greenness": (-0.3599, -0.3533, -0.4734, 0.6633, 0.0087, -0.2856),
    "wetness": (0.2578, 0.2305, 0.0883, 0.1071, -0.7611, -0.5308),
}
#: Zhai, Y. et al. (2022), Remote Sens. Environ. 274:112992, doi:10.1016/j.rse.2022.112992,
#: Landsat-8 OLI surface reflectance without blue: B3, B4, B5, B6, B7.
ZHAI_2022_SR: dict[str, tuple[Any, ...]] = {
    "bands": ("green", "red", "nir", "swir16", "swir22"),
    "brightness": (0.4596, 0.5046, 0.5458, 0.4114, 0.2589),
    "greenness": (-0.3374, -0.4901, 0.7909, 0.0177, -0.1416),
    "wetness": (0.2254, 0.3681, 0.2250, -0.6053, -0.6298),
}
PUBLISHED = {"sentinel-2-l2a": SHI_XU_2019, "landsat-c2-l2": ZHAI_2022_SR}
TC = {"brightness": tcb, "greenness": tcg, "wetness": tcw}


@pytest.mark.parametrize("sensor", sorted(PUBLISHED))
def test_tasseled_cap__coefficients_are_the_published_table(sensor: str) -> None:
    table, coeffs = PUBLISHED[sensor], COEFFICIENTS[sensor]
    assert coeffs.bands == table["bands"]
    for component in ("brightness", "greenness", "wetness"):
        assert coeffs.row(component) == table[component]


@pytest.mark.parametrize("sensor", sorted(PUBLISHED))
def test_tasseled_cap__published_rows_are_orthonormal(sensor: str) -> None:
    # the published rows are rows of a rotation: a mistyped digit shows here
    rows = np.array([PUBLISHED[sensor][c] for c in ("brightness", "greenness", "wetness")])
    np.testing.assert_allclose(rows @ rows.T, np.eye(3), atol=1e-3)


@pytest.mark.parametrize("sensor", sorted(PUBLISHED))
@pytest.mark.parametrize("component", ["brightness", "greenness", "wetness"])
def test_tasseled_cap__equals_weighted_sum_of_published_table(sensor: str, component: str) -> None:
    ds = _dataset(sensor, seed=5)
    table = PUBLISHED[sensor]
    expected = sum(w * _f64(ds, b) for b, w in zip(table["bands"], table[component], strict=True))
    got = TC[component](ds)
    _close(got, expected)
    assert got.name == {"brightness": "tcb", "greenness": "tcg", "wetness": "tcw"}[component]


def test_tasseled_cap__explicit_sensor_overrides_attrs() -> None:
    ds = _dataset("sentinel-2-l2a", seed=6)
    table = ZHAI_2022_SR
    expected = sum(w * _f64(ds, b) for b, w in zip(table["bands"], table["wetness"], strict=True))
    _close(tcw(ds, sensor="landsat-c2-l2"), expected)


def test_tasseled_cap__landsat_does_not_need_blue() -> None:
    ds = _dataset("landsat-c2-l2").drop_vars("blue")
    assert np.isfinite(tcb(ds).values).all()


def test_tasseled_cap__unknown_or_missing_sensor_refused() -> None:
    ds = _dataset("sentinel-3-olci")
    with pytest.raises(SourceError, match=r"tcw.*'sentinel-3-olci'.*landsat-c2-l2"):
        tcw(ds)
    with pytest.raises(SourceError, match=r"no attrs\['product'\]"):
        tcb(_dataset().drop_attrs())
    with pytest.raises(SourceError, match="modis"):
        tcg(_dataset(), sensor="modis")
    with pytest.raises(ValueError, match="unknown tasseled-cap component"):
        tasseled_cap(_dataset(), "haze")  # type: ignore[arg-type]


def test_tasseled_cap__landsat_tm_etm_scenes_refused() -> None:
    ds = _dataset("landsat-c2-l2")
    ds.attrs["item_ids"] = [["LC08_L2SP_013031_20150822_02_T1"], ["LE07_L2SP_013031_20150830"]]
    with pytest.raises(SourceError, match=r"OLI.*LE07_L2SP_013031_20150830"):
        tcw(ds)
    ds.attrs["item_ids"] = [["LC09_L2SP_013031_20220822_02_T1"]]
    assert np.isfinite(tcw(ds).values).all()


# --- FVC: hand-computed ----------------------------------------------------------------------


def test_fvc__given_end_members() -> None:
    ndvi = xr.DataArray(np.array([-0.1, 0.2, 0.35, 0.5, 0.8, 0.95, np.nan], np.float32), dims="x")
    got = fractional_vegetation_cover(ndvi, ndvi_soil=0.2, ndvi_veg=0.8)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.values, [0, 0, 0.25, 0.5, 1, 1, np.nan], atol=1e-6)


def test_fvc__default_end_members_are_5_and_95_percentiles() -> None:
    # 0.00, 0.01, ..., 1.00 (+ NaN, skipped): 5th percentile 0.05, 95th 0.95
    values = np.concatenate([np.arange(101) / 100, [np.nan, np.nan]])
    ndvi = xr.DataArray(values, dims="x")
    soil, veg = ndvi_endmembers(ndvi)
    assert float(soil) == pytest.approx(0.05) and float(veg) == pytest.approx(0.95)
    got = fractional_vegetation_cover(ndvi).values
    assert got[5] == pytest.approx(0.0, abs=1e-6)  # NDVI 0.05
    assert got[14] == pytest.approx(0.1, abs=1e-6)  # (0.14 - 0.05) / 0.9
    assert got[50] == pytest.approx(0.5, abs=1e-6)
    assert got[95] == pytest.approx(1.0, abs=1e-6) and got[100] == 1.0 and got[0] == 0.0
    assert np.isnan(got[-1])
    # one end-member given, the other from its percentile; other percentiles
    assert fractional_vegetation_cover(ndvi, ndvi_soil=0.15).values[50] == pytest.approx(
        (0.5 - 0.15) / (0.95 - 0.15), abs=1e-6
    )
    assert fractional_vegetation_cover(ndvi, percentiles=(10, 90)).values[30] == pytest.approx(
        (0.3 - 0.1) / 0.8, abs=1e-6
    )


def test_fvc__of_dataset_uses_its_ndvi_percentiles() -> None:
    ds = _dataset(seed=7)
    v = (_f64(ds, "nir") - _f64(ds, "red")) / (_f64(ds, "nir") + _f64(ds, "red"))
    lo, hi = np.percentile(v, [5, 95])
    _close(fvc(ds), np.clip((v - lo) / (hi - lo), 0, 1))
    _close(compute_indices(ds, ["fvc"], params={"fvc": {"ndvi_soil": 0.0, "ndvi_veg": 0.5}})["fvc"],
           np.clip(v / 0.5, 0, 1))  # fmt: skip
    assert "fvc" in SCENE_DEPENDENT


def test_fvc__bad_parameters_refused_and_flat_ndvi_is_nan() -> None:
    ndvi = xr.DataArray(np.array([0.3, 0.3, 0.3]), dims="x")
    with pytest.raises(ValueError, match="greater than ndvi_soil"):
        fractional_vegetation_cover(ndvi, ndvi_soil=0.5, ndvi_veg=0.5)
    with pytest.raises(ValueError, match="0 <= soil < vegetation <= 100"):
        fractional_vegetation_cover(ndvi, percentiles=(95, 5))
    assert np.isnan(fractional_vegetation_cover(ndvi).values).all()  # end-members coincide


# --- LST: hand-computed ----------------------------------------------------------------------


def test_lst__collection2_surface_temperature_to_celsius() -> None:
    ds = xr.Dataset({"thermal": ("x", np.array([300.0, 273.15, np.nan], np.float32))})
    ds["thermal"].attrs["units"] = "K"
    got = lst(ds)
    assert got.dtype == np.float32 and got.attrs["units"] == "degC" and UNITS["lst"] == "degC"
    np.testing.assert_allclose(got.values, [26.85, 0.0, np.nan], atol=1e-4)
    ds["thermal"] = ds["thermal"] - 273.15
    ds["thermal"].attrs["units"] = "degC"
    np.testing.assert_allclose(lst(ds).values, [26.85, 0.0, np.nan], atol=1e-4)
    ds["thermal"].attrs["units"] = "degF"
    with pytest.raises(SourceError, match=r"'lst'.*'degF'"):
        lst(ds)


def test_emissivity__sobrino_2004_ndvi_thresholds() -> None:
    ndvi = xr.DataArray(np.array([0.6, 0.5, 0.35, 0.2, 0.1, -0.3, np.nan]), dims="x")
    red = xr.DataArray(np.array([0.05, 0.05, 0.05, 0.05, 0.2, 0.1, 0.1]), dims="x")
    got = ndvi_threshold_emissivity(ndvi, red).values
    # veg 0.99; mixed 0.004 * Pv + 0.986 with Pv = ((NDVI - 0.2) / 0.3)^2 -> Pv 1, 0.25, 0;
    # soil 0.979 - 0.035 * red
    np.testing.assert_allclose(got, [0.99, 0.990, 0.987, 0.986, 0.972, 0.9755, np.nan], atol=1e-9)


def test_lst__from_brightness_temperature_by_hand() -> None:
    # BT 300 K, emissivity 0.99, lambda 10.895 um, rho 14388 um K:
    # 10.895 * 300 / 14388 = 0.2271685; ln 0.99 = -0.0100503;
    # LST = 300 / (1 - 0.0022831) = 300.6865 K = 27.5365 degC
    bt = xr.DataArray(np.array([300.0, np.nan, 300.0]), dims="x")
    eps = xr.DataArray(np.array([0.99, 0.99, np.nan]), dims="x")
    got = lst_from_brightness_temperature(bt, eps).values
    assert got[0] == pytest.approx(27.5365, abs=2e-4)
    assert got[0] == pytest.approx(300 / (1 + 10.895 * 300 / 14388 * math.log(0.99)) - 273.15)
    assert np.isnan(got[1:]).all()
    other = lst_from_brightness_temperature(bt, eps, wavelength_um=11.5).values[0]
    assert other == pytest.approx(300 / (1 + 11.5 * 300 / 14388 * math.log(0.99)) - 273.15)


def test_lst_from_brightness__dataset_route() -> None:
    # NDVI (0.8 - 0.2) / (0.8 + 0.2) = 0.6 -> vegetation, emissivity 0.99
    ds = xr.Dataset(
        {
            "red": ("x", np.array([0.2, 0.2], np.float32)),
            "nir": ("x", np.array([0.8, 0.8], np.float32)),
            "thermal": ("x", np.array([300.0, 26.85], np.float32)),
        }
    )
    ds["thermal"].attrs["units"] = "K"
    assert lst_from_brightness(ds).values[0] == pytest.approx(27.5365, abs=2e-4)
    ds["thermal"] = ds["thermal"] - 273.15
    ds["thermal"].attrs["units"] = "degC"
    assert lst_from_brightness(ds).values[0] == pytest.approx(27.5365, abs=2e-3)
    with pytest.raises(SourceError, match=r"'lst_from_brightness'.*'red'"):
        lst_from_brightness(ds.drop_vars("red"))
    assert "lst_from_brightness" not in INDICES  # must not be applied to Collection 2 ST


# --- every registered index: bad input, NaN, dtype, laziness ---------------------------------

BAND_CASES = [(name, band) for name, (_, bands) in sorted(INDICES.items()) for band in bands]


@pytest.mark.parametrize(("name", "band"), BAND_CASES)
def test_index__missing_band_error_names_index_and_band(name: str, band: str) -> None:
    ds = _dataset().drop_vars(band)
    with pytest.raises(SourceError, match=rf"index '{name}' needs band\(s\) \['{band}'\]"):
        compute_indices(ds, [name])


@pytest.mark.parametrize(("name", "band"), BAND_CASES)
def test_index__nan_input_gives_nan_output(name: str, band: str) -> None:
    ds = _dataset(seed=8)
    ds[band][3, 4] = np.nan
    out = INDICES[name][0](ds)
    assert out.dtype == np.float32 and out.shape == SHAPE
    assert np.isnan(out.values[3, 4])
    assert np.isfinite(out.values).sum() == out.size - 1


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("ndvi", {"nir": 0.0, "red": 0.0}),
        ("ndwi", {"green": 0.0, "nir": 0.0}),
        ("mndwi", {"green": 0.0, "swir16": 0.0}),
        ("ndbi", {"swir16": 0.0, "nir": 0.0}),
        ("nbr", {"nir": 0.0, "swir22": 0.0}),
        ("bsi", {"swir16": 0.0, "red": 0.0, "nir": 0.0, "blue": 0.0}),
        ("evi", {"nir": 0.875, "red": 0.0, "blue": 0.25}),  # 0.875 + 0 - 1.875 + 1 = 0
        ("ibi", {"green": 0.0, "red": 0.0, "nir": 0.0, "swir16": 0.0}),
        ("ndbsi", {"green": 0.0, "red": 0.0, "nir": 0.0, "swir16": 0.0, "blue": 0.0}),
    ],
)
def test_index__zero_denominator_gives_nan(name: str, values: dict[str, float]) -> None:
    ds = _dataset(seed=9)
    for band, v in values.items():
        ds[band][0, 0] = v
    out = INDICES[name][0](ds).values
    assert np.isnan(out[0, 0]) and np.isfinite(out[1:]).all()


def _no_compute(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("an index computed data while building its graph")


@pytest.mark.parametrize("name", sorted(INDICES))
def test_index__dask_input_stays_lazy_and_matches_numpy(name: str) -> None:
    ds = _dataset(seed=10)
    lazy_ds = ds.chunk({"y": 10, "x": 20})
    with dask.config.set(scheduler=_no_compute):
        out = INDICES[name][0](lazy_ds)
    assert isinstance(out.data, da.Array)
    got = out.compute()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.values, INDICES[name][0](ds).values, rtol=1e-6, atol=1e-7)


def test_registry__names_bands_and_units() -> None:
    assert {
        "ndvi", "evi", "savi", "ndwi", "mndwi", "ndbi", "nbr", "bsi", "ibi", "ndbsi",
        "tcb", "tcg", "tcw", "fvc", "lst",
    } == set(INDICES)  # fmt: skip
    assert set(UNITS) == set(INDICES)
    assert required_bands(["ndbsi", "tcw"]) == (
        "blue", "green", "red", "nir", "swir16", "swir22",
    )  # fmt: skip
    assert required_bands(["lst"]) == ("thermal",)
    # the bands the registry lists suffice for every function (S2 tasseled cap: all six)
    for fn, bands in INDICES.values():
        fn(_dataset()[list(bands)].assign_attrs(product="sentinel-2-l2a"))
