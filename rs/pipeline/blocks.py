"""Compute a lazy stack block by block on the cluster and hand each block to a writer.

Memory stays bounded by the block size times the number of blocks in flight, whatever the
size of the area: this is how the runner keeps peak memory flat as AOIs grow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate

import dask.array as da
import numpy as np
from distributed import Client, as_completed

__all__ = ["Block", "iter_blocks"]


@dataclass(frozen=True)
class Block:
    """A computed block: ``data`` has shape (layer, h, w) and starts at pixel (row, col)."""

    row: int
    col: int
    data: np.ndarray


def iter_blocks(
    client: Client,
    stack: da.Array,
    *,
    on_done: Callable[[int], None] | None = None,
    max_in_flight: int | None = None,
) -> Iterator[Block]:
    """Yield computed blocks of a (layer, y, x) dask array in completion order.

    At most ``max_in_flight`` blocks (default: the cluster's threads plus one) are submitted at a
    time, so memory is bounded by the block size, not the area, and results never pile up
    faster than they are written.
    """
    if stack.ndim != 3:
        raise ValueError(f"expected a (layer, y, x) array, got shape {stack.shape}")
    stack = stack.rechunk({0: -1})
    delayed = stack.to_delayed()  # shape (1, ny, nx)
    row_starts = [0, *accumulate(stack.chunks[1])][:-1]
    col_starts = [0, *accumulate(stack.chunks[2])][:-1]
    todo = [
        (row_starts[i], col_starts[j], delayed[0, i, j])
        for i in range(len(row_starts))
        for j in range(len(col_starts))
    ]
    if max_in_flight is None:
        threads = sum(client.nthreads().values()) or 1
        max_in_flight = threads + 1
    pending = iter(todo)
    where: dict[str, tuple[int, int]] = {}
    queue = as_completed()
    for _ in range(max_in_flight):
        nxt = next(pending, None)
        if nxt is None:
            break
        fut = client.compute(nxt[2])
        where[fut.key] = (nxt[0], nxt[1])
        queue.add(fut)
    for fut in queue:
        row, col = where.pop(fut.key)
        data = fut.result()
        fut.release()
        nxt = next(pending, None)
        if nxt is not None:
            new = client.compute(nxt[2])
            where[new.key] = (nxt[0], nxt[1])
            queue.add(new)
        if on_done is not None:
            on_done(1)
        yield Block(row, col, np.asarray(data))
