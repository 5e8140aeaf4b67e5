"""The one place that decides chunking of loaded rasters (pure).

Loading: one time slice per chunk and square spatial chunks of ``LOAD_CHUNK`` pixels (a multiple of
``BLOCK``, the usual COG internal tile, so a chunk maps onto whole source tiles). odc-stac tiles
the output grid from its origin, so chunks are aligned to the pixel grid.

Reductions along time (composites, trends): :func:`reduction_chunks` says how to rechunk so that
all dates of a pixel are in one chunk while a chunk stays under a byte budget. Its spatial size
divides the load chunk, so each new chunk is cut from exactly one load chunk.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BLOCK", "LOAD_CHUNK", "REDUCTION_BYTES", "load_chunks", "reduction_chunks"]

BLOCK = 256
LOAD_CHUNK = 1024
REDUCTION_BYTES = 128 * 2**20


def _aligned(size: int) -> int:
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    if size < BLOCK:
        return size
    return max(BLOCK, (size // BLOCK) * BLOCK)


def load_chunks(chunks: int | Mapping[str, int] | None = None) -> dict[str, int]:
    """Chunks for loading: ``{"time": 1, "y": n, "x": n}``.

    ``None`` -> ``LOAD_CHUNK`` px; an int -> that many px (rounded down to a multiple of ``BLOCK``
    when at least ``BLOCK``); a mapping may set ``x`` and / or ``y``. Time is always 1.
    """
    if chunks is None:
        y = x = LOAD_CHUNK
    elif isinstance(chunks, int):
        y = x = chunks
    else:
        extra = set(chunks) - {"time", "x", "y"}
        if extra:
            raise ValueError(f"chunks may only name 'time', 'y', 'x', got {sorted(extra)}")
        y = int(chunks.get("y", LOAD_CHUNK))
        x = int(chunks.get("x", LOAD_CHUNK))
    return {"time": 1, "y": _aligned(y), "x": _aligned(x)}


def reduction_chunks(
    n_time: int,
    *,
    itemsize: int = 4,
    load: Mapping[str, int] | None = None,
    max_bytes: int = REDUCTION_BYTES,
) -> dict[str, int]:
    """Chunks for a reduction over time: ``{"time": -1, "y": n, "x": n}``.

    ``n`` is the load chunk halved until ``n_time * n * n * itemsize <= max_bytes`` (never below
    ``BLOCK // 4``), so it divides the load chunk. Use as ``ds.chunk(reduction_chunks(...))``.
    """
    if n_time <= 0:
        raise ValueError(f"n_time must be positive, got {n_time}")
    base = load_chunks(dict(load) if load is not None else None)
    y, x = base["y"], base["x"]
    floor = BLOCK // 4
    while n_time * y * x * itemsize > max_bytes and (y > floor or x > floor):
        y = max(floor, y // 2) if y > floor else y
        x = max(floor, x // 2) if x > floor else x
    return {"time": -1, "y": y, "x": x}
