"""The run lock: one run per output folder; stale locks of killed runs are taken over.

The first tests hold locks in this process; the others run the real ``rs run`` in
subprocesses, stopped (SIGSTOP), killed (SIGKILL) or terminated (SIGTERM) while they hold it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from rs.errors import EXIT_CODES, RunLockedError
from rs.pipeline.lock import LOCK_NAME, RunLock, read_lock, run_lock
from rs.testing import World

from .conftest import world_bbox

BUSY = EXIT_CODES[RunLockedError]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_run_lock__second_holder_refused_naming_the_first(tmp_path: Path) -> None:
    with RunLock(tmp_path, "a.yaml") as first:
        rec = read_lock(tmp_path / LOCK_NAME)
        assert rec["pid"] == os.getpid() and rec["spec"] == "a.yaml"
        assert rec["host"] == socket.gethostname() and first.stale == {}
        with pytest.raises(RunLockedError, match=rf"another rs run .*pid {os.getpid()}.*a\.yaml"):
            RunLock(tmp_path, "b.yaml").acquire()
    assert not (tmp_path / LOCK_NAME).exists(), "released: the file is removed"
    with RunLock(tmp_path, "b.yaml") as again:  # free again, and not stale
        assert again.stale == {}


def test_run_lock__released_on_failure(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), RunLock(tmp_path):
        1 / 0  # noqa: B018
    assert not (tmp_path / LOCK_NAME).exists()


def test_run_lock__stale_file_of_a_dead_run_taken_over(tmp_path: Path) -> None:
    dead = _dead_pid()
    old = {
        "pid": dead,
        "host": socket.gethostname(),
        "started": "2026-01-01T00:00:00+00:00",
        "spec": "old.yaml",
    }
    (tmp_path / LOCK_NAME).write_text(json.dumps(old))
    (tmp_path / ".rs-staging-deadbeef").mkdir()  # what a killed run leaves while building
    with (
        pytest.warns(UserWarning, match=rf"stale lock .*pid {dead} .*no longer running"),
        run_lock(tmp_path, "new.yaml") as info,
    ):
        assert info["stale"] == old and info["pid"] == os.getpid()
        assert info["removed_staging"] == [".rs-staging-deadbeef"]
        assert not (tmp_path / ".rs-staging-deadbeef").exists()
        assert read_lock(tmp_path / LOCK_NAME)["spec"] == "new.yaml"


# --- real `rs run` processes ------------------------------------------------------------------


@contextmanager
def _rs_run(spec: Path, rs_cache: Path) -> Iterator[subprocess.Popen[str]]:
    """``rs run SPEC`` in its own process group; the whole group is killed on exit (an
    embedded STAC API child of a killed run is not left behind)."""
    exe = Path(sys.executable).parent / "rs"
    proc = subprocess.Popen(
        [str(exe), "run", str(spec), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RS_CACHE_DIR": str(rs_cache)},
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)


def _wait_for_lock(lock: Path, proc: subprocess.Popen[str], timeout: float = 300) -> dict:
    """The lock record once ``proc`` has written it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rec = read_lock(lock)
        if rec.get("pid") == proc.pid:
            return rec
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"rs run ended ({proc.returncode}) before its lock was seen: {err}")
        time.sleep(0.02)
    pytest.fail("rs run never took its lock")


@pytest.fixture
def spec(small_world: World, write_spec) -> Path:
    return write_spec(small_world.root, world_bbox(small_world))


def test_rs_run__concurrent_second_run_refused(spec: Path, rs_cli, rs_cache: Path) -> None:
    out = spec.parent / "out"
    with _rs_run(spec, rs_cache) as first:
        rec = _wait_for_lock(out / LOCK_NAME, first)
        assert rec["spec"] == str(spec.resolve())
        os.kill(first.pid, signal.SIGSTOP)  # it holds the lock, whatever its speed
        try:
            second = rs_cli("run", str(spec))
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert second.returncode == BUSY, second.stderr
        assert f"another rs run is writing to {out}" in second.stderr
        assert f"pid {first.pid}" in second.stderr and str(spec.resolve()) in second.stderr
        assert first.wait(timeout=600) == 0, first.stderr.read() if first.stderr else ""
    assert not (out / LOCK_NAME).exists(), "the first run released its lock"
    reports = sorted(p.name for p in (out / "reports").glob("*.json"))
    assert len(reports) == 2, f"only the first run reported (+ latest): {reports}"
    latest = json.loads((out / "reports" / "t-latest.json").read_text())
    assert latest["status"] == "done" and latest["lock"]["pid"] == first.pid
    assert "stale" not in latest["lock"]


def test_rs_run__killed_runs_stale_lock_taken_over(spec: Path, rs_cli, rs_cache: Path) -> None:
    out = spec.parent / "out"
    with _rs_run(spec, rs_cache) as killed:
        _wait_for_lock(out / LOCK_NAME, killed)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
    assert read_lock(out / LOCK_NAME)["pid"] == killed.pid, "SIGKILL leaves the lock file"
    rerun = rs_cli("run", str(spec))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "warning: took over the stale lock" in rerun.stderr
    assert f"pid {killed.pid}" in rerun.stderr and "no longer running" in rerun.stderr
    latest = json.loads((out / "reports" / "t-latest.json").read_text())
    assert latest["status"] == "done", "the rerun built what the killed run had not published"
    assert latest["lock"]["stale"]["pid"] == killed.pid
    assert not (out / LOCK_NAME).exists()
    assert not list(out.glob(".rs-staging-*")), "no staging folder of the killed run is left"


def test_rs_run__sigterm_releases_the_lock(spec: Path, rs_cache: Path) -> None:
    out = spec.parent / "out"
    with _rs_run(spec, rs_cache) as run:
        _wait_for_lock(out / LOCK_NAME, run)
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=120) == 128 + signal.SIGTERM
    assert not (out / LOCK_NAME).exists(), "a terminated run removes its lock file"
