"""The Sentinel Hub source against a fake Sentinel Hub on loopback (tests/_fake_sentinelhub.py).

The real sentinelhub-py client talks to the fake over TLS (a self-signed certificate the test
process trusts through REQUESTS_CA_BUNDLE); the credentials are in the test process's
environment only. One composite run through the fake, with 503 and 429 answers scripted on
every endpoint, is compared with the same composite from the embedded STAC API of the same
world.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import yaml
from shapely.geometry import box

from rs.errors import EXIT_CODES, SourceError, SourceUnavailableError, SpecError
from rs.pipeline.spec import SentinelHubSource, parse_spec
from rs.sources._sh_files import GRID_STEP, MARGIN, plan_tiles
from rs.sources.sentinelhub import SentinelHubOptions, fetch_items, group_features, sh_config
from rs.testing import World
from tests._fake_sentinelhub import (
    PROCESS_PATH,
    SEARCH_PATH,
    TOKEN_PATH,
    FakeSentinelHub,
    self_signed,
)
from tests._pipelines import run_rs
from tests.conftest import PERIOD, out_file, world_bbox

CLIENT_ID = "rs-test-client"
SECRET = "s3cret-5f1d2e9a-never-shown"
TILE = 48  # 10 m pixels per request: the ~112 px AOI needs 3 x 3 tiles
BANDS = ["blue", "green", "red", "nir", "swir16", "swir22"]


def _spec(world: World, source: dict[str, Any], out: Path) -> dict[str, Any]:
    return {
        "name": "t",
        "aoi": world_bbox(world),
        "sources": {"s2": source},
        "periods": {"p": {"start": "2021-05-01", "end": "2022-09-30"}},
        "steps": [{"id": "composite", "kind": "composite", "bands": BANDS,
                   "indices": ["ndvi"]}],
        "output": str(out),
        "dask": {"workers": 1, "threads_per_worker": 2},
    }


def _run(spec: dict[str, Any], folder: Path, rs_cache: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return run_rs(rs_cache, "run", str(path))


@pytest.fixture(scope="module")
def fake_sh(
    small_world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeSentinelHub]:
    """The fake service over the small world, trusted and signed into through the environment
    of this test process (inherited by the `rs` subprocesses)."""
    tmp = tmp_path_factory.mktemp("fake-sh")
    cert, key = self_signed(tmp)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REQUESTS_CA_BUNDLE", str(cert))
        mp.setenv("SH_CLIENT_ID", CLIENT_ID)
        mp.setenv("SH_CLIENT_SECRET", SECRET)
        mp.setenv("XDG_CONFIG_HOME", str(tmp / "config"))  # no sentinelhub config file
        mp.delenv("SH_PROFILE", raising=False)
        with FakeSentinelHub(small_world, cert, key, client_id=CLIENT_ID,
                             client_secret=SECRET, page_size=2) as fake:
            yield fake


def _sh_source(fake: FakeSentinelHub, **extra: Any) -> dict[str, Any]:
    return {"kind": "sentinelhub", "base_url": fake.url, "token_url": fake.token_url,
            "tile_size": TILE, "retry_wait": 0.05, **extra}


@pytest.fixture(scope="module")
def sh_run(
    fake_sh: FakeSentinelHub, small_world: World, rs_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`rs run` of the composite from the fake, with 503s and 429s scripted on every endpoint."""
    fake_sh.fail(TOKEN_PATH, 503)
    fake_sh.fail(SEARCH_PATH, 503, 429)
    fake_sh.fail(PROCESS_PATH, 429, 503, 429)
    folder = tmp_path_factory.mktemp("sh-run")
    done = _run(_spec(small_world, _sh_source(fake_sh), folder / "out"), folder, rs_cache)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, folder / "out"


@pytest.fixture(scope="module")
def stac_run(small_world: World, rs_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same composite from the embedded STAC API of the same world."""
    folder = tmp_path_factory.mktemp("stac-run")
    source = {"embedded": str(small_world.root), "collections": ["sentinel-2-l2a"]}
    done = _run(_spec(small_world, source, folder / "out"), folder, rs_cache)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder / "out"


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(masked=True).astype(np.float64).filled(np.nan)


def test_sentinelhub_source__composite_equals_embedded_stac(
    sh_run: tuple[subprocess.CompletedProcess[str], Path], stac_run: Path
) -> None:
    _, out = sh_run
    for key in ("composite", "ndvi", "clear_count"):
        got, want = _read(out_file(out, key)), _read(out_file(stac_run, key))
        assert got.shape == want.shape, key
        assert np.isfinite(want).mean() > 0.5, key
        np.testing.assert_allclose(got, want, atol=1e-4, equal_nan=True, err_msg=key)
    item = json.loads((out / "items" / f"t-composite-{PERIOD}.json").read_text())
    ref = json.loads((stac_run / "items" / f"t-composite-{PERIOD}.json").read_text())
    assert sorted(item["properties"]["rs:inputs"]) == sorted(ref["properties"]["rs:inputs"])


def test_sentinelhub_source__429_and_503_retried(
    fake_sh: FakeSentinelHub, sh_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    seen = fake_sh.statuses
    for path, codes in ((TOKEN_PATH, [503]), (SEARCH_PATH, [503, 429]),
                        (PROCESS_PATH, [429, 503, 429])):
        answers = [s for p, s in seen if p == path]
        assert answers[: len(codes)] == codes, (path, answers[:5])
        assert 200 in answers[len(codes):], path
    # the catalog is paged (2 features a page for 6 scenes) and every page was read
    searches = [b for p, b in fake_sh.bodies if p == SEARCH_PATH]
    assert [b.get("next") for b in searches][:3] == [None, 2, 4]
    done, _ = sh_run
    assert "rate limited (HTTP 429)" in done.stdout + done.stderr


def test_sentinelhub_source__large_aoi_split_into_requests(
    fake_sh: FakeSentinelHub, small_world: World,
    sh_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    bodies = [b for p, b in fake_sh.bodies if p == PROCESS_PATH]
    per_scene = len(bodies) / small_world.n_dates
    tiles = {tuple(b["input"]["bounds"]["bbox"]) for b in bodies}
    assert len(tiles) >= 4 and per_scene == 2 * len(tiles)  # 10 m and 20 m per tile
    for b in bodies:
        assert b["output"]["width"] <= TILE + 2 and b["output"]["height"] <= TILE + 2
        assert b["input"]["data"][0]["processing"] == {"harmonizeValues": False}
        assert all(v % GRID_STEP == 0 for v in b["input"]["bounds"]["bbox"])


def test_sentinelhub_source__secret_never_shown_or_stored(
    sh_run: tuple[subprocess.CompletedProcess[str], Path], rs_cache: Path
) -> None:
    done, out = sh_run
    assert SECRET not in done.stdout and SECRET not in done.stderr
    files = [p for p in [*out.rglob("*"), *(rs_cache / "sentinelhub").rglob("*")] if p.is_file()]
    assert any(p.name.endswith("-latest.json") for p in files)  # the report is among them
    assert any(p.suffix == ".json" and "sentinelhub" in str(p) for p in files)  # scene items
    for p in files:
        assert SECRET.encode() not in p.read_bytes(), p


def test_sentinelhub_source__wrong_secret_names_what_to_set(
    fake_sh: FakeSentinelHub, small_world: World, rs_cache: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sh_run: tuple[subprocess.CompletedProcess[str], Path],  # after it: the fake's log is shared
) -> None:
    wrong = "not-the-secret-0c4e"
    monkeypatch.setenv("SH_CLIENT_SECRET", wrong)
    done = _run(_spec(small_world, _sh_source(fake_sh), tmp_path / "out"), tmp_path, rs_cache)
    assert done.returncode == EXIT_CODES[SourceError], done.stderr[-2000:]
    text = done.stdout + done.stderr
    assert "invalid_client" in text and "SH_CLIENT_ID" in text and "SH_CLIENT_SECRET" in text
    assert wrong not in text and SECRET not in text
    report = (tmp_path / "out" / "reports" / "t-latest.json").read_text()
    assert wrong not in report and "SH_CLIENT_SECRET" in report


def test_sh_config__no_credentials_names_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for var in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SourceError, match="set SH_CLIENT_ID and SH_CLIENT_SECRET"):
        sh_config(SentinelHubOptions())
    assert not (tmp_path / "sentinelhub").exists()  # nothing written into the config folder
    (tmp_path / "sentinelhub").mkdir()
    (tmp_path / "sentinelhub" / "config.toml").write_text("[default-profile]\n")
    with pytest.raises(SourceError, match="no profile 'work'"):
        sh_config(SentinelHubOptions(config_profile="work"))


def test_sh_config__profile_of_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for var in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "sentinelhub").mkdir()
    (tmp_path / "sentinelhub" / "config.toml").write_text(
        '[work]\nsh_client_id = "abc"\nsh_client_secret = "def"\n'
        'sh_base_url = "https://sh.example"\n'
    )
    config = sh_config(SentinelHubOptions(config_profile="work", retries=2, retry_wait=0.5))
    assert (config.sh_client_id, config.sh_base_url) == ("abc", "https://sh.example")
    assert (config.max_download_attempts, config.download_sleep_time) == (3, 0.5)
    assert "def" not in repr(config)


def test_plan_tiles__large_aoi_on_the_20m_grid() -> None:
    aoi = box(500_013.0, 4_000_007.0, 529_811.0, 4_019_803.0)  # 29.8 x 19.8 km
    tiles = plan_tiles(aoi, 32650, 1000)
    assert len(tiles) == 6  # 10 km tiles over the AOI and its margin: 3 columns, 2 rows
    for t in tiles:
        assert all(v % GRID_STEP == 0 for v in (t.minx, t.miny, t.maxx, t.maxy))
        assert max(t.size(10)) <= 1002
    covered = box(min(t.minx for t in tiles), min(t.miny for t in tiles),
                  max(t.maxx for t in tiles), max(t.maxy for t in tiles))
    assert covered.contains(aoi.buffer(MARGIN, join_style="mitre"))


def test_group_features__granules_of_one_datatake_are_one_scene() -> None:
    def feat(fid: str, when: str, cc: float) -> dict[str, Any]:
        geom = box(0, 0, 1, 1).__geo_interface__
        return {"id": fid, "geometry": geom,
                "properties": {"datetime": when, "eo:cloud_cover": cc, "platform": "sentinel-2a",
                               "s2:processing_baseline": "99.99"}}

    scenes = group_features([
        feat("B", "2022-05-01T03:05:47Z", 30.0), feat("A", "2022-05-01T03:05:41Z", 10.0),
        feat("C", "2022-05-11T03:05:41Z", 5.0),
    ])
    assert [s.id for s in scenes] == ["A+1", "C"]
    assert scenes[0].properties["eo:cloud_cover"] == 30.0
    assert scenes[0].properties["sentinelhub:ids"] == ["A", "B"]
    assert "s2:processing_baseline" not in scenes[0].properties  # only kept keys travel


def test_spec__sentinelhub_source_refuses_credentials_in_the_spec(tmp_path: Path) -> None:
    spec = _spec_dict(tmp_path, {"kind": "sentinelhub", "client_secret": "x"})
    with pytest.raises(SpecError, match=r"unknown key 'sources\.s2\.client_secret'"):
        parse_spec(spec, base=tmp_path)
    spec = _spec_dict(tmp_path, {"kind": "sentinelhub", "base_url": "http://plain"})
    with pytest.raises(SpecError, match="base_url"):
        parse_spec(spec, base=tmp_path)
    ok = parse_spec(_spec_dict(tmp_path, {"kind": "sentinelhub"}), base=tmp_path)
    assert isinstance(ok.sources["s2"], SentinelHubSource)


def _spec_dict(tmp_path: Path, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "t", "aoi": "116.0,30.0,116.1,30.1", "sources": {"s2": source},
        "periods": {"p": {"start": "2022-01-01", "end": "2022-02-01"}},
        "steps": [{"id": "c", "kind": "composite", "bands": ["red"]}],
        "output": str(tmp_path / "out"),
    }


def test_sentinelhub_source__second_run_reads_the_cache(
    fake_sh: FakeSentinelHub, sh_run: tuple[subprocess.CompletedProcess[str], Path],
    rs_cache: Path,
) -> None:
    _, out = sh_run
    before = fake_sh.hits.copy()
    done = run_rs(rs_cache, "run", "--force", str(out.parent / "spec.yaml"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert fake_sh.hits[SEARCH_PATH] > before[SEARCH_PATH]  # the catalog is asked again
    assert fake_sh.hits[PROCESS_PATH] == before[PROCESS_PATH]  # the pixels are not


def test_fetch_items__secret_replaced_in_debug_logs(
    fake_sh: FakeSentinelHub, small_world: World, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    sh_run: tuple[subprocess.CompletedProcess[str], Path],  # after it: the fake's log is shared
) -> None:
    caplog.set_level(logging.DEBUG)
    opts = SentinelHubOptions(base_url=fake_sh.url, token_url=fake_sh.token_url, retry_wait=0.05)
    aoi = box(*(float(v) for v in world_bbox(small_world).split(",")))
    assert fetch_items(opts, aoi, date(2030, 1, 1), date(2030, 1, 2), tmp_path) == []
    assert "client_secret=***" in caplog.text  # requests-oauthlib logs the token request body
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [(SEARCH_PATH, 503, "catalog search failed after 2 attempts (HTTP 503)"),
     (PROCESS_PATH, 429, "still rate limited (HTTP 429) after 2 attempts")],
)
def test_fetch_items__answers_that_stay_bad_are_source_unavailable(
    fake_sh: FakeSentinelHub, small_world: World, tmp_path: Path, path: str, status: int,
    message: str,
    sh_run: tuple[subprocess.CompletedProcess[str], Path],  # after it: the fake's log is shared
) -> None:
    fake_sh.fail(path, *[status] * 60)
    opts = SentinelHubOptions(base_url=fake_sh.url, token_url=fake_sh.token_url, retries=1,
                              retry_wait=0.01, tile_size=TILE, max_threads=1)
    aoi = box(*(float(v) for v in world_bbox(small_world).split(",")))
    try:
        with pytest.raises(SourceUnavailableError, match=re.escape(message)):
            fetch_items(opts, aoi, date(2021, 5, 1), date(2021, 5, 1), tmp_path)
    finally:
        fake_sh.clear_script()
    assert not list(tmp_path.rglob("*.json"))  # no item for a scene whose pixels did not come


def test_fetch_items__max_cloud_cover_filters_the_catalog_search(
    fake_sh: FakeSentinelHub, small_world: World, tmp_path: Path,
    sh_run: tuple[subprocess.CompletedProcess[str], Path],  # after it: the fake's log is shared
) -> None:
    clouds = sorted(small_world.cloud_cover(i) for i in range(small_world.n_dates))
    limit = clouds[len(clouds) // 2]
    opts = SentinelHubOptions(base_url=fake_sh.url, token_url=fake_sh.token_url,
                              retry_wait=0.05, tile_size=TILE, max_cloud_cover=limit)
    aoi = box(*(float(v) for v in world_bbox(small_world).split(",")))
    items = fetch_items(opts, aoi, date(2021, 5, 1), date(2022, 9, 30), tmp_path)
    assert len(items) == sum(c <= limit for c in clouds) < small_world.n_dates
    assert all(i.properties["eo:cloud_cover"] <= limit for i in items)
    assert [b for p, b in fake_sh.bodies if p == SEARCH_PATH][-1]["filter"] == (
        f"eo:cloud_cover <= {limit}")
