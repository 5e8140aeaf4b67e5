"""`rs run` end to end through the real CLI, the embedded STAC API and a Dask cluster.

Known answers come from the synthetic world's truth: the composite must equal the per-pixel
median of the encoded clear observations, the clear count the number of cloud- and
shadow-free dates.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import yaml

from rs.testing import World

from ._cluster import dask_processes
from .conftest import PERIOD, out_file, world_bbox

BANDS = ["red", "green", "blue", "nir"]


def _expected(
    world: World, dates: Sequence[int] | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Median of clear observations per band (10 m world grid) and the clear count."""
    stacks: dict[str, list[np.ndarray]] = {b: [] for b in BANDS}
    clear_count = np.zeros(world.grid.shape(), dtype=np.int32)
    for i in dates if dates is not None else range(world.n_dates):
        obs = world.observed_reflectance(i)
        clear = ~(world.cloud_mask(i) | world.shadow_mask(i))
        clear_count += clear
        for b in BANDS:
            # what the files hold: DN quantised to 1e-4 and clipped to DN >= 1
            v = np.round(np.clip(obs[b], 1e-4, None) * 1e4) / 1e4
            stacks[b].append(np.where(clear, v, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = {b: np.nanmedian(np.stack(s), axis=0) for b, s in stacks.items()}
    return med, clear_count


def _aoi_pixels(path: Path, bbox: str) -> np.ndarray:
    """Pixels of the raster at ``path`` whose centre lies inside the lon/lat ``bbox``."""
    import shapely
    from pyproj import Transformer

    w, s_, e, n = map(float, bbox.split(","))
    with rasterio.open(path) as ds:
        t, shape, crs = ds.transform, (ds.height, ds.width), ds.crs
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    ring = shapely.segmentize(shapely.box(w, s_, e, n), 0.001)
    xy = np.column_stack(fwd.transform(*np.asarray(ring.exterior.coords).T))
    poly = shapely.Polygon(xy)
    cols, rows = np.meshgrid(np.arange(shape[1]) + 0.5, np.arange(shape[0]) + 0.5)
    return shapely.contains_xy(poly, t.c + t.a * cols, t.f + t.e * rows)


def _window(world: World, path: Path) -> tuple[slice, slice]:
    """Rows/cols of the world grid covered by the raster at ``path`` (same 10 m grid)."""
    with rasterio.open(path) as ds:
        t = ds.transform
        r0 = round((world.grid.y0 - t.f) / 10)
        c0 = round((t.c - world.grid.x0) / 10)
        assert t.a == 10 and t.e == -10
        return slice(r0, r0 + ds.height), slice(c0, c0 + ds.width)


@pytest.mark.slow
def test_rs_run__composite_equals_truth_median(
    small_world: World, write_spec, rs_cli, tmp_path
) -> None:
    spec = write_spec(small_world.root, world_bbox(small_world))
    proc = rs_cli("run", str(spec))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    assert "done: outputs in" in proc.stdout and "demo" not in proc.stdout.split("outputs")[0]

    med, count = _expected(small_world)
    comp = out_file(out, "composite")
    rows, cols = _window(small_world, comp)
    with rasterio.open(comp) as ds:
        assert ds.crs.to_epsg() == 32650
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.descriptions == tuple(BANDS)
        data = ds.read()
    inside = np.isfinite(data[0])
    assert inside.mean() > 0.85, "the bbox AOI covers most of the output grid"
    for k, b in enumerate(BANDS):
        exp = med[b][rows, cols]
        both = inside & np.isfinite(exp)
        assert both.sum() > 0.8 * inside.sum()
        np.testing.assert_allclose(data[k][both], exp[both], atol=2e-4, err_msg=b)
        # a pixel with no clear observation is NaN, not a cloudy value
        assert not np.isfinite(data[k][inside & np.isnan(exp)]).any()

    aoi_px = _aoi_pixels(comp, world_bbox(small_world))
    with rasterio.open(out_file(out, "clear_count")) as ds:
        cc = ds.read(1)
        assert ds.nodata == 65535
    np.testing.assert_array_equal(cc[aoi_px], count[rows, cols][aoi_px])
    assert (cc[~aoi_px] == 65535).all()

    with rasterio.open(out_file(out, "ndvi")) as ds:
        ndvi = ds.read(1)
    red, nir = med["red"][rows, cols], med["nir"][rows, cols]
    # bands agree within 2e-4 (a DN step and a half); NDVI's error bound follows from that
    bound = 2 * 2e-4 / (nir + red) + 1e-6
    assert (np.abs(ndvi - (nir - red) / (nir + red))[inside] <= bound[inside]).all()

    item = pystac.Item.from_file(str(out / "items" / f"t-composite-{PERIOD}.json"))
    assert item.properties["rs:inputs"] == small_world.item_ids
    assert item.properties["rs:parameters"]["statistic"] == "median"
    assert item.properties["rs:version"] == "0.1.0"
    # the ledger's parameter hash: SHA-256 of the recorded parameters as canonical JSON
    canon = json.dumps(item.properties["rs:parameters"], sort_keys=True, separators=(",", ":"))
    assert item.properties["rs:parameters_sha256"] == hashlib.sha256(canon.encode()).hexdigest()
    # the rule that scaled each scene is kept: the world's items carry s2:processing_baseline
    scaling = item.properties["rs:scaling"]
    assert sorted(i for g in scaling for i in g["items"]) == sorted(small_world.item_ids)
    for g in scaling:
        assert "s2:processing_baseline=" in g["rule"]
        assert {tuple(v) for v in g["bands"].values()} in ({(1e-4, 0.0)}, {(1e-4, -0.1)})
    # the world's 10 m pixel edges sit on multiples of 10 m: the default grid is the source's
    assert item.properties["rs:grid"] == "source grid edges on multiples of the pixel size"
    for a in item.assets.values():
        assert Path(a.get_absolute_href()).exists()
    cat = pystac.Catalog.from_file(str(out / "catalog.json"))
    assert [i.id for i in cat.get_items()] == [item.id]
    report = json.loads((out / "reports" / "t-latest.json").read_text())
    (step,) = report["steps"]
    assert step["scenes_used"] == small_world.item_ids and step["scenes_skipped"] == []
    rows = {r["layer"]: r for r in step["layers"]}
    assert rows["clear_count"]["valid_fraction"] == 1.0
    assert not (inside & ~aoi_px).any(), "nothing outside the AOI"
    assert rows["red"]["valid_fraction"] == pytest.approx(inside.sum() / aoi_px.sum(), abs=1e-4)
    assert rows["ndvi"]["mean"] == pytest.approx(float(np.nanmean(ndvi[inside])), abs=1e-4)
    assert not list(out.glob(".rs-staging*")), "staging folder removed"


@pytest.mark.slow
def test_rs_run__second_run_is_up_to_date_and_force_rebuilds(
    small_world, write_spec, rs_cli, tmp_path
) -> None:
    spec = write_spec(small_world.root, world_bbox(small_world), name="inc")
    assert rs_cli("run", str(spec), "--quiet").returncode == 0
    comp = out_file(tmp_path / "out", "composite", name="inc")
    first = comp.stat().st_mtime_ns
    again = rs_cli("run", str(spec))
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stderr and "up-to-date" in again.stdout
    assert comp.stat().st_mtime_ns == first, "an up-to-date product is not rewritten"
    forced = rs_cli("run", str(spec), "--force", "--quiet")
    assert forced.returncode == 0 and forced.stdout == "" and forced.stderr == ""
    assert comp.stat().st_mtime_ns != first


@pytest.mark.slow
def test_rs_run__output_flag_overrides_spec(small_world, write_spec, rs_cli, tmp_path) -> None:
    spec = write_spec(small_world.root, world_bbox(small_world))
    other = tmp_path / "elsewhere"
    assert rs_cli("run", str(spec), "--output", str(other), "-q").returncode == 0
    assert out_file(other, "composite").exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_rs_run__on_existing_cluster_same_result(small_world, write_spec, rs_cli, tmp_path) -> None:
    spec = write_spec(small_world.root, world_bbox(small_world), name="local")
    assert rs_cli("run", str(spec), "-q").returncode == 0
    spec2 = write_spec(small_world.root, world_bbox(small_world), name="remote")
    logs = tmp_path / "cluster-logs"
    logs.mkdir()
    with dask_processes(logs, n_workers=2) as address:
        proc = rs_cli("run", str(spec2), "--scheduler", address)
        assert proc.returncode == 0, proc.stderr
    # the run connected to this scheduler as a client (and did not start its own cluster)
    assert "Receive client connection" in (logs / "scheduler.log").read_text()
    with (
        rasterio.open(out_file(tmp_path / "out", "composite", name="local")) as a,
        rasterio.open(out_file(tmp_path / "out", "composite", name="remote")) as b,
    ):
        np.testing.assert_array_equal(a.read(), b.read())


# --- bad input: a clear error, the right exit code and no partial output --------------------


def _no_products(out: Path, *, failure_report: bool = True) -> None:
    """No product file left behind; a failure report when the run got as far as the folder."""
    if out.exists():
        left = [p.name for p in out.rglob("*") if p.is_file() and p.parent.name != "reports"]
        assert left == [], f"partial output left behind: {left}"
    if failure_report:
        report = json.loads((out / "reports" / "t-latest.json").read_text())
        assert report["status"] == "failed" and report["error"]["exit_code"] in (2, 3, 4)
        assert report["error"]["message"]


def test_rs_run__unknown_spec_key_names_it(small_world, write_spec, rs_cli, tmp_path) -> None:
    spec = write_spec(small_world.root, world_bbox(small_world))
    data = yaml.safe_load(spec.read_text())
    data["steps"][0]["statistc"] = "median"
    spec.write_text(yaml.safe_dump(data))
    proc = rs_cli("run", str(spec))
    assert proc.returncode == 2
    assert "unknown key 'steps[0].statistc'" in proc.stderr
    _no_products(tmp_path / "out", failure_report=False)  # found before the output is touched


def test_rs_run__missing_aoi_file(small_world, write_spec, rs_cli, tmp_path) -> None:
    proc = rs_cli("run", str(write_spec(small_world.root, str(tmp_path / "nope.geojson"))))
    assert proc.returncode == 2
    assert "nope.geojson" in proc.stderr
    _no_products(tmp_path / "out")


def test_rs_run__invalid_aoi_file(small_world, write_spec, rs_cli, tmp_path) -> None:
    bad = tmp_path / "points.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [118.7, 32.0]},
                    }
                ],
            }
        )
    )
    proc = rs_cli("run", str(write_spec(small_world.root, str(bad))))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Point" in proc.stderr
    _no_products(tmp_path / "out")


@pytest.mark.slow
def test_rs_run__aoi_outside_all_scenes_exit_2(small_world, write_spec, rs_cli, tmp_path) -> None:
    proc = rs_cli("run", str(write_spec(small_world.root, "10.0,45.0,10.1,45.1")))
    assert proc.returncode == 2, proc.stderr
    assert (
        "no scenes found for 10.0,45.0,10.1,45.1 in sentinel-2-l2a "
        "between 2021-05-01 and 2022-09-30" in " ".join(proc.stderr.split())
    )
    _no_products(tmp_path / "out")


def test_rs_run__stac_unreachable_after_retries(write_spec, rs_cli, tmp_path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = write_spec(
        tmp_path,
        "118.70,32.05,118.74,32.09",
        sources={
            "s2": {
                "url": f"http://127.0.0.1:{port}",
                "collections": ["sentinel-2-l2a"],
                "retries": 1,
                "timeout": 2,
            }
        },
    )
    proc = rs_cli("run", str(spec))
    assert proc.returncode == 3
    assert f"127.0.0.1:{port}" in proc.stderr
    _no_products(tmp_path / "out")


def _break_asset(world: World, i: int, band: str, how: str) -> None:
    path = world.band_path(i, band)
    if how == "missing":
        path.unlink()
    else:  # header intact, tiles cut off: readable at open, fails when pixels are read
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])


# A missing asset is caught by the header preflight; a truncated one (header intact, tiles cut
# off) only when its pixels are read inside a block task. Both follow on_scene_error.
BROKEN = [  # how, band, the reason recorded / printed
    pytest.param("missing", "red", "cannot open as raster", id="missing-file"),
    pytest.param("truncated", "green", "pixel data unreadable", id="corrupt-pixels"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("how", "band", "reason"), BROKEN)
def test_rs_run__unreadable_scene_skipped_and_recorded(
    world_copy, write_spec, rs_cli, tmp_path, how, band, reason
) -> None:
    _break_asset(world_copy, 3, band, how)
    proc = rs_cli("run", str(write_spec(world_copy.root, world_bbox(world_copy))))
    assert proc.returncode == 0, proc.stderr
    bad = world_copy.item_ids[3]
    assert f"skipped scene {bad}" in proc.stderr
    report = json.loads((tmp_path / "out" / "reports" / "t-latest.json").read_text())
    (step,) = report["steps"]
    assert [r["scene"] for r in step["scenes_skipped"]] == [bad]
    assert reason in step["scenes_skipped"][0]["reason"]
    assert step["scenes_used"] == [i for i in world_copy.item_ids if i != bad]
    item = json.loads((tmp_path / "out" / "items" / f"t-composite-{PERIOD}.json").read_text())
    assert [r["scene"] for r in item["properties"]["rs:skipped"]] == [bad]
    assert bad not in item["properties"]["rs:inputs"]
    # the composite is the truth median of the other dates, and differs from all dates'
    others = [i for i in range(world_copy.n_dates) if i != 3]
    med_others = _expected(world_copy, others)[0]["red"]
    med_all = _expected(world_copy)[0]["red"]
    comp = out_file(tmp_path / "out", "composite")
    rows, cols = _window(world_copy, comp)
    with rasterio.open(comp) as ds:
        red = ds.read(1)
    ok = np.isfinite(red) & np.isfinite(med_others[rows, cols])
    np.testing.assert_allclose(red[ok], med_others[rows, cols][ok], atol=2e-4)
    assert not np.allclose(red[ok], med_all[rows, cols][ok], atol=2e-4), "scene 3 left out"


@pytest.mark.slow
@pytest.mark.parametrize(("how", "band", "reason"), BROKEN)
def test_rs_run__unreadable_scene_fails_when_asked(
    world_copy, write_spec, rs_cli, tmp_path, how, band, reason
) -> None:
    _break_asset(world_copy, 3, band, how)
    spec = write_spec(world_copy.root, world_bbox(world_copy), on_scene_error="fail")
    proc = rs_cli("run", str(spec))
    assert proc.returncode == 4, proc.stderr
    said = " ".join(proc.stderr.split())  # the console wraps long lines
    assert f"item '{world_copy.item_ids[3]}'" in said and reason in said
    assert "on_scene_error: skip" in said
    assert "Traceback" not in proc.stderr
    _no_products(tmp_path / "out")


@pytest.mark.slow
def test_rs_run__clear_count_zero_inside_aoi_is_data(
    small_world, write_spec, rs_cli, tmp_path
) -> None:
    """One date: pixels under cloud have 0 clear observations, a value, not nodata."""
    when = small_world.datetimes[1].date().isoformat()
    spec = write_spec(
        small_world.root, world_bbox(small_world), period={"start": when, "end": when}
    )
    proc = rs_cli("run", str(spec), "-q")
    assert proc.returncode == 0, proc.stderr
    day = when.replace("-", "")
    path = out_file(tmp_path / "out", "clear_count", period=f"p-{day}-{day}")
    aoi_px = _aoi_pixels(path, world_bbox(small_world))
    _, count = _expected(small_world, range(1, 2))
    rows, cols = _window(small_world, path)
    with rasterio.open(path) as ds:
        cc = ds.read(1)
    assert (count[rows, cols][aoi_px] == 0).any(), "the test needs cloud on that date"
    np.testing.assert_array_equal(cc[aoi_px], count[rows, cols][aoi_px])


def test_rs_run__output_not_writable(small_world, write_spec, rs_cli, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    spec = write_spec(small_world.root, world_bbox(small_world), output=str(blocker / "out"))
    proc = rs_cli("run", str(spec))
    assert proc.returncode == 5
    assert "not writable" in proc.stderr


@pytest.mark.slow
def test_rs_run__demo_spec_runs_on_its_own(rs_cli, tmp_path, rs_cache) -> None:
    """What `make demo` runs: generates the demo world, serves it, composites, exits 0."""
    root = Path(__file__).resolve().parents[1]
    proc = rs_cli("run", str(root / "pipelines" / "demo.yaml"), "--output", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stderr
    assert (rs_cache / "demo-world" / "world.json").exists()
    stem = "demo_composite_season-20220401-20220930"
    for name in (
        f"{stem}_composite.tif",
        f"{stem}_ndvi.tif",
        f"{stem}_quicklook.png",
        "catalog.json",
    ):
        assert (tmp_path / "demo" / name).exists(), name
    assert "ndvi" in proc.stdout and "layers over the AOI" in proc.stdout
    report = json.loads((tmp_path / "demo" / "reports" / "demo-latest.json").read_text())
    rows = {r["layer"]: r for r in report["steps"][0]["layers"]}
    # a mostly vegetated summer landscape with a river: NDVI mean well above bare ground
    assert 0.3 < rows["ndvi"]["mean"] < 0.8
    assert rows["ndvi"]["min"] < 0 < rows["ndvi"]["max"]


@pytest.mark.slow
def test_rs_run__local_worker_processes_same_result(
    small_world, write_spec, rs_cli, tmp_path
) -> None:
    bbox = world_bbox(small_world)
    assert (
        rs_cli("run", str(write_spec(small_world.root, bbox, name="threads")), "-q").returncode == 0
    )
    procs = write_spec(
        small_world.root,
        bbox,
        name="procs",
        dask={"workers": 2, "threads_per_worker": 1, "processes": True},
    )
    proc = rs_cli("run", str(procs))
    assert proc.returncode == 0, proc.stderr
    with (
        rasterio.open(out_file(tmp_path / "out", "composite", name="threads")) as a,
        rasterio.open(out_file(tmp_path / "out", "composite", name="procs")) as b,
    ):
        np.testing.assert_array_equal(a.read(), b.read())
