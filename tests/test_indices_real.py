"""Indices on a real Landsat 8 scene: values a wrong formula would not give.

Scene LC80130312015295LGN00 (path 13 row 31, 2015-10-22, the New York Bight: ocean, Long Island,
New Jersey), a 508 x 458 crop at 120 m in ``../shared/data/real/optical`` (see its SOURCE.txt):
B1-B7 top-of-atmosphere reflectance, B10 TOA brightness temperature in °C, NaN = nodata in the
thermal bands and 0 in the reflective ones. Skipped when the folder is absent.

TOA, not surface reflectance: the thresholds below are loose enough for that, and tasseled cap
uses the Landsat surface-reflectance coefficients only for signs and orderings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rs.indices import compute_indices, lst_from_brightness

#: Real data folder beside the repository (../shared/data/real), as tests/test_readers.py finds it
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
SCENE = REAL / "optical/landsat8_toa_LC80130312015295"
BANDS = {"blue": 2, "green": 3, "red": 4, "nir": 5, "swir16": 6, "swir22": 7, "thermal": 10}
NAMES = ["ndvi", "ndwi", "mndwi", "evi", "savi", "ndbi", "nbr", "bsi", "ibi", "ndbsi"]
NAMES += ["tcb", "tcg", "tcw", "fvc"]


@pytest.fixture(scope="module")
def scene() -> xr.Dataset:
    if not SCENE.is_dir():
        pytest.skip(f"real Landsat 8 scene not found at {SCENE}")
    rasterio = pytest.importorskip("rasterio")
    ds = xr.Dataset(attrs={"product": "landsat-c2-l2"})
    for band, number in BANDS.items():
        with rasterio.open(SCENE / f"LC80130312015295LGN00_B{number}_toa.tif") as src:
            ds[band] = (("y", "x"), src.read(1).astype(np.float32))
    ds["thermal"].attrs["units"] = "degC"
    reflective = [b for b in BANDS if b != "thermal"]
    nodata = (ds[reflective].to_array() == 0).all("variable") | ds["thermal"].isnull()
    return ds.where(~nodata)


@pytest.fixture(scope="module")
def out(scene: xr.Dataset) -> xr.Dataset:
    return compute_indices(scene, NAMES).compute()


def _median(a: xr.DataArray, where: xr.DataArray) -> float:
    return float(np.nanmedian(a.where(where).values))


def test_real__normalised_indices_in_range_and_nan_only_on_nodata(
    scene: xr.Dataset, out: xr.Dataset
) -> None:
    valid = scene["red"].notnull()
    assert 0.7 < float(valid.mean()) < 0.9  # ~17 % nodata
    for name in ("ndvi", "ndwi", "mndwi", "ndbi", "nbr", "bsi", "ibi", "ndbsi"):
        v = out[name]
        assert float(v.min()) >= -1 and float(v.max()) <= 1, name
        assert bool((v.notnull() == valid).all()), name


def test_real__vegetation_and_water(out: xr.Dataset) -> None:
    ndvi, mndwi = out["ndvi"], out["mndwi"]
    veg = ndvi > 0.5
    water = (mndwi > 0.3) & (ndvi < 0)
    # October vegetation on Long Island / New Jersey; a coastal scene, mostly sea
    assert float((ndvi > 0.3).mean()) > 0.1 and float(ndvi.max()) > 0.7
    assert 0.4 < float(water.mean()) < 0.8
    # water: MNDWI and NDWI positive, NDVI negative; vegetation: the reverse
    assert float((out["ndwi"].where(water) > 0).sum() / water.sum()) > 0.95
    assert _median(mndwi, veg) < -0.1 and _median(out["ndwi"], veg) < -0.3
    # vegetation indices agree on vegetation; soil/built-up indices are low there
    assert _median(out["evi"], veg) > 0.3 and _median(out["savi"], veg) > 0.3
    assert _median(out["savi"], veg) < _median(ndvi, veg)  # (1+L) (N-R)/(N+R+L) < NDVI here
    assert _median(out["nbr"], veg) > 0.5
    for name in ("ndbi", "bsi", "ibi", "ndbsi"):
        assert _median(out[name], veg) < -0.15, name
    # built-up / bare land (NDBI > 0) is where the dryness index is highest
    dry = (out["ndbi"] > 0) & (ndvi > 0)
    assert float(dry.sum()) > 100
    assert _median(out["ndbsi"], dry) > _median(out["ndbsi"], veg) + 0.2


def test_real__tasseled_cap_signs(out: xr.Dataset) -> None:
    ndvi = out["ndvi"]
    veg, land = ndvi > 0.5, ndvi > 0.2
    water = (out["mndwi"] > 0.3) & (ndvi < 0)
    assert float(out["tcb"].min()) > 0  # a positive combination of positive reflectances
    assert _median(out["tcb"], land) > _median(out["tcb"], water) + 0.1
    assert _median(out["tcg"], veg) > 0.1 > _median(out["tcg"], water)
    # wetness: negative over land, positive over water
    assert _median(out["tcw"], land) < 0 < _median(out["tcw"], water)
    assert float((out["tcw"].where(land) < 0).sum() / land.sum()) > 0.6


def test_real__fvc_follows_ndvi(out: xr.Dataset) -> None:
    fvc, ndvi = out["fvc"], out["ndvi"]
    assert float(fvc.min()) == 0.0 and float(fvc.max()) == 1.0
    assert 0.03 < float((fvc == 1).sum() / fvc.notnull().sum()) < 0.08  # above the 95th pct
    # the 5th percentile lies in the sea (NDVI ~ -0.34), the 95th in dense vegetation
    assert _median(fvc, ndvi > 0.6) > 0.9 and _median(fvc, ndvi < 0) < 0.15
    assert _median(fvc, ndvi < 0) < _median(fvc, (ndvi > 0.2) & (ndvi < 0.4)) < 0.9


def test_real__lst_from_band10_brightness_temperature(scene: xr.Dataset, out: xr.Dataset) -> None:
    lst = lst_from_brightness(scene).compute()
    bt = scene["thermal"]
    ndvi = out["ndvi"]
    land = ndvi > 0.2
    # 2015-10-22, ~10:40 local time, New York / New Jersey: land 5..25 °C; cold cloud tops
    assert 5 < _median(lst, land) < 25
    assert float(lst.max()) < 35
    # emissivity < 1 raises LST above BT: ~0.6 K at 0.99 (vegetation), up to ~2.5 K for soil
    gap = lst - bt
    assert float(gap.min()) > 0.3 and float(gap.max()) < 3.0
    assert 0.5 < _median(gap, ndvi > 0.5) < 0.8
    assert _median(gap, (ndvi > 0) & (ndvi < 0.2)) > _median(gap, ndvi > 0.5) + 0.5
