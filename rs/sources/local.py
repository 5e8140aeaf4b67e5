"""The embedded STAC API: build a catalog from local files and serve it with ``rustac serve``.

Two steps, usable apart:

1. :func:`build_api_files` turns folders of STAC Item JSON (such as the synthetic world of
   :mod:`rs.testing`: ``<root>/<collection>/<item_id>/<item_id>.json``) and bare GeoTIFF
   files into one Collection JSON per collection plus one items FeatureCollection JSON.
   It lives in :mod:`rs.sources._catalog` and is re-exported here, with :class:`ApiFiles`,
   :func:`item_from_geotiff` and :data:`DEFAULT_COLLECTION`.
2. :class:`EmbeddedStacApi` runs ``rustac serve`` on those files on a free loopback port as
   a managed subprocess; :func:`rs.sources.stac.search_items` then searches it like any API.

:func:`serve_forever` does both for the ``rs serve PATH`` command.

Gotchas handled here (those of building the files are listed in :mod:`rs.sources._catalog`):

- ``rustac``'s console script is a Python wrapper that runs the Rust server in-process: one
  process, which SIGTERM ends at once (no Python handler is installed for it).
- The in-memory backend does not advertise the Query extension and answers ``query=`` with
  zero items; :mod:`rs.sources.stac` therefore never sends it there.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

from rs._cache import api_files_dir
from rs.errors import LocalSourceError, ServerError
from rs.sources._catalog import (
    DEFAULT_COLLECTION,
    ApiFiles,
    build_api_files,
    item_from_geotiff,
)
from rs.sources._http import get_json, probe

__all__ = [
    "DEFAULT_COLLECTION",
    "ApiFiles",
    "EmbeddedStacApi",
    "build_api_files",
    "find_rustac",
    "item_from_geotiff",
    "serve_forever",
]

def find_rustac(executable: str | os.PathLike[str] | None = None) -> Path:
    """The ``rustac`` executable: ``executable`` if given, else next to ``sys.executable``
    (the active virtualenv), else on ``PATH``.

    Raises:
        ServerError: it cannot be found.
    """
    if executable is not None:
        path = Path(executable)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ServerError(f"rustac executable {path} does not exist or is not executable")
    name = "rustac.exe" if os.name == "nt" else "rustac"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("rustac")
    if found:
        return Path(found)
    raise ServerError(
        f"cannot find the rustac executable (looked next to {sys.executable} and on PATH); "
        "install it into this environment with `pip install rustac`"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the system's pick; closed again before returning)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


_LIVE: set[EmbeddedStacApi] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:
    """Fallback at interpreter exit: stop every server this process still runs."""
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        server.stop(grace=2.0)


class EmbeddedStacApi:
    """``rustac serve`` on :class:`ApiFiles` as a managed subprocess on a loopback port.

    Use as a context manager (``with EmbeddedStacApi(files) as api: api.url``) or call
    :meth:`start` / :meth:`stop`. :meth:`start` returns once ``GET /`` and
    ``GET /collections`` answer 200. Without an explicit ``port`` a free one is picked, and a
    lost race for it (another process bound it first) is retried on a new port. Servers still
    running when the interpreter exits are stopped by an ``atexit`` hook.
    """

    def __init__(
        self,
        files: ApiFiles,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 30.0,
        executable: str | os.PathLike[str] | None = None,
        port_attempts: int = 3,
    ) -> None:
        self.files = files
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.executable = executable
        self.port_attempts = 1 if port is not None else max(1, port_attempts)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Root URL of the running API, e.g. ``http://127.0.0.1:54321``."""
        if self.process is None or self.port is None:
            raise ServerError("the embedded STAC API is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, limit: int = 2000) -> str:
        """The last ``limit`` bytes the server wrote to stdout/stderr."""
        if self._log is None:
            return ""
        fd = self._log.fileno()
        size = os.fstat(fd).st_size
        # pread: the child shares this file offset, so never seek it
        return os.pread(fd, limit, max(0, size - limit)).decode("utf-8", "replace").strip()

    def start(self) -> EmbeddedStacApi:
        """Start the server and wait until it answers. Raises :class:`ServerError`."""
        if self.running:
            return self
        exe = find_rustac(self.executable)
        hrefs = [str(p) for p in (*self.files.collections, self.files.items)]
        fixed_port = self.port
        for attempt in range(self.port_attempts):
            port = fixed_port if fixed_port is not None else free_port(self.host)
            self._spawn(exe, port, hrefs)
            try:
                self._wait_ready()
                return self
            except ServerError:
                tail = self.log_tail()
                self.stop()
                address_taken = "address already in use" in tail.lower()
                if address_taken and attempt + 1 < self.port_attempts:
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self, exe: Path, port: int, hrefs: list[str]) -> None:
        self.port = port
        # lives as long as the server, closed in stop()
        self._log = tempfile.TemporaryFile(prefix="rs-rustac-")  # noqa: SIM115
        cmd = [str(exe), "serve", "--addr", f"{self.host}:{port}", *hrefs]
        try:
            self.process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
            )
        except OSError as e:
            self._log.close()
            self._log = None
            raise ServerError(f"cannot run {exe}: {e}") from e
        with _LIVE_LOCK:
            _LIVE.add(self)

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.05
        while True:
            code = self.process.poll()
            if code is not None:
                raise ServerError(
                    f"rustac serve exited with code {code} while starting on {self.url}; "
                    f"its output ends with:\n{self.log_tail()}"
                )
            if probe(self.url + "/") == 200 and probe(self.url + "/collections") == 200:
                if self._serves_our_collections():
                    return
                # another server answers on this port (a race for a free port): ours will exit
                # with "address already in use", which start() retries on a new port
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(5)
                raise ServerError(
                    f"another server answers on {self.url}; its output ends with:\n"
                    f"{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"rustac serve did not answer on {self.url} within {self.startup_timeout} s; "
                    f"its output ends with:\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _serves_our_collections(self) -> bool:
        """Whether the API on our port lists exactly the collections we asked it to serve."""
        expected = set()
        for path in self.files.collections:
            with contextlib.suppress(OSError, ValueError):
                expected.add(json.loads(Path(path).read_text(encoding="utf-8"))["id"])
        body = get_json(self.url + "/collections")
        served = {c.get("id") for c in (body or {}).get("collections", [])}
        return served == expected

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the server, kill it after ``grace`` seconds, and reap it. Idempotent."""
        proc, self.process = self.process, None
        try:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(grace)
        except subprocess.TimeoutExpired as e:
            raise ServerError(f"rustac serve (pid {proc.pid if proc else '?'}) did not exit") from e
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            if self._log is not None and proc is not None:
                self._log.close()
                self._log = None

    def wait(self) -> int:
        """Block until the server process exits (e.g. for ``rs serve``); its exit code."""
        if self.process is None:
            raise ServerError("the embedded STAC API is not running")
        return self.process.wait()

    def __enter__(self) -> EmbeddedStacApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<EmbeddedStacApi {state}>"


def serve_forever(
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    port: int | None = None,
    collection_id: str | None = None,
    out_dir: Path | None = None,
) -> EmbeddedStacApi:
    """Build the API files from ``path`` and start serving them; for ``rs serve PATH``.

    Files go to ``out_dir``, by default a folder of rs's cache keyed by the served paths
    (:func:`rs._cache.api_files_dir`): the served data folders are only read, never written.
    Prints nothing. Returns the *running* server: print ``server.url``, then
    ``server.wait()`` and call ``server.stop()`` on Ctrl-C (an atexit hook is a fallback).

    Raises:
        LocalSourceError: a path is missing or is not STAC Item JSON / a dated GeoTIFF.
        OutputError: the API files cannot be written (set ``RS_CACHE_DIR`` elsewhere).
        ServerError: ``rustac serve`` cannot be started.
    """
    paths = [Path(path)] if isinstance(path, str | os.PathLike) else [Path(p) for p in path]
    if not paths:
        raise LocalSourceError("nothing to serve: give a folder, item JSON or GeoTIFF")
    target = out_dir if out_dir is not None else api_files_dir(paths)
    files = build_api_files(paths, target, collection_id=collection_id)
    return EmbeddedStacApi(files, port=port).start()
