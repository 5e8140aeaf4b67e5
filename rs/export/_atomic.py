"""Atomic file placement: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import contextlib
import glob
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from rs.errors import OutputError

__all__ = ["atomic_path", "check_writable"]


@contextlib.contextmanager
def atomic_path(target: Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    On any exception the temporary file is removed and ``target`` is left as it was. ``suffix``
    ends the temporary name, for drivers that insist on an extension (``".tmp.gpkg"``); files a
    driver left beside the temporary one (``-journal``, ``.aux.xml``) are removed too.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        for p in [tmp, *map(Path, glob.glob(glob.escape(str(tmp)) + "*"))]:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def check_writable(folder: Path) -> Path:
    """Create ``folder`` if needed and prove it is writable, or raise :class:`OutputError`."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rs-write-probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputError(
            f"output folder {folder} is not writable ({e.strerror or e}): "
            "choose another folder with --output or fix its permissions"
        ) from e
    return folder
