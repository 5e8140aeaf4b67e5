"""rs.pipeline.cluster: reaching a Dask scheduler, against real sockets and a real scheduler."""

from __future__ import annotations

import socket
import threading

import pytest
from distributed import LocalCluster

from rs.errors import ClusterError, exit_code_for
from rs.pipeline.cluster import dask_client, probe_scheduler


def _closed_port() -> int:
    """A loopback port that nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_probe_scheduler__refused_connection_raises_naming_address_and_fix() -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    # a 600 s timeout: only an immediate refusal lets this finish (the pytest timeout guards)
    with pytest.raises(ClusterError) as info:
        probe_scheduler(address, 600.0)
    message = str(info.value)
    assert f"cannot reach the Dask scheduler at {address}" in message
    assert "refused" in message
    assert "dask scheduler --port" in message and "--scheduler" in message
    assert exit_code_for(info.value) == 3


def test_dask_client__unreachable_scheduler_is_cluster_error_after_its_timeout() -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    # dask_client does not probe (the runner probes first): Dask's own timeout ends the wait
    with pytest.raises(ClusterError) as info, dask_client(address, timeout=1.0):
        pytest.fail("no client can exist for a closed port")
    message = str(info.value)
    assert f"cannot reach the Dask scheduler at {address} within 1 s" in message
    assert exit_code_for(info.value) == 3


def test_probe_scheduler__listening_port_passes_with_one_connection() -> None:
    accepted: list[tuple[str, int]] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def accept_one() -> None:
            conn, peer = server.accept()
            accepted.append(peer)
            conn.close()

        thread = threading.Thread(target=accept_one, daemon=True)
        thread.start()
        assert probe_scheduler(f"tcp://127.0.0.1:{port}", 5.0) is None
        thread.join(10)
    assert len(accepted) == 1


@pytest.mark.parametrize("address", ["tcp://", "tcp://127.0.0.1:notaport"])
def test_probe_scheduler__malformed_address_says_how_to_write_it(address: str) -> None:
    with pytest.raises(ClusterError, match="tcp://host:port"):
        probe_scheduler(address, 5.0)


def test_probe_scheduler__unknown_host_is_cluster_error() -> None:
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://no-such"):
        probe_scheduler("tcp://no-such-host.invalid:8786", 5.0)


def test_dask_client__reachable_scheduler_connects() -> None:
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        with dask_client(cluster.scheduler_address, timeout=30.0) as client:
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6


def test_dask_client__local_worker_processes_keep_dask_environment_plus_rs_malloc_setting(
) -> None:
    """rs's worker processes get glibc's mmap threshold back (see WORKER_ENVIRON) and keep
    what Dask sets (its trim threshold, one BLAS thread)."""
    import os

    from rs.pipeline.cluster import WORKER_ENVIRON

    def env() -> dict[str, str | None]:
        return {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_",
                                               "MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}

    with dask_client(workers=1, threads_per_worker=1, processes=True) as client:
        (got,) = client.run(env).values()
    assert got == {"MALLOC_MMAP_THRESHOLD_": WORKER_ENVIRON["MALLOC_MMAP_THRESHOLD_"],
                   "MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
