"""A real Dask scheduler and worker processes on loopback, for tests
(:func:`rs.testing.faults.dask_processes`, with nannies, as Dask deploys workers)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from rs.testing.faults import dask_processes as _dask_processes


@contextlib.contextmanager
def dask_processes(tmp: Path, n_workers: int = 2) -> Iterator[str]:
    """Start ``dask scheduler`` and ``n_workers`` ``dask worker`` processes; yield the address."""
    with _dask_processes(tmp, n_workers, nanny=True) as cluster:
        yield cluster.address
