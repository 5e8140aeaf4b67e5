"""rs.sources.local: building API files from disk and running a real `rustac serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from rs.errors import LocalSourceError, ServerError, SourceError, exit_code_for
from rs.sources import local
from rs.sources.local import (
    ApiFiles,
    EmbeddedStacApi,
    build_api_files,
    find_rustac,
    serve_forever,
)
from rs.sources.stac import list_collections, search_items
from tests._servers import (
    COLLECTION,
    TileSpec,
    make_world,
    tile_bounds_4326,
    write_tiny_tif,
)

SPECS = [TileSpec(0, "20220401", 10.0), TileSpec(2, "20220420", 60.0)]


def _port_refuses(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _port_bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture()
def world_files(tmp_path: Path) -> ApiFiles:
    make_world(tmp_path / "world", SPECS)
    return build_api_files([tmp_path / "world"], tmp_path / "api")


# --------------------------------------------------------------------------- build_api_files


def test_build_api_files__world_folder_gives_items_and_collection_extent(
    world_files: ApiFiles,
) -> None:
    fc = json.loads(world_files.items.read_text())
    assert [f["id"] for f in fc["features"]] == [s.item_id for s in SPECS]
    assert len(world_files.collections) == 1
    col = json.loads(world_files.collections[0].read_text())
    assert col["id"] == COLLECTION
    assert col["extent"]["temporal"]["interval"] == [
        ["2022-04-01T02:50:00Z", "2022-04-20T02:50:00Z"]
    ]
    a, b = tile_bounds_4326(0), tile_bounds_4326(2)
    union = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
    assert col["extent"]["spatial"]["bbox"][0] == pytest.approx(union)
    for feature in fc["features"]:
        assert feature["collection"] == COLLECTION
        assert feature["properties"]["proj:code"] == "EPSG:32650"
        assert all(a["href"].startswith("file://") for a in feature["assets"].values())
        assert not any(link["rel"] == "self" for link in feature["links"])


def test_build_api_files__relative_and_bare_hrefs_become_file_uris(tmp_path: Path) -> None:
    make_world(tmp_path / "w", SPECS[:1])
    item_json = next((tmp_path / "w").rglob("*_L2A.json"))
    item = json.loads(item_json.read_text())
    item["assets"]["red"]["href"] = "red.tif"  # relative to the item JSON
    item["assets"]["nir"]["href"] = str(item_json.parent / "nir.tif")  # bare absolute path
    del item["properties"]["proj:code"]
    item["properties"]["proj:epsg"] = 32650
    item_json.write_text(json.dumps(item))

    files = build_api_files([item_json], tmp_path / "api", collection_id="mine")
    out = json.loads(files.items.read_text())["features"][0]
    assert out["assets"]["red"]["href"] == (item_json.parent / "red.tif").resolve().as_uri()
    assert out["assets"]["nir"]["href"] == (item_json.parent / "nir.tif").resolve().as_uri()
    assert out["properties"]["proj:code"] == "EPSG:32650"
    assert out["collection"] == "mine"
    assert json.loads(files.collections[0].read_text())["id"] == "mine"


def test_build_api_files__bare_geotiff_with_date_in_name(tmp_path: Path) -> None:
    tif = tmp_path / "scene_20220415.tif"
    write_tiny_tif(tif, 660000.0, 3552000.0)
    files = build_api_files([tif], tmp_path / "api")
    (item,) = json.loads(files.items.read_text())["features"]
    assert item["id"] == "scene_20220415"
    assert item["collection"] == local.DEFAULT_COLLECTION
    assert item["properties"]["datetime"] == "2022-04-15T00:00:00Z"
    assert item["properties"]["proj:code"] == "EPSG:32650"
    assert item["properties"]["proj:shape"] == [16, 16]
    assert item["properties"]["proj:transform"] == [10.0, 0.0, 660000.0, 0.0, -10.0, 3552000.0]
    assert item["bbox"] == pytest.approx(list(tile_bounds_4326(0)))
    assert 118.6 < item["bbox"][0] < 118.8 and 32.0 < item["bbox"][1] < 32.2
    assert list(item["assets"]) == ["data"]
    assert item["assets"]["data"]["href"] == tif.resolve().as_uri()


def test_build_api_files__geotiff_without_crs_is_refused_once_saying_how(tmp_path: Path) -> None:
    import rasterio

    tif = tmp_path / "nocrs_20220415.tif"
    from rasterio.transform import from_origin

    with rasterio.open(tif, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint16",
                       transform=from_origin(660000.0, 3552000.0, 10.0, 10.0)) as dst:
        dst.write(np.ones((1, 4, 4), dtype="uint16"))
    with pytest.raises(LocalSourceError) as info:
        build_api_files([tif], tmp_path / "api")
    message = str(info.value)
    assert f"{tif} has no CRS" in message and "gdal_edit.py -a_srs" in message


def test_build_api_files__proj_code_read_from_percent_encoded_file_uri(tmp_path: Path) -> None:
    make_world(tmp_path / "w w", SPECS[:1])  # a space: the asset hrefs carry %20
    item_json = next((tmp_path / "w w").rglob("*_L2A.json"))
    item = json.loads(item_json.read_text())
    del item["properties"]["proj:code"]
    for asset in item["assets"].values():
        asset.pop("proj:code", None)
    assert "%20" in item["assets"]["red"]["href"]
    item_json.write_text(json.dumps(item))

    files = build_api_files([item_json], tmp_path / "api")
    out = json.loads(files.items.read_text())["features"][0]
    assert out["properties"]["proj:code"] == "EPSG:32650"


def test_build_api_files__tiff_datetime_tag_wins_over_missing_name_date(tmp_path: Path) -> None:
    tif = tmp_path / "nodate.tif"
    write_tiny_tif(tif, 660000.0, 3552000.0, tags={"TIFFTAG_DATETIME": "2021:07:01 02:50:00"})
    files = build_api_files([tif], tmp_path / "api", collection_id="scenes")
    (item,) = json.loads(files.items.read_text())["features"]
    assert item["properties"]["datetime"] == "2021-07-01T02:50:00Z"
    assert item["collection"] == "scenes"


def test_build_api_files__geotiff_without_date_is_refused(tmp_path: Path) -> None:
    tif = tmp_path / "mystery.tif"
    write_tiny_tif(tif, 660000.0, 3552000.0)
    with pytest.raises(LocalSourceError) as info:
        build_api_files([tif], tmp_path / "api")
    assert "mystery.tif" in str(info.value)
    assert "YYYYMMDD" in str(info.value)
    assert exit_code_for(info.value) == 2  # a bad input, not an unreachable source
    assert not (tmp_path / "api" / "items.json").exists()


@pytest.mark.parametrize("name, content", [
    ("notes.txt", b"shopping list"),
    ("fake.tif", b"not a tiff at all"),
    ("other.json", b'{"type": "FeatureCollection", "features": []}'),
])
def test_build_api_files__non_stac_file_is_a_bad_input_saying_what_to_give(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LocalSourceError) as info:
        build_api_files([path], tmp_path / "api")
    message = str(info.value)
    assert name in message
    assert "STAC Item JSON" in message and "GeoTIFF" in message and "YYYYMMDD" in message
    assert exit_code_for(info.value) == 2


def test_build_api_files__folder_of_bare_geotiffs(tmp_path: Path) -> None:
    write_tiny_tif(tmp_path / "in" / "a_20220101.tif", 660000.0, 3552000.0)
    write_tiny_tif(tmp_path / "in" / "sub" / "b_20220301.tiff", 661000.0, 3552000.0)
    files = build_api_files([tmp_path / "in"], tmp_path / "api")
    ids = [f["id"] for f in json.loads(files.items.read_text())["features"]]
    assert ids == ["a_20220101", "b_20220301"]


def test_build_api_files__duplicate_item_id_is_refused(tmp_path: Path) -> None:
    make_world(tmp_path / "one", SPECS[:1])
    make_world(tmp_path / "two", SPECS[:1])
    with pytest.raises(SourceError, match="appears twice"):
        build_api_files([tmp_path / "one", tmp_path / "two"], tmp_path / "api")


def test_build_api_files__empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no STAC item"):
        build_api_files([tmp_path / "empty"], tmp_path / "api")


def test_build_api_files__rewrite_leaves_no_temp_files(tmp_path: Path) -> None:
    make_world(tmp_path / "w", SPECS)
    build_api_files([tmp_path / "w"], tmp_path / "api")
    build_api_files([tmp_path / "w"], tmp_path / "api")
    assert sorted(p.name for p in (tmp_path / "api").iterdir()) == [
        f"collection-{COLLECTION}.json",
        "items.json",
    ]


# --------------------------------------------------------------------------- EmbeddedStacApi


def test_embedded_stac_api__starts_answers_and_stops(world_files: ApiFiles) -> None:
    api = EmbeddedStacApi(world_files)
    with api:
        assert api.running
        port = api.port
        assert port is not None
        landing = requests.get(api.url + "/", timeout=5).json()
        assert landing["type"] == "Catalog"
        collections = requests.get(api.url + "/collections", timeout=5).json()
        assert [c["id"] for c in collections["collections"]] == [COLLECTION]
        search = requests.get(api.url + "/search", timeout=5).json()
        assert {f["id"] for f in search["features"]} == {s.item_id for s in SPECS}
        process = api.process
        assert process is not None
    assert not api.running
    assert process.returncode is not None
    assert not Path(f"/proc/{process.pid}").exists()
    assert _port_refuses(port)
    assert _port_bindable(port)
    assert api not in local._LIVE


def test_embedded_stac_api__stops_when_the_block_raises(world_files: ApiFiles) -> None:
    api = EmbeddedStacApi(world_files)
    with pytest.raises(RuntimeError, match="boom"), api:
        process = api.process
        raise RuntimeError("boom")
    assert process is not None
    assert process.returncode is not None
    assert not api.running


def test_embedded_stac_api__stop_is_idempotent_and_url_needs_start(
    world_files: ApiFiles,
) -> None:
    api = EmbeddedStacApi(world_files)
    with pytest.raises(ServerError, match="not running"):
        _ = api.url
    api.start()
    api.stop()
    api.stop()
    assert not api.running


def test_embedded_stac_api__missing_executable_raises_server_error(
    world_files: ApiFiles, tmp_path: Path
) -> None:
    with pytest.raises(ServerError, match="does not exist"):
        EmbeddedStacApi(world_files, executable=tmp_path / "no-rustac").start()


def test_find_rustac__not_beside_python_nor_on_path_raises_server_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(ServerError, match="pip install rustac"):
        find_rustac()


def test_find_rustac__prefers_the_one_beside_python() -> None:
    assert find_rustac() == Path(sys.executable).parent / "rustac"


def test_embedded_stac_api__invalid_items_file_raises_with_stderr(
    world_files: ApiFiles, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-items.json"
    bad.write_text("this is not json")
    api = EmbeddedStacApi(ApiFiles(collections=world_files.collections, items=bad))
    with pytest.raises(ServerError) as info:
        api.start()
    message = str(info.value)
    assert "exited with code" in message
    assert "ERROR" in message  # rustac's own stderr line
    assert not api.running
    assert api not in local._LIVE


def test_embedded_stac_api__fixed_port_in_use_raises(world_files: ApiFiles) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerError, match=r"(?i)address already in use"):
            EmbeddedStacApi(world_files, port=port).start()


def test_embedded_stac_api__lost_port_race_retries_on_a_new_port(
    world_files: ApiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_port = local.free_port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy])
        monkeypatch.setattr(
            local, "free_port", lambda host: next(ports, None) or real_free_port(host)
        )
        with EmbeddedStacApi(world_files) as api:
            assert api.port != busy
            assert requests.get(api.url + "/collections", timeout=5).status_code == 200


def _listing(folder: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    )


def test_serve_forever__writes_into_the_cache_and_leaves_the_folder_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RS_CACHE_DIR", str(tmp_path / "cache"))
    make_world(tmp_path / "world", SPECS)
    before = _listing(tmp_path / "world")
    server = serve_forever(tmp_path / "world")
    try:
        assert server.running
        ids = {f["id"] for f in requests.get(server.url + "/search", timeout=5).json()["features"]}
        assert ids == {s.item_id for s in SPECS}
    finally:
        server.stop()
    assert not server.running
    assert _listing(tmp_path / "world") == before
    (items_file,) = (tmp_path / "cache" / "api").glob("*/items.json")
    assert server.files.items == items_file
    # serving again reuses the same cache folder
    again = serve_forever(tmp_path / "world")
    again.stop()
    assert again.files.items == items_file
    assert _listing(tmp_path / "world") == before


def test_embedded_stac_api__serves_two_collections_from_folder_and_geotiff(
    tmp_path: Path,
) -> None:
    make_world(tmp_path / "w", SPECS[:1])
    write_tiny_tif(tmp_path / "x_20220501.tif", 661000.0, 3552000.0)
    files = build_api_files([tmp_path / "w", tmp_path / "x_20220501.tif"], tmp_path / "api")
    with EmbeddedStacApi(files) as api:
        assert list_collections(api.url) == [local.DEFAULT_COLLECTION, COLLECTION]
        every = [it.id for it in search_items(api.url, None)]
        bare = [it.id for it in search_items(api.url, local.DEFAULT_COLLECTION)]
    assert every == [SPECS[0].item_id, "x_20220501"]
    assert bare == ["x_20220501"]


def test_embedded_stac_api__atexit_stops_a_server_left_running(world_files: ApiFiles) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rs.sources.local import ApiFiles, EmbeddedStacApi\n"
        "files = ApiFiles([Path(p) for p in sys.argv[1:-1]], Path(sys.argv[-1]))\n"
        "api = EmbeddedStacApi(files).start()\n"
        "print(api.process.pid, api.port, flush=True)\n"
    )  # exits without stop(): only the atexit hook can stop the server
    args = [str(p) for p in (*world_files.collections, world_files.items)]
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    pid, port = (int(v) for v in done.stdout.split())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _port_refuses(port)


def test_embedded_stac_api__port_answered_by_another_stac_server_is_not_ours(
    world_files: ApiFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent run's server on the port we picked must not be taken for ours."""
    write_tiny_tif(tmp_path / "x_20220501.tif", 661000.0, 3552000.0)
    other_files = build_api_files([tmp_path / "x_20220501.tif"], tmp_path / "other-api")
    real_free_port = local.free_port
    with EmbeddedStacApi(other_files) as other:
        ports = iter([other.port])
        monkeypatch.setattr(
            local, "free_port", lambda host: next(ports, None) or real_free_port(host)
        )
        with EmbeddedStacApi(world_files) as api:
            assert api.port != other.port
            assert list_collections(api.url) == [COLLECTION]
        assert list_collections(other.url) == [local.DEFAULT_COLLECTION]
