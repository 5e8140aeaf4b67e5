"""Where rs keeps generated data (the demo world, embedded STAC API files): one cache folder."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["api_files_dir", "cache_dir"]


def cache_dir() -> Path:
    """Where rs keeps generated data.

    ``$RS_CACHE_DIR``, else ``$XDG_CACHE_HOME/rs``, else ``~/.cache/rs``.
    """
    if env := os.environ.get("RS_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rs"


def api_files_dir(sources: Iterable[str | os.PathLike[str]]) -> Path:
    """``<cache>/api/<key>``: the folder for the embedded API files built from ``sources``.

    The key is a hash of the resolved source paths, so the same folder always maps to the
    same place (one source folder gives the same key the pipeline runner uses) and the
    user's data folders are never written to.
    """
    paths = [str(Path(s).expanduser().resolve()) for s in sources]
    return cache_dir() / "api" / hashlib.sha256("\n".join(paths).encode()).hexdigest()[:12]
