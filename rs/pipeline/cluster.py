"""The one place rs creates a Dask client: a LocalCluster, or an existing cluster by address."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from distributed import Client, LocalCluster

from rs.errors import ClusterError

__all__ = ["dask_client"]


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    workers: int = 1,
    threads_per_worker: int | None = None,
    memory_limit: str = "auto",
    processes: bool = False,
    timeout: float = 30.0,
) -> Iterator[Client]:
    """Yield a Dask client and close what was opened on exit.

    With ``scheduler`` (``tcp://host:port``) the existing cluster is used as it is; otherwise
    a LocalCluster of ``workers`` workers with ``threads_per_worker`` threads each (default: all
    cores shared among the workers) is started on loopback. Workers are threads of this process
    by default: reading (GDAL) and the reductions release the GIL, and results need no copy to
    the writer; ``processes=True`` isolates them in their own processes.
    """
    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:.0f} s: "
                "check the address and that the scheduler is running"
            ) from e
        try:
            yield client
        finally:
            client.close()
        return
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
    try:
        # threads talk over the in-process transport; worker processes over loopback TCP
        network = {"host": "127.0.0.1"} if processes else {}
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=processes,
            memory_limit=memory_limit,
            dashboard_address="127.0.0.1:0",  # loopback, any free port: never collides
            silence_logs=logging.CRITICAL,  # rs reports task errors itself
            **network,
        )
    except (OSError, TimeoutError, RuntimeError) as e:
        raise ClusterError(f"cannot start a local Dask cluster: {e}") from e
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()
