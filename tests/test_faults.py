"""Faults during a run, with real processes on loopback: a flaky STAC API, a truncated NetCDF,
a Dask worker killed mid-run, a run stopped by SIGTERM or SIGKILL and restarted.

The known answer is a clean run of the same spec: the faulty run (or the interrupted run plus
its restart) must publish exactly the same files, with the same pixel arrays, table rows and
item JSON (timing fields aside), and leave no staging folder, temporary file or lock behind.

Already covered elsewhere, not repeated here: a corrupt COG scene (missing, or truncated so its
pixels fail inside a block task) skipped, recorded in the report and ``rs:skipped`` and left
out of the median (tests/test_pipeline_e2e.py::test_rs_run__unreadable_scene_skipped_and_recorded,
tests/test_runtime_e2e.py for a partly readable one); retries of each HTTP failure against a
scripted server (tests/test_sources_stac.py); a killed run's stale lock and staging folders
(tests/test_lock.py).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from rs.testing import World
from rs.testing.faults import (
    composite_spec,
    dask_processes,
    diff_outputs,
    flaky_api,
    interrupt,
    kill_busy_worker,
    leftovers,
    output_digest,
    rs_run,
)
from tests._pipelines import run_rs


def _ok(done: Any) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_rs_run__flaky_stac_api_completes_with_the_clean_runs_outputs(
    small_world: World, rs_cache: Path, tmp_path: Path
) -> None:
    """30% of the API's requests answer 502/503, are reset or stall past the client's timeout;
    with retries the run completes and publishes what a run through a faultless proxy does."""
    outs = {}
    for name, rate in (("clean", 0.0), ("flaky", 0.3)):
        with flaky_api(small_world.root, tmp_path / f"api-{name}", fail_rate=rate,
                       stall_s=2.0, seed=4) as proxy:
            source = {"url": proxy.url, "collections": ["sentinel-2-l2a"], "timeout": 1.0,
                      "retries": 8}
            out = tmp_path / name
            spec = composite_spec(small_world, out, tmp_path / f"{name}.yaml", source)
            _ok(run_rs(rs_cache, "run", str(spec)))
            outs[name] = output_digest(out, replace={proxy.url: "<api>"})
            if name == "flaky":
                # seed 4 fails 4 of the run's 8 requests, one of each kind (the run makes 4
                # requests that must succeed: the landing page, collections, searches)
                assert set(proxy.counts) == {"ok", "502", "503", "reset", "stall"}, proxy.counts
    assert diff_outputs(outs["flaky"], outs["clean"]) == []
    assert leftovers(tmp_path / "flaky") == []
    assert any(k.endswith("_composite.tif") for k in outs["flaky"])


@pytest.mark.slow
def test_s5p_grid__truncated_netcdf_recorded_and_grid_is_the_other_orbits(
    tmp_path: Path, rs_cache: Path
) -> None:
    """A truncated orbit file is a row of ``rs:skipped`` and the report with its reason, and the
    grid equals that of a run whose folder lacks the file."""
    from tests.test_s5p_grid_product import _orbits
    from tests.test_s5p_grid_product import _spec as s5p_spec

    full, without = tmp_path / "full", tmp_path / "without"
    _orbits(full / "swaths", background=1875.0, cloud_fraction=0.3)
    victim = sorted((full / "swaths").glob("*.nc"))[0]
    (without / "swaths").mkdir(parents=True)
    for f in (full / "swaths").glob("*.nc"):
        if f != victim:
            (without / "swaths" / f.name).write_bytes(f.read_bytes())
    victim.write_bytes(victim.read_bytes()[:2000])
    for case in (full, without):
        _ok(run_rs(rs_cache, "run", str(s5p_spec(case, case / "swaths"))))
    (item,) = (full / "out" / "items").glob("*.json")
    skipped = json.loads(item.read_text())["properties"]["rs:skipped"]
    assert [r["scene"] for r in skipped] == [victim.stem]
    assert skipped[0]["reason"]
    report = json.loads(next((full / "out" / "reports").glob("*-latest.json")).read_text())
    assert [r["scene"] for r in report["steps"][0]["scenes_skipped"]] == [victim.stem]
    got, want = output_digest(full / "out"), output_digest(without / "out")
    rasters = [k for k in want if k.endswith((".tif", ".nc"))]
    assert len(rasters) == 3  # grid.nc, mean.tif, count.tif
    for k in rasters:
        got_k, want_k = dict(got[k]), dict(want[k])
        if k.endswith(".tif"):  # RS_INPUTS names the files found: the truncated one too
            got_k["tags"] = want_k["tags"] = None
        assert got_k == want_k, k


@pytest.mark.slow
def test_rs_run__dask_worker_killed_mid_run_completes_with_the_clean_runs_outputs(
    small_world: World, rs_cache: Path, tmp_path: Path
) -> None:
    """Two worker processes (no nanny); the one computing a block is SIGKILLed after the first
    blocks finished: the scheduler reruns its tasks on the other and nothing is lost."""
    clean = composite_spec(small_world, tmp_path / "clean", tmp_path / "clean.yaml", block_size=16)
    _ok(run_rs(rs_cache, "run", str(clean)))
    out = tmp_path / "killed"
    spec = composite_spec(small_world, out, tmp_path / "killed.yaml", block_size=16)
    with dask_processes(tmp_path, n_workers=2) as cluster, Client(cluster.address) as client:
        with rs_run(spec, "--scheduler", cluster.address, cache=rs_cache,
                    log=tmp_path / "run.log") as proc:
            kill_busy_worker(client, cluster, "rs-comp", after=2, timeout=300, proc=proc)
            assert proc.wait(timeout=600) == 0, (tmp_path / "run.log").read_text()[-3000:]
        assert len(client.scheduler_info()["workers"]) == 1, "the killed worker stays dead"
    assert diff_outputs(output_digest(out), output_digest(tmp_path / "clean")) == []
    assert leftovers(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_rs_run__interrupted_and_restarted_gives_the_clean_runs_outputs(
    small_world: World, rs_cache: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    """Two periods; the run is stopped while the second is being built (the first published),
    then run again: the same files as an uninterrupted run, none twice, nothing partial."""
    clean = composite_spec(small_world, tmp_path / "clean", tmp_path / "clean.yaml", periods=2,
                           block_size=16)
    _ok(run_rs(rs_cache, "run", str(clean)))
    out = tmp_path / "out"
    spec = composite_spec(small_world, out, tmp_path / "spec.yaml", periods=2, block_size=16)
    code = interrupt(spec, out, sig, cache=rs_cache)
    assert code == (128 + sig if sig == signal.SIGTERM else -sig), "stopped mid-build"
    assert len(list((out / "items").glob("*.json"))) == 1, "only the first period published"
    if sig == signal.SIGTERM:  # a terminated run cleans up after itself
        assert leftovers(out) == []
    rerun = run_rs(rs_cache, "run", str(spec))
    _ok(rerun)
    if sig == signal.SIGKILL:
        assert "took over the stale lock" in rerun.stderr
    report = json.loads((out / "reports" / "f-latest.json").read_text())
    assert [s["status"] for s in report["steps"]] == ["up-to-date", "built"]
    assert leftovers(out) == []
    assert diff_outputs(output_digest(out), output_digest(tmp_path / "clean")) == []


def test_run_lock__temporary_files_of_a_killed_write_removed(tmp_path: Path) -> None:
    """A run killed inside an atomic write (item, catalog, report) leaves its temporary file;
    the next run removes it under the lock, and leaves the published files and others alone."""
    from rs.pipeline.lock import run_lock

    (tmp_path / "items").mkdir()
    (tmp_path / "reports").mkdir()
    planted = [".catalog.json.0a1b2c3d.tmp", "items/.f-comp-before.json.deadbeef.tmp",
               "reports/.f-latest.json.12345678.tmp", ".f_x_zones.gpkg.abcdef01.tmp.gpkg"]
    kept = ["catalog.json", "items/f-comp-before.json", "f_comp_before_ndvi.tif",
            ".hidden-by-the-user", "notes.tmp"]
    for name in planted + kept:
        (tmp_path / name).write_text("x")
    with run_lock(tmp_path, "spec.yaml") as info:
        assert info["removed_temporary"] == sorted(planted)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                  if p.is_file()) == sorted(kept)


def test_run_lock__sigterm_while_writing_the_record_leaves_no_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM is SystemExit in `rs run`; arriving while the lock's record is written (the test
    `test_rs_run__sigterm_releases_the_lock` hit it about half the time), the file is removed
    and the flock dropped, as for a SIGTERM later in the run."""
    import os

    from rs.pipeline.lock import LOCK_NAME, RunLock

    def sigterm(fd: int) -> None:
        raise SystemExit(128 + signal.SIGTERM)

    monkeypatch.setattr(os, "fsync", sigterm)
    with pytest.raises(SystemExit):
        RunLock(tmp_path, "spec.yaml").acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    monkeypatch.undo()
    with RunLock(tmp_path, "again.yaml") as lock:  # free, and not stale
        assert lock.stale == {}
