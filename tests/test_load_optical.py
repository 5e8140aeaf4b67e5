"""load_optical on real GeoTIFFs written into tmp_path (contract-shaped S2 / Landsat items)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
from affine import Affine
from rasterio.warp import transform_bounds
from shapely.geometry import box

from rs.errors import NoScenesError, SourceError
from rs.load import load_optical

X0, Y0 = 660000.0, 3552000.0  # demo world upper-left, EPSG:32650
H = W = 32  # 10 m pixels
S2_RES = {"blue": 10, "green": 10, "red": 10, "nir": 10, "swir16": 20, "swir22": 20, "scl": 20}
RNG = np.random.default_rng(42)
TRUTH = RNG.uniform(0.01, 0.6, size=(H, W)).round(4)  # reflectance at 10 m
TRUTH20 = RNG.uniform(0.01, 0.6, size=(H // 2, W // 2)).round(4)


def _write(path: Path, arr: np.ndarray, res: float, nodata: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=arr.shape[0],
        width=arr.shape[1],
        count=1,
        dtype=arr.dtype,
        crs="EPSG:32650",
        transform=Affine(res, 0, X0, 0, -res, Y0),
        nodata=nodata,
    ) as dst:
        dst.write(arr, 1)


def make_item(
    root: Path,
    item_id: str,
    when: datetime,
    arrays: Mapping[str, np.ndarray],
    res: Mapping[str, float],
    properties: Mapping[str, Any],
    raster: Mapping[str, Mapping[str, Any]],
    collection: str,
) -> pystac.Item:
    """A pystac Item shaped like docs/contracts.md, one GeoTIFF per asset."""
    w, s, e, n = transform_bounds("EPSG:32650", "EPSG:4326", X0, Y0 - H * 10, X0 + W * 10, Y0)
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    props = {"proj:code": "EPSG:32650", "eo:cloud_cover": 0.0, **properties}
    item = pystac.Item(item_id, geom, [w, s, e, n], when, props, collection=collection)
    for key, arr in arrays.items():
        r = res[key]
        rb = {"data_type": str(arr.dtype), "spatial_resolution": r, **raster[key]}
        path = root / collection / item_id / f"{key}.tif"
        _write(path, arr, r, rb.get("nodata", 0))
        item.add_asset(
            key,
            pystac.Asset(
                path.as_uri(),
                media_type=pystac.MediaType.COG,
                roles=["data"],
                extra_fields={
                    "raster:bands": [rb],
                    "eo:bands": [{"name": key, "common_name": key}],
                    "proj:code": "EPSG:32650",
                    "proj:shape": list(arr.shape),
                    "proj:transform": [r, 0, X0, 0, -r, Y0],
                },
            ),
        )
    return item


def encode_s2(reflectance: np.ndarray, baseline: str) -> np.ndarray:
    """Contract encoding: DN = round(r * 1e4) + 1000 for baseline >= 04.00, clipped 1..65535."""
    dn = np.round(reflectance * 10000) + (1000 if baseline >= "04.00" else 0)
    return np.clip(dn, 1, 65535).astype("uint16")


def s2_item(
    root: Path,
    item_id: str,
    when: datetime,
    baseline: str,
    *,
    scl: np.ndarray | None = None,
    offset: float | None = None,
    arrays: Mapping[str, np.ndarray] | None = None,
) -> pystac.Item:
    arrays = dict(
        arrays
        or {
            "red": encode_s2(TRUTH, baseline),
            "nir": encode_s2(TRUTH * 1.5, baseline),
            "swir16": encode_s2(TRUTH20, baseline),
        }
    )
    arrays["scl"] = scl if scl is not None else np.full((H // 2, W // 2), 4, dtype="uint8")
    raster: dict[str, dict[str, Any]] = {}
    for key in arrays:
        rb: dict[str, Any] = {"nodata": 0}
        if key != "scl":
            rb["scale"] = 0.0001
            if offset is not None:
                rb["offset"] = offset
        raster[key] = rb
    props = {
        "platform": "sentinel-2a",
        "constellation": "sentinel-2",
        "s2:processing_baseline": baseline,
    }
    return make_item(root, item_id, when, arrays, S2_RES, props, raster, "sentinel-2-l2a")


def inside(ds: xr.Dataset) -> xr.Dataset:
    """The pixels of the written rasters (the footprint envelope adds a NaN rim)."""
    return ds.sel(x=slice(X0, X0 + W * 10), y=slice(Y0, Y0 - H * 10))


D1 = datetime(2021, 12, 1, 2, 50, tzinfo=UTC)
D2 = datetime(2022, 3, 1, 2, 50, tzinfo=UTC)


def test_load_optical__baseline_03_and_04_harmonise(tmp_path):
    items = [s2_item(tmp_path, "S2A_old", D1, "03.01"), s2_item(tmp_path, "S2A_new", D2, "04.00")]
    ds = inside(load_optical(items, ["red", "nir"], mask=None)).compute()
    assert ds.red.dtype == np.float32 and ds.sizes == {"time": 2, "y": H, "x": W}
    np.testing.assert_allclose(ds.red.values[0], ds.red.values[1], atol=1e-6)
    np.testing.assert_allclose(ds.red.values[1], TRUTH, atol=1e-6)
    np.testing.assert_allclose(ds.nir.values[0], np.round(TRUTH * 1.5, 4), atol=1e-6)
    assert ds.attrs["item_ids"] == [["S2A_old"], ["S2A_new"]]


def test_load_optical__explicit_offset_not_applied_twice(tmp_path):
    # Earth Search v1 style: offset -0.1 written in raster:bands of a 04.00 item.
    es = s2_item(tmp_path, "S2A_es", D2, "04.00", offset=-0.1)
    # The baseline outranks the raster metadata: a 04.00 item whose raster:bands say offset 0
    # still carries the -1000 DN offset (rs.load._scale's order of trust).
    zero = s2_item(tmp_path, "S2A_zero", D1, "04.00", offset=0.0)
    ds = inside(load_optical([es, zero], ["red"], mask=None)).compute()
    np.testing.assert_allclose(ds.red.values[0], TRUTH, atol=1e-6)  # D1 first
    np.testing.assert_allclose(ds.red.values[1], TRUTH, atol=1e-6)
    rules = {tuple(g["items"]): g["rule"] for g in ds.attrs["scaling"]}
    assert "raster offset 0.0 ignored" in rules[("S2A_zero",)]
    assert rules[("S2A_es",)] == "raster scale; s2:processing_baseline=04.00 >= 04.00: offset -0.1"


def test_load_optical__offset_applied_flag_wins(tmp_path):
    """Earth Search v1: ``earthsearch:boa_offset_applied`` true means DN = reflectance * 1e4,
    although raster:bands still say offset -0.1 (Element84/earth-search #9, #71)."""
    flagged = s2_item(
        tmp_path, "S2A_flag", D2, "04.00", offset=-0.1, arrays={"red": encode_s2(TRUTH, "03.01")}
    )
    flagged.properties["earthsearch:boa_offset_applied"] = True
    ds = inside(load_optical([flagged], ["red"], mask=None)).compute()
    np.testing.assert_allclose(ds.red.values[0], TRUTH, atol=1e-6)
    (group,) = ds.attrs["scaling"]
    assert group["bands"] == {"red": [1e-4, 0.0]}
    assert "earthsearch:boa_offset_applied=true" in group["rule"]


def test_load_optical__nodata_becomes_nan(tmp_path):
    red = encode_s2(TRUTH, "04.00")
    red[:5, :7] = 0
    item = s2_item(tmp_path, "S2A_nd", D2, "04.00", arrays={"red": red})
    full = load_optical([item], ["red"], mask=None).red.compute()
    ds = inside(full.to_dataset()).red.values[0]
    assert np.isnan(ds[:5, :7]).all()
    assert np.isfinite(ds[5:, :]).all() and np.isfinite(ds[:, 7:]).all()
    assert np.isnan(full.values[0, 0, :]).all()  # rim outside the raster: fill -> NaN


def test_load_optical__masked_scl_classes_become_nan(tmp_path):
    scl = np.arange(H // 2 * W // 2, dtype="uint8").reshape(H // 2, W // 2) % 12
    item = s2_item(tmp_path, "S2A_scl", D2, "04.00", scl=scl)
    ds = inside(load_optical([item], ["red", "swir16"])).compute()
    assert "scl" not in ds.data_vars
    scl10 = np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1)
    masked = np.isin(scl10, [0, 1, 3, 8, 9, 11])  # invalid, shadow, cloud, snow
    red = ds.red.values[0]
    assert np.isnan(red[masked]).all()
    np.testing.assert_allclose(red[~masked], TRUTH[~masked], atol=1e-6)
    assert np.isnan(ds.swir16.values[0][masked]).all()

    cirrus = inside(load_optical([item], ["red", "scl"], mask=("cirrus",))).compute()
    assert cirrus.scl.dtype == np.uint8
    np.testing.assert_array_equal(cirrus.scl.values[0], scl10)  # nearest from 20 m
    assert np.array_equal(np.isnan(cirrus.red.values[0]), np.isin(scl10, [0, 1, 10]))


def test_load_optical__crs_and_resolution_explicit(tmp_path):
    items = [s2_item(tmp_path, "S2A_g", D2, "04.00")]
    default = load_optical(items, ["red", "swir16"])
    gbox = default.odc.geobox
    assert gbox.crs.epsg == 32650
    assert (gbox.resolution.x, gbox.resolution.y) == (10, -10)
    assert gbox.affine.c % 10 == 0 and gbox.affine.f % 10 == 0  # pixel edges on the 10 m grid

    coarse = load_optical(items, ["red"], crs="EPSG:32650", resolution=20)
    assert coarse.odc.geobox.resolution.x == 20
    assert coarse.sizes["x"] == pytest.approx(default.sizes["x"] / 2, abs=1)

    geo = load_optical(items, ["red"], crs="EPSG:4326")
    assert geo.odc.geobox.crs.epsg == 4326
    assert geo.odc.geobox.resolution.x == pytest.approx(10 / 111_320)


def test_load_optical__lazy_until_computed(tmp_path):
    item = s2_item(tmp_path, "S2A_lazy", D2, "04.00")
    ds = load_optical([item], ["red", "nir"], chunks=16)
    for name in ("red", "nir"):
        assert dask.is_dask_collection(ds[name])
        assert ds[name].chunks[0] == (1,) and max(ds[name].chunks[1]) == 16
    # Nothing has been read yet: removing a file now only breaks the computation.
    (tmp_path / "sentinel-2-l2a" / "S2A_lazy" / "red.tif").unlink()
    with pytest.raises(Exception, match=r"red\.tif|No such file|does not exist"):
        ds.red.compute()


def test_load_optical__swir_20m_resampled_onto_10m_grid(tmp_path):
    ramp20 = (1000 + 100 * np.arange(W // 2))[None, :].repeat(H // 2, axis=0).astype("uint16")
    item = s2_item(
        tmp_path,
        "S2A_ramp",
        D1,
        "03.01",
        arrays={"red": encode_s2(TRUTH, "03.01"), "swir16": ramp20},
    )
    ds = inside(load_optical([item], ["red", "swir16"], mask=None)).compute()
    assert ds.swir16.shape == ds.red.shape == (1, H, W)
    # Bilinear on a linear ramp: the 10 m pixel i centre sits at 20 m index i/2 - 0.25.
    expected_dn = 975 + 50 * np.arange(W)
    got_dn = ds.swir16.values[0] * 10000
    np.testing.assert_allclose(
        got_dn[:, 1:-1], np.broadcast_to(expected_dn[1:-1], (H, W - 2)), atol=1.0
    )


def test_load_optical__same_day_items_fused_and_mixed_offsets_refused(tmp_path):
    morning = datetime(2022, 3, 1, 2, 50, tzinfo=UTC)
    later = datetime(2022, 3, 1, 2, 51, tzinfo=UTC)
    a = s2_item(tmp_path, "S2A_a", morning, "04.00")
    b = s2_item(tmp_path, "S2B_b", later, "04.00")
    fused = load_optical([b, a], ["red"], mask=None)
    assert fused.sizes["time"] == 1
    assert fused.attrs["item_ids"] == [["S2A_a", "S2B_b"]]

    old = s2_item(tmp_path, "S2B_old", later, "03.01")
    with pytest.raises(SourceError, match=r"different scale/offset.*groupby='id'"):
        load_optical([a, old], ["red"], mask=None)
    apart = load_optical([a, old], ["red"], mask=None, groupby="id").compute()
    assert apart.attrs["item_ids"] == [["S2A_a"], ["S2B_old"]]
    np.testing.assert_allclose(inside(apart).red.values[0], inside(apart).red.values[1], atol=1e-6)


def test_load_optical__geopolygon_limits_extent(tmp_path):
    item = s2_item(tmp_path, "S2A_poly", D2, "04.00")
    w, s, e, n = transform_bounds("EPSG:32650", "EPSG:4326", X0, Y0 - 100, X0 + 100, Y0)
    ds = load_optical([item], ["red"], geopolygon=box(w, s, e, n), mask=None)
    assert ds.sizes["x"] <= 12 and ds.sizes["y"] <= 12
    with pytest.raises(SourceError, match="either geopolygon or bbox"):
        load_optical([item], ["red"], geopolygon=box(w, s, e, n), bbox=(w, s, e, n))


def test_load_optical__no_items_or_mixed_products_refused(tmp_path):
    with pytest.raises(NoScenesError):
        load_optical([], ["red"])
    s2 = s2_item(tmp_path, "S2A_x", D2, "04.00")
    ls = landsat_item(tmp_path, "LC08_x", D2)
    with pytest.raises(SourceError, match="mix products"):
        load_optical([s2, ls], ["red"], mask=None)


LS_RES = {"SR_B4": 30.0, "SR_B5": 30.0, "ST_B10": 30.0, "QA_PIXEL": 30.0}


def landsat_item(root: Path, item_id: str, when: datetime, qa: np.ndarray | None = None):
    """USGS-style Landsat 8 C2 L2 item without scale/offset (product defaults apply)."""
    n = 11  # 11 x 30 m covers the 320 m demo tile
    sr = np.full((n, n), int((0.25 + 0.2) / 2.75e-5), dtype="uint16")
    st = np.full((n, n), int((300.0 - 149.0) / 0.00341802), dtype="uint16")
    arrays = {
        "SR_B4": sr,
        "SR_B5": sr,
        "ST_B10": st,
        "QA_PIXEL": qa if qa is not None else np.full((n, n), 21824, dtype="uint16"),
    }
    raster = {k: {"nodata": 1 if k == "QA_PIXEL" else 0} for k in arrays}
    props = {"platform": "LANDSAT_8"}
    return make_item(root, item_id, when, arrays, LS_RES, props, raster, "landsat-c2l2-sr")


def test_load_optical__landsat_defaults_thermal_kelvin_and_qa_mask(tmp_path):
    qa = np.full((11, 11), 21824, dtype="uint16")
    qa[0, 0] = 22280  # cloud
    item = landsat_item(tmp_path, "LC08_L2SP_a", D2, qa)
    ds = load_optical([item], ["red", "nir", "thermal"]).compute()
    assert ds.attrs["provider"] == "usgs-oli" and ds.odc.geobox.resolution.x == 30
    red = ds.red.sel(x=slice(X0, X0 + 300), y=slice(Y0, Y0 - 300)).values[0]
    thermal = ds.thermal.sel(x=slice(X0, X0 + 300), y=slice(Y0, Y0 - 300)).values[0]
    sr = int((0.25 + 0.2) / 2.75e-5) * 2.75e-5 - 0.2
    st = int((300.0 - 149.0) / 0.00341802) * 0.00341802 + 149.0
    assert np.isnan(red[0, 0]) and np.isnan(thermal[0, 0])
    np.testing.assert_allclose(red.ravel()[1:], sr, rtol=1e-6)
    np.testing.assert_allclose(thermal.ravel()[1:], st, rtol=1e-6)
    assert ds.thermal.attrs["units"] == "K" and ds.red.attrs["units"] == "1"
