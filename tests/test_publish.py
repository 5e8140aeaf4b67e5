"""`rs publish`: an output folder into a real pgstac (PostgreSQL + PostGIS on loopback, from
tests/_pgstac.py) and found again through a real STAC API (stac-fastapi-pgstac) with
pystac-client."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pystac_client
import pytest
import rasterio
import requests
import yaml

from rs.publish import catalog_items, collection_id, redact_dsn
from rs.testing import World
from tests._pgstac import PASSWORD, Pgstac, free_port, pg_bin, pgstac_server
from tests._pipelines import run_rs
from tests.conftest import world_bbox

PERIODS = {"a": ("2021-05-01", "2021-12-31"), "b": ("2022-01-01", "2022-09-30")}


@pytest.fixture(scope="module")
def pgstac() -> Iterator[Pgstac]:
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL with PostGIS is not installed (Debian: apt-get install "
                    "postgresql postgresql-postgis); .ci/run installs them")
    with pgstac_server(bin_dir) as server:
        yield server


@pytest.fixture(scope="module")
def output(small_world: World, rs_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder with three items: composites of periods a and b, and the NDVI change
    from a to b (an item derived from both)."""
    tmp = tmp_path_factory.mktemp("publish")
    spec = {
        "name": "t",
        "sources": {"s2": {"embedded": str(small_world.root), "collections": ["sentinel-2-l2a"]}},
        "aoi": world_bbox(small_world),
        "periods": {k: {"start": s, "end": e} for k, (s, e) in PERIODS.items()},
        "steps": [
            {"id": "composite", "kind": "composite", "periods": ["a", "b"],
             "bands": ["red", "green", "blue"], "indices": ["ndvi"]},
            {"id": "change", "kind": "difference", "periods": ["b"], "before": "composite@a",
             "after": "composite@b", "layer": "ndvi"},
        ],
        "output": str(tmp / "out"),
        "dask": {"workers": 1, "threads_per_worker": 2},
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    done = run_rs(rs_cache, "run", str(tmp / "spec.yaml"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return tmp / "out"


def folder_items(out: Path) -> dict[str, dict[str, Any]]:
    items = (json.loads(p.read_text()) for p in (out / "items").glob("*.json"))
    return {i["id"]: i for i in items}


def rows(dsn: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every item and collection row of the database, as text."""
    with psycopg.connect(dsn) as conn:
        items = conn.execute(
            "SELECT id, collection, datetime::text, end_datetime::text, geometry::text, "
            "content::text, private::text FROM pgstac.items ORDER BY collection, id"
        ).fetchall()
        colls = conn.execute(
            "SELECT id, content::text FROM pgstac.collections ORDER BY id"
        ).fetchall()
    return items, colls


def publish(rs_cache: Path, out: Path, dsn: str, *args: str) -> str:
    done = run_rs(rs_cache, "publish", str(out), "--to", dsn, *args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert PASSWORD not in done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_publish__api_finds_every_output_item_and_searches_work(
    pgstac: Pgstac, output: Path, rs_cache: Path, small_world: World
) -> None:
    publish(rs_cache, output, pgstac.dsn)
    mine = folder_items(output)
    assert len(mine) == 3
    api = pystac_client.Client.open(pgstac.api_url)
    coll = api.get_collection(collection_id("t"))
    assert coll.id == "rs-t"
    found = {i.id: i for i in api.search(collections=["rs-t"]).items()}
    assert set(found) == set(mine)
    # the collection's extent covers its items: bbox and time
    ext = coll.extent
    assert ext.temporal.intervals[0][0].isoformat().startswith("2021-05-01")
    assert ext.temporal.intervals[0][1].isoformat().startswith("2022-09-30")
    bbox = ext.spatial.bboxes[0]
    for item in mine.values():
        b = item["bbox"]
        assert bbox[0] <= b[0] and bbox[1] <= b[1] and bbox[2] >= b[2] and bbox[3] >= b[3]
    # by datetime: each period's items alone
    for name, (start, end) in PERIODS.items():
        hits = {i.id for i in api.search(collections=["rs-t"], datetime=f"{start}/{end}").items()}
        assert hits == {i for i in mine if f"-{name}-" in i}, (name, hits)
        assert len(hits) == (1 if name == "a" else 2)
    # by a property (CQL2 filter): the step
    step_is = {"op": "=", "args": [{"property": "rs:step"}, "change"]}
    hits = {i.id for i in api.search(collections=["rs-t"], filter=step_is).items()}
    assert hits == {i for i in mine if i.startswith("t-change-")} and len(hits) == 1
    # derived_from leads to the upstream items in the API
    (change,) = (found[i] for i in hits)
    upstream = {requests.get(link.href, timeout=10).json()["id"]
                for link in change.links if link.rel == "derived_from"}
    assert upstream == {i for i in mine if i.startswith("t-composite-")}
    both = api.search(collections=["rs-t"], datetime="2021-12-01/2022-02-01").items()
    assert {i.id for i in both} == set(mine)
    # by bbox: the world's bbox finds both, a box elsewhere none
    west, south, east, north = map(float, world_bbox(small_world).split(","))
    assert {i.id for i in api.search(bbox=[west, south, east, north]).items()} == set(mine)
    assert list(api.search(bbox=[10.0, 10.0, 11.0, 11.0]).items()) == []
    # the asset hrefs are absolute file:// URLs that open: the same files as the folder's
    for item in found.values():
        for key, asset in item.assets.items():
            assert asset.href.startswith("file:///"), asset.href
            path = Path(asset.href.removeprefix("file://"))
            assert path.parent == output and path.is_file(), (key, asset.href)
            want = (output / "items" / mine[item.id]["assets"][key]["href"]).resolve()
            assert path == want
            if path.suffix == ".tif":
                with rasterio.open(asset.href) as src:
                    assert src.width > 0 and src.count >= 1
        assert item.properties["rs:pipeline"] == "t"
        assert item.properties["rs:run_key"] == mine[item.id]["properties"]["rs:run_key"]


@pytest.mark.slow
def test_publish__twice_leaves_exactly_the_same_rows(
    pgstac: Pgstac, output: Path, rs_cache: Path
) -> None:
    publish(rs_cache, output, pgstac.dsn)
    before = rows(pgstac.dsn)
    out = publish(rs_cache, output, pgstac.dsn)
    assert "rs-t: 3 items (0 new, 0 updated, 3 unchanged)" in out
    assert rows(pgstac.dsn) == before
    assert len([r for r in before[0] if r[1] == "rs-t"]) == 3


@pytest.mark.slow
def test_publish__forced_rerun_replaces_changed_items_without_duplicates(
    pgstac: Pgstac, output: Path, rs_cache: Path
) -> None:
    publish(rs_cache, output, pgstac.dsn)
    old = folder_items(output)
    done = run_rs(rs_cache, "run", str(output.parent / "spec.yaml"), "--force")
    assert done.returncode == 0, done.stderr[-3000:]
    new = folder_items(output)
    assert set(new) == set(old)
    assert all(new[i]["properties"]["created"] != old[i]["properties"]["created"] for i in new)
    out = publish(rs_cache, output, pgstac.dsn)
    assert "rs-t: 3 items (0 new, 3 updated, 0 unchanged)" in out
    items, _ = rows(pgstac.dsn)
    assert sorted(r[0] for r in items if r[1] == "rs-t") == sorted(new)
    api = pystac_client.Client.open(pgstac.api_url)
    for item in api.search(collections=["rs-t"]).items():
        assert item.properties["created"] == new[item.id]["properties"]["created"]


@pytest.mark.slow
def test_publish__unreachable_database_exit_3_without_password(
    output: Path, rs_cache: Path
) -> None:
    dsn = f"postgresql://rs:{PASSWORD}@127.0.0.1:{free_port()}/catalog"
    done = run_rs(rs_cache, "publish", str(output), "--to", dsn)
    assert done.returncode == 3, done.stderr
    assert "cannot connect to the catalogue database postgresql://" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.slow
def test_publish__wrong_password_exit_3_without_password(
    pgstac: Pgstac, output: Path, rs_cache: Path
) -> None:
    dsn = pgstac.dsn.replace(PASSWORD, "wrong-pw-4711")
    done = run_rs(rs_cache, "publish", str(output), "--to", dsn)
    assert done.returncode == 3, done.stderr
    assert "password authentication failed" in done.stderr
    assert "wrong-pw-4711" not in done.stdout + done.stderr


@pytest.mark.slow
def test_publish__unmigrated_database_says_how_then_migrate_with_href_base(
    pgstac: Pgstac, output: Path, rs_cache: Path
) -> None:
    with psycopg.connect(pgstac.dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE shared")
    dsn = pgstac.dsn.rsplit("/", 1)[0] + "/shared"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    done = run_rs(rs_cache, "publish", str(output), "--to", dsn)
    assert done.returncode == 3, done.stderr
    assert "no pgstac schema" in done.stderr
    # the command to run, with the DSN's password masked (the CLI may mask the user too)
    assert "run `pypgstac migrate --dsn postgresql://" in done.stderr
    assert "@127.0.0.1:" in done.stderr and "/shared` (with the real password)" in done.stderr
    assert PASSWORD not in done.stderr

    # the folder on a (loopback) file server: hrefs under --href-base open over HTTP
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(output))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        out = publish(rs_cache, output, dsn, "--migrate", "--href-base", base)
        assert "rs-t: 3 items (3 new, 0 updated, 0 unchanged)" in out
        with psycopg.connect(dsn) as conn:
            conn.execute("SET search_path TO pgstac, public")
            got = conn.execute("SELECT content_hydrate(i) FROM items i").fetchall()
        assert len(got) == 3
        for (item,) in got:
            for asset in item["assets"].values():
                assert asset["href"].startswith(base), asset["href"]
                name = asset["href"].removeprefix(base)
                r = requests.get(asset["href"], timeout=10)
                assert r.status_code == 200 and r.content == (output / name).read_bytes()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_redact_dsn__masks_url_and_keyword_passwords() -> None:
    dsn = "postgresql://rs:p%40ss@db.example:5432/catalog"
    assert redact_dsn(dsn) == "postgresql://rs:***@db.example:5432/catalog"
    assert redact_dsn("host=db password='a b' dbname=x") == "host=db password=*** dbname=x"
    assert redact_dsn("postgresql://rs@db/x") == "postgresql://rs@db/x"  # no password: as is
    # the DSN's password wherever a message repeats it
    assert redact_dsn("login p@ss refused", "postgresql://rs:p@ss@db/x") == "login *** refused"


def test_catalog_items__absolute_hrefs_collection_and_api_links(tmp_path: Path) -> None:
    item = {
        "type": "Feature", "id": "t-diff-p", "properties": {"rs:pipeline": "t"},
        "assets": {"a": {"href": "../t_diff p.tif"}, "b": {"href": "https://x.org/f.tif"}},
        "links": [
            {"rel": "root", "href": "../catalog.json"},
            {"rel": "parent", "href": "../catalog.json"},
            {"rel": "derived_from", "href": "./t-composite-p.json"},
            {"rel": "license", "href": "../LICENSE.txt"},
        ],
    }
    out = tmp_path / "out"
    (got,) = catalog_items([item], out)
    assert got["collection"] == "rs-t"
    assert got["assets"]["a"]["href"] == (out / "t_diff p.tif").as_uri()
    assert got["assets"]["b"]["href"] == "https://x.org/f.tif"
    assert got["links"] == [
        {"rel": "derived_from", "href": "collections/rs-t/items/t-composite-p"},
        {"rel": "license", "href": (out / "LICENSE.txt").as_uri()},
    ]
    assert item["assets"]["a"]["href"] == "../t_diff p.tif"  # the input is left alone
    (served,) = catalog_items([item], out, href_base="https://files.example/rs/out")
    assert served["assets"]["a"]["href"] == "https://files.example/rs/out/t_diff%20p.tif"
    item["assets"]["c"] = {"href": str(out / "sub" / "t.csv")}  # an absolute path inside
    (served,) = catalog_items([item], out, href_base="https://files.example/rs/out/")
    assert served["assets"]["c"]["href"] == "https://files.example/rs/out/sub/t.csv"


def test_publish__folder_that_is_no_output_exit_2(tmp_path: Path, rs_cache: Path) -> None:
    done = run_rs(rs_cache, "publish", str(tmp_path), "--to", f"postgresql://rs:{PASSWORD}@x/y")
    assert done.returncode == 2, done.stderr
    assert "is not an rs output folder" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
