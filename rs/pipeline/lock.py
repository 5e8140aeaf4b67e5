"""The run lock: one run at a time writes into an output folder.

``<output>/.rs-run.lock`` is held with ``flock`` (an exclusive, non-blocking lock on the open
file) for the whole run and holds who took it: pid, host, start time (UTC) and spec path, so
the refusal of a second run can say who is running. The kernel drops a ``flock`` when its
process ends however it ends, so a run killed with SIGKILL (or a machine that rebooted) leaves
a lock file whose lock nobody holds: the next run takes it over, and says so (:attr:`RunLock.stale`
is what the dead run had written). A run that ends normally, fails or gets SIGTERM (the CLI
turns it into ``SystemExit``) removes the file on the way out.

Taking the lock: open (create) the file, ``flock(LOCK_EX | LOCK_NB)``, then check that the path
still names the file locked (a run that was releasing it may have removed it in between;
then try again), then write this run's record into it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from rs.errors import OutputError, RsWarning, RunLockedError

__all__ = ["LOCK_NAME", "RunLock", "pid_alive", "read_lock", "run_lock"]

LOCK_NAME = ".rs-run.lock"

#: The temporary name :func:`rs.export._atomic.atomic_path` writes before its rename
#: (``.<target name>.<8 hex>.tmp[...]``). Only lock holders write items, the catalog and
#: reports, so such a file found under the lock is a killed run's.
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\..*)?$")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def read_lock(path: Path) -> dict[str, Any]:
    """The record in a lock file (empty when absent, empty or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _who(rec: dict[str, Any]) -> str:
    if not rec:
        return "an unknown process"
    return (
        f"pid {rec.get('pid')} on host {rec.get('host')}, started {rec.get('started')}"
        f" (spec {rec.get('spec')})"
    )


class RunLock:
    """The lock of the output folder ``out_dir``, a context manager for one run.

    Entering raises :class:`~rs.errors.RunLockedError` when another live run holds it and
    :class:`~rs.errors.OutputError` when the folder's file system cannot lock files.
    """

    def __init__(self, out_dir: Path, spec: str | Path | None = None) -> None:
        self.path = Path(out_dir) / LOCK_NAME
        self.spec = str(spec) if spec is not None else None
        self.record: dict[str, Any] = {}
        #: what a run that died holding the lock had written (empty if the lock was free)
        self.stale: dict[str, Any] = {}
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                rec = read_lock(self.path)
                raise RunLockedError(
                    f"another rs run is writing to {self.path.parent}: {_who(rec)}; it holds "
                    f"{self.path}. Wait for it to finish (this run did nothing); if no such run "
                    "exists the lock is released by itself, nothing needs deleting"
                ) from None
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise OutputError(
                        f"cannot lock {self.path}: the file system of the output folder does not "
                        f"support file locks ({e.strerror}); use a local or lock-capable folder"
                    ) from e
                raise
            try:  # the path may have been unlinked by the run that released it meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        try:  # a SIGTERM (SystemExit) while writing the record must not leave the file
            self.stale = _parse(os.read(fd, 65536))
            self.record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "spec": self.spec,
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(self.record) + "\n").encode(), 0)
            os.fsync(fd)
        except BaseException:
            self.release()
            raise
        return self

    def stale_message(self) -> str:
        """One line on the lock taken over, for the log ('' if there was none)."""
        if not self.stale:
            return ""
        pid, host = self.stale.get("pid"), self.stale.get("host")
        gone = (
            f"; pid {pid} is no longer running"
            if host == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid)
            else ""
        )
        return (
            f"took over the stale lock {self.path} of a run that ended without releasing it "
            f"(killed or crashed): {_who(self.stale)}{gone}"
        )

    def release(self) -> None:
        if self._fd is None:
            return
        try:  # remove while still holding it: a waiting run then re-opens a fresh file
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return {"unreadable": raw[:200].decode("utf-8", errors="replace")}
    return data if isinstance(data, dict) else {"unreadable": str(data)[:200]}


@contextlib.contextmanager
def run_lock(out_dir: Path, spec: str | Path | None = None) -> Iterator[dict[str, Any]]:
    """Hold the lock of ``out_dir`` for one run; yields what the run report records of it.

    A stale lock taken over is an :class:`~rs.errors.RsWarning` (the CLI prints it even with
    ``--quiet``) and ``stale`` in the record. Under the lock no other run writes into the
    folder, so staging folders found there (``.rs-staging-*``) are a dead run's: they are
    removed and listed (``removed_staging``), and so are the temporary files of atomic writes
    a killed run was in the middle of (``removed_temporary``).
    """
    with RunLock(out_dir, spec) as lock:
        info: dict[str, Any] = {"path": str(lock.path), **lock.record}
        if lock.stale:
            warnings.warn(lock.stale_message(), RsWarning, stacklevel=3)
            info["stale"] = lock.stale
        left = sorted(Path(out_dir).glob(".rs-staging-*"))
        for folder in left:
            shutil.rmtree(folder, ignore_errors=True)
        if left:
            info["removed_staging"] = [f.name for f in left]
        if temporary := _remove_temporary(Path(out_dir)):
            info["removed_temporary"] = temporary
        yield info


def _remove_temporary(out_dir: Path) -> list[str]:
    """Remove what a run killed inside an atomic write left (a temporary file beside the item,
    catalog or report it was writing) from ``out_dir``, ``items/`` and ``reports/``; their
    paths relative to ``out_dir``. Only called under the lock: no live run is writing them."""
    removed = []
    for folder in (out_dir, out_dir / "items", out_dir / "reports"):
        with contextlib.suppress(OSError):
            for f in sorted(folder.iterdir()):
                if _TEMPORARY.match(f.name) and f.is_file():
                    with contextlib.suppress(FileNotFoundError):
                        f.unlink()
                    removed.append(f.relative_to(out_dir).as_posix())
    return removed
