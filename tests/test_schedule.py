"""``rs schedule``: cron fire times (croniter, UTC), bad expressions refused naming the spec,
and real fires running a small spec through ``rs run`` (the lock keeping runs apart)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rs.errors import EXIT_CODES, RunLockedError, SpecError
from rs.pipeline.lock import LOCK_NAME, RunLock
from rs.pipeline.schedule import check_cron, next_fires
from rs.testing import World

from .conftest import world_bbox

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # a Wednesday


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("expr", "after", "want"),
    [
        ("0 3 * * *", NOW, [_utc(2026, 11, 26, 3), _utc(2026, 11, 27, 3)]),
        ("0 3 * * 0", NOW, [_utc(2026, 11, 29, 3), _utc(2026, 12, 6, 3)]),  # 0 = Sunday
        ("30 2 1 * *", NOW, [_utc(2026, 12, 1, 2, 30), _utc(2027, 1, 1, 2, 30)]),
        ("0 4 1 1,7 *", NOW, [_utc(2027, 1, 1, 4), _utc(2027, 7, 1, 4)]),  # after each half
        ("0 3 * * *", _utc(2026, 11, 26, 3), [_utc(2026, 11, 27, 3), _utc(2026, 11, 28, 3)]),
        ("*/15 * * * *", NOW, [_utc(2026, 11, 25, 12, 15), _utc(2026, 11, 25, 12, 30)]),
    ],
)
def test_next_fires__known_times(expr: str, after: dt.datetime, want: list[dt.datetime]) -> None:
    got = next_fires(expr, after, 2)
    assert got == want, "strictly after `after`, in UTC"
    assert all(t.tzinfo is not None and t.utcoffset() == dt.timedelta(0) for t in got)


def test_next_fires__sunday_is_0_and_7() -> None:
    (sun0,) = next_fires("0 3 * * 0", NOW)
    (sun7,) = next_fires("0 3 * * 7", NOW)
    assert sun0 == sun7 and sun0.weekday() == 6


@pytest.mark.parametrize("bad", ["61 3 * * *", "0 3 * *", "every day", "0 3 * * * * 2027", ""])
def test_check_cron__bad_expression_says_what_one_looks_like(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a cron expression: write 5 fields"):
        check_cron(bad)


def _spec(small_world: World, write_spec, **extra: object) -> Path:
    return write_spec(small_world.root, world_bbox(small_world), **extra)


def test_rs_schedule__next_prints_fire_times(small_world, write_spec, rs_cli, monkeypatch) -> None:
    spec = _spec(small_world, write_spec, schedule="0 3 * * 0")
    monkeypatch.setenv("RS_NOW", "2026-11-25T12:00:00Z")
    proc = rs_cli("schedule", str(spec), "--next", "3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"{spec} '0 3 * * 0' (UTC) after 2026-11-25T12:00:00Z:",
        "  2026-11-29T03:00:00Z",
        "  2026-12-06T03:00:00Z",
        "  2026-12-13T03:00:00Z",
    ]
    proc = rs_cli("schedule", str(spec), "--next", "1", "--cron", "0 3 1 1,7 *")
    assert proc.stdout.splitlines()[1:] == ["  2027-01-01T03:00:00Z"], "--cron wins"


def test_rs_schedule__bad_cron_refused_naming_the_spec(small_world, write_spec, rs_cli) -> None:
    spec = _spec(small_world, write_spec, schedule="61 3 * * *")
    proc = rs_cli("schedule", str(spec), "--next", "1")
    assert proc.returncode == EXIT_CODES[SpecError]
    assert f"{spec}: schedule: '61 3 * * *' is not a cron expression" in proc.stderr
    assert proc.stdout == ""
    other = _spec(small_world, write_spec)  # no schedule key (same file, rewritten)
    proc = rs_cli("schedule", str(other), "--cron", "0 3 * *")
    assert proc.returncode == EXIT_CODES[SpecError]
    assert f"{other}: --cron '0 3 * *' is not a cron expression" in proc.stderr
    proc = rs_cli("schedule", str(other))
    assert proc.returncode == EXIT_CODES[SpecError]
    assert f"{other}: no 'schedule' key and no --cron" in proc.stderr


def test_rs_schedule__a_fire_runs_the_spec(small_world, write_spec, rs_cli) -> None:
    spec = _spec(small_world, write_spec)
    # every second (croniter's sixth field); one run, then the scheduler stops
    proc = rs_cli("schedule", str(spec), "--cron", "* * * * * *", "--max-runs", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any(f"t: started rs run {spec}" in line for line in lines), lines
    ended = [line for line in lines if "t: run ended with exit 0 (success)" in line]
    assert len(ended) == 1 and "done (1 built)" in ended[0], lines
    out = spec.parent / "out"
    report = json.loads((out / "reports" / "t-latest.json").read_text())
    assert report["status"] == "done" and report["lock"]["spec"] == str(spec.resolve())
    assert [s["reason"] for s in report["steps"]] == ["new: no output item yet"]
    assert (out / "items" / "t-composite-p-20210501-20220930.json").exists()


def test_rs_schedule__a_fire_while_the_output_is_locked_is_refused(
    small_world, write_spec, rs_cli
) -> None:
    spec = _spec(small_world, write_spec, schedule="* * * * * *")
    out = spec.parent / "out"
    out.mkdir()
    with RunLock(out, "held-by-the-test"):
        proc = rs_cli("schedule", str(spec), "--max-runs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = EXIT_CODES[RunLockedError]
    assert f"t: run ended with exit {code} (RunLockedError)" in proc.stdout, proc.stdout
    assert "another rs run is writing to" in proc.stderr, "the run's own message, passed on"
    assert not (out / "reports").exists(), "the refused run wrote nothing"


def test_rs_schedule__sigterm_stops_the_run_in_progress(
    small_world, write_spec, rs_cache: Path
) -> None:
    spec = _spec(small_world, write_spec, schedule="* * * * * *")
    exe = Path(sys.executable).parent / "rs"
    proc = subprocess.Popen(
        [str(exe), "schedule", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RS_CACHE_DIR": str(rs_cache)},
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # until the first fire has started its run
            lines.append(line)
            if "t: started rs run" in line:
                break
        else:
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"no fire: {''.join(lines)}{err}")
        proc.send_signal(signal.SIGTERM)  # the scheduler only, as `systemctl stop` would first
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "t: stopping its run" in out and "scheduler stopped" in out, out
    assert not (spec.parent / "out" / LOCK_NAME).exists(), "the stopped run released its lock"
