"""Faults (issue 11): ``python -m bench faults [--runs N] [--work DIR] [--no-write]``.

Each fault scenario is run ``--runs`` times (default 3) with real processes on loopback, and
its outputs are compared with a clean run's (:func:`rs.testing.faults.output_digest`: file
names, pixel arrays, NetCDF variables, table rows, item JSON without timing fields):

- **flaky STAC API**: the embedded STAC API (``rustac serve``) behind
  :class:`rs.testing.faults.FlakyProxy`, 30% of requests answered 502 / 503, reset or stalled
  2 s past the source's 1 s timeout (``retries: 8``), a different seed each run; clean run:
  through the same proxy failing nothing. Only the API goes through the proxy: the synthetic
  world's asset hrefs are ``file://``.
- **corrupt COG**: the green band of one of the period's two scenes truncated to a third
  (header intact, pixels cut off: the scene fails inside block tasks); reference: a run where
  that band file is missing (the scene skipped at preflight), pixel arrays compared (the items
  differ by design: the run key counts scenes unreadable at preflight). Completed = exit 0
  and the scene in ``rs:skipped``.
- **truncated NetCDF**: one of two Sentinel-5P CH4 orbits cut to 2,000 bytes; reference: a run on
  a folder without that file, grid variables and pixel arrays compared (tags aside: the COGs'
  ``RS_INPUTS`` names the files found). Completed = exit 0 and the file in ``rs:skipped``.
- **Dask worker killed**: a ``dask scheduler`` and two single-thread ``dask worker --no-nanny``
  processes; once two blocks are done, the worker computing a block gets SIGKILL; the run
  goes on with ``--scheduler``. Clean run: the same spec on the default local cluster.
- **SIGTERM / SIGKILL, then restart**: a two-period composite stopped while the second period
  is staging files (the first published), SIGTERM to the rs process or SIGKILL to its
  process group, then ``rs run`` again. Identical also requires no staging folder, ``.tmp``
  file or lock left and the first period up to date in the restart.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import machine_facts, markdown_table, publish

HERE = Path(__file__).resolve().parent
SECTION = "## Faults"


@dataclass
class Row:
    fault: str
    injected: str
    tried: int = 0
    completed: int = 0
    identical: int = 0
    seconds: float = 0.0
    notes: str = ""
    measured: str = ""


def _rs(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "rs"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "RS_CACHE_DIR": str(cache)}, check=False)


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _world(work: Path) -> Any:
    from rs.testing import WorldConfig, generate_world

    root = work / "world"
    if (root / ".done").exists():
        from rs.testing import World

        return World(root, WorldConfig(width=128, height=128, n_dates=6, seed=7))
    shutil.rmtree(root, ignore_errors=True)
    world = generate_world(root, WorldConfig(width=128, height=128, n_dates=6, seed=7))
    (root / ".done").write_text("")
    return world


def _world_copy(world: Any, dst: Path) -> Any:
    from rs.testing import World

    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(world.root, dst)
    for p in dst.rglob("*.json"):
        p.write_text(p.read_text().replace(world.root.as_uri(), dst.as_uri()))
    return World(dst, world.config)


def _skipped(out: Path) -> list[str]:
    return [r["scene"] for item in sorted((out / "items").glob("*.json"))
            for r in json.loads(item.read_text())["properties"]["rs:skipped"]]


def _pixels(digest: dict[str, Any]) -> dict[str, Any]:
    """Rasters and NetCDF grids only, without the COG tags."""
    return {k: ({**v, "tags": None} if k.endswith(".tif") else v)
            for k, v in digest.items() if k.endswith((".tif", ".nc"))}


# --------------------------------------------------------------------------- scenarios


def flaky(work: Path, cache: Path, world: Any, run: int) -> tuple[bool, bool, str]:
    from rs.testing.faults import composite_spec, diff_outputs, flaky_api, output_digest

    digests, counts = {}, ""
    for name, rate in (("clean", 0.0), ("flaky", 0.3)):
        w = _fresh(work / name)
        with flaky_api(world.root, w / "api", fail_rate=rate, stall_s=2.0, seed=run) as proxy:
            source = {"url": proxy.url, "collections": ["sentinel-2-l2a"], "timeout": 1.0,
                      "retries": 8}
            done = _rs(cache, "run", str(composite_spec(world, w / "out", w / "spec.yaml",
                                                        source)))
            if done.returncode != 0:
                return False, False, done.stderr[-300:]
            digests[name] = output_digest(w / "out", replace={proxy.url: "<api>"})
            if name == "flaky":
                counts = f"{proxy.failed}/{proxy.requests} requests failed " + ", ".join(
                    f"{k} {v}" for k, v in sorted(proxy.counts.items()) if k != "ok")
    return True, diff_outputs(digests["flaky"], digests["clean"]) == [], counts


def corrupt_cog(work: Path, cache: Path, world: Any, run: int) -> tuple[bool, bool, str]:
    from rs.testing.faults import composite_spec, output_digest

    digests = {}
    for how in ("missing", "truncated"):
        w = _fresh(work / how)
        copy = _world_copy(world, w / "world")
        bad = next(i for i, s in enumerate(copy.item_ids) if "20210812" in s)  # in `before`
        band = copy.band_path(bad, "green")
        if how == "missing":
            band.unlink()
        else:
            band.write_bytes(band.read_bytes()[: band.stat().st_size // 3])
        done = _rs(cache, "run", str(composite_spec(copy, w / "out", w / "spec.yaml")))
        if done.returncode != 0 or _skipped(w / "out") != [copy.item_ids[bad]]:
            return False, False, f"exit {done.returncode}, rs:skipped {_skipped(w / 'out')}"
        digests[how] = _pixels(output_digest(w / "out"))
    return True, digests["truncated"] == digests["missing"], "the scene in rs:skipped"


def _s5p(folder: Path) -> None:
    import datetime as dt

    from rs.testing.s5p import S5PConfig, generate_s5p

    for k in range(2):
        start = dt.datetime(2021, 6, 1 + k, 5, 0, tzinfo=dt.UTC)
        generate_s5p(folder, S5PConfig(product="ch4", start=start, orbit=18_800 + k, seed=k,
                                       noise=0.0, background=1875.0, cloud_fraction=0.3))


def _s5p_spec(w: Path) -> Path:
    import yaml

    spec = {"name": "ch4", "aoi": "118.0,31.0,119.6,33.0",
            "sources": {"s5p": {"kind": "swaths", "folder": str(w / "swaths")}},
            "periods": {"june": {"start": "2021-06-01", "end": "2021-06-30"}},
            "steps": [{"id": "grid", "kind": "s5p-grid", "product": "ch4", "resolution": 0.05}],
            "output": str(w / "out")}
    path = w / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def truncated_netcdf(work: Path, cache: Path, world: Any, run: int) -> tuple[bool, bool, str]:
    from rs.testing.faults import output_digest

    full, without = _fresh(work / "full"), _fresh(work / "without")
    _s5p(full / "swaths")
    victim = sorted((full / "swaths").glob("*.nc"))[0]
    (without / "swaths").mkdir()
    for f in (full / "swaths").glob("*.nc"):
        if f != victim:
            shutil.copy2(f, without / "swaths" / f.name)
    victim.write_bytes(victim.read_bytes()[:2000])
    for w in (full, without):
        done = _rs(cache, "run", str(_s5p_spec(w)))
        if done.returncode != 0:
            return False, False, done.stderr[-300:]
    if _skipped(full / "out") != [victim.stem]:
        return False, False, f"rs:skipped is {_skipped(full / 'out')}"
    same = _pixels(output_digest(full / "out")) == _pixels(output_digest(without / "out"))
    return True, same, "orbit file in rs:skipped"


def worker_killed(work: Path, cache: Path, world: Any, run: int) -> tuple[bool, bool, str]:
    from distributed import Client

    from rs.testing.faults import (
        composite_spec,
        dask_processes,
        diff_outputs,
        kill_busy_worker,
        leftovers,
        output_digest,
        rs_run,
    )

    w = _fresh(work / "w")
    clean = _rs(cache, "run", str(composite_spec(world, w / "clean", w / "clean.yaml",
                                                 block_size=16)))
    if clean.returncode != 0:
        return False, False, "clean run failed: " + clean.stderr[-300:]
    spec = composite_spec(world, w / "out", w / "spec.yaml", block_size=16)
    with dask_processes(w, n_workers=2) as cluster, Client(cluster.address) as client, \
            rs_run(spec, "--scheduler", cluster.address, cache=cache, log=w / "run.log") as proc:
        try:
            done = kill_busy_worker(client, cluster, "rs-comp", after=2, timeout=600, proc=proc)
        except RuntimeError:
            return proc.returncode == 0, False, "the run ended before a worker could be killed"
        code = proc.wait(timeout=900)
    same = diff_outputs(output_digest(w / "out"), output_digest(w / "clean")) == []
    return code == 0, same and leftovers(w / "out") == [], f"killed after {done} blocks"


def _interrupted(sig: signal.Signals) -> Callable[[Path, Path, Any, int],
                                                   tuple[bool, bool, str]]:
    def scenario(work: Path, cache: Path, world: Any, run: int) -> tuple[bool, bool, str]:
        from rs.testing.faults import (
            composite_spec,
            diff_outputs,
            interrupt,
            leftovers,
            output_digest,
        )

        w = _fresh(work / "w")
        clean = _rs(cache, "run", str(composite_spec(world, w / "clean", w / "clean.yaml",
                                                     periods=2, block_size=16)))
        if clean.returncode != 0:
            return False, False, "clean run failed: " + clean.stderr[-300:]
        spec = composite_spec(world, w / "out", w / "spec.yaml", periods=2, block_size=16)
        code = interrupt(spec, w / "out", sig, cache=cache)
        if code is None:
            return True, False, "the run ended before it could be interrupted"
        left = leftovers(w / "out")
        rerun = _rs(cache, "run", str(spec))
        if rerun.returncode != 0:
            return False, False, rerun.stderr[-300:]
        report = json.loads((w / "out" / "reports" / "f-latest.json").read_text())
        statuses = [s["status"] for s in report["steps"]]
        same = (diff_outputs(output_digest(w / "out"), output_digest(w / "clean")) == []
                and leftovers(w / "out") == [] and statuses == ["up-to-date", "built"])
        return True, same, f"exit {code}; left before restart: {len(left)} path(s)"

    return scenario


SCENARIOS: list[tuple[str, str, Callable[[Path, Path, Any, int], tuple[bool, bool, str]]]] = [
    ("flaky STAC API", "proxy fails 30% of requests: 502 / 503 / reset / 2 s stall (timeout 1 s)",
     flaky),
    ("corrupt COG", "one scene's band truncated to 1/3 (pixels unreadable)", corrupt_cog),
    ("truncated NetCDF", "one of two S5P orbit files cut to 2,000 bytes", truncated_netcdf),
    ("Dask worker killed", "SIGKILL to the worker computing a block (2 worker processes)",
     worker_killed),
    ("run stopped by SIGTERM, restarted", "SIGTERM to rs while the 2nd period is staging",
     _interrupted(signal.SIGTERM)),
    ("run killed by SIGKILL, restarted", "SIGKILL to rs's process group while the 2nd period "
     "is staging", _interrupted(signal.SIGKILL)),
]


def run(work: Path, runs: int, only: list[str] | None = None) -> list[Row]:
    cache = work / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    world = _world(work)
    rows = []
    for i, (fault, injected, scenario) in enumerate(SCENARIOS):
        if only and not any(o.lower() in fault.lower() for o in only):
            continue
        row = Row(fault, injected)
        notes = []
        for r in range(runs):
            t0 = time.perf_counter()
            try:
                completed, identical, note = scenario(work / f"s{i}", cache, world, r)
            except Exception as e:  # a scenario that breaks is a failed row, not a crash
                completed, identical, note = False, False, f"{type(e).__name__}: {e}"[:300]
            row.seconds += time.perf_counter() - t0
            row.tried += 1
            row.completed += completed
            row.identical += identical
            notes.append(note)
            print(f"[bench faults] {fault} run {r + 1}: completed={completed} "
                  f"identical={identical} ({note})", file=sys.stderr)
        unique = list(dict.fromkeys(notes))
        row.notes = "; ".join(unique) if len(unique) <= 3 else "; ".join(unique[:3]) + "; ..."
        row.measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        rows.append(row)
    return _merge(work / "rows.json", rows)


def _merge(path: Path, rows: list[Row]) -> list[Row]:
    """The rows of this invocation, plus those of earlier ones (``--only``) kept in ``path``;
    in the order of :data:`SCENARIOS`."""
    from dataclasses import asdict

    stored = json.loads(path.read_text()) if path.exists() else {}
    stored.update({r.fault: asdict(r) for r in rows})
    path.write_text(json.dumps(stored, indent=1))
    order = [f for f, _, _ in SCENARIOS]
    return [Row(**stored[f]) for f in order if f in stored]


def render(rows: list[Row], command: str, facts: dict[str, str], total_s: float) -> str:
    table = markdown_table(
        ["fault", "injected", "runs tried", "completed", "outputs identical to a clean run",
         "mean s / run", "notes", "measured"],
        [(r.fault, r.injected, r.tried, r.completed, r.identical,
          f"{r.seconds / max(1, r.tried):.0f}", r.notes, r.measured) for r in rows])
    return "\n\n".join([
        SECTION,
        f"Written by `{command}` on {facts['date']} (this invocation {total_s / 60:.1f} min; "
        "rows of faults it did not run (`--only`) are kept from earlier invocations, see "
        f"*measured*); {facts['cpu']}, {facts['cores']}, {facts['ram']}.",
        "Every scenario uses real processes on loopback (`rs run` subprocesses, `rustac serve`, "
        "`dask scheduler` / `dask worker`); the machinery is `rs/testing/faults.py` and the "
        "same faults are tests in `tests/test_faults.py`. *Identical* compares file names, "
        "pixel arrays, NetCDF variables and item JSON without timing fields with a clean run "
        "(corrupt inputs: pixel arrays with a run where the broken file is absent); for the "
        "interrupted runs it also requires no staging folder, `.tmp` file or lock left and the "
        "published period up to date in the restart. See the docstring of `bench/faults.py`.",
        table,
    ]) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench faults",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per fault (3)")
    parser.add_argument("--only", action="append", help="faults whose name contains this")
    parser.add_argument("--work", type=Path, default=HERE / "_work" / "faults")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    command = "python -m bench faults " + shlex.join(sys.argv[2:] if argv is None else argv)
    t0 = time.perf_counter()
    rows = run(args.work.resolve(), args.runs, args.only)
    text = render(rows, command.strip(), machine_facts(), time.perf_counter() - t0)
    publish(text, SECTION, results=args.results, write=not args.no_write)


if __name__ == "__main__":
    main()
