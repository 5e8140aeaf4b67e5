"""Running the real ``rs`` command on a spec, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def run_rs(rs_cache: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``rs *args`` in a subprocess with the test session's cache; the completed process."""
    exe = Path(sys.executable).parent / "rs"
    env = {**os.environ, "RS_CACHE_DIR": str(rs_cache), "COLUMNS": "200"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)


def run_spec(spec: dict[str, Any], path: Path, rs_cache: Path) -> None:
    """Write ``spec`` to ``path`` and ``rs run`` it; fails the test with the output's end
    unless the run succeeds."""
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    done = run_rs(rs_cache, "run", str(path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
