"""A flaky HTTP proxy in front of the embedded STAC API, for the fault tests.

The proxy itself is library code (:class:`rs.testing.faults.FlakyProxy`, also used by
``python -m bench faults``); this module starts the real embedded API (``rustac serve`` on the
world's items, :class:`rs.sources.local.EmbeddedStacApi`) with the proxy in front of it. Only
the API goes through the proxy: the synthetic worlds' asset hrefs are ``file://``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from rs.sources.local import EmbeddedStacApi, build_api_files
from rs.testing.faults import FlakyProxy

__all__ = ["FlakyProxy", "flaky_api"]


@contextlib.contextmanager
def flaky_api(world_root: Path, api_dir: Path, *, fail_rate: float = 0.3, stall_s: float = 2.0,
              seed: int = 0) -> Iterator[FlakyProxy]:
    """The embedded STAC API on ``world_root`` behind a :class:`FlakyProxy` (``proxy.url``)."""
    files = build_api_files([world_root], api_dir)
    with EmbeddedStacApi(files) as api, FlakyProxy(
        api.url, fail_rate=fail_rate, stall_s=stall_s, seed=seed
    ) as proxy:
        yield proxy
