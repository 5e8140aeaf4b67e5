"""The `rs` command's other verbs and cluster errors, through real subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import rs
from rs.sources.stac import search_items
from rs.testing import World

from .conftest import world_bbox


def test_rs__public_api_resolves() -> None:
    for name in rs.__all__:
        assert getattr(rs, name) is not None, name
    with pytest.raises(AttributeError):
        rs.no_such_thing  # noqa: B018


def test_rs__version(rs_cli) -> None:
    proc = rs_cli("--version")
    assert proc.returncode == 0 and rs.__version__ in proc.stdout


def test_rs_serve__serves_a_folder_until_interrupted(small_world: World, rs_cache) -> None:
    exe = Path(sys.executable).parent / "rs"
    proc = subprocess.Popen(
        [str(exe), "serve", str(small_world.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RS_CACHE_DIR": str(rs_cache), "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "STAC API at" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.split("STAC API at", 1)[1].split()[0]
        items = search_items(url, ["sentinel-2-l2a"], datetime="2021-01-01/2023-01-01")
        assert [i.id for i in items] == small_world.item_ids
        port = int(url.rsplit(":", 1)[1].strip("/"))
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    assert rc in (0, 130, -signal.SIGINT)
    with socket.socket() as s:  # the server is gone: its port is free again
        s.bind(("127.0.0.1", port))


def test_rs_demo_world__generates_into_given_folder(rs_cli, tmp_path) -> None:
    proc = rs_cli("demo-world", str(tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "w" / "world.json").exists()
    assert len(list((tmp_path / "w" / "sentinel-2-l2a").glob("*/*.json"))) == 12


def test_rs_run__unreachable_scheduler_exit_3(small_world, write_spec, rs_cli, tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = write_spec(small_world.root, world_bbox(small_world), dask={"connect_timeout": 2})
    proc = rs_cli("run", str(spec), "--scheduler", f"tcp://127.0.0.1:{port}")
    assert proc.returncode == 3, proc.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in proc.stderr
    out = tmp_path / "out"
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]
