"""The per-run HTML report (rs.pipeline.html_report): written next to the JSON report after a
real run, self-contained (maps as data: URIs, no reference outside the file), and checked in a
real headless Chromium with the network off.

A small run on a copy of the small world with one scene's red band deleted: one step x period
built, that scene in the skipped list; the second run of the same spec is up to date and its
page says so. The browser is found as in tests/test_stations_report.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rs.pipeline.html_report import render_html_report
from rs.stations.report import external_references
from tests.conftest import PERIOD, world_bbox


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, small_world: Any, rs_cache: Path) -> dict:
    """One run with a skipped scene, then a second (up to date) run of the same spec."""
    import shutil

    import yaml

    from tests._pipelines import run_rs

    tmp = tmp_path_factory.mktemp("html-report")
    root = tmp / "world"
    shutil.copytree(small_world.root, root)
    for p in root.rglob("*.json"):
        p.write_text(p.read_text().replace(small_world.root.as_uri(), root.as_uri()))
    from rs.testing import World

    world = World(root, small_world.config)
    world.band_path(3, "red").unlink()  # preflight skips this scene
    spec = {
        "name": "t",
        "sources": {"s2": {"embedded": str(root), "collections": ["sentinel-2-l2a"]}},
        "aoi": world_bbox(world),
        "periods": {"p": {"start": "2021-05-01", "end": "2022-09-30"}},
        "steps": [{"id": "composite", "kind": "composite", "bands": ["red", "green", "blue",
                                                                     "nir"],
                   "indices": ["ndvi"]}],
        "output": str(tmp / "out"),
        "dask": {"workers": 1, "threads_per_worker": 2},
    }
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    first = run_rs(rs_cache, "run", str(path))
    assert first.returncode == 0, first.stderr[-3000:]
    reports = tmp / "out" / "reports"
    (json_path,) = sorted(reports.glob("t-2*.json"))
    html_first = json_path.with_suffix(".html").read_text(encoding="utf-8")
    second = run_rs(rs_cache, "run", str(path))
    assert second.returncode == 0, second.stderr[-3000:]
    return {"out": tmp / "out", "json": json_path, "html": html_first,
            "bad": world.item_ids[3], "ids": world.item_ids}


def test_write_report__html_beside_each_json_report(run: dict) -> None:
    reports = run["out"] / "reports"
    jsons = sorted(p.name for p in reports.glob("t-2*.json"))
    htmls = sorted(p.name for p in reports.glob("t-2*.html"))
    assert len(jsons) == 2 and htmls == [j.replace(".json", ".html") for j in jsons]
    latest = (reports / "t-latest.html").read_text(encoding="utf-8")
    assert "up-to-date" in latest and f"t-composite-{PERIOD}" in latest


def test_html_report__steps_periods_skipped_and_maps(run: dict) -> None:
    html = run["html"]
    report = json.loads(run["json"].read_text())
    assert "<title>rs run report: t</title>" in html
    # the run summary: status, version, the resolved period's dates
    assert "id='run-status' class='done'>done<" in html
    assert f"<td>{report['rs_version']}</td>" in html
    assert "<td>p</td><td>p-20210501-20220930</td><td>2021-05-01</td><td>2022-09-30</td>" in html
    # one row per step x period with its status and reason
    row = re.search(rf"<tr data-item='t-composite-{PERIOD}'>(.*?)</tr>", html)
    assert row is not None
    assert "<td class='built'>built</td><td>new: no output item yet</td>" in row.group(1)
    assert row.group(1).endswith("<td>6</td><td>5</td><td>1</td>")
    # the skipped list names the scene, its asset and the reason
    skipped = re.search(r"<table id='skipped'>(.*?)</table>", html)
    assert skipped is not None and run["bad"] in skipped.group(1)
    assert "cannot open as raster" in skipped.group(1)
    assert "<h3>Skipped inputs (1)</h3>" in html
    assert "<h3>Steps x periods not built (0)</h3>" in html
    # one map per raster output (composite, ndvi, clear_count), each a PNG data: URI
    maps = re.findall(r"<figure class='map' data-asset='([^']+)'><img alt='[^']+' "
                      r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", html)
    item = json.loads((run["out"] / "items" / f"t-composite-{PERIOD}.json").read_text())
    rasters = [k for k, a in item["assets"].items() if a["type"].startswith("image/tiff")]
    assert sorted(k for k, _ in maps) == sorted(rasters) == ["clear_count", "composite", "ndvi"]
    import base64

    assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for _, b in maps)
    # composite and ndvi reuse their quicklooks; clear_count has none and is drawn
    notes = dict(re.findall(r"data-asset='([^']+)'>.*?\((quicklook|drawn from band 1)\)",
                            html))
    assert notes == {"composite": "quicklook", "ndvi": "quicklook",
                     "clear_count": "drawn from band 1"}
    assert external_references(html) == []
    assert "<script" not in html.lower()


def test_render_html_report__tables_and_escaping(tmp_path: Path) -> None:
    """A table output shows its first rows; text from the report is escaped."""
    import pandas as pd

    out = tmp_path / "out"
    (out / "items").mkdir(parents=True)
    pd.DataFrame({"zone": ["a", "<b>"], "mean": [0.5, 0.25]}).to_parquet(out / "z.parquet")
    item = {"id": "x", "assets": {"zonal_parquet": {"href": "../z.parquet",
                                                    "type": "application/vnd.apache.parquet",
                                                    "table:row_count": 2},
                                  "evil": {"href": "../../outside.tif",
                                           "type": "image/tiff"}}}
    (out / "items" / "x.json").write_text(json.dumps(item))
    import rasterio  # a real raster just outside the output folder: drawable, if it were read
    from rasterio.transform import from_origin

    with rasterio.open(tmp_path / "outside.tif", "w", driver="GTiff", width=8, height=8,
                       count=1, dtype="float32", crs="EPSG:32650",
                       transform=from_origin(0, 80, 10, 10)) as ds:
        ds.write(np.arange(64, dtype="float32").reshape(1, 8, 8))
    report = {"pipeline": "p", "status": "failed",
              "error": {"type": "X", "message": "<script>alert(1)</script>"},
              "steps": [{"item_id": "x", "step": "z", "status": "failed",
                         "reason": "a<b", "item_path": str(out / "items" / "x.json")}]}
    report["steps"] += [
        {"item_id": "y", "status": "empty", "reason": "no valid pixel"},
        {"item_id": "z", "status": "skipped", "reason": "needs y, which has no output"},
        {"item_id": "w", "status": "up-to-date"}]
    html = render_html_report(out, report)
    not_built = re.search(r"<table id='not-built'>(.*?)</table>", html)
    assert not_built is not None
    assert re.findall(r"<tr><td>(\w)</td><td>(\w+)</td>", not_built.group(1)) == [
        ("x", "failed"), ("y", "empty"), ("z", "skipped")]
    assert "<td>a&lt;b</td>" in not_built.group(1)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    table = re.search(r"<table id='table-zonal' class='preview'>(.*?)</table>", html)
    assert table is not None
    assert ("<tr><td>a</td><td>0.5</td></tr><tr><td>&lt;b&gt;</td><td>0.25</td></tr>"
            in table.group(1))
    # an href leaving the output folder is never read
    assert "evil: no map (file missing)" in html


# --- the real browser ---------------------------------------------------------------------------


def test_html_report__renders_offline_in_a_headless_browser(
    browser: Any, run: dict, tmp_path: Path
) -> None:
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(run["json"].with_suffix(".html").as_uri(), wait_until="load")
    assert page.title() == "rs run report: t"
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth,"
        " i.naturalHeight])")
    assert sorted(i[0] for i in images) == ["clear_count", "composite", "ndvi"]
    assert all(complete and 0 < w <= 360 and 0 < h <= 360 for _, complete, w, h in images)
    steps = page.evaluate(
        "Array.from(document.querySelectorAll('#steps tbody tr')).map(r => r.dataset.item)")
    assert steps == [f"t-composite-{PERIOD}"]
    skipped = page.evaluate(
        "Array.from(document.querySelectorAll('#skipped tbody td:nth-child(2)'))"
        ".map(c => c.textContent)")
    assert skipped == [run["bad"]]
    # nothing was fetched but the file itself (an offline context fails any other request)
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    shot = page.screenshot(full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "report.png").write_bytes(shot)
    context.close()


def test_render_html_report__broken_quicklook_map_drawn_from_the_cog(tmp_path: Path) -> None:
    """A quicklook that is not a PNG: the map is drawn from the raster instead (a known 4 x 4
    ramp, so the drawn image is 4 x 4 plus the legend strip)."""
    import base64
    import io

    import numpy as np
    import rasterio
    from affine import Affine
    from PIL import Image

    out = tmp_path / "out"
    (out / "items").mkdir(parents=True)
    with rasterio.open(out / "r.tif", "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="float32", crs="EPSG:32650",
                       transform=Affine(10, 0, 600000, 0, -10, 3500000)) as ds:
        ds.write(np.arange(16, dtype="float32").reshape(1, 4, 4))
    (out / "r_q.png").write_bytes(b"GIF89a not a png")
    item = {"id": "x", "assets": {
        "ndvi": {"href": "../r.tif", "type": "image/tiff; application=geotiff"},
        "ndvi_thumbnail": {"href": "../r_q.png", "type": "image/png"}}}
    (out / "items" / "x.json").write_text(json.dumps(item))
    report = {"pipeline": "p", "status": "done",
              "steps": [{"item_id": "x", "status": "built",
                         "item_path": str(out / "items" / "x.json")}]}
    html = render_html_report(out, report)
    (b64,) = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert "(drawn from band 1)" in html
    with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
        assert im.format == "PNG" and im.size[1] == 4 + 48  # map + legend strip
