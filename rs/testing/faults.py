"""Fault injection for the fault tests and ``python -m bench faults`` (library code, loopback only).

- :class:`FlakyProxy`: a threaded HTTP proxy on 127.0.0.1 in front of a STAC API that fails a
  seeded share of requests (HTTP 502 / 503, connection reset, or a stall longer than the
  client's timeout) and forwards the others, rewriting the upstream's own URL in the answers
  (landing-page and ``next`` links) to its own, so every request goes through it. Only the API
  goes through the proxy: the synthetic worlds' asset hrefs are ``file://``.
- :func:`dask_processes`: a ``dask scheduler`` and ``dask worker`` processes (no nanny, so a
  killed worker stays dead) and their pids; :func:`blocks_done` counts finished block tasks on
  the scheduler.
- :func:`rs_run` / :func:`interrupt`: the real ``rs run`` in its own process group, signalled
  when a condition on the output folder holds.
- :func:`output_digest` / :func:`diff_outputs` / :func:`leftovers`: what a run published
  (pixel arrays, item JSON without timing fields, table contents, file names), compared with
  a clean run's, and what an interrupted run may have left (staging folders, ``.tmp`` files).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rs.testing.loopback import LoopbackHTTP
from rs.testing.world import inner_bbox

__all__ = [
    "FlakyProxy",
    "blocks_done",
    "composite_spec",
    "dask_processes",
    "diff_outputs",
    "flaky_api",
    "interrupt",
    "kill_busy_worker",
    "leftovers",
    "output_digest",
    "rs_run",
    "wait_for",
    "worker_of",
]

#: Item properties that differ between two runs of the same inputs (the time of writing).
TIMING_FIELDS = ("created", "updated")

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
                "proxy-connection", "te", "trailer", "upgrade", "content-encoding"}


# --------------------------------------------------------------------------- flaky proxy


@dataclass
class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` that fails ``fail_rate`` of requests.

    A failing request gets, with equal odds, HTTP 502, HTTP 503, a connection reset (RST before
    any answer) or a stall of ``stall_s`` seconds before the connection is closed (give the
    client a timeout below it). Decisions come from ``random.Random(seed)`` in arrival order.
    ``counts`` tallies what each request got (``ok``, ``502``, ``503``, ``reset``, ``stall``).
    """

    upstream: str
    fail_rate: float = 0.3
    stall_s: float = 2.0
    seed: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.upstream = self.upstream.rstrip("/")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._http = LoopbackHTTP(self._handler())
        self._stop = self._http.stop

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        return self.requests - self.counts["ok"]

    def _decide(self) -> str:
        with self._lock:
            r = self._rng.random()
            kind = "ok"
            if r < self.fail_rate:
                kind = ("502", "503", "reset", "stall")[int(r / self.fail_rate * 4) % 4]
            self.counts[kind] += 1
            return kind

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        up = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_HEADERS]
            return resp.status, kept, data.replace(self.upstream.encode(), self.url.encode())
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _fail(self, kind: str) -> None:
                if kind == "reset":  # RST: SO_LINGER with a zero timeout, then close
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif kind == "stall":
                    proxy._stop.wait(proxy.stall_s)
                else:
                    payload = json.dumps({"code": "BadGateway", "description": "flaky"}).encode()
                    self.send_response(int(kind))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                self.close_connection = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                kind = proxy._decide()
                if kind != "ok":
                    self._fail(kind)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                status, kept, data = proxy._forward(self.command, self.path, headers, body)
                self.send_response(status)
                for k, v in kept:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

        return Handler

    def __enter__(self) -> FlakyProxy:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()


@contextlib.contextmanager
def flaky_api(world_root: Path, api_dir: Path, *, fail_rate: float = 0.3, stall_s: float = 2.0,
              seed: int = 0) -> Iterator[FlakyProxy]:
    """The embedded STAC API (``rustac serve``) on the items under ``world_root`` behind a
    :class:`FlakyProxy`; give the spec's STAC source ``url: proxy.url`` and a timeout below
    ``stall_s``."""
    from rs.sources.local import EmbeddedStacApi, build_api_files

    files = build_api_files([world_root], api_dir)
    with EmbeddedStacApi(files) as api, FlakyProxy(
        api.url, fail_rate=fail_rate, stall_s=stall_s, seed=seed
    ) as proxy:
        yield proxy


# --------------------------------------------------------------------------- specs


def composite_spec(world: Any, out: Path, path: Path, source: dict[str, Any] | None = None,
                   periods: int = 1, block_size: int = 32) -> Path:
    """Write a spec ``f``: composite ``comp`` (red, green, blue, nir + NDVI) of a synthetic
    world for one period (``before``) or two (``before``, ``after``); the embedded API on the
    world's folder unless ``source`` is given."""
    import yaml

    all_periods = {"before": {"start": "2021-05-01", "end": "2021-09-30"},
                   "after": {"start": "2022-04-01", "end": "2022-09-30"}}
    spec = {
        "name": "f",
        "aoi": inner_bbox(world),
        "sources": {"s2": source or {"embedded": str(world.root),
                                     "collections": ["sentinel-2-l2a"]}},
        "periods": dict(list(all_periods.items())[:periods]),
        "steps": [{"id": "comp", "kind": "composite", "bands": ["red", "green", "blue", "nir"],
                   "indices": ["ndvi"], "quicklook": False}],
        "output": str(out),
        "dask": {"workers": 1, "threads_per_worker": 2, "block_size": block_size},
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- dask processes


@dataclass
class DaskProcesses:
    """A running scheduler's address and its worker processes (``workers[i].pid``)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def dask_processes(tmp: Path, n_workers: int = 2, *,
                   nanny: bool = False) -> Iterator[DaskProcesses]:
    """``dask scheduler`` and ``n_workers`` single-thread ``dask worker`` processes on
    127.0.0.1, logs in ``tmp``; all stopped on exit. Without a ``nanny`` (the default here) a
    killed worker is not restarted; with one, workers run as Dask deploys them."""
    from distributed import Client

    bindir = Path(sys.executable).parent
    sched_file = tmp / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        log = open(tmp / "scheduler.log", "wb")  # noqa: SIM115
        logs.append(log)
        procs.append(subprocess.Popen(
            [str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(sched_file)],
            stdout=log, stderr=subprocess.STDOUT))
        wait_for(lambda: sched_file.exists() and sched_file.stat().st_size > 0, 60,
                 what="the Dask scheduler file", proc=procs[0])
        time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(n_workers):
            wlog = open(tmp / f"worker{i}.log", "wb")  # noqa: SIM115
            logs.append(wlog)
            procs.append(subprocess.Popen(
                [str(bindir / "dask"), "worker", address, "--nthreads", "1",
                 "--nanny" if nanny else "--no-nanny", "--host", "127.0.0.1",
                 "--no-dashboard", "--name", f"w{i}", "--memory-limit", "2GiB"],
                stdout=wlog, stderr=subprocess.STDOUT))
        with Client(address, timeout=60) as c:
            c.wait_for_workers(n_workers, timeout=60)
        yield DaskProcesses(address, procs[0], procs[1:])
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=20)
        for f in logs:
            f.close()


def _count_done(dask_scheduler: Any, prefix: str) -> int:  # runs on the scheduler
    tp = dask_scheduler.task_prefixes.get(prefix)
    if tp is None:
        return 0
    return int(tp.state_counts.get("memory", 0) + tp.state_counts.get("released", 0)
               + tp.state_counts.get("forgotten", 0))


def blocks_done(client: Any, prefix: str) -> int:
    """Tasks of key prefix ``prefix`` (e.g. ``rs-comp``) the scheduler has seen finish."""
    return int(client.run_on_scheduler(_count_done, prefix=prefix))


def worker_of(client: Any, pid: int) -> str | None:
    """The address of the worker process ``pid``, once it has registered."""
    for addr, wpid in client.run(os.getpid).items():
        if wpid == pid:
            return str(addr)
    return None


def kill_busy_worker(client: Any, cluster: DaskProcesses, prefix: str, *, after: int,
                     timeout: float, proc: subprocess.Popen[Any] | None = None) -> int:
    """Once ``after`` tasks of key prefix ``prefix`` have finished, SIGKILL a worker process of
    ``cluster`` that is computing one; returns how many had finished. :func:`wait_for`'s
    ``RuntimeError`` when ``proc`` ends first or nothing is in progress within ``timeout``."""
    busy: list[str] = []

    def victim_busy() -> bool:
        if blocks_done(client, prefix) < after:
            return False
        busy[:] = [w for w, keys in client.processing().items()
                   if any(str(k).startswith(prefix) for k in keys)]
        return bool(busy)

    wait_for(victim_busy, timeout, what="a block in progress", proc=proc)
    done = blocks_done(client, prefix)
    victim = next(p for p in cluster.workers if worker_of(client, p.pid) == busy[0])
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    return done


# --------------------------------------------------------------------------- rs run processes


def wait_for(cond: Callable[[], bool], timeout: float, *, what: str,
             proc: subprocess.Popen[Any] | None = None, poll: float = 0.02) -> None:
    """Poll ``cond`` until true; raise ``TimeoutError`` (or ``RuntimeError`` when ``proc``
    ended first) naming ``what``."""
    end = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process ended ({proc.returncode}) before {what}")
        if time.monotonic() > end:
            raise TimeoutError(f"{what} not seen within {timeout:g} s")
        time.sleep(poll)


@contextlib.contextmanager
def rs_run(spec: Path, *args: str, cache: Path | None = None, log: Path | None = None
           ) -> Iterator[subprocess.Popen[bytes]]:
    """``rs run SPEC --quiet *args`` in its own process group (stderr to ``log``); the whole
    group is killed on exit, so no embedded STAC API of a killed run is left behind."""
    exe = Path(sys.executable).parent / "rs"
    env = {**os.environ, **({"RS_CACHE_DIR": str(cache)} if cache else {})}
    err = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen([str(exe), "run", str(spec), "--quiet", *args],
                            stdout=subprocess.DEVNULL, stderr=err, env=env,
                            start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if log:
            err.close()  # type: ignore[union-attr]


def mid_build(out: Path, published: int = 1) -> Callable[[], bool]:
    """True once ``published`` items are in ``out/items`` and a later step is staging files."""
    def cond() -> bool:
        items = list((out / "items").glob("*.json")) if (out / "items").is_dir() else []
        staged = any(f.is_file() for d in out.glob(".rs-staging-*") for f in d.iterdir())
        return len(items) >= published and staged
    return cond


def interrupt(spec: Path, out: Path, sig: signal.Signals, *, cache: Path | None = None,
              when: Callable[[], bool] | None = None, timeout: float = 600) -> int | None:
    """Run ``rs run SPEC`` and send ``sig`` once ``when`` holds (default :func:`mid_build`):
    SIGTERM to the rs process (as systemd's stop does), SIGKILL to its whole process group (as
    power loss does). The exit status, or None when the run ended before the condition."""
    cond = when or mid_build(out)
    with rs_run(spec, cache=cache) as proc:
        try:
            wait_for(cond, timeout, what="the moment to interrupt", proc=proc)
        except RuntimeError:
            return None
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(sig)
        return proc.wait(timeout=300)


# --------------------------------------------------------------------------- outputs


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _raster(path: Path) -> dict[str, Any]:
    import rasterio

    with rasterio.open(path) as ds:
        arr = ds.read()
        return {"pixels": _sha(arr.tobytes()), "dtype": str(arr.dtype), "shape": arr.shape,
                "crs": str(ds.crs), "transform": tuple(ds.transform)[:6],
                "nodata": repr(ds.nodata), "tags": ds.tags()}


def _netcdf(path: Path) -> dict[str, Any]:
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return {str(k): _sha(v.values.tobytes()) for k, v in ds.variables.items()}


def _table(path: Path) -> str:
    if path.suffix == ".gpkg":
        import pyogrio

        return _sha(pyogrio.read_dataframe(path).to_json().encode())
    import pyarrow.parquet as pq

    return _sha(repr(pq.read_table(path).to_pylist()).encode())


def _item(path: Path, replace: dict[str, str]) -> Any:
    text = path.read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    item = json.loads(text)
    for k in TIMING_FIELDS:
        item.get("properties", {}).pop(k, None)
    return item


def output_digest(out: Path, *, replace: dict[str, str] | None = None) -> dict[str, Any]:
    """What ``out`` holds besides run reports and the lock, per file relative to ``out``: the
    pixel arrays, grid and tags of a raster, the variables of a NetCDF, the rows of a table, an
    item's JSON without its timing fields (after the string replacements ``replace``, e.g. a
    proxy's URL), the bytes of anything else."""
    replace = {str(out): "<out>", **(replace or {})}
    files: dict[str, Any] = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_dir() or rel.startswith("reports/") or rel == ".rs-run.lock":
            continue
        if p.suffix == ".tif" and not p.name.startswith("."):
            files[rel] = _raster(p)
        elif p.suffix == ".nc" and not p.name.startswith("."):
            files[rel] = _netcdf(p)
        elif p.suffix in (".parquet", ".gpkg") and not p.name.startswith("."):
            files[rel] = _table(p)
        elif p.suffix == ".json" and not p.name.startswith("."):
            files[rel] = _item(p, replace)
        else:
            files[rel] = _sha(p.read_bytes())
    return files


def diff_outputs(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """What differs between two :func:`output_digest` s (empty: identical)."""
    out = [f"extra file {k}" for k in sorted(set(got) - set(want))]
    out += [f"missing file {k}" for k in sorted(set(want) - set(got))]
    out += [f"{k} differs" for k in sorted(set(got) & set(want)) if got[k] != want[k]]
    return out


def leftovers(out: Path) -> list[str]:
    """Staging folders, temporary files and a lock file left in ``out``."""
    found = [p for p in out.rglob("*") if p.name.startswith((".rs-staging-", ".rs-write-probe"))
             or p.name.endswith((".tmp", ".tmp.tif", ".tmp.gpkg")) or p.name == ".rs-run.lock"]
    return sorted(p.relative_to(out).as_posix() for p in found)
