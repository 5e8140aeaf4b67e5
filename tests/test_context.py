"""The build context: per-scene use records, GDAL settings captured for workers, names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import Transformer

from rs.errors import EmptyProductError
from rs.load import SkippedScene
from rs.pipeline.context import Outputs, SceneUse, capture_gdal_env
from rs.pipeline.runner import run_pipeline
from rs.pipeline.spec import load_spec
from rs.testing import World


def test_scene_use__partly_used_and_fully_skipped() -> None:
    use = SceneUse()
    a_bad = SkippedScene("a", "red", "pixel data unreadable: x")
    use.record(["a", "b"], [a_bad])
    use.record(["a", "b"], [])
    use.record(["c"], [SkippedScene("c", "red", "gone")])
    rows = {r["scene"]: r for r in use.rows()}
    assert rows["a"]["status"] == "partly used"
    assert (rows["a"]["blocks_used"], rows["a"]["blocks_skipped"]) == (1, 1)
    assert rows["c"]["status"] == "skipped" and rows["c"]["blocks_used"] == 0
    assert "b" not in rows
    assert [s.item_id for s in use.fully_skipped()] == ["c"]


def test_capture_gdal_env__only_gdal_and_credentials() -> None:
    env = {
        "GDAL_HTTP_MAX_RETRY": "5",
        "AWS_SECRET_ACCESS_KEY": "s",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
        "HOME": "/root",
        "PATH": "/bin",
        "GDAL_CACHEMAX": "512",  # process-wide, and rasterio.Env refuses it as text
    }
    import rasterio

    gdal = {k: v for k, v in capture_gdal_env(env).items() if k.startswith("GDAL_")}
    with rasterio.Env(**gdal):  # as every block task applies them
        pass
    assert capture_gdal_env(env) == {
        "AWS_SECRET_ACCESS_KEY": "s",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
        "GDAL_HTTP_MAX_RETRY": "5",
    }


def test_outputs__file_names_carry_pipeline_step_and_period(tmp_path: Path) -> None:
    out = Outputs(tmp_path, "demo_composite_2022-H1")
    assert out.path("ndvi", "tif") == tmp_path / "demo_composite_2022-H1_ndvi.tif"


@pytest.mark.slow
def test_run_pipeline__no_valid_pixel_is_a_failure_with_report(
    small_world: World, write_spec, rs_cache: Path, tmp_path: Path
) -> None:
    """An AOI between pixel centres: the product would be empty; the run says so and fails."""
    g = small_world.grid
    x, y = g.x0 + 40 * g.res, g.y0 - 40 * g.res  # a pixel corner: no pixel centre near it
    to_ll = Transformer.from_crs(g.crs, "EPSG:4326", always_xy=True)
    (w, e), (s, n) = to_ll.transform([x - 1, x + 1], [y - 1, y + 1])
    spec = load_spec(write_spec(small_world.root, f"{w:.7f},{s:.7f},{e:.7f},{n:.7f}"))
    with pytest.raises(EmptyProductError, match="no valid pixel"):
        run_pipeline(spec)
    out = Path(spec.output)
    report = json.loads((out / "reports" / "t-latest.json").read_text())
    assert report["status"] == "failed" and report["error"]["type"] == "EmptyProductError"
    assert report["error"]["exit_code"] == 2
    assert report["error"]["failed_step"] == "t-composite-p-20210501-20220930"
    assert [(s["step"], s["status"]) for s in report["steps"]] == [("composite", "failed")]
    assert report["steps"][0]["scenes_found"] == small_world.n_dates, "what was known is kept"
    assert not list(out.glob("*.tif")) and not (out / "items").exists()


def test_runtime__captures_gdal_env_of_the_client_process(monkeypatch) -> None:
    from rs.pipeline.context import Runtime

    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "7")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", "a")
    env = Runtime(client=None).gdal_env  # type: ignore[arg-type]
    assert {"GDAL_HTTP_MAX_RETRY": "7", "AZURE_STORAGE_ACCOUNT": "a"}.items() <= env.items()


def test_composite_block__reads_under_the_captured_gdal_env(
    small_world: World, monkeypatch
) -> None:
    """The settings a block task gets are in force while it reads (on any worker)."""
    import rasterio
    from odc.geo.geobox import GeoBox
    from shapely.geometry import box

    import rs.load
    from rs.products import composite

    seen: dict[str, object] = {}

    def recording_load_block(items, bands, **kw):
        seen.update(rasterio.env.getenv())
        return None, []

    monkeypatch.setattr(rs.load, "load_block", recording_load_block)
    g = small_world.grid
    tile = GeoBox.from_bbox((g.x0, g.y0 - 320, g.x0 + 320, g.y0), g.crs, resolution=10)
    spec = composite.CompositeSpec(id="c", kind="composite")
    composite._block(
        small_world.items(), (0,), tile, spec, box(0, 0, 1, 1), "skip", {"GDAL_HTTP_MAX_RETRY": "7"}
    )
    assert seen.get("GDAL_HTTP_MAX_RETRY") == "7"
