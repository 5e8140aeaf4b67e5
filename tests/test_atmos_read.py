"""Sentinel-5P readers (rs.atmos.read) and QA (rs.atmos.qa): the real ESA metadata-only files
(layout), the real blended TROPOMI+GOSAT CH4 orbits (values), synthetic round trips and bad
files."""

from __future__ import annotations

import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import h5netcdf
import h5py
import numpy as np
import pytest
import xarray as xr

from rs.atmos import (
    AVOGADRO_CM2,
    QaWarning,
    Swath,
    apply_qa,
    detect_product,
    qa_mask,
    read_swath,
    required_variables,
)
from rs.atmos._polygons import corner_problems
from rs.errors import AssetReadError
from rs.load.readers import SwathReader
from rs.testing.s5p import S5PConfig, generate_s5p

#: Real data folder beside the repository (../shared/data/real), as tests/test_readers.py finds it
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
S5P_META = REAL / "tropomi/s5p_l2_metadata_only"
BLENDED = REAL / "tropomi/ch4_blended"
#: pixels per real blended orbit (SOURCE.txt: only retained pixels, all qa_value = 1)
BLENDED_PIXELS = {"02855": 9809, "02870": 11248, "02883": 8303, "02898": 9565, "02912": 9873}


def _folder(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent")
    return path


@pytest.fixture(scope="module")
def meta_files() -> dict[str, Path]:
    folder = _folder(S5P_META)
    return {p.name[13:16].lower(): p for p in sorted(folder.glob("S5P_OFFL_L2__*.nc"))}


@pytest.fixture(scope="module")
def blended_files() -> list[Path]:
    files = sorted(_folder(BLENDED).glob("S5P_BLND_L2__CH4____*.nc"))
    if not files:
        pytest.skip(f"no blended CH4 files in {BLENDED}")
    return files


# --- real ESA L2 files (metadata only: full layout, no science variables) ------------------------


@pytest.mark.realdata
@pytest.mark.parametrize(("product", "pixels", "layer"), [("no2", 450, 34), ("ch4", 215, 12)])
def test_real_esa_layout__groups_dims_and_product_detection(
    meta_files: dict[str, Path], product: str, pixels: int, layer: int
) -> None:
    path = meta_files[product]
    with h5netcdf.File(path, "r") as f:
        assert {"PRODUCT", "METADATA"} <= set(f.groups)
        dims = {k: d.size for k, d in f["PRODUCT"].dimensions.items()}
        assert dims["scanline"] == 4172 and dims["ground_pixel"] == pixels
        assert dims["corner"] == 4 and dims["time"] == 1 and dims["layer"] == layer
        assert detect_product(f, path.name) == product
        assert detect_product(f, "renamed.nc") == product  # from GRANULE_DESCRIPTION
        fills = {v.attrs["_FillValue"] for v in f["METADATA/QA_STATISTICS"].variables.values()
                 if v.dtype == np.float32}
        assert fills == {np.float32(9.96921e36)}  # NetCDF's default float fill, as we decode


@pytest.mark.realdata
@pytest.mark.parametrize("product", ["no2", "ch4"])
def test_real_stripped_esa_file__error_names_file_and_missing_variable(
    meta_files: dict[str, Path], product: str
) -> None:
    path = meta_files[product]
    with pytest.raises(AssetReadError, match=rf"{path.name}: no variable PRODUCT/latitude"):
        read_swath(path)
    refs = SwathReader().find(path)
    ok, skipped = SwathReader().preflight(refs, on_error="skip",
                                          needs={"variables": required_variables(product)})
    assert not ok and "PRODUCT/latitude" in skipped[0].reason


# --- real blended TROPOMI+GOSAT CH4 orbits -------------------------------------------------------


@pytest.mark.realdata
def test_real_blended_orbits__values_in_plausible_ranges(blended_files: list[Path]) -> None:
    for path in blended_files:
        s = read_swath(path)
        orbit = path.name.split("_")[-4]
        assert s.product == "ch4_blended" and s.units == "ppb"
        assert len(s) == BLENDED_PIXELS[orbit] and s.shape == (len(s),)
        assert np.isfinite(s.value).all() and s.value.min() > 1600 and s.value.max() < 2000
        assert 1750 < np.mean(s.value) < 1850  # 2018 global mean XCH4 ~ 1850 ppb
        assert s.precision is not None and s.precision.min() > 0.5 and s.precision.max() < 15
        assert s.surface_pressure is not None
        assert s.surface_pressure.min() > 50_000 and s.surface_pressure.max() < 110_000
        assert s.lon_bounds.shape == (len(s), 4) and s.scanline is None
        assert (np.abs(s.lon_bounds.mean(axis=1) - s.lon) < 0.01).all()
        # times inside the window the file name gives
        start, end = path.name.split("_")[-6:-4]
        t0 = np.datetime64(f"{start[:4]}-{start[4:6]}-{start[6:8]}T{start[9:11]}:{start[11:13]}")
        t1 = np.datetime64(f"{end[:4]}-{end[4:6]}-{end[6:8]}T{end[9:11]}:{end[11:13]}")
        assert t0 <= s.time.min() and s.time.max() <= t1 + np.timedelta64(1, "m")
        # QA: the blended files carry only retained pixels (qa_value 1): all kept
        _, report = apply_qa(s)
        assert report.kept == report.total == len(s) and report.bad_corners == 0
        # the TROPOMI value the file also carries: the blended product is lower by 7 to 18
        # ppb on these orbits (the GOSAT-based correction), 95 % of pixels within 36 ppb
        tropomi = read_swath(path, variable="methane_mixing_ratio_bias_corrected")
        assert 0 < np.mean(tropomi.value - s.value) < 25
        assert np.percentile(np.abs(tropomi.value - s.value), 95) < 45


@pytest.mark.realdata
def test_real_blended__missing_corner_variable_is_named(
    blended_files: list[Path], tmp_path: Path
) -> None:
    copy = tmp_path / blended_files[0].name
    shutil.copy(blended_files[0], copy)
    copy.chmod(0o644)
    with h5py.File(copy, "r+") as f:
        del f["longitude_bounds"]
    with pytest.raises(AssetReadError, match=rf"{copy.name}: no variable longitude_bounds"):
        read_swath(copy)


# --- synthetic ESA files: round trip ----------------------------------------------------------


@pytest.mark.parametrize("product", ["no2", "ch4"])
def test_synthetic_round_trip__read_back_equals_what_was_written(
    tmp_path: Path, product: str
) -> None:
    path, syn = generate_s5p(tmp_path, S5PConfig(product=product,  # type: ignore[arg-type]
                                                 fill_fraction=0.05, seed=7))
    s = read_swath(path)
    assert s.product == product and s.shape == syn.lon.shape and s.source == path.name
    f32 = np.float32

    def stored(a: np.ndarray, factor: float = 1.0) -> np.ndarray:  # as the file holds it
        return (a / factor).astype(f32).astype(np.float64).reshape(-1) * factor

    factor = AVOGADRO_CM2 if product == "no2" else 1.0
    np.testing.assert_array_equal(s.lon, stored(syn.lon))
    np.testing.assert_array_equal(s.lat_bounds, stored(syn.lat_bounds).reshape(-1, 4))
    np.testing.assert_array_equal(s.lon_bounds, stored(syn.lon_bounds).reshape(-1, 4))
    np.testing.assert_array_equal(s.value, stored(syn.value, factor))
    assert s.precision is not None and s.surface_pressure is not None
    np.testing.assert_array_equal(s.precision, stored(syn.precision, factor))
    np.testing.assert_array_equal(s.surface_pressure, stored(syn.surface_pressure))
    np.testing.assert_array_equal(s.qa, syn.qa.reshape(-1))
    assert np.isnan(s.value).sum() == np.isnan(syn.value).sum() > 0
    np.testing.assert_array_equal(s.time, np.repeat(syn.time, syn.lon.shape[1]))
    np.testing.assert_array_equal(s.image(s.value), stored(syn.value, factor).reshape(s.shape))
    assert s.units == ("molecules cm-2" if product == "no2" else "ppb")


def test_no2_units__mol_per_m2_times_avogadro_per_cm2(tmp_path: Path) -> None:
    path, _ = generate_s5p(tmp_path, S5PConfig(product="no2"))
    with h5netcdf.File(path, "r") as f:
        var = f["PRODUCT/nitrogendioxide_tropospheric_column"]
        assert var.attrs["units"] == "mol m-2"
        raw = var[0].astype(np.float64).reshape(-1)
    s = read_swath(path)
    ok = raw < 1e30
    np.testing.assert_array_equal(s.value[ok], raw[ok] * 6.02214076e19)
    assert 1e14 < np.nanmedian(s.value) < 1e16


# --- bad files -----------------------------------------------------------------------------------


def test_truncated_file__error_names_the_file(tmp_path: Path) -> None:
    path, _ = generate_s5p(tmp_path, S5PConfig())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssetReadError, match=rf"{path}: cannot be opened as NetCDF4/HDF5"):
        read_swath(path)


def test_file_without_corner_bounds__error_names_the_variable(tmp_path: Path) -> None:
    path, _ = generate_s5p(tmp_path, S5PConfig(product="no2"))
    with h5py.File(path, "r+") as f:
        del f["PRODUCT/SUPPORT_DATA/GEOLOCATIONS/latitude_bounds"]
    with pytest.raises(AssetReadError, match=(
            rf"{path.name}: no variable PRODUCT/SUPPORT_DATA/GEOLOCATIONS/latitude_bounds")):
        read_swath(path)
    with h5py.File(path, "r+") as f:
        del f["PRODUCT/SUPPORT_DATA"]
    with pytest.raises(AssetReadError, match="no group PRODUCT/SUPPORT_DATA,"):
        read_swath(path)


def test_not_an_s5p_file__says_what_was_looked_for(tmp_path: Path) -> None:
    path = tmp_path / "model_output.nc"
    xr.Dataset({"t2m": (("y", "x"), np.zeros((2, 3)))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(AssetReadError, match=r"model_output.nc: not a Sentinel-5P.*product="):
        read_swath(path)
    with pytest.raises(AssetReadError, match=r"model_output.nc: no group PRODUCT"):
        read_swath(path, product="ch4")
    with pytest.raises(AssetReadError, match=r"no variable latitude,"):
        read_swath(path, product="ch4_blended")


def test_unknown_units_are_refused(tmp_path: Path) -> None:
    path, _ = generate_s5p(tmp_path, S5PConfig(product="ch4"))
    with h5py.File(path, "r+") as f:
        f["PRODUCT/methane_mixing_ratio_bias_corrected"].attrs["units"] = "furlongs"
    with pytest.raises(AssetReadError, match=r"units 'furlongs'; expected one of"):
        read_swath(path)


# --- QA ------------------------------------------------------------------------------------------


def test_qa_thresholds_per_product_and_configurable(tmp_path: Path) -> None:
    no2 = read_swath(generate_s5p(tmp_path, S5PConfig(product="no2", seed=1))[0])
    keep, rep = qa_mask(no2)  # NO2: qa_value > 0.75 keeps only the clear pixels
    assert rep.min_qa == 0.75 and rep.kept == int((no2.qa == 1.0).sum()) == keep.sum()
    assert rep.low_qa == int((no2.qa < 0.75).sum()) > 0
    _, rep = qa_mask(no2, min_qa=0.5)  # cloud edges (0.65) come in, cloudy (0.40) do not
    assert rep.kept == int((no2.qa > 0.5).sum()) > int((no2.qa == 1.0).sum())

    ch4 = read_swath(generate_s5p(tmp_path, S5PConfig(product="ch4", seed=1))[0])
    _, rep = qa_mask(ch4)
    assert rep.min_qa == 0.5 and rep.kept == int((ch4.qa == 1.0).sum())
    assert rep.no_value == int(np.isnan(ch4.value).sum()) > 0  # cloudy: fill values
    _, rep = qa_mask(ch4, min_qa=0.3)  # the 0.40 edges with values come in
    assert rep.kept == int(((ch4.qa > 0.3) & np.isfinite(ch4.value)).sum()) > \
        int((ch4.qa == 1.0).sum())
    with pytest.raises(ValueError, match="min_qa"):
        qa_mask(ch4, min_qa=1.0)


def _square(n: int = 4) -> Swath:
    """n pixels of 0.05° x 0.05° in a row along the equator, counter-clockwise."""
    x0 = np.arange(n) * 0.05
    lon_b = np.stack([x0, x0 + 0.05, x0 + 0.05, x0], axis=1)
    lat_b = np.tile([0.0, 0.0, 0.05, 0.05], (n, 1))
    return Swath("no2", "hand", "v", "molecules cm-2", lon_b.mean(1), lat_b.mean(1), lon_b,
                 lat_b, np.ones(n), None, np.ones(n),
                 np.full(n, np.datetime64("2021-01-01", "ms")), None, (n,))


def test_qa_is_strictly_greater_than_the_threshold() -> None:
    s = replace(_square(3), qa=np.array([0.75, 0.76, np.nan]))
    keep, rep = qa_mask(s)
    assert keep.tolist() == [False, True, False] and rep.low_qa == 2


def test_degenerate_corners_dropped_before_weighting() -> None:
    s = _square(8)
    lon, lat = s.lon_bounds.copy(), s.lat_bounds.copy()
    lon[0, 1] = np.nan  # NaN corner (HARP #252)
    lon[1], lat[1] = lon[1, [0, 2, 1, 3]], lat[1, [0, 2, 1, 3]]  # bow-tie: corners swapped
    lon[2], lat[2] = lon[2, ::-1], lat[2, ::-1]  # clockwise in a counter-clockwise swath
    lat[3] = 0.0  # zero area
    lon[4] = [179.9, -179.9, -179.9, 179.9]  # spans 360 minus 0.2: a real crossing, kept
    lon[5] = [-90.0, 100.0, 100.0, -90.0]  # 190° wide and not a crossing
    lon[6] = [0.0, 3.0, 3.0, 0.0]  # 330 km: no TROPOMI pixel is that large
    bad = corner_problems(lon, lat)
    assert bad.tolist() == [True, True, True, True, False, True, True, False]
    with pytest.warns(QaWarning, match="no pixel passes QA"):
        apply_qa(replace(s, qa=np.zeros(8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept, rep = apply_qa(replace(s, lon_bounds=lon, lat_bounds=lat))
    assert rep.bad_corners == 6 and rep.kept == 2 and len(kept) == 2


def test_planted_nan_corners_in_a_file_are_dropped(tmp_path: Path) -> None:
    path, _ = generate_s5p(tmp_path, S5PConfig(bad_corners=7, cloud_fraction=0.1))
    _, rep = apply_qa(read_swath(path))
    assert rep.bad_corners == 7
