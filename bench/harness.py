"""Benchmark plumbing: run a command in a fresh process, time it, sample its memory, format tables.

Each measured run is one subprocess. The parent samples the resident set size (RSS) of the child
and of all its descendants (Dask worker processes, the embedded STAC API server) every
``SAMPLE_S`` seconds with psutil and keeps the peak of the sum. Summing RSS counts pages shared
between processes more than once, so the figure is an upper bound of the real footprint.

The child reports what it measured itself (work time excluding interpreter start-up and imports,
stage timings, output shape) as one JSON object on the last line of its stdout that starts with
``RESULT_PREFIX``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "RESULT_PREFIX",
    "Measurement",
    "Summary",
    "emit_result",
    "machine_facts",
    "markdown_table",
    "mib",
    "python_cmd",
    "run_measured",
    "summarise",
]

SAMPLE_S = 0.05
RESULT_PREFIX = "BENCH-RESULT "
MIB = 2**20
KEY_PACKAGES = (
    "numpy",
    "xarray",
    "dask",
    "distributed",
    "odc-stac",
    "odc-geo",
    "rasterio",
    "pystac",
    "pystac-client",
    "psutil",
)


@dataclass(frozen=True)
class Measurement:
    """One measured subprocess run."""

    process_s: float  # wall clock of the whole subprocess, interpreter start to exit
    peak_rss: int  # bytes, peak of the summed RSS of the process tree
    result: dict[str, Any] = field(default_factory=dict)  # what the child reported

    @property
    def work_s(self) -> float:
        """Wall clock of the work alone as the child measured it (no start-up, no imports)."""
        return float(self.result.get("work_s", self.process_s))


@dataclass(frozen=True)
class Summary:
    """Repetitions of one variant: best (minimum) work time and the spread."""

    runs: tuple[Measurement, ...]

    @property
    def best_s(self) -> float:
        return min(m.work_s for m in self.runs)

    @property
    def worst_s(self) -> float:
        return max(m.work_s for m in self.runs)

    @property
    def spread_pct(self) -> float:
        """(worst - best) / best, in percent."""
        return 100.0 * (self.worst_s - self.best_s) / self.best_s if self.best_s else 0.0

    @property
    def best_process_s(self) -> float:
        return min(m.process_s for m in self.runs)

    @property
    def peak_rss(self) -> int:
        """The largest peak over the repetitions (the conservative figure)."""
        return max(m.peak_rss for m in self.runs)

    @property
    def best(self) -> Measurement:
        return min(self.runs, key=lambda m: m.work_s)


def summarise(runs: Sequence[Measurement]) -> Summary:
    if not runs:
        raise ValueError("no runs to summarise")
    return Summary(tuple(runs))


def emit_result(result: dict[str, Any]) -> None:
    """Called by a child: print its result for :func:`run_measured` to pick up."""
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a worker that just exited
            continue
    return total


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = SAMPLE_S) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _tree_rss(self.proc))
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def run_measured(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 3600.0,
) -> Measurement:
    """Run ``cmd`` in a fresh process; return its wall time, peak tree RSS and reported result.

    ``env`` adds to (or overrides) this process's environment. The child's stderr passes
    through (progress); its stdout is captured and searched for the result line. A non-zero
    exit raises ``RuntimeError`` with the end of its output.
    """
    t0 = time.perf_counter()
    child_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(list(cmd), env=child_env, stdout=subprocess.PIPE, text=True)
    sampler = _Sampler(proc.pid)
    sampler.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        sampler.stop()
        raise RuntimeError(f"{' '.join(cmd)} took longer than {timeout:.0f} s") from None
    elapsed = time.perf_counter() - t0
    peak = sampler.stop()
    if proc.returncode != 0:
        tail = "\n".join(out.splitlines()[-20:])
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{tail}")
    result: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
    if not result:
        raise RuntimeError(f"{' '.join(cmd)} printed no {RESULT_PREFIX.strip()} line")
    return Measurement(process_s=elapsed, peak_rss=peak, result=result)


def machine_facts() -> dict[str, str]:
    """Cores, RAM, CPU model, OS, Python and key library versions, and the date."""
    versions = []
    for name in KEY_PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        import rasterio

        versions.append(f"GDAL {rasterio.__gdal_version__}")
    except ImportError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": f"{psutil.cpu_count(logical=True)} logical / "
        f"{psutil.cpu_count(logical=False)} physical (usable: {len(os.sched_getaffinity(0))})",
        "ram": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": ", ".join(versions),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table (cells converted with ``str``)."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def mib(n: int) -> str:
    return f"{n / MIB:,.0f} MiB"


def python_cmd(module: str, *args: str) -> list[str]:
    """``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the section starting at ``heading`` in ``path`` (up to the next ``## ``
    heading) with ``section``, or append it. Other sections and the notes are kept."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find(heading)
    if start < 0:
        new = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = text.find("\n## ", start + len(heading))
        rest = "" if end < 0 else text[end:]
        new = text[:start] + section.rstrip("\n") + "\n" + rest
    path.write_text(new, encoding="utf-8")


def publish(text: str, heading: str, *, results: Path, out: Path | None = None,
            write: bool = True) -> None:
    """Print a benchmark's section, copy it to ``out`` if given, and replace its ``heading``
    section of ``results`` (bench/RESULTS.md) unless ``write`` is False."""
    print(text)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    if write:
        write_section(results, heading, text)
        print(f"[bench] wrote {results}", file=sys.stderr)


def best_of(reps: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The best wall time of ``reps`` calls of ``fn`` and the last result."""
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out
