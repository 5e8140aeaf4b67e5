"""The one place rs creates a Dask client: a LocalCluster, or an existing cluster by address."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator

import dask
from distributed import Client, LocalCluster
from distributed.comm.addressing import parse_address, parse_host_port

from rs.errors import ClusterError

__all__ = ["dask_client", "probe_scheduler"]

#: Port of a Dask scheduler address given without one (Dask's default).
DEFAULT_SCHEDULER_PORT = 8786
#: Environment of rs's local worker processes, added to Dask's. Dask sets glibc's
#: ``MALLOC_TRIM_THRESHOLD_`` (64 KiB, so freed memory goes back to the system), and setting any
#: malloc threshold turns off glibc's adaptive mmap threshold: every allocation over 128 KiB
#: becomes its own mmap, faulted in page by page and unmapped on free. Per-polygon arrays of
#: exactextract and numpy then cost 1.4x the time of the same work in a plain process
#: (measured once: zonal_stats of 1,250 polygons over a 10,000² COG, 7.5 s without the trim
#: setting, 10.9 s with it, 7.7 s with both); arrays up to 4 MiB reuse the heap again, larger
#: ones are still returned to the system at once.
WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": str(4 * 2**20)}
_TCP_SCHEMES = ("tcp", "tls")


def probe_scheduler(address: str, timeout: float) -> None:
    """Fail fast when nothing listens at the Dask scheduler ``address`` (``tcp://host:port``).

    Opens (and closes) one plain TCP connection. A refused connection raises at once,
    instead of Dask retrying it for the whole connect timeout; an unknown host or a
    connection that does not complete within ``timeout`` seconds raises too. Schemes other
    than ``tcp``/``tls`` (e.g. ``inproc``, ``ucx``) are not probed.

    Raises:
        ClusterError: the address is malformed or the scheduler cannot be reached; the
            message names the address and what to check.
    """
    try:
        scheme, location = parse_address(address)
        if scheme not in _TCP_SCHEMES:
            return
        host, port = parse_host_port(location, default_port=DEFAULT_SCHEDULER_PORT)
    except (ValueError, TypeError) as e:
        raise ClusterError(
            f"{address!r} is not a Dask scheduler address ({e}); give it as tcp://host:port, "
            f"e.g. tcp://127.0.0.1:{DEFAULT_SCHEDULER_PORT}"
        ) from e
    if not host:
        raise ClusterError(
            f"{address!r} has no host; give the scheduler as tcp://host:port, "
            f"e.g. tcp://127.0.0.1:{DEFAULT_SCHEDULER_PORT}"
        )
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ConnectionRefusedError as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address}: the connection was refused "
            f"(nothing listens on port {port} of {host}). Start the scheduler there "
            f"(`dask scheduler --port {port}`) or fix the address given with --scheduler."
        ) from e
    except TimeoutError as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s: the "
            "connection did not complete. Check the address, that the scheduler is running "
            "and that no firewall blocks the port."
        ) from e
    except OSError as e:  # unknown host, no route, network down
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address}: {e}. Check the host name and "
            "your network."
        ) from e


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

    The scheduler is not probed here: callers probe it first with :func:`probe_scheduler`
    (the runner does, before any search), so a refused connection fails at once; here an
    unreachable scheduler fails after Dask's own ``timeout``.

    Raises:
        ClusterError: the scheduler cannot be reached within ``timeout`` seconds, or a local
            cluster cannot start.
    """
    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({e}): "
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
        environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}),
                   **WORKER_ENVIRON}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
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
