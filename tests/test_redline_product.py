"""The redline-change product end to end on a small world with planted clearings at known
places around hand-drawn protected zones: parts and shares across boundaries, the per-zone
table and unassessed area, thumbnails, the field-verification loop and bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from PIL import Image

from rs.testing import VegetationLoss, WorldConfig, generate_world
from rs.testing.world import World
from tests._pipelines import run_rs, run_spec

START = date(2021, 12, 15)
PERIODS = {"before": {"start": "2021-05-01", "end": "2021-09-30"},
           "after": {"start": "2022-05-01", "end": "2022-09-30"}}
STEM = "rl_redline_after-20220501-20220930"


# 25 cloudless dates 365/12 days apart over two years: each date of 2022 is one of 2021 a year
# on, so the two summers' composites see the same phenology and only the planted clearings
# change (cloud-dependent composites and their false alarms are the red-line world's business:
# tests/test_redline_demo.py)
_WORLD = {"width": 192, "height": 192, "n_dates": 25, "seed": 11, "cloudiness": 0.0,
          "start_date": date(2021, 5, 1), "end_date": date(2023, 5, 1)}


def _config() -> WorldConfig:
    g = WorldConfig(**_WORLD, events=()).grid
    events = (  # A across the core's east edge, B inside the buffer, D across core/buffer, C out
        VegetationLoss.blob(g, "A", (0.50, 0.25), (0.07, 0.06), START),
        VegetationLoss.blob(g, "B", (0.25, 0.75), (0.07, 0.06), START),
        VegetationLoss.blob(g, "D", (0.22, 0.50), (0.07, 0.07), START),
        VegetationLoss.blob(g, "C", (0.78, 0.72), (0.07, 0.06), START),
    )
    return WorldConfig(**_WORLD, events=events)


def _zones(world: World) -> gpd.GeoDataFrame:
    g = world.grid
    core = shapely.box(*g.xy(0.0, 0.5), *g.xy(0.5, 0.0))
    buffer = shapely.box(*g.xy(0.0, 1.0), *g.xy(0.5, 0.5))
    return gpd.GeoDataFrame({"name": ["Reserve A", "Reserve A"], "level": ["national"] * 2,
                             "zone": ["core", "buffer"]}, geometry=[core, buffer],
                            crs=g.crs).to_crs("EPSG:4326")


def _notch(world: World) -> shapely.Polygon:
    """A hole in the AOI inside the core zone: no value on either date there."""
    g = world.grid
    return shapely.box(*g.xy(0.05, 0.2), *g.xy(0.2, 0.05))


def _aoi(world: World) -> shapely.Polygon:
    """The whole world but its bottom eighth (outside the grid: the buffer's bottom is then
    unassessed) and :func:`_notch` (inside the grid: no value there)."""
    g = world.grid
    return g.to_lonlat(shapely.box(*g.xy(0.0, 0.875), *g.xy(1.0, 0.0)).difference(_notch(world)))


def _spec(world: World, tmp: Path, step: dict[str, Any]) -> dict[str, Any]:
    aoi = tmp / "aoi.geojson"
    if not aoi.exists():
        gpd.GeoDataFrame(geometry=[_aoi(world)], crs="EPSG:4326").to_file(aoi)
    return {
        "name": "rl",
        "aoi": str(aoi),
        "sources": {"s2": {"embedded": str(world.root), "collections": ["sentinel-2-l2a"]}},
        "periods": PERIODS,
        "steps": [
            {"id": "composite", "kind": "composite", "quicklook": False, "indices": [],
             "bands": ["blue", "green", "red", "nir", "swir16", "swir22"]},
            {"id": "redline", "kind": "redline-change", "periods": ["after"],
             "before": "composite@before", "after": "composite@after",
             "protected": str(tmp / "zones.geojson"), **step},
        ],
        "output": str(tmp / "out"),
        "dask": {"workers": 1, "threads_per_worker": 2, "block_size": 80},
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, rs_cache: Path) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("redline")
    world = generate_world(tmp / "world", _config())
    _zones(world).to_file(tmp / "zones.geojson")
    run_spec(_spec(world, tmp, {"scope": "all"}), tmp / "spec.yaml", rs_cache)
    out = tmp / "out"
    truth, _ = world.truth()
    return {"tmp": tmp, "world": world, "out": out, "truth": truth.set_index("event_id"),
            "parts": gpd.read_file(out / f"{STEM}_patches.gpkg")}


def _truth_geom(run: dict[str, Any], name: str) -> Any:
    g = run["truth"].loc[name, "geometry"]
    return gpd.GeoSeries([g], crs="EPSG:4326").to_crs(run["world"].grid.crs).iloc[0]


def _patch_of(parts: gpd.GeoDataFrame, truth: Any) -> gpd.GeoDataFrame:
    """The parts of the detected patch overlapping ``truth`` most."""
    whole = parts.dissolve(by="patch_id")
    inter = whole.geometry.intersection(truth).area
    assert inter.max() > 0, "planted clearing not detected"
    return parts.loc[parts["patch_id"] == inter.idxmax()]


def test_each_planted_clearing_is_one_patch_matching_the_truth(run: dict[str, Any]) -> None:
    """The patch holds the whole clearing and reaches at most ~2.5 pixels beyond its edge:
    the 20 m SWIR pixels across the edge are mixed, so up to two 10 m pixels of the ring
    around it change too (the morphology adds nothing: a closing only fills)."""
    parts = run["parts"].to_crs(run["world"].grid.crs)
    for name in "ABCD":
        t = _truth_geom(run, name)
        mine = _patch_of(parts, t)
        g = shapely.union_all(mine.geometry.values)
        assert g.intersection(t).area / t.area > 0.97, name
        assert g.area - t.area < t.length * 25.0, (name, g.area, t.area)
        assert mine["patch_area_m2"].iloc[0] == pytest.approx(g.area, rel=1e-3)
        assert (mine["ndvi_delta"] < -0.2).all(), mine["ndvi_delta"].tolist()
    # nothing else changed in this world: no other patch
    assert parts["patch_id"].nunique() == 4


def test_parts_split_at_boundaries_with_their_zone_and_share(run: dict[str, Any]) -> None:
    parts = run["parts"].to_crs(run["world"].grid.crs)
    zones = _zones(run["world"]).to_crs(run["world"].grid.crs).set_index("zone")
    expect = {"A": {"core": None, "": None}, "B": {"buffer": None}, "C": {"": None},
              "D": {"core": None, "buffer": None}}
    for name, want in expect.items():
        t = _truth_geom(run, name)
        mine = _patch_of(parts, t)
        assert set(mine["zone"]) == set(want), (name, mine["zone"].tolist())
        assert mine["share"].sum() == pytest.approx(1.0, abs=1e-9)
        for _, p in mine.iterrows():
            if p["zone"]:
                assert p["reserve"] == "Reserve A" and p["level"] == "national"
                # the truth's share on that side of the boundary, to within a pixel column
                side = t.intersection(zones.loc[p["zone"], "geometry"]).area / t.area
                assert p["share"] == pytest.approx(side, abs=0.08), (name, p["zone"])
            else:
                assert p["reserve"] == ""
    assert (parts["part"] >= 1).all()
    assert not parts[["patch_id", "part"]].duplicated().any()


def test_only_protected_parts_by_default_and_zone_table(run: dict[str, Any],
                                                        rs_cache: Path) -> None:
    tmp, world = run["tmp"], run["world"]
    spec = _spec(world, tmp, {})
    spec["steps"][1]["id"] = "inside"
    run_spec(spec, tmp / "inside.yaml", rs_cache)
    stem = STEM.replace("redline", "inside")
    parts = gpd.read_file(run["out"] / f"{stem}_patches.gpkg")
    assert (parts["reserve"] == "Reserve A").all()
    c = _truth_geom(run, "C")
    assert not parts.to_crs(world.grid.crs).intersects(c).any()
    zones = _zones(world).to_crs(world.grid.crs)
    import pandas as pd

    table = pd.read_csv(run["out"] / f"{stem}_zones.csv").set_index("zone")
    for _, z in zones.iterrows():
        row = table.loc[z["zone"]]
        assert row["area_m2"] == pytest.approx(z.geometry.area, rel=1e-6)
        mine = parts.loc[parts["zone"] == z["zone"]]
        assert row["n_patches"] == mine["patch_id"].nunique()
        assert row["changed_m2"] == pytest.approx(mine["area_m2"].sum(), rel=1e-9)
    # the AOI leaves the bottom eighth of the grid out: that part of the buffer is unassessed
    aoi = gpd.GeoSeries([_aoi(world)], crs="EPSG:4326").to_crs(world.grid.crs).iloc[0]
    buffer = zones.set_index("zone").loc["buffer", "geometry"]
    outside = buffer.difference(aoi).area
    assert table.loc["buffer", "uncovered_m2"] == pytest.approx(outside, rel=0.05)
    # the notch: pixels of the grid without a value (their centres in the notch: 15 x 15 px)
    assert table.loc["core", "uncovered_m2"] == pytest.approx(_notch(world).area, rel=0.1)
    # and no patch was invented where nothing was seen
    holes = buffer.difference(aoi).union(_notch(world))
    assert parts.to_crs(world.grid.crs).intersection(holes).area.max() < 1.0


def test_change_raster_and_item(run: dict[str, Any]) -> None:
    from rasterio.features import rasterize

    with rasterio.open(run["out"] / f"{STEM}_change.tif") as ds:
        cls = ds.read(1)
        assert ds.nodata == 255
        parts = run["parts"].to_crs(ds.crs)
        burnt = rasterize(parts.geometry, out_shape=cls.shape, transform=ds.transform) == 1
    assert set(np.unique(cls)) <= {0, 1, 255}
    # every pixel of a reported patch is a change pixel, and they are most change pixels
    assert (cls[burnt] == 1).all()
    assert burnt.sum() >= 0.95 * (cls == 1).sum()
    (item_path,) = (run["out"] / "items").glob("rl-redline-after*.json")
    item = json.loads(item_path.read_text())
    assert {"change", "patches_gpkg", "zones_csv"} <= set(item["assets"])
    assert item["properties"]["rs:patches"] == run["parts"]["patch_id"].nunique()


def test_thumbnails_share_one_stretch_and_show_the_outline(run: dict[str, Any]) -> None:
    parts = run["parts"]
    (item_path,) = (run["out"] / "items").glob("rl-redline-after*.json")
    assets = json.loads(item_path.read_text())["assets"]
    for pid in parts["patch_id"].unique():
        row = parts.loc[parts["patch_id"] == pid].iloc[0]
        before = Image.open(run["out"] / row["thumbnail_before"])
        after = Image.open(run["out"] / row["thumbnail_after"])
        assert before.size == after.size
        a, b = np.asarray(after), np.asarray(before)
        yellow = (a[..., 0] == 255) & (a[..., 1] == 255) & (a[..., 2] == 0)
        assert yellow.sum() > 20
        assert (yellow == ((b[..., 0] == 255) & (b[..., 1] == 255) & (b[..., 2] == 0))).all()
        kb, ka = f"thumb_{pid}_before", f"thumb_{pid}_after"
        assert assets[kb]["rs:stretch"] == assets[ka]["rs:stretch"]
    # a clearing: inside the outline the after image is brighter (bare soil) than before
    t = _patch_of(parts.to_crs(run["world"].grid.crs), _truth_geom(run, "B"))
    row = t.iloc[0]
    a = np.asarray(Image.open(run["out"] / row["thumbnail_after"]))[..., :3].astype(float)
    b = np.asarray(Image.open(run["out"] / row["thumbnail_before"]))[..., :3].astype(float)
    h, w = a.shape[:2]
    centre = (slice(h // 2 - 3, h // 2 + 3), slice(w // 2 - 3, w // 2 + 3))
    assert a[centre].mean() > b[centre].mean() + 30


def test_verdicts_carry_over_and_rejected_patches_are_not_reported(
        run: dict[str, Any], rs_cache: Path) -> None:
    tmp, world = run["tmp"], run["world"]
    parts = run["parts"].copy()
    grid_parts = parts.to_crs(world.grid.crs)
    pa = _patch_of(grid_parts, _truth_geom(run, "A"))["patch_id"].iloc[0]
    pd_ = _patch_of(grid_parts, _truth_geom(run, "D"))["patch_id"].iloc[0]
    parts.loc[parts["patch_id"] == pa, ["verification", "note"]] = ["confirmed", "quarry road"]
    parts.loc[parts["patch_id"] == pd_, "verification"] = "rejected"
    prev = tmp / "verified.gpkg"
    parts.to_file(prev, layer="redline_patches")
    spec = _spec(world, tmp, {"scope": "all", "previous": str(prev), "thumbnails": False})
    spec["steps"][1]["id"] = "again"
    run_spec(spec, tmp / "again.yaml", rs_cache)
    new = gpd.read_file(run["out"] / f"{STEM.replace('redline', 'again')}_patches.gpkg")
    g = new.to_crs(world.grid.crs)
    a = _patch_of(g, _truth_geom(run, "A"))
    assert (a["verification"] == "confirmed").all() and (a["note"] == "quarry road").all()
    assert not g.intersects(_truth_geom(run, "D")).any()  # rejected before: not again
    b = _patch_of(g, _truth_geom(run, "B"))
    assert (b["verification"] == "unverified").all()


def test_protected_polygons_in_another_crs_and_invalid_give_the_same_parts(
        run: dict[str, Any], rs_cache: Path) -> None:
    tmp, world = run["tmp"], run["world"]
    zones = _zones(world).to_crs("EPSG:3857")
    g = world.grid
    x0, y0 = g.xy(0.6, 0.9)
    x1, y1 = g.xy(0.7, 0.8)
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # self-intersecting
    assert not bowtie.is_valid
    extra = gpd.GeoDataFrame({"name": ["Bow"], "level": ["local"], "zone": ["core"]},
                             geometry=[bowtie], crs=g.crs).to_crs("EPSG:3857")
    import pandas as pd

    both = gpd.GeoDataFrame(pd.concat([zones, extra], ignore_index=True), crs="EPSG:3857")
    both.to_file(tmp / "zones3857.gpkg")
    spec = _spec(world, tmp, {"protected": str(tmp / "zones3857.gpkg"), "thumbnails": False})
    spec["steps"][1]["id"] = "other"
    run_spec(spec, tmp / "other.yaml", rs_cache)
    other = gpd.read_file(run["out"] / f"{STEM.replace('redline', 'other')}_patches.gpkg")
    mine = run["parts"].loc[run["parts"]["reserve"] == "Reserve A"]
    got = other.loc[other["reserve"] == "Reserve A"]
    key = ["patch_id", "zone"]
    m = mine.set_index(key)["area_m2"].sort_index()
    o = got.set_index(key)["area_m2"].sort_index()
    assert list(m.index) == list(o.index)
    np.testing.assert_allclose(o.to_numpy(), m.to_numpy(), rtol=1e-3)


@pytest.mark.parametrize("step, code, words", [
    ({"name_column": "reserve_name"}, 2, ["reserve_name", "name_column"]),
    ({"model": "bogus.skops"}, 4, ["bogus.skops"]),
])
def test_bad_input_is_refused_naming_what_to_change(
        run: dict[str, Any], rs_cache: Path, step: dict[str, Any], code: int,
        words: list[str]) -> None:
    tmp, world = run["tmp"], run["world"]
    if "model" in step:
        (tmp / "bogus.skops").write_bytes(b"not a zip file at all")
        step = {"model": str(tmp / "bogus.skops")}
    spec = _spec(world, tmp, step)
    spec["steps"][1]["id"] = "bad"
    import yaml

    path = tmp / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    done = run_rs(rs_cache, "run", str(path))
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
    text = done.stdout + done.stderr
    for w in words:
        assert w in text, text[-2000:]
    assert not list(run["out"].glob("*_bad_*"))


def test_composites_without_the_swir_bands_are_refused(run: dict[str, Any],
                                                       rs_cache: Path, tmp_path: Path) -> None:
    world = run["world"]
    spec = _spec(world, run["tmp"], {})
    spec["steps"][0]["bands"] = ["red", "green", "blue", "nir"]
    spec["output"] = str(tmp_path / "out")
    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    done = run_rs(rs_cache, "run", str(path))
    assert done.returncode == 2
    assert "swir16" in done.stdout + done.stderr


def test_block_tasks_read_in_strips_equal_the_grid_computed_at_once(tmp_path: Path) -> None:
    """A task reads its window in strips through one open dataset per file (the product's
    large-grid path): the classes equal the whole grid decided at once from the arrays, for
    any strip height and window offset, with no data (255) where a date has none."""
    from rs.change.detect import BANDS, DetectConfig, change_mask, fit_change
    from rs.export.cog import CogWriter, GridSpec, RasterBand
    from rs.load.outputs import band_readers
    from rs.products.redline import _block
    from tests.test_change_detect import CRS, MMU, T, make_world

    world = make_world(seed=1)
    world.after["nir"][100:110, 30:50] = np.nan  # a gap on one date
    paths = {}
    for name, comp in (("before", world.before), ("after", world.after)):
        stack = np.stack([comp[b] for b in BANDS])
        paths[name] = str(tmp_path / f"{name}.tif")
        grid = GridSpec(crs=CRS, transform=T, shape=stack.shape[1:])
        with CogWriter(paths[name], grid, [RasterBand(b) for b in BANDS], dtype="float32",
                       nodata=np.nan, blocksize=32) as out:
            out.write_block(0, 0, stack)
    model = fit_change(band_readers(paths["before"], BANDS), band_readers(paths["after"], BANDS),
                       DetectConfig(mmu_m2=MMU))
    mask = change_mask(world.before, world.after, model, block_size=10_000)
    valid = np.isfinite(np.stack([*world.before.values(), *world.after.values()])).all(axis=0)
    expected = np.where(valid, mask, 255).astype(np.uint8)
    assert mask.sum() > 500 and (expected == 255).sum() == 200
    h, w = mask.shape
    for strip in (13, 64, 10_000):
        got = _block(paths["before"], paths["after"], (0, 0, h, w), model, strip_rows=strip)
        np.testing.assert_array_equal(got.data[0], expected)
    got = _block(paths["before"], paths["after"], (37, 51, 120, 100), model, strip_rows=17)
    np.testing.assert_array_equal(got.data[0], expected[37:157, 51:151])
