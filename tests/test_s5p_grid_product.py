"""The s5p-grid product end to end: synthetic ESA-layout swaths in a folder -> gridded mean."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
import yaml

from rs.testing.s5p import S5PConfig, generate_s5p
from tests.test_export_stac import stac_errors

BBOX = [118.0, 31.0, 119.6, 33.0]


def _spec(tmp: Path, folder: Path, **step) -> Path:
    spec = {
        "name": "ch4",
        "aoi": ",".join(map(str, BBOX)),
        "sources": {"s5p": {"kind": "swaths", "folder": str(folder)}},
        "periods": {"june": {"start": "2021-06-01", "end": "2021-06-30"}},
        "steps": [{"id": "grid", "kind": "s5p-grid", "product": "ch4", "resolution": 0.05,
                   **step}],
        "output": str(tmp / "out"),
    }
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def _orbits(folder: Path, **cfg) -> None:
    for k in range(2):  # two orbits a day apart, over the same area
        start = dt.datetime(2021, 6, 1 + k, 5, 0, tzinfo=dt.UTC)
        generate_s5p(folder, S5PConfig(product="ch4", start=start, orbit=18_800 + k, seed=k,
                                       noise=0.0, **cfg))


def test_s5p_grid__uniform_field_and_outputs(tmp_path, rs_cli):
    folder = tmp_path / "swaths"
    _orbits(folder, background=1875.0, cloud_fraction=0.3)
    done = rs_cli("run", str(_spec(tmp_path, folder)))
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "out"
    (nc,) = out.glob("ch4_grid_*_grid.nc")
    ds = xr.open_dataset(nc, engine="h5netcdf")
    mean = ds["ch4"].values
    have = np.isfinite(mean)
    assert have.sum() > 500
    np.testing.assert_allclose(mean[have], 1875.0, atol=1e-6)  # a uniform field grids to itself
    (tif,) = out.glob("ch4_grid_*_mean.tif")
    with rasterio.open(tif) as r:
        assert r.crs.to_epsg() == 4326 and abs(r.transform.a - 0.05) < 1e-12
        np.testing.assert_array_equal(np.isfinite(r.read(1)), have)
    (item,) = (out / "items").glob("*.json")
    props = json.loads(item.read_text())
    assert stac_errors(props) == []
    qa = props["properties"]["rs:s5p"]["qa"]
    assert len(qa) == 2 and all(v["low_qa"] > 0 and v["kept"] > 0 for v in qa.values())


def test_s5p_grid__every_pixel_failing_qa_gives_an_empty_grid(tmp_path, rs_cli):
    import h5py

    folder = tmp_path / "swaths"
    _orbits(folder, background=1875.0)
    for path in folder.glob("*.nc"):  # every pixel flagged bad, as over a cloud deck
        with h5py.File(path, "r+") as f:
            f["PRODUCT/qa_value"][...] = 0
    done = rs_cli("run", str(_spec(tmp_path, folder)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "empty" in done.stdout + done.stderr
    (nc,) = (tmp_path / "out").glob("*_grid.nc")
    ds = xr.open_dataset(nc, engine="h5netcdf")
    assert np.isnan(ds["ch4"].values).all()


@pytest.mark.parametrize("bad", ["truncated"])
def test_s5p_grid__a_broken_file_is_skipped_and_named(tmp_path, rs_cli, bad):
    folder = tmp_path / "swaths"
    _orbits(folder, background=1875.0)
    victim = sorted(folder.glob("*.nc"))[0]
    victim.write_bytes(victim.read_bytes()[:2000])
    done = rs_cli("run", str(_spec(tmp_path, folder)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert victim.name.removesuffix(".nc") in done.stdout + done.stderr
