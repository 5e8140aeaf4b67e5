"""The `rs` command's other verbs and cluster errors, through real subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import Polygon

import rs
from rs import cli
from rs.aoi import load_aoi
from rs.sources.stac import search_items
from rs.testing import World

from ._servers import SPECS_FOR_CLI, make_world, write_tiny_tif
from .conftest import world_bbox


def test_rs__public_api_resolves() -> None:
    for name in rs.__all__:
        assert getattr(rs, name) is not None, name
    with pytest.raises(AttributeError):
        rs.no_such_thing  # noqa: B018


def test_rs__version(rs_cli) -> None:
    proc = rs_cli("--version")
    assert proc.returncode == 0 and rs.__version__ in proc.stdout


@contextlib.contextmanager
def _serving(folder: Path, cache: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``rs serve FOLDER`` in a subprocess: yields the API URL it prints, and the process;
    stops it with Ctrl-C on exit."""
    exe = Path(sys.executable).parent / "rs"
    proc = subprocess.Popen(
        [str(exe), "serve", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RS_CACHE_DIR": str(cache), "COLUMNS": "200"},
        # Ctrl-C reaches it even when this test runs as a background job of a shell without
        # job control (`nohup make test &`), whose children start with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "STAC API at" in line, proc.stderr.read() if proc.poll() is not None else line
        yield line.split("STAC API at", 1)[1].split()[0], proc
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_rs_serve__serves_a_folder_until_interrupted(small_world: World, rs_cache) -> None:
    with _serving(small_world.root, rs_cache) as (url, proc):
        items = search_items(url, ["sentinel-2-l2a"], datetime="2021-01-01/2023-01-01")
        assert [i.id for i in items] == small_world.item_ids
        port = int(url.rsplit(":", 1)[1].strip("/"))
    rc = proc.returncode
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
    # the runner probes the scheduler before any search: a refused connection is named as such
    assert "refused" in proc.stderr
    out = tmp_path / "out"
    # nothing but the run report (a failure is recorded as data) is written
    written = [p.relative_to(out) for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert all(p.parts[0] == "reports" for p in written), written
    report = json.loads((out / "reports" / "t-latest.json").read_text())
    assert report["status"] == "failed" and report["error"]["exit_code"] == 3


def _rs_no_tty(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """The real ``rs`` with pipes for stdout/stderr (no terminal) and no COLUMNS set."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["RS_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [str(Path(sys.executable).parent / "rs"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_rs_serve__text_file_is_exit_2_saying_what_to_give(tmp_path: Path, rs_cache) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a scene")
    proc = _rs_no_tty("serve", str(notes), cache=rs_cache)
    assert proc.returncode == 2, proc.stderr
    assert "notes.txt is neither a STAC Item JSON nor a GeoTIFF" in proc.stderr
    assert "YYYYMMDD" in proc.stderr and "TIFFTAG_DATETIME" in proc.stderr


def test_rs_serve__geotiff_without_date_is_exit_2(tmp_path: Path, rs_cache) -> None:
    tif = tmp_path / "mystery.tif"
    write_tiny_tif(tif, 660000.0, 3552000.0)
    proc = _rs_no_tty("serve", str(tif), cache=rs_cache)
    assert proc.returncode == 2, proc.stderr
    assert "cannot tell the acquisition date" in proc.stderr


def test_rs__long_error_message_is_one_line_when_not_a_terminal(tmp_path: Path, rs_cache) -> None:
    folder = tmp_path / ("very-long-folder-name-" * 6 + "[draft]")
    folder.mkdir()
    bad = folder / "field-survey-notes-for-the-reserve.txt"
    bad.write_text("not a scene")
    assert len(str(bad)) > 150
    proc = _rs_no_tty("serve", str(bad), cache=rs_cache)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert str(bad) in lines[0]  # whole, unwrapped, and "[draft]" not eaten as markup


def test_rs_serve__leaves_the_served_folder_untouched(tmp_path: Path, rs_cache) -> None:
    make_world(tmp_path / "data", SPECS_FOR_CLI)

    def listing() -> list[tuple[str, int, int]]:
        return sorted(
            (str(p.relative_to(tmp_path)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in tmp_path.rglob("*")
        )

    before = listing()
    with _serving(tmp_path / "data", rs_cache) as (url, _):
        items = search_items(url, ["sentinel-2-l2a"], datetime="2021-01-01/2023-01-01")
        assert [i.id for i in items] == [s.item_id for s in SPECS_FOR_CLI]
        assert listing() == before, "nothing written into the data folder while serving"
    assert listing() == before


def test_show_warning__rs_warning_is_one_clean_line(capsys, monkeypatch) -> None:
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    # other libraries' warnings pass on to Python's own display (here: pytest's recorder)
    with pytest.warns(UserWarning, match="a library's own warning") as others:
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", cli._show_warning)
        load_aoi(bowtie)
        warnings.warn("a library's own warning", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("warning: The shapely geometry: polygon 'aoi_1' (Self-intersection")
    assert "was invalid and repaired" in err
    assert "aoi.py" not in err and "AoiWarning" not in err
    assert [str(w.message) for w in others] == ["a library's own warning"]


def test_rs_run__missing_long_spec_path_error_is_one_line(tmp_path: Path, rs_cache) -> None:
    spec = tmp_path / ("a-long-folder-name-for-the-spec-" * 5) / "spec.yaml"
    assert len(str(spec)) > 150
    proc = _rs_no_tty("run", str(spec), cache=rs_cache)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(spec) in lines[0]


def test_rs_serve__serves_an_output_catalogue(small_world: World, write_spec, rs_cli,
                                              rs_cache, tmp_path: Path) -> None:
    """`rs serve OUTPUT`: every output item of a run is found by a STAC search, with asset
    hrefs that open the run's own files."""
    import rasterio

    spec = write_spec(small_world.root, world_bbox(small_world))
    done = rs_cli("run", str(spec))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    ids = sorted(json.loads(p.read_text())["id"] for p in (out / "items").glob("*.json"))
    assert ids
    with _serving(out, rs_cache) as (url, _):
        items = search_items(url, ["local"], datetime="2000-01-01/2100-01-01")
    assert sorted(i.id for i in items) == ids
    href = items[0].assets["composite"].href
    assert href == (out / Path(href).name).as_uri()
    with rasterio.open(href) as ds:
        assert ds.count == 4
