"""Security of a run (issue 11, scope 7).

* Names that become file names (the pipeline's ``name``, period and source names, step ids)
  are refused at spec validation when they could leave the output folder or break a file name
  (``../``, absolute paths, NUL bytes, a trailing newline, 200 characters), with exit 2 and a
  message naming the key and what to write; AOI / zone attribute values with ``../`` never
  make a file outside the output folder; a product key or asset path that would is refused.
* Secrets in URLs (user-info, ``token=`` / ``sig=`` query values) never reach stderr, the run
  report (JSON and HTML) or the STAC items (rs._redact).
* No pickle: nothing in rs/ imports or calls a pickle-based loader; model files are skops
  (trusted types are tested in test_stations_calibrate / test_change_typing).
"""

from __future__ import annotations

import ast
import json
import re
from html import escape
from pathlib import Path
from typing import Any

import pytest

from rs._redact import redact, redact_obj
from rs.errors import OutputError, SpecError
from rs.export.stac_items import OutputAsset
from rs.pipeline.context import Outputs
from rs.pipeline.runner import _moved
from rs.pipeline.spec import parse_spec
from rs.sources.local import free_port
from tests.conftest import world_bbox

RS = Path(__file__).resolve().parents[1] / "rs"

BAD_NAMES = [
    pytest.param("../evil", id="dot-dot"),
    pytest.param("a/../../evil", id="slash-dot-dot"),
    pytest.param("/etc/cron.d/x", id="absolute"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("ok\n", id="trailing-newline"),
    pytest.param("x" * 200, id="too-long"),
    pytest.param("..", id="only-dots"),
]


def _spec(name: str = "t", period: str = "p", step: str = "composite", source: str = "s2"
          ) -> dict[str, Any]:
    return {
        "name": name,
        "aoi": "118.70,32.05,118.74,32.09",
        "sources": {source: {"embedded": "demo", "collections": ["sentinel-2-l2a"]}},
        "periods": {period: {"start": "2022-04-01", "end": "2022-09-30"}},
        "steps": [{"id": step, "kind": "composite", "bands": ["red", "nir"]}],
        "output": "out",
    }


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize(("key", "where", "words"), [
    ("name", "name", "letters, digits, '_', '-' and '.'"),
    ("period", "periods", "period name"),
    ("step", "steps[0].id", "step id"),
    ("source", "sources", "source name"),
])
def test_parse_spec__names_that_make_files_are_refused(
    tmp_path: Path, key: str, where: str, words: str, bad: str
) -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(_spec(**{key: bad}), base=tmp_path)
    msg = str(e.value)
    assert f"{where}:" in msg and words in msg and "file and item names" in msg, msg
    assert "at most 64 characters" in msg


def test_parse_spec__good_names_pass(tmp_path: Path) -> None:
    spec = parse_spec(_spec(name="demo.v2", period="season-1", step="ndvi_2", source="S2"),
                      base=tmp_path)
    assert (spec.name, list(spec.periods), spec.steps[0].id) == ("demo.v2", ["season-1"], "ndvi_2")
    parse_spec(_spec(name="x" * 64, period="p" * 64, step="s" * 64), base=tmp_path)


def test_rs_run__traversal_in_name_exits_2_naming_the_key(rs_cli, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_spec(name="../../outside")))
    proc = rs_cli("run", str(path))
    assert proc.returncode == 2
    assert "name: '../../outside' is used in file and item names" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "outside").exists()


def test_outputs_path__a_key_that_would_leave_the_folder_is_refused(tmp_path: Path) -> None:
    out = Outputs(tmp_path / "staging", "t_s_p")
    assert out.path("thumb_3_before", "png") == tmp_path / "staging" / "t_s_p_thumb_3_before.png"
    for key in ("/../../../evil", "a/b", "..", "x\x00", "../x"):
        with pytest.raises(OutputError, match="cannot name a file"):
            out.path(key, "tif")


def test_moved__an_asset_outside_the_staging_folder_is_refused(tmp_path: Path) -> None:
    staging, out = tmp_path / "out" / ".rs-staging-1", tmp_path / "out"
    ok = _moved(OutputAsset("a", staging / "t_a.tif", "image/tiff"), staging, out)
    assert ok.path == out / "t_a.tif"
    for p in (staging / ".." / ".." / "evil.tif", tmp_path / "elsewhere.tif", staging):
        with pytest.raises(OutputError, match="outside the output folder"):
            _moved(OutputAsset("a", p, "image/tiff"), staging, out)


EVIL = ["../../escaped", "/tmp/rs-escaped-abs", "..", "a/../../b", "..\\..\\win"]


@pytest.mark.slow
def test_rs_run__attribute_values_never_make_files_outside(
    small_world, rs_cli, rs_cache: Path, tmp_path: Path
) -> None:
    """An AOI and zones whose attribute values are paths: the run works, the values stay data
    (zonal rows), and every file the run wrote is inside the output folder."""
    import geopandas as gpd
    import pandas as pd
    import yaml
    from shapely.geometry import box

    w, s, e, n = (float(v) for v in world_bbox(small_world).split(","))
    dx = (e - w) / len(EVIL)
    zones = gpd.GeoDataFrame(
        {"id": EVIL, "name": EVIL},
        geometry=[box(w + i * dx, s, w + (i + 1) * dx, n) for i in range(len(EVIL))],
        crs="EPSG:4326")
    zones.to_file(tmp_path / "zones.geojson")
    zones.iloc[:1].to_file(tmp_path / "aoi.geojson")
    spec = {
        "name": "t",
        "aoi": str(tmp_path / "aoi.geojson"),
        "sources": {"s2": {"embedded": str(small_world.root), "collections": ["sentinel-2-l2a"]}},
        "periods": {"p": {"start": "2021-05-01", "end": "2022-09-30"}},
        "steps": [
            {"id": "composite", "kind": "composite", "bands": ["red", "nir"],
             "indices": ["ndvi"]},
            {"id": "zonal", "kind": "zonal", "raster": "composite", "layer": "ndvi",
             "zones": str(tmp_path / "zones.geojson")},
        ],
        "output": str(tmp_path / "out"),
        "dask": {"workers": 1, "threads_per_worker": 2},
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    before = {p for p in tmp_path.parent.rglob("*")}
    proc = rs_cli("run", str(tmp_path / "spec.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    new = {p for p in tmp_path.parent.rglob("*")} - before
    # rs's cache (the embedded API's catalogue) is the only other place a run writes
    outside = [p for p in new if not p.is_relative_to(tmp_path / "out")
               and not p.is_relative_to(rs_cache)]
    assert outside == []
    assert not Path("/tmp/rs-escaped-abs").exists()
    (table,) = (tmp_path / "out").glob("t_zonal_*_zonal.csv")
    assert sorted(pd.read_csv(table)["id"]) == sorted(EVIL)
    # the HTML report shows them as text in the zonal table's first rows
    html = (tmp_path / "out" / "reports" / "t-latest.html").read_text(encoding="utf-8")
    preview = re.search(r"<table id='table-zonal' class='preview'>(.*?)</table>", html)
    assert preview is not None
    assert all(f"<td>{escape(v)}</td>" in preview.group(1) for v in EVIL)


# --- secrets --------------------------------------------------------------------------------


def test_redact__userinfo_and_secret_parameters_masked() -> None:
    assert redact("https://user:pass@stac.example.org/v1?limit=5&token=abc123") == (
        "https://***@stac.example.org/v1?limit=5&token=***")
    assert redact("failed: https://acc.blob.core.windows.net/c/x.tif?sv=2021&se=2026-12-01"
                  "&sig=AbC%2Fd%3D&sp=r; retry") == (
        "failed: https://acc.blob.core.windows.net/c/x.tif?sv=2021&se=2026-12-01&sig=***&sp=r;"
        " retry")
    assert redact("s3://b/k.tif?X-Amz-Credential=AKIA/x&X-Amz-Signature=ff&X-Amz-Security-Token"
                  "=tt&v=1") == (
        "s3://b/k.tif?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***&v=1")
    assert redact("http://127.0.0.1:8080/search?apikey=K&access_token=A") == (
        "http://127.0.0.1:8080/search?apikey=***&access_token=***")
    # nothing secret: unchanged
    for text in ("file:///data/s2/a.tif", "ratio a=b; c=d", "mail me@example.org",
                 "https://earth-search.aws.element84.com/v1?collections=sentinel-2-l2a"):
        assert redact(text) == text
    nested = {"url": "https://u:p@h/x", "rows": [("x?sig=1",), {"k": "y&token=2"}], "n": 3}
    assert redact_obj(nested) == {"url": "https://***@h/x",
                                  "rows": [("x?sig=***",), {"k": "y&token=***"}], "n": 3}


SECRETS = ("S3cretPassw0rd", "T0kenValue42", "S1gValue99")


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked: ...{text[text.find(secret) - 200:][:400]}"


def test_rs_run__credentials_in_the_stac_url_never_written(
    write_spec, rs_cli, tmp_path: Path
) -> None:
    """A STAC URL with user:password and a token: the run fails (nothing listens), and neither
    stderr, the JSON report nor the HTML report holds the secrets; the host still shows."""
    port = free_port()
    url = f"http://user:{SECRETS[0]}@127.0.0.1:{port}/v1?token={SECRETS[1]}&sig={SECRETS[2]}"
    spec = write_spec(tmp_path, "118.70,32.05,118.74,32.09",
                      sources={"s2": {"url": url, "collections": ["sentinel-2-l2a"],
                                      "retries": 1, "timeout": 2}})
    proc = rs_cli("run", str(spec))
    assert proc.returncode == 3, proc.stderr
    assert f"127.0.0.1:{port}" in proc.stderr
    reports = tmp_path / "out" / "reports"
    texts = [p.read_text(encoding="utf-8") for p in sorted(reports.glob("t-*"))]
    assert {p.suffix for p in reports.glob("t-*")} == {".json", ".html"}
    report = json.loads((reports / "t-latest.json").read_text())
    assert report["status"] == "failed"
    assert report["spec"]["sources"]["s2"]["url"] == (
        f"http://***@127.0.0.1:{port}/v1?token=***&sig=***")
    _assert_no_secret(proc.stdout, proc.stderr, *texts)


@pytest.mark.slow
@pytest.mark.parametrize("on_error", ["skip", "fail"])
def test_rs_run__signed_asset_href_never_written(world_copy, write_spec, rs_cli,
                                                 tmp_path: Path, on_error: str) -> None:
    """One scene's asset is a signed URL (user-info, sig, token) that cannot be read: skipped
    with its reason (or, with ``on_scene_error: fail``, the run fails naming the href), and no
    secret is in stderr, the reports or the output items."""
    port = free_port()
    bad = world_copy.item_ids[3]
    (item_path,) = world_copy.root.rglob(f"{bad}.json")
    item = json.loads(item_path.read_text())
    item["assets"]["red"]["href"] = (
        f"http://u:{SECRETS[0]}@127.0.0.1:{port}/red.tif?token={SECRETS[1]}&sig={SECRETS[2]}")
    item_path.write_text(json.dumps(item))
    spec = write_spec(world_copy.root, world_bbox(world_copy), on_scene_error=on_error)
    proc = rs_cli("run", str(spec))
    out = tmp_path / "out"
    report = json.loads((out / "reports" / "t-latest.json").read_text())
    if on_error == "skip":
        assert proc.returncode == 0, proc.stderr[-3000:]
        (step,) = report["steps"]
        assert [r["scene"] for r in step["scenes_skipped"]] == [bad]
    else:
        assert proc.returncode == 4, proc.stderr[-3000:]
        href = f"http://***@127.0.0.1:{port}/red.tif?token=***&sig=***"
        assert href in proc.stderr and href in report["error"]["message"]
    written = [p.read_text(encoding="utf-8") for p in (*out.glob("reports/*"),
                                                        *out.glob("items/*.json"))]
    assert any("127.0.0.1" in t for t in written)  # the reason still says where it failed
    _assert_no_secret(proc.stdout, proc.stderr, *written)


# --- no pickle ------------------------------------------------------------------------------

_PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve",
                   "marshal", "torch"}
_PICKLE_CALLS = {"read_pickle", "to_pickle", "pickle", "loads_pickle"}


def _pickle_uses(source: str) -> list[str]:
    """Pickle-based loading in ``source``: imports of pickle-like modules, ``read_pickle`` /
    ``to_pickle``, ``allow_pickle=True`` and skops ``trusted=True`` (trust everything)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in _PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in _PICKLE_MODULES:
                found.append(node.module)
        elif isinstance(node, ast.Attribute) and node.attr in _PICKLE_CALLS:
            found.append(node.attr)
        elif (isinstance(node, ast.keyword) and node.arg in ("allow_pickle", "trusted")
              and isinstance(node.value, ast.Constant) and node.value.value is True):
            found.append(f"{node.arg}=True")
    return found


def test_no_pickle_in_rs() -> None:
    uses = {str(p.relative_to(RS)): u for p in sorted(RS.rglob("*.py"))
            if (u := _pickle_uses(p.read_text(encoding="utf-8")))}
    assert uses == {}
    root = RS.parent
    model_files = [p for ext in ("pkl", "pickle", "joblib", "pt", "pth", "npy", "npz")
                   for p in (root / "models").rglob(f"*.{ext}")]
    assert model_files == []
    assert sorted(p.suffix for p in (root / "models").glob("*.skops"))  # models are skops


def test_pickle_uses__the_check_can_fail() -> None:
    src = ("import pickle\nfrom joblib import load\nimport numpy as np\n"
           "np.load('x.npy', allow_pickle=True)\nimport pandas as pd\npd.read_pickle('x')\n"
           "import skops.io as sio\nsio.load('m.skops', trusted=True)\nimport torch.nn\n")
    assert sorted(_pickle_uses(src)) == sorted(["pickle", "joblib", "allow_pickle=True",
                                                "read_pickle", "trusted=True", "torch.nn"])


def test_sentinelhub_safe__a_catalogue_scene_id_never_names_a_path(tmp_path: Path) -> None:
    """Scene ids from Sentinel Hub's catalogue name cache folders: '..' or '/' in one stays in
    the folder."""
    from rs.sources.sentinelhub import _safe

    for sid in ("..", ".", "../../etc", "a/b", "/abs", "x\x00y", "", "y" * 300):
        name = _safe(sid)
        assert name and name.strip(".") and "/" not in name and len(name) <= 200
        assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    assert _safe("S2A_MSIL2A_20220501T023551_N0400.SAFE") == "S2A_MSIL2A_20220501T023551_N0400.SAFE"
