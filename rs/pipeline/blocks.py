"""Compute a product block by block on the cluster and hand each block to a writer.

Memory stays bounded by the block size times the number of blocks in flight, whatever the
size of the area: this is how the runner keeps peak memory flat as AOIs grow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from distributed import Client, as_completed

from rs.load import SkippedScene

__all__ = ["Block", "BlockResult", "BlockTask", "iter_blocks", "iter_results"]


@dataclass(frozen=True)
class BlockResult:
    """What a block task returns: ``data`` (layer, h, w) and the scenes it had to leave out."""

    data: np.ndarray
    skipped: tuple[SkippedScene, ...] = ()


@dataclass(frozen=True)
class BlockTask:
    """A lazy block (a dask Delayed giving a :class:`BlockResult` or an array) at (row, col);
    ``scenes`` are the ids of the scenes the task was given (for the per-scene use record)."""

    row: int
    col: int
    task: Any
    scenes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    """A computed block: ``data`` has shape (layer, h, w) and starts at pixel (row, col)."""

    row: int
    col: int
    data: np.ndarray
    skipped: tuple[SkippedScene, ...] = ()
    scenes: tuple[str, ...] = ()


def iter_results(
    client: Client,
    tasks: Sequence[Any],
    *,
    on_done: Callable[[int], None] | None = None,
    max_in_flight: int | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, result)`` of lazy ``tasks`` (dask Delayed) in completion order.

    At most ``max_in_flight`` tasks (default: the cluster's threads plus one) are submitted at a
    time, so memory is bounded by one task's result, not their number, and results never pile
    up faster than they are consumed. An exception in a task is raised here.
    """
    if max_in_flight is None:
        max_in_flight = sum(client.nthreads().values()) + 1
    pending = iter(enumerate(tasks))
    where: dict[str, int] = {}
    queue = as_completed()

    def submit() -> None:
        nxt = next(pending, None)
        if nxt is not None:
            fut = client.compute(nxt[1])
            where[fut.key] = nxt[0]
            queue.add(fut)

    for _ in range(max(1, max_in_flight)):
        submit()
    for fut in queue:
        index = where.pop(fut.key)
        result = fut.result()
        fut.release()
        submit()
        if on_done is not None:
            on_done(1)
        yield index, result


def iter_blocks(
    client: Client,
    tasks: Sequence[BlockTask],
    *,
    on_done: Callable[[int], None] | None = None,
    max_in_flight: int | None = None,
) -> Iterator[Block]:
    """Yield computed blocks in completion order (:func:`iter_results`: bounded in flight, so
    memory is bounded by the block size, not the area)."""
    lazy = [t.task for t in tasks]
    for index, result in iter_results(client, lazy, on_done=on_done, max_in_flight=max_in_flight):
        task = tasks[index]
        if isinstance(result, BlockResult):
            yield Block(task.row, task.col, result.data, result.skipped, task.scenes)
        else:
            yield Block(task.row, task.col, np.asarray(result), (), task.scenes)
