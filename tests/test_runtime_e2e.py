"""The product runtime end to end: several periods and steps, hand-off through files, seams,
the ledger across periods and reruns, partly readable scenes, dry runs.

Known answers are independent computations on the files the steps read (the difference of
two NDVI COGs, scipy's connected-component labelling) and the synthetic world's truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import yaml

from rs.pipeline.runner import run_pipeline
from rs.pipeline.spec import load_spec
from rs.testing import World

from .conftest import out_file, world_bbox

BEFORE = "before-20210501-20210930"
AFTER = "after-20220401-20220930"


def _two_period_spec(world: World, out: Path, path: Path, **dask: Any) -> Path:
    spec = {
        "name": "t",
        "aoi": world_bbox(world),
        "sources": {"s2": {"embedded": str(world.root), "collections": ["sentinel-2-l2a"]}},
        "periods": {
            "before": {"start": "2021-05-01", "end": "2021-09-30"},
            "after": {"start": "2022-04-01", "end": "2022-09-30"},
        },
        "steps": [
            {"id": "comp", "kind": "composite", "periods": ["before", "after"], "quicklook": False},
            {
                "id": "change",
                "kind": "difference",
                "periods": ["after"],
                "before": "comp@before",
                "after": "comp@after",
                "layer": "ndvi",
                "threshold": 0.2,
                "min_area_m2": 0,
            },
        ],
        "output": str(out),
        "dask": {"workers": 1, "threads_per_worker": 2, **dask},
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.mark.slow
def test_run_pipeline__two_periods_feed_a_difference_step(
    small_world: World, rs_cache: Path, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    spec = load_spec(_two_period_spec(small_world, one, tmp_path / "a.yaml"))
    res = run_pipeline(spec)
    assert [(s.step, s.period, s.status) for s in res.steps] == [
        ("comp", "before", "built"),
        ("comp", "after", "built"),
        ("change", "after", "built"),
    ]
    ndvi_b = _read(one / f"t_comp_{BEFORE}_ndvi.tif")[0]
    ndvi_a = _read(one / f"t_comp_{AFTER}_ndvi.tif")[0]
    diff = _read(one / f"t_change_{AFTER}_difference.tif")[0]
    ref = ndvi_a - ndvi_b
    np.testing.assert_array_equal(np.isnan(diff), np.isnan(ref))
    np.testing.assert_allclose(diff[np.isfinite(ref)], ref[np.isfinite(ref)], atol=1e-6)

    cls = _read(one / f"t_change_{AFTER}_change_class.tif")[0]
    with np.errstate(invalid="ignore"):
        assert ((cls == 1) == (ref < -0.2)).all() and ((cls == 2) == (ref > 0.2)).all()
    assert ((cls == 255) == np.isnan(ref)).all()
    areas = pd.read_csv(one / f"t_change_{AFTER}_change_areas.csv").set_index("change")
    assert areas.loc["decrease", "pixels"] == (cls == 1).sum()
    assert areas.loc["increase", "area_m2"] == pytest.approx(100.0 * (cls == 2).sum())
    pd.testing.assert_frame_equal(
        pd.read_parquet(one / f"t_change_{AFTER}_change_areas.parquet").set_index("change"),
        areas,
        check_dtype=False,
    )

    # patches: one per 4-connected component of each class (scipy as the reference)
    from scipy import ndimage

    gpkg = one / f"t_change_{AFTER}_patches.gpkg"
    patches = gpd.read_file(gpkg)
    for k, name in ((1, "decrease"), (2, "increase")):
        _, n = ndimage.label(cls == k)
        mine = patches[patches.change == name]
        assert len(mine) == n, name
        assert mine.area.sum() == pytest.approx(100.0 * (cls == k).sum())
    info = pyogrio.read_info(gpkg, layer="patches")
    assert dict(zip(info["fields"], info["dtypes"], strict=True)) == {
        "patch_id": "int64",
        "change": "object",
        "area_m2": "float64",
    }

    # the planted vegetation loss is a decrease: its pixels lose far more NDVI than the rest
    _, masks = small_world.truth()
    with rasterio.open(gpkg.with_name(f"t_change_{AFTER}_difference.tif")) as ds:
        t = ds.transform
        r0, c0 = round((small_world.grid.y0 - t.f) / 10), round((t.c - small_world.grid.x0) / 10)
        truth = masks["vegetation_loss"][r0 : r0 + ds.height, c0 : c0 + ds.width]
    ok = np.isfinite(diff)
    assert np.nanmean(diff[truth & ok]) < np.nanmean(diff[~truth & ok]) - 0.2

    # every item the runner published validates against STAC and its declared extensions
    from .test_export_stac import stac_errors

    assert len(list((one / "items").glob("*.json"))) == 3
    for path in sorted((one / "items").glob("*.json")):
        assert stac_errors(json.loads(path.read_text())) == [], path.name
    item = json.loads((one / "items" / f"t-change-{AFTER}.json").read_text())
    derived = sorted(lk["href"] for lk in item["links"] if lk["rel"] == "derived_from")
    assert derived == [f"./t-comp-{AFTER}.json", f"./t-comp-{BEFORE}.json"]
    assert {"difference", "change_class", "patches_gpkg", "change_areas_csv"} <= set(item["assets"])

    # the same pipeline in 48-pixel blocks gives the same files: no seams
    many = tmp_path / "many"
    spec48 = load_spec(_two_period_spec(small_world, many, tmp_path / "b.yaml", block_size=48))
    run_pipeline(spec48)
    for name in (
        f"t_comp_{BEFORE}_composite.tif",
        f"t_comp_{AFTER}_clear_count.tif",
        f"t_change_{AFTER}_difference.tif",
        f"t_change_{AFTER}_change_class.tif",
    ):
        np.testing.assert_array_equal(_read(one / name), _read(many / name), err_msg=name)
    p48 = gpd.read_file(many / f"t_change_{AFTER}_patches.gpkg")
    assert len(p48) == len(patches)
    assert p48.area.sum() == pytest.approx(patches.area.sum())

    # unchanged inputs: every step is up to date; a changed parameter rebuilds only its step
    again = run_pipeline(spec)
    assert [s.status for s in again.steps] == ["up-to-date"] * 3
    data = yaml.safe_load((tmp_path / "a.yaml").read_text())
    data["steps"][1]["threshold"] = 0.3
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data))
    third = run_pipeline(load_spec(tmp_path / "a.yaml"))
    assert [s.status for s in third.steps] == ["up-to-date", "up-to-date", "built"]


@pytest.mark.slow
def test_run_pipeline__other_period_never_overwrites(
    small_world: World, write_spec, rs_cache: Path, tmp_path: Path
) -> None:
    """Defect a: the same spec with another end date into the same folder."""
    bbox = world_bbox(small_world)
    full = load_spec(write_spec(small_world.root, bbox))
    res1 = run_pipeline(full)
    first = {p: p.read_bytes() for p in res1.files}
    short = load_spec(
        write_spec(small_world.root, bbox, period={"start": "2021-05-01", "end": "2022-06-30"})
    )
    res2 = run_pipeline(short)
    assert res2.status == "done"
    assert not set(res1.files) & set(res2.files), "file names carry the period"
    assert all(p.read_bytes() == b for p, b in first.items()), "first run's files untouched"
    res3 = run_pipeline(full)
    assert res3.status == "up-to-date"
    assert set(res3.files) == set(res1.files)
    assert all(p.read_bytes() == b for p, b in first.items())
    out = Path(full.output)
    items = sorted(p.name for p in (out / "items").glob("*.json"))
    assert items == ["t-composite-p-20210501-20220630.json", "t-composite-p-20210501-20220930.json"]
    # one report per run, and the latest
    reports = sorted((out / "reports").glob("t-2*.json"))
    assert len(reports) == 3
    assert json.loads((out / "reports" / "t-latest.json").read_text()) == json.loads(
        reports[-1].read_text()
    )


def _retile(path: Path, tile: int = 32) -> None:
    """Rewrite a band file as a COG with small tiles (same pixels) so it can be partly broken."""
    with rasterio.open(path) as ds:
        data, profile = ds.read(), ds.profile
    tmp = path.with_suffix(".tmp.tif")
    profile.update(driver="COG", blocksize=tile, overviews="NONE", compress="NONE")
    for k in ("blockxsize", "blockysize", "tiled", "interleave"):
        profile.pop(k, None)
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
    tmp.replace(path)


@pytest.mark.slow
def test_run_pipeline__scene_unreadable_in_some_blocks_is_partly_used(
    world_copy: World, write_spec, rs_cache: Path, tmp_path: Path
) -> None:
    """Defects b, c, g: a scene whose lower tiles are cut off is used where it reads, recorded
    per block, and the next run with the same catalogue is up to date (no endless rebuild)."""
    path = world_copy.band_path(3, "red")
    _retile(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header and upper tiles intact
    spec = load_spec(
        write_spec(
            world_copy.root,
            world_bbox(world_copy),
            dask={"workers": 1, "threads_per_worker": 2, "block_size": 32},
        )
    )
    res = run_pipeline(spec)
    bad = world_copy.item_ids[3]
    (step,) = res.steps
    rows = [r for r in step.scenes_skipped if r["scene"] == bad]
    assert len(rows) == 1 and rows[0]["status"] == "partly used"
    assert rows[0]["blocks_used"] > 0 and rows[0]["blocks_skipped"] > 0
    assert bad in step.scenes_used
    item = json.loads(Path(step.item_path or "").read_text())
    assert bad in item["properties"]["rs:inputs"]
    assert item["properties"]["rs:skipped"][0]["status"] == "partly used"

    # pixels: in each 32-px block the clear count is the intact world's (scene 3 read) or that
    # minus scene 3's clear pixels (scene 3 left out), one or the other for the whole block
    from .test_pipeline_e2e import _window

    cc_path = out_file(Path(spec.output), "clear_count")
    rows_, cols_ = _window(world_copy, cc_path)
    full = np.zeros(world_copy.grid.shape(), dtype=np.int64)
    for i in range(world_copy.n_dates):
        full += ~(world_copy.cloud_mask(i) | world_copy.shadow_mask(i))
    clear3 = ~(world_copy.cloud_mask(3) | world_copy.shadow_mask(3))
    full, clear3 = full[rows_, cols_], clear3[rows_, cols_]
    with rasterio.open(cc_path) as ds:
        cc = ds.read(1).astype(np.int64)
    inside = cc != 65535
    kinds = set()
    for r in range(0, cc.shape[0], 32):
        for c in range(0, cc.shape[1], 32):
            win = (slice(r, r + 32), slice(c, c + 32))
            m = inside[win]
            if not m.any():
                continue
            used = (cc[win][m] == full[win][m]).all()
            left_out = (cc[win][m] == (full - clear3)[win][m]).all()
            assert used or left_out, f"block at {r},{c}: scene 3 neither used nor left out"
            if not (used and left_out):  # blocks where scene 3 is cloudy cannot tell
                kinds.add("used" if used else "left out")
    assert kinds == {"used", "left out"}

    again = run_pipeline(spec)
    assert again.status == "up-to-date", "an unchanged catalogue is up to date"


@pytest.mark.slow
def test_rs_run__dry_run_lists_steps_and_writes_nothing(
    small_world: World, rs_cli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    spec = _two_period_spec(small_world, out, tmp_path / "a.yaml")
    proc = rs_cli("run", str(spec), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert not out.exists(), "a dry run writes nothing"
    for line in ("comp", "change", "would-run", f"t_change_{AFTER}_patches.gpkg"):
        assert line in proc.stdout, line
    assert f"t-comp-{BEFORE}: would-run; inputs: 2 found, 0 unreadable" in proc.stdout
    assert f"t-change-{AFTER}: would-run; inputs: 0 found" in proc.stdout
    assert rs_cli("run", str(spec), "-q").returncode == 0
    before = sorted((p, p.stat().st_size, p.stat().st_mtime_ns) for p in out.rglob("*"))
    again = rs_cli("run", str(spec), "--dry-run")
    assert again.stdout.count("up-to-date") == 3
    after = sorted((p, p.stat().st_size, p.stat().st_mtime_ns) for p in out.rglob("*"))
    assert after == before, "a dry run writes nothing, not even a report"
