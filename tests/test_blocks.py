"""Block streaming on a real Dask cluster reassembles exactly the lazy array."""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster

from rs.pipeline.blocks import BlockTask, iter_blocks

from ._cluster import dask_processes


def array_tasks(stack: da.Array) -> list[BlockTask]:
    """One task per spatial chunk of a (layer, y, x) dask array (layers gathered per chunk)."""
    if stack.ndim != 3:
        raise ValueError(f"expected a (layer, y, x) array, got shape {stack.shape}")
    stack = stack.rechunk({0: -1})
    delayed = stack.to_delayed()  # shape (1, ny, nx)
    rows = [0, *accumulate(stack.chunks[1])][:-1]
    cols = [0, *accumulate(stack.chunks[2])][:-1]
    return [
        BlockTask(r, c, delayed[0, i, j]) for i, r in enumerate(rows) for j, c in enumerate(cols)
    ]


@pytest.fixture(scope="module")
def local_client():
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _reassemble(client: Client, stack: da.Array, **kw) -> tuple[np.ndarray, int]:
    out = np.full(stack.shape, np.nan, dtype=stack.dtype)
    seen = 0
    for b in iter_blocks(client, array_tasks(stack), **kw):
        _, h, w = b.data.shape
        assert np.isnan(out[:, b.row : b.row + h, b.col : b.col + w]).all(), "block written twice"
        out[:, b.row : b.row + h, b.col : b.col + w] = b.data
        seen += 1
    return out, seen


def test_iter_blocks__uneven_chunks_reassemble(local_client: Client) -> None:
    ref = np.random.default_rng(3).random((3, 250, 170)).astype("float32")
    stack = da.from_array(ref, chunks=(1, 64, 50)) * 2
    counts = []
    out, seen = _reassemble(local_client, stack, on_done=counts.append, max_in_flight=3)
    np.testing.assert_array_equal(out, ref * 2)
    assert seen == 4 * 4 == len(counts)


def test_iter_blocks__error_in_a_block_propagates(local_client: Client) -> None:
    def boom(x: np.ndarray) -> np.ndarray:
        if x[0, 0, 0] > 0.5:
            raise ValueError("bad block")
        return x

    ref = np.zeros((1, 40, 40), "float32")
    ref[0, 20:, 20:] = 1
    stack = da.from_array(ref, chunks=(1, 20, 20)).map_blocks(boom)
    with pytest.raises(ValueError, match="bad block"):
        _reassemble(local_client, stack)


def test_iter_blocks__on_separate_scheduler_and_worker_processes(tmp_path: Path) -> None:
    ref = np.arange(2 * 90 * 90, dtype="float32").reshape(2, 90, 90)
    with dask_processes(tmp_path, n_workers=2) as address, Client(address) as client:
        stack = da.from_array(ref, chunks=(1, 30, 30)) + 1
        out, seen = _reassemble(client, stack)
        workers = set(client.nthreads())
    np.testing.assert_array_equal(out, ref + 1)
    assert seen == 9
    assert len(workers) == 2


def _slow_plus_one(block: np.ndarray) -> np.ndarray:
    import time

    time.sleep(0.05)  # keeps tasks pending while the next ones are submitted
    return block + 1


@pytest.mark.parametrize("bound", [1, 3, None])
def test_iter_blocks__never_more_than_max_in_flight(
    local_client: Client, bound: int | None
) -> None:
    """Futures not done at once: the bound given, or by default (``None``, what the runtime's
    :meth:`Runtime.compute_blocks` uses) the cluster's threads plus one."""
    from rs.pipeline.context import Runtime

    ref = np.arange(4 * 60 * 60, dtype="float32").reshape(4, 60, 60)
    stack = da.from_array(ref, chunks=(4, 15, 15)).map_blocks(_slow_plus_one)
    alive: list = []
    peak = 0
    real_compute = local_client.compute

    def counting_compute(task, **kw):
        nonlocal peak
        alive[:] = [f for f in alive if not f.done()]
        fut = real_compute(task, **kw)
        alive.append(fut)
        peak = max(peak, len(alive))
        return fut

    local_client.compute = counting_compute  # type: ignore[method-assign]
    try:
        out = np.full(ref.shape, np.nan, dtype="float32")
        blocks = (
            Runtime(local_client).compute_blocks(array_tasks(stack), "test")
            if bound is None
            else iter_blocks(local_client, array_tasks(stack), max_in_flight=bound)
        )
        for b in blocks:
            _, h, w = b.data.shape
            out[:, b.row : b.row + h, b.col : b.col + w] = b.data
    finally:
        del local_client.compute
    np.testing.assert_array_equal(out, ref + 1)
    expected = bound if bound is not None else sum(local_client.nthreads().values()) + 1
    assert peak == expected, "as many in flight as allowed, never more"
