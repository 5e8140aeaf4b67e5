"""A headless Chromium for tests of self-contained HTML (the validation report, the run
report): Playwright's Chromium, else a system one (``.ci/run`` installs Debian's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _launch(p: Any) -> tuple[Any, list[str]]:
    """Playwright's Chromium, else a system one: (browser or None, why each try failed)."""
    errors = []
    try:
        return p.chromium.launch(args=["--no-sandbox"]), errors
    except Exception as e:  # any launch failure means: try the next browser
        errors.append(f"playwright's chromium: {str(e).splitlines()[0]}")
    candidates = [os.environ.get("RS_CHROMIUM")] + [
        shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")]
    for exe in candidates:
        if exe and Path(exe).exists():
            try:
                return p.chromium.launch(executable_path=exe, args=["--no-sandbox"]), errors
            except Exception as e:
                errors.append(f"{exe}: {str(e).splitlines()[0]}")
    return None, errors


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b, errors = _launch(p)
        if b is None:
            pytest.skip("no headless Chromium: run 'python -m playwright install chromium' or "
                        "'apt-get install chromium' (or set RS_CHROMIUM to a Chromium binary); "
                        + "; ".join(errors))
        yield b
        b.close()
